//! The cheap test that lets the scan skip most entries of a log unparsed.
//!
//! Parsing and classifying a line costs about a microsecond; a busy log has
//! millions of lines and most are noise (notices, client errors, FastCGI
//! stderr). Two necessary conditions, each derived from what
//! [`classify`](crate::logs::classify::classify) requires, reject nearly all
//! of them for a few byte comparisons:
//!
//! * the head line: a known level at `error` or worse (below it only the
//!   "upstream server temporarily disabled" warning counts), a message not
//!   starting with `client ` nor with `FastCGI sent in stderr: ` (the
//!   application talking; not counted, see [`counted`]);
//! * the entry: the ` while ` before an upstream action somewhere, or else a
//!   message starting the way the action-less resolver and configuration
//!   failures do.
//!
//! Both only ever answer "no" when classify would; the tests check that on
//! every catalogue line and on many random ones. Text after the marker is
//! attacker-controlled (a Referer may say " while "), which costs a parse,
//! never a wrong count.

use memchr::memmem::Finder;

use crate::logs::Level;
use crate::logs::signature::Signature;

/// Whether the scan counts `sig`: every upstream failure except FastCGI
/// stderr, which is the application writing to its error stream (the
/// client's status is the application's, usually not an error at all).
pub fn counted(sig: Signature) -> bool {
    sig != Signature::FastcgiStderr
}

/// The one message below `error` that classify accepts.
const DISABLED: &[u8] = b"upstream server temporarily disabled";
const CLIENT: &[u8] = b"client ";
const STDERR: &[u8] = b"FastCGI sent in stderr: ";
/// What every action-based signature holds before its action.
const WHILE: &str = " while ";
/// How the messages without an action start (`without_action` in classify).
const ACTIONLESS: [&[u8]; 4] = [
    b"no resolver defined to resolve ",
    b"host not found in upstream \"",
    b"invalid port in upstream \"",
    b"no port in upstream \"",
];
/// What follows the host name (the message's first word) of a resolver failure.
const UNRESOLVED: &[u8] = b" could not be resolved (";

/// The two tests, with their searcher built once.
pub struct Prefilter {
    action: Finder<'static>,
}

impl Default for Prefilter {
    fn default() -> Self {
        Prefilter {
            action: Finder::new(WHILE),
        }
    }
}

impl Prefilter {
    /// Where the message starts in an entry whose first line is `head` (a
    /// line with a valid timestamp), or `None` when the entry cannot be a
    /// counted failure: `None` is certain.
    pub fn message_start(&self, head: &[u8]) -> Option<usize> {
        let (level, at) = split_head(head)?;
        let body = &head[at..];
        if !level.at_least(Level::Error) && !body.starts_with(DISABLED) {
            return None;
        }
        // The message is the body minus a final ` while ACTION`; when the
        // body is `client while ...`, the message is just `client`, which
        // classify does not set aside, hence the second test.
        let starts_message = |prefix: &[u8]| {
            body.strip_prefix(prefix)
                .is_some_and(|rest| !rest.starts_with(b"while "))
        };
        (!(starts_message(CLIENT) || starts_message(STDERR))).then_some(at)
    }

    /// Whether `entry`, whose message starts at `at`, holds what every
    /// counted failure holds; `false` is certain.
    pub fn may_fail(&self, entry: &[u8], at: usize) -> bool {
        if self.action.find(entry).is_some() {
            return true;
        }
        let message = entry.get(at..).unwrap_or_default();
        ACTIONLESS.iter().any(|p| message.starts_with(p))
            || memchr::memchr(b' ', message)
                .is_some_and(|sp| sp > 0 && message[sp..].starts_with(UNRESOLVED))
    }
}

/// `YYYY/MM/DD HH:MM:SS [level] pid#tid: [*conn ]body` → the level and
/// where the body starts, split exactly as `nginx_line::parse_line` splits
/// them; `None` when it would not parse the line at all.
fn split_head(head: &[u8]) -> Option<(Level, usize)> {
    let rest = head.get(19..)?.strip_prefix(b" [")?;
    let close = find_pair(rest, b"] ")?;
    let level = Level::from_nginx(std::str::from_utf8(&rest[..close]).ok()?)?;
    let after = &rest[close + 2..];
    let colon = find_pair(after, b": ")?;
    let (pid, tid) = split_once(&after[..colon], b'#')?;
    if !(is_number(pid) && is_number(tid)) {
        return None;
    }
    let body = &after[colon + 2..];
    let conn = body
        .strip_prefix(b"*")
        .and_then(|b| split_once(b, b' '))
        .filter(|(n, _)| n.iter().all(u8::is_ascii_digit));
    let message = conn.map_or(body, |(_, message)| message);
    Some((level, head.len() - message.len()))
}

/// Where the two bytes `pair` first occur in `bytes` (cheaper than building
/// a searcher for each line).
fn find_pair(bytes: &[u8], pair: &[u8; 2]) -> Option<usize> {
    memchr::memchr_iter(pair[0], bytes).find(|&i| bytes.get(i + 1) == Some(&pair[1]))
}

fn split_once(bytes: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let at = memchr::memchr(sep, bytes)?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

/// What `time::parse_digits` accepts: one to nine ASCII digits.
fn is_number(bytes: &[u8]) -> bool {
    (1..=9).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests;
