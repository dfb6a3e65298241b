//! One nginx error-log line, split into the fields nginx put together.
//!
//! Shape (`ngx_log_error_core()` + `ngx_http_log_error()`):
//! `YYYY/MM/DD HH:MM:SS [level] pid#tid: *conn message[ (errno: text)][ while action]`
//! then `, client: A, server: S, request: "R"[, subrequest: "…"][, upstream: "U"][, host: "H"][, referrer: "F"]`.
//! `nginx -t` on builds with a file error log prints `nginx: [level] message` instead.
//!
//! Nothing in the line is escaped, so the split relies on nginx's fixed
//! literals, not on greedy patterns: the action is one of eight literals
//! ending right before `, client: `; a quoted field ends at a `"` followed by
//! the next known field name or the end. The message may hold commas, quotes
//! and (FastCGI stderr) newlines. Where a forged field could still fool the
//! split, the parser favours the nginx-written side over the client-written
//! one: the first `while ACTION, client: ` wins (a Referer header comes after
//! it), and since nginx 1.21.1 a request line cannot contain the `", x: "` a
//! forgery needs.

use serde::Serialize;

use super::time::{LocalTime, parse_digits};
use super::upstream_ref::UpstreamRef;
use super::{Level, Timestamp};

/// What nginx was doing with the upstream when the error happened (the
/// ` while ...` part, nginx's `log->action`). It tells the phase, and the
/// phase decides 502 vs 504 and whether the client already had a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// `connecting to upstream`
    ConnectingToUpstream,
    /// `SSL handshaking to upstream`
    SslHandshaking,
    /// `sending request to upstream`
    SendingRequest,
    /// `reading response header from upstream`
    ReadingResponseHeader,
    /// `reading upstream` — the body phase; the client already has a status.
    ReadingUpstream,
    /// `proxying upgraded connection` — WebSocket; the client already has 101.
    ProxyingUpgraded,
    /// `sending to client`
    SendingToClient,
    /// `sending early hints to client`
    SendingEarlyHints,
}

impl Action {
    /// Every action, with the literal nginx writes after ` while `.
    pub const ALL: [(Action, &'static str); 8] = [
        (Action::ConnectingToUpstream, "connecting to upstream"),
        (Action::SslHandshaking, "SSL handshaking to upstream"),
        (Action::SendingRequest, "sending request to upstream"),
        (
            Action::ReadingResponseHeader,
            "reading response header from upstream",
        ),
        (Action::ReadingUpstream, "reading upstream"),
        (Action::ProxyingUpgraded, "proxying upgraded connection"),
        (Action::SendingToClient, "sending to client"),
        (Action::SendingEarlyHints, "sending early hints to client"),
    ];

    /// The literal nginx writes for this action.
    pub fn as_str(self) -> &'static str {
        Action::ALL
            .iter()
            .find(|(a, _)| *a == self)
            .map_or("", |(_, text)| text)
    }

    /// The action `text` ends with (as ` while ACTION`), and the text before it.
    fn strip_from(text: &str) -> Option<(&str, Action)> {
        Action::ALL.iter().find_map(|(action, literal)| {
            let head = text.strip_suffix(literal)?.strip_suffix(" while ")?;
            Some((head, *action))
        })
    }
}

/// Where a config-time message points (` in /etc/nginx/sites-enabled/app:4`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigLocation {
    pub file: String,
    pub line: u32,
}

/// One parsed error-log line. Text fields are as logged (not sanitized):
/// pass them through `crate::sanitize::for_terminal` before printing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorLine {
    /// When it was logged; `None` for the `nginx: [emerg] ...` form.
    pub time: Option<Timestamp>,
    pub level: Level,
    /// Process and thread id; `None` for the `nginx: [emerg] ...` form.
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    /// Connection number (`*17`), present for request-related lines.
    pub conn: Option<u64>,
    /// The message without the action and the request context, errno
    /// suffix included: `connect() failed (111: Connection refused)`.
    pub message: String,
    /// The number in a trailing `(N: text)`: the errno, or for
    /// `could not be resolved` the resolver's code (3: Host not found).
    pub errno: Option<i32>,
    pub errno_text: Option<String>,
    pub action: Option<Action>,
    pub client: Option<String>,
    pub server: Option<String>,
    pub request: Option<String>,
    pub subrequest: Option<String>,
    /// Raw `upstream:` value; see [`ErrorLine::upstream_ref`].
    pub upstream: Option<String>,
    pub host: Option<String>,
    pub referrer: Option<String>,
    /// For config-time messages (`nginx -t`): the file and line named at the end.
    pub config_location: Option<ConfigLocation>,
}

impl ErrorLine {
    /// The `upstream:` field parsed into scheme, peer and URI.
    pub fn upstream_ref(&self) -> Option<UpstreamRef> {
        self.upstream.as_deref().and_then(UpstreamRef::parse)
    }
}

/// Parses one error-log entry (a line, or a line plus the continuation lines
/// of a multi-line FastCGI stderr message, joined by `\n`). Returns `None` for
/// text that is not an nginx error-log line.
///
/// `utc_offset_secs` is the host's offset of local time from UTC (seconds
/// east; see `logs::time::local_utc_offset`): nginx writes local time with no
/// zone. Decode bytes with `String::from_utf8_lossy` first.
pub fn parse_line(line: &str, utc_offset_secs: i32) -> Option<ErrorLine> {
    parse_line_head(line, utc_offset_secs).map(|head| split_body(head).0)
}

/// [`parse_line`] without copying: the fields borrow from `line`.
pub fn parse_line_ref(line: &str, utc_offset_secs: i32) -> Option<LineRef<'_>> {
    parse_line_head(line, utc_offset_secs).map(|head| split_body_ref(head).0)
}

/// The prefix of a whole line, in either of nginx's two forms.
pub(super) fn parse_line_head(line: &str, utc_offset_secs: i32) -> Option<Head<'_>> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    match line.strip_prefix("nginx: ") {
        Some(rest) => level_prefix(rest),
        None => timestamped_head(line, utc_offset_secs),
    }
}

/// The time of a timestamped error-log line, from its first 19 bytes; cheap
/// enough to call on every line of a window (see `logs::window`).
pub fn line_time(line: &[u8], utc_offset_secs: i32) -> Option<Timestamp> {
    let stamp = line.get(..19)?;
    let field = |range: std::ops::Range<usize>| stamp.get(range).and_then(parse_digits);
    let separators = [(4, b'/'), (7, b'/'), (10, b' '), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| stamp[i] != c) {
        return None;
    }
    let local = LocalTime {
        year: i64::from(field(0..4)?),
        month: field(5..7)?,
        day: field(8..10)?,
        hour: field(11..13)?,
        minute: field(14..16)?,
        second: field(17..19)?,
    };
    Timestamp::from_local(local, utc_offset_secs)
}

/// The fixed prefix, parsed; `body` is what follows `*conn `.
pub(super) struct Head<'a> {
    pub(super) time: Option<Timestamp>,
    pub(super) level: Level,
    pub(super) pid: Option<u32>,
    pub(super) tid: Option<u32>,
    pub(super) conn: Option<u64>,
    pub(super) body: &'a str,
}

/// `[level] rest` → level and rest.
fn level_prefix(text: &str) -> Option<Head<'_>> {
    let (level, body) = split_once(text.strip_prefix('[')?, "] ")?;
    let level = Level::from_nginx(level)?;
    Some(Head {
        time: None,
        level,
        pid: None,
        tid: None,
        conn: None,
        body,
    })
}

/// `YYYY/MM/DD HH:MM:SS [level] pid#tid: [*conn ]body`.
fn timestamped_head(line: &str, utc_offset_secs: i32) -> Option<Head<'_>> {
    let time = line_time(line.as_bytes(), utc_offset_secs)?;
    let head = level_prefix(line.get(19..)?.strip_prefix(' ')?)?;
    let (ids, body) = split_once(head.body, ": ")?;
    let (pid, tid) = ids.split_once('#')?;
    let (pid, tid) = (parse_digits(pid.as_bytes())?, parse_digits(tid.as_bytes())?);
    let (conn, body) = match body.strip_prefix('*').and_then(|b| b.split_once(' ')) {
        Some((n, rest)) if n.bytes().all(|b| b.is_ascii_digit()) => (n.parse().ok(), rest),
        _ => (None, body),
    };
    Some(Head {
        time: Some(time),
        pid: Some(pid),
        tid: Some(tid),
        conn,
        body,
        ..head
    })
}

/// Splits the body into message, action and request context, and says how
/// the context ended.
pub(super) fn split_body(head: Head<'_>) -> (ErrorLine, ContextEnd) {
    let (line, end) = split_body_ref(head);
    (line.into_owned(), end)
}

/// [`split_body`], the fields borrowed from the body.
fn split_body_ref(head: Head<'_>) -> (LineRef<'_>, ContextEnd) {
    let (text, context, ended) = split_context(head.body);
    let (text, cut_at_context) = match context {
        Some(_) => (text, false),
        None => cut_before_context(text).map_or((text, false), |t| (t, true)),
    };
    // A context found after an action literal says which (searching again
    // would find the same); otherwise the text may still end with one.
    let (message, action) = match ended.or_else(|| Action::strip_from(text)) {
        Some((message, action)) => (message, Some(action)),
        None => (text, None),
    };
    let (errno, errno_text) = errno_suffix(message).unzip();
    let mut line = LineRef {
        time: head.time,
        level: head.level,
        pid: head.pid,
        tid: head.tid,
        conn: head.conn,
        message,
        errno,
        errno_text,
        action,
        client: None,
        server: None,
        request: None,
        subrequest: None,
        upstream: None,
        host: None,
        referrer: None,
        config_location: None,
    };
    let end = match context {
        Some(context) => fill_context(&mut line, context),
        None if cut_at_context => ContextEnd::InName,
        None => {
            line.config_location = config_location(message);
            ContextEnd::Whole
        }
    };
    (line, end)
}

/// `text, client: ...` → (text, `client: ...`, and the action `text` ends
/// with, split off, when the cut is after one). Prefers a `, client: `
/// right after an action literal, so text inside a message cannot end it
/// early; the first one otherwise, whose text ends with no action.
fn split_context(body: &str) -> (&str, Option<&str>, Option<(&str, Action)>) {
    const MARK: &str = ", client: ";
    let mut marks = find_all(body, MARK);
    let after_action = marks
        .clone()
        .find_map(|at| Some((at, Action::strip_from(&body[..at])?)));
    match after_action
        .map(|(at, ended)| (at, Some(ended)))
        .or_else(|| marks.next().map(|at| (at, None)))
    {
        Some((at, ended)) => (&body[..at], Some(&body[at + 2..]), ended),
        None => (body, None, None),
    }
}

/// `text` without a `, client: ` cut short after an action literal
/// (`... while connecting to upstream, cli`), when it ends so.
fn cut_before_context(text: &str) -> Option<&str> {
    let (head, tail) = text.rsplit_once(',')?;
    let cut = tail.len() < ", client: ".len() && " client: ".starts_with(tail);
    (cut && Action::strip_from(head).is_some()).then_some(head)
}

/// Field names nginx may write after the message, in order.
const FIELDS: [&str; 7] = [
    "client",
    "server",
    "request",
    "subrequest",
    "upstream",
    "host",
    "referrer",
];

/// How the request context of a line ended. A whole line ends after its
/// last field; a line cut short (by a terminal, a log shipper, a chat tool,
/// or nginx itself at 2048 bytes) ends inside a quoted value or inside the
/// name of the next field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextEnd {
    /// No context, or every field it has is whole.
    Whole,
    /// The quoted value of this field has no closing quote: it runs to the
    /// end of the text and is partial.
    OpenQuote(&'static str),
    /// The text ends in a field's name (`, upstr`) or right after a comma.
    InName,
}

/// Reads `client: A, server: S, request: "R", ...` into `line`. Fields come
/// in nginx's order, so only a later field can end a value; parsing stops at
/// the first field it does not expect (stream and mail lines add their own).
fn fill_context<'a>(line: &mut LineRef<'a>, mut rest: &'a str) -> ContextEnd {
    let mut expected = &FIELDS[..];
    while let Some((name, after)) = next_field(rest, expected) {
        // The field's place in FIELDS; `expected` is a tail of it.
        let Some(place) = field_index(name).filter(|&f| f >= FIELDS.len() - expected.len()) else {
            return ContextEnd::Whole;
        };
        let field = FIELDS[place];
        expected = &FIELDS[place + 1..];
        if after.is_empty() && !matches!(field, "client" | "server") {
            // Cut between a quoted field's name and its opening quote.
            return ContextEnd::InName;
        }
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => quoted_value(quoted, expected),
            None => after.split_at(find(after, ", ").unwrap_or(after.len())),
        };
        let open = after.starts_with('"') && value.len() == after.len() - 1;
        let slot = match place {
            0 => &mut line.client,
            1 => &mut line.server,
            2 => &mut line.request,
            3 => &mut line.subrequest,
            4 => &mut line.upstream,
            5 => &mut line.host,
            _ => &mut line.referrer,
        };
        *slot = Some(value);
        if open {
            return ContextEnd::OpenQuote(field);
        }
        match next.strip_prefix(", ") {
            Some(more) => rest = more,
            None if next == "," => return ContextEnd::InName,
            None => return ContextEnd::Whole,
        }
    }
    cut_in_name(rest, expected)
}

/// `split_once(rest, ": ")`, trying first the fields that may come next:
/// one of them nearly always starts `rest`, and comparing a name costs less
/// than searching for the `: `. No field name holds a `:`, so when one and
/// `: ` start `rest`, that `: ` is the first.
fn next_field<'a>(rest: &'a str, expected: &[&str]) -> Option<(&'a str, &'a str)> {
    for field in expected {
        if let Some(after) = rest.strip_prefix(field).and_then(|r| r.strip_prefix(": ")) {
            return Some((&rest[..field.len()], after));
        }
    }
    split_once(rest, ": ")
}

/// Whether `rest`, the text after the last whole field, is the start of a
/// field that may still come (`upstr`, `upstream:`), or nothing at all
/// after a comma: then the line was cut there.
fn cut_in_name(rest: &str, expected: &[&str]) -> ContextEnd {
    let started = |f: &&str| format!("{f}:").starts_with(rest) || rest == format!("{f}: ");
    if rest.is_empty() || expected.iter().any(started) {
        ContextEnd::InName
    } else {
        ContextEnd::Whole
    }
}

/// Where `name` is in [`FIELDS`]: a match on constants compares inline,
/// where searching the array would call `memcmp` for each field.
fn field_index(name: &str) -> Option<usize> {
    Some(match name {
        "client" => 0,
        "server" => 1,
        "request" => 2,
        "subrequest" => 3,
        "upstream" => 4,
        "host" => 5,
        "referrer" => 6,
        _ => return None,
    })
}

/// The text up to the closing quote of a field: the first `"` followed by the
/// end or by `, NAME: ` for a field that may still come. Returns (value, text
/// after the quote).
fn quoted_value<'a>(text: &'a str, later: &[&str]) -> (&'a str, &'a str) {
    let closes_here = |after: &str| {
        after.is_empty()
            || after.strip_prefix(", ").is_some_and(|next| {
                later
                    .iter()
                    .any(|f| next.strip_prefix(f).is_some_and(|r| r.starts_with(": ")))
            })
            || cut_before_field(after, later)
    };
    let quotes = || memchr::memchr_iter(b'"', text.as_bytes());
    // Stream-module lines add fields this parser does not know; there the
    // first quote followed by another field ends the value.
    let close = quotes()
        .find(|&at| closes_here(&text[at + 1..]))
        .or_else(|| quotes().find(|&at| text[at + 1..].starts_with(", ")));
    close.map_or((text, ""), |at| (&text[..at], &text[at + 1..]))
}

/// Whether `after` is the start of `, NAME: ` for a field that may still
/// come, and nothing more: the line was cut right after the closing quote.
fn cut_before_field(after: &str, later: &[&str]) -> bool {
    // `, subrequest: ` is the longest; only a short tail can be such a start.
    after.len() < 16 && later.iter().any(|f| format!(", {f}: ").starts_with(after))
}

/// strerror texts are short; looking further for the `)` would make a
/// hostile line of many ` (` quadratic.
const ERRNO_TEXT_MAX: usize = 64;

/// The last ` (N: text)` in the message: nginx appends the errno that way
/// (`ngx_log_errno()`). Messages quoting backend output carry none of their own.
fn errno_suffix(message: &str) -> Option<(i32, &str)> {
    if message.starts_with("FastCGI sent in stderr: ") || message.starts_with("upstream sent ") {
        return None;
    }
    paren_opens(message).find_map(|open| {
        let inside = &message[open + 1..];
        let digits = inside.bytes().take_while(u8::is_ascii_digit).count();
        let number = i32::try_from(parse_digits(&inside.as_bytes()[..digits])?).ok()?;
        let rest = inside[digits..].strip_prefix(": ")?;
        let close = memchr::memchr(b')', &rest.as_bytes()[..rest.len().min(ERRNO_TEXT_MAX)])?;
        Some((number, &rest[..close]))
    })
}

/// Where the `(` of every ` (` in `message` is, the last first (the two
/// bytes cannot overlap, so these are all the matches).
fn paren_opens(message: &str) -> impl Iterator<Item = usize> + '_ {
    let bytes = message.as_bytes();
    memchr::memrchr_iter(b'(', bytes).filter(|&at| at > 0 && bytes[at - 1] == b' ')
}

/// ` in FILE:LINE` at the end of a config-time message.
fn config_location(message: &str) -> Option<(&str, u32)> {
    let (_, place) = message.rsplit_once(" in ")?;
    let (file, line) = place.rsplit_once(':')?;
    let line = parse_digits(line.as_bytes())?;
    if file.is_empty() || file.contains(' ') {
        return None;
    }
    Some((file, line))
}

/// Where `needle` starts in `text`, every match in order. Cheaper than
/// `str::find` for the short needles here: that builds a two-way searcher
/// per call, and the parser makes a dozen calls per line. The needles
/// start with a byte that is rare in log text (`,`, `:`, `]`).
fn find_all<'a>(text: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + Clone + 'a {
    let first = needle.as_bytes()[0];
    memchr::memchr_iter(first, text.as_bytes())
        .filter(move |&at| text.as_bytes()[at..].starts_with(needle.as_bytes()))
}

fn find(text: &str, needle: &str) -> Option<usize> {
    find_all(text, needle).next()
}

/// `str::split_once` by way of [`find`].
fn split_once<'a>(text: &'a str, needle: &str) -> Option<(&'a str, &'a str)> {
    let at = find(text, needle)?;
    Some((&text[..at], &text[at + needle.len()..]))
}

mod borrowed;
mod scan_fields;

pub use borrowed::{HeadSpans, LineRef, parse_split_ref};
pub use scan_fields::scan_fields;

#[cfg(test)]
mod tests;
