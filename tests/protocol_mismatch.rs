//! nginx speaking another protocol than the backend: each test builds the mismatch for
//! real, checks the diagnosis names what the port speaks and the program behind it, then
//! follows the printed fix as a person pastes it — the corrected directive at the
//! file:line given, its `nginx -t` and reload — and the failing request must succeed,
//! with no new failure of that upstream logged and every verify line passing.
//!
//! `uwsgi_pass` to an HTTP app is not among them: nginx reads an HTTP answer as a uwsgi
//! one (both are HTTP-like), so it passes the app's 400 on and logs no 502.

use crate::support::backend::{Mode, tls};
use crate::support::doctor::{self, DoctorRun, strings};
use crate::support::follow;
use crate::support::{Lab, Pass, Pool};
use std::net::SocketAddr;
use std::time::Duration;

const ID: &str = "pass-protocol-mismatch";

fn diagnose(lab: &Lab) -> DoctorRun {
    crate::scenarios::diagnose(lab, 1)
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

/// Follows the fix printed in `run`; then `path` succeeds, `upstream` fails no more,
/// and each verify line passes.
fn follow_and_check(lab: &Lab, run: &DoctorRun, path: &str, upstream: &str) {
    let mark = lab.error_log().len();
    let done = follow::follow(lab, run, ID);
    assert_eq!(
        done.edited.len(),
        1,
        "one edit, the directive: {done:?}\n{run}"
    );
    assert_eq!(lab.get(path), 200, "after following the fix\n{run}");
    let new = follow::new_failures(lab, mark, upstream);
    assert!(new.is_empty(), "new failures after the fix: {new:#?}");
    for (line, out) in follow::verify(lab, run, ID) {
        assert_eq!(out.status, 0, "verify {line:?}\n{out}");
    }
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

    follow_and_check(&lab, &run, "/app", &app.to_string());
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

    follow_and_check(&lab, &run, "/app", &app.to_string());
}

/// An HTTP app behind `pass` (given the app's address) fails with `logged`; the fix
/// says `proxy_pass http://APP;`, and following it works.
fn an_http_app_behind(pass: impl FnOnce(SocketAddr) -> Pass, logged: &str) {
    let lab = Lab::new();
    let app = lab.backend(Mode::Strict);
    lab.nginx(|c| c.location("/", pass(app)));
    assert_eq!(lab.get("/app"), 502);
    lab.error_log_message(logged);

    let run = diagnose(&lab);
    run.assert_first(ID);
    assert_eq!(
        corrected_directive(&run),
        format!("proxy_pass http://{app};")
    );
    follow_and_check(&lab, &run, "/app", &app.to_string());
}

#[test]
fn https_to_a_plain_http_app_gets_proxy_pass_http_and_the_fix_works() {
    an_http_app_behind(
        |app| Pass::proxy(format!("https://{app}")),
        "wrong version number",
    );
}

#[test]
fn fastcgi_pass_to_an_http_app_gets_proxy_pass_and_the_fix_works() {
    an_http_app_behind(
        Pass::fastcgi_to,
        "upstream sent unsupported FastCGI protocol version: 72",
    );
}

#[test]
fn proxy_pass_to_php_fpm_gets_fastcgi_pass_with_its_parameters_and_the_fix_works() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::tcp("www"));
    let addr = fpm.tcp_addr();
    lab.nginx(|c| c.location("~ \\.php$", Pass::proxy_http(addr)));
    assert_eq!(lab.get("/ok.php"), 502);

    let run = diagnose(&lab);
    run.assert_first(ID);
    let snippet = corrected_directive(&run);
    assert!(
        snippet.contains(&format!("fastcgi_pass {addr};")) && snippet.contains("SCRIPT_FILENAME"),
        "{snippet}"
    );
    follow_and_check(&lab, &run, "/ok.php", &addr.to_string());
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

/// A bug in the backend is not nginx's to fix: the advice is the request to run, as
/// printed, and its output shows the very header nginx refused.
#[test]
fn an_invalid_header_is_shown_by_running_the_printed_request_to_the_backend() {
    let lab = Lab::new();
    let app = lab.backend(Mode::BadHeader);
    lab.nginx(|c| c.location("/", Pass::proxy_http(app)));
    assert_eq!(lab.get("/app"), 502);

    let run = diagnose(&lab);
    let id = "invalid-upstream-response";
    run.assert_first(id);
    let argv: Vec<String> = follow::steps(&run, id)
        .iter()
        .find_map(|s| s["command"].as_array().cloned())
        .unwrap_or_else(|| panic!("a command to run\n{run}"))
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        argv[argv.len() - 1],
        format!("http://{app}/app"),
        "{argv:?}"
    );
    let out = doctor::run_bounded(&argv[0], &argv[1..], lab.dir(), Duration::from_secs(30));
    assert_eq!(out.status, 0, "{argv:?}\n{out}");
    assert!(
        out.stdout.contains("Bad Name: x"),
        "{argv:?} shows the header:\n{out}"
    );
}
