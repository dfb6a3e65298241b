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
