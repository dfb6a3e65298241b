//! Turning a stream of physical lines into counted failures.
//!
//! An entry is a timestamped line plus the lines without a timestamp after
//! it (FastCGI stderr quotes the backend's output verbatim, newlines and
//! all), as in `logs::window`. The [`Prefilter`] decides on the head line
//! whether the entry is worth keeping at all; only kept entries are copied,
//! parsed and classified. Continuations of an entry keep at most
//! [`CONTINUATION_CAP`] bytes, nearest its head and its end.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::ops::ControlFlow;

use super::clock::Clock;
use super::prefilter::{Prefilter, counted};
use super::tally::Tally;
use super::upstream::Names;
use crate::logs::Timestamp;
use crate::logs::classify::classify_ref;
use crate::logs::nginx_line::parse_line_ref;

/// Continuation bytes kept per entry, half after its head, half at its end.
const CONTINUATION_CAP: usize = 64 * 1024;

/// Where and from when to count.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Entries older than this are not counted.
    pub since: Timestamp,
    /// Histograms start here (at or after `since`).
    pub origin: Timestamp,
    pub utc_offset: i32,
}

/// Counts the failures of the entries whose head line starts before a
/// given offset; fed line by line.
pub struct Counter<'a> {
    prefilter: &'a Prefilter,
    window: Window,
    stop_at: u64,
    tally: Tally,
    /// The first 19 bytes of the last timestamped line: most lines share
    /// their second with the one before, which spares parsing the time.
    stamp: Option<[u8; 19]>,
    /// The latest time of any timestamped line: lines of different
    /// workers can be a second out of order.
    latest: Option<Timestamp>,
    clock: Clock,
    entry: Entry,
    names: Names,
}

impl<'a> Counter<'a> {
    /// A counter that stops at the first entry starting at or after
    /// `stop_at`, adding to `tally` (see [`Tally::seeded`]).
    pub fn new(
        prefilter: &'a Prefilter,
        window: Window,
        stop_at: u64,
        tally: Tally,
    ) -> Counter<'a> {
        Counter {
            prefilter,
            window,
            stop_at,
            tally,
            stamp: None,
            latest: None,
            clock: Clock::new(window.utc_offset),
            entry: Entry::default(),
            names: Names::default(),
        }
    }

    /// Takes the next physical line, which starts at `offset`.
    pub fn line(&mut self, offset: u64, line: &[u8]) -> ControlFlow<()> {
        if self.is_head(line) {
            self.flush();
            if offset >= self.stop_at {
                return ControlFlow::Break(());
            }
            if let Some(at) = self.prefilter.message_start(line) {
                self.entry.start(line, at);
            }
        } else if self.entry.live && !line.is_empty() {
            self.entry.push(line);
        }
        ControlFlow::Continue(())
    }

    /// The counts, once every line was given.
    pub fn finish(mut self) -> Tally {
        self.flush();
        self.tally.last_line = self.latest;
        self.tally
    }

    fn is_head(&mut self, line: &[u8]) -> bool {
        // A fixed-size array compares inline; a slice would call memcmp
        // for every line.
        let Some(stamp) = line.get(..19).and_then(|s| <&[u8; 19]>::try_from(s).ok()) else {
            return false;
        };
        if self.stamp.as_ref() == Some(stamp) {
            return true;
        }
        let Some(time) = self.clock.time_of(stamp) else {
            return false;
        };
        self.stamp = Some(*stamp);
        self.latest = self.latest.max(Some(time));
        true
    }

    /// Counts the entry read so far, if its head passed the prefilter
    /// (most do not: that test stays inline).
    #[inline]
    fn flush(&mut self) {
        if self.entry.live {
            self.flush_live();
        }
    }

    fn flush_live(&mut self) {
        let at = self.entry.message_at;
        let text = self.entry.take();
        if self.prefilter.may_fail(&text, at) {
            self.count(&text);
        }
        self.entry.recycle(text);
    }

    fn count(&mut self, text: &[u8]) {
        // Checking first is much faster than decoding lossily, and logs are
        // nearly always valid UTF-8.
        let text = match std::str::from_utf8(text) {
            Ok(valid) => Cow::Borrowed(valid),
            Err(_) => String::from_utf8_lossy(text),
        };
        let Some(line) = parse_line_ref(&text, self.window.utc_offset) else {
            return;
        };
        let Some(time) = line.time.filter(|t| *t >= self.window.since) else {
            return;
        };
        if let Some(sig) = classify_ref(&line).filter(|s| counted(*s)) {
            let name = self.names.of(&line, sig);
            self.tally.add(sig, time, &name);
        }
    }
}

/// The entry being read, when its head passed the prefilter.
#[derive(Default)]
struct Entry {
    live: bool,
    /// Where the message starts (in the head line).
    message_at: usize,
    /// The head line and the first continuation lines.
    text: Vec<u8>,
    near_head_bytes: usize,
    /// The latest continuation lines once `text` is full.
    near_end: VecDeque<Vec<u8>>,
    near_end_bytes: usize,
    dropped: usize,
}

impl Entry {
    fn start(&mut self, head: &[u8], message_at: usize) {
        self.live = true;
        self.message_at = message_at;
        self.text.clear();
        self.text.extend_from_slice(head);
    }

    fn push(&mut self, line: &[u8]) {
        let half = CONTINUATION_CAP / 2;
        if self.near_end.is_empty() && self.near_head_bytes + line.len() <= half {
            self.near_head_bytes += line.len();
            self.text.push(b'\n');
            self.text.extend_from_slice(line);
            return;
        }
        self.near_end_bytes += line.len();
        self.near_end.push_back(line.to_vec());
        while self.near_end.len() > 1 && self.near_end_bytes > half {
            if let Some(old) = self.near_end.pop_front() {
                self.near_end_bytes -= old.len();
                self.dropped += 1;
            }
        }
    }

    /// The entry's text (lines joined by `\n`); leaves the entry empty.
    fn take(&mut self) -> Vec<u8> {
        let mut text = std::mem::take(&mut self.text);
        if self.dropped > 0 {
            text.extend_from_slice(format!("\n[... {} lines cut ...]", self.dropped).as_bytes());
        }
        // Most entries are one line: no drain to build and drop.
        if !self.near_end.is_empty() {
            for line in self.near_end.drain(..) {
                text.push(b'\n');
                text.extend_from_slice(&line);
            }
        }
        self.live = false;
        self.near_head_bytes = 0;
        self.near_end_bytes = 0;
        self.dropped = 0;
        text
    }

    /// Gives back the buffer [`Entry::take`] returned, to be reused.
    fn recycle(&mut self, mut text: Vec<u8>) {
        text.clear();
        self.text = text;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: &str = r#", client: 1.2.3.4, server: , request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:9001/x", host: "a""#;

    fn window() -> Window {
        Window {
            since: Timestamp::from_unix(0),
            origin: Timestamp::from_unix(1_795_555_080),
            utc_offset: 0,
        }
    }

    fn count(text: &str, stop_at: u64) -> Tally {
        let prefilter = Prefilter::default();
        let mut counter = Counter::new(&prefilter, window(), stop_at, Tally::new(window().origin));
        let mut at = 0;
        for line in text.split('\n') {
            if counter.line(at, line.as_bytes()).is_break() {
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
            let _ = counter.line(0, line.as_bytes());
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
            "2026/11/24 21:18:00 [error] 1#1: *1 upstream prematurely closed connection\n\n while reading upstream{CTX}\n"
        );
        assert_eq!(ids(&count(&log, u64::MAX)), [("body-phase", 1)]);
    }

    #[test]
    fn endless_continuations_keep_the_action_at_the_end() {
        let middle: String = (0..20_000).map(|i| format!("#{i} frame\n")).collect();
        let log = format!(
            "2026/11/24 21:18:00 [error] 1#1: *1 upstream prematurely closed connection\n{middle} while reading upstream{CTX}\n"
        );
        assert_eq!(ids(&count(&log, u64::MAX)), [("body-phase", 1)]);
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
}
