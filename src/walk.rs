//! What a walk found: the vocabulary the engine produces and the guide, the
//! report and the bundle consume.
//!
//! It lives below all of them so data flows one way: the engine fills a
//! [`Walk`], and nothing here knows how it was walked or how it is shown.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::rules::{Confidence, Invocation, ProbeStatus, Role};
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
    /// Fix commands the person accepted in guided mode, as they ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<FixRecord>,
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

impl StepText {
    /// Where the step's edit goes, for a person: `in FILE, line 14`, `in
    /// FILE, lines 53–55`, or `in FILE`; followed by `:` when a snippet
    /// follows.
    pub fn place(&self) -> Option<String> {
        let file = self.file.as_deref()?;
        let at = match (self.line, self.last_line) {
            (Some(first), Some(last)) => format!(", lines {first}–{last}"),
            (Some(line), None) => format!(", line {line}"),
            _ => String::new(),
        };
        let colon = if self.snippet.is_some() { ":" } else { "" };
        Some(format!("in {file}{at}{colon}"))
    }

    /// The exit statuses that mean its command worked (`[0]` by default).
    pub fn success(&self) -> &[i32] {
        self.exit.as_deref().unwrap_or(&[0])
    }
}

/// What a command's success looks like when it is not exit status 0 (a
/// grep that may find nothing): said under the command, never on its line,
/// so a person copying the line copies only the command.
pub fn exit_note(exit: &[i32]) -> Option<String> {
    if exit == [0] || exit.is_empty() {
        return None;
    }
    let words: Vec<String> = exit.iter().map(i32::to_string).collect();
    let list = match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => words.join(""),
    };
    Some(format!("(exit status {list} means it worked)"))
}

/// A fix command the person accepted and the engine ran: the one way the
/// tool changes a host, so every report and bundle of the run shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixRecord {
    /// The cause id of the finding whose fix it is.
    pub finding: String,
    /// The upstream that finding is about; none for the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// The step's text, as the fix says it.
    pub step: String,
    pub argv: Vec<String>,
    /// The command line as shown to the person and pasted by them.
    pub shown_as: String,
    /// When it started (RFC 3339, UTC).
    pub at: String,
    /// `done`, `failed` (ran, but not with a success status) or `not-run`
    /// (it could not be started, or timed out and was stopped).
    pub result: FixResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    /// How it ended, in words: `done (exit status 0)`, `not installed on
    /// this host`, `did not finish in time and was stopped`.
    pub outcome: String,
    #[serde(default)]
    pub duration_ms: u64,
    /// Its output (stdout, then stderr), bounded and made safe to print.
    #[serde(default)]
    pub excerpt: String,
}

/// How an accepted fix command went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixResult {
    /// It exited with a status its step counts as success.
    Done,
    /// It ran and ended otherwise (another status, a signal, a timeout).
    Failed,
    /// It could not be started.
    NotRun,
}

impl FixResult {
    pub fn as_str(self) -> &'static str {
        match self {
            FixResult::Done => "done",
            FixResult::Failed => "failed",
            FixResult::NotRun => "not-run",
        }
    }
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

/// A finding with only what unit tests of its readers set: an id, a role,
/// an upstream (high confidence, the title `ID title`, the node its id).
#[cfg(test)]
impl Finding {
    pub(crate) fn sample(id: &str, role: Role, upstream: Option<&str>) -> Finding {
        Finding {
            id: id.to_owned(),
            title: format!("{id} title"),
            confidence: Confidence::High,
            primary: false,
            upstream: upstream.map(str::to_owned),
            about: None,
            role,
            explanation: String::new(),
            evidence: Vec::new(),
            fix: FixText::default(),
            unchecked: Vec::new(),
            node: id.to_owned(),
        }
    }
}
