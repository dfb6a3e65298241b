//! Running a fix command the person accepted: the one way the tool changes
//! a host.
//!
//! The engine asks the [`super::Guide`] whether to run a step's command and,
//! on a yes, hands it to a [`Fixer`]; what the fixer reports becomes a
//! [`crate::walk::FixRecord`] in the walk, so the report and the bundle say
//! what was changed. [`SystemFixer`] runs it on this host with the same
//! bounds as a probe's command (argv, no shell, its own process group, a
//! timeout, capped output); [`ScriptedFixer`] stands in for it in tests, and
//! a replay answers from the bundle's records.

use std::time::Duration;

use crate::logs::Timestamp;
use crate::probe::command::{self, CommandSpec, Outcome};
use crate::sanitize;

/// Longest a fix command may run before it is stopped.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Output kept from a fix command.
const MAX_OUTPUT: usize = 64 * 1024;
/// Characters of its output the record keeps.
const EXCERPT_CHARS: usize = 2000;

/// What running a fix command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixRun {
    /// When it started (RFC 3339, UTC).
    pub at: String,
    /// Whether it was started at all.
    pub started: bool,
    /// Its exit status, when it exited.
    pub exit: Option<i32>,
    /// How it ended, in words.
    pub outcome: String,
    pub duration_ms: u64,
    /// Its output, line by line made safe to print, bounded.
    pub excerpt: String,
}

/// Runs a fix command the person accepted.
pub trait Fixer {
    fn run(&mut self, argv: &[String]) -> FixRun;
}

/// Runs fix commands on this host.
#[derive(Debug, Default)]
pub struct SystemFixer;

impl Fixer for SystemFixer {
    fn run(&mut self, argv: &[String]) -> FixRun {
        crate::interrupt::changing(&crate::shell::words(argv));
        let at = Timestamp::now().to_string();
        let out = command::run(&CommandSpec {
            argv: argv.to_vec(),
            timeout: TIMEOUT,
            max_output: MAX_OUTPUT,
        });
        let (started, exit) = match out.outcome {
            Outcome::Exited(n) => (true, Some(n)),
            Outcome::Signaled(_) | Outcome::TimedOut => (true, None),
            _ => (false, None),
        };
        FixRun {
            at,
            started,
            exit,
            outcome: out.outcome.to_string(),
            duration_ms: crate::walk::millis(out.duration),
            excerpt: excerpt(&out.stdout, &out.stderr),
        }
    }
}

/// A command's output for the record: stdout then stderr, each line with
/// whatever could steer a terminal made visible, cut to a bound.
pub fn excerpt(stdout: &[u8], stderr: &[u8]) -> String {
    let text = [stdout, stderr]
        .iter()
        .map(|b| String::from_utf8_lossy(b).trim_end().to_owned())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let lines: Vec<String> = text
        .lines()
        .map(|l| sanitize::for_terminal(l.as_bytes()))
        .collect();
    sanitize::truncate(&lines.join("\n"), EXCERPT_CHARS)
}

/// Runs nothing: answers every command with `answer` (by default, exit 0
/// and no output) and keeps the argv it was given, for tests.
#[derive(Debug, Clone)]
pub struct ScriptedFixer {
    pub answer: FixRun,
    /// Every command it was asked to run, in order.
    pub ran: Vec<Vec<String>>,
}

impl Default for ScriptedFixer {
    fn default() -> Self {
        ScriptedFixer {
            answer: FixRun {
                at: "2026-01-01T00:00:00Z".into(),
                started: true,
                exit: Some(0),
                outcome: "done (exit status 0)".into(),
                duration_ms: 0,
                excerpt: String::new(),
            },
            ran: Vec::new(),
        }
    }
}

impl Fixer for ScriptedFixer {
    fn run(&mut self, argv: &[String]) -> FixRun {
        self.ran.push(argv.to_vec());
        self.answer.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_runs_is_recorded_with_its_status_and_output() {
        let run = SystemFixer.run(&["sh".into(), "-c".into(), "echo hi; exit 3".into()]);
        assert!(run.started);
        assert_eq!(run.exit, Some(3));
        assert_eq!(run.excerpt, "hi");
        assert_eq!(run.outcome, "failed with exit status 3");
    }

    #[test]
    fn a_missing_program_is_not_started() {
        let run = SystemFixer.run(&["/nonexistent/fix-it".into()]);
        assert!(!run.started);
        assert_eq!(run.exit, None);
    }

    #[test]
    fn output_is_made_safe_to_print_and_bounded() {
        let text = excerpt(b"a\x1b[31mb\n", b"err\n");
        assert_eq!(text, "a\\x1b[31mb\nerr");
        let long = vec![b'x'; 5000];
        assert!(excerpt(&long, b"").chars().count() < 2100);
    }
}
