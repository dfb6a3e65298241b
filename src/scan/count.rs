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
use super::tally::Tally;
use super::upstream::Names;
use crate::logs::Timestamp;
use crate::logs::classify::classify_ref;
use crate::logs::nginx_line::{LineRef, parse_split_ref, scan_fields};
use crate::logs::prefilter::{Prefilter, Split};
use crate::logs::signature::SignatureSet;

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
    /// The signatures counted: the pack's upstream failures
    /// (`SignatureBook::upstream_failures`), as the diagnosis reads them.
    pub failures: SignatureSet,
}

/// Counts the failures of the entries whose head line starts before a
/// given offset; fed line by line.
pub struct Counter<'a> {
    prefilter: &'a Prefilter,
    window: Window,
    stop_at: u64,
    tally: Tally,
    /// The first 19 bytes of the last timestamped line and their time:
    /// most lines share their second with the one before, which spares
    /// parsing the time.
    stamp: Option<([u8; 19], Timestamp)>,
    /// The latest time of any timestamped line: lines of different
    /// workers can be a second out of order.
    latest: Option<Timestamp>,
    clock: Clock,
    entry: Entry,
    names: Names,
    /// Where a block's `\n`s are (see [`Newlines`]).
    newlines: Vec<u64>,
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
            newlines: Vec::new(),
        }
    }

    /// Takes the next block of physical lines (see
    /// [`for_each_block`](super::lines::for_each_block)), which starts at
    /// `offset`.
    pub fn block(&mut self, offset: u64, block: &[u8]) -> ControlFlow<()> {
        let mut masks = std::mem::take(&mut self.newlines);
        let flow = self.lines(offset, block, Newlines::new(block, &mut masks));
        self.newlines = masks;
        flow
    }

    /// [`Counter::block`] with the block's `\n`s found.
    fn lines(&mut self, offset: u64, block: &[u8], mut newlines: Newlines) -> ControlFlow<()> {
        // A kept head line not yet copied: where it lies in the block, and
        // how it splits and its time (which its entry is counted with). It
        // is its entry whole when the next line is a head.
        let mut single: Option<(usize, usize, Kept)> = None;
        let mut start = 0;
        while start < block.len() {
            let end = newlines.next().unwrap_or(block.len());
            let line = &block[start..end];
            if let Some(time) = self.head_time(line) {
                match single.take() {
                    Some((from, to, kept)) => self.count_kept(&block[from..to], kept),
                    None => self.flush(),
                }
                if offset + start as u64 >= self.stop_at {
                    return ControlFlow::Break(());
                }
                single = self
                    .prefilter
                    .keep(line)
                    .map(|split| (start, end, Kept { split, time }));
            } else if !line.is_empty() {
                if let Some((from, to, kept)) = single.take() {
                    self.entry.start(&block[from..to], kept);
                }
                if self.entry.kept.is_some() {
                    self.entry.push(line);
                }
            }
            start = end + 1;
        }
        // The next block may continue the entry.
        if let Some((from, to, kept)) = single {
            self.entry.start(&block[from..to], kept);
        }
        ControlFlow::Continue(())
    }

    /// The counts, once every line was given.
    pub fn finish(mut self) -> Tally {
        self.flush();
        self.tally.last_line = self.latest;
        self.tally
    }

    /// The time of `line` when it is a head (starts with a valid
    /// timestamp).
    #[inline]
    fn head_time(&mut self, line: &[u8]) -> Option<Timestamp> {
        // A fixed-size array compares inline; a slice would call memcmp
        // for every line.
        let stamp = line.first_chunk::<19>()?;
        match &self.stamp {
            Some((last, time)) if last == stamp => Some(*time),
            _ => {
                let time = self.clock.time_of(stamp)?;
                self.stamp = Some((*stamp, time));
                self.latest = self.latest.max(Some(time));
                Some(time)
            }
        }
    }

    /// Counts the entry read so far, if its head passed the prefilter
    /// (most do not: that test stays inline).
    #[inline]
    fn flush(&mut self) {
        if self.entry.kept.is_some() {
            self.flush_live();
        }
    }

    fn flush_live(&mut self) {
        let (text, kept) = self.entry.take();
        if let Some(kept) = kept {
            self.count_kept(&text, kept);
        }
        self.entry.recycle(text);
    }

    /// Counts an entry whose head passed the prefilter.
    fn count_kept(&mut self, text: &[u8], kept: Kept) {
        if self.prefilter.may_fail(text, kept.split.at) {
            self.count(text, kept);
        }
    }

    /// Counts `text`, an entry whose head the prefilter accepted, when
    /// classify says so: parsed from where the prefilter split its head,
    /// which is where the parser would (its tests prove it), and only as
    /// far as the tallies read when the entry has the usual shape.
    fn count(&mut self, text: &[u8], Kept { split, time }: Kept) {
        let spans = split.spans();
        if time < self.window.since {
            return;
        }
        if let Some(line) = scan_fields(text, time, &spans) {
            return self.tally_line(&line);
        }
        // Checking first is much faster than decoding lossily, and logs are
        // nearly always valid UTF-8. The head is ASCII, so its spans hold.
        let text = match std::str::from_utf8(text) {
            Ok(valid) => Cow::Borrowed(valid),
            Err(_) => String::from_utf8_lossy(text),
        };
        if let Some(line) = parse_split_ref(&text, time, &spans) {
            self.tally_line(&line);
        }
    }

    /// Adds `line` to the tally when it is an upstream failure.
    fn tally_line(&mut self, line: &LineRef) {
        let failure = classify_ref(line).filter(|s| self.window.failures.contains(*s));
        if let (Some(sig), Some(time)) = (failure, line.time) {
            let name = self.names.of(line, sig);
            self.tally.add(sig, time, &name);
        }
    }
}

/// A head line the prefilter kept: how it splits, and its time.
#[derive(Clone, Copy)]
struct Kept {
    split: Split,
    time: Timestamp,
}

/// The entry being read, when its head passed the prefilter.
#[derive(Default)]
struct Entry {
    /// Its head's split and time; `None` while no entry is read.
    kept: Option<Kept>,
    /// The head line and the first continuation lines.
    text: Vec<u8>,
    near_head_bytes: usize,
    /// The latest continuation lines once `text` is full.
    near_end: VecDeque<Vec<u8>>,
    near_end_bytes: usize,
    dropped: usize,
}

impl Entry {
    fn start(&mut self, head: &[u8], kept: Kept) {
        self.kept = Some(kept);
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

    /// The entry's text (lines joined by `\n`) and its head's split and
    /// time; leaves the entry empty.
    fn take(&mut self) -> (Vec<u8>, Option<Kept>) {
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
        self.near_head_bytes = 0;
        self.near_end_bytes = 0;
        self.dropped = 0;
        (text, self.kept.take())
    }

    /// Gives back the buffer [`Entry::take`] returned, to be reused.
    fn recycle(&mut self, mut text: Vec<u8>) {
        text.clear();
        self.text = text;
    }
}

#[cfg(test)]
mod tests;
