//! Finding where a time window starts in a large log without reading up to it.
//!
//! Log lines are appended in time order, so the first line of a window can
//! be found by bisection on byte offsets: each step reads one block in the
//! middle of the remaining range and looks at the first timestamped line
//! there. A 10 GiB log takes some thirty small reads, where reading it
//! backwards from the end (as `logs::window` does for short windows) would
//! cost the whole window twice.
//!
//! The answer may be early, never late: a block without a timestamped line
//! (a run of huge lines) counts as "window already started", and the caller
//! drops lines older than the window as it reads on. Workers interleave
//! lines within a second, so a line a second older or newer than its
//! neighbours can land on the wrong side of the boundary.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::logs::Timestamp;

/// Bytes read per bisection step; a step that finds no timestamped line in
/// them moves the search earlier, which only costs extra reading.
const PROBE: u64 = 128 * 1024;

/// The offset of a line start at or before the first line of `file` (of
/// `len` bytes) whose time is at or after `since`, and at most [`PROBE`]
/// bytes (plus one line) before it when lines are in time order. `time_of`
/// reads a line's timestamp; lines without one are skipped.
pub fn seek_since<F>(file: &File, len: u64, since: Timestamp, mut time_of: F) -> io::Result<u64>
where
    F: FnMut(&[u8]) -> Option<Timestamp>,
{
    // Every line starting before `lo` is older than `since` (or lo == 0);
    // the first timestamped line at or after `hi` is not (or hi == len).
    let (mut lo, mut hi) = (0, len);
    while hi - lo > PROBE {
        let mid = lo + (hi - lo) / 2;
        match first_line_after(file, mid, hi, &mut time_of)? {
            Some((at, t)) if t < since => lo = at,
            _ => hi = mid,
        }
    }
    Ok(lo)
}

/// The first line starting at or after `from` (and before `before`, within
/// [`PROBE`] bytes) that has a timestamp: its offset and time.
pub fn first_line_after<F>(
    file: &File,
    from: u64,
    before: u64,
    time_of: &mut F,
) -> io::Result<Option<(u64, Timestamp)>>
where
    F: FnMut(&[u8]) -> Option<Timestamp>,
{
    // Start one byte early: a line starts at `from` iff that byte is `\n`.
    let start = from.saturating_sub(1);
    let end = before.min(start.saturating_add(PROBE));
    let mut block = vec![0; usize::try_from(end.saturating_sub(start)).unwrap_or(0)];
    let read = read_full_at(file, &mut block, start)?;
    block.truncate(read);
    let mut lines = block.split(|&b| b == b'\n');
    let mut at = start;
    if from > 0 {
        // The (rest of the) line before `from`.
        at += lines.next().map_or(0, |l| l.len() as u64 + 1);
    }
    for line in lines {
        if let Some(t) = time_of(line) {
            return Ok(Some((at, t)));
        }
        at += line.len() as u64 + 1;
    }
    Ok(None)
}

/// Reads into `buf` from `offset` until it is full or the file ends.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::logs::nginx_line::line_time;

    const BASE: i64 = 1_795_555_080; // 2026/11/24 21:18:00 UTC

    /// `count` lines, one per second from 2026/11/24 21:18:00, each padded
    /// to `pad` bytes of message; returns the file and each line's offset.
    fn log(count: u32, pad: usize) -> (tempfile::NamedTempFile, Vec<u64>) {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        let mut offsets = Vec::new();
        let mut at = 0;
        for i in 0..count {
            let t = BASE + i64::from(i);
            let (h, m, s) = (t / 3600 % 24, t / 60 % 60, t % 60);
            let line = format!(
                "2026/11/{:02} {h:02}:{m:02}:{s:02} [error] 1#1: {i} {}\n",
                24 + t / 86_400 - BASE / 86_400,
                "x".repeat(pad)
            );
            offsets.push(at);
            at += line.len() as u64;
            file.write_all(line.as_bytes()).expect("write");
        }
        (file, offsets)
    }

    fn seek(file: &tempfile::NamedTempFile, since: i64) -> u64 {
        let f = file.as_file();
        let len = f.metadata().expect("stat").len();
        seek_since(f, len, Timestamp::from_unix(since), |l| line_time(l, 0)).expect("reads")
    }

    #[test]
    fn small_file_starts_at_zero() {
        let (file, _) = log(10, 10);
        assert_eq!(seek(&file, BASE + 5), 0);
    }

    #[test]
    fn large_file_lands_on_an_older_line_shortly_before_the_window() {
        let (file, offsets) = log(40_000, 100);
        let target = 30_000;
        let got = seek(&file, BASE + target as i64);
        assert!(offsets.contains(&got), "not a line start: {got}");
        assert!(got <= offsets[target]);
        assert!(
            offsets[target] - got <= PROBE + 200,
            "{got} vs {}",
            offsets[target]
        );
    }

    #[test]
    fn window_before_the_file_starts_at_zero() {
        let (file, _) = log(40_000, 100);
        assert_eq!(seek(&file, BASE - 1000), 0);
    }

    #[test]
    fn window_after_the_file_lands_near_its_end() {
        let (file, offsets) = log(40_000, 100);
        let got = seek(&file, BASE + 1_000_000);
        assert!(offsets[offsets.len() - 1] - got <= PROBE + 200);
    }

    #[test]
    fn huge_lines_only_make_the_answer_earlier() {
        let (file, offsets) = log(2_000, 3_000);
        let got = seek(&file, BASE + 1_500);
        assert!(offsets.contains(&got));
        assert!(got <= offsets[1_500]);
    }

    #[test]
    fn first_line_after_skips_the_partial_line() {
        let (file, offsets) = log(3, 10);
        let mut time_of = |l: &[u8]| line_time(l, 0);
        let found = first_line_after(file.as_file(), offsets[1] - 3, u64::MAX, &mut time_of);
        let want = Some((offsets[1], Timestamp::from_unix(BASE + 1)));
        assert_eq!(found.expect("reads"), want);
        let exact = first_line_after(file.as_file(), offsets[1], u64::MAX, &mut time_of);
        assert_eq!(exact.expect("reads"), want);
    }

    #[test]
    fn first_line_after_skips_lines_without_a_timestamp() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(b"junk\n#1 frame\n2026/11/24 21:18:00 [error] 1#1: a\n")
            .expect("write");
        let found = first_line_after(file.as_file(), 0, u64::MAX, &mut |l| line_time(l, 0));
        assert_eq!(
            found.expect("reads"),
            Some((14, Timestamp::from_unix(BASE)))
        );
    }
}
