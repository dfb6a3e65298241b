//! The recent part of a log, read backwards from its end.
//!
//! A busy server's error log can be gigabytes, and the diagnosis only wants
//! the last minutes. So the file is read from the end in 64 KiB blocks and
//! the scan stops at the first entry older than the window, or when a byte
//! budget is spent. Whether the window was seen whole is reported, so the
//! caller can say "no 502 in the last 15 minutes" only when that is known.
//!
//! An entry is a line with a timestamp plus the lines without one that
//! follow it: nginx writes FastCGI stderr verbatim, so one PHP fatal error
//! spans several physical lines. Hostile sizes are bounded: a physical line
//! over 64 KiB keeps its first and last 32 KiB (the timestamp is at the start,
//! the request context at the end), and an entry keeps at most 64 KiB of
//! continuation lines, nearest the head and the end. Empty lines are dropped.
//! Timestamps come from a caller-given extractor, so the same scan serves
//! nginx (`nginx_line::line_time`) and php-fpm (`fpm_line::line_time`).
//!
//! Log lines are written in time order per process; workers can interleave a
//! second out of order, which matters nothing at the edge of a window of minutes.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::Timestamp;

/// Bytes read per step backwards.
const BLOCK: u64 = 64 * 1024;
/// Longest physical line kept whole; longer ones keep both ends.
const LINE_CAP: usize = 64 * 1024;
/// Continuation bytes kept per entry, half next to its head line, half at its end.
const CONTINUATION_CAP: usize = 64 * 1024;

/// The entries of a log's time window, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tail {
    /// Entries in file order: a timestamped line, then its continuation lines,
    /// joined by `\n` (no trailing newline). Continuation lines found at the
    /// very start of the file, with no head line, form an entry of their own.
    pub entries: Vec<Vec<u8>>,
    /// The scan reached the first byte of the file.
    pub reached_start: bool,
    /// The oldest timestamp read, including the one older than the window
    /// that ended the scan.
    pub oldest_seen: Option<Timestamp>,
}

impl Tail {
    /// Whether every entry since `since` is in [`Tail::entries`]: the scan
    /// either reached the start of the file or saw a line older than `since`.
    /// `false` means the byte budget ran out first.
    pub fn covers(&self, since: Timestamp) -> bool {
        self.reached_start || self.oldest_seen.is_some_and(|t| t < since)
    }
}

/// Reading the log failed.
#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error("cannot read log {}: {source}; check the path and that this user may read it (logs are often root-only)", path.display())]
    Read { path: PathBuf, source: io::Error },
}

/// The entries of the log at `path` logged at or after `since`, reading at
/// most `max_bytes` from the end. `time_of` returns a physical line's
/// timestamp, or `None` for a continuation line.
pub fn tail_since<F>(
    path: &Path,
    since: Timestamp,
    max_bytes: u64,
    time_of: F,
) -> Result<Tail, TailError>
where
    F: FnMut(&[u8]) -> Option<Timestamp>,
{
    let error = |source| TailError::Read {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(error)?;
    let len = file.metadata().map_err(error)?.len();
    let mut lines = BackwardLines::new(file, len, max_bytes);
    scan(&mut lines, since, time_of).map_err(error)
}

/// Walks lines from the last to the first until the window or budget ends.
fn scan<F>(lines: &mut BackwardLines, since: Timestamp, mut time_of: F) -> io::Result<Tail>
where
    F: FnMut(&[u8]) -> Option<Timestamp>,
{
    let mut tail = Tail::default();
    let mut pending = Continuations::default();
    while let Some(line) = lines.next_line()? {
        if line.is_empty() {
            continue;
        }
        let Some(time) = time_of(&line) else {
            pending.push(line);
            continue;
        };
        tail.oldest_seen = Some(tail.oldest_seen.map_or(time, |t| t.min(time)));
        if time < since {
            return Ok(finish(tail, Continuations::default()));
        }
        tail.entries.push(pending.take_entry(line));
    }
    tail.reached_start = lines.reached_start();
    let orphans = if tail.reached_start {
        pending
    } else {
        Continuations::default()
    };
    Ok(finish(tail, orphans))
}

/// Adds the orphan continuation lines (if any) and puts entries in file order.
fn finish(mut tail: Tail, mut orphans: Continuations) -> Tail {
    if !orphans.is_empty() {
        tail.entries.push(orphans.take_entry(Vec::new()));
    }
    tail.entries.reverse();
    tail
}

/// Physical lines of a file, last first, within a byte budget from the end.
struct BackwardLines {
    file: File,
    /// The last block read: bytes `[buf_start, buf_start + buf.len())`.
    buf: Vec<u8>,
    buf_start: u64,
    /// Lines ending at or after this offset have been returned.
    line_end: u64,
    /// Nothing before this offset is read (the budget).
    floor: u64,
    done: bool,
}

impl BackwardLines {
    fn new(file: File, len: u64, max_bytes: u64) -> Self {
        BackwardLines {
            file,
            buf: Vec::new(),
            buf_start: len,
            line_end: len,
            floor: len.saturating_sub(max_bytes),
            done: len == 0,
        }
    }

    fn reached_start(&self) -> bool {
        self.done && self.floor == 0
    }

    /// The line before the last one returned, without its `\n` (the empty
    /// "line" after a final newline included); `None` at the start of the file
    /// or when the next line would start before the budget.
    fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let end = self.line_end;
        let start = match self.newline_before(end)? {
            Some(newline) => newline + 1,
            None if self.floor == 0 => 0,
            None => {
                self.done = true;
                return Ok(None);
            }
        };
        self.done = start == 0;
        self.line_end = start.saturating_sub(1);
        self.read_capped(start, end).map(Some)
    }

    /// Offset of the last `\n` before `before`, reading blocks back to the floor.
    fn newline_before(&mut self, before: u64) -> io::Result<Option<u64>> {
        let mut before = before;
        loop {
            let lo = self.buf_start.max(self.floor);
            if before > lo {
                let upto = usize::try_from(before - self.buf_start).unwrap_or(usize::MAX);
                let from = usize::try_from(lo - self.buf_start).unwrap_or(0);
                let searched = self
                    .buf
                    .get(from..upto.min(self.buf.len()))
                    .unwrap_or_default();
                if let Some(at) = memchr::memrchr(b'\n', searched) {
                    return Ok(Some(self.buf_start + (from + at) as u64));
                }
            }
            if self.buf_start <= self.floor {
                return Ok(None);
            }
            before = self.buf_start;
            self.load_block_before(self.buf_start)?;
        }
    }

    fn load_block_before(&mut self, end: u64) -> io::Result<()> {
        let start = end.saturating_sub(BLOCK).max(self.floor);
        self.buf
            .resize(usize::try_from(end - start).unwrap_or(0), 0);
        self.file.read_exact_at(&mut self.buf, start)?;
        self.buf_start = start;
        Ok(())
    }

    /// Bytes `[start, end)`; when longer than [`LINE_CAP`], the first and last
    /// halves with a marker saying how much was left out.
    fn read_capped(&self, start: u64, end: u64) -> io::Result<Vec<u8>> {
        let len = usize::try_from(end - start).unwrap_or(usize::MAX);
        if len <= LINE_CAP {
            return self.read_range(start, len);
        }
        let half = LINE_CAP / 2;
        let mut line = self.read_range(start, half)?;
        line.extend_from_slice(format!("[... {} bytes cut ...]", len - 2 * half).as_bytes());
        line.extend(self.read_range(end - half as u64, half)?);
        Ok(line)
    }

    fn read_range(&self, start: u64, len: usize) -> io::Result<Vec<u8>> {
        let buf_end = self.buf_start + self.buf.len() as u64;
        if start >= self.buf_start && start + len as u64 <= buf_end {
            let from = usize::try_from(start - self.buf_start).unwrap_or(0);
            return Ok(self.buf[from..from + len].to_vec());
        }
        let mut bytes = vec![0; len];
        self.file.read_exact_at(&mut bytes, start)?;
        Ok(bytes)
    }
}

/// Continuation lines waiting for their head line (which comes later in the
/// scan, earlier in the file). Bounded: the lines nearest the entry's end and
/// nearest its head are kept, the middle is dropped and counted.
#[derive(Default)]
struct Continuations {
    /// First received = last in the file.
    near_end: Vec<Vec<u8>>,
    near_end_bytes: usize,
    /// Pushed at the back as received; the back is the earliest in the file.
    near_head: VecDeque<Vec<u8>>,
    near_head_bytes: usize,
    dropped: usize,
}

impl Continuations {
    fn is_empty(&self) -> bool {
        self.near_end.is_empty()
    }

    fn push(&mut self, line: Vec<u8>) {
        let half = CONTINUATION_CAP / 2;
        let fits_near_end = self.near_end.is_empty() || self.near_end_bytes + line.len() <= half;
        if self.near_head.is_empty() && fits_near_end {
            self.near_end_bytes += line.len();
            self.near_end.push(line);
            return;
        }
        self.near_head_bytes += line.len();
        self.near_head.push_back(line);
        while self.near_head.len() > 1 && self.near_head_bytes > half {
            if let Some(old) = self.near_head.pop_front() {
                self.near_head_bytes -= old.len();
                self.dropped += 1;
            }
        }
    }

    /// `head` followed by the pending lines in file order; empties `self`.
    fn take_entry(&mut self, head: Vec<u8>) -> Vec<u8> {
        let taken = std::mem::take(self);
        let mut parts: Vec<Vec<u8>> = Vec::new();
        if !head.is_empty() {
            parts.push(head);
        }
        parts.extend(taken.near_head.into_iter().rev());
        if taken.dropped > 0 {
            parts.push(format!("[... {} lines cut ...]", taken.dropped).into_bytes());
        }
        parts.extend(taken.near_end.into_iter().rev());
        parts.join(&b'\n')
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::logs::nginx_line::line_time;

    /// A log line logged `secs` seconds after 2026/11/24 21:18:00 (UTC).
    fn line(secs: u32, text: &str) -> String {
        format!(
            "2026/11/24 21:{:02}:{:02} [error] 1#1: {text}\n",
            18 + secs / 60,
            secs % 60
        )
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix(1_795_555_080 + secs)
    }

    fn log_file(contents: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(contents.as_bytes()).expect("write");
        file
    }

    fn tail(file: &tempfile::NamedTempFile, since: Timestamp, max_bytes: u64) -> Tail {
        tail_since(file.path(), since, max_bytes, |l| line_time(l, 0)).expect("reads")
    }

    fn texts(tail: &Tail) -> Vec<String> {
        tail.entries
            .iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect()
    }

    #[test]
    fn window_starts_at_the_first_line_not_older_than_since() {
        let log: String = (0..10).map(|i| line(i, &format!("n{i}"))).collect();
        let file = log_file(&log);
        let t = tail(&file, at(6), u64::MAX);
        assert_eq!(t.entries.len(), 4);
        assert!(texts(&t)[0].ends_with("n6"));
        assert!(texts(&t)[3].ends_with("n9"));
        assert_eq!(t.oldest_seen, Some(at(5)));
        assert!(!t.reached_start);
        assert!(t.covers(at(6)));
    }

    #[test]
    fn last_line_without_newline_is_kept() {
        let file = log_file(&format!("{}{}", line(0, "a"), line(1, "b").trim_end()));
        let t = tail(&file, at(0), u64::MAX);
        assert_eq!(texts(&t).len(), 2);
        assert!(texts(&t)[1].ends_with("b"));
    }

    #[test]
    fn small_file_is_read_whole() {
        let file = log_file(&format!("{}{}", line(0, "a"), line(1, "b")));
        let t = tail(&file, at(0), u64::MAX);
        assert_eq!(t.entries.len(), 2);
        assert!(t.reached_start);
        assert_eq!(t.oldest_seen, Some(at(0)));
    }

    #[test]
    fn file_of_many_blocks_keeps_every_line_of_the_window() {
        let pad = "x".repeat(60);
        let log: String = (0..3000)
            .map(|i| line(i / 100, &format!("{i} {pad}")))
            .collect();
        assert!(log.len() as u64 > 3 * BLOCK);
        let file = log_file(&log);
        let t = tail(&file, at(10), u64::MAX);
        assert_eq!(t.entries.len(), 2000);
        assert!(texts(&t)[0].contains(": 1000 "));
        assert!(t.covers(at(10)));
    }

    #[test]
    fn continuation_lines_join_the_entry_before_them() {
        let log = format!(
            "{}{}Stack trace:\n#0 {{main}}\n{}",
            line(0, "a"),
            line(1, "FastCGI sent in stderr: \"PHP Fatal"),
            line(2, "c")
        );
        let file = log_file(&log);
        let t = tail(&file, at(1), u64::MAX);
        assert_eq!(t.entries.len(), 2);
        assert!(
            texts(&t)[0].ends_with("PHP Fatal\nStack trace:\n#0 {main}"),
            "{:?}",
            texts(&t)[0]
        );
    }

    #[test]
    fn continuation_lines_of_an_old_entry_stay_out() {
        let log = format!("{}tail of a\n{}", line(0, "a"), line(5, "b"));
        let file = log_file(&log);
        let t = tail(&file, at(3), u64::MAX);
        assert_eq!(texts(&t), vec![line(5, "b").trim_end().to_owned()]);
    }

    #[test]
    fn continuation_lines_at_the_start_of_the_file_form_their_own_entry() {
        let log = format!("rotated remainder\n{}", line(0, "a"));
        let file = log_file(&log);
        let t = tail(&file, at(0), u64::MAX);
        assert_eq!(texts(&t)[0], "rotated remainder");
        assert_eq!(t.entries.len(), 2);
    }

    #[test]
    fn all_lines_old_gives_no_entries_but_a_complete_window() {
        let log: String = (0..5).map(|i| line(i, "old")).collect();
        let file = log_file(&log);
        let t = tail(&file, at(100), u64::MAX);
        assert!(t.entries.is_empty());
        assert_eq!(t.oldest_seen, Some(at(4)));
        assert!(t.covers(at(100)));
    }

    #[test]
    fn all_lines_new_reaches_the_start() {
        let log: String = (0..5).map(|i| line(i, "new")).collect();
        let file = log_file(&log);
        let t = tail(&file, at(0), u64::MAX);
        assert_eq!(t.entries.len(), 5);
        assert!(t.reached_start);
    }

    #[test]
    fn empty_file_is_a_complete_empty_window() {
        let file = log_file("");
        let t = tail(&file, at(0), u64::MAX);
        assert_eq!(
            t,
            Tail {
                entries: vec![],
                reached_start: true,
                oldest_seen: None
            }
        );
    }

    #[test]
    fn empty_lines_are_dropped() {
        let file = log_file(&format!("\n{}\n\n{}\n", line(0, "a"), line(1, "b")));
        let t = tail(&file, at(0), u64::MAX);
        assert_eq!(t.entries.len(), 2);
        assert!(!texts(&t)[0].contains('\n'));
    }

    #[test]
    fn budget_stops_the_scan_and_the_window_is_incomplete() {
        let log: String = (0..100).map(|i| line(i, "x")).collect();
        let one = line(0, "x").len() as u64;
        let file = log_file(&log);
        let t = tail(&file, at(0), 10 * one + one / 2);
        assert_eq!(t.entries.len(), 10);
        assert!(!t.reached_start);
        assert!(!t.covers(at(0)));
        assert_eq!(t.oldest_seen, Some(at(90)));
    }

    #[test]
    fn huge_line_keeps_both_ends() {
        let long = format!("start{}end, client: 1.2.3.4", "y".repeat(300_000));
        let file = log_file(&line(0, &long));
        let t = tail(&file, at(0), u64::MAX);
        let text = &texts(&t)[0];
        assert!(text.len() < LINE_CAP + 100);
        assert!(text.starts_with("2026/11/24 21:18:00 [error] 1#1: start"));
        assert!(text.ends_with("end, client: 1.2.3.4"));
        assert!(text.contains("bytes cut ...]"));
    }

    #[test]
    fn endless_continuation_lines_are_capped_with_both_ends_kept() {
        let middle: String = (0..20_000).map(|i| format!("#{i} frame\n")).collect();
        let log = format!(
            "{}{middle}\" while reading response header from upstream\n",
            line(0, "FastCGI sent in stderr: \"x")
        );
        let file = log_file(&log);
        let t = tail(&file, at(0), u64::MAX);
        assert_eq!(t.entries.len(), 1);
        let text = &texts(&t)[0];
        assert!(text.len() <= 2 * CONTINUATION_CAP);
        assert!(text.contains("\n#0 frame\n"));
        assert!(text.contains("lines cut ...]"));
        assert!(text.ends_with("\" while reading response header from upstream"));
    }

    #[test]
    fn binary_junk_does_not_break_the_scan() {
        let mut bytes = line(0, "a").into_bytes();
        bytes.extend_from_slice(b"\x00\xff\x1b[2J\xfe\n");
        bytes.extend_from_slice(line(1, "b").as_bytes());
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(&bytes).expect("write");
        let t = tail(&file, at(0), u64::MAX);
        assert_eq!(t.entries.len(), 2);
        assert!(t.entries[0].ends_with(b"\x00\xff\x1b[2J\xfe"));
    }

    #[test]
    fn missing_file_error_names_the_path() {
        let err =
            tail_since(Path::new("/nonexistent/error.log"), at(0), 1, |_| None).expect_err("fails");
        assert!(err.to_string().contains("/nonexistent/error.log"), "{err}");
    }
}
