//! TLS to an upstream refused by nginx, fixed by following the report: the backend is
//! `openssl s_server` with a self-signed certificate made out to `backend.test`, nginx
//! verifies it (`proxy_ssl_verify on`) against this host's CA bundle and for the pass's
//! host, 127.0.0.1. The diagnosis fetches the certificate as nginx does; the fix saves
//! that certificate beside nginx.conf, trusts it in place of the bundle (the line as
//! written), names the host it is made out to, tests and reloads — and the request
//! must succeed with no new failure logged.

use crate::support::backend::{Mode, tls};
use crate::support::doctor::DoctorRun;
use crate::support::follow;
use crate::support::{Lab, Pass};
use std::path::Path;

const ID: &str = "upstream-tls-failed";
const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn diagnose(lab: &Lab) -> DoctorRun {
    let run = lab.doctor(&["--auto", "--format", "json"]);
    assert_eq!(run.status, 1, "a fault\n{run}");
    run.assert_first(ID);
    run
}

#[test]
fn a_self_signed_backend_is_trusted_as_presented_and_named_and_the_502_ends() {
    if !tls::available() || !Path::new(BUNDLE).is_file() {
        eprintln!("skipped: no openssl command or no {BUNDLE}");
        return;
    }
    let lab = Lab::new();
    let app = lab.backend(Mode::Tls);
    lab.nginx(|c| {
        c.location(
            "/",
            Pass::proxy(format!("https://{app}"))
                .with("proxy_ssl_verify on")
                .with(&format!("proxy_ssl_trusted_certificate {BUNDLE}")),
        )
    });
    assert_eq!(lab.get("/app"), 502);
    lab.error_log_message("upstream SSL certificate verify error: (18:self-signed certificate)");

    let run = diagnose(&lab);
    run.assert_evidence_quotes(
        ID,
        "presents CN = backend.test, issued by CN = backend.test",
    );
    run.assert_evidence_quotes(ID, "self-signed certificate; IP address mismatch");
    let mark = lab.error_log().len();
    let done = follow::follow(&lab, &run, ID);
    assert_eq!(
        done.edited.len(),
        3,
        "the certificate, the trust, the name: {done:?}"
    );
    assert_eq!(lab.get("/app"), 200, "after following the fix\n{run}");
    let new = follow::new_failures(&lab, mark, &app.to_string());
    assert!(new.is_empty(), "new failures after the fix: {new:#?}");
    for (line, out) in follow::verify(&lab, &run, ID) {
        assert_eq!(out.status, 0, "verify {line:?}\n{out}");
    }
    let conf = std::fs::read_to_string(lab.path("nginx.conf")).expect("nginx.conf");
    let saved = lab.path(&format!("upstream-127.0.0.1-{}.pem", app.port()));
    assert!(
        conf.contains(&format!(
            "proxy_ssl_trusted_certificate {};",
            saved.display()
        )) && !conf.contains(BUNDLE)
            && conf.contains("proxy_ssl_name backend.test;"),
        "{conf}"
    );
}
