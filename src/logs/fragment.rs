//! Parts of an nginx error-log line, as people paste them.
//!
//! A log file holds whole lines, but what reaches `explain` is often less:
//! the message without the timestamp, without the level and process id,
//! only the message and its request context, or a line cut short. The
//! fields nginx wrote after the message are read the same way as in a whole
//! line ([`super::nginx_line`]); this module takes the parts of the prefix
//! the text still has, and says how the request context ended, so the
//! reader can tell a whole field from a partial one.

use super::nginx_line::{ContextEnd, ErrorLine, Head, parse_line_head, split_body};
use super::{Level, Timestamp};

/// The parts of nginx's prefix (`YYYY/MM/DD HH:MM:SS [level] pid#tid: *conn `)
/// a fragment kept. A missing level is given as the one the reader assumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    pub time: Option<Timestamp>,
    pub level: Level,
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    pub conn: Option<u64>,
}

/// Parses `body` (what follows `*conn `, or the whole message when the
/// prefix was not pasted) as the message and request context of a line
/// with `prefix`.
pub fn parse_fragment(prefix: Prefix, body: &str) -> (ErrorLine, ContextEnd) {
    let body = body.strip_suffix('\n').unwrap_or(body);
    let body = body.strip_suffix('\r').unwrap_or(body);
    split_body(Head {
        time: prefix.time,
        level: prefix.level,
        pid: prefix.pid,
        tid: prefix.tid,
        conn: prefix.conn,
        body,
    })
}

/// Like [`super::nginx_line::parse_line`] for a whole line, with how its
/// request context ended.
pub fn parse_line_ending(line: &str, utc_offset_secs: i32) -> Option<(ErrorLine, ContextEnd)> {
    parse_line_head(line, utc_offset_secs).map(split_body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Action;

    const LINE: &str = r#"2026/12/07 18:24:36 [error] 32028#32028: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:18097/x", host: "127.0.0.1:18096""#;

    fn ending(text: &str) -> ContextEnd {
        parse_line_ending(text, 0).expect("parses").1
    }

    fn bare(level: Level) -> Prefix {
        Prefix {
            time: None,
            level,
            pid: None,
            tid: None,
            conn: None,
        }
    }

    #[test]
    fn whole_line_ends_whole() {
        assert_eq!(ending(LINE), ContextEnd::Whole);
    }

    #[test]
    fn line_cut_inside_the_upstream_value_ends_in_an_open_quote() {
        let cut = &LINE[..LINE.find("18097").expect("port")];
        assert_eq!(ending(cut), ContextEnd::OpenQuote("upstream"));
    }

    #[test]
    fn line_cut_inside_a_field_name_ends_in_the_name() {
        for end in [", upstr", ", upstream:", ", upstream: ", ",", ", "] {
            let at = LINE.find(", upstream:").expect("field");
            let cut = format!("{}{end}", &LINE[..at]);
            assert_eq!(ending(&cut), ContextEnd::InName, "{cut}");
            let line = parse_line_ending(&cut, 0).expect("parses").0;
            assert_eq!(line.upstream, None, "{cut}");
            assert_eq!(line.request.as_deref(), Some("GET /x HTTP/1.1"), "{cut}");
        }
    }

    #[test]
    fn line_cut_inside_client_still_has_its_action() {
        for end in [",", ", ", ", cli", ", client", ", client:"] {
            let at = LINE.find(", client:").expect("context");
            let cut = format!("{}{end}", &LINE[..at]);
            let (line, end) = parse_line_ending(&cut, 0).expect("parses");
            assert_eq!(end, ContextEnd::InName, "{cut}");
            assert_eq!(line.action, Some(Action::ConnectingToUpstream), "{cut}");
            assert_eq!(line.client, None, "{cut}");
        }
    }

    #[test]
    fn line_cut_after_a_whole_field_ends_whole() {
        let at = LINE.find(", upstream:").expect("field");
        assert_eq!(ending(&LINE[..at]), ContextEnd::Whole);
    }

    #[test]
    fn stream_module_fields_are_no_cut() {
        let stream = r#"2026/11/24 21:18:00 [error] 7#7: *5 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: 0.0.0.0:8443, upstream: "127.0.0.1:5000", bytes from/to client:0/0, bytes from/to upstream:0/0"#;
        assert_eq!(ending(stream), ContextEnd::Whole);
    }

    #[test]
    fn message_and_context_without_prefix_parse_as_a_line() {
        let body = &LINE[LINE.find("connect()").expect("message")..];
        let (line, end) = parse_fragment(bare(Level::Error), body);
        assert_eq!(end, ContextEnd::Whole);
        assert_eq!(line.errno, Some(111));
        assert_eq!(line.action, Some(Action::ConnectingToUpstream));
        assert_eq!(line.upstream.as_deref(), Some("http://127.0.0.1:18097/x"));
        assert_eq!((line.time, line.pid, line.conn), (None, None, None));
    }

    #[test]
    fn message_alone_has_no_context_and_ends_whole() {
        let (line, end) = parse_fragment(
            bare(Level::Error),
            "upstream timed out (110: Connection timed out) while reading response header from upstream\r\n",
        );
        assert_eq!(end, ContextEnd::Whole);
        assert_eq!(line.action, Some(Action::ReadingResponseHeader));
        assert_eq!(line.client, None);
    }

    #[test]
    fn the_prefix_parts_given_are_kept() {
        let prefix = Prefix {
            conn: Some(42),
            ..bare(Level::Crit)
        };
        let (line, _) = parse_fragment(
            prefix,
            "connect() to unix:/x.sock failed (2: No such file or directory)",
        );
        assert_eq!((line.level, line.conn), (Level::Crit, Some(42)));
        assert_eq!(line.errno, Some(2));
    }
}
