//! Signals: Ctrl-C or SIGTERM in the middle of a probe ends the run with
//! 130, quietly, and leaves none of the probe's processes behind. An
//! interrupted run delivers nothing: no report on stdout, no `--output`
//! file, no `--record` bundle — every time, not most of the time.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::guided_tty::{CTRL_C, EXPECT_TIMEOUT, Guided};
use crate::support::doctor::BINARY;

/// How many interrupts a loop sends. The race this guards against lost one
/// run in 10 on CI and one in 50 on a busy 2-core machine: 100 rounds catch
/// the latter nearly nine times in ten.
const ROUNDS: usize = 100;

/// A pack whose one probe runs (a shell and two sleeps) until it is killed.
const SLEEPER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/packs-misbehaving/sleeper"
);

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
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The running probe of the doctor `doctor`: its shell, then both of its
/// sleeps, once all three run.
fn the_probe(doctor: u32) -> Vec<u32> {
    let shell = wait_for("the probe to start", || children(doctor).into_iter().next());
    let sleeps = wait_for("the probe's two sleeps", || {
        Some(children(shell)).filter(|c| c.len() == 2)
    });
    std::iter::once(shell).chain(sleeps).collect()
}

fn assert_gone(pids: &[u32]) {
    for &pid in pids {
        wait_for("the probe's processes to be gone", || {
            (!alive(pid)).then_some(())
        });
    }
}

fn signal_pid(pid: u32, signal: Signal) {
    kill(Pid::from_raw(i32::try_from(pid).unwrap()), signal).expect("signal the doctor");
}

/// A run interrupted while its probe ran, and the probe's processes.
struct Interrupted {
    out: Output,
    probe: Vec<u32>,
}

/// Runs the sleeper pack with `args` and sends `signal` once its probe's
/// shell and both of its sleeps are running — never on a guess of time.
fn interrupt_the_probe(signal: Signal, args: &[&str]) -> Interrupted {
    let doctor = Command::new(BINARY)
        .args(["--auto", "--rules", SLEEPER])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx-doctor");
    let probe = the_probe(doctor.id());
    signal_pid(doctor.id(), signal);
    let out = doctor.wait_with_output().expect("wait for the doctor");
    Interrupted { out, probe }
}

fn interrupted_by(signal: Signal) {
    // Not handled, the run would end with its report when the sleeps do.
    let run = interrupt_the_probe(signal, &[]);
    let out = &run.out;
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_gone(&run.probe);
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
fn every_interrupt_during_a_probe_exits_130_with_nothing_on_stdout() {
    for round in 0..ROUNDS {
        let signal = [Signal::SIGINT, Signal::SIGTERM][round % 2];
        let out = interrupt_the_probe(signal, &[]).out;
        assert_eq!(
            (out.status.code(), String::from_utf8_lossy(&out.stdout)),
            (Some(130), "".into()),
            "interrupt {} of {ROUNDS} ({signal}); stderr: {}",
            round + 1,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_interrupted_run_writes_no_report_file_and_no_bundle() {
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().expect("temp dir");
        let (file, bundle) = (dir.path().join("report.md"), dir.path().join("bundle"));
        let args = ["--output", path(&file), "--record", path(&bundle)];
        let out = interrupt_the_probe(Signal::SIGINT, &args).out;
        assert_eq!(
            (out.status.code(), file.exists(), bundle.exists()),
            (Some(130), false, false),
            "interrupt {} of {ROUNDS}: exit status, report file, bundle; stderr: {}",
            round + 1,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

/// A pack whose one built-in probe (no child process) asks `port` on
/// loopback for a page, which never comes.
fn http_get_pack(dir: &Path, port: u16) {
    let pack = format!(
        "pack: {{ name: waiter, start: ask }}\n\
         probes:\n  page: {{ builtin: http-get, with: {{ transport: tcp, host: 127.0.0.1, port: \"{port}\" }} }}\n\
         nodes:\n  ask: {{ check: page, next: done }}\n  done: {{ conclude: no-fault-found, title: done }}\n"
    );
    std::fs::write(dir.join("pack.yaml"), pack).expect("write the pack");
}

#[test]
fn ctrl_c_during_a_builtin_probe_exits_130_with_nothing_on_stdout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    http_get_pack(dir.path(), listener.local_addr().expect("bound").port());
    let doctor = Command::new(BINARY)
        .args(["--auto", "--rules", path(dir.path())])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx-doctor");
    // Accepted: the built-in is waiting for the answer it will not get.
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let _held = wait_for("the built-in to connect", || listener.accept().ok());
    signal_pid(doctor.id(), Signal::SIGINT);
    let out = doctor.wait_with_output().expect("wait for the doctor");
    assert_eq!(
        (out.status.code(), String::from_utf8_lossy(&out.stdout)),
        (Some(130), "".into()),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ctrl_c_during_a_guided_check_exits_130_and_prints_no_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stdout = dir.path().join("stdout");
    // The terminal is stdin and stderr; stdout, where a report would go, is a file.
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(r#"stty echo icanon && exec "$0" --rules "$1" >"$2""#)
        .args([BINARY, SLEEPER, path(&stdout)])
        .env("TERM", "xterm")
        .env("NO_COLOR", "1");
    let mut tty = Guided::spawn(cmd);
    tty.choose_run();
    let probe = the_probe(u32::try_from(tty.pid()).expect("a pid"));
    // Out of the prompt, the terminal is back in line mode: Ctrl-C is SIGINT.
    tty.press(CTRL_C);
    let (status, _) = tty.finish(EXPECT_TIMEOUT);
    let printed = std::fs::read_to_string(&stdout).expect("read stdout");
    assert_eq!((status, printed.as_str()), (130, ""), "{}", tty.screen());
    assert_gone(&probe);
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
