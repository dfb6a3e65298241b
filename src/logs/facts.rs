//! The facts one error-log line tells, under the names the rules give an
//! upstream's item (`upstream.scheme`, `upstream.port`, ...): the
//! diagnosis sets them on each failing upstream it walks, and `explain`
//! evaluates the pack's ranking rules over them, so one vocabulary serves
//! both. Every text is escaped for the terminal: a line is
//! attacker-influenced, and a fact may be quoted in what a person reads.

use super::nginx_line::ErrorLine;
use super::signature::Signature;
use super::upstream_ref::UpstreamAddr;
use crate::sanitize;
use crate::value::Value;

/// The names [`line_facts`] may set, for lint: a rule that reads a line's
/// facts may quote only these.
pub const LINE_FACTS: &[&str] = &[
    "signature",
    "errno",
    "errno_text",
    "action",
    "upstream",
    "request",
    "uri",
    "server",
    "time",
    "name",
    "scheme",
    "address",
    "transport",
    "host",
    "port",
    "path",
];

/// What else `explain` reads of a line (its `client_got` and `notes` rules
/// tell FastCGI stderr's messages and a run-time error from a start-up one
/// apart by them); the diagnosis walks by signature and does not set them.
pub const TEXT_FACTS: &[&str] = &["level", "message"];

/// The [`TEXT_FACTS`] of `line`: its level, and its message escaped.
pub fn text_facts(line: &ErrorLine) -> Vec<(&'static str, Value)> {
    vec![
        ("level", line.level.as_str().into()),
        ("message", clean(&line.message).into()),
    ]
}

/// The facts `line` (classified as `sig`) tells; an empty text is unknown.
pub fn line_facts(line: &ErrorLine, sig: Signature) -> Vec<(&'static str, Value)> {
    let text = |s: Option<&String>| Value::from(s.map(|s| clean(s)));
    // The path of the failing request, for a command that repeats it.
    let uri = line
        .request
        .as_deref()
        .and_then(|r| r.split_whitespace().nth(1))
        .filter(|u| u.starts_with('/'));
    let mut facts = vec![
        ("signature", sig.id().into()),
        ("errno", line.errno.map(i64::from).into()),
        ("errno_text", text(line.errno_text.as_ref())),
        ("action", line.action.map(|a| a.as_str()).into()),
        ("upstream", text(line.upstream.as_ref())),
        ("request", text(line.request.as_ref())),
        ("uri", uri.map(clean).into()),
        ("server", text(line.server.as_ref())),
        ("time", line.time.map(|t| t.to_string()).into()),
        ("name", resolved_name(line).map(clean).into()),
    ];
    facts.extend(address_facts(line));
    facts
        .into_iter()
        .map(|(name, value)| match value {
            Value::Str(s) if s.is_empty() => (name, Value::Null),
            v => (name, v),
        })
        .collect()
}

/// Where the upstream is: scheme, address and its kind.
fn address_facts(line: &ErrorLine) -> Vec<(&'static str, Value)> {
    let Some(up) = line.upstream_ref() else {
        return Vec::new();
    };
    let mut facts = vec![
        ("scheme", up.scheme.clone().into()),
        ("address", clean(&up.address.to_string()).into()),
    ];
    match up.address {
        UpstreamAddr::Tcp { host, port } => facts.extend([
            ("transport", "tcp".into()),
            ("host", host.to_string().into()),
            ("port", i64::from(port).into()),
        ]),
        UpstreamAddr::Unix(path) => facts.extend([
            ("transport", "unix".into()),
            ("address", clean(&path).into()),
            ("path", clean(&path).into()),
        ]),
        UpstreamAddr::Group(name) => {
            facts.extend([("transport", "group".into()), ("host", clean(&name).into())]);
        }
    }
    facts
}

/// The host name of a "could not be resolved" or "no resolver" line.
pub fn resolved_name(line: &ErrorLine) -> Option<&str> {
    let m = line.message.as_str();
    m.strip_prefix("no resolver defined to resolve ")
        .or_else(|| m.split_once(" could not be resolved").map(|(name, _)| name))
        .map(str::trim)
        .filter(|n| !n.is_empty() && !n.contains(' '))
}

fn clean(s: &str) -> String {
    sanitize::for_terminal(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::classify::classify;
    use crate::logs::nginx_line::parse_line;

    fn facts(text: &str) -> Vec<(&'static str, Value)> {
        let line = parse_line(text, 0).expect("parses");
        let sig = classify(&line).expect("classifies");
        line_facts(&line, sig)
    }

    fn get<'a>(facts: &'a [(&str, Value)], name: &str) -> &'a Value {
        facts
            .iter()
            .rfind(|(n, _)| *n == name)
            .map_or(&Value::Null, |(_, v)| v)
    }

    #[test]
    fn a_tcp_line_tells_scheme_host_and_port() {
        let f = facts(
            r#"2026/11/24 21:18:00 [error] 1#1: *1 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:9000/x", host: "h""#,
        );
        assert_eq!(get(&f, "signature"), &Value::from("reset-header"));
        assert_eq!(get(&f, "scheme"), &Value::from("http"));
        assert_eq!(get(&f, "port"), &Value::from(9000_i64));
        assert_eq!(get(&f, "transport"), &Value::from("tcp"));
        assert_eq!(get(&f, "uri"), &Value::from("/x"));
        assert_eq!(get(&f, "server"), &Value::Null);
    }

    #[test]
    fn a_unix_line_tells_the_path_as_its_address() {
        let f = facts(
            r#"2026/11/24 21:18:00 [crit] 1#1: *1 connect() to unix:/run/a.sock failed (2: No such file or directory) while connecting to upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", upstream: "fastcgi://unix:/run/a.sock:", host: "h""#,
        );
        assert_eq!(get(&f, "address"), &Value::from("/run/a.sock"));
        assert_eq!(get(&f, "path"), &Value::from("/run/a.sock"));
        assert!(f.iter().all(|(n, _)| LINE_FACTS.contains(n)));
    }
}
