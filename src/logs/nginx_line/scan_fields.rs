//! The fields `scan` tallies a failure by, read without splitting the
//! whole entry: the full parse (`split_body_ref`) reads every field of the
//! request context, searches it several ways to resist forgeries, and
//! wants the entry decoded first; the scan only needs the level, the
//! message, its errno, the action and the upstream, and nearly every
//! failure a busy log holds is written in nginx's usual shape. This reads
//! that shape on the raw bytes, stops at the upstream, and declines
//! anything else (the caller then parses the entry fully): where it
//! answers, its answer is the full parse's, on those fields (the scan's
//! tests hold it to that on random and catalogue lines).

use super::borrowed::{HeadSpans, LineRef};
use super::{Action, errno_suffix};
use crate::logs::Timestamp;

/// The context's first field, as nginx writes it right after the action.
const CLIENT: &[u8] = b", client: ";
const WHILE: &[u8] = b" while ";

/// [`super::parse_split_ref`] of `entry` on the fields `scan` reads (time,
/// level, message, errno, action, upstream), the others left empty (the
/// head's numbers too: parsing them cost a third of the time); `None` when
/// `entry` is not in the usual shape, which says nothing about the entry:
/// parse it fully then.
///
/// The usual shape: the first `, client: ` follows ` while ACTION`, the
/// fields up to the upstream are nginx's (`client`, `server` unquoted,
/// `request` quoted, no `subrequest`) with no `, ` nor `"` inside their
/// values, and the message and the upstream are valid UTF-8.
pub fn scan_fields<'a>(entry: &'a [u8], time: Timestamp, spans: &HeadSpans) -> Option<LineRef<'a>> {
    // The full parse drops a final `\r`; a line ending so is rare enough
    // to leave to it.
    if matches!(entry.last(), Some(b'\r' | b'\n')) {
        return None;
    }
    let body = entry.get(spans.body..)?;
    let at = first(body, CLIENT)?;
    let (message, action) = action_before(&body[..at])?;
    let message = text(message)?;
    let (errno, errno_text) = errno_suffix(message).unzip();
    let upstream = upstream_in(&body[at + CLIENT.len()..])?;
    let upstream = match upstream {
        Some(value) => Some(text(value)?),
        None => None,
    };
    Some(LineRef {
        time: Some(time),
        level: spans.level,
        pid: None,
        tid: None,
        conn: None,
        message,
        errno,
        errno_text,
        action: Some(action),
        client: None,
        server: None,
        request: None,
        subrequest: None,
        upstream,
        host: None,
        referrer: None,
        config_location: None,
    })
}

/// `bytes` as text, when valid UTF-8. A field is nearly always ASCII,
/// which a word-at-a-time test confirms for a fraction of what a call to
/// the full validation costs on such short text.
fn text(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes).ok()
    }
}

/// Where `needle` first starts in `bytes`: `find` on bytes not yet
/// known to be text.
fn first(bytes: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memchr_iter(needle[0], bytes).find(|&i| bytes[i..].starts_with(needle))
}

/// `text` as `MESSAGE while ACTION`, split; `None` when it does not end
/// with an action.
fn action_before(text: &[u8]) -> Option<(&[u8], Action)> {
    Action::ALL.iter().find_map(|(action, literal)| {
        let head = text.strip_suffix(literal.as_bytes())?.strip_suffix(WHILE)?;
        Some((head, *action))
    })
}

/// The upstream's value in `context` (what follows `, client: `): `None`
/// when the context is not in the usual shape, `Some(None)` when it has
/// no upstream.
fn upstream_in(context: &[u8]) -> Option<Option<&[u8]>> {
    // client and server: unquoted, each up to the first `, `.
    let Some(rest) = unquoted(context)? else {
        return Some(None);
    };
    let rest = match rest.strip_prefix(b"server: ") {
        Some(after) => match unquoted(after)? {
            Some(rest) => rest,
            None => return Some(None),
        },
        None => rest,
    };
    let request = rest.strip_prefix(b"request: \"")?;
    let Some(rest) = quoted(request, AFTER_REQUEST)?.1 else {
        return Some(None);
    };
    match rest.strip_prefix(b"upstream: \"") {
        Some(value) => quoted(value, AFTER_UPSTREAM).map(|(value, _)| Some(value)),
        None => AFTER_UPSTREAM
            .iter()
            .any(|f| rest.starts_with(f))
            .then_some(None),
    }
}

/// The fields that may follow a request, then an upstream, in the usual
/// shape (a subrequest is left to the full parse).
const AFTER_REQUEST: &[&[u8]] = &[b"upstream: ", b"host: ", b"referrer: "];
const AFTER_UPSTREAM: &[&[u8]] = &[b"host: ", b"referrer: "];

/// The text after the unquoted value `text` starts with, which ends at
/// the first `, ` (`Some(None)`: the value ends the line).
fn unquoted(text: &[u8]) -> Option<Option<&[u8]>> {
    if text.first() == Some(&b'"') {
        return None;
    }
    Some(first(text, b", ").map(|end| &text[end + 2..]))
}

/// The quoted value `text` starts with (after its opening quote), when
/// its first `"` closes it: the end of the line or `, ` and one of
/// `closers` follows; and the text after that `, ` (`None`: the value
/// ends the line).
fn quoted<'a>(text: &'a [u8], closers: &[&[u8]]) -> Option<(&'a [u8], Option<&'a [u8]>)> {
    let close = memchr::memchr(b'"', text)?;
    let after = &text[close + 1..];
    if after.is_empty() {
        return Some((&text[..close], None));
    }
    let next = after.strip_prefix(b", ")?;
    closers
        .iter()
        .any(|f| next.starts_with(f))
        .then_some((&text[..close], Some(next)))
}
