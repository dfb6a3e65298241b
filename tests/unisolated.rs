//! Hosts where `nginx -t` cannot be isolated: not root (no mount
//! namespace), or root without CAP_SYS_ADMIN (a container). There the
//! configuration test runs only when nothing it would create or write is
//! writable by the user; otherwise it is not run (`would-write`) and the
//! report says why, with the command to run by hand. Either way nothing
//! changes, and a healthy verdict says the configuration was not tested.
//!
//! They need root to drop privileges; elsewhere they say so and pass.

use std::fs::{self, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::degraded::doctor_as_nobody;
use crate::read_only::{config_test, stopped_nginx};
use crate::support::doctor::{BINARY, DOCTOR_TIMEOUT, DoctorRun, run_bounded};
use crate::support::faults::PHP;
use crate::support::lab::is_root;
use crate::support::tree::{self, assert_unchanged};
use crate::support::{Lab, Pass, Pool};

/// A running nginx (started as root) serving PHP without a fault.
fn healthy_lab() -> Lab {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get("/ok.php"), 200);
    lab
}

/// `--auto` as nobody on the lab; None (and a note) where that cannot run.
/// Proves that the run changed nothing.
fn diagnose_as_nobody(lab: &Lab) -> Option<DoctorRun> {
    let conf = lab.path("nginx.conf").display().to_string();
    let before = tree::lab_and_host(lab.dir());
    let run = doctor_as_nobody(&["--auto", "--format", "json", "--conf", &conf], lab.dir())?;
    assert_unchanged(&before, &tree::lab_and_host(lab.dir()), &run);
    Some(run)
}

fn text<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

#[test]
fn as_nobody_the_config_test_runs_where_it_can_write_nothing() {
    let lab = healthy_lab();
    let Some(run) = diagnose_as_nobody(&lab) else {
        return;
    };
    let test = config_test(&run);
    assert_eq!(
        test["status"], "failed",
        "nobody may not open the pid file\n{run}"
    );
    assert!(
        text(test, "excerpt").contains("(13: Permission denied)"),
        "{run}"
    );
    let how = text(test, "reason");
    assert!(
        how.starts_with("not isolated (a private mount namespace needs root)"),
        "{run}"
    );
    assert!(how.contains("can create or write none of the"), "{run}");
}

#[test]
fn a_healthy_host_whose_config_test_gave_no_verdict_says_so() {
    let lab = healthy_lab();
    let Some(run) = diagnose_as_nobody(&lab) else {
        return;
    };
    run.assert_first("no-fault-found");
    let finding = run.finding("no-fault-found");
    assert_eq!(finding["confidence"], "medium", "{run}");
    assert!(
        text(finding, "title").contains("the configuration was not tested"),
        "{run}"
    );
    run.assert_evidence_quotes("no-fault-found", "(13: Permission denied)");
}

#[test]
fn as_nobody_a_config_test_that_could_write_is_not_run() {
    let lab = healthy_lab();
    let log = lab.path("error.log");
    fs::set_permissions(&log, Permissions::from_mode(0o666)).expect("chmod error.log");
    let Some(run) = diagnose_as_nobody(&lab) else {
        return;
    };
    let test = config_test(&run);
    assert_eq!(test["status"], "would-write", "{run}");
    let why = text(test, "reason");
    let could = format!("it could create or write {}", log.display());
    assert!(why.contains(&could), "{run}");
    assert!(
        why.contains("run it by hand where that is acceptable: /usr/sbin/nginx -t"),
        "{run}"
    );
    run.assert_evidence_quotes("no-fault-found", "nginx -t would-write: not run");
}

/// `--auto` as root without CAP_SYS_ADMIN (no mount namespace: a
/// container) on the lab's configuration; None (and a note) where that
/// cannot run. Proves that the run changed nothing.
pub(crate) fn diagnose_without_cap_sys_admin(lab: &Lab) -> Option<DoctorRun> {
    if !is_root() || !Path::new(SETPRIV).exists() {
        eprintln!("skipped: needs root and setpriv to drop CAP_SYS_ADMIN");
        return None;
    }
    let conf = lab.path("nginx.conf").display().to_string();
    let args: Vec<String> = [
        "--bounding-set=-sys_admin",
        BINARY,
        "--auto",
        "--format",
        "json",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .chain(["--conf".to_owned(), conf])
    .collect();
    let before = tree::lab_and_host(lab.dir());
    let run = run_bounded(SETPRIV, &args, lab.dir(), DOCTOR_TIMEOUT);
    assert_unchanged(&before, &tree::lab_and_host(lab.dir()), &run);
    Some(run)
}

const SETPRIV: &str = "/usr/bin/setpriv";

#[test]
fn root_without_mount_namespaces_does_not_run_the_config_test_and_says_why() {
    let lab = Lab::new();
    stopped_nginx(&lab, &[]);
    let Some(run) = diagnose_without_cap_sys_admin(&lab) else {
        return;
    };
    let test = config_test(&run);
    assert_eq!(test["status"], "would-write", "{run}");
    let why = text(test, "reason");
    assert!(
        why.contains("cannot make a private mount namespace (unshare): Operation not permitted"),
        "{run}"
    );
    assert!(why.contains("run it by hand"), "{run}");
}

/// nginx -t: `[emerg] no port in upstream "127.0.0.1" in FILE:LINE`.
pub(crate) const NO_PORT: &str =
    "server { listen 127.0.0.1:1; location / { fastcgi_pass 127.0.0.1; } }";

#[test]
fn without_nginx_t_a_config_error_the_doctor_reads_is_config_invalid_at_medium_confidence() {
    let lab = Lab::new();
    lab.nginx(|c| c.location("/", Pass::files()));
    // nginx logs the lab's readiness probe when it gets to it: before the
    // snapshot, not during the diagnosis.
    lab.error_log_line("client closed connection while waiting for request");
    lab.break_config(NO_PORT);
    let Some(run) = diagnose_without_cap_sys_admin(&lab) else {
        return;
    };
    assert_eq!(config_test(&run)["status"], "would-write", "{run}");
    let finding = run.finding("config-invalid");
    assert_eq!(finding["confidence"], "medium", "{run}");
    run.assert_evidence_quotes("config-invalid", "no port in upstream \"127.0.0.1\"");
    run.assert_evidence_quotes("config-invalid", "nginx -t would-write: not run");
}

#[test]
fn without_nginx_t_a_stopped_nginx_is_down_at_medium_confidence_naming_what_the_doctor_reads() {
    let lab = Lab::new();
    lab.nginx_stopped(|c| c.http(NO_PORT).location("/", Pass::files()));
    let Some(run) = diagnose_without_cap_sys_admin(&lab) else {
        return;
    };
    run.assert_first("nginx-down");
    let finding = run.finding("nginx-down");
    assert_eq!(finding["confidence"], "medium", "{run}");
    assert!(text(finding, "title").contains("was not tested"), "{run}");
    run.assert_evidence_quotes("nginx-down", "no port in upstream \"127.0.0.1\"");
    run.assert_evidence_quotes("nginx-down", "nginx -t would-write: not run");
}
