//! What a walk found: the vocabulary the engine produces and the guide, the
//! report and the bundle consume.
//!
//! It lives below all of them so data flows one way: the engine fills a
//! [`Walk`], and nothing here knows how it was walked or how it is shown.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::probe::{Invocation, ProbeStatus};
use crate::rules::{Confidence, Role};
use crate::value::{Facts, Value};

/// Everything a walk found.
#[derive(Debug, Default, Serialize)]
pub struct Walk {
    pub findings: Vec<Finding>,
    /// Upstreams whose logged failures stopped: what changed, and the old
    /// lines as history. Not faults.
    pub resolved: Vec<Finding>,
    pub checks: Vec<CheckRecord>,
    /// The nodes visited, in order.
    pub path: Vec<String>,
    pub answers: BTreeMap<String, Value>,
    /// Why the walk could not go on, when it ended at a stop.
    pub stopped: Option<String>,
    #[serde(skip)]
    pub facts: Facts,
}

/// A diagnosis.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: String,
    pub title: String,
    pub confidence: Confidence,
    pub primary: bool,
    /// What the finding is about: the upstream as nginx logged it
    /// (`fastcgi://unix:/run/php/php8.2-fpm.sock`), or none for the host.
    pub upstream: Option<String>,
    /// The upstream's failures in one line, as the walk of its item was
    /// announced (`...: 6 failures from 10:30:11 to 10:42:10 (...)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    /// Whether it causes the failures seen now, only will (latent), is a
    /// consequence of another finding, or is no fault at all.
    pub role: Role,
    pub explanation: String,
    pub evidence: Vec<String>,
    pub fix: FixText,
    /// Checks the person skipped that this conclusion relied on; its
    /// confidence was lowered for them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
    /// The conclusion node that made it.
    pub node: String,
}

impl Finding {
    /// Whether the finding is a fault: something to fix.
    pub fn is_fault(&self) -> bool {
        self.role.is_fault()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FixText {
    pub summary: String,
    pub steps: Vec<StepText>,
    /// Shell lines a person pastes to see that the fix worked.
    pub verify: Vec<String>,
    /// For each line of `verify`, the exit statuses that mean it worked.
    pub verify_exit: Vec<Vec<i32>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepText {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The exit statuses of `command` that mean it did its job (`[0]`
    /// unless the pack says otherwise); none without a command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<Vec<i32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The line of `file` the edit is about (the first of a range).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The last line of that range, when it is more than one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

/// One probe the walk ran, or could not run, for the report's `checks`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRecord {
    pub probe: String,
    pub node: String,
    /// The upstream whose walk ran it; none for host-wide checks.
    pub upstream: Option<String>,
    #[serde(flatten)]
    pub invocation: Invocation,
    pub shown_as: String,
    pub status: ProbeStatus,
    pub exit: Option<i32>,
    pub duration_ms: u64,
    pub excerpt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why the check ran and what it found, in the pack's words: what guided
    /// mode shows before and after it, kept for a ticket's reader.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
}

/// How long the report says a probe took; kept here so tests can build one.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
