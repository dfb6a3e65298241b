//! Signals: Ctrl-C or SIGTERM in the middle of a probe ends the run with
//! 130, quietly, and leaves none of the probe's processes behind.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Pids whose parent is `parent`, read from /proc.
fn children(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s.rsplit(')').next().map(str::to_owned))
                .and_then(|rest| {
                    rest.split_whitespace()
                        .nth(1)
                        .and_then(|p| p.parse::<u32>().ok())
                })
                == Some(parent)
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

/// Waits (bounded) for `f` to hold, polling /proc; panics with `what` when it never does.
fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupted_by(signal: Signal) {
    let pack = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/packs-misbehaving/sleeper"
    );
    let doctor = Command::new(env!("CARGO_BIN_EXE_nginx-doctor"))
        .args(["--auto", "--rules", pack])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx-doctor");
    // The probe's shell, then its two sleeps.
    let shell = wait_for("the probe to start", || {
        children(doctor.id()).into_iter().next()
    });
    let sleeps = wait_for("the probe's children", || {
        Some(children(shell)).filter(|c| !c.is_empty())
    });
    let started = Instant::now();
    kill(Pid::from_raw(i32::try_from(doctor.id()).unwrap()), signal).expect("signal the doctor");
    let out = doctor.wait_with_output().expect("wait for the doctor");

    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it ended at once, not at the probe's timeout"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for pid in std::iter::once(shell).chain(sleeps) {
        wait_for("the probe's processes to be gone", || {
            (!alive(pid)).then_some(())
        });
    }
}

#[test]
fn ctrl_c_kills_the_running_probe_and_exits_130() {
    interrupted_by(Signal::SIGINT);
}

#[test]
fn sigterm_kills_the_running_probe_and_exits_130() {
    interrupted_by(Signal::SIGTERM);
}

#[test]
fn closed_stdout_pipe_exits_quietly() {
    let mut doctor = Command::new(env!("CARGO_BIN_EXE_nginx-doctor"))
        .args(["rules", "graph"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx-doctor");
    drop(doctor.stdout.take());
    let out = doctor.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
