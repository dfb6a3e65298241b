//! [`LineRef`]: an nginx error line whose text borrows from the entry it
//! was parsed from. `scan` parses hundreds of thousands of failures, where
//! copying a dozen fields per line would cost more than the parse itself;
//! [`super::parse_line`] is the same parse made owned, so the two cannot
//! disagree. And since the scan's prefilter has split each line's head
//! already, [`parse_split_ref`] parses the rest from where it says.

use std::ops::Range;

use super::{ConfigLocation, ErrorLine, Head, split_body_ref};
use crate::logs::time::parse_digits;
use crate::logs::{Action, Level, Timestamp};

/// Where the parts of a timestamped line's head lie, as split outside the
/// parser (by `logs::prefilter`, whose tests prove it splits as
/// [`super::parse_line_ref`] does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadSpans {
    pub level: Level,
    pub pid: Range<usize>,
    pub tid: Range<usize>,
    /// The digits after `*`, when the head has `*N `.
    pub conn: Option<Range<usize>>,
    /// Where the body (the message) starts.
    pub body: usize,
}

/// [`super::parse_line_ref`] of `entry`, whose head is split as `spans`
/// say and whose timestamp reads `time`: the head is not searched again.
pub fn parse_split_ref<'a>(
    entry: &'a str,
    time: Timestamp,
    spans: &HeadSpans,
) -> Option<LineRef<'a>> {
    let line = entry.strip_suffix('\n').unwrap_or(entry);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let (pid, tid, conn) = numbers(line.as_bytes(), spans)?;
    let head = Head {
        time: Some(time),
        level: spans.level,
        pid: Some(pid),
        tid: Some(tid),
        conn,
        body: line.get(spans.body..)?,
    };
    Some(split_body_ref(head).0)
}

/// The pid, the tid and the connection number of `line`, where `spans`
/// says they are.
fn numbers(line: &[u8], spans: &HeadSpans) -> Option<(u32, u32, Option<u64>)> {
    let digits = |range: &Range<usize>| parse_digits(line.get(range.clone())?);
    let conn = match &spans.conn {
        Some(range) => std::str::from_utf8(line.get(range.clone())?)
            .ok()
            .and_then(|n| n.parse().ok()),
        None => None,
    };
    Some((digits(&spans.pid)?, digits(&spans.tid)?, conn))
}

impl ErrorLine {
    /// This line with its text borrowed.
    pub fn borrowed(&self) -> LineRef<'_> {
        LineRef {
            time: self.time,
            level: self.level,
            pid: self.pid,
            tid: self.tid,
            conn: self.conn,
            message: &self.message,
            errno: self.errno,
            errno_text: self.errno_text.as_deref(),
            action: self.action,
            client: self.client.as_deref(),
            server: self.server.as_deref(),
            request: self.request.as_deref(),
            subrequest: self.subrequest.as_deref(),
            upstream: self.upstream.as_deref(),
            host: self.host.as_deref(),
            referrer: self.referrer.as_deref(),
            config_location: self
                .config_location
                .as_ref()
                .map(|c| (c.file.as_str(), c.line)),
        }
    }
}

/// An [`ErrorLine`] whose text borrows from the parsed entry: `scan` parses
/// hundreds of thousands of failures, where a dozen allocations per line
/// would cost more than the parse. [`parse_line`] is [`parse_line_ref`]
/// made owned, so the two cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRef<'a> {
    pub time: Option<Timestamp>,
    pub level: Level,
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    pub conn: Option<u64>,
    pub message: &'a str,
    pub errno: Option<i32>,
    pub errno_text: Option<&'a str>,
    pub action: Option<Action>,
    pub client: Option<&'a str>,
    pub server: Option<&'a str>,
    pub request: Option<&'a str>,
    pub subrequest: Option<&'a str>,
    pub upstream: Option<&'a str>,
    pub host: Option<&'a str>,
    pub referrer: Option<&'a str>,
    /// The file and line, as in [`ConfigLocation`].
    pub config_location: Option<(&'a str, u32)>,
}

impl LineRef<'_> {
    /// The owned line, every text copied.
    pub fn into_owned(self) -> ErrorLine {
        let owned = |s: Option<&str>| s.map(str::to_owned);
        ErrorLine {
            time: self.time,
            level: self.level,
            pid: self.pid,
            tid: self.tid,
            conn: self.conn,
            message: self.message.to_owned(),
            errno: self.errno,
            errno_text: owned(self.errno_text),
            action: self.action,
            client: owned(self.client),
            server: owned(self.server),
            request: owned(self.request),
            subrequest: owned(self.subrequest),
            upstream: owned(self.upstream),
            host: owned(self.host),
            referrer: owned(self.referrer),
            config_location: self.config_location.map(|(file, line)| ConfigLocation {
                file: file.to_owned(),
                line,
            }),
        }
    }
}
