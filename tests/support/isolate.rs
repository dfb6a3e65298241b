//! Running one test inside namespaces of its own: the test binary runs itself (`--exact`
//! that test) under `unshare FLAGS`, so whatever the scenario changes there — a packet
//! filter, a mount — is the child's alone and vanishes with it. The child is serialised
//! with the labs: the parent holds the machine-wide lab lock for it.

use super::doctor::{self, DOCTOR_TIMEOUT};
use super::lab::{LOCK_HELD, Serial};
use std::path::Path;

/// Set in the child that runs an isolated scenario inside its namespaces.
pub const ISOLATED: &str = "NGXDOC_ISOLATED";

/// Whether this process is the child of [`rerun_under`], inside the namespaces.
pub fn inside() -> bool {
    std::env::var_os(ISOLATED).is_some()
}

/// Runs the test `path` (`module::test`, as `cargo test --exact` names it) again under
/// `unshare` with `flags`, and fails when that run fails or does not run it.
pub fn rerun_under(flags: &[&str], path: &str) {
    let _serial = Serial::take();
    let exe = std::env::current_exe().expect("path of the test binary");
    let held = format!("{LOCK_HELD}=1");
    let args: Vec<String> = flags
        .iter()
        .chain(&["--", "env", &format!("{ISOLATED}=1"), &held])
        .map(|s| s.to_string())
        .chain([exe.display().to_string(), path.to_string()])
        .chain(["--exact", "--nocapture", "--test-threads=1"].map(String::from))
        .collect();
    let run = doctor::run_bounded("unshare", &args, Path::new("/"), 2 * DOCTOR_TIMEOUT);
    print!("{}", run.stdout);
    eprint!("{}", run.stderr);
    assert_eq!(run.status, 0, "the isolated run failed");
    assert!(
        run.stdout.contains("test result: ok. 1 passed"),
        "the isolated run did not run {path}"
    );
}

/// Runs `scenario` in a private network namespace (and the other namespaces `flags`
/// add, e.g. `-m` for a private mount table where it bind-mounts its own /etc/hosts),
/// with loopback up: whatever it changes there — a packet filter, a sysctl, a mount —
/// is gone when it ends. `path` is the test's `module::name`; the test runs itself again
/// inside. Skipped, saying why, when not root or when one of `tools` is missing.
pub fn in_netns(path: &str, flags: &[&str], tools: &[&str], scenario: impl FnOnce()) {
    if inside() {
        let up = std::process::Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status();
        assert!(up.is_ok_and(|s| s.success()), "ip link set lo up");
        return scenario();
    }
    let missing: Vec<&str> = ["unshare", "ip"]
        .iter()
        .chain(tools)
        .copied()
        .filter(|t| nginx_doctor::probe::command::locate(t).is_none())
        .collect();
    if !super::lab::is_root() || !missing.is_empty() {
        eprintln!("skipped {path}: needs root and {missing:?}");
        return;
    }
    let all: Vec<&str> = ["-n"].iter().chain(flags).copied().collect();
    rerun_under(&all, path);
}
