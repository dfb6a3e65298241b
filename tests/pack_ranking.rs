//! A signature's ranking rules (`rank:`) are checked as a pack author
//! would want: the cause they put first is one of the signature's, and
//! their condition and sentence read only the explained line's facts, with
//! signature ids spelt right. Each test breaks the default pack's one rule
//! (HTTP to port 9000) in a copy and reads `rules lint`'s message.

use std::path::Path;

use crate::support::doctor::{BINARY, DOCTOR_TIMEOUT, DoctorRun, run_bounded};
use crate::support::pack;

const RULE: &str = "      - when: upstream.scheme == \"http\" and upstream.port == 9000\n        promote: pass-protocol-mismatch\n";

/// `rules lint` on the default pack with its ranking rule's first two
/// lines replaced by `rule`; the line the rule starts on.
fn lint_with(rule: &str) -> (DoctorRun, usize) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rules = pack::default_copy(tmp.path(), &[]);
    let line = pack::edit(&rules.join("05-signatures.yaml"), RULE, rule);
    let args: Vec<String> = ["rules", "lint", rules.to_str().expect("utf-8")]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    (
        run_bounded(BINARY, &args, Path::new("/"), DOCTOR_TIMEOUT),
        line,
    )
}

/// Exit 2 with one problem: `message` at `line:column` of the signatures.
fn assert_one_problem(run: &DoctorRun, line: usize, column: usize, message: &str) {
    let at = format!("05-signatures.yaml:{line}:{column}: {message}");
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(first.ends_with(&at), "want …{at}\n{run}");
    assert!(run.stderr.contains("the rule pack has 1 problem;"), "{run}");
    assert_eq!(run.status, 2, "{run}");
}

#[test]
fn promoting_a_cause_the_signature_does_not_list_is_an_error() {
    let (run, line) = lint_with(
        "      - when: upstream.scheme == \"http\" and upstream.port == 9000\n        promote: backend-down\n",
    );
    assert_one_problem(
        &run,
        line + 1,
        18,
        "`backend-down` is no cause of this signature, so ranking it first changes nothing; add it to `causes`",
    );
}

#[test]
fn promoting_a_misspelt_cause_suggests_the_one_meant() {
    let (run, line) = lint_with(
        "      - when: upstream.scheme == \"http\" and upstream.port == 9000\n        promote: pass-protocol-mismatsh\n",
    );
    assert_one_problem(
        &run,
        line + 1,
        18,
        "`pass-protocol-mismatsh` is not a cause id (a key of the pack's `causes:`); did you mean `pass-protocol-mismatch`?",
    );
}

#[test]
fn a_condition_on_a_fact_the_line_does_not_tell_is_an_error() {
    let (run, line) = lint_with(
        "      - when: upstream.scheme == \"http\" and upstream.prot == 9000\n        promote: pass-protocol-mismatch\n",
    );
    let first = run.stderr.lines().next().unwrap_or_default();
    let at =
        format!("05-signatures.yaml:{line}:45: `upstream.prot` is no fact of the explained line");
    assert!(first.contains(&at), "want {at}\n{run}");
    assert!(first.ends_with("did you mean `upstream.port`?"), "{run}");
    assert_eq!(run.status, 2, "{run}");
}

#[test]
fn a_misspelt_signature_in_a_condition_is_an_error() {
    let (run, line) = lint_with(
        "      - when: upstream.signature == \"reset-headr\" and upstream.port == 9000\n        promote: pass-protocol-mismatch\n",
    );
    assert_one_problem(
        &run,
        line,
        38,
        "`reset-headr` is not a signature id (what `upstream.signature` holds); did you mean `reset-header`?",
    );
}

#[test]
fn a_note_that_says_a_status_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rules = pack::default_copy(tmp.path(), &[]);
    let note = "    notes:\n      - text: \"It becomes a 502 only";
    let line = pack::edit(
        &rules.join("05-signatures.yaml"),
        note,
        "    notes:\n      - status: 502\n        text: \"It becomes a 502 only",
    );
    let args: Vec<String> = ["rules", "lint", rules.to_str().expect("utf-8")]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    let run = run_bounded(BINARY, &args, Path::new("/"), DOCTOR_TIMEOUT);
    assert_one_problem(
        &run,
        line + 1,
        17,
        "a note has no status (502); say what the client got under `client_got`",
    );
}
