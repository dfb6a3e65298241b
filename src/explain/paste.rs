//! What happens to a log line between nginx and `explain`, and undoing it.
//!
//! A chat tool turns `"` into `“` and `”`; a terminal ends lines with CRLF
//! or pads them with spaces; a log shipper puts its own prefix in front
//! (docker compose's `web-1  | `, kubectl's `--timestamps`, a syslog or
//! journald header). nginx's fields are found by its literal quotes, so a
//! changed quote would hide every field after the message. What was changed
//! is said in the explanation; the prefix is named, never trusted: its text
//! is host text like the rest.

use std::sync::OnceLock;

use regex::{Regex, RegexSet};

/// Typographic quotes and the ASCII quote they replaced. nginx writes only
/// ASCII quotes around its fields.
const TYPOGRAPHIC_QUOTES: &[(char, char)] = &[
    ('\u{201c}', '"'),  // “
    ('\u{201d}', '"'),  // ”
    ('\u{201e}', '"'),  // „
    ('\u{201f}', '"'),  // ‟
    ('\u{2033}', '"'),  // ″
    ('\u{00ab}', '"'),  // «
    ('\u{00bb}', '"'),  // »
    ('\u{2018}', '\''), // ‘
    ('\u{2019}', '\''), // ’
    ('\u{201a}', '\''), // ‚
    ('\u{201b}', '\''), // ‛
];

/// One physical input line, made readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Physical {
    pub text: String,
    /// Whether typographic quotes were read as ASCII quotes.
    pub smart_quotes: bool,
}

/// `raw` without its CR, and with typographic quotes read as ASCII ones when
/// the line has no ASCII double quote at all: a chat tool changed every one
/// of them. A line that has ASCII quotes keeps its typographic ones: nginx
/// wrote those as they came (in a request, say).
pub fn physical(raw: &str) -> Physical {
    let text = raw.strip_suffix('\r').unwrap_or(raw);
    let typographic = |c: char| TYPOGRAPHIC_QUOTES.iter().any(|(t, _)| *t == c);
    if text.contains('"') || !text.contains(typographic) {
        return Physical {
            text: text.to_owned(),
            smart_quotes: false,
        };
    }
    let plain = text
        .chars()
        .map(|c| {
            TYPOGRAPHIC_QUOTES
                .iter()
                .find(|(t, _)| *t == c)
                .map_or(c, |(_, ascii)| *ascii)
        })
        .collect();
    Physical {
        text: plain,
        smart_quotes: true,
    }
}

/// The prefixes log shippers and viewers put before nginx's line: an id,
/// the pattern of the whole prefix (trimmed), and what wrote it.
const SOURCES: &[(&str, &str, &str)] = &[
    (
        "docker-compose",
        r"^[A-Za-z0-9][A-Za-z0-9_.-]*\s+\|$",
        "docker compose (service and replica)",
    ),
    (
        "rfc3339-timestamp",
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$",
        "kubectl logs --timestamps or docker logs -t (an RFC 3339 time)",
    ),
    (
        "kubectl-prefix",
        r"^\[pod/[^\]\s]+\]$",
        "kubectl logs --prefix (pod and container)",
    ),
    (
        "journald-iso",
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:?\d\d|Z) \S+ [^\s:]+(\[\d+\])?:$",
        "journalctl -o short-iso (time, host, unit and pid)",
    ),
    // nginx's own `syslog:` header may have an empty host: two spaces.
    (
        "syslog",
        r"^(<\d{1,3}>)?[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d( +\S+)?( +[^\s:]+(\[\d+\])?)?:$",
        "syslog or journalctl (time, host, tag and pid)",
    ),
];

fn sources() -> &'static RegexSet {
    static SET: OnceLock<RegexSet> = OnceLock::new();
    SET.get_or_init(|| {
        RegexSet::new(SOURCES.iter().map(|(_, pattern, _)| pattern))
            .unwrap_or_else(|_| RegexSet::empty())
    })
}

/// What wrote `prefix` (the text before nginx's own on a line, trimmed),
/// when it is a prefix nginx-doctor knows: its id and its words.
pub fn source_of(prefix: &str) -> Option<(&'static str, &'static str)> {
    sources()
        .matches(prefix)
        .into_iter()
        .next()
        .map(|at| (SOURCES[at].0, SOURCES[at].2))
}

/// The length of the shipper's prefix `line` starts with, when it starts
/// with one nginx-doctor knows: where a line that lost nginx's own prefix
/// too begins (`web-1  | *42 connect() ...`).
pub fn known_prefix_len(line: &str) -> Option<usize> {
    static LEADING: OnceLock<Vec<Regex>> = OnceLock::new();
    let leading = LEADING.get_or_init(|| {
        SOURCES
            .iter()
            .filter_map(|(_, pattern, _)| {
                let open = pattern.strip_suffix('$')?;
                Regex::new(&format!(r"{open}\s")).ok()
            })
            .collect()
    });
    leading.iter().find_map(|r| r.find(line)).map(|m| m.end())
}

/// The words for the source with id `id`.
pub fn words_of(id: &str) -> Option<&'static str> {
    SOURCES
        .iter()
        .find(|(s, ..)| *s == id)
        .map(|(.., words)| *words)
}

/// What was changed to read a line: an id and the sentence saying so
/// (`{n}` is a number of lines).
pub const REPAIRS: &[(&str, &str)] = &[
    (
        "smart-quotes",
        "quotes were changed to \u{201c}smart quotes\u{201d}: read as plain quotes.",
    ),
    (
        "wrapped",
        "a terminal wrapped the line over {n} input lines: read as one.",
    ),
];

/// The sentence of repair `id`, with `{n}` filled in.
pub fn repair(id: &str, n: usize) -> String {
    REPAIRS
        .iter()
        .find(|(r, _)| *r == id)
        .map_or_else(String::new, |(_, text)| text.replace("{n}", &n.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_is_a_plain_line_end() {
        assert_eq!(physical("a \"b\"\r").text, "a \"b\"");
    }

    #[test]
    fn smart_quotes_are_read_as_plain_quotes_when_no_plain_one_is_left() {
        let p =
            physical("request: \u{201c}GET / HTTP/1.1\u{201d}, host: \u{201c}it\u{2019}s\u{201d}");
        assert!(p.smart_quotes);
        assert_eq!(p.text, "request: \"GET / HTTP/1.1\", host: \"it's\"");
    }

    #[test]
    fn smart_quotes_beside_plain_ones_are_content() {
        let line = "request: \"GET /\u{201c}x\u{201d} HTTP/1.1\"";
        let p = physical(line);
        assert!(!p.smart_quotes);
        assert_eq!(p.text, line);
    }

    #[test]
    fn every_pattern_compiles() {
        for (id, pattern, _) in SOURCES {
            assert!(regex::Regex::new(pattern).is_ok(), "{id}");
        }
        assert_eq!(sources().len(), SOURCES.len());
    }

    #[test]
    fn shipper_prefixes_are_named() {
        for (prefix, want) in [
            ("web-1  |", "docker-compose"),
            ("app_nginx_1  |", "docker-compose"),
            ("2026-12-01T10:00:01.123456789Z", "rfc3339-timestamp"),
            ("2026-12-01T10:00:01+01:00", "rfc3339-timestamp"),
            ("[pod/web-7d9f8/nginx]", "kubectl-prefix"),
            ("2026-12-01T10:00:01+0000 web1 nginx[1234]:", "journald-iso"),
            ("Dec 01 10:00:01 web1 nginx[1234]:", "syslog"),
            ("Dec  1 10:00:01 web1 nginx:", "syslog"),
            ("<187>Dec  7 18:19:28 vm nginx:", "syslog"),
            ("<187>Dec  7 18:19:28  nginx:", "syslog"),
            ("<189>Dec  7 18:19:28 web:", "syslog"),
        ] {
            assert_eq!(
                source_of(prefix).map(|(id, _)| id),
                Some(want),
                "{prefix:?}"
            );
        }
        assert_eq!(source_of("hello"), None);
        assert_eq!(source_of(""), None);
    }

    #[test]
    fn a_known_prefix_is_found_at_the_start_of_a_line() {
        assert_eq!(known_prefix_len("web-1  | *42 connect()"), Some(9));
        assert_eq!(
            known_prefix_len("Dec 01 10:00:01 web1 nginx[1234]: connect() failed"),
            Some(34)
        );
        assert_eq!(known_prefix_len("connect() failed"), None);
        assert_eq!(known_prefix_len("x web-1  | connect()"), None);
    }

    #[test]
    fn repairs_say_what_was_changed() {
        assert!(repair("smart-quotes", 1).contains("read as plain quotes"));
        assert!(repair("wrapped", 3).contains("over 3 input lines"));
    }
}
