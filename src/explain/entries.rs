//! Finding the nginx error-log entries in text a person pasted.
//!
//! People paste more than a clean line: several lines, a line a log shipper
//! prefixed (`Nov 24 21:18:00 web nginx[812]: 2026/11/24 ...`), a line from a
//! web page without its timestamp (`[error] 812#812: *1 ...`), or a FastCGI
//! stderr entry, which nginx writes over several lines because PHP's message
//! holds newlines. An entry therefore starts where nginx's fixed prefix is
//! found, and a stderr entry takes the following lines until its
//! `" while ACTION` closes it. Nothing here allocates per byte or looks back
//! over earlier text, so hostile input costs linear time.

use crate::logs::nginx_line::{Action, line_time};
use crate::logs::{Level, nginx_line};

/// nginx cuts every error-log line at `NGX_MAX_ERROR_STR` (2048 bytes), so a
/// multi-line stderr entry that grows beyond this is not one entry any more.
const MAX_CONTINUED: usize = 8 * 1024;

/// The timestamp a bare `[level] pid#tid: ...` line is parsed with; the time
/// is dropped again afterwards.
const PLACEHOLDER_STAMP: &str = "1970/01/01 00:00:00 ";

/// One nginx error-log entry found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The 1-based input line it starts on.
    pub first_line: usize,
    /// The entry from nginx's prefix on; continuation lines joined by `\n`.
    pub text: String,
    /// Whether the line came without its timestamp (the `[level] ...` form).
    pub timeless: bool,
}

impl Entry {
    /// The entry's fields, or `None` if it is not an nginx line after all
    /// (a prefix followed by nonsense).
    pub fn parse(&self, utc_offset_secs: i32) -> Option<nginx_line::ErrorLine> {
        if !self.timeless {
            return nginx_line::parse_line(&self.text, utc_offset_secs);
        }
        let stamped = format!("{PLACEHOLDER_STAMP}{}", self.text);
        let mut line = nginx_line::parse_line(&stamped, 0)?;
        line.time = None;
        Some(line)
    }

    /// The wall-clock time exactly as the log wrote it, if the entry has one.
    pub fn local_time(&self) -> Option<&str> {
        (!self.timeless && line_time(self.text.as_bytes(), 0).is_some())
            .then(|| self.text.get(..19))
            .flatten()
    }
}

/// The entries of `input`, and how many non-blank lines belonged to none.
#[derive(Debug, Default)]
pub struct Split {
    pub entries: Vec<Entry>,
    pub skipped: usize,
}

/// Splits pasted text into nginx error-log entries.
pub fn split(input: &str) -> Split {
    let mut split = Split::default();
    let mut open: Option<Entry> = None;
    for (index, raw) in input.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(entry) = open.as_mut().filter(|e| continues(e, line)) {
            entry.text.push('\n');
            entry.text.push_str(line);
            continue;
        }
        split.entries.extend(open.take());
        match find_start(line) {
            Some((at, timeless)) => {
                open = Some(Entry {
                    first_line: index + 1,
                    text: line[at..].to_owned(),
                    timeless,
                });
            }
            None if line.trim().is_empty() => {}
            None => split.skipped += 1,
        }
    }
    split.entries.extend(open);
    split
}

/// Whether `line` continues the open entry: only a FastCGI stderr message
/// spans lines, and only until it is closed or a new entry starts.
fn continues(entry: &Entry, line: &str) -> bool {
    let message_open = entry_message(&entry.text).starts_with("FastCGI sent in stderr: \"")
        && !closes_stderr(last_line(&entry.text));
    message_open && entry.text.len() + line.len() < MAX_CONTINUED && !starts_entry(line)
}

/// Whether an nginx prefix starts `line` at its first byte (the level's `[`
/// is then at most 20 bytes in, after a timestamp).
fn starts_entry(line: &str) -> bool {
    memchr::memchr_iter(b'[', line.as_bytes())
        .take_while(|&at| at <= 20)
        .any(|at| start_at(line, at).is_some_and(|(start, _)| start == 0))
}

/// The text after `pid#tid: *conn ` (or after `[level] ` for `nginx:` lines).
fn entry_message(text: &str) -> &str {
    let first = text.split('\n').next().unwrap_or(text);
    let Some((_, after_level)) = first.split_once("] ") else {
        return "";
    };
    let body = after_level.split_once(": ").map_or(after_level, |(_, b)| b);
    match body.strip_prefix('*').and_then(|b| b.split_once(' ')) {
        Some((n, rest)) if n.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => body,
    }
}

fn last_line(text: &str) -> &str {
    text.rsplit('\n').next().unwrap_or(text)
}

/// `" while ACTION` ends the quoted stderr text (nginx adds the action and
/// the request after it).
fn closes_stderr(line: &str) -> bool {
    Action::ALL
        .iter()
        .any(|(_, literal)| line.contains(&format!("\" while {literal}")))
}

/// Where nginx's prefix starts in `line`, and whether it lacks a timestamp.
/// The leftmost candidate wins: text a client wrote comes after nginx's own.
fn find_start(line: &str) -> Option<(usize, bool)> {
    memchr::memchr_iter(b'[', line.as_bytes()).find_map(|at| start_at(line, at))
}

/// Whether the `[` at `at` opens a level that an nginx prefix surrounds:
/// `YYYY/MM/DD HH:MM:SS [level] `, `nginx: [level] ` or a bare
/// `[level] pid#tid: `. Returns where the prefix starts.
fn start_at(line: &str, at: usize) -> Option<(usize, bool)> {
    let after = line.get(at..)?.strip_prefix('[')?;
    // The longest level, `notice`, has six letters.
    let close = after.bytes().take(7).position(|b| b == b']')?;
    let rest = after[close + 1..].strip_prefix(' ')?;
    Level::from_nginx(&after[..close])?;
    let before = &line.as_bytes()[..at];
    if let Some(stamp_at) = at.checked_sub(20)
        && before[at - 1] == b' '
        && line_time(&before[stamp_at..], 0).is_some()
    {
        return Some((stamp_at, false));
    }
    if before.ends_with(b"nginx: ") {
        return Some((at - 7, false));
    }
    bare_ids(rest).then_some((at, true))
}

/// `pid#tid: ` — what follows the level on a line without its timestamp.
fn bare_ids(rest: &str) -> bool {
    let Some((ids, _)) = rest.split_once(": ") else {
        return false;
    };
    let Some((pid, tid)) = ids.split_once('#') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
    digits(pid) && digits(tid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSED: &str = r#"2026/11/24 21:18:00 [error] 20734#20734: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /refused HTTP/1.1", upstream: "http://127.0.0.1:9001/refused", host: "127.0.0.1:8080""#;

    #[test]
    fn one_line_is_one_entry() {
        let s = split(REFUSED);
        assert_eq!(s.entries.len(), 1);
        assert_eq!(s.entries[0].text, REFUSED);
        assert_eq!(s.entries[0].first_line, 1);
        assert_eq!(s.skipped, 0);
    }

    #[test]
    fn shipper_prefix_is_cut_off() {
        let s = split(&format!("Nov 24 21:18:00 web nginx[812]: {REFUSED}"));
        assert_eq!(s.entries[0].text, REFUSED);
        assert!(!s.entries[0].timeless);
    }

    #[test]
    fn line_without_timestamp_is_found_and_timeless() {
        let bare = &REFUSED[20..];
        let s = split(bare);
        assert!(s.entries[0].timeless);
        let line = s.entries[0].parse(0).expect("parses");
        assert_eq!(line.time, None);
        assert_eq!(line.errno, Some(111));
        assert_eq!(s.entries[0].local_time(), None);
    }

    #[test]
    fn local_time_is_the_stamp_as_written() {
        let s = split(REFUSED);
        assert_eq!(s.entries[0].local_time(), Some("2026/11/24 21:18:00"));
    }

    #[test]
    fn fastcgi_stderr_continuation_lines_join_the_entry() {
        let input = "2026/11/24 21:18:00 [error] 1#1: *3 FastCGI sent in stderr: \"PHP message: PHP Fatal error:  Uncaught Error: x in /srv/a.php:3\nStack trace:\n#0 {main}\n  thrown in /srv/a.php on line 3\" while reading response header from upstream, client: 127.0.0.1, server: , request: \"GET /a.php HTTP/1.1\", upstream: \"fastcgi://unix:/run/php.sock:\", host: \"h\"\n";
        let s = split(input);
        assert_eq!(s.entries.len(), 1, "{:?}", s.entries);
        let line = s.entries[0].parse(0).expect("parses");
        assert_eq!(line.action, Some(Action::ReadingResponseHeader));
        assert_eq!(line.client.as_deref(), Some("127.0.0.1"));
        assert_eq!(s.skipped, 0);
    }

    #[test]
    fn closed_entry_does_not_swallow_the_next_text() {
        let input = format!("{REFUSED}\nsome unrelated text\n{REFUSED}");
        let s = split(&input);
        assert_eq!(s.entries.len(), 2);
        assert_eq!(s.entries[1].first_line, 3);
        assert_eq!(s.skipped, 1);
    }

    #[test]
    fn a_new_entry_ends_an_open_stderr_entry() {
        let input = format!(
            "2026/11/24 21:18:00 [error] 1#1: *3 FastCGI sent in stderr: \"PHP message: a\nb\n{REFUSED}"
        );
        let s = split(&input);
        assert_eq!(s.entries.len(), 2);
        assert_eq!(s.entries[0].text.lines().count(), 2);
    }

    #[test]
    fn text_that_is_not_nginx_is_counted_as_skipped() {
        let s = split(
            "hello\n\n  \n127.0.0.1 - - [24/Nov/2026:21:18:00 +0000] \"GET / HTTP/1.1\" 502 157\n",
        );
        assert!(s.entries.is_empty());
        assert_eq!(s.skipped, 2);
    }

    #[test]
    fn nginx_t_form_is_found() {
        let s = split(
            r#"nginx: [emerg] host not found in upstream "app:8080" in /etc/nginx/conf.d/a.conf:1"#,
        );
        assert_eq!(s.entries.len(), 1);
        assert!(s.entries[0].parse(0).is_some());
    }

    #[test]
    fn stderr_entry_stops_growing_at_the_bound() {
        let mut input =
            String::from("2026/11/24 21:18:00 [error] 1#1: *3 FastCGI sent in stderr: \"x");
        for _ in 0..10_000 {
            input.push_str("\nmore stderr text that never closes");
        }
        let s = split(&input);
        assert!(s.entries[0].text.len() <= MAX_CONTINUED);
        assert!(s.skipped > 9_000);
    }

    #[test]
    fn many_brackets_do_not_panic_or_match() {
        let s = split(&"[[[] [error] 1#x: ".repeat(50_000));
        assert!(s.entries.is_empty());
        assert_eq!(s.skipped, 1);
    }
}
