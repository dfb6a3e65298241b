//! Turning a stream of physical lines into counted failures.
//!
//! An entry is a timestamped line plus the lines without a timestamp after
//! it (FastCGI stderr quotes the backend's output verbatim, newlines and
//! all), as in `logs::window`. The [`Prefilter`] decides on the head line
//! whether the entry is worth keeping at all; only kept entries are parsed
//! and classified. Lines come in blocks, so a kept head whose next line is
//! a head too (nearly all) is parsed where it lies; only an entry with
//! continuation lines, or one running past its block, is copied. Its
//! continuations keep at most [`CONTINUATION_CAP`] bytes, nearest its head
//! and its end.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::ops::ControlFlow;

use super::clock::Clock;
use super::lines::Newlines;
use super::prefilter::{Prefilter, counted};
use super::tally::Tally;
use super::upstream::Names;
use crate::logs::Timestamp;
use crate::logs::classify::classify_ref;
use crate::logs::nginx_line::parse_split_ref;

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
    newlines: Newlines,
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
            newlines: Newlines::new(),
        }
    }

    /// Takes the next block of physical lines (see
    /// [`for_each_block`](super::lines::for_each_block)), which starts at
    /// `offset`.
    pub fn block(&mut self, offset: u64, block: &[u8]) -> ControlFlow<()> {
        // A kept head line not yet copied: `(start, end, message start)`.
        // It is its entry whole when the next line is a head.
        let mut single: Option<(usize, usize, usize)> = None;
        let mut start = 0;
        while start < block.len() {
            let end = self
                .newlines
                .find(&block[start..])
                .map_or(block.len(), |i| start + i);
            let line = &block[start..end];
            if self.is_head(line) {
                match single.take() {
                    Some((from, to, at)) => self.count_kept(&block[from..to], at),
                    None => self.flush(),
                }
                if offset + start as u64 >= self.stop_at {
                    return ControlFlow::Break(());
                }
                single = self
                    .prefilter
                    .message_start(line)
                    .map(|at| (start, end, at));
            } else if !line.is_empty() {
                if let Some((from, to, at)) = single.take() {
                    self.entry.start(&block[from..to], at);
                }
                if self.entry.live {
                    self.entry.push(line);
                }
            }
            start = end + 1;
        }
        // The next block may continue the entry.
        if let Some((from, to, at)) = single {
            self.entry.start(&block[from..to], at);
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
        self.count_kept(&text, at);
        self.entry.recycle(text);
    }

    /// Counts an entry whose head passed the prefilter; its message starts
    /// at `at`.
    fn count_kept(&mut self, text: &[u8], at: usize) {
        if self.prefilter.may_fail(text, at) {
            self.count(text);
        }
    }

    /// Counts `text`, an entry whose head the prefilter accepted, when
    /// classify says so: parsed from where the prefilter split its head,
    /// which is where the parser would (its tests prove it).
    fn count(&mut self, text: &[u8]) {
        let head = &text[..memchr::memchr(b'\n', text).unwrap_or(text.len())];
        let time = head
            .first_chunk()
            .and_then(|stamp| self.clock.time_of(stamp));
        let (Some(spans), Some(time)) = (self.prefilter.spans(head), time) else {
            return;
        };
        if time < self.window.since {
            return;
        }
        // Checking first is much faster than decoding lossily, and logs are
        // nearly always valid UTF-8. The head is ASCII, so its spans hold.
        let text = match std::str::from_utf8(text) {
            Ok(valid) => Cow::Borrowed(valid),
            Err(_) => String::from_utf8_lossy(text),
        };
        let Some(line) = parse_split_ref(&text, time, &spans) else {
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
mod tests;
