//! Hosts where more than one thing happened: an old failure mode beside today's, several
//! failing upstreams, a broken configuration on disk behind a down backend, and faults the
//! admin already fixed. Each test builds the history for real (php-fpm stopped and
//! started, nginx reloaded), then checks that the report puts today's fault first, gives
//! every failing upstream its findings, and recognises recovery.

use crate::scenarios::diagnose;
use crate::support::backend::Mode;
use crate::support::doctor::DoctorRun;
use crate::support::faults::PHP;
use crate::support::fpm::Fpm;
use crate::support::lab::is_root;
use crate::support::net::free_port;
use crate::support::{Lab, Pass, Pool};
use serde_json::Value;
use std::time::Duration;

/// (id, upstream, role, primary) of every finding, in report order.
fn findings(run: &DoctorRun) -> Vec<(String, Option<String>, String, bool)> {
    run.findings()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap_or_default().to_owned(),
                f["upstream"].as_str().map(str::to_owned),
                f["role"].as_str().unwrap_or_default().to_owned(),
                f["primary"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

/// A PHP site whose php-fpm (a unix-socket pool) was stopped; `requests` GETs got 502.
fn php_site_down(lab: &Lab, requests: usize) -> Fpm {
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    lab.stop(fpm.pid);
    assert_eq!(lab.get_many("/ok.php", requests), vec![502; requests]);
    lab.error_log_line("(2: No such file or directory)");
    fpm
}

fn resolved(run: &DoctorRun) -> &Vec<Value> {
    run.json["resolved"]
        .as_array()
        .unwrap_or_else(|| panic!("no resolved array\n{run}"))
}

#[test]
fn socket_missing_now_outranks_older_permission_denied_lines() {
    if !is_root() {
        eprintln!("skipped: the permission fault needs an unprivileged nginx worker (root)");
        return;
    }
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www").owner("root", "root").mode("0600"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get_many("/ok.php", 5), [502; 5]);
    lab.error_log_line("(13: Permission denied)");
    lab.stop(fpm.pid);
    assert_eq!(lab.get("/ok.php"), 502);
    let now = lab.error_log_message("(2: No such file or directory)");

    let run = diagnose(&lab, 1);
    let sock = format!("fastcgi://unix:{}", fpm.socket_path().display());
    assert_eq!(
        findings(&run)[0],
        ("backend-down".into(), Some(sock), "cause".into(), true),
        "{run}"
    );
    run.assert_evidence_quotes("backend-down", &now);
    run.assert_evidence_quotes("backend-down", "5 × connect() to unix:");
    run.assert_evidence_quotes("backend-down", "(13: Permission denied), the last at");
    assert!(
        !run.ids().contains(&"socket-permission".to_owned()),
        "the socket that denied access is gone: {:?}",
        run.ids()
    );
}

#[test]
fn a_broken_php_site_and_a_slow_api_get_a_diagnosis_each() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    let api = lab.backend(Mode::Sleep(Duration::from_secs(3)));
    lab.nginx(|c| {
        c.location(PHP, Pass::fastcgi(&fpm)).location(
            "/api/",
            Pass::proxy_http(api).with("proxy_read_timeout 1s;"),
        )
    });
    lab.stop(fpm.pid);
    assert_eq!(lab.get_many("/ok.php", 3), [502; 3]);
    assert_eq!(lab.get("/api/slow"), 504);
    lab.error_log_line("upstream timed out (110");

    let run = diagnose(&lab, 1);
    let got = findings(&run);
    let sock = format!("fastcgi://unix:{}", fpm.socket_path().display());
    assert_eq!(
        got[0],
        ("backend-down".into(), Some(sock), "cause".into(), true),
        "the busiest failing upstream first\n{run}"
    );
    let api_key = format!("http://{api}");
    assert!(
        got.iter()
            .any(|(id, up, _, primary)| id == "upstream-timeout"
                && up.as_deref() == Some(&api_key)
                && !primary),
        "the API has its own finding\n{run}"
    );
}

#[test]
fn a_config_broken_on_disk_is_latent_behind_the_down_backend() {
    let lab = Lab::new();
    php_site_down(&lab, 1);
    lab.break_config("bogus_directive on;");
    assert_ne!(lab.nginx_test().status, 0, "nginx -t fails on disk");

    let run = diagnose(&lab, 1);
    let got = findings(&run);
    assert_eq!(got[0].0, "backend-down", "{run}");
    assert!(got[0].3, "the down backend is primary\n{run}");
    assert_eq!(
        (
            got[1].0.as_str(),
            got[1].1.as_deref(),
            got[1].2.as_str(),
            got[1].3
        ),
        ("config-invalid", None, "latent", false),
        "{run}"
    );
}

#[test]
fn php_fpm_started_again_is_recovered_not_down() {
    let lab = Lab::new();
    let fpm = php_site_down(&lab, 3);
    lab.next_second();
    lab.restart_fpm(&fpm);
    assert_eq!(lab.get("/ok.php"), 200, "php-fpm serves again");

    let run = diagnose(&lab, 0);
    assert_eq!(run.ids(), ["no-fault-found"], "{run}");
    let sock = format!("fastcgi://unix:{}", fpm.socket_path().display());
    let recovered = &resolved(&run)[0];
    assert_eq!(recovered["upstream"].as_str(), Some(sock.as_str()), "{run}");
    assert!(
        recovered["title"]
            .as_str()
            .is_some_and(|t| t.contains("recovered: its failures stopped at")),
        "{run}"
    );
    run.assert_evidence_quotes(
        "no-fault-found",
        "failures in the window: unix-socket-missing x3",
    );
    let evidence = crate::support::doctor::strings(&recovered["evidence"]).join("\n");
    assert!(
        evidence.contains("since the last failure: ") && evidence.contains("www.sock"),
        "what changed: {evidence}"
    );
}

#[test]
fn a_url_that_answers_now_is_recovery_too() {
    let lab = Lab::new();
    let fpm = php_site_down(&lab, 1);
    lab.next_second();
    lab.restart_fpm(&fpm);

    let run = lab.doctor(&["--auto", "--format", "json", "--url", "/ok.php"]);
    assert_eq!(run.status, 0, "{run}");
    assert_eq!(resolved(&run).len(), 1, "{run}");
}

#[test]
fn fastcgi_pass_corrected_and_reloaded_is_recovered() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::tcp("www"));
    let wrong = free_port();
    lab.nginx(|c| c.location(PHP, Pass::fastcgi_to(wrong)));
    assert_eq!(lab.get_many("/ok.php", 2), [502; 2]);
    lab.error_log_line("(111: Connection refused)");
    lab.next_second();
    lab.edit_and_reload_nginx(
        &format!("fastcgi_pass {wrong};"),
        &format!("fastcgi_pass {};", fpm.tcp_addr()),
    );
    assert_eq!(lab.get("/ok.php"), 200, "the corrected pass works");

    let run = diagnose(&lab, 0);
    assert_eq!(run.ids(), ["no-fault-found"], "{run}");
    let recovered = &resolved(&run)[0];
    assert_eq!(
        recovered["upstream"].as_str(),
        Some(format!("fastcgi://{wrong}").as_str()),
        "{run}"
    );
    let evidence = crate::support::doctor::strings(&recovered["evidence"]).join("\n");
    assert!(
        evidence.contains(&format!(
            "nginx sends these requests to {} now",
            fpm.tcp_addr()
        )),
        "{evidence}"
    );
    assert!(
        evidence.contains("nginx loaded its configuration at"),
        "{evidence}"
    );
}

#[test]
fn a_backend_still_down_after_a_reload_is_still_down() {
    let lab = Lab::new();
    php_site_down(&lab, 1);
    // A reload that changes nothing the failure depends on.
    lab.next_second();
    lab.edit_and_reload_nginx("server {", "server {\n        # reloaded");

    let run = diagnose(&lab, 1);
    run.assert_first("backend-down");
    assert!(resolved(&run).is_empty(), "{run}");
}
