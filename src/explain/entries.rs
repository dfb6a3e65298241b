//! Finding the nginx error-log entries in text a person pasted.
//!
//! People paste more than a clean line: several lines, a line a log shipper
//! prefixed, a line without its timestamp or its whole prefix, a line a
//! terminal wrapped over two or three, or a FastCGI stderr entry, which
//! nginx itself writes over several lines because PHP's message holds
//! newlines. An entry starts where nginx's prefix is found ([`super::start`]),
//! or where a line's message reads as nginx's (the caller's test); a stderr
//! entry takes the following lines until its `" while ACTION` closes it; a
//! line cut inside its request context takes the next line as the rest of
//! it when a terminal plainly wrapped it there. Nothing here looks back over
//! earlier text, and every entry is bounded, so hostile input costs linear
//! time.

use super::paste;
use super::start::{self, Form};
use crate::logs::Level;
use crate::logs::fragment::{Prefix, parse_fragment, parse_line_ending};
use crate::logs::nginx_line::{Action, ContextEnd, ErrorLine, line_time};

/// nginx cuts every error-log line at `NGX_MAX_ERROR_STR` (2048 bytes), so a
/// multi-line stderr entry that grows beyond this is not one entry any more.
const MAX_CONTINUED: usize = 8 * 1024;

/// A wrapped line is at most one nginx line (2048 bytes) and a shipper's
/// prefix; twice that is the bound.
const MAX_WRAPPED: usize = 4 * 1024;

/// Terminals are at least this wide: a shorter line was not wrapped, it ended.
const MIN_WRAP_WIDTH: usize = 40;

/// One nginx error-log entry found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The 1-based input line it starts on.
    pub first_line: usize,
    /// The entry from nginx's text on; stderr continuation lines joined by
    /// `\n`, wrapped pieces joined as they were before the terminal cut them.
    pub text: String,
    /// Which parts of nginx's prefix it has.
    pub form: Form,
    /// The text before nginx's on its first line (a shipper's prefix),
    /// trimmed; empty when there was none.
    pub prefix: String,
    /// How many input lines a terminal wrapped it over (1: none).
    pub pieces: usize,
    /// Whether typographic quotes were read as ASCII ones.
    pub smart_quotes: bool,
    /// Characters of its last input line, to tell a wrap from an end.
    last_piece_chars: usize,
    /// Input lines it spans, stderr continuations included.
    lines: usize,
}

impl Entry {
    fn new(first_line: usize, line: &str, at: usize, form: Form, smart_quotes: bool) -> Entry {
        Entry {
            first_line,
            text: line[at..].to_owned(),
            form,
            prefix: line[..at].trim().to_owned(),
            pieces: 1,
            smart_quotes,
            last_piece_chars: line.chars().count(),
            lines: 1,
        }
    }

    /// The number of input lines the entry spans.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// The entry's fields and how its request context ended, or `None` if
    /// it is not an nginx line after all (a prefix followed by nonsense).
    /// A level that was not pasted is read as `error`.
    pub fn parse(&self, utc_offset_secs: i32) -> Option<(ErrorLine, ContextEnd)> {
        match self.form {
            Form::Stamped | Form::NginxT => parse_line_ending(&self.text, utc_offset_secs),
            Form::NoStamp | Form::LevelOnly | Form::Bare => Some(parse_unstamped(&self.text)),
        }
    }

    /// The wall-clock time exactly as the log wrote it, if the entry has one.
    pub fn local_time(&self) -> Option<&str> {
        (self.form.has_time() && line_time(self.text.as_bytes(), 0).is_some())
            .then(|| self.text.get(..19))
            .flatten()
    }

    fn push_line(&mut self, line: &str) {
        self.text.push('\n');
        self.text.push_str(line);
        self.lines += 1;
    }

    fn push_piece(&mut self, piece: &paste::Physical) {
        self.text.push_str(&piece.text);
        self.smart_quotes |= piece.smart_quotes;
        self.last_piece_chars = piece.text.chars().count();
        self.pieces += 1;
        self.lines += 1;
    }

    /// The entry as it ends: trailing blanks (a terminal's padding) would
    /// keep the last quoted field from closing.
    fn finish(mut self) -> Entry {
        self.text.truncate(self.text.trim_end().len());
        self
    }
}

/// A line without its timestamp: whatever of `[level] pid#tid: *conn ` it
/// kept, then the message.
pub fn parse_unstamped(text: &str) -> (ErrorLine, ContextEnd) {
    let parts = start::parts(text);
    let prefix = Prefix {
        time: None,
        level: parts.level.unwrap_or(Level::Error),
        pid: parts.ids.map(|(pid, _)| pid),
        tid: parts.ids.map(|(_, tid)| tid),
        conn: parts.conn,
    };
    parse_fragment(prefix, parts.body)
}

/// The entries of `input`, and how many non-blank lines belonged to none.
#[derive(Debug, Default)]
pub struct Split {
    pub entries: Vec<Entry>,
    pub skipped: usize,
}

/// Splits pasted text into nginx error-log entries. `reads_as_nginx` tells
/// whether a line with no prefix (the message, perhaps after `*42 ` or a
/// `[level] `) is nginx's text.
pub fn split(input: &str, reads_as_nginx: impl Fn(&str) -> bool) -> Split {
    let mut split = Split::default();
    let mut open: Option<Entry> = None;
    for (index, raw) in input.split('\n').enumerate() {
        let physical = paste::physical(raw);
        let line = physical.text.as_str();
        if let Some(entry) = open.as_mut() {
            if continues(entry, line) {
                entry.push_line(line);
                continue;
            }
            if wraps(entry, &physical) {
                entry.push_piece(&physical);
                continue;
            }
        }
        split.entries.extend(open.take().map(Entry::finish));
        match entry_start(line, &reads_as_nginx) {
            Some((at, form)) => {
                open = Some(Entry::new(index + 1, line, at, form, physical.smart_quotes));
            }
            None if line.trim().is_empty() => {}
            None => split.skipped += 1,
        }
    }
    split.entries.extend(open.map(Entry::finish));
    split
}

/// Where an entry starts in `line`: at nginx's prefix, or at the first
/// non-blank character (after a shipper's prefix nginx-doctor knows) of a
/// line whose text reads as nginx's.
fn entry_start(line: &str, reads_as_nginx: impl Fn(&str) -> bool) -> Option<(usize, Form)> {
    if let Some(found) = start::find_start(line) {
        return Some(found);
    }
    let indent = line.len() - line.trim_start().len();
    let shipper = paste::known_prefix_len(&line[indent..]).unwrap_or(0);
    let rest = &line[indent + shipper..];
    let text = rest.trim();
    let at = line.len() - rest.trim_start().len();
    (!text.is_empty() && reads_as_nginx(text)).then(|| (at, start::unprefixed_form(text)))
}

/// Whether `line` continues the open entry: only a FastCGI stderr message
/// spans lines, and only until it is closed or a new entry starts.
fn continues(entry: &Entry, line: &str) -> bool {
    let message_open = entry_message(&entry.text).starts_with("FastCGI sent in stderr: \"")
        && !closes_stderr(last_line(&entry.text));
    message_open && entry.text.len() + line.len() < MAX_CONTINUED && !start::starts_entry(line)
}

/// Whether `piece` is the rest of the open entry, wrapped by a terminal:
/// the entry's last line was as long as a terminal is wide, it stopped
/// inside the request context (a quoted value, a field's name), or before
/// the context that `piece` holds, and `piece` starts no entry of its own.
fn wraps(entry: &Entry, piece: &paste::Physical) -> bool {
    let fits = entry.text.len() + piece.text.len() < MAX_WRAPPED;
    let candidate = fits
        && entry.pieces == entry.lines
        && entry.last_piece_chars >= MIN_WRAP_WIDTH
        && !piece.text.trim().is_empty()
        && !start::starts_entry(&piece.text);
    if !candidate {
        return false;
    }
    let Some((line, end)) = parse_as(entry, entry.text.trim_end()) else {
        return false;
    };
    match end {
        ContextEnd::OpenQuote(_) | ContextEnd::InName => true,
        ContextEnd::Whole if line.action.is_some() || line.client.is_some() => false,
        ContextEnd::Whole => {
            let joined = format!("{}{}", entry.text, piece.text);
            parse_as(entry, joined.trim_end())
                .is_some_and(|(l, _)| l.action.is_some() || l.client.is_some())
        }
    }
}

/// `text` parsed the way `entry`'s form is.
fn parse_as(entry: &Entry, text: &str) -> Option<(ErrorLine, ContextEnd)> {
    match entry.form {
        Form::Stamped | Form::NginxT => parse_line_ending(text, 0),
        Form::NoStamp | Form::LevelOnly | Form::Bare => Some(parse_unstamped(text)),
    }
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

#[cfg(test)]
mod tests;
