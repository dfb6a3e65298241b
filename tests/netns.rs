//! Faults that need root and a network of their own: each scenario runs in
//! a private network namespace (`unshare -n`), so firewall rules and
//! sysctls never touch the host. Skipped, saying so, when not root or when
//! the tools are missing; CI runs as root with them installed.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Runs `fixtures/netns/<script>` in a new network namespace and returns
/// the statuses nginx answered and the doctor's JSON report.
fn scenario(script: &str) -> Option<(String, Value, String)> {
    let missing: Vec<&str> = ["unshare", "iptables", "curl", "python3"]
        .into_iter()
        .filter(|t| nginx_doctor::probe::command::locate(t).is_none())
        .collect();
    if !nix::unistd::geteuid().is_root() || !missing.is_empty() {
        eprintln!("skipped {script}: needs root and {missing:?}");
        return None;
    }
    let _serial = crate::support::lab::Serial::take();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/netns")
        .join(script);
    let out = Command::new("unshare")
        // A private mount namespace too, for scenarios that bind-mount
        // their own /etc/hosts.
        .args(["--net", "--mount", "bash"])
        .arg(&path)
        .env("DIR", dir.path())
        .env("DOCTOR", env!("CARGO_BIN_EXE_nginx-doctor"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run the scenario");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap_or_default();
    let report = serde_json::from_str(&read("report.json")).unwrap_or(Value::Null);
    Some((read("statuses"), report, read("error.log")))
}

fn first_finding(report: &Value) -> &str {
    report["findings"][0]["id"].as_str().unwrap_or("(none)")
}

fn evidence(report: &Value) -> String {
    report["findings"][0]["evidence"].to_string()
}

#[test]
fn exhausted_local_ports_are_ephemeral_ports_exhausted() {
    let Some((statuses, report, log)) = scenario("ephemeral-ports.sh") else {
        return;
    };
    assert_eq!(statuses.trim(), "502", "{log}");
    assert!(
        log.contains("(99: Cannot assign requested address)"),
        "{log}"
    );
    assert_eq!(
        first_finding(&report),
        "ephemeral-ports-exhausted",
        "{report:#}"
    );
    assert!(
        evidence(&report).contains("(99: Cannot assign requested address)"),
        "{report:#}"
    );
}

#[test]
fn rejected_port_is_firewall_blocked() {
    let Some((statuses, report, log)) = scenario("firewall-reject.sh") else {
        return;
    };
    assert_eq!(statuses.trim(), "502", "{log}");
    assert!(log.contains("(113: No route to host)"), "{log}");
    assert_eq!(first_finding(&report), "firewall-blocked", "{report:#}");
    assert!(
        evidence(&report).contains("REJECT"),
        "the rule is quoted: {report:#}"
    );
}

#[test]
fn dropped_port_is_firewall_blocked() {
    let Some((statuses, report, log)) = scenario("firewall-drop.sh") else {
        return;
    };
    assert_eq!(statuses.trim(), "504", "{log}");
    assert!(
        log.contains("upstream timed out (110: Connection timed out) while connecting to upstream"),
        "{log}"
    );
    assert_eq!(first_finding(&report), "firewall-blocked", "{report:#}");
    assert!(
        evidence(&report).contains("DROP"),
        "the rule is quoted: {report:#}"
    );
}

#[test]
fn moved_backend_behind_a_name_is_upstream_stale_dns() {
    let Some((statuses, report, log)) = scenario("stale-dns.sh") else {
        return;
    };
    assert_eq!(statuses.trim(), "502", "{log}");
    assert!(
        log.contains("upstream: \"http://127.0.0.2:9050/api/orders\""),
        "{log}"
    );
    assert_eq!(first_finding(&report), "upstream-stale-dns", "{report:#}");
    assert!(
        evidence(&report).contains("app resolves to 127.0.0.3 now"),
        "{report:#}"
    );
}
