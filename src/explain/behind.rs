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
