//! Reading in parts: every entry counted once wherever the parts are cut,
//! and the merged result exactly what one pass over the file counts, down
//! to the order of the rows printed.

use std::io::Write as _;

use proptest::prelude::*;

use super::*;
use crate::scan::oracle::{reference, shown, stamp, window};

const CTX: &str = r#", client: 1.2.3.4, server: , request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:9001/x", host: "a""#;

/// One pass: a single part, whatever the size.
const ONE_PASS: Parts = Parts {
    threads: 1,
    min_part: u64::MAX,
    window: WINDOW,
};

/// Parts read, not mapped.
const READ: Parts = Parts {
    window: 0,
    ..ONE_PASS
};

/// Parts of `min_part` bytes for `threads` threads, each mapping `pages`
/// pages at once (0: reading instead).
fn parts(threads: usize, min_part: u64, pages: u64) -> Parts {
    let page = crate::scan::mapped::page_size().expect("maps") as u64;
    Parts {
        threads,
        min_part,
        window: pages * page,
    }
}

fn file_of(log: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(log).expect("write");
    file
}

fn count(file: &tempfile::NamedTempFile, before: &Tally, parts: Parts) -> Tally {
    let len = file.as_file().metadata().expect("stat").len();
    count_plain(file.as_file(), (0, len), window(), before, parts).expect("reads")
}

#[test]
fn parts_cover_the_range_without_gaps() {
    const M: u64 = 32 << 20;
    let parts = parts(4, M, 1);
    let cut = parts.split(10, 10 + 5 * M + 3);
    assert_eq!(cut.len(), 5);
    assert_eq!(cut[0].0, 10);
    assert_eq!(cut[4].1, 10 + 5 * M + 3);
    for pair in cut.windows(2) {
        assert_eq!(pair[0].1, pair[1].0);
    }
    assert_eq!(parts.split(0, M - 1), [(0, M - 1)]);
    assert_eq!(parts.split(5, 5), [(5, 5)]);
    // A few parts per thread, however large the file.
    assert_eq!(
        parts.split(0, 1000 * M).len(),
        4 * PARTS_PER_THREAD as usize
    );
}

/// Every boundary between parts, wherever it falls in a line, counts
/// each entry once: the sum over parts equals one pass.
#[test]
fn every_entry_counts_once_whatever_the_part_boundaries() {
    let failure = format!(
        "2026/11/24 21:18:00 [error] 1#1: *1 upstream prematurely closed connection while reading response header from upstream{CTX}\n"
    );
    let stderr = "2026/11/24 21:18:00 [error] 1#1: *2 FastCGI sent in stderr: \"a\nb\" while reading response header from upstream\n";
    let log: String = (0..40)
        .map(|i| if i % 3 == 0 { stderr } else { &failure })
        .collect();
    let file = file_of(log.as_bytes());
    let one = shown(&count(&file, &Tally::new(window().origin), ONE_PASS));
    assert_eq!(one.3, 26);
    for min_part in 1..log.len() as u64 / 2 {
        let parts = parts(2, min_part, min_part % 3);
        let two = count(&file, &Tally::new(window().origin), parts);
        assert_eq!(shown(&two), one, "parts of {min_part} bytes");
    }
}

/// Whichever thread counts which part, and however many threads there
/// are for how many parts, the results come in the parts' order.
#[test]
fn parts_come_back_in_order_whoever_counted_them() {
    for (parts, threads) in [(0, 2), (1, 4), (3, 8), (20, 3), (33, 1)] {
        let ranges: Vec<(u64, u64)> = (0..parts).map(|i| (i, i + 1)).collect();
        let counted = count_parts(&ranges, threads, |i, (start, _)| {
            assert_eq!(i as u64, start);
            // Uneven work, so that threads overtake each other.
            std::thread::sleep(std::time::Duration::from_micros(50 * (start % 4)));
            let mut tally = Tally::new(window().origin);
            tally.last_line = Some(crate::logs::Timestamp::from_unix(start as i64));
            Ok(tally)
        });
        let order: Vec<_> = counted
            .into_iter()
            .map(|t| t.expect("counted").last_line.map(|l| l.unix()))
            .collect();
        let want: Vec<_> = (0..parts as i64).map(Some).collect();
        assert_eq!(order, want, "{parts} parts, {threads} threads");
    }
}

/// Lines longer than a mapped window, or than a block, between failures:
/// mapped or read, whatever the windows, the same count, the long lines
/// capped as reading caps them.
#[test]
fn lines_longer_than_a_window_count_as_when_read() {
    let failure = format!(
        "2026/11/24 21:18:00 [error] 1#1: *1 no live upstreams while connecting to upstream{CTX}\n"
    );
    let long_failure = format!(
        "2026/11/24 21:18:01 [error] 1#1: *1 no live upstreams while connecting to upstream{CTX}{}\n",
        "x".repeat(CHUNK + 5000)
    );
    let junk = format!("{}\n", "y".repeat(3 * CHUNK));
    let log = [
        &failure,
        &long_failure,
        &junk,
        &failure,
        &junk,
        &junk,
        &failure,
    ]
    .map(String::as_str)
    .concat();
    let file = file_of(log.as_bytes());
    let before = Tally::new(window().origin);
    let read = shown(&count(&file, &before, READ));
    assert_eq!(read.3, 4);
    for (threads, min_part, pages) in [
        (1, u64::MAX, 1),
        (1, u64::MAX, 2),
        (2, 1000, 1),
        (3, 70_000, 64),
    ] {
        let mapped = count(&file, &before, parts(threads, min_part, pages));
        assert_eq!(
            shown(&mapped),
            read,
            "{threads} threads, parts of {min_part}, {pages} pages"
        );
    }
}

#[test]
fn plain_file_is_counted_from_the_given_offset() {
    let line = format!(
        "2026/11/24 21:18:00 [error] 1#1: *1 no live upstreams while connecting to upstream{CTX}\n"
    );
    let file = file_of(line.repeat(3).as_bytes());
    let range = (line.len() as u64, 3 * line.len() as u64);
    let before = Tally::new(window().origin);
    let tally = count_plain(file.as_file(), range, window(), &before, ONE_PASS).expect("reads");
    assert_eq!(tally.total(), 2);
}

#[test]
fn stream_is_counted_whole() {
    let line = format!(
        "2026/11/24 21:18:00 [error] 1#1: *1 no live upstreams while connecting to upstream{CTX}\n"
    );
    let before = Tally::new(window().origin);
    let tally = count_stream(line.repeat(4).as_bytes(), window(), &before).expect("reads");
    assert_eq!(tally.total(), 4);
}

/// A failure at `secs` after `oracle::BASE` against upstream `peer`.
fn failure(secs: i64, message: &str, peer: &str) -> String {
    format!(
        "{}[error] 7#7: *{secs} {message}, client: 10.0.0.1, server: s, request: \"GET / HTTP/1.1\", upstream: \"http://{peer}/\", host: \"h\"\n",
        stamp(secs)
    )
}

const MESSAGES: [&str; 6] = [
    "connect() failed (111: Connection refused) while connecting to upstream",
    "upstream timed out (110: Connection timed out) while reading response header from upstream",
    "no live upstreams while connecting to upstream",
    "upstream prematurely closed connection while reading upstream",
    "FastCGI sent in stderr: \"PHP message: x\nStack trace:\n#0 {main}\" while reading response header from upstream",
    "client prematurely closed connection while sending to client",
];

/// More distinct upstreams than a tally has rows for, and names seen at the
/// start seen again at the end, after a later part ran out of rows: which
/// names get a row must not depend on where the parts are cut, nor on the
/// names of an earlier file.
#[test]
fn more_upstream_names_than_rows_merge_exactly() {
    let line = |i: i64, peer: &str| failure(i * 20, MESSAGES[(i % 4) as usize], peer);
    let early: String = (0..100)
        .map(|i| line(i, &format!("early{}", i % 50)))
        .collect();
    let many: String = (0..3_000)
        .map(|i| line(100 + i, &format!("g{i}")))
        .collect();
    let again: String = (0..100)
        .map(|i| line(3_100 + i, &format!("early{}", i % 50)))
        .collect();
    let file = file_of(format!("{early}{many}{again}").as_bytes());
    let earlier = file_of(line(0, "g2999").repeat(3).as_bytes());
    for before in [
        Tally::new(window().origin),
        count(&earlier, &Tally::new(window().origin), ONE_PASS),
    ] {
        let mut one = before.clone();
        one.merge(count(&file, &before, ONE_PASS));
        assert!(one.upstreams_overflowed());
        for threads in [2, 3, 5] {
            let parts = parts(threads, 1, 1);
            let mut many = before.clone();
            many.merge(count(&file, &before, parts));
            assert_eq!(shown(&many), shown(&one), "{threads} parts");
        }
    }
}

/// One random entry: a failure, a multi-line one, noise, a line out of
/// time order, or junk.
fn entry() -> impl Strategy<Value = String> {
    let peer = prop::sample::select(vec![
        "127.0.0.1:9001",
        "[::1]:8080",
        "[0:0::1]:8080",
        "dead2",
        "unix:/run/a.sock:",
    ]);
    (0..86_400 * 2i64, -3..3i64, 0..MESSAGES.len(), peer, 0..10u8).prop_map(
        |(secs, jitter, message, peer, kind)| match kind {
            0 => "#1 a continuation line without a head\n".to_owned(),
            1 => "\u{1b}[2J\u{fffd} junk\n".to_owned(),
            _ => failure((secs + jitter).max(0), MESSAGES[message], peer),
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Cut anywhere into any number of parts, a file counts exactly what
    /// one pass counts: the same signatures in the same order with the
    /// same histograms, the same upstream rows, the same latest line.
    #[test]
    fn parts_count_exactly_what_one_pass_counts(
        entries in prop::collection::vec(entry(), 0..200),
        threads in 2..6usize,
        min_part in 1..4_000u64,
        pages in 0..4u64,
    ) {
        let file = file_of(entries.concat().as_bytes());
        let before = Tally::new(window().origin);
        let one = count(&file, &before, READ);
        let many = count(&file, &before, parts(threads, min_part, pages));
        prop_assert_eq!(shown(&many), shown(&one));
    }

    /// And what it counts is what the specification counts, on logs of
    /// entries over several lines, junk, and failure words in noise.
    #[test]
    fn parts_count_what_the_reference_counts(
        log in crate::scan::oracle::log(),
        threads in 1..6usize,
        min_part in 1..4_000u64,
        pages in 0..4u64,
    ) {
        let file = file_of(&log);
        let before = Tally::new(window().origin);
        let many = count(&file, &before, parts(threads, min_part, pages));
        prop_assert_eq!(shown(&many), shown(&reference(&log, window(), &before)));
    }
}
