//! A new cause is a YAML change: the default pack plus
//! `tests/fixtures/pack-new-cause/` (a cause, its description and a
//! conclusion), with the cause made a candidate of `conn-refused-tcp`, a
//! ranking rule that puts it first for `/maintenance/` requests, and a
//! branch that concludes it. `explain`, `scan` and the diagnosis all take
//! it from `--rules DIR`, with no Rust change.

use std::path::{Path, PathBuf};

use crate::support::doctor::{BINARY, DOCTOR_TIMEOUT, DoctorRun, run_bounded};
use crate::support::net::free_port;
use crate::support::{Lab, Pass, pack};

const CAUSE: &str = "backend-maintenance";
const REFUSED: &str = "2026/12/08 01:00:00 [error] 812#812: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: _, request: \"GET /maintenance/report HTTP/1.1\", upstream: \"http://127.0.0.1:8000/maintenance/report\", host: \"localhost\"";

/// The default pack with the fixture's cause, in `dir/rules`.
fn pack_with_new_cause(dir: &Path) -> PathBuf {
    let rules = pack::default_copy(dir, &["tests/fixtures/pack-new-cause"]);
    pack::edit(
        &rules.join("05-signatures.yaml"),
        "    causes: [backend-down, backend-wrong-address, firewall-blocked, upstream-stale-dns]\n",
        &format!(
            "    causes: [backend-down, backend-wrong-address, firewall-blocked, upstream-stale-dns, {CAUSE}]\n    \
             rank:\n      \
             - when: upstream.uri =~ \"^/maintenance/\"\n        \
             promote: {CAUSE}\n        \
             why: \"{CAUSE} is ranked first: {{{{upstream.uri}}}} is served by the backend under maintenance.\"\n"
        ),
    );
    pack::edit(
        &rules.join("20-errors.yaml"),
        "      - when: upstream-now.resolved\n        next: upstream-resolved\n",
        "      - when: upstream-now.resolved\n        next: upstream-resolved\n      \
         - when: upstream.signature == \"conn-refused-tcp\" and upstream.uri =~ \"^/maintenance/\"\n        \
         next: in-maintenance\n",
    );
    rules
}

fn doctor(args: &[&str]) -> DoctorRun {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    run_bounded(BINARY, &args, Path::new("/"), DOCTOR_TIMEOUT)
}

#[test]
fn the_pack_with_a_new_cause_lints_clean() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rules = pack_with_new_cause(tmp.path());
    let run = doctor(&["rules", "lint", rules.to_str().expect("utf-8")]);
    assert_eq!(run.status, 0, "{run}");
}

#[test]
fn explain_ranks_and_describes_a_cause_only_the_pack_knows() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rules = pack_with_new_cause(tmp.path());
    let rules = rules.to_str().expect("utf-8");

    let run = doctor(&["--rules", rules, "explain", "--format", "json", REFUSED]);
    assert_eq!(run.status, 0, "{run}");
    let line = &run.json["lines"][0];
    let first = &line["candidates"][0];
    assert_eq!(first["id"], CAUSE, "{run}");
    let summary = first["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("maintenance window"), "{run}");
    let why = "backend-maintenance is ranked first: /maintenance/report is served by the backend under maintenance.";
    assert!(run.stdout.contains(why), "{run}");
}

#[test]
fn scan_reads_a_pack_whose_signature_names_a_new_cause() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rules = pack_with_new_cause(tmp.path());

    let run = pack::scan_lines(&rules, tmp.path(), REFUSED);
    assert_eq!(run.status, 1, "{run}");
    let row = &run.json["signatures"][0];
    assert_eq!(row["id"], "conn-refused-tcp", "{run}");
    assert_eq!(row["count"], 1, "{run}");
}

#[test]
fn the_diagnosis_concludes_a_cause_only_the_pack_knows() {
    let lab = Lab::new();
    let dead = free_port();
    lab.nginx(|c| c.location("/", Pass::proxy_http(dead)));
    assert_eq!(lab.get("/maintenance/report"), 502);
    lab.error_log_message("(111: Connection refused)");
    let rules = pack_with_new_cause(lab.dir());

    let rules = rules.to_str().expect("utf-8");
    let run = lab.doctor(&["--rules", rules, "--auto", "--format", "json"]);
    assert_eq!(run.status, 1, "{run}");
    assert_eq!(run.ids(), [CAUSE], "{run}");
}
