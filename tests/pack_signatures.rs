//! What a signature means lives in the rule pack (`signatures:`), and the
//! three readers of the error log take it from there: `explain`, `scan` and
//! the diagnosis. A pack given with `--rules DIR` that says otherwise about
//! a refused connection changes what all three print, with no Rust change.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::doctor::{DoctorRun, doctor_in};
use crate::support::net::free_port;
use crate::support::{Lab, Pass, pack};

const REFUSED: &str = "2026/12/08 01:00:00 [error] 812#812: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: _, request: \"GET /app HTTP/1.1\", upstream: \"http://127.0.0.1:8000/app\", host: \"localhost\"";
const SAID: &str = "The test pack says a refused connection is a firewall's doing.";

/// The default pack, copied into `dir` with `conn-refused-tcp` rewritten:
/// another sentence, `firewall-blocked` first, and the status `status`.
fn rewritten_pack(dir: &Path, status: &str) -> PathBuf {
    let rules = pack::default_copy(dir, &[]);
    let file = rules.join("05-signatures.yaml");
    let text = fs::read_to_string(&file).expect("read signatures");
    let (before, after) = text.split_once("  conn-refused-tcp:\n").expect("the entry");
    let rest = after
        .split_once("\n  unix-socket-stale:")
        .expect("the next entry")
        .1;
    let entry = format!(
        "  conn-refused-tcp:\n{status}    summary: \"{SAID}\"\n    causes: [firewall-blocked, backend-down]"
    );
    fs::write(
        &file,
        format!("{before}{entry}\n  unix-socket-stale:{rest}"),
    )
    .expect("write");
    rules
}

/// nginx passing to a port nothing listens on, after one refused request.
fn refused_lab() -> Lab {
    let lab = Lab::new();
    let dead = free_port();
    lab.nginx(|c| c.location("/", Pass::proxy_http(dead)));
    assert_eq!(lab.get("/app"), 502);
    lab.error_log_message("(111: Connection refused)");
    lab
}

fn doctor(args: &[&str]) -> DoctorRun {
    doctor_in(Path::new("/"), args)
}

#[test]
fn explain_says_what_the_packs_signature_says() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rules = rewritten_pack(tmp.path(), "    status: 502\n");
    let rules = rules.to_str().expect("utf-8");

    let run = doctor(&["--rules", rules, "explain", "--format", "json", REFUSED]);
    assert_eq!(run.status, 0, "{run}");
    let line = &run.json["lines"][0];
    assert_eq!(line["summary"], SAID, "{run}");
    assert_eq!(line["candidates"][0]["id"], "firewall-blocked", "{run}");
}

#[test]
fn scan_gives_the_status_the_pack_says() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rules = rewritten_pack(tmp.path(), "    status: 504\n");

    let run = pack::scan_lines(&rules, tmp.path(), REFUSED);
    assert_eq!(run.status, 1, "{run}");
    let row = &run.json["signatures"][0];
    assert_eq!(row["id"], "conn-refused-tcp", "{run}");
    assert_eq!(row["status"], 504, "{run}");
}

#[test]
fn the_diagnosis_describes_a_failure_in_the_packs_words() {
    let lab = refused_lab();
    let rules = rewritten_pack(lab.dir(), "    status: 502\n");

    let bundle = lab.dir().join("bundle");
    let (rules, bundle_arg) = (
        rules.to_str().expect("utf-8"),
        bundle.to_str().expect("utf-8"),
    );
    let run = lab.doctor(&["--rules", rules, "--auto", "--record", bundle_arg]);
    assert_eq!(run.status, 1, "{run}");
    let recorded = fs::read_to_string(bundle.join("bundle.json")).expect("the bundle");
    let recorded: serde_json::Value = serde_json::from_str(&recorded).expect("JSON");
    let read = recorded["observations"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["probe"] == "error-log"))
        .unwrap_or_else(|| panic!("no error-log observation\n{recorded:#}"));
    let item = &read["facts"]["upstreams"][0];
    assert_eq!(item["summary"], SAID, "{read:#}");
    assert_eq!(
        item["candidates"], "firewall-blocked, backend-down",
        "{read:#}"
    );
}

#[test]
fn a_signature_the_pack_gives_no_gateway_status_is_no_upstream_failure() {
    let lab = refused_lab();
    let rules = rewritten_pack(lab.dir(), "");

    let rules = rules.to_str().expect("utf-8");
    let run = lab.doctor(&["--rules", rules, "--auto", "--format", "json"]);
    assert!(
        run.found("read-errors").ends_with(": 0"),
        "the refused connection is not counted\n{run}"
    );
    assert!(!run.ids().iter().any(|id| id == "backend-down"), "{run}");
}

#[test]
fn explain_says_what_the_client_got_and_notes_as_the_pack_says() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rules = pack::default_copy(tmp.path(), &[]);
    let file = rules.join("05-signatures.yaml");
    pack::edit(
        &file,
        "      - text: \"the backend's own status (usually 200) had already been sent; the response was cut off. Not a 502 or 504.\"\n",
        "      - status: 200\n        text: \"The test pack says the client got a cut 200.\"\n    notes:\n      - when: upstream.uri == \"/cut\"\n        text: \"The test pack notes {{upstream.uri}}.\"\n",
    );
    let line = "2026/12/08 01:00:00 [error] 812#812: *1 upstream prematurely closed connection while reading upstream, client: 127.0.0.1, server: _, request: \"GET /cut HTTP/1.1\", upstream: \"http://127.0.0.1:8000/cut\", host: \"localhost\"";

    let rules = rules.to_str().expect("utf-8");
    let run = doctor(&["--rules", rules, "explain", "--format", "json", line]);
    assert_eq!(run.status, 0, "{run}");
    let got = &run.json["lines"][0];
    assert_eq!(got["status"], 200, "{run}");
    assert_eq!(
        got["client_got"], "The test pack says the client got a cut 200.",
        "{run}"
    );
    assert_eq!(got["notes"][0], "The test pack notes /cut.", "{run}");
}
