//! One error path for every command: a command returns its exit status or
//! an [`Error`], and `lib::run` prints the error once, the same way, with
//! what caused it.
//!
//! Each variant carries the exit status it ends the run with, so no command
//! decides on its own how a kind of failure is reported. Probe failures are
//! not errors (they are data in the walk); these are the failures that end
//! a run or spoil its output.

use std::io;
use std::io::Write;

use crate::exit::ExitStatus;
use crate::plural;
use crate::rules::Problems;
use crate::session::OptionsError;

/// Why a command could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag's value is wrong, or names a path that cannot be used.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// The rule pack is unsound: nothing was run.
    #[error("the rule pack has {}; nothing was run", plural::count(.0.0.len(), "problem"))]
    RulePack(Problems),
    /// What the person gave is not what the command works on.
    #[error("{0}")]
    Usage(String),
    /// Input the command needs could not be read.
    #[error("cannot read {what}")]
    Input {
        what: String,
        #[source]
        source: io::Error,
    },
    /// Output could not be written (or encoded); `what` says where, and
    /// whether the person already has it some other way.
    #[error("cannot write {what}")]
    Output {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The command ran but could not do its work; the message says why and
    /// what to do.
    #[error("{0}")]
    CouldNotRun(String),
    /// Ctrl-C, SIGTERM or a refused prompt ended the run; the message says
    /// what the run changed on the host before it ended.
    #[error("interrupted; {0}")]
    Interrupted(String),
}

impl Error {
    /// The exit status a run that ends with this error exits with.
    pub fn status(&self) -> ExitStatus {
        match self {
            Error::Options(e) => e.status(),
            Error::RulePack(_) | Error::Usage(_) => ExitStatus::Usage,
            Error::Input { .. } | Error::Output { .. } | Error::CouldNotRun(_) => {
                ExitStatus::CouldNotRun
            }
            Error::Interrupted(_) => ExitStatus::Interrupted,
        }
    }

    /// An output error from anything that failed to write or encode.
    pub fn output(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error::Output {
            what: what.into(),
            source: source.into(),
        }
    }

    /// Prints the error the one way every error is printed: what went
    /// wrong, then each cause on its own line. A rule pack's problems come
    /// first, one `file:line:column` a line; an interruption is not an
    /// error of the program and is said plainly.
    pub fn print(&self) {
        use colored::Colorize;
        let mut err = io::stderr().lock();
        if let Error::Interrupted(_) = self {
            let _ = writeln!(err, "\n{self}");
            return;
        }
        if let Error::RulePack(problems) = self {
            let _ = writeln!(err, "{problems}");
        }
        let _ = writeln!(err, "{} {self}", "error:".red().bold());
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            let _ = writeln!(err, "  caused by: {c}");
            cause = c.source();
        }
    }
}

/// What every command returns.
pub type Result<T, E = Error> = std::result::Result<T, E>;
