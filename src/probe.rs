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

// What a probe is asked and how it went are words of the pack (its
// conditions branch on `X.status`); the walk's records hold them too.
pub use crate::rules::{Invocation, ProbeStatus};

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
