//! The runner's own tests: real processes, real timeouts, real process groups.

use super::*;
use std::os::unix::fs::PermissionsExt;

use nix::sys::signal::Signal;

/// Generous bound for "returned promptly", far above any normal run.
const PROMPT: Duration = Duration::from_secs(10);

fn spec(argv: &[&str]) -> CommandSpec {
    CommandSpec::new(argv.iter().copied())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Dead means gone from /proc or a zombie waiting for its new parent to reap it.
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

fn dies_soon(pid: u32) -> bool {
    let deadline = Instant::now() + PROMPT;
    while Instant::now() < deadline {
        if is_dead(pid) {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn exit_code_is_captured() {
    let out = run(&spec(&["sh", "-c", "exit 3"]));
    assert_eq!(out.outcome, Outcome::Exited(3));
    assert!(out.program.is_some_and(|p| p.is_absolute()));
}

#[test]
fn stdout_and_stderr_are_kept_apart() {
    let out = run(&spec(&["sh", "-c", "echo out; echo err >&2"]));
    assert_eq!(out.outcome, Outcome::Exited(0));
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");
    assert_eq!((out.stdout_dropped, out.stderr_dropped), (0, 0));
}

#[test]
fn killed_by_signal_is_reported_as_signaled() {
    let out = run(&spec(&["sh", "-c", "kill -TERM $$"]));
    assert_eq!(out.outcome, Outcome::Signaled(Signal::SIGTERM as i32));
}

#[test]
fn missing_binary_is_not_found() {
    let out = run(&spec(&["nginx-doctor-no-such-program"]));
    assert_eq!(out.outcome, Outcome::NotFound);
    assert_eq!(out.program, None);
    assert_eq!(
        run(&spec(&["/nonexistent/dir/prog"])).outcome,
        Outcome::NotFound
    );
}

#[test]
fn empty_argv_fails_to_spawn() {
    let out = run(&CommandSpec::new(Vec::<String>::new()));
    assert!(matches!(out.outcome, Outcome::SpawnFailed(_)));
}

#[test]
fn file_without_exec_bit_is_not_executable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("probe.sh");
    std::fs::write(&file, "#!/bin/sh\necho hi\n").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run(&spec(&[file.to_str().expect("utf-8 tempdir")]));
    assert_eq!(out.outcome, Outcome::NotExecutable);
}

#[test]
fn executable_that_is_not_a_program_is_not_executable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("garbage");
    std::fs::write(&file, [0x7f, 0x00, 0x01, 0x02]).expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = run(&spec(&[file.to_str().expect("utf-8 tempdir")]));
    assert_eq!(out.outcome, Outcome::NotExecutable);
}

#[test]
fn timeout_kills_the_process() {
    let mut slow = spec(&["sleep", "30"]);
    slow.timeout = Duration::from_millis(200);
    let out = run(&slow);
    assert_eq!(out.outcome, Outcome::TimedOut);
    assert!(out.duration < PROMPT);
    let pid = out.pid.expect("sleep started");
    assert!(dies_soon(pid), "sleep {pid} survived the timeout");
}

#[test]
fn forked_background_child_does_not_survive() {
    let out = run(&spec(&["sh", "-c", "sleep 30 & echo $!"]));
    assert_eq!(out.outcome, Outcome::Exited(0));
    assert!(out.duration < PROMPT);
    let child: u32 = text(&out.stdout).trim().parse().expect("child pid printed");
    assert!(dies_soon(child), "background child {child} survived");
    assert!(!out.pipes_left_open);
}

#[test]
fn output_past_the_cap_is_counted_and_dropped() {
    let mut big = spec(&["head", "-c", "50000000", "/dev/zero"]);
    big.timeout = Duration::from_secs(60);
    let out = run(&big);
    assert_eq!(out.outcome, Outcome::Exited(0));
    assert_eq!(out.stdout.len(), DEFAULT_MAX_OUTPUT);
    assert_eq!(out.stdout_dropped, 50_000_000 - DEFAULT_MAX_OUTPUT as u64);
}

#[test]
fn small_cap_applies_to_stderr_too() {
    let mut noisy = spec(&["sh", "-c", "echo 0123456789 >&2"]);
    noisy.max_output = 4;
    let out = run(&noisy);
    assert_eq!(text(&out.stderr), "0123");
    assert_eq!(out.stderr_dropped, 7);
}

#[test]
fn locale_is_forced_to_c() {
    let out = run(&spec(&["env"]));
    assert!(text(&out.stdout).lines().any(|line| line == "LC_ALL=C"));
}

#[test]
fn stdin_is_empty() {
    let out = run(&spec(&["cat"]));
    assert_eq!(out.outcome, Outcome::Exited(0));
    assert!(out.stdout.is_empty());
    assert!(out.duration < PROMPT);
}

#[test]
fn probe_closing_stdout_early_still_reports_stderr() {
    let out = run(&spec(&["sh", "-c", "exec 1>&-; sleep 0.2; echo x >&2"]));
    assert_eq!(out.outcome, Outcome::Exited(0));
    assert!(out.stdout.is_empty());
    assert_eq!(text(&out.stderr), "x\n");
}

#[test]
fn escaped_process_holding_pipes_costs_a_bounded_wait() {
    // The escaped child needs a moment to leave the group before the
    // probe exits and its group is killed; the sleep gives it that.
    let out = run(&spec(&["sh", "-c", "setsid -f sleep 20; sleep 1"]));
    assert_eq!(out.outcome, Outcome::Exited(0));
    assert!(out.pipes_left_open);
    assert!(out.duration < PROMPT);
}

/// Starts `sleep 30` through `groups` on a thread, once the probe is known
/// to run: a marker file it makes appears only after it was started, and it
/// was registered in the same step.
fn start_sleeper(groups: &'static Groups) -> thread::JoinHandle<CommandOutput> {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("started");
    let script = format!("touch '{}'; exec sleep 30", marker.display());
    let sleeper = thread::spawn(move || run_in(&spec(&["sh", "-c", &script]), groups));
    let deadline = Instant::now() + PROMPT;
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the probe never started");
        thread::sleep(Duration::from_millis(10));
    }
    sleeper
}

/// A registry of the test's own, so killing all of it spares other tests' probes.
fn own_groups() -> &'static Groups {
    Box::leak(Box::new(Groups::new()))
}

/// How a probe running through a registry of its own ends when `stop` is
/// applied to the registry.
fn stopped_by(stop: impl FnOnce(&Groups)) -> Outcome {
    let groups = own_groups();
    let sleeper = start_sleeper(groups);
    stop(groups);
    sleeper.join().expect("runner thread").outcome
}

#[test]
fn kill_all_stops_a_running_probe() {
    let outcome = stopped_by(Groups::kill_all);
    assert_eq!(outcome, Outcome::Signaled(Signal::SIGKILL as i32));
}

#[test]
fn closing_the_registry_kills_the_running_probe() {
    let outcome = stopped_by(Groups::close);
    assert_eq!(outcome, Outcome::Signaled(Signal::SIGKILL as i32));
}

#[test]
fn a_closed_registry_starts_no_probe() {
    let groups = own_groups();
    groups.close();
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("started");
    let script = format!("touch '{}'", marker.display());
    let out = run_in(&spec(&["sh", "-c", &script]), groups);
    assert_eq!((out.outcome, out.pid), (Outcome::Interrupted, None));
    assert!(!marker.exists(), "the probe ran after the close");
}
