//! A packet filter between nginx and a backend that listens, fixed by following the
//! report: each test runs in a private network namespace (so the rules it adds never
//! touch this host's), blocks the backend with a real rule, proves nginx fails, runs the
//! diagnosis, then does exactly what the fix says — the `iptables -D` with the rule's
//! own words, the `nft delete rule ... handle N`, the accept rule for a drop policy —
//! and the failing request must succeed with no new failure logged, while the verify
//! lines show the rule gone.

use crate::support::backend::Mode;
use crate::support::doctor::DoctorRun;
use crate::support::follow::{self, Followed};
use crate::support::isolate::in_netns;
use crate::support::{Lab, Pass};
use std::net::SocketAddr;
use std::process::Command;

/// Runs the test `name` of this module in a private network namespace.
fn isolated(name: &str, scenario: impl FnOnce()) {
    in_netns(
        &format!("firewall_fixes::{name}"),
        &[],
        &["iptables", "nft"],
        scenario,
    );
}

/// Runs `argv` (a packet-filter command that sets up the fault); panics when it fails.
fn sh(argv: &[&str]) {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .expect("run the setup command");
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether `program` is installed here, which a test of the rules it leaves behind
/// needs it not to be (it would manage them); says so when it skips.
fn installed(program: &str) -> bool {
    let found = ["/usr/bin", "/usr/sbin"]
        .iter()
        .any(|d| std::path::Path::new(d).join(program).exists());
    if found {
        eprintln!("skipped: {program} is installed here, and would manage its own rules");
    }
    found
}

/// A backend that answers, behind nginx, working before the fault.
fn lab_with_backend() -> (Lab, SocketAddr) {
    let lab = Lab::new();
    let backend = lab.backend(Mode::Ok);
    lab.nginx(|c| {
        c.location(
            "/",
            Pass::proxy_http(backend).with("proxy_connect_timeout 2s"),
        )
    });
    assert_eq!(lab.get("/app"), 200, "the backend answered before the rule");
    (lab, backend)
}

/// Diagnoses the lab (a fault: exit 1) and checks which conclusion of
/// `firewall-blocked` it reached.
fn diagnose(lab: &Lab, node: &str) -> DoctorRun {
    let run = lab.doctor(&["--auto", "--format", "json"]);
    assert_eq!(run.status, 1, "a fault\n{run}");
    run.assert_first("firewall-blocked");
    assert_eq!(run.finding("firewall-blocked")["node"], node, "{run}");
    crate::clean_words::assert_clean(lab, &run);
    run
}

/// Follows the fix, then asserts the request succeeds, nothing new failed for the
/// backend, and the verify lines print no `listed` rule (when one was removed) and a 200.
fn follow_and_check(
    lab: &Lab,
    run: &DoctorRun,
    backend: SocketAddr,
    listed: Option<&str>,
) -> Followed {
    let mark = lab.error_log().len();
    let done = follow::follow(lab, run, "firewall-blocked");
    assert_eq!(
        lab.get("/app"),
        200,
        "the request succeeds after the fix\n{run}"
    );
    let upstream = format!("upstream: \"http://{backend}");
    let new = follow::new_failures(lab, mark, &upstream);
    assert!(new.is_empty(), "new failures after the fix: {new:#?}");
    let verified = follow::verify(lab, run, "firewall-blocked");
    assert!(!verified.is_empty(), "verify lines\n{run}");
    for (line, out) in &verified {
        assert_eq!(out.status, 0, "verify {line:?}\n{out}");
        let shown = listed.is_some_and(|rule| out.stdout.contains(rule));
        assert!(!shown, "{line:?} still shows the rule:\n{out}");
    }
    let curl = verified.iter().find(|(l, _)| l.starts_with("curl"));
    assert_eq!(
        curl.map(|(_, o)| o.stdout.trim()),
        Some("200"),
        "{verified:#?}"
    );
    done
}

#[test]
fn an_iptables_reject_is_deleted_as_listed_and_the_502_ends() {
    isolated(
        "an_iptables_reject_is_deleted_as_listed_and_the_502_ends",
        || {
            let (lab, backend) = lab_with_backend();
            let port = backend.port().to_string();
            let reject = [
                "-p",
                "tcp",
                "--dport",
                &port,
                "-j",
                "REJECT",
                "--reject-with",
                "icmp-host-prohibited",
            ];
            sh(&[&["iptables", "-A", "INPUT"][..], &reject].concat());
            assert_eq!(lab.get("/app"), 502);
            lab.error_log_line("(113: No route to host)");

            let run = diagnose(&lab, "firewall-iptables-rule");
            let listed = format!(
                "-A INPUT -p tcp -m tcp --dport {port} -j REJECT --reject-with icmp-host-prohibited"
            );
            run.assert_evidence_quotes("firewall-blocked", &listed);
            let done = follow_and_check(&lab, &run, backend, Some(&listed));
            assert_eq!(done.ran.len(), 1, "one command: {done:?}");
            assert_eq!(
                done.ran[0][..5],
                ["iptables", "-t", "filter", "-D", "INPUT"]
            );
        },
    );
}

#[test]
fn an_iptables_drop_is_deleted_as_listed_and_the_504_ends() {
    isolated(
        "an_iptables_drop_is_deleted_as_listed_and_the_504_ends",
        || {
            let (lab, backend) = lab_with_backend();
            let port = backend.port().to_string();
            sh(&[
                "iptables", "-A", "INPUT", "-p", "tcp", "--dport", &port, "-j", "DROP",
            ]);
            assert_eq!(lab.get("/app"), 504);
            lab.error_log_line("upstream timed out (110: Connection timed out) while connecting");

            let run = diagnose(&lab, "firewall-iptables-rule");
            let listed = format!("-A INPUT -p tcp -m tcp --dport {port} -j DROP");
            run.assert_evidence_quotes("firewall-blocked", &listed);
            follow_and_check(&lab, &run, backend, Some(&listed));
        },
    );
}

#[test]
fn an_nft_tcp_reset_is_deleted_by_its_handle_and_the_502_ends() {
    isolated(
        "an_nft_tcp_reset_is_deleted_by_its_handle_and_the_502_ends",
        || {
            let (lab, backend) = lab_with_backend();
            let port = backend.port();
            sh(&["nft", "add table inet lab"]);
            sh(&[
                "nft",
                "add chain inet lab input { type filter hook input priority 0; }",
            ]);
            sh(&[
                "nft",
                &format!("add rule inet lab input tcp dport {port} counter reject with tcp reset"),
            ]);
            assert_eq!(lab.get("/app"), 502);
            lab.error_log_line("(111: Connection refused)");

            let run = diagnose(&lab, "firewall-nft-rule");
            let rule = format!("tcp dport {port} counter");
            run.assert_evidence_quotes("firewall-blocked", &rule);
            let done = follow_and_check(&lab, &run, backend, Some(&format!("dport {port}")));
            assert_eq!(
                done.ran[0][..6],
                ["nft", "delete", "rule", "inet", "lab", "input"],
                "{done:?}"
            );
        },
    );
}

#[test]
fn a_drop_policy_gets_accept_rules_for_the_backend_and_its_answers() {
    isolated(
        "a_drop_policy_gets_accept_rules_for_the_backend_and_its_answers",
        || {
            let (lab, backend) = lab_with_backend();
            // Only nginx's own port is open: the backend's port and every answer of a
            // connection nginx opens meet the drop policy.
            let nginx_port = lab.nginx_info().port.to_string();
            sh(&[
                "iptables",
                "-A",
                "INPUT",
                "-p",
                "tcp",
                "--dport",
                &nginx_port,
                "-j",
                "ACCEPT",
            ]);
            sh(&[
                "iptables",
                "-A",
                "INPUT",
                "-p",
                "tcp",
                "--sport",
                &nginx_port,
                "-j",
                "ACCEPT",
            ]);
            sh(&["iptables", "-P", "INPUT", "DROP"]);
            assert_eq!(lab.get("/app"), 504);

            let run = diagnose(&lab, "firewall-iptables-policy");
            run.assert_evidence_quotes("firewall-blocked", "-P INPUT DROP");
            let done = follow_and_check(&lab, &run, backend, None);
            assert_eq!(
                done.ran.len(),
                2,
                "the backend's port, then its answers: {done:?}"
            );
        },
    );
}

#[test]
fn an_nft_drop_policy_gets_accept_rules_for_the_backend_and_its_answers() {
    isolated(
        "an_nft_drop_policy_gets_accept_rules_for_the_backend_and_its_answers",
        || {
            let (lab, backend) = lab_with_backend();
            // As above, with nftables: only nginx's own port passes the chain's policy.
            let nginx_port = lab.nginx_info().port;
            sh(&["nft", "add table inet lab"]);
            sh(&[
                "nft",
                "add chain inet lab input { type filter hook input priority 0; policy drop; }",
            ]);
            for dir in ["dport", "sport"] {
                sh(&[
                    "nft",
                    &format!("add rule inet lab input tcp {dir} {nginx_port} accept"),
                ]);
            }
            assert_eq!(lab.get("/app"), 504);

            let run = diagnose(&lab, "firewall-nft-policy");
            run.assert_evidence_quotes("firewall-blocked", "has policy drop");
            let done = follow_and_check(&lab, &run, backend, None);
            assert_eq!(
                done.ran.len(),
                2,
                "the backend's port, then its answers: {done:?}"
            );
        },
    );
}

#[test]
fn firewalld_rules_left_without_firewalld_lose_their_table_and_the_502_ends() {
    isolated(
        "firewalld_rules_left_without_firewalld_lose_their_table_and_the_502_ends",
        || {
            if installed("firewall-cmd") {
                return;
            }
            let (lab, backend) = lab_with_backend();
            // What a killed or removed firewalld leaves behind: its table, and a reject.
            sh(&["nft", "add table inet firewalld"]);
            sh(&[
                "nft",
                "add chain inet firewalld filter_INPUT { type filter hook input priority 10; }",
            ]);
            sh(&[
                "nft",
                &format!(
                    "add rule inet firewalld filter_INPUT tcp dport {} reject with tcp reset",
                    backend.port()
                ),
            ]);
            assert_eq!(lab.get("/app"), 502);

            let run = diagnose(&lab, "firewall-firewalld-rule");
            let done = follow_and_check(&lab, &run, backend, None);
            assert_eq!(
                done.ran,
                [["nft", "delete", "table", "inet", "firewalld"]],
                "{done:?}"
            );
        },
    );
}

#[test]
fn ufw_chains_left_without_ufw_lose_the_rule_as_listed_and_the_502_ends() {
    isolated(
        "ufw_chains_left_without_ufw_lose_the_rule_as_listed_and_the_502_ends",
        || {
            if installed("ufw") {
                return;
            }
            let (lab, backend) = lab_with_backend();
            let port = backend.port().to_string();
            // A chain of ufw's name with a reject in it, and no ufw to manage it.
            sh(&["iptables", "-N", "ufw-user-input"]);
            sh(&["iptables", "-A", "INPUT", "-j", "ufw-user-input"]);
            sh(&[
                "iptables",
                "-A",
                "ufw-user-input",
                "-p",
                "tcp",
                "--dport",
                &port,
                "-j",
                "REJECT",
                "--reject-with",
                "tcp-reset",
            ]);
            assert_eq!(lab.get("/app"), 502);

            let run = diagnose(&lab, "firewall-iptables-rule");
            let listed = format!(
                "-A ufw-user-input -p tcp -m tcp --dport {port} -j REJECT --reject-with tcp-reset"
            );
            let done = follow_and_check(&lab, &run, backend, Some(&listed));
            assert_eq!(
                done.ran[0][..5],
                ["iptables", "-t", "filter", "-D", "ufw-user-input"],
                "{done:?}"
            );
        },
    );
}
