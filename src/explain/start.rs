//! Where nginx's own text starts in a pasted line, and which parts of its
//! prefix came with it.
//!
//! A whole line starts `YYYY/MM/DD HH:MM:SS [level] pid#tid: `, or
//! `nginx: [level] ` when `nginx -t` prints it. What people paste may keep
//! less: `[level] pid#tid: ...` from a page that dropped the time,
//! `[crit] *42 ...`, `*42 connect() ...`, or the message alone. A log
//! shipper may have put its own prefix in front (`web-1  | `, a syslog or
//! journald header, kubectl's RFC 3339 time); nginx's prefix is then found
//! further in. The forms with a prefix are recognised by the prefix; the
//! ones without need their message to read as nginx's (the caller decides),
//! so `hello` is never taken for a log line.

use crate::logs::Level;
use crate::logs::nginx_line::line_time;

/// Which parts of nginx's prefix an entry starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `YYYY/MM/DD HH:MM:SS [level] pid#tid: ...`: the whole line.
    Stamped,
    /// `nginx: [level] ...` (`nginx -t` and start-up messages on a terminal).
    NginxT,
    /// `[level] pid#tid: ...`: the timestamp left out.
    NoStamp,
    /// `[level] ...` or `[level] *42 ...`: no timestamp, no process id.
    LevelOnly,
    /// `*42 ...` or the message alone: nothing of the prefix.
    Bare,
}

impl Form {
    /// Whether the form has nginx's timestamp.
    pub fn has_time(self) -> bool {
        self == Form::Stamped
    }

    /// Whether the form has the `[level]`.
    pub fn has_level(self) -> bool {
        self != Form::Bare
    }
}

/// The prefix parts read from an entry that has no timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    pub level: Option<Level>,
    pub ids: Option<(u32, u32)>,
    pub conn: Option<u64>,
    /// The message and request context.
    pub body: &'a str,
}

/// Where a prefixed nginx entry starts in `line` and its form. The leftmost
/// candidate wins: text a client wrote comes after nginx's own.
pub fn find_start(line: &str) -> Option<(usize, Form)> {
    memchr::memchr_iter(b'[', line.as_bytes()).find_map(|at| start_at(line, at))
}

/// Whether a prefixed entry starts at the first byte of `line`.
pub fn starts_entry(line: &str) -> bool {
    // After a timestamp, the level's `[` is 20 bytes in.
    memchr::memchr_iter(b'[', line.as_bytes())
        .take_while(|&at| at <= 20)
        .any(|at| start_at(line, at).is_some_and(|(start, _)| start == 0))
}

/// Whether the `[` at `at` opens a level that an nginx prefix surrounds:
/// `YYYY/MM/DD HH:MM:SS [level] `, `nginx: [level] ` or a bare
/// `[level] pid#tid: `. Returns where the prefix starts.
fn start_at(line: &str, at: usize) -> Option<(usize, Form)> {
    let (_, rest) = level_at(line.get(at..)?)?;
    let before = &line.as_bytes()[..at];
    if let Some(stamp_at) = at.checked_sub(20)
        && before[at - 1] == b' '
        && line_time(&before[stamp_at..], 0).is_some()
    {
        return Some((stamp_at, Form::Stamped));
    }
    if before.ends_with(b"nginx: ") {
        return Some((at - 7, Form::NginxT));
    }
    ids(rest).is_some().then_some((at, Form::NoStamp))
}

/// `[level] rest` → the level and the rest.
fn level_at(text: &str) -> Option<(Level, &str)> {
    let after = text.strip_prefix('[')?;
    // The longest level, `notice`, has six letters.
    let close = after.bytes().take(7).position(|b| b == b']')?;
    let rest = after[close + 1..].strip_prefix(' ')?;
    Some((Level::from_nginx(&after[..close])?, rest))
}

/// `pid#tid: rest` → the ids and the rest.
fn ids(text: &str) -> Option<((u32, u32), &str)> {
    let (ids, rest) = text.split_once(": ")?;
    let (pid, tid) = ids.split_once('#')?;
    Some(((digits(pid)?, digits(tid)?), rest))
}

/// A run of ASCII digits as a number, when it fits `T`.
fn digits<T: std::str::FromStr>(text: &str) -> Option<T> {
    let plain = !text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit());
    plain.then(|| text.parse().ok()).flatten()
}

/// `*42 rest` → the connection number and the rest.
fn connection(text: &str) -> Option<(u64, &str)> {
    let (n, rest) = text.strip_prefix('*')?.split_once(' ')?;
    Some((digits(n)?, rest))
}

/// The form and prefix parts of an entry without a timestamp, read from
/// its start: an optional `[level] `, `pid#tid: ` and `*conn `, then the
/// body. The stamped forms are read by the line parser instead.
pub fn parts(text: &str) -> Parts<'_> {
    let (level, rest) = level_at(text).map_or((None, text), |(l, r)| (Some(l), r));
    let (ids, rest) = ids(rest).map_or((None, rest), |(i, r)| (Some(i), r));
    let (conn, body) = connection(rest).map_or((None, rest), |(c, r)| (Some(c), r));
    Parts {
        level,
        ids,
        conn,
        body,
    }
}

/// The form of a line that starts without a prefix nginx-doctor knows by
/// itself (`[crit] *42 ...`, `*42 ...`, or a message), once the caller has
/// found that its message reads as nginx's.
pub fn unprefixed_form(text: &str) -> Form {
    if level_at(text).is_some() {
        Form::LevelOnly
    } else {
        Form::Bare
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSED: &str = r#"2026/11/24 21:18:00 [error] 20734#20734: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /refused HTTP/1.1", upstream: "http://127.0.0.1:9001/refused", host: "127.0.0.1:8080""#;

    #[test]
    fn stamped_line_starts_at_its_timestamp_after_a_shipper_prefix() {
        let line = format!("web-1  | {REFUSED}");
        assert_eq!(find_start(&line), Some((9, Form::Stamped)));
    }

    #[test]
    fn nginx_t_form_starts_at_nginx() {
        let line = "Dec 01 10:00:01 web1 nginx[1234]: nginx: [emerg] still could not bind()";
        let (at, form) = find_start(line).expect("found");
        assert_eq!((&line[at..at + 7], form), ("nginx: ", Form::NginxT));
    }

    #[test]
    fn level_and_ids_without_a_timestamp_start_an_entry() {
        assert_eq!(find_start(&REFUSED[20..]), Some((0, Form::NoStamp)));
        assert!(starts_entry(&REFUSED[20..]));
    }

    #[test]
    fn a_level_without_ids_or_a_message_alone_is_no_prefixed_start() {
        assert_eq!(find_start("[crit] *42 connect() failed"), None);
        assert_eq!(find_start("*42 connect() failed"), None);
        assert_eq!(
            unprefixed_form("[crit] *42 connect() failed"),
            Form::LevelOnly
        );
        assert_eq!(unprefixed_form("*42 connect() failed"), Form::Bare);
    }

    #[test]
    fn parts_reads_what_the_prefix_kept() {
        let p = parts(&REFUSED[20..]);
        assert_eq!(p.level, Some(Level::Error));
        assert_eq!(p.ids, Some((20734, 20734)));
        assert_eq!(p.conn, Some(1));
        assert!(p.body.starts_with("connect() failed"));
        let bare = parts("*42 connect() failed");
        assert_eq!((bare.level, bare.ids, bare.conn), (None, None, Some(42)));
        let message = parts("connect() failed");
        assert_eq!(message.conn, None);
        assert_eq!(message.body, "connect() failed");
    }

    #[test]
    fn a_connection_number_is_digits_then_a_space() {
        assert_eq!(connection("*42 x"), Some((42, "x")));
        for bad in ["*x y", "* y", "*42", "*99999999999999999999 y", "42 y"] {
            assert_eq!(connection(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn many_brackets_do_not_panic_or_match() {
        let line = "[[[] [error] 1#x: ".repeat(50_000);
        assert_eq!(find_start(&line), None);
    }
}
