//! The failure behind a consequence.
//!
//! `[warn] upstream server temporarily disabled` is no failure by itself:
//! nginx logs it right after the failure that made one server of a group
//! reach `max_fails`, for the same request (connection `*N`) and the same
//! server (`upstream:`). That failure is what to explain, so a warning
//! takes the causes of the failure before it in the input; when the
//! failure was not pasted, the explanation says where to find it.

use super::gaps::Gap;
use super::{LineExplanation, Note};
use crate::logs::Signature;

/// What is said of a warning whose failure is in the input (`{line}` is
/// its input line, `{signature}` its id).
const BEHIND: &str = "nginx took this server out of rotation for fail_timeout after the failure on line {line} ({signature}); that failure is what to fix, so its causes are given here. Once every server of the group is out, nginx answers 502 with `no live upstreams`.";

/// Gives every `upstream server temporarily disabled` line of `lines` the
/// causes of the failure behind it, or says that failure is missing.
pub fn link(lines: &mut [LineExplanation]) {
    for at in 0..lines.len() {
        if lines[at].signature != Some(Signature::UpstreamDisabledWarn) {
            continue;
        }
        let (before, rest) = lines.split_at_mut(at);
        let warning = &mut rest[0];
        match before.iter().rev().find(|l| is_behind(l, warning)) {
            Some(failure) => take_causes(warning, failure),
            None => {
                let gap = Gap::NoFailureBehind(warning.parsed.connection);
                warning.paste.missing.push(Note {
                    id: gap.id(),
                    text: gap.text(),
                });
            }
        }
    }
}

/// Whether `failure` is the one `warning` followed: a failure with causes,
/// of the same connection and server when both lines name them.
fn is_behind(failure: &LineExplanation, warning: &LineExplanation) -> bool {
    let is_failure = failure
        .signature
        .is_some_and(|s| s != Signature::UpstreamDisabledWarn && s != Signature::NoLiveUpstreams)
        && !failure.candidates.is_empty();
    let (f, w) = (&failure.parsed, &warning.parsed);
    is_failure && same(&f.connection, &w.connection) && same(&f.upstream, &w.upstream)
}

/// Equal, or unknown on either side.
fn same<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

fn take_causes(warning: &mut LineExplanation, failure: &LineExplanation) {
    let signature = failure.signature.map_or("", Signature::id);
    warning.consequence_of = Some(failure.input_line);
    warning.candidates = failure.candidates.clone();
    warning.summary = BEHIND
        .replace("{line}", &failure.input_line.to_string())
        .replace("{signature}", signature);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::LazyLock;

    use crate::explain::{Pack, explain};
    use crate::rules::CauseDoc;
    use crate::rules::signatures::{SignatureBook, default_book};

    static BOOK: LazyLock<SignatureBook> = LazyLock::new(default_book);
    static NO_DOCS: BTreeMap<String, CauseDoc> = BTreeMap::new();

    fn pack() -> Pack<'static> {
        Pack {
            signatures: &BOOK,
            causes: &NO_DOCS,
        }
    }

    /// What nginx 1.22 logged for a request to a group of two dead servers.
    const LOG: &str = r#"2026/12/07 18:24:36 [error] 32028#32028: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:18097/x", host: "127.0.0.1:18096"
2026/12/07 18:24:36 [warn] 32028#32028: *1 upstream server temporarily disabled while connecting to upstream, client: 127.0.0.1, server: , request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:18097/x", host: "127.0.0.1:18096"
2026/12/07 18:24:36 [error] 32028#32028: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:18098/x", host: "127.0.0.1:18096"
2026/12/07 18:24:36 [warn] 32028#32028: *1 upstream server temporarily disabled while connecting to upstream, client: 127.0.0.1, server: , request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:18098/x", host: "127.0.0.1:18096""#;

    #[test]
    fn each_warning_follows_the_failure_of_its_own_server() {
        let e = explain(LOG, pack(), 0);
        assert_eq!(e.lines[1].consequence_of, Some(1));
        assert_eq!(e.lines[3].consequence_of, Some(3));
        assert_eq!(e.lines[3].candidates[0].id, "backend-down");
        assert!(e.lines[3].summary.contains("line 3 (conn-refused-tcp)"));
    }

    #[test]
    fn a_failure_of_another_connection_is_not_behind_a_warning() {
        let other = LOG.replacen("*1 connect()", "*7 connect()", 1);
        let e = explain(&other, pack(), 0);
        assert_eq!(e.lines[1].consequence_of, None);
        let missing: Vec<&str> = e.lines[1].paste.missing.iter().map(|n| n.id).collect();
        assert_eq!(missing, ["no-failure-behind"]);
    }
}
