//! The bounded subprocess runner every command probe goes through.
//!
//! Probes run on a host that is already in trouble, so a probe must never hang
//! the doctor, eat its memory or leave processes behind. Each command is
//! started from an argv list (never a shell), with `LC_ALL=C` so its output
//! parses the same on every host, stdin on `/dev/null` so it cannot wait for
//! input, and in a process group of its own. On timeout the whole group is
//! killed; after the main process exits, whatever is left of its group is
//! killed too, so a probe that forks a child can neither outlive us nor hold
//! our pipes open. stdout and stderr are read by two threads into buffers
//! capped at `max_output`; the rest is read and counted but dropped, so a
//! runaway probe costs neither memory nor a blocked writer. Every probe
//! starts through the [`groups`](super::groups) registry, so an interrupt
//! either kills it or comes first and it never starts. A command that writes
//! to the host as a side effect ([`run_isolated`]) runs where its writes
//! vanish (see [`super::isolate`]).

use std::io::{self, ErrorKind, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::isolate::{Armed, Plan};
pub use crate::host::tools::locate;
use crate::interrupt::groups::{Groups, RUNNING, kill_group, lock};

/// A probe's bounds unless its spec says otherwise: the rule model's.
pub use crate::rules::{DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT};

/// How long to wait for a SIGKILLed group to be reaped; only a process stuck in
/// the kernel (uninterruptible I/O) takes longer, and then we stop waiting.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long to keep reading after the probe's group is gone; only a process
/// that left the group (setsid) and kept our pipes open makes us wait this long.
const DRAIN_GRACE: Duration = Duration::from_secs(1);
/// Read size of the capture threads.
const CHUNK: usize = 64 * 1024;

/// A command to run: the argv and its bounds.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// Program and arguments; `argv[0]` is resolved with [`locate`].
    pub argv: Vec<String>,
    /// After this long the probe's whole process group is killed.
    pub timeout: Duration,
    /// Bytes kept of each of stdout and stderr; the rest is counted and dropped.
    pub max_output: usize,
}

impl CommandSpec {
    /// A spec for `argv` with [`DEFAULT_TIMEOUT`] and [`DEFAULT_MAX_OUTPUT`].
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            timeout: DEFAULT_TIMEOUT,
            max_output: DEFAULT_MAX_OUTPUT,
        }
    }
}

/// How a command ended, or why it never started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The process exited with this code.
    Exited(i32),
    /// The process was killed by this signal (not by us).
    Signaled(i32),
    /// The timeout passed and the process group was killed.
    TimedOut,
    /// binary not found on PATH nor in /usr/sbin, /sbin, /usr/local/sbin
    NotFound,
    /// The file exists but cannot be executed (no exec bit, not a program).
    NotExecutable,
    /// The command could not be started for another reason, described here.
    SpawnFailed(String),
    /// Not started: the run is being interrupted (Ctrl-C, SIGTERM).
    Interrupted,
    /// The isolation it was to run in could not be set up (the step and why);
    /// it did not run.
    NotIsolated(String),
}

impl std::fmt::Display for Outcome {
    /// How it ended, in words a person reads in a report or at a prompt.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Exited(0) => f.write_str("done (exit status 0)"),
            Outcome::Exited(code) => write!(f, "failed with exit status {code}"),
            Outcome::Signaled(signal) => write!(f, "killed by signal {signal}"),
            Outcome::TimedOut => f.write_str("did not finish in time and was stopped"),
            Outcome::NotFound => f.write_str("not installed on this host"),
            Outcome::NotExecutable => f.write_str("not an executable program"),
            Outcome::SpawnFailed(why) => write!(f, "could not start: {why}"),
            Outcome::Interrupted => f.write_str("not run: interrupted"),
            Outcome::NotIsolated(why) => write!(f, "not run: {why}"),
        }
    }
}

/// What a command produced.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// How it ended.
    pub outcome: Outcome,
    /// Captured stdout, at most `max_output` bytes.
    pub stdout: Vec<u8>,
    /// Captured stderr, at most `max_output` bytes.
    pub stderr: Vec<u8>,
    /// stdout bytes read past the cap and dropped.
    pub stdout_dropped: u64,
    /// stderr bytes read past the cap and dropped.
    pub stderr_dropped: u64,
    /// From spawn until the process ended or was killed.
    pub duration: Duration,
    /// The resolved program, when `argv[0]` was found.
    pub program: Option<PathBuf>,
    /// The process id (also its process group id), when it started.
    pub pid: Option<u32>,
    /// A process that escaped the group (e.g. by `setsid`) still held stdout or
    /// stderr open after we stopped reading, so the output may be incomplete.
    pub pipes_left_open: bool,
}

impl CommandOutput {
    fn not_run(outcome: Outcome, program: Option<PathBuf>) -> Self {
        Self {
            outcome,
            stdout: Vec::new(),
            stderr: Vec::new(),
            stdout_dropped: 0,
            stderr_dropped: 0,
            duration: Duration::ZERO,
            program,
            pid: None,
            pipes_left_open: false,
        }
    }
}

/// Tells "no such program" from "there is one, but it cannot run", searching
/// the same places as [`locate`].
fn classify_missing(program: &str) -> Outcome {
    let exists = |p: &Path| p.metadata().is_ok_and(|m| !m.is_dir());
    let found = if program.contains('/') {
        exists(Path::new(program))
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(crate::host::tools::SBIN_DIRS.iter().map(PathBuf::from))
            .any(|dir| exists(&dir.join(program)))
    };
    if found {
        Outcome::NotExecutable
    } else {
        Outcome::NotFound
    }
}

/// Runs `spec` within its bounds; never panics. argv[0] is resolved with [`locate`].
pub fn run(spec: &CommandSpec) -> CommandOutput {
    run_in(spec, &RUNNING)
}

/// [`run`] in the isolation `plan` describes: a private mount namespace in
/// which the command's writes land in a tmpfs that vanishes with it.
pub fn run_isolated(spec: &CommandSpec, plan: &Arc<Plan>) -> CommandOutput {
    run_within(spec, &RUNNING, Some(plan))
}

/// Runs `spec` as [`run`] does, its process group registered in `groups`.
fn run_in(spec: &CommandSpec, groups: &Groups) -> CommandOutput {
    run_within(spec, groups, None)
}

fn run_within(spec: &CommandSpec, groups: &Groups, isolation: Option<&Arc<Plan>>) -> CommandOutput {
    let Some(name) = spec.argv.first() else {
        return CommandOutput::not_run(Outcome::SpawnFailed("empty argv".into()), None);
    };
    let Some(program) = locate(name) else {
        return CommandOutput::not_run(classify_missing(name), None);
    };
    match execute(&program, &spec.argv[1..], spec, groups, isolation) {
        Ok(output) => output,
        Err(outcome) => CommandOutput::not_run(outcome, Some(program)),
    }
}

/// Runs a located program: readers first, then the probe, then the bounded waits.
fn execute(
    program: &Path,
    args: &[String],
    spec: &CommandSpec,
    groups: &Groups,
    isolation: Option<&Arc<Plan>>,
) -> Result<CommandOutput, Outcome> {
    let (out_r, out_w) = os_pipe::pipe().map_err(|e| setup_failed("create stdout pipe", &e))?;
    let (err_r, err_w) = os_pipe::pipe().map_err(|e| setup_failed("create stderr pipe", &e))?;
    let (done_tx, done_rx) = mpsc::channel();
    let stdout = Arc::new(Mutex::new(Capture::default()));
    let stderr = Arc::new(Mutex::new(Capture::default()));
    // Readers start first: if a thread cannot start, nothing has been spawned yet.
    start_reader(out_r, spec.max_output, &stdout, &done_tx)?;
    start_reader(err_r, spec.max_output, &stderr, &done_tx)?;
    drop(done_tx);
    let armed = match isolation.map(Plan::arm).transpose() {
        Ok(armed) => armed,
        Err(e) => return Err(setup_failed("create the isolation's report pipe", &e)),
    };

    // Started under the registry's lock, so an interrupt either finds the
    // probe's group to kill or comes first and it never starts.
    let starting = groups.starting().ok_or(Outcome::Interrupted)?;
    let started = Instant::now();
    let handle = spawn(program, args, out_w, err_w, armed)?;
    let pid = handle.pids().first().copied();
    let pgid = pid.and_then(group_id);
    let _registered = starting.register(pgid);
    let status_rx = match spawn_waiter(handle) {
        Ok(rx) => rx,
        Err(e) => {
            kill_group(pgid);
            return Err(setup_failed("start waiter thread", &e));
        }
    };

    let (status, timed_out) = wait_bounded(&status_rx, pgid, spec.timeout);
    let duration = started.elapsed();
    // Leftovers of the group (a forked child) die with their parent.
    kill_group(pgid);
    let pipes_left_open = !wait_readers(&done_rx, 2, Instant::now() + DRAIN_GRACE);
    let (stdout, stdout_dropped) = lock(&stdout).take();
    let (stderr, stderr_dropped) = lock(&stderr).take();
    Ok(CommandOutput {
        outcome: outcome_of(status, timed_out),
        stdout,
        stderr,
        stdout_dropped,
        stderr_dropped,
        duration,
        program: Some(program.to_path_buf()),
        pid,
        pipes_left_open,
    })
}

type WaitResult = Result<ExitStatus, String>;

/// Starts the probe in its own process group, without a shell, in its
/// isolation when it has one.
fn spawn(
    program: &Path,
    args: &[String],
    stdout: os_pipe::PipeWriter,
    stderr: os_pipe::PipeWriter,
    armed: Option<Armed>,
) -> Result<duct::Handle, Outcome> {
    let armed = armed.map(Arc::new);
    let hook = armed.clone();
    let expression = duct::cmd(program, args)
        .stdin_null()
        .stdout_file(stdout)
        .stderr_file(stderr)
        .env("LC_ALL", "C")
        .unchecked()
        .before_spawn(move |command| {
            command.process_group(0);
            if let Some(armed) = &hook {
                armed.install(command);
            }
            Ok(())
        });
    let handle = expression.start();
    // The expression holds our copies of the pipes' write ends (and the
    // hook's): close them so the readers see EOF as soon as the probe's
    // processes are gone.
    drop(expression);
    handle.map_err(|e| {
        let isolation = armed.and_then(Arc::into_inner).and_then(|a| a.failure(&e));
        isolation.map_or_else(|| spawn_error(&e), Outcome::NotIsolated)
    })
}

/// Reaps the probe on a thread of its own so the caller can wait with a
/// timeout on the channel instead of polling.
fn spawn_waiter(handle: duct::Handle) -> io::Result<Receiver<WaitResult>> {
    let (status_tx, status_rx) = mpsc::channel();
    thread::Builder::new()
        .name("probe-waiter".into())
        .spawn(move || {
            let status = handle.wait().map(|output| output.status);
            let _ = status_tx.send(status.map_err(|e| e.to_string()));
        })?;
    Ok(status_rx)
}

/// Waits for the exit status until `timeout`, then kills the group and waits a
/// little more. Returns the status (if any came) and whether we timed out.
fn wait_bounded(
    rx: &Receiver<WaitResult>,
    pgid: Option<i32>,
    timeout: Duration,
) -> (Option<WaitResult>, bool) {
    match rx.recv_timeout(timeout) {
        Ok(status) => (Some(status), false),
        Err(RecvTimeoutError::Disconnected) => (None, false),
        Err(RecvTimeoutError::Timeout) => {
            kill_group(pgid);
            (rx.recv_timeout(KILL_GRACE).ok(), true)
        }
    }
}

/// Waits for `count` readers to report EOF; false if the deadline passed first.
fn wait_readers(rx: &Receiver<()>, count: usize, deadline: Instant) -> bool {
    (0..count).all(|_| {
        let left = deadline.saturating_duration_since(Instant::now());
        rx.recv_timeout(left).is_ok()
    })
}

fn outcome_of(status: Option<WaitResult>, timed_out: bool) -> Outcome {
    if timed_out {
        return Outcome::TimedOut;
    }
    match status {
        Some(Ok(status)) => match (status.code(), status.signal()) {
            (Some(code), _) => Outcome::Exited(code),
            (None, Some(signal)) => Outcome::Signaled(signal),
            (None, None) => Outcome::SpawnFailed(format!("unrecognised exit status {status}")),
        },
        Some(Err(message)) => Outcome::SpawnFailed(format!("waiting for the process: {message}")),
        None => Outcome::SpawnFailed("lost track of the process".into()),
    }
}

fn spawn_error(error: &io::Error) -> Outcome {
    match error.kind() {
        ErrorKind::NotFound => Outcome::NotFound,
        ErrorKind::PermissionDenied => Outcome::NotExecutable,
        _ if error.raw_os_error() == Some(Errno::ENOEXEC as i32) => Outcome::NotExecutable,
        _ => Outcome::SpawnFailed(error.to_string()),
    }
}

fn setup_failed(what: &str, error: &io::Error) -> Outcome {
    Outcome::SpawnFailed(format!("cannot {what}: {error}"))
}

/// One captured stream: the bytes kept and the count of those dropped.
#[derive(Debug, Default)]
struct Capture {
    kept: Vec<u8>,
    dropped: u64,
}

impl Capture {
    fn push(&mut self, bytes: &[u8], cap: usize) {
        let keep = cap.saturating_sub(self.kept.len()).min(bytes.len());
        self.kept.extend_from_slice(&bytes[..keep]);
        self.dropped += (bytes.len() - keep) as u64;
    }

    fn take(&mut self) -> (Vec<u8>, u64) {
        (std::mem::take(&mut self.kept), self.dropped)
    }
}

/// Reads `pipe` to EOF into `sink`. The capture is shared rather than returned
/// so that what was read stays available if the reader must be abandoned.
fn start_reader(
    mut pipe: os_pipe::PipeReader,
    cap: usize,
    sink: &Arc<Mutex<Capture>>,
    done: &Sender<()>,
) -> Result<(), Outcome> {
    let (sink, done) = (Arc::clone(sink), done.clone());
    let reader = move || {
        let mut buf = vec![0; CHUNK];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => lock(&sink).push(&buf[..n], cap),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = done.send(());
    };
    match thread::Builder::new()
        .name("probe-reader".into())
        .spawn(reader)
    {
        Ok(_detached) => Ok(()),
        Err(e) => Err(setup_failed("start output reader thread", &e)),
    }
}

/// The group id of a probe started with `process_group(0)`; refuses ids that
/// would make `killpg` hit our own group (0) or init (1).
fn group_id(pid: u32) -> Option<i32> {
    i32::try_from(pid).ok().filter(|&id| id > 1)
}

#[cfg(test)]
mod tests;
