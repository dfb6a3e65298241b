//! Counting entries: the cases that matter spelled out, and the counter
//! held to the specification (`oracle::reference`) on random logs fed in
//! blocks cut at random lines.

use proptest::prelude::*;

use super::*;
use crate::scan::oracle;

const CTX: &str = r#", client: 1.2.3.4, server: , request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:9001/x", host: "a""#;

fn window() -> Window {
    Window {
        since: Timestamp::from_unix(0),
        origin: Timestamp::from_unix(1_795_555_080),
        utc_offset: 0,
        failures: crate::rules::signatures::default_book().upstream_failures(),
    }
}

fn count(text: &str, stop_at: u64) -> Tally {
    let prefilter = Prefilter::default();
    let mut counter = Counter::new(&prefilter, window(), stop_at, Tally::new(window().origin));
    let mut at = 0;
    for line in text.split('\n') {
        if counter.block(at, line.as_bytes()).is_break() {
            break;
        }
        at += line.len() as u64 + 1;
    }
    counter.finish()
}

fn ids(tally: &Tally) -> Vec<(&'static str, u64)> {
    tally
        .signatures(Timestamp::from_unix(1_795_555_200))
        .iter()
        .map(|(s, c)| (s.id(), c.count))
        .collect()
}

#[test]
fn failures_are_counted_and_noise_is_not() {
    let log = format!(
        "2026/11/24 21:18:00 [error] 1#1: *1 connect() failed (111: Connection refused) while connecting to upstream{CTX}\n\
         2026/11/24 21:18:00 [info] 1#1: *2 client prematurely closed connection while sending to client{CTX}\n\
         2026/11/24 21:18:01 [error] 1#1: *3 FastCGI sent in stderr: \"PHP message: x\" while reading response header from upstream{CTX}\n\
         2026/11/24 21:18:02 [error] 1#1: *4 connect() failed (111: Connection refused) while connecting to upstream{CTX}\n"
    );
    let tally = count(&log, u64::MAX);
    assert_eq!(ids(&tally), [("conn-refused-tcp", 2)]);
    assert_eq!(tally.upstreams(), [("127.0.0.1:9001".to_owned(), 2)]);
    assert_eq!(tally.last_line, Some(Timestamp::from_unix(1_795_555_082)));
}

#[test]
fn last_line_is_the_latest_time_read_even_out_of_order() {
    let log = "2026/11/24 21:18:05 [info] 1#1: a\n2026/11/24 21:18:03 [info] 2#2: b\n";
    let latest = Timestamp::from_unix(1_795_555_085);
    assert_eq!(count(log, u64::MAX).last_line, Some(latest));
}

#[test]
fn entries_older_than_since_are_not_counted() {
    let log = format!(
        "2026/11/24 21:17:59 [error] 1#1: *1 no live upstreams while connecting to upstream{CTX}\n\
         2026/11/24 21:18:00 [error] 1#1: *1 no live upstreams while connecting to upstream{CTX}\n"
    );
    let prefilter = Prefilter::default();
    let w = Window {
        since: Timestamp::from_unix(1_795_555_080),
        ..window()
    };
    let mut counter = Counter::new(&prefilter, w, u64::MAX, Tally::new(w.origin));
    for line in log.lines() {
        let _ = counter.block(0, line.as_bytes());
    }
    assert_eq!(counter.finish().total(), 1);
}

#[test]
fn the_entry_after_stop_at_is_left_to_the_next_part() {
    let first = format!(
        "2026/11/24 21:18:00 [error] 1#1: *1 no live upstreams while connecting to upstream{CTX}"
    );
    let log = format!("{first}\n{first}\n");
    assert_eq!(count(&log, first.len() as u64 + 1).total(), 1);
    assert_eq!(count(&log, first.len() as u64).total(), 1);
    assert_eq!(count(&log, 0).total(), 0);
}

#[test]
fn continuation_lines_before_the_first_head_are_skipped() {
    let log = format!(
        " while connecting to upstream{CTX}\n2026/11/24 21:18:00 [error] 1#1: *1 upstream timed out (110: Connection timed out) while reading response header from upstream{CTX}\n"
    );
    assert_eq!(ids(&count(&log, u64::MAX)), [("read-header-timeout", 1)]);
}

#[test]
fn an_entry_spanning_lines_is_classified_whole() {
    let log = format!(
        "2026/11/24 21:18:00 [error] 1#1: *1 upstream prematurely closed connection\n\n while reading response header from upstream{CTX}\n"
    );
    assert_eq!(ids(&count(&log, u64::MAX)), [("premature-close-header", 1)]);
}

#[test]
fn endless_continuations_keep_the_action_at_the_end() {
    let middle: String = (0..20_000).map(|i| format!("#{i} frame\n")).collect();
    let log = format!(
        "2026/11/24 21:18:00 [error] 1#1: *1 upstream prematurely closed connection\n{middle} while reading response header from upstream{CTX}\n"
    );
    assert_eq!(ids(&count(&log, u64::MAX)), [("premature-close-header", 1)]);
}

#[test]
fn a_body_phase_failure_is_not_counted() {
    // The client already had the backend's status: no 502 or 504, so the
    // diagnosis does not walk it either.
    let log = format!(
        "2026/11/24 21:18:00 [error] 1#1: *1 upstream prematurely closed connection while reading upstream{CTX}\n"
    );
    assert_eq!(count(&log, u64::MAX).total(), 0);
}

#[test]
fn resolver_failures_are_counted_under_the_name() {
    let log = "2026/11/24 21:18:00 [error] 1#1: *1 backend.example could not be resolved (3: Host not found), client: 1.2.3.4, server: , request: \"GET / HTTP/1.1\", host: \"a\"\n";
    let tally = count(log, u64::MAX);
    assert_eq!(tally.upstreams(), [("backend.example".to_owned(), 1)]);
}

#[test]
fn hostile_upstream_names_are_escaped() {
    let log = "2026/11/24 21:18:00 [error] 1#1: *1 no live upstreams while connecting to upstream, client: 1.2.3.4, server: , request: \"GET / HTTP/1.1\", upstream: \"http://ev\u{1b}]0;x\u{7}il/\", host: \"a\"\n";
    let tally = count(log, u64::MAX);
    let (name, _) = &tally.upstreams()[0];
    assert!(!name.contains('\u{1b}') && name.contains("\\x1b"), "{name}");
}

/// `log` fed to a counter in blocks of whole lines, a block ending after
/// the lines whose index `cuts` marks.
fn count_in_blocks(log: &[u8], cuts: &[bool]) -> Tally {
    let prefilter = Prefilter::default();
    let w = oracle::window();
    let mut counter = Counter::new(&prefilter, w, u64::MAX, Tally::new(w.origin));
    let (mut start, mut line) = (0, 0);
    for end in memchr::memchr_iter(b'\n', log) {
        if cuts.get(line).copied().unwrap_or(true) {
            let _ = counter.block(start as u64, &log[start..=end]);
            start = end + 1;
        }
        line += 1;
    }
    if start < log.len() {
        let _ = counter.block(start as u64, &log[start..]);
    }
    counter.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the blocks, the counter counts what the specification
    /// does: the same rows, histograms, upstreams and latest line.
    #[test]
    fn blocks_count_what_the_reference_counts(
        log in oracle::log(),
        cuts in prop::collection::vec(any::<bool>(), 0..150),
    ) {
        let w = oracle::window();
        let want = oracle::reference(&log, w, &Tally::new(w.origin));
        prop_assert_eq!(oracle::shown(&count_in_blocks(&log, &cuts)), oracle::shown(&want));
    }
}
