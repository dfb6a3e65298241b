//! Probes: how the engine learns about the host.
//!
//! The engine asks a [`Prober`] to observe a probe and gets an
//! [`Observation`] back — always, never an error: a probe that could not run
//! (missing tool, not root, no systemd, timed out) is itself a finding the
//! tree branches on. [`system::SystemProber`] looks at this host; tests and
//! replays give recorded observations instead.

pub mod builtin;
pub mod command;
pub mod isolate;
pub mod nginx_test;
pub mod system;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::rules::Probe;
use crate::value::Value;

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

/// What a probe saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub status: ProbeStatus,
    pub exit: Option<i32>,
    /// Captured output, capped; host text, so it is sanitised before display.
    pub stdout: String,
    pub stderr: String,
    #[serde(with = "millis")]
    pub duration: Duration,
    /// A built-in's facts, without the probe-id prefix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<(String, Value)>,
    /// The command a person would type to see the same thing.
    pub shown_as: String,
    /// Why it did not run, or what went wrong, with what to do.
    pub reason: Option<String>,
}

impl Observation {
    /// An observation of a probe that did not run.
    pub fn not_run(
        status: ProbeStatus,
        shown_as: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Observation {
            status,
            exit: None,
            stdout: String::new(),
            stderr: String::new(),
            duration: Duration::ZERO,
            facts: Vec::new(),
            shown_as: shown_as.into(),
            reason: Some(reason.into()),
        }
    }
}

/// Looks at a host (or a recording of one).
pub trait Prober {
    fn observe(&mut self, probe: &Probe, invocation: &Invocation) -> Observation;

    /// The command a person could type to see what the probe will look at,
    /// shown before it runs (a built-in's `ss`, `tail` or `namei` line).
    fn preview(&mut self, invocation: &Invocation) -> String {
        invocation.shown()
    }
}

/// A prober that answers from recorded observations by probe id; a probe
/// with no recording is reported as not run. Used by tests and replays.
#[derive(Debug, Default)]
pub struct Recorded {
    pub observations: BTreeMap<String, Observation>,
    /// Every invocation asked for, in order, for assertions.
    pub asked: Vec<(String, Invocation)>,
}

impl Prober for Recorded {
    fn observe(&mut self, probe: &Probe, invocation: &Invocation) -> Observation {
        self.asked.push((probe.id.clone(), invocation.clone()));
        self.observations
            .get(&probe.id)
            .cloned()
            .unwrap_or_else(|| {
                Observation::not_run(
                    ProbeStatus::Error,
                    probe.id.clone(),
                    "no recorded observation",
                )
            })
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
