//! Name resolution between nginx and its backend, fixed by following the report. Each
//! test runs in private network and mount namespaces: its own loopback, its own
//! /etc/hosts and /etc/resolv.conf (bind-mounted over the host's, which never change),
//! and a DNS server of its own on 127.0.0.53. It breaks resolution for real, proves nginx
//! fails, runs the diagnosis, does exactly what the fix says (the reload, the edit at the
//! file:line given, `nginx -t`), and the failing request must then succeed with no new
//! failure of that upstream logged.

use crate::support::backend::dns::{Zone, start_zone};
use crate::support::backend::{Backend, Mode};
use crate::support::doctor::DoctorRun;
use crate::support::follow::{self, Followed};
use crate::support::isolate::in_netns;
use crate::support::{Lab, Pass};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where each test's DNS server listens: what its /etc/resolv.conf names.
const NAMESERVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 53);
const NAME: &str = "app.test";

fn isolated(name: &str, scenario: impl FnOnce()) {
    in_netns(
        &format!("dns_fixes::{name}"),
        &["-m"],
        &["mount", "getent"],
        scenario,
    );
}

/// Writes `content` to a lab file and bind-mounts it over `target` (in this test's
/// mount namespace only); later writes to the lab file show through.
fn bind_over(lab: &Lab, target: &str, content: &str) -> std::path::PathBuf {
    let name = target.trim_start_matches('/').replace('/', "-");
    let file = lab.path(&name);
    std::fs::write(&file, content).expect("write the file to bind");
    let status = Command::new("mount")
        .arg("--bind")
        .arg(&file)
        .arg(target)
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "mount --bind over {target}"
    );
    file
}

/// A DNS server on [`NAMESERVER`] that /etc/resolv.conf names, knowing `NAME` as `ip`.
fn dns(lab: &Lab, ip: Ipv4Addr) -> (Backend, Zone) {
    let zone = Zone::default();
    zone.set(NAME, ip);
    let server = start_zone(SocketAddr::from((NAMESERVER, 53)), zone.clone()).expect("DNS");
    bind_over(
        lab,
        "/etc/resolv.conf",
        &format!("nameserver {NAMESERVER}\n"),
    );
    (server, zone)
}

/// An HTTP backend on `ip`, at the port given (0: any).
fn backend_on(ip: Ipv4Addr, port: u16) -> Backend {
    Backend::start_at(SocketAddr::from((ip, port)), Mode::Ok).expect("start backend")
}

fn diagnose(lab: &Lab, id: &str) -> DoctorRun {
    let run = lab.doctor(&["--auto", "--format", "json"]);
    assert_eq!(run.status, 1, "a fault\n{run}");
    run.assert_first(id);
    crate::clean_words::assert_clean(lab, &run);
    run
}

/// Follows the fix, then asserts the request succeeds, no new failure naming
/// `upstream` was logged, and the curl verify line prints 200.
fn follow_and_check(lab: &Lab, run: &DoctorRun, id: &str, upstream: &str) -> Followed {
    let mark = lab.error_log().len();
    let done = follow::follow(lab, run, id);
    assert_eq!(
        lab.get("/app"),
        200,
        "the request succeeds after the fix\n{run}"
    );
    let new = follow::new_failures(lab, mark, upstream);
    assert!(new.is_empty(), "new failures after the fix: {new:#?}");
    let verified = follow::verify(lab, run, id);
    let curl = verified.iter().find(|(l, _)| l.starts_with("curl"));
    assert_eq!(
        curl.map(|(_, o)| o.stdout.trim()),
        Some("200"),
        "{verified:#?}"
    );
    for (line, out) in &verified {
        assert_eq!(out.status, 0, "verify {line:?}\n{out}");
    }
    done
}

#[test]
fn a_name_moved_in_etc_hosts_is_fixed_by_the_printed_reload() {
    isolated(
        "a_name_moved_in_etc_hosts_is_fixed_by_the_printed_reload",
        || {
            let lab = Lab::new();
            let app = backend_on(Ipv4Addr::new(127, 0, 0, 3), 0);
            let port = app.addr().port();
            let hosts = bind_over(
                &lab,
                "/etc/hosts",
                &format!("127.0.0.1 localhost\n127.0.0.2 {NAME}\n"),
            );
            lab.nginx(|c| c.location("/", Pass::proxy(format!("http://{NAME}:{port}"))));
            std::fs::write(&hosts, format!("127.0.0.1 localhost\n127.0.0.3 {NAME}\n"))
                .expect("move");
            assert_eq!(lab.get("/app"), 502);
            lab.error_log_line(&format!("upstream: \"http://127.0.0.2:{port}/app\""));

            let run = diagnose(&lab, "upstream-stale-dns");
            run.assert_evidence_quotes("upstream-stale-dns", "app.test resolves to 127.0.0.3 now");
            run.assert_evidence_quotes("upstream-stale-dns", "it is written in /etc/hosts:2");
            let done = follow_and_check(&lab, &run, "upstream-stale-dns", "127.0.0.2");
            assert_eq!(done.ran.len(), 1, "only the reload: {done:?}");
            assert!(
                done.edited.is_empty(),
                "no resolver for a name in /etc/hosts: {done:?}"
            );
            assert!(
                done.advice.iter().any(|a| a.contains("never")),
                "says a resolver cannot help: {done:?}"
            );
        },
    );
}

#[test]
fn a_name_in_dns_gets_a_resolver_and_then_follows_a_move_without_a_reload() {
    isolated(
        "a_name_in_dns_gets_a_resolver_and_then_follows_a_move_without_a_reload",
        || {
            let lab = Lab::new();
            let (_dns, zone) = dns(&lab, Ipv4Addr::new(127, 0, 0, 2));
            bind_over(&lab, "/etc/hosts", "127.0.0.1 localhost\n");
            let first = backend_on(Ipv4Addr::new(127, 0, 0, 3), 0);
            let port = first.addr().port();
            lab.nginx(|c| c.location("/", Pass::proxy(format!("http://{NAME}:{port}"))));
            zone.set(NAME, Ipv4Addr::new(127, 0, 0, 3));
            assert_eq!(lab.get("/app"), 502);

            let run = diagnose(&lab, "upstream-stale-dns");
            let done = follow_and_check(&lab, &run, "upstream-stale-dns", "127.0.0.2");
            assert_eq!(done.edited.len(), 1, "the pass, with a resolver: {done:?}");

            // The next move: nginx must find it by itself, with no reload.
            let workers = lab.nginx_workers();
            let second = backend_on(Ipv4Addr::new(127, 0, 0, 4), port);
            zone.set(NAME, Ipv4Addr::new(127, 0, 0, 4));
            drop(first);
            let deadline = Instant::now() + Duration::from_secs(30);
            while lab.get("/app") != 200 {
                assert!(Instant::now() < deadline, "nginx never followed the move");
                std::thread::sleep(Duration::from_millis(200));
            }
            // 127.0.0.3 refuses now: the 200 came from the moved backend.
            assert_eq!(lab.nginx_workers(), workers, "no reload happened");
            drop(second);
        },
    );
}

/// A location passing to `NAME` through a variable, with `extra` directives.
fn variable_pass(port: u16, extra: Option<&str>) -> Pass {
    let pass = Pass::proxy(format!("http://$h:{port}")).with(&format!("set $h {NAME}"));
    match extra {
        Some(e) => pass.with(e),
        None => pass,
    }
}

#[test]
fn a_resolver_that_does_not_know_the_name_is_replaced_by_the_nameserver_that_does() {
    isolated(
        "a_resolver_that_does_not_know_the_name_is_replaced_by_the_nameserver_that_does",
        || {
            let lab = Lab::new();
            let app = lab.backend(Mode::Ok);
            let (_dns, _zone) = dns(&lab, Ipv4Addr::LOCALHOST);
            let nx = lab.backend(Mode::DnsNxdomain);
            lab.nginx(|c| {
                c.location(
                    "/",
                    variable_pass(app.port(), Some(&format!("resolver {nx}"))),
                )
            });
            assert_eq!(lab.get("/app"), 502);
            lab.error_log_line("app.test could not be resolved (3: Host not found)");

            let run = diagnose(&lab, "upstream-dns-failed");
            run.assert_evidence_quotes("upstream-dns-failed", "answers: no such name (NXDOMAIN)");
            let done = follow_and_check(&lab, &run, "upstream-dns-failed", NAME);
            assert_eq!(done.edited.len(), 1, "the resolver line: {done:?}");
        },
    );
}

#[test]
fn a_missing_resolver_is_added_naming_the_nameserver_that_knows_the_name() {
    isolated(
        "a_missing_resolver_is_added_naming_the_nameserver_that_knows_the_name",
        || {
            let lab = Lab::new();
            let app = lab.backend(Mode::Ok);
            let (_dns, _zone) = dns(&lab, Ipv4Addr::LOCALHOST);
            lab.nginx(|c| c.location("/", variable_pass(app.port(), None)));
            assert_eq!(lab.get("/app"), 502);
            lab.error_log_line("no resolver defined to resolve app.test");

            let run = diagnose(&lab, "upstream-dns-failed");
            let done = follow_and_check(&lab, &run, "upstream-dns-failed", NAME);
            assert_eq!(done.edited.len(), 1, "a resolver before the pass: {done:?}");
            let conf = std::fs::read_to_string(lab.path("nginx.conf")).expect("nginx.conf");
            assert!(
                conf.contains(&format!("resolver {NAMESERVER} valid=10s;")),
                "{conf}"
            );
        },
    );
}
