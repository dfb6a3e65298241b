//! Reading one file of a log forward and counting its failures: a plain file
//! in parallel parts (one per CPU, each a range of the file read with
//! `pread`), a compressed copy as one stream.
//!
//! Parts split at arbitrary bytes; each part owns the entries whose head
//! line starts inside it and reads past its end only to finish its last
//! entry. Memory is one chunk buffer and one tally per part.

use std::fs::File;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;

use super::count::{Counter, Window};
use super::lines::for_each_line;
use super::prefilter::Prefilter;
use super::tally::Tally;

/// Parts smaller than this are not worth a thread.
const MIN_PART: u64 = 32 << 20;
/// Threads at most, whatever the CPU count: reading is memory-bound beyond.
const MAX_THREADS: usize = 8;

/// Counts the failures in `file` from offset `from` (a line start) to `len`.
pub fn count_plain(file: &File, from: u64, len: u64, window: Window) -> io::Result<Tally> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS));
    let prefilter = Prefilter::default();
    let parts = split(from, len, threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .map(|&(start, end)| {
                let prefilter = &prefilter;
                scope.spawn(move || count_part(file, (start, end), from, len, prefilter, window))
            })
            .collect();
        let mut total = Tally::new(window.origin);
        for handle in handles {
            let part = handle
                .join()
                .map_err(|_| io::Error::other("a scan thread failed"))??;
            total.merge(part);
        }
        Ok(total)
    })
}

/// Counts the failures in a stream read from its start (a compressed copy).
pub fn count_stream<R: Read>(reader: R, window: Window) -> io::Result<Tally> {
    let prefilter = Prefilter::default();
    let mut counter = Counter::new(&prefilter, window, u64::MAX);
    for_each_line(reader, 0, |at, line| counter.line(at, line))?;
    Ok(counter.finish())
}

/// `[from, len)` cut into at most `threads` ranges of at least [`MIN_PART`].
fn split(from: u64, len: u64, threads: usize) -> Vec<(u64, u64)> {
    let size = len.saturating_sub(from);
    let count = (size / MIN_PART).clamp(1, threads.max(1) as u64);
    let step = size / count;
    (0..count)
        .map(|i| {
            let start = from + i * step;
            let end = if i + 1 == count { len } else { start + step };
            (start, end)
        })
        .collect()
}

/// One part: the entries whose head line starts in `[start, end)`.
fn count_part(
    file: &File,
    (start, end): (u64, u64),
    from: u64,
    len: u64,
    prefilter: &Prefilter,
    window: Window,
) -> io::Result<Tally> {
    let mut counter = Counter::new(prefilter, window, end);
    // A later part starts one byte early: a line starts at `start` exactly
    // when that byte is `\n`; the line running across `start` is the
    // previous part's.
    let read_from = if start > from { start - 1 } else { start };
    let reader = At {
        file,
        pos: read_from,
        end: len,
    };
    for_each_line(reader, read_from, |at, line| {
        if at < start {
            ControlFlow::Continue(())
        } else {
            counter.line(at, line)
        }
    })?;
    Ok(counter.finish())
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
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::logs::Timestamp;

    const CTX: &str = r#", client: 1.2.3.4, server: , request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:9001/x", host: "a""#;

    fn window() -> Window {
        Window {
            since: Timestamp::from_unix(0),
            origin: Timestamp::from_unix(1_795_555_080),
            utc_offset: 0,
        }
    }

    #[test]
    fn parts_cover_the_range_without_gaps() {
        let parts = split(10, 10 + 5 * MIN_PART + 3, 4);
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0].0, 10);
        assert_eq!(parts[3].1, 10 + 5 * MIN_PART + 3);
        for pair in parts.windows(2) {
            assert_eq!(pair[0].1, pair[1].0);
        }
        assert_eq!(split(0, MIN_PART - 1, 8), [(0, MIN_PART - 1)]);
        assert_eq!(split(5, 5, 8), [(5, 5)]);
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
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(log.as_bytes()).expect("write");
        let len = log.len() as u64;
        let prefilter = Prefilter::default();
        for cut in (1..len).step_by(7) {
            let mut total = Tally::new(window().origin);
            for range in [(0, cut), (cut, len)] {
                let part = count_part(file.as_file(), range, 0, len, &prefilter, window());
                total.merge(part.expect("reads"));
            }
            assert_eq!(total.total(), 26, "cut at {cut}");
        }
    }

    #[test]
    fn plain_file_is_counted_from_the_given_offset() {
        let line = format!(
            "2026/11/24 21:18:00 [error] 1#1: *1 no live upstreams while connecting to upstream{CTX}\n"
        );
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(line.repeat(3).as_bytes()).expect("write");
        let len = 3 * line.len() as u64;
        let tally = count_plain(file.as_file(), line.len() as u64, len, window()).expect("reads");
        assert_eq!(tally.total(), 2);
    }

    #[test]
    fn stream_is_counted_whole() {
        let line = format!(
            "2026/11/24 21:18:00 [error] 1#1: *1 no live upstreams while connecting to upstream{CTX}\n"
        );
        let tally = count_stream(line.repeat(4).as_bytes(), window()).expect("reads");
        assert_eq!(tally.total(), 4);
    }
}
