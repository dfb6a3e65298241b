//! Real-host scenarios: each test reproduces one fault with real nginx and php-fpm in a
//! private lab, proves the fault is real (the HTTP status it produced and the nginx
//! error-log line), then runs `nginx-doctor --auto --format json` against it and checks
//! the diagnosis: the cause id and evidence that quotes the log line.

use crate::support::backend::Mode;
use crate::support::doctor::{DOCTOR_TIMEOUT, DoctorRun};
use crate::support::lab::is_root;
use crate::support::logs::wait_for_line;
use crate::support::net::free_port;
use crate::support::{Lab, Pass, Pool};
use std::time::Duration;

/// The location every PHP scenario passes through.
const PHP: &str = "~ \\.php$";
/// How long php-fpm may take to write what it saw (its maintenance ticks once a second).
const FPM_LOG_WAIT: Duration = Duration::from_secs(5);

/// Runs the doctor in automation mode and checks what every report must satisfy.
fn diagnose(lab: &Lab, exit: i32) -> DoctorRun {
    let run = lab.doctor(&["--auto", "--format", "json"]);
    assert!(
        run.elapsed < DOCTOR_TIMEOUT,
        "doctor took {:?}",
        run.elapsed
    );
    assert_eq!(run.status, exit, "exit status\n{run}");
    assert_eq!(run.json["schema"], 1, "schema\n{run}");
    crate::scenarios::time_doctor(lab);
    crate::clean_words::assert_clean(lab, &run);
    run
}

#[test]
fn php_fpm_stopped_is_backend_down() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(
        lab.get("/ok.php"),
        200,
        "the page worked before php-fpm stopped"
    );
    lab.stop(fpm.pid);

    assert_eq!(lab.get("/ok.php"), 502);
    let sock = fpm.socket_path().display();
    let quote = lab.error_log_message(&format!("connect() to unix:{sock} failed (2: No such file"));

    let run = diagnose(&lab, 1);
    run.assert_first("backend-down");
    run.assert_evidence_quotes("backend-down", &quote);
}

#[test]
fn php_fpm_on_another_port_is_wrong_address() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::tcp("www"));
    let elsewhere = free_port();
    assert_ne!(fpm.tcp_addr(), elsewhere);
    lab.nginx(|c| c.location(PHP, Pass::fastcgi_to(elsewhere)));

    assert_eq!(lab.get("/ok.php"), 502);
    let line = lab.error_log_line("connect() failed (111: Connection refused)");
    assert!(
        line.contains(&format!("upstream: \"fastcgi://{elsewhere}\"")),
        "{line}"
    );
    let quote = lab.error_log_message("(111: Connection refused)");

    let run = diagnose(&lab, 1);
    run.assert_first("backend-wrong-address");
    run.assert_evidence_quotes("backend-wrong-address", &quote);
}

#[test]
fn proxy_pass_to_php_fpm_is_protocol_mismatch() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::tcp("www"));
    lab.nginx(|c| c.location("/", Pass::proxy_http(fpm.tcp_addr())));

    assert_eq!(lab.get("/ok.php"), 502);
    let quote = lab.error_log_message("recv() failed (104: Connection reset by peer)");

    let run = diagnose(&lab, 1);
    run.assert_first("pass-protocol-mismatch");
    run.assert_evidence_quotes("pass-protocol-mismatch", &quote);
}

/// nginx and php-fpm serving PHP, with nothing wrong.
pub(crate) fn healthy_lab() -> Lab {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get("/ok.php"), 200);
    lab
}

/// php-fpm's socket given to root:root, mode 0660: nginx's workers may not open it
/// (a 502). Needs root. The lab, and the socket's path.
pub(crate) fn socket_nginx_may_not_open() -> (Lab, std::path::PathBuf) {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www").owner("root", "root").mode("0660"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get("/ok.php"), 502);
    let socket = fpm.socket_path().to_path_buf();
    (lab, socket)
}

#[test]
fn healthy_host_has_no_fault() {
    let lab = healthy_lab();

    let run = diagnose(&lab, 0);
    assert_eq!(run.ids(), ["no-fault-found"], "{run}");
}

#[test]
fn socket_permission_denied() {
    if !is_root() {
        eprintln!("skipped socket_permission_denied: only root can give the socket to root:root");
        return;
    }
    let (lab, socket) = socket_nginx_may_not_open();
    let sock = socket.display();
    let quote = lab.error_log_message(&format!(
        "connect() to unix:{sock} failed (13: Permission denied)"
    ));

    let run = diagnose(&lab, 1);
    run.assert_first("socket-permission");
    run.assert_evidence_quotes("socket-permission", &quote);
    assert!(
        run.found("pool-of-socket")
            .starts_with("pool www creates it ("),
        "{run}"
    );
}

#[test]
fn request_terminate_timeout_is_request_killed() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www").terminate_timeout("1s"));
    lab.nginx(|c| {
        c.server("fastcgi_read_timeout 10s")
            .location(PHP, Pass::fastcgi(&fpm))
    });

    assert_eq!(lab.get("/sleep.php?s=5"), 502);
    let quote = lab.error_log_message("recv() failed (104: Connection reset by peer)");
    wait_for_line(&fpm.log, "execution timed out", FPM_LOG_WAIT);

    let run = diagnose(&lab, 1);
    run.assert_first("backend-request-killed");
    run.assert_evidence_quotes("backend-request-killed", &quote);
}

#[test]
fn pool_exhausted_shows_in_fpm_log() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www").max_children(1));
    lab.nginx(|c| {
        c.server("fastcgi_read_timeout 1s")
            .location(PHP, Pass::fastcgi(&fpm))
    });

    let statuses = lab.get_many("/sleep.php?s=3", 3);
    assert!(statuses.contains(&504), "statuses {statuses:?}");
    let quote = lab.error_log_message("upstream timed out (110: Connection timed out)");
    wait_for_line(
        &fpm.log,
        "server reached pm.max_children setting (1)",
        FPM_LOG_WAIT,
    );

    let run = diagnose(&lab, 1);
    run.assert_first("backend-pool-exhausted");
    run.assert_evidence_quotes("backend-pool-exhausted", &quote);
}

#[test]
fn config_invalid_is_reported() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    lab.break_config("bogus_directive on;");

    let test = lab.nginx_test();
    assert_ne!(
        test.status, 0,
        "nginx -t accepted the broken config\n{test}"
    );
    let quote = "unknown directive \"bogus_directive\"";
    assert!(test.stderr.contains(quote), "{test}");
    assert_eq!(
        lab.get("/ok.php"),
        200,
        "the running nginx keeps its loaded config"
    );

    let run = diagnose(&lab, 1);
    run.assert_evidence_quotes("config-invalid", quote);
}

#[test]
fn slow_backend_is_upstream_timeout() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www").max_children(5));
    lab.nginx(|c| {
        c.server("fastcgi_read_timeout 1s")
            .location(PHP, Pass::fastcgi(&fpm))
    });

    assert_eq!(lab.get("/sleep.php?s=3"), 504);
    let quote = lab.error_log_message("upstream timed out (110: Connection timed out)");

    let run = diagnose(&lab, 1);
    let fpm_log = std::fs::read_to_string(&fpm.log).unwrap_or_default();
    assert!(
        !fpm_log.contains("max_children"),
        "the pool was not exhausted:\n{fpm_log}"
    );
    run.assert_first("upstream-timeout");
    run.assert_evidence_quotes("upstream-timeout", &quote);
}

#[test]
fn crashing_php_worker_is_backend_crashed() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));

    assert_eq!(lab.get("/crash.php"), 502);
    let quote = lab.error_log_message("recv() failed (104: Connection reset by peer)");
    wait_for_line(&fpm.log, "exited on signal 11 (SIGSEGV)", FPM_LOG_WAIT);

    let run = diagnose(&lab, 1);
    run.assert_first("backend-crashed");
    run.assert_evidence_quotes("backend-crashed", &quote);
}

#[test]
fn big_php_header_is_header_too_big() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));

    assert_eq!(lab.get("/bighdr.php"), 502);
    let quote = lab.error_log_message("upstream sent too big header");

    let run = diagnose(&lab, 1);
    run.assert_first("header-too-big");
    run.assert_evidence_quotes("header-too-big", &quote);
}

#[test]
fn backend_answering_502_is_backend_sent_502() {
    let lab = Lab::new();
    let backend = lab.backend(Mode::Status502);
    lab.nginx(|c| c.location("/", Pass::proxy_http(backend)));

    assert_eq!(lab.get("/app"), 502);
    let log = lab.error_log();
    assert!(
        !log.contains("upstream:"),
        "nginx generated this 502 itself:\n{log}"
    );

    let run = diagnose(&lab, 1);
    run.assert_first("backend-sent-502");
    run.assert_evidence_quotes("backend-sent-502", "\"GET /app HTTP/1.0\" 502");
}

#[test]
fn url_flag_reproduces_the_failure_before_reading_the_log() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    lab.stop(fpm.pid);
    assert!(
        !lab.error_log().contains("connect() to unix:"),
        "no request has failed yet"
    );

    let run = lab.doctor(&["--auto", "--format", "json", "--url", "/ok.php"]);
    assert_eq!(run.status, 1, "{run}");
    run.assert_first("backend-down");
    let reproduce = run.json["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["probe"] == "reproduce"))
        .unwrap_or_else(|| panic!("no reproduce check\n{run}"));
    assert_eq!(reproduce["status"], "ok", "{run}");
    assert_eq!(run.json["answers"]["url"], "/ok.php", "{run}");
}
