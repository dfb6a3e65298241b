//! nginx speaking another protocol than the backend: each test builds the mismatch for
//! real, checks the diagnosis names what the port speaks and the program behind it, then
//! follows the printed fix exactly — the corrected directive in place of the old one, a
//! reload — and the failing request must succeed.

use crate::support::backend::{Mode, tls};
use crate::support::doctor::{DoctorRun, strings};
use crate::support::{Lab, Pass};

fn diagnose(lab: &Lab) -> DoctorRun {
    let run = lab.doctor(&["--auto", "--format", "json"]);
    assert_eq!(run.status, 1, "a fault\n{run}");
    crate::scenarios::time_doctor(lab);
    crate::clean_words::assert_clean(lab, &run);
    run
}

/// The snippet of the fix step that edits the pass directive.
fn corrected_directive(run: &DoctorRun) -> String {
    let steps = run.finding("pass-protocol-mismatch")["fix"]["steps"].clone();
    steps
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["text"].as_str().is_some_and(|t| t.contains("replace")))
        .and_then(|s| s["snippet"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no step replacing the directive\n{run}"))
}

/// Every string of the finding, for "does it mention X anywhere".
fn finding_text(run: &DoctorRun, id: &str) -> String {
    strings(run.finding(id)).join("\n")
}

#[test]
fn a_tls_only_app_behind_plain_proxy_pass_gets_https_and_the_fix_works() {
    if !tls::available() {
        eprintln!("skipped: no openssl command to make certificates");
        return;
    }
    let lab = Lab::new();
    let app = lab.backend(Mode::Tls);
    lab.nginx(|c| c.location("/", Pass::proxy_http(app)));
    assert_eq!(lab.get("/app"), 502);
    let quote = lab.error_log_message("upstream prematurely closed connection");

    let run = diagnose(&lab);
    run.assert_first("pass-protocol-mismatch");
    run.assert_evidence_quotes("pass-protocol-mismatch", &quote);
    run.assert_evidence_quotes("pass-protocol-mismatch", "a TLS ClientHello: a TLS record");
    run.assert_evidence_quotes(
        "pass-protocol-mismatch",
        "the program listening there: openssl",
    );
    let text = finding_text(&run, "pass-protocol-mismatch");
    assert!(
        !text.contains("php-fpm"),
        "nothing of php-fpm about an openssl server:\n{text}"
    );
    let fix = corrected_directive(&run);
    assert_eq!(fix, format!("proxy_pass https://{app};"));

    lab.edit_and_reload_nginx(&format!("proxy_pass http://{app};"), &fix);
    assert_eq!(
        lab.get("/app"),
        200,
        "the corrected directive reaches the app"
    );
}

#[test]
fn grpc_pass_to_a_plain_http_app_gets_proxy_pass_and_the_fix_works() {
    let lab = Lab::new();
    let app = lab.backend(Mode::Strict);
    lab.nginx(|c| c.location("/", Pass::directive(&format!("grpc_pass grpc://{app}"))));
    assert_eq!(lab.get("/app"), 502);
    let quote = lab.error_log_message("upstream sent too large http2 frame");

    let run = diagnose(&lab);
    run.assert_first("pass-protocol-mismatch");
    run.assert_evidence_quotes("pass-protocol-mismatch", &quote);
    let title = run.finding("pass-protocol-mismatch")["title"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        title,
        format!("nginx speaks HTTP/2 (gRPC) to {app}, which speaks HTTP")
    );
    let fix = corrected_directive(&run);
    assert_eq!(fix, format!("proxy_pass http://{app};"));

    lab.edit_and_reload_nginx(&format!("grpc_pass grpc://{app};"), &fix);
    assert_eq!(
        lab.get("/app"),
        200,
        "the corrected directive reaches the app"
    );
}

#[test]
fn an_app_that_hangs_up_is_named_and_php_fpm_is_not_mentioned() {
    let lab = Lab::new();
    let app = lab.backend(Mode::Reset);
    lab.nginx(|c| c.location("/", Pass::proxy_http(app)));
    assert_eq!(lab.get("/app"), 502);
    lab.error_log_line("Connection reset by peer");

    let run = diagnose(&lab);
    run.assert_first("backend-crashed");
    run.assert_evidence_quotes("backend-crashed", "the program listening there: ");
    let text = finding_text(&run, "backend-crashed");
    assert!(!text.contains("php-fpm"), "the app is not php-fpm:\n{text}");
    let checks: Vec<String> = run.json["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["probe"].as_str().map(str::to_owned))
        .collect();
    assert!(
        !checks.iter().any(|p| p == "fpm-log" || p == "backend"),
        "no php-fpm checks for an app that is not php-fpm: {checks:?}"
    );
}
