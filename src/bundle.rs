//! Bundles: a diagnosis recorded on one host and replayed on another.
//!
//! `--record DIR` writes what the walk saw — every probe's invocation and
//! observation, the host's facts, the context the walk started from, the
//! answers given and the report — so a support engineer can rerun the same
//! diagnosis without the host, the way sosreports are read. `--replay`
//! feeds those observations back through the engine, so no probe executes
//! and, with the same rule pack, the same report comes out; a newer pack
//! reads the old evidence anew. Every string is redacted before it is
//! written ([`redact::Redactor`]), so a bundle can be sent to someone else.
//! A fix the person accepted is kept as it ran; a replay shows it again and
//! runs nothing.

mod record;
pub mod redact;
mod replay;
mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::probe::{Invocation, Observation, ProbeStatus};
use crate::report::HostInfo;
use crate::value::{Facts, Value};
use crate::walk::FixRecord;

pub use record::{RecordingGuide, RecordingProber};
pub use replay::{ReplayFixer, ReplayGuide, Replayer, differences};
pub use store::{load, save};

/// The bundle format this build writes and reads.
pub const FORMAT: u32 = 1;
/// The bundle's main file, in the directory or the archive.
pub const BUNDLE_FILE: &str = "bundle.json";
/// The recorded report (JSON), beside [`BUNDLE_FILE`].
pub const REPORT_FILE: &str = "report.json";

/// Everything a recorded run saw: `bundle.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    /// [`FORMAT`]; a bundle of another format is refused, not misread.
    pub format: u32,
    /// The nginx-doctor version that recorded it.
    #[serde(default)]
    pub tool_version: String,
    /// When it was recorded (RFC 3339, UTC).
    #[serde(default)]
    pub recorded_at: String,
    /// How the recorded run went: `auto` or `guided`.
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub host: HostDetails,
    /// The facts known before any probe ran (`host.*`, `opts.*`).
    #[serde(default)]
    pub context: BTreeMap<String, Value>,
    /// The answer to each question, by the fact it sets.
    #[serde(default)]
    pub answers: BTreeMap<String, Value>,
    /// One entry per check of the report, in the order they ran.
    #[serde(default)]
    pub observations: Vec<Recording>,
    /// The fix commands the person accepted, as they ran; a replay shows
    /// them again without running anything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<FixRecord>,
}

/// What the bundle says about the machine it was recorded on.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HostDetails {
    pub hostname: String,
    pub euid: u32,
    pub root: bool,
    pub systemd: bool,
    /// `uname -r`, from /proc/sys/kernel/osrelease.
    pub kernel: Option<String>,
    /// PRETTY_NAME from /etc/os-release.
    pub distro: Option<String>,
    /// What `nginx -V` printed (version, build options).
    pub nginx_version: Option<String>,
}

impl HostDetails {
    /// The host as the report shows it.
    pub fn info(&self) -> HostInfo {
        HostInfo {
            hostname: self.hostname.clone(),
            euid: self.euid,
            root: self.root,
            systemd: self.systemd,
        }
    }
}

/// One probe as it ran: which probe, how it was invoked, what it saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// The probe id; replay hands the n-th recording of an id to the n-th use.
    pub probe: String,
    /// The decision-tree node that ran it (for people; replay ignores it).
    #[serde(default)]
    pub node: String,
    pub invocation: Invocation,
    pub status: ProbeStatus,
    #[serde(default)]
    pub exit: Option<i32>,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    #[serde(default)]
    pub duration_ms: u64,
    /// A built-in's facts, without the probe-id prefix.
    #[serde(default)]
    pub facts: BTreeMap<String, Value>,
    #[serde(default)]
    pub shown_as: String,
    #[serde(default)]
    pub reason: Option<String>,
}

impl Recording {
    /// The observation to hand back to the engine.
    pub fn observation(&self) -> Observation {
        Observation {
            status: self.status,
            exit: self.exit,
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            duration: std::time::Duration::from_millis(self.duration_ms),
            facts: self
                .facts
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            shown_as: self.shown_as.clone(),
            reason: self.reason.clone(),
        }
    }
}

impl Bundle {
    /// The context facts to start the replayed walk from.
    pub fn context_facts(&self) -> Facts {
        let mut facts = Facts::new();
        for (name, value) in &self.context {
            facts.set(name.clone(), value.clone());
        }
        facts
    }
}

/// Why a bundle could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(
        "cannot read the bundle {path}: {source}; give the directory --record wrote, or a .tar.gz of it"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no {BUNDLE_FILE}; give the directory --record wrote, or a .tar.gz of it")]
    Missing { path: PathBuf },
    #[error("{path} is not a bundle nginx-doctor can read: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "{path} is bundle format {found}, this nginx-doctor reads format {FORMAT}; replay it with the version that recorded it"
    )]
    Format { path: PathBuf, found: u32 },
    #[error("{path} is larger than {limit} MiB; that is not a bundle --record wrote")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("cannot write the bundle to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}
