//! Backends behind nginx, broken for real and fixed as printed: stopped, at the wrong
//! address, refusing nginx's user at its socket, killing or crashing its requests, its
//! pool full, slow, answering 502 itself, speaking another protocol, with an untrusted
//! certificate. Each scenario follows the printed fix literally (`super::prove`).

use super::{diagnose, prove};
use crate::support::backend::{Backend, Mode};
use crate::support::doctor::strings;
use crate::support::faults::PHP;
use crate::support::follow::{Plan, Step};
use crate::support::logs::wait_for_line;
use crate::support::net::free_port;
use crate::support::{Lab, Pass, Pool};
use std::fs;
use std::time::Duration;

/// How long php-fpm may take to write what it saw (its maintenance ticks once a second).
const FPM_LOG_WAIT: Duration = Duration::from_secs(5);

#[test]
fn a_backend_nothing_claims_is_looked_for_and_started_there() {
    let lab = Lab::new();
    let dead = free_port();
    lab.nginx(|c| c.location("/", Pass::proxy_http(dead)));
    assert_eq!(lab.get("/app"), 502);
    let run = diagnose(&lab);
    // "find the service whose configuration names that address, and start it".
    let plan = Plan::new().by_hand(|s: &Step| {
        if s.text.contains("find the service") {
            lab.backend_at(dead, Mode::Ok);
        }
    });
    prove(
        &lab,
        &run,
        "backend-down",
        plan,
        "a_backend_nothing_claims_is_looked_for_and_started_there",
    );
    assert_eq!(lab.get("/app"), 200);
}

#[test]
fn a_pass_to_the_wrong_port_is_pointed_at_the_pool() {
    let lab = Lab::new();
    let _fpm = lab.php_fpm(Pool::tcp("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi_to(free_port())));
    assert_eq!(lab.get("/ok.php"), 502);
    let run = diagnose(&lab);
    prove(
        &lab,
        &run,
        "backend-wrong-address",
        Plan::new(),
        "a_pass_to_the_wrong_port_is_pointed_at_the_pool",
    );
    assert_eq!(lab.get("/ok.php"), 200);
}

#[test]
fn a_backend_on_ipv6_loopback_only_gets_a_working_check() {
    let Ok(backend) = Backend::start_on(std::net::Ipv6Addr::LOCALHOST.into(), Mode::Ok) else {
        eprintln!("skipped: no IPv6 loopback on this host");
        return;
    };
    let lab = Lab::new();
    let port = backend.addr().port();
    lab.nginx(|c| c.location("/", Pass::proxy(format!("http://127.0.0.1:{port}"))));
    assert_eq!(lab.get("/app"), 502);
    let run = diagnose(&lab);
    let plan = Plan::new().by_hand(|s: &Step| {
        if s.text.starts_with("Either bind the backend") {
            let path = lab.path("nginx.conf");
            let conf = fs::read_to_string(&path).expect("read nginx.conf");
            let fixed = conf.replace("http://127.0.0.1:", "http://[::1]:");
            fs::write(&path, fixed).expect("write nginx.conf");
        }
    });
    prove(
        &lab,
        &run,
        "backend-wrong-family",
        plan,
        "a_backend_on_ipv6_loopback_only_gets_a_working_check",
    );
}

#[test]
fn a_request_php_fpm_killed_gets_working_commands() {
    let lab = Lab::new();
    let fpm = lab.php_with_read_timeout(Pool::unix("www").terminate_timeout("1s"), "10s");
    assert_eq!(lab.get("/sleep.php?s=5"), 502);
    wait_for_line(&fpm.log, "execution timed out", FPM_LOG_WAIT);
    let run = diagnose(&lab);
    prove(
        &lab,
        &run,
        "request-killed",
        Plan::new().fpm(&fpm),
        "a_request_php_fpm_killed_gets_working_commands",
    );
}

/// A worker killed by SIGKILL, as the OOM killer does: the one crash whose first look is
/// the kernel log. (A SIGSEGV's fix sets the machine-wide `kernel.core_pattern`, which no
/// namespace isolates: see `NOT_REACHED`.)
const KILLED: &str = "<?php posix_kill(posix_getpid(), 9);\n";

#[test]
fn a_crashing_worker_gets_the_kernel_log_and_a_working_check() {
    let lab = Lab::new();
    lab.write_www("killed.php", KILLED);
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get("/killed.php"), 502);
    wait_for_line(&fpm.log, "exited on signal 9 (SIGKILL)", FPM_LOG_WAIT);
    let run = diagnose(&lab);
    let fix = crate::support::follow::Fix::of_node(&run, "worker-crashed");
    let dmesg = ["dmesg", "--ctime", "--level=err,warn"]
        .map(String::from)
        .to_vec();
    assert!(
        fix.commands().contains(&&dmesg),
        "one argument for the levels\n{run}"
    );
    // What lowering the memory the page takes does to it.
    let plan = Plan::new().by_hand(|s: &Step| {
        if s.text.contains("Signal 9") {
            lab.write_www("killed.php", "<?php echo \"fixed\\n\";\n");
        }
    });
    prove(
        &lab,
        &run,
        "worker-crashed",
        plan,
        "a_crashing_worker_gets_the_kernel_log_and_a_working_check",
    );
    assert_eq!(lab.get("/killed.php"), 200);
}
#[test]
fn a_slow_app_gets_a_longer_timeout_as_printed() {
    let lab = Lab::new();
    let app = lab.backend(Mode::Sleep(Duration::from_secs(3)));
    lab.nginx(|c| {
        c.server("proxy_read_timeout 1s")
            .location("/", Pass::proxy_http(app))
    });
    assert_eq!(lab.get("/app"), 504);
    let run = diagnose(&lab);
    prove(
        &lab,
        &run,
        "app-timeout",
        Plan::new(),
        "a_slow_app_gets_a_longer_timeout_as_printed",
    );
    assert_eq!(lab.get("/app"), 200);
}

#[test]
fn a_backend_answering_502_gets_a_working_check() {
    let lab = Lab::new();
    let backend = lab.backend(Mode::Status502);
    lab.nginx(|c| c.location("/", Pass::proxy_http(backend)));
    assert_eq!(lab.get("/app"), 502);
    let run = diagnose(&lab);
    // The backend's own 502 is its bug: the fix finds it, the verify line shows the log.
    prove(
        &lab,
        &run,
        "backend-sent-502",
        Plan::new(),
        "a_backend_answering_502_gets_a_working_check",
    );
}

#[test]
fn a_protocol_mismatch_only_nginx_logged_is_corrected_as_printed() {
    let lab = Lab::new();
    let app = free_port();
    let backend = Backend::start_at(app, Mode::Strict).expect("an app");
    lab.nginx(|c| c.location("/", Pass::fastcgi_to(app)));
    assert_eq!(lab.get("/app"), 502);
    lab.error_log_line("upstream sent unsupported FastCGI protocol version: 72");
    // The app is down now: greeting it says nothing, the log is all there is.
    drop(backend);
    let run = diagnose(&lab);
    let said = strings(run.finding("pass-protocol-mismatch")).join("\n");
    assert!(
        said.contains("was not conclusive (it took no connection)"),
        "the greeting's unknown answer in words\n{run}"
    );
    let plan = Plan::new().by_hand(|s: &Step| {
        if s.text.contains("See which program listens there") {
            lab.backend_at(app, Mode::Ok);
            let path = lab.path("nginx.conf");
            let conf = fs::read_to_string(&path).expect("read nginx.conf");
            let pass = format!("fastcgi_pass {app};");
            let fixed = conf.replace(&pass, &format!("proxy_pass http://{app};"));
            fs::write(&path, fixed).expect("write nginx.conf");
        }
    });
    prove(
        &lab,
        &run,
        "protocol-mismatch-logged",
        plan,
        "a_protocol_mismatch_only_nginx_logged_is_corrected_as_printed",
    );
    assert_eq!(lab.get("/app"), 200);
}

#[test]
fn an_untrusted_backend_certificate_gets_a_working_check() {
    if !crate::support::backend::tls::available() {
        eprintln!("skipped: no openssl command to make certificates");
        return;
    }
    let lab = Lab::new();
    let other = crate::support::backend::tls::self_signed(lab.dir(), "other-ca", "other.test")
        .expect("make a CA");
    let backend = lab.backend(Mode::Tls);
    lab.nginx(|c| {
        c.location(
            "/",
            Pass::proxy(format!("https://{backend}"))
                .with("proxy_ssl_verify on")
                .with(&format!(
                    "proxy_ssl_trusted_certificate {}",
                    other.display()
                )),
        )
    });
    assert_eq!(lab.get("/app"), 502);
    let run = diagnose(&lab);
    prove(
        &lab,
        &run,
        "tls-refused",
        Plan::new(),
        "an_untrusted_backend_certificate_gets_a_working_check",
    );
}

#[test]
fn an_app_that_hangs_up_gets_the_kernel_log() {
    let lab = Lab::new();
    let app = lab.backend(Mode::Reset);
    lab.nginx(|c| c.location("/", Pass::proxy_http(app)));
    assert_eq!(lab.get("/app"), 502);
    lab.error_log_line("Connection reset by peer");
    let run = diagnose(&lab);
    prove(
        &lab,
        &run,
        "reset-unexplained",
        Plan::new(),
        "an_app_that_hangs_up_gets_the_kernel_log",
    );
}

#[test]
fn a_socket_denied_for_no_reason_seen_gets_its_path_shown() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www").mode("0666"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get("/ok.php"), 200);
    // A denial the socket's mode does not explain (an LSM, an ACL since removed), as
    // nginx logs it, now: nothing changed since, so it is not history.
    let sock = fpm.socket_path().display().to_string();
    super::network::append_error(
        &lab,
        &format!("connect() to unix:{sock} failed (13: Permission denied)"),
        "[crit]",
        &format!("fastcgi://unix:{sock}:"),
        "/ok.php",
    );
    let run = diagnose(&lab);
    prove(
        &lab,
        &run,
        "socket-permission-unknown",
        Plan::new(),
        "a_socket_denied_for_no_reason_seen_gets_its_path_shown",
    );
}

#[test]
fn a_slow_php_script_gets_a_longer_timeout_as_printed() {
    let lab = Lab::new();
    // A query string in the failing URI: the verify line quotes it for the shell.
    let fpm = lab.php_with_read_timeout(Pool::unix("www").max_children(5), "1s");
    assert_eq!(lab.get("/sleep.php?s=3"), 504);
    let run = diagnose(&lab);
    prove(
        &lab,
        &run,
        "upstream-timeout",
        Plan::new().fpm(&fpm),
        "a_slow_php_script_gets_a_longer_timeout_as_printed",
    );
    assert_eq!(lab.get("/sleep.php?s=3"), 200);
}

#[test]
fn a_header_too_big_gets_bigger_buffers_as_printed() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get("/bighdr.php"), 502);
    let run = diagnose(&lab);
    prove(
        &lab,
        &run,
        "header-too-big",
        Plan::new(),
        "a_header_too_big_gets_bigger_buffers_as_printed",
    );
    assert_eq!(lab.get("/bighdr.php"), 200);
}

#[test]
fn proxy_pass_to_php_fpm_is_corrected_as_printed() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::tcp("www"));
    lab.nginx(|c| c.location("/", Pass::proxy_http(fpm.tcp_addr())));
    assert_eq!(lab.get("/ok.php"), 502);
    let run = diagnose(&lab);
    prove(
        &lab,
        &run,
        "protocol-mismatch",
        Plan::new(),
        "proxy_pass_to_php_fpm_is_corrected_as_printed",
    );
    assert_eq!(lab.get("/ok.php"), 200);
}

#[test]
fn a_backend_sending_an_invalid_header_gets_its_header_shown() {
    let lab = Lab::new();
    let bad = Backend::start(Mode::BadHeader).expect("start the backend");
    let addr = bad.addr();
    let bad = std::cell::RefCell::new(Some(bad));
    lab.nginx(|c| c.location("/", Pass::proxy_http(addr)));
    assert_eq!(lab.get("/app"), 502);
    let run = diagnose(&lab);
    // "the line nginx could not parse is the one to fix in the app": the app, fixed,
    // restarts at its address.
    let plan = Plan::new().by_hand(|s: &Step| {
        if s.text.contains("could not parse") {
            drop(bad.borrow_mut().take());
            lab.backend_at(addr, Mode::Ok);
        }
    });
    prove(
        &lab,
        &run,
        "invalid-response",
        plan,
        "a_backend_sending_an_invalid_header_gets_its_header_shown",
    );
    assert_eq!(lab.get("/app"), 200);
}
