//! Guided mode as a person meets it: the real binary runs in a pseudo-terminal against a
//! real fault (php-fpm stopped, so every PHP request is a 502) and is driven with the keys
//! a person presses — Enter, arrows, Esc, Ctrl-C — while the screen is read back the way a
//! person reads it, with the ANSI styling inquire and `colored` draw stripped away.
//!
//! Every wait is bounded (`EXPECT_TIMEOUT` per prompt, `NO_TTY_TIMEOUT` per run) and every
//! process group a test starts is killed when its handle drops, also on a failed assertion.
//! The last two tests hold the opposite promise: without a terminal on stdin the binary
//! never waits for input, even when stdin is a pipe that never ends.

use crate::support::doctor::BINARY;
use crate::support::faults::PHP;
use crate::support::proc::Guard;
use crate::support::{Lab, Pass, Pool};
use expectrl::process::Termios;
use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession;
use expectrl::{Expect, Session};
use nix::sys::signal::{Signal, killpg};
use nix::sys::stat::Mode;
use nix::unistd::{Pid, mkfifo};
use regex::bytes::Regex;
use std::fs::{self, File};
use std::io::Read;
use std::process::{Command, Stdio};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

/// Bound on each thing the test waits to see on the terminal (and on the final exit).
pub(crate) const EXPECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on a whole run without a terminal; it is killed and the test fails after this.
const NO_TTY_TIMEOUT: Duration = Duration::from_secs(60);

const ENTER: &str = "\r";
const DOWN: &str = "\x1b[B";
const UP: &str = "\x1b[A";
const ESC: &str = "\x1b";
pub(crate) const CTRL_C: &str = "\x03";

/// A live "What now?" prompt; its answered form ends in the choice instead.
const WHAT_NOW: &str = r"What now\?\s*\r?\n";
/// A live fix offer; `(y/N)` also proves that Enter declines it.
/// The live text prompt of the pack's question (empty answer: skip).
const QUESTION: &str = r"Leave it empty to skip\.[^\n]*\r?\n";

const FIX_OFFER: &str = r"Run `[^`]*` now\? \(y/N\)";
/// A live question after an edit the fix shows (Enter: not made yet).
const EDIT_OFFER: &str = r"Have you made this change\? \(y/N\)";
/// The live save prompt at the end.
const SAVE_OFFER: &str = r"Save this report to a file\? \(y/N\)";
/// The live offer, after the fixes, to diagnose the host again.
const RECHECK_OFFER: &str =
    r"(?:Once the fix is made, check whether it still fails|Check again)\?\s*\r?\n";

/// What a test saw: the plain text up to the end of a match, and the match's groups.
struct Seen {
    text: String,
    groups: Vec<Option<String>>,
}

impl Seen {
    /// Group `i` of the match; panics when it did not take part.
    fn group(&self, i: usize) -> &str {
        match self.groups.get(i) {
            Some(Some(g)) => g,
            _ => panic!("group {i} did not match in {:?}", self.text),
        }
    }
}

/// The binary running in a pseudo-terminal, and everything it drew so far.
pub(crate) struct Guided {
    session: OsSession,
    pid: i32,
    /// Every byte read from the terminal, escapes included.
    raw: Vec<u8>,
    /// Where in `raw` the text no expectation has consumed yet starts.
    unread: usize,
    /// Set once the process was reaped, so drop kills nothing.
    reaped: bool,
}

impl Guided {
    /// Starts `nginx-doctor --conf <lab nginx.conf>` (guided: no `--auto`) in a fresh
    /// pseudo-terminal. `colour` leaves `colored` on, as on a real terminal; otherwise
    /// `NO_COLOR=1`.
    fn start(lab: &Lab, colour: bool) -> Guided {
        Guided::start_with(lab, colour, &[])
    }

    /// [`Guided::start`] with more arguments after `--conf`.
    fn start_with(lab: &Lab, colour: bool, more: &[&str]) -> Guided {
        // A person's terminal echoes and edits lines; the pty starts without echo, so the
        // shell turns it on first. Raw mode during a prompt must not outlive the run.
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(r#"stty echo icanon && exec "$0" "$@""#)
            .arg(BINARY)
            .arg("--conf")
            .arg(lab.nginx_info().conf)
            .args(more)
            .current_dir(lab.dir())
            .env("TERM", "xterm");
        if colour {
            cmd.env_remove("NO_COLOR").env("CLICOLOR_FORCE", "1");
        } else {
            cmd.env("NO_COLOR", "1");
        }
        Guided::spawn(cmd)
    }

    pub(crate) fn spawn(cmd: Command) -> Guided {
        let session = Session::spawn(cmd).expect("start the binary in a pseudo-terminal");
        let pid = session.get_process().pid().as_raw();
        Guided {
            session,
            pid,
            raw: Vec::new(),
            unread: 0,
            reaped: false,
        }
    }

    /// The process id of the binary (the shell before it `exec`s it).
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits until the plain text shows `pattern` (a regex) and consumes the output up to
    /// the end of its first match; panics with the screen so far when it does not come
    /// within `EXPECT_TIMEOUT`.
    fn expect(&mut self, pattern: &str) -> Seen {
        let re = Regex::new(pattern).expect("a valid test pattern");
        let deadline = Instant::now() + EXPECT_TIMEOUT;
        loop {
            let (plain, at) = strip_ansi(&self.raw[self.unread..]);
            if let Some(caps) = re.captures(&plain)
                && let Some(whole) = caps.get(0).filter(|m| !m.is_empty())
            {
                let end = whole.end();
                self.unread += at[end - 1] + 1;
                return Seen {
                    groups: caps
                        .iter()
                        .map(|m| m.map(|m| lossy(m.as_bytes())))
                        .collect(),
                    text: lossy(&plain[..end]),
                };
            }
            if let Err(why) = self.read_more(deadline) {
                panic!(
                    "waited for /{pattern}/: {why}\n--- the terminal so far:\n{}",
                    self.screen()
                );
            }
        }
    }

    /// Blocks (until `deadline` at most, by expectrl's expect timeout) for more output.
    fn read_more(&mut self, deadline: Instant) -> Result<(), expectrl::Error> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(expectrl::Error::ExpectTimeout);
        }
        self.session.set_expect_timeout(Some(left));
        let got = self.session.expect(expectrl::Regex(r"(?s).+"))?;
        self.raw.extend_from_slice(got.as_bytes());
        Ok(())
    }

    /// Types `keys` into the terminal.
    pub(crate) fn press(&mut self, keys: &str) {
        self.session.send(keys).expect("write to the terminal");
    }

    /// Everything drawn so far, styling stripped.
    pub(crate) fn screen(&self) -> String {
        lossy(&strip_ansi(&self.raw).0)
    }

    /// Reads to the end of the output (within `timeout`), then reaps the process:
    /// (exit status, the plain text after the last expectation).
    pub(crate) fn finish(&mut self, timeout: Duration) -> (i32, String) {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_more(deadline) {
                Ok(()) => continue,
                Err(expectrl::Error::Eof) => break,
                Err(why) => panic!(
                    "the output did not end: {why}\n--- the terminal so far:\n{}",
                    self.screen()
                ),
            }
        }
        let status = loop {
            match self.session.get_process().status() {
                Ok(WaitStatus::Exited(_, code)) => break code,
                Ok(WaitStatus::Signaled(_, signal, _)) => break 128 + signal as i32,
                Ok(_) if Instant::now() < deadline => sleep(Duration::from_millis(10)),
                other => panic!("no exit status after the output ended: {other:?}"),
            }
        };
        self.reaped = true;
        (status, lossy(&strip_ansi(&self.raw[self.unread..]).0))
    }

    /// Asserts the terminal is back in the mode the run found it in: line editing and
    /// echo on (raw mode off), and the cursor inquire hides while drawing shown again.
    fn assert_terminal_restored(&mut self) {
        let echo = self.session.is_echo();
        assert!(
            matches!(echo, Ok(true)),
            "the terminal was left without echo (raw mode?): {echo:?}"
        );
        let (hide, show) = (b"\x1b[?25l", b"\x1b[?25h");
        let last = |seq: &[u8]| self.raw.windows(seq.len()).rposition(|w| w == seq);
        assert!(
            last(show) >= last(hide),
            "the cursor was left hidden\n{}",
            self.screen()
        );
    }

    /// Answers "Run this check" at each step until the diagnosis; the node ids in order.
    fn run_every_check(&mut self) -> Vec<String> {
        let mut nodes = Vec::new();
        while let Some(node) = self.next_step() {
            self.choose_run();
            nodes.push(node);
        }
        nodes
    }

    /// The node id of the next step's header, or `None` once the diagnosis shows instead.
    fn next_step(&mut self) -> Option<String> {
        let seen = self.expect(r"Step \d+: (\S+)\r?\n|(Diagnosis:)");
        seen.groups[1].clone()
    }

    /// Runs the check at the live prompt, or gives a question its default
    /// (empty) answer.
    pub(crate) fn choose_run(&mut self) {
        let seen = self.expect(&format!("({WHAT_NOW})|({QUESTION})"));
        self.press(ENTER);
        if seen.groups[1].is_some() {
            self.expect(r"What now\? Run this check");
        }
    }

    /// Declines every fix the diagnosis offers to run, and checking again, up to the save
    /// prompt; returns the report printed in between (from its `nginx-doctor <version>:`
    /// header on).
    fn decline_fixes(&mut self) -> String {
        self.decline_fix_offers();
        self.press(DOWN);
        self.press(ENTER);
        self.expect(r"Finish and show the report");
        self.report_until_save()
    }

    /// Declines every fix command and edit offered, up to the offer to check again.
    fn decline_fix_offers(&mut self) {
        let either = format!("({FIX_OFFER})|({EDIT_OFFER})|({RECHECK_OFFER})");
        loop {
            let seen = self.expect(&either);
            if seen.groups[1].is_some() {
                self.press(ENTER);
                self.expect(r"now\? No");
                continue;
            }
            if seen.groups[2].is_some() {
                self.press(ENTER);
                self.expect(r"change\? No");
                continue;
            }
            return;
        }
    }

    /// Chooses "Check again now" at the live offer; the check's lines, up to its verdict.
    fn check_again(&mut self) -> String {
        self.press(ENTER);
        let seen = self.expect(r"Checked again at [^\n]*\n(?s:.*?)(The fault is gone[^\n]*|\d+ faults? remains?[^\n]*)\r?\n");
        seen.text
    }

    /// The report printed before the save prompt (from its header on).
    fn report_until_save(&mut self) -> String {
        let seen = self.expect(SAVE_OFFER);
        let at = seen.text.find("nginx-doctor ");
        let report = at.map(|at| &seen.text[at..]);
        report
            .unwrap_or_else(|| panic!("no report before the save prompt:\n{}", seen.text))
            .to_string()
    }

    /// Answers the live save prompt with "no".
    fn decline_saving(&mut self) {
        self.press("n");
        self.press(ENTER);
        self.expect(r"Save this report to a file\? No");
    }
}

impl Drop for Guided {
    fn drop(&mut self) {
        if !self.reaped {
            // The pty child leads its own session and group: this also takes any probe
            // it was running. The wait reaps it before the session's own drop looks.
            let _ = killpg(Pid::from_raw(self.pid), Signal::SIGKILL);
            let _ = self.session.get_process().wait();
        }
    }
}

/// `raw` without ANSI escape sequences, and for each byte kept, its offset in `raw`.
fn strip_ansi(raw: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut plain = Vec::with_capacity(raw.len());
    let mut at = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == 0x1b {
            i = escape_end(raw, i);
        } else {
            plain.push(raw[i]);
            at.push(i);
            i += 1;
        }
    }
    (plain, at)
}

/// The offset just past the escape at `start`: a CSI (`ESC [` parameters, final byte
/// 0x40..=0x7e) or a two-byte `ESC x`. An unfinished one runs to the end of what was read.
fn escape_end(raw: &[u8], start: usize) -> usize {
    match raw.get(start + 1) {
        Some(b'[') => raw[start + 2..]
            .iter()
            .position(|b| (0x40..=0x7e).contains(b))
            .map_or(raw.len(), |p| start + 3 + p),
        Some(_) => start + 2,
        None => raw.len(),
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What a crash would print; a clean quit prints none of it.
fn assert_no_panic(text: &str) {
    for sign in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(!text.contains(sign), "{sign:?} in the output:\n{text}");
    }
}

#[test]
fn guided_walk_reaches_the_diagnosis() {
    let (lab, _) = Lab::stopped_fpm_scenario();
    let mut tty = Guided::start(&lab, false);

    let nodes = tty.run_every_check();
    assert!(nodes.len() >= 2, "steps shown: {nodes:?}");
    let diagnosis = tty.expect(r"[^\n]*\((\S+)\)\r?\n");
    assert_eq!(diagnosis.group(1), "backend-down", "{}", tty.screen());
    let report = tty.decline_fixes();
    tty.decline_saving();
    let (status, _) = tty.finish(EXPECT_TIMEOUT);

    assert_eq!(status, 1, "exit status\n{}", tty.screen());
    assert!(report.contains("backend-down"), "report:\n{report}");
    assert_no_panic(&tty.screen());
    tty.assert_terminal_restored();
}

/// Runs guided mode on `lab` to its end the way a person who accepts every suggestion
/// does (every check run, the question skipped, every fix and saving declined), and
/// returns everything the terminal showed, styling stripped.
pub(crate) fn walk_to_the_end(lab: &Lab) -> String {
    let mut tty = Guided::start(lab, false);
    tty.run_every_check();
    // A fault offers fixes and then to check again; a healthy host goes on to saving.
    let either = format!("({FIX_OFFER})|({EDIT_OFFER})|({RECHECK_OFFER})|({SAVE_OFFER})");
    loop {
        let seen = tty.expect(&either);
        if seen.groups[1].is_some() || seen.groups[2].is_some() {
            tty.press(ENTER);
        } else if seen.groups[3].is_some() {
            tty.press(DOWN);
            tty.press(ENTER);
        } else {
            break;
        }
    }
    tty.decline_saving();
    let _ = tty.finish(EXPECT_TIMEOUT);
    tty.screen()
}

/// Walks `steps` steps (running checks, skipping the question), then
/// returns the node ids seen.
fn walk(tty: &mut Guided, steps: usize) -> Vec<String> {
    (0..steps)
        .map(|_| {
            let node = tty.next_step().expect("a step before the diagnosis");
            tty.choose_run();
            node
        })
        .collect()
}

/// Finishes a walk from the live step on: every check run, fixes and saving declined.
fn finish_walk(tty: &mut Guided) {
    tty.run_every_check();
    tty.decline_fixes();
    tty.decline_saving();
    let (status, _) = tty.finish(EXPECT_TIMEOUT);
    assert_eq!(status, 1, "exit status\n{}", tty.screen());
}

#[test]
fn going_back_repeats_the_previous_step() {
    let (lab, _) = Lab::stopped_fpm_scenario();
    let mut tty = Guided::start(&lab, false);

    // find-nginx, config-test, then the question (skipped).
    let nodes = walk(&mut tty, 3);
    let fourth = tty.next_step().expect("a fourth step");
    tty.expect(WHAT_NOW);
    tty.press(DOWN);
    tty.press(DOWN);
    tty.expect(r"> Go back one step");
    tty.press(ENTER);
    tty.expect(r"What now\? Go back one step");
    let again = tty.expect(r"Step (\d+): (\S+)\r?\n");

    assert_eq!(
        (again.group(1), again.group(2)),
        ("3", nodes[2].as_str()),
        "after going back from {fourth}, the step before it comes again, with its own number\n{}",
        tty.screen()
    );
    tty.choose_run();
    let next = tty.next_step().expect("the walk goes on");
    assert_eq!(next, fourth, "then the walk goes on from there");
    tty.choose_run();
    finish_walk(&mut tty);
}

#[test]
fn typing_dot_dot_at_a_question_goes_back() {
    let (lab, _) = Lab::stopped_fpm_scenario();
    let mut tty = Guided::start(&lab, false);

    let nodes = walk(&mut tty, 2);
    let question = tty.next_step().expect("the question");
    tty.expect(QUESTION);
    tty.press("..");
    tty.press(ENTER);
    let again = tty.expect(r"Step (\d+): (\S+)\r?\n");

    assert_eq!(
        (again.group(1), again.group(2)),
        ("2", nodes[1].as_str()),
        "`..` at {question} goes back to the check before it, with its own number\n{}",
        tty.screen()
    );
    tty.choose_run();
    finish_walk(&mut tty);
}

/// Presses `key` at the first prompt; the run must end at once with 130 and no crash.
fn quits_cleanly_on(key: &str) {
    let (lab, _) = Lab::stopped_fpm_scenario();
    let mut tty = Guided::start(&lab, false);

    tty.next_step().expect("a first step");
    tty.expect(WHAT_NOW);
    tty.press(key);
    let (status, rest) = tty.finish(EXPECT_TIMEOUT);

    assert_eq!(status, 130, "exit status\n{}", tty.screen());
    assert!(rest.contains("interrupted"), "after the key:\n{rest}");
    assert!(
        !rest.contains("result:"),
        "a check ran after quitting:\n{rest}"
    );
    assert_no_panic(&tty.screen());
    tty.assert_terminal_restored();
}

#[test]
fn escape_quits_cleanly_with_130() {
    quits_cleanly_on(ESC);
}

#[test]
fn ctrl_c_quits_cleanly_with_130() {
    quits_cleanly_on(CTRL_C);
}

#[test]
fn saving_the_report_writes_the_file() {
    let (lab, _) = Lab::stopped_fpm_scenario();
    let out = tempfile::tempdir().expect("temp dir");
    let path = out.path().join("report.md");
    // Colour on, as on a real terminal: the file must still come out plain.
    let mut tty = Guided::start(&lab, true);

    tty.run_every_check();
    tty.decline_fixes();
    tty.press("y");
    tty.press(ENTER);
    tty.expect(r"Save this report to a file\? Yes");
    tty.expect(r"File name:");
    tty.press(&path.display().to_string());
    tty.press(ENTER);
    tty.expect(r"report written to ");
    let (status, _) = tty.finish(EXPECT_TIMEOUT);

    assert_eq!(status, 1, "exit status\n{}", tty.screen());
    let styled = Regex::new(r"\x1b\[[0-9;]*m").expect("SGR pattern");
    assert!(
        styled.is_match(&tty.raw),
        "the terminal showed no styling, so this test proves nothing"
    );
    let saved = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = lossy(&saved);
    assert!(text.contains("backend-down"), "saved report:\n{text}");
    assert!(
        !saved.contains(&0x1b),
        "escape bytes in the saved report:\n{text:?}"
    );
}

#[test]
fn checking_again_after_the_fix_says_whether_the_fault_is_gone() {
    let (lab, fpm) = Lab::stopped_fpm_scenario();
    let mut tty = Guided::start(&lab, false);
    tty.run_every_check();
    tty.decline_fix_offers();

    // Checked before anything was done: it still fails, and says so.
    let before = tty.check_again();
    assert!(before.contains("still failing"), "{before}");
    assert!(before.contains("1 fault remains"), "{before}");
    // The person starts php-fpm (in another terminal), then checks again. A
    // start in the second of the last failure proves no recovery (log times are
    // whole seconds), and no person is that quick.
    // Nothing changed at that check, so Enter would now finish: the person picks
    // "Check again now" above it.
    tty.expect(RECHECK_OFFER);
    lab.next_second();
    let _fpm = lab.restart_fpm(&fpm);
    tty.press(UP);
    let after = tty.check_again();
    assert!(after.contains(": fixed"), "{after}");
    assert!(after.contains("The fault is gone"), "{after}");
    let report = tty.report_until_save();
    tty.decline_saving();
    let (status, _) = tty.finish(EXPECT_TIMEOUT);

    assert_eq!(status, 0, "the fault is gone now\n{}", tty.screen());
    assert!(
        report.contains("backend-down"),
        "the diagnosis stays in the report:\n{report}"
    );
    assert_eq!(
        report.matches("Checked again at").count(),
        1,
        "the last check only: {report}"
    );
    assert!(report.contains("gone when checked again at"), "{report}");
    assert_eq!(lab.get("/ok.php"), 200);
}

/// Waits (bounded) for a non-terminal run; kills its group and fails on the timeout.
fn wait_bounded(guard: &mut Guard) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(status) = guard.exited() {
            return status.code().unwrap_or(-1);
        }
        if started.elapsed() > NO_TTY_TIMEOUT {
            guard.stop();
            panic!("no terminal, yet it still ran after {NO_TTY_TIMEOUT:?}: killed");
        }
        sleep(Duration::from_millis(20));
    }
}

/// Reads a pipe to its end on a thread, so a full pipe never blocks the child.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        lossy(&bytes)
    })
}

#[test]
fn without_a_terminal_it_never_waits_for_input() {
    let (lab, _) = Lab::stopped_fpm_scenario();
    // Held open and never written: a read on stdin would block for ever.
    let (stdin, writer) = os_pipe::pipe().expect("pipe");
    let mut cmd = Command::new(BINARY);
    cmd.arg("--conf")
        .arg(lab.nginx_info().conf)
        .current_dir(lab.dir())
        .env("NO_COLOR", "1")
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut guard = Guard::spawn("nginx-doctor", &mut cmd).expect("start the binary");
    drop(cmd);
    let out = drain(guard.take_stdout());
    let err = drain(guard.take_stderr());

    let status = wait_bounded(&mut guard);
    let (stdout, stderr) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    drop(writer);

    let run = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!(status, 1, "exit status\n{run}");
    assert!(stdout.contains("backend-down"), "report\n{run}");
    assert!(!stderr.contains("What now?"), "it prompted\n{run}");
}

#[test]
fn on_a_terminal_with_stdin_a_pipe_it_never_waits_for_input() {
    let (lab, _) = Lab::stopped_fpm_scenario();
    // stdout, stderr and the controlling terminal are the pty; stdin is a FIFO this test
    // holds open for writing and never writes. A prompt would read the terminal instead.
    let fifo = lab.path("stdin.fifo");
    mkfifo(&fifo, Mode::S_IRUSR | Mode::S_IWUSR).expect("mkfifo");
    let writer = File::options()
        .read(true)
        .write(true)
        .open(&fifo)
        .expect("hold the FIFO open");
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(r#"exec "$0" --conf "$1" < "$2""#)
        .arg(BINARY)
        .arg(lab.nginx_info().conf)
        .arg(&fifo)
        .current_dir(lab.dir())
        .env("NO_COLOR", "1");
    let mut tty = Guided::spawn(cmd);

    let (status, rest) = tty.finish(NO_TTY_TIMEOUT);
    drop(writer);
    assert_eq!(status, 1, "exit status\n{rest}");
    assert!(rest.contains("backend-down"), "report\n{rest}");
    assert!(!rest.contains("What now?"), "it prompted\n{rest}");
}

#[test]
fn a_built_in_check_shows_the_command_a_person_could_type() {
    let (lab, _) = Lab::stopped_fpm_scenario();
    let mut tty = Guided::start(&lab, false);
    // find-nginx, config-test, the question; then the error log's step.
    walk(&mut tty, 3);
    let log = lab.path("error.log").display().to_string();
    tty.expect(&format!(
        r"command: tail -n 200 {}\r?\n",
        regex::escape(&log)
    ));
    tty.choose_run();
    finish_walk(&mut tty);
}

/// nginx.conf broken on disk (the running nginx keeps its loaded config): `nginx -t`
/// fails, so the next reload would; php-fpm serves.
fn config_invalid_lab() -> Lab {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    lab.break_config("bogus_directive on;");
    assert_ne!(
        lab.nginx_test().status,
        0,
        "nginx -t passes the broken config"
    );
    lab
}

impl Guided {
    /// At the config-invalid diagnosis: makes the edit it shows as a person would (the
    /// line `nginx -t` names is the bogus directive: it goes), says it is made, and
    /// accepts every command offered after it (`nginx -t`, then the reload). Returns the
    /// commands accepted, as shown.
    fn make_the_edit_and_accept_the_commands(&mut self) -> Vec<String> {
        let place = self.expect(r"in (\S+), line (\d+)\r?\n");
        let (file, line) = (
            place.group(1).to_owned(),
            place.group(2).parse().expect("a line"),
        );
        delete_line(&file, line, "bogus_directive");
        self.expect(EDIT_OFFER);
        self.press("y");
        self.press(ENTER);
        self.expect(r"change\? Yes");
        let mut accepted = Vec::new();
        for _ in 0..2 {
            let offer = self.expect(r"Run `([^`]*)` now\? \(y/N\)");
            // The prompt wraps at the terminal's width.
            accepted.push(offer.group(1).replace(['\r', '\n'], ""));
            self.press("y");
            self.press(ENTER);
            self.expect(r"now\? Yes");
            self.expect(r"done \(exit status 0\)");
        }
        accepted
    }

    /// After the accepted fixes: walks on (every check run, questions skipped, other
    /// fixes declined), checks again, which must find the fault gone, and declines saving;
    /// the report.
    fn finish_after_fixing(&mut self) -> String {
        let any =
            format!("({WHAT_NOW})|({QUESTION})|({FIX_OFFER})|({EDIT_OFFER})|({RECHECK_OFFER})");
        while self.expect(&any).groups[5].is_none() {
            self.press(ENTER);
        }
        let check = self.check_again();
        assert!(check.contains("The fault is gone"), "{check}");
        let report = self.report_until_save();
        self.decline_saving();
        let (status, _) = self.finish(EXPECT_TIMEOUT);
        assert_eq!(status, 0, "the fault is gone\n{}", self.screen());
        report
    }
}

/// Deletes line `line` (1-based) of `file`, which must hold `expected`: the edit a person
/// makes where the fix points.
fn delete_line(file: &str, line: usize, expected: &str) {
    let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.get(line - 1).is_some_and(|l| l.contains(expected)),
        "{file}:{line} is not the {expected} line:\n{text}"
    );
    lines.remove(line - 1);
    fs::write(file, lines.join("\n") + "\n").unwrap_or_else(|e| panic!("{file}: {e}"));
}

#[test]
fn an_accepted_fix_runs_and_the_report_says_what_was_run_and_how_it_went() {
    let lab = config_invalid_lab();
    let workers = lab.nginx_workers();
    let mut tty = Guided::start(&lab, false);
    tty.run_every_check();
    tty.expect(r"\(config-invalid\)");

    let accepted = tty.make_the_edit_and_accept_the_commands();
    let report = tty.finish_after_fixing();

    assert!(accepted[0].contains(" -t "), "nginx -t first: {accepted:?}");
    assert!(
        accepted[1].ends_with("-s reload"),
        "then the reload: {accepted:?}"
    );
    let ran = report
        .split("What was run")
        .nth(1)
        .unwrap_or_else(|| panic!("no \"What was run\" in the report:\n{report}"));
    for command in &accepted {
        assert!(
            ran.contains(&format!("$ {command}")),
            "{command} not in:\n{ran}"
        );
    }
    assert_eq!(
        ran.matches("fix for config-invalid, started ").count(),
        2,
        "{ran}"
    );
    assert_eq!(ran.matches(": done (exit status 0)").count(), 2, "{ran}");
    // Doing it fixed it: the configuration passes and nginx reloaded onto it.
    assert_eq!(lab.nginx_test().status, 0, "nginx -t after the fix");
    lab.await_new_workers(&workers);
    assert_eq!(lab.get("/ok.php"), 200);
}

#[test]
fn a_recorded_run_keeps_the_accepted_fix_and_its_replay_shows_it() {
    let lab = config_invalid_lab();
    let out = tempfile::tempdir().expect("temp dir");
    let bundle = out.path().join("bundle");
    let dir = bundle.display().to_string();
    let mut tty = Guided::start_with(&lab, false, &["--record", &dir]);
    tty.run_every_check();
    tty.expect(r"\(config-invalid\)");
    let accepted = tty.make_the_edit_and_accept_the_commands();
    tty.finish_after_fixing();

    let text = fs::read_to_string(bundle.join("bundle.json")).expect("bundle.json");
    let recorded: serde_json::Value = serde_json::from_str(&text).expect("bundle JSON");
    let fixes = recorded["fixes"].as_array().expect("fixes in the bundle");
    assert_eq!(fixes.len(), 2, "{text}");
    assert!(fixes.iter().all(|f| f["result"] == "done"), "{fixes:?}");
    let replay = crate::support::doctor::run_bounded(
        BINARY,
        &["--replay".to_owned(), dir, "--format".into(), "json".into()],
        lab.dir(),
        EXPECT_TIMEOUT,
    );
    let report: serde_json::Value = serde_json::from_str(&replay.stdout).expect("report JSON");
    let shown: Vec<&str> = report["fixes"]
        .as_array()
        .expect("fixes in the replay's report")
        .iter()
        .filter_map(|f| f["finding"].as_str())
        .collect();
    assert_eq!(shown, ["config-invalid", "config-invalid"], "{replay}");
    assert_eq!(accepted.len(), 2);
    assert!(
        replay
            .stderr
            .contains("replay: the same diagnosis as the recorded report"),
        "{replay}"
    );
}

#[test]
fn quitting_after_an_accepted_fix_names_the_fix_instead_of_saying_nothing_changed() {
    let lab = config_invalid_lab();
    let mut tty = Guided::start(&lab, false);
    tty.run_every_check();
    tty.expect(r"\(config-invalid\)");
    let accepted = tty.make_the_edit_and_accept_the_commands();

    tty.expect(&format!("({WHAT_NOW})|({QUESTION})"));
    tty.press(ESC);
    let (status, rest) = tty.finish(EXPECT_TIMEOUT);

    assert_eq!(status, 130, "exit status\n{}", tty.screen());
    assert!(!rest.contains("nothing was changed"), "{rest}");
    assert!(
        rest.contains("the host was changed only by the fix commands you accepted:"),
        "{rest}"
    );
    for command in &accepted {
        assert!(
            rest.contains(&format!("$ {command}")),
            "{command} not in:\n{rest}"
        );
    }
}
