//! Reading one file of a log forward and counting its failures: a plain file
//! in parts counted in parallel (one thread per CPU, each part a range of
//! the file seen through windows mapped in turn), a compressed copy as one
//! stream.
//!
//! Parts split at arbitrary bytes; each part owns the entries whose head
//! line starts inside it and reads past its end only to finish its last
//! entry. There are a few parts per thread, each thread taking the next
//! part not yet taken: a thread the machine slows down (another program,
//! a neighbour on the host) then delays the scan by a part, not by half
//! the file. Memory is one window per thread and one tally per part.
//! The parts' tallies merge, in file order, into exactly what one pass
//! would count, whichever thread counted which; the one case where they
//! cannot (a later part with more upstream names than a tally has rows
//! for) is counted again after the parts before it.
//!
//! A part is read with `pread` instead where mapping is not possible, from
//! a line longer than a block on (`lines` caps it), and again whole when
//! the file shrank under its window (`mapped`: a log rotated with
//! `copytruncate` while mapped would otherwise kill the scan with SIGBUS).

use std::fs::File;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::count::{Counter, Window};
use super::lines::{CHUNK, for_each_block};
use super::mapped::{self, Mapping};
use super::tally::Tally;
use crate::logs::prefilter::Prefilter;

/// How a plain file is cut: at most [`PARTS_PER_THREAD`] parts per
/// thread, none smaller than `min_part` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub threads: usize,
    pub min_part: u64,
    /// Bytes of the file a thread maps at once; 0 to read it instead.
    pub window: u64,
}

/// Enough for a slowed thread to leave parts to the others, and for the
/// threads to finish close together (the last part one takes can leave
/// the others idle for up to its time: a 64 MiB part is ~28 ms of a
/// thread, against ~220 ms for a scan of 1 GiB); few enough that each part is
/// long (a part re-reads one line at its start, and its tally waits in
/// memory to be merged: 32 parts took 2 MiB more peak RSS than 16, 64
/// parts 7 MiB).
const PARTS_PER_THREAD: u64 = 16;

impl Parts {
    /// One thread per CPU, at most 8 (reading is memory-bound beyond), and
    /// parts of at least 16 MiB (smaller ones are not worth their start).
    pub fn for_this_machine() -> Parts {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Parts {
            threads: cpus.min(8),
            min_part: 16 << 20,
            window: WINDOW,
        }
    }

    /// `[from, len)` cut into parts.
    fn split(self, from: u64, len: u64) -> Vec<(u64, u64)> {
        let size = len.saturating_sub(from);
        let most = self.threads.max(1) as u64 * PARTS_PER_THREAD;
        let count = (size / self.min_part.max(1)).clamp(1, most);
        let step = size / count;
        (0..count)
            .map(|i| {
                let start = from + i * step;
                let end = if i + 1 == count { len } else { start + step };
                (start, end)
            })
            .collect()
    }
}

/// Counts the failures in `file` from offset `from` (a line start) to `len`,
/// as they come after what `before` counted (see [`Tally::seeded`]).
pub fn count_plain(
    file: &File,
    (from, len): (u64, u64),
    window: Window,
    before: &Tally,
    parts: Parts,
) -> io::Result<Tally> {
    let prefilter = Prefilter::default();
    let ranges = parts.split(from, len);
    let reader = PartReader {
        file,
        from,
        len,
        prefilter: &prefilter,
        window,
        mapped: parts.window,
    };
    let counted = count_parts(&ranges, parts.threads, |i, range| {
        // The first part follows `before`; the others start afresh and
        // are checked when merged.
        let seed = || {
            if i == 0 {
                before.seeded()
            } else {
                Tally::new(window.origin)
            }
        };
        reader.count(range, seed)
    });
    let mut parts = ranges.iter().zip(counted);
    let Some((_, first)) = parts.next() else {
        return Ok(before.seeded());
    };
    let mut total = first?;
    for (&range, part) in parts {
        let part = part?;
        let exact = if part.upstreams_overflowed() {
            reader.count(range, || total.seeded())?
        } else {
            part
        };
        total.merge(exact);
    }
    Ok(total)
}

/// `count(i, ranges[i])` for every part, by `threads` threads each taking
/// the next part not yet taken; the results in the parts' order.
fn count_parts<F>(ranges: &[(u64, u64)], threads: usize, count: F) -> Vec<io::Result<Tally>>
where
    F: Fn(usize, (u64, u64)) -> io::Result<Tally> + Sync,
{
    let next = AtomicUsize::new(0);
    let take = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&range) = ranges.get(i) else {
                return done;
            };
            done.push((i, count(i, range)));
        }
    };
    let mut slots: Vec<Option<io::Result<Tally>>> = ranges.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.clamp(1, ranges.len().max(1)))
            .map(|_| scope.spawn(take))
            .collect();
        for handle in handles {
            // A thread that panicked leaves its parts empty: they fail below.
            for (i, result) in handle.join().unwrap_or_default() {
                slots[i] = Some(result);
            }
        }
    });
    slots
        .into_iter()
        .map(|slot| slot.unwrap_or_else(|| Err(io::Error::other("a scan thread failed"))))
        .collect()
}

/// Counts the failures in a stream read from its start (a compressed copy),
/// as they come after what `before` counted.
pub fn count_stream<R: Read>(reader: R, window: Window, before: &Tally) -> io::Result<Tally> {
    let prefilter = Prefilter::default();
    let mut counter = Counter::new(&prefilter, window, u64::MAX, before.seeded());
    for_each_block(reader, 0, |at, block| counter.block(at, block))?;
    Ok(counter.finish())
}

/// What every part of one file shares.
#[derive(Clone, Copy)]
struct PartReader<'a> {
    file: &'a File,
    /// The range of the file to count, `[from, len)`.
    from: u64,
    len: u64,
    prefilter: &'a Prefilter,
    window: Window,
    /// Bytes mapped at once (see [`Parts::window`]).
    mapped: u64,
}

impl PartReader<'_> {
    /// One part: the entries whose head line starts in `[start, end)`,
    /// added to a tally from `seed` (made again when the part must be
    /// counted again: the file shrank under its mapping).
    fn count(self, range: (u64, u64), seed: impl Fn() -> Tally) -> io::Result<Tally> {
        if let Some(counted) = self.count_mapped(range, seed()) {
            return counted;
        }
        let counter = Counter::new(self.prefilter, self.window, range.1, seed());
        self.read_rest(counter, self.first_byte(range.0))
    }

    /// Where a part starting at `start` begins looking: one byte early when
    /// it is not the first, as a line starts at `start` exactly when that
    /// byte is `\n`; the line running across `start` is the previous part's.
    /// Returns the offset and whether the first line is to be skipped.
    fn first_byte(self, start: u64) -> (u64, bool) {
        if start > self.from {
            (start - 1, true)
        } else {
            (start, false)
        }
    }

    /// The part counted from mapped windows; `None` when it is to be read
    /// instead from its start (the file shrank under a window).
    fn count_mapped(self, (start, end): (u64, u64), tally: Tally) -> Option<io::Result<Tally>> {
        let page = mapped::page_size()? as u64;
        if self.mapped < page {
            return None;
        }
        let mut counter = Counter::new(self.prefilter, self.window, end, tally);
        let (mut pos, mut skip) = self.first_byte(start);
        while pos < self.len {
            let base = pos - pos % page;
            let span = (self.len - base).min(self.mapped - self.mapped % page);
            let Some(mapping) = Mapping::map(self.file, base, span as usize) else {
                return Some(self.read_rest(counter, (pos, skip)));
            };
            let bytes = &mapping.bytes()[(pos - base) as usize..];
            let step = feed(&mut counter, pos, bytes, base + span == self.len, &mut skip);
            if mapping.faulted() {
                return None;
            }
            match step {
                Step::Next(done) => pos += done as u64,
                Step::Stop => break,
                Step::Long(done) => {
                    // A line longer than a window: the reader caps it.
                    drop(mapping);
                    return Some(self.read_rest(counter, (pos + done as u64, false)));
                }
            }
        }
        Some(Ok(counter.finish()))
    }

    /// `counter` fed the file from `pos` on, read (see [`Self::first_byte`]
    /// for `skip`).
    fn read_rest(self, mut counter: Counter, (pos, skip): (u64, bool)) -> io::Result<Tally> {
        let reader = At {
            file: self.file,
            pos,
            end: self.len,
        };
        let mut first = skip;
        for_each_block(reader, pos, |at, block| {
            if !std::mem::take(&mut first) {
                return counter.block(at, block);
            }
            // The first line starts before the part: it is not this part's.
            match memchr::memchr(b'\n', block) {
                Some(end) if end + 1 < block.len() => {
                    counter.block(at + end as u64 + 1, &block[end + 1..])
                }
                _ => ControlFlow::Continue(()),
            }
        })?;
        Ok(counter.finish())
    }
}

/// Bytes of a file mapped at once by a thread: a few system calls per
/// window, and the pages mapped (resident) stay few. Reading instead
/// copies every byte from the page cache, which was a fifth of a scan.
const WINDOW: u64 = 4 << 20;

/// What [`feed`] did with a window.
enum Step {
    /// Counted its whole lines, this many bytes: the next window starts
    /// after them.
    Next(usize),
    /// The counter is done.
    Stop,
    /// Counted this many bytes, then met a line longer than a block.
    Long(usize),
}

/// Feeds `counter` the whole lines of `bytes` (at offset `at`) in blocks as
/// [`for_each_block`] makes them, skipping a first partial line when `skip`
/// says so; `last` when `bytes` ends where the file does.
fn feed(counter: &mut Counter, at: u64, bytes: &[u8], last: bool, skip: &mut bool) -> Step {
    let mut done = 0;
    if *skip {
        match memchr::memchr(b'\n', bytes) {
            Some(i) => {
                done = i + 1;
                *skip = false;
            }
            None if last => return Step::Stop,
            None => return Step::Next(bytes.len()),
        }
    }
    let whole = match memchr::memrchr(b'\n', &bytes[done..]) {
        _ if last => bytes.len(),
        Some(i) => done + i + 1,
        None if done == 0 => return Step::Long(0),
        None => return Step::Next(done),
    };
    while done < whole {
        let limit = (done + CHUNK).min(whole);
        let cut = if limit == whole {
            whole
        } else {
            match memchr::memrchr(b'\n', &bytes[done..limit]) {
                Some(i) => done + i + 1,
                None => return Step::Long(done),
            }
        };
        if counter
            .block(at + done as u64, &bytes[done..cut])
            .is_break()
        {
            return Step::Stop;
        }
        done = cut;
    }
    if last { Step::Stop } else { Step::Next(done) }
}

/// `file` read from `pos` up to `end` (its length when the scan began, so a
/// log growing meanwhile does not make the scan endless).
struct At<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end.saturating_sub(self.pos)).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
