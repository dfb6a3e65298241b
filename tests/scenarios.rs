//! Real-fault scenarios beyond `real_host`: one per cause (or variant of one) that the
//! catalogue's §6 reproduces on loopback. Each test builds the fault in a private lab,
//! proves it is real — the status nginx answered and its error-log line, as the
//! catalogue's results matrix has them — then runs `nginx-doctor --auto --format json`
//! and checks the diagnosis: the first finding's cause id and the evidence it quotes.
//!
//! The packet-filter fault runs its lab inside a private network namespace (see
//! `isolated`), so the host's filter never changes; it needs root and nftables and says
//! so when skipped (`netns` covers the iptables variants, port exhaustion and stale
//! DNS). With `DOCTOR_TIMING=1` every scenario also prints the median wall time of five
//! more doctor runs (`time_doctor`), which `bench/scenarios.sh` collects.

use crate::support::backend::{Backend, Mode, tls};
use crate::support::doctor::DoctorRun;
use crate::support::isolate;
use crate::support::lab::is_root;
use crate::support::net::free_port;
use crate::support::{Lab, Pass, Pool};
use std::fs;
use std::net::{IpAddr, Ipv6Addr};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The location every PHP scenario passes through.
const PHP: &str = "~ \\.php$";
/// Set to print each scenario's median `--auto` time.
const TIMING: &str = "DOCTOR_TIMING";
/// Doctor runs per timing; the median is printed.
const TIMING_RUNS: usize = 5;

/// Runs the doctor in automation mode and checks what every report must satisfy.
fn diagnose(lab: &Lab, exit: i32) -> DoctorRun {
    let run = lab.doctor(&["--auto", "--format", "json"]);
    assert_eq!(run.status, exit, "exit status\n{run}");
    assert_eq!(run.json["schema"], 1, "schema\n{run}");
    time_doctor(lab);
    crate::clean_words::assert_clean(lab, &run);
    run
}

/// With `DOCTOR_TIMING` set, runs `--auto` five more times on the lab as it is and prints
/// `timing: <test> median_ms=<n>` (the test's name is its thread's). Never asserted.
/// Public so that every lab scenario (`real_host` too) can be timed the same way.
pub fn time_doctor(lab: &Lab) {
    if std::env::var_os(TIMING).is_none() {
        return;
    }
    let mut ms: Vec<u128> = (0..TIMING_RUNS)
        .map(|_| {
            lab.doctor(&["--auto", "--format", "json"])
                .elapsed
                .as_millis()
        })
        .collect();
    ms.sort_unstable();
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("unnamed");
    println!("timing: {name} median_ms={}", ms[TIMING_RUNS / 2]);
}

#[test]
fn header_name_with_a_space_is_invalid_upstream_response() {
    let lab = Lab::new();
    let backend = lab.backend(Mode::BadHeader);
    lab.nginx(|c| c.location("/", Pass::proxy_http(backend)));

    assert_eq!(lab.get("/app"), 502);
    let quote = lab.error_log_message("upstream sent invalid header: \"Bad\\x20...\"");

    let run = diagnose(&lab, 1);
    run.assert_first("invalid-upstream-response");
    run.assert_evidence_quotes("invalid-upstream-response", &quote);
}

#[test]
fn non_numeric_php_status_is_invalid_upstream_response() {
    let lab = Lab::new();
    lab.write_www(
        "badstatus.php",
        "<?php header('Status: abc'); echo \"x\\n\";\n",
    );
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));

    assert_eq!(lab.get("/badstatus.php"), 502);
    let quote = lab.error_log_message("upstream sent invalid status \"abc\"");

    let run = diagnose(&lab, 1);
    run.assert_first("invalid-upstream-response");
    run.assert_evidence_quotes("invalid-upstream-response", &quote);
}

#[test]
fn fastcgi_pass_to_an_http_server_is_protocol_mismatch() {
    let lab = Lab::new();
    let backend = lab.backend(Mode::Strict);
    lab.nginx(|c| c.location("/", Pass::fastcgi_to(backend)));

    assert_eq!(lab.get("/app"), 502);
    let quote = lab.error_log_message("upstream sent unsupported FastCGI protocol version: 72");

    let run = diagnose(&lab, 1);
    run.assert_first("pass-protocol-mismatch");
    run.assert_evidence_quotes("pass-protocol-mismatch", &quote);
    run.assert_evidence_quotes("pass-protocol-mismatch", "\"HTTP/1.1 400 Bad Request\"");
    let summary = &run.finding("pass-protocol-mismatch")["fix"]["summary"];
    assert_eq!(
        summary.as_str(),
        Some(
            format!("Use the pass directive that speaks HTTP: proxy_pass http://{backend};")
                .as_str()
        ),
        "{run}"
    );
}

#[test]
fn https_to_a_plain_http_port_is_protocol_mismatch() {
    let lab = Lab::new();
    let backend = lab.backend(Mode::Strict);
    lab.nginx(|c| c.location("/", Pass::proxy(format!("https://{backend}"))));

    assert_eq!(lab.get("/app"), 502);
    let quote = lab.error_log_message("SSL_do_handshake() failed");
    assert!(quote.contains("wrong version number"), "{quote}");

    let run = diagnose(&lab, 1);
    run.assert_first("pass-protocol-mismatch");
    run.assert_evidence_quotes("pass-protocol-mismatch", &quote);
}

#[test]
fn untrusted_backend_certificate_is_upstream_tls_failed() {
    if !tls::available() {
        eprintln!("skipped untrusted_backend_certificate: no openssl command to make certificates");
        return;
    }
    let lab = Lab::new();
    let other_ca = tls::self_signed(lab.dir(), "other-ca", "other.test").expect("make a CA");
    let backend = lab.backend(Mode::Tls);
    lab.nginx(|c| {
        c.location(
            "/",
            Pass::proxy(format!("https://{backend}"))
                .with("proxy_ssl_verify on")
                .with(&format!(
                    "proxy_ssl_trusted_certificate {}",
                    other_ca.display()
                )),
        )
    });

    assert_eq!(lab.get("/app"), 502);
    let quote = lab.error_log_message("upstream SSL certificate verify error: (18:self");

    let run = diagnose(&lab, 1);
    run.assert_first("upstream-tls-failed");
    run.assert_evidence_quotes("upstream-tls-failed", &quote);
}

/// A location passing to a host name held in a variable: nginx resolves it per request.
fn variable_host(extra: &str) -> Pass {
    let pass = Pass::proxy("http://$h:80").with("set $h nonexistent.invalid");
    if extra.is_empty() {
        pass
    } else {
        pass.with(extra)
    }
}

#[test]
fn nxdomain_from_the_resolver_is_upstream_dns_failed() {
    let lab = Lab::new();
    let dns = lab.backend(Mode::DnsNxdomain);
    lab.nginx(|c| c.location("/", variable_host(&format!("resolver {dns}"))));

    assert_eq!(lab.get("/app"), 502);
    let quote =
        lab.error_log_message("nonexistent.invalid could not be resolved (3: Host not found)");

    let run = diagnose(&lab, 1);
    run.assert_first("upstream-dns-failed");
    run.assert_evidence_quotes("upstream-dns-failed", &quote);
}

#[test]
fn variable_upstream_without_resolver_is_upstream_dns_failed() {
    let lab = Lab::new();
    lab.nginx(|c| c.location("/", variable_host("")));

    assert_eq!(lab.get("/app"), 502);
    let quote = lab.error_log_message("no resolver defined to resolve nonexistent.invalid");

    let run = diagnose(&lab, 1);
    run.assert_first("upstream-dns-failed");
    run.assert_evidence_quotes("upstream-dns-failed", &quote);
}

#[test]
fn dead_upstream_group_is_backend_down_then_no_live_upstreams() {
    let lab = Lab::new();
    let (one, two) = (free_port(), free_port());
    lab.nginx(|c| {
        c.http(&format!("upstream dead2 {{ server {one}; server {two}; }}"))
            .location("/", Pass::proxy("http://dead2"))
    });

    // The first request marks both servers failed, the second finds none left.
    assert_eq!(lab.get("/app"), 502);
    assert_eq!(lab.get("/app"), 502);
    let refused = lab.error_log_message("connect() failed (111: Connection refused)");
    let no_live = lab.error_log_message("no live upstreams while connecting to upstream");

    let run = diagnose(&lab, 1);
    run.assert_first("backend-down");
    run.assert_evidence_quotes("backend-down", &refused);
    let secondary = run.finding("no-live-upstreams");
    assert_eq!(secondary["primary"], false, "{run}");
    run.assert_evidence_quotes("no-live-upstreams", &no_live);
}

#[test]
fn post_on_a_reused_keepalive_connection_is_keepalive_race() {
    let lab = Lab::new();
    let backend = lab.backend(Mode::KeepaliveClose);
    lab.nginx(|c| {
        c.http(&format!("upstream ka {{ server {backend}; keepalive 4; }}"))
            .location(
                "/",
                Pass::proxy("http://ka")
                    .with("proxy_http_version 1.1")
                    .with("proxy_set_header Connection \"\""),
            )
    });

    // GET #2 reuses the connection GET #1 left idle, finds it closing, and nginx retries
    // it on a new one; a POST is not retried (catalogue G1).
    assert_eq!(lab.get("/ka"), 200);
    assert_eq!(lab.get("/ka"), 200);
    assert_eq!(lab.post("/ka"), 502);
    let line = lab.error_log_line("\"POST /ka HTTP/1.0\"");
    assert!(
        line.contains("upstream prematurely closed connection"),
        "{line}"
    );

    let run = diagnose(&lab, 1);
    run.assert_first("upstream-keepalive-race");
    run.assert_evidence_quotes("upstream-keepalive-race", "\"POST /ka HTTP/1.0\"");
    run.assert_evidence_quotes("upstream-keepalive-race", "keepalive 4");
}

#[test]
fn php_fpm_tcp_pool_stopped_is_backend_down() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::tcp("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(
        lab.get("/ok.php"),
        200,
        "the page worked before php-fpm stopped"
    );
    lab.stop(fpm.pid);

    assert_eq!(lab.get("/ok.php"), 502);
    let line = lab.error_log_line("connect() failed (111: Connection refused)");
    assert!(
        line.contains(&format!("fastcgi://{}", fpm.tcp_addr())),
        "{line}"
    );
    let quote = lab.error_log_message("connect() failed (111: Connection refused)");

    let run = diagnose(&lab, 1);
    run.assert_first("backend-down");
    run.assert_evidence_quotes("backend-down", &quote);
}

#[test]
fn fastcgi_pass_to_another_socket_of_the_pool_dir_is_wrong_address() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    let elsewhere = lab.path("php8.1-fpm.sock");
    lab.nginx(|c| {
        c.location(
            PHP,
            Pass::fastcgi_to(format!("unix:{}", elsewhere.display())),
        )
    });

    assert_eq!(lab.get("/ok.php"), 502);
    let quote = lab.error_log_message(&format!(
        "connect() to unix:{} failed (2: No such file or directory)",
        elsewhere.display()
    ));

    let run = diagnose(&lab, 1);
    run.assert_first("backend-wrong-address");
    run.assert_evidence_quotes("backend-wrong-address", &quote);
    let real = fpm.socket_path().display().to_string();
    run.assert_evidence_quotes("backend-wrong-address", &real);
}

#[test]
fn backend_on_ipv6_loopback_only_is_wrong_address() {
    let Ok(backend) = Backend::start_on(IpAddr::V6(Ipv6Addr::LOCALHOST), Mode::Ok) else {
        eprintln!("skipped backend_on_ipv6_loopback_only: no IPv6 loopback on this host");
        return;
    };
    let port = backend.addr().port();
    let lab = Lab::new();
    lab.nginx(|c| c.location("/", Pass::proxy(format!("http://127.0.0.1:{port}"))));

    assert_eq!(lab.get("/app"), 502);
    let quote = lab.error_log_message("connect() failed (111: Connection refused)");

    let run = diagnose(&lab, 1);
    run.assert_first("backend-wrong-address");
    run.assert_evidence_quotes("backend-wrong-address", &quote);
    run.assert_evidence_quotes("backend-wrong-address", &format!("[::1]:{port}"));
}

#[test]
fn full_listen_backlog_is_pool_exhausted() {
    let lab = Lab::new();
    // One worker, and room for two waiting connections (Linux queues backlog + 1).
    let fpm = lab.php_fpm(Pool::unix("www").pm_static().max_children(1).backlog(1));
    lab.nginx(|c| {
        c.server("fastcgi_read_timeout 20s")
            .location(PHP, Pass::fastcgi(&fpm))
    });

    let statuses = lab.get_many("/sleep.php?s=1", 6);
    assert!(statuses.contains(&502), "statuses {statuses:?}");
    assert!(statuses.contains(&200), "statuses {statuses:?}");
    let quote = lab.error_log_message("failed (11: Resource temporarily unavailable)");

    let run = diagnose(&lab, 1);
    run.assert_first("backend-pool-exhausted");
    run.assert_evidence_quotes("backend-pool-exhausted", &quote);
    run.assert_evidence_quotes("backend-pool-exhausted", "pm.max_children = 1");
}

/// `secs` (Unix time) as nginx writes it, in local time: `2026/11/22 14:03:07`.
pub(crate) fn nginx_time(secs: u64) -> String {
    let out = Command::new("date")
        .args(["-d", &format!("@{secs}"), "+%Y/%m/%d %H:%M:%S"])
        .output()
        .expect("run date");
    assert!(out.status.success(), "date failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn only_old_502s_are_history_not_a_fault() {
    let lab = Lab::new();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let two_days_ago = nginx_time(now - 2 * 86_400);
    let old: String = (1..=3)
        .map(|n| {
            format!(
                "{two_days_ago} [error] 4242#4242: *{n} connect() failed (111: Connection refused) \
                 while connecting to upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", \
                 upstream: \"http://127.0.0.1:9/\", host: \"localhost\"\n"
            )
        })
        .collect();
    fs::write(lab.path("error.log"), old).expect("write old log lines");
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));

    assert_eq!(lab.get("/ok.php"), 200);
    assert!(
        lab.error_log().contains("(111: Connection refused)"),
        "old lines kept"
    );

    let run = diagnose(&lab, 0);
    assert_eq!(run.ids(), ["no-fault-found"], "{run}");
    run.assert_evidence_quotes("no-fault-found", "upstream failures before the window: 3,");
}

/// Why an isolated scenario cannot run here, if it cannot.
pub(crate) fn isolation_missing() -> Option<&'static str> {
    let works = |cmd: &mut Command| cmd.output().is_ok_and(|o| o.status.success());
    if !is_root() {
        return Some("needs root for a private network namespace");
    }
    if !works(Command::new("unshare").args(["-n", "true"])) {
        return Some("`unshare -n` does not work here");
    }
    if !works(Command::new("ip").arg("-V")) {
        return Some("needs the ip command (iproute2)");
    }
    if !works(Command::new("nft").arg("--version")) {
        return Some("needs the nft command (nftables)");
    }
    None
}

/// Runs `scenario` in a private network namespace (see `support::isolate`), where
/// loopback is brought up and the packet filter is the child's own.
fn isolated(test: &str, scenario: impl FnOnce()) {
    if isolate::inside() {
        let up = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status();
        assert!(up.is_ok_and(|s| s.success()), "ip link set lo up");
        return scenario();
    }
    if let Some(why) = isolation_missing() {
        eprintln!("skipped {test}: {why}");
        return;
    }
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    isolate::rerun_under(&["-n"], &format!("{module}::{test}"));
}

#[test]
fn reject_rule_on_a_listening_port_is_firewall_blocked() {
    isolated(
        "reject_rule_on_a_listening_port_is_firewall_blocked",
        reject_with_tcp_reset,
    );
}

/// A reject rule answering with a TCP reset: nginx sees 111 as if nothing listened
/// (catalogue §8.8), while the backend does listen. Runs in a private namespace.
fn reject_with_tcp_reset() {
    let lab = Lab::new();
    let backend = lab.backend(Mode::Ok);
    lab.nginx(|c| c.location("/", Pass::proxy_http(backend)));
    assert_eq!(lab.get("/app"), 200);

    let rule = format!("tcp dport {} reject with tcp reset", backend.port());
    let script = [
        "add table inet lab".to_string(),
        "add chain inet lab input { type filter hook input priority 0; }".to_string(),
        format!("add rule inet lab input {rule}"),
    ]
    .join("\n");
    fs::write(lab.path("rules.nft"), script).expect("write nft script");
    let nft = Command::new("nft")
        .arg("-f")
        .arg(lab.path("rules.nft"))
        .status();
    assert!(nft.is_ok_and(|s| s.success()), "nft -f rules.nft");

    assert_eq!(lab.get("/app"), 502);
    let quote = lab.error_log_message("connect() failed (111: Connection refused)");

    let run = diagnose(&lab, 1);
    run.assert_first("firewall-blocked");
    run.assert_evidence_quotes("firewall-blocked", &quote);
    run.assert_evidence_quotes("firewall-blocked", &rule);
}
