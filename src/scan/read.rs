//! Reading one file of a log forward and counting its failures: a plain file
//! in parts counted in parallel (one thread per CPU, each part a range of
//! the file read with `pread`), a compressed copy as one stream.
//!
//! Parts split at arbitrary bytes; each part owns the entries whose head
//! line starts inside it and reads past its end only to finish its last
//! entry. There are a few parts per thread, each thread taking the next
//! part not yet taken: a thread the machine slows down (another program,
//! a neighbour on the host) then delays the scan by a part, not by half
//! the file. Memory is one chunk buffer per thread and one tally per part.
//! The parts' tallies merge, in file order, into exactly what one pass
//! would count, whichever thread counted which; the one case where they
//! cannot (a later part with more upstream names than a tally has rows
//! for) is counted again after the parts before it.
//!
//! The file is read, not mapped: a log rotated with `copytruncate` while
//! mapped would kill the scan with SIGBUS, where a read just ends early.

use std::fs::File;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::count::{Counter, Window};
use super::lines::for_each_block;
use super::prefilter::Prefilter;
use super::tally::Tally;

/// How a plain file is cut: at most [`PARTS_PER_THREAD`] parts per
/// thread, none smaller than `min_part` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub threads: usize,
    pub min_part: u64,
}

/// Enough for a slowed thread to leave parts to the others, few enough
/// that each part is long (a part re-reads one line at its start, and its
/// tally waits in memory to be merged).
const PARTS_PER_THREAD: u64 = 8;

impl Parts {
    /// One thread per CPU, at most 8 (reading is memory-bound beyond), and
    /// parts of at least 32 MiB (smaller ones are not worth their start).
    pub fn for_this_machine() -> Parts {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Parts {
            threads: cpus.min(8),
            min_part: 32 << 20,
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
    };
    let counted = count_parts(&ranges, parts.threads, |i, range| {
        // The first part follows `before`; the others start afresh and
        // are checked when merged.
        let start = if i == 0 {
            before.seeded()
        } else {
            Tally::new(window.origin)
        };
        reader.count(range, start)
    });
    let mut parts = ranges.iter().zip(counted);
    let Some((_, first)) = parts.next() else {
        return Ok(before.seeded());
    };
    let mut total = first?;
    for (&range, part) in parts {
        let part = part?;
        let exact = if part.upstreams_overflowed() {
            reader.count(range, total.seeded())?
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
}

impl PartReader<'_> {
    /// One part: the entries whose head line starts in `[start, end)`,
    /// added to `tally`.
    fn count(self, (start, end): (u64, u64), tally: Tally) -> io::Result<Tally> {
        let mut counter = Counter::new(self.prefilter, self.window, end, tally);
        // A later part starts one byte early: a line starts at `start`
        // exactly when that byte is `\n`; the line running across `start`
        // is the previous part's.
        let read_from = if start > self.from { start - 1 } else { start };
        let reader = At {
            file: self.file,
            pos: read_from,
            end: self.len,
        };
        let mut first = read_from < start;
        for_each_block(reader, read_from, |at, block| {
            if !std::mem::take(&mut first) {
                return counter.block(at, block);
            }
            // The first line starts before `start`: it is not this part's.
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
