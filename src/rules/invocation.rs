//! What a probe of the pack is asked to do, filled in ([`Invocation`]), and
//! how it went ([`ProbeStatus`]): the pack's conditions branch on a
//! probe's `status` fact, and the walk's check records keep both, so they
//! live here, below the probes that produce them and the walk that records
//! them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a probe is asked to do, with every fact already filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Invocation {
    Command {
        argv: Vec<String>,
    },
    Builtin {
        name: String,
        params: BTreeMap<String, String>,
    },
}

impl Invocation {
    /// The command line shown to a person before a probe runs.
    pub fn shown(&self) -> String {
        match self {
            Invocation::Command { argv } => crate::shell::words(argv),
            Invocation::Builtin { name, params } => {
                let args: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("(built-in) {name} {}", args.join(" "))
                    .trim_end()
                    .to_owned()
            }
        }
    }
}

/// How a probe went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeStatus {
    /// Ran and exited 0 (a built-in: read what it needed).
    Ok,
    /// Ran and exited non-zero or on a signal.
    Failed,
    TimedOut,
    /// The program is not installed.
    Missing,
    NotRoot,
    NoSystemd,
    /// A fact it needed did not look like a plain value; it was not run.
    UnsafeValue,
    /// The user chose not to run it.
    Skipped,
    /// The run's time budget (`--budget`) was used up before it.
    OverBudget,
    /// It writes to the host as a side effect (`nginx -t`), could not be
    /// isolated here, and could have written: it was not run.
    WouldWrite,
    /// It could not be started or read what it needed.
    Error,
}

impl ProbeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeStatus::Ok => "ok",
            ProbeStatus::Failed => "failed",
            ProbeStatus::TimedOut => "timed-out",
            ProbeStatus::Missing => "missing",
            ProbeStatus::NotRoot => "not-root",
            ProbeStatus::NoSystemd => "no-systemd",
            ProbeStatus::UnsafeValue => "unsafe-value",
            ProbeStatus::Skipped => "skipped",
            ProbeStatus::OverBudget => "over-budget",
            ProbeStatus::WouldWrite => "would-write",
            ProbeStatus::Error => "error",
        }
    }

    /// Whether the probe actually ran on the host.
    pub fn ran(self) -> bool {
        matches!(
            self,
            ProbeStatus::Ok | ProbeStatus::Failed | ProbeStatus::TimedOut
        )
    }
}
