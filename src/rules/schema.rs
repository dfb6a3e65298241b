//! The rule files as written: a serde mirror of the YAML, checked later.
//!
//! Every struct rejects unknown keys so a typo (`brances:`) is an error at
//! its line and column instead of a silently ignored branch. Turning these
//! into a sound [`RuleSet`](super::RuleSet) is the job of `rules::build`.
//! The format is documented in `rules/README.md`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One rule file. A pack is all files of a directory, read in name order.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Exactly one file of a pack says what the pack is and where to start.
    pub pack: Option<PackSpec>,
    #[serde(default)]
    pub probes: BTreeMap<String, ProbeSpec>,
    #[serde(default)]
    pub nodes: BTreeMap<String, NodeSpec>,
    /// What each cause means and the checks that tell it apart from the
    /// others a log line can mean: what `nginx-doctor explain` prints.
    #[serde(default)]
    pub causes: BTreeMap<String, CauseSpec>,
    /// What each signature the log classifier emits means.
    #[serde(default)]
    pub signatures: BTreeMap<String, SignatureSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureSpec {
    /// What the client got (502, 504, 500); none when nginx chose none.
    pub status: Option<u16>,
    /// One plain sentence: what happened.
    pub summary: String,
    /// The cause ids it can mean, most likely first.
    #[serde(default)]
    pub causes: Vec<String>,
    /// When a line shows more than its signature: which cause it puts first.
    #[serde(default)]
    pub rank: Vec<RankSpec>,
    /// What the client got, for `explain`: the first rule that holds on
    /// the line; without one, the status says it.
    #[serde(default)]
    pub client_got: Vec<LineRuleSpec>,
    /// Facts that change how to read such a line, for `explain`: every
    /// rule that holds on it adds its sentence.
    #[serde(default)]
    pub notes: Vec<LineRuleSpec>,
}

/// A sentence for a line, when its condition holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineRuleSpec {
    /// A condition over the line's facts; none: always.
    pub when: Option<String>,
    /// The status the client got (`client_got` only).
    pub status: Option<u16>,
    /// The sentence (a template over the line's facts).
    pub text: String,
}

/// A ranking rule of a signature (`explain`'s order of its causes).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankSpec {
    /// A condition over the line's facts (`upstream.scheme`, ...).
    pub when: String,
    /// The cause it puts first: one of the signature's `causes`.
    pub promote: String,
    /// Why, in a sentence (a template over the line's facts).
    pub why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CauseSpec {
    /// One or two sentences: what is wrong.
    pub summary: String,
    /// Checks that confirm or rule out this cause, most telling first.
    #[serde(default)]
    pub checks: Vec<CauseCheckSpec>,
    /// The role a conclusion of this cause has when it does not say:
    /// `healthy` for "nothing is wrong", `consequence` for a cause that is
    /// only ever the result of another; `cause` when absent.
    pub role: Option<Role>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CauseCheckSpec {
    pub say: String,
    /// The command a person runs by hand (shown, never run by `explain`).
    pub run: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackSpec {
    pub name: String,
    pub start: String,
    pub description: Option<String>,
    /// Quotes `rules lint` tolerates where a fact may be unknown: node id to
    /// the facts it quotes unguarded (written before lint checked this).
    #[serde(default)]
    pub unguarded: BTreeMap<String, Vec<String>>,
}

/// A probe: a command (`run`) or a built-in probe (`builtin`), declared once
/// and used by any number of check nodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// Why the probe runs, in a sentence a junior admin understands.
    pub doc: Option<String>,
    /// The argv; elements may quote facts (`{{error-log.port}}`).
    pub run: Option<Vec<String>>,
    pub builtin: Option<String>,
    /// Parameters of a built-in probe; values may quote facts.
    #[serde(default)]
    pub with: BTreeMap<String, String>,
    /// `5s`, `500ms`; the default is 5 s.
    pub timeout: Option<String>,
    /// Bytes kept of each output stream; the default is 1 MiB.
    pub max_output: Option<u64>,
    /// Conditions without which the probe cannot say anything useful.
    #[serde(default)]
    pub needs: Vec<Need>,
    /// Regexes whose named groups become facts (`probe-id.group`).
    #[serde(default)]
    pub extract: Vec<ExtractSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    /// Only root sees everything (other users' sockets, `nginx -t` with its pid file).
    Root,
    /// systemd must be PID 1 (`systemctl` says nothing useful in a container).
    Systemd,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractSpec {
    #[serde(default)]
    pub from: Stream,
    pub regex: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stream {
    #[default]
    Stdout,
    Stderr,
    /// stdout then stderr: nginx -t writes to stderr, nginx -V too.
    Both,
}

/// A node: a check (`check`), a question (`ask`), a conclusion (`conclude`)
/// or a stop (`stop`: the diagnosis cannot go on, and why).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    // A check.
    pub check: Option<String>,
    /// Why this step, shown before the probe runs in guided mode.
    pub why: Option<String>,
    /// What the probe found, in plain words, shown after it ran.
    pub found: Option<String>,

    // A question.
    pub ask: Option<String>,
    pub help: Option<String>,
    pub input: Option<Input>,
    #[serde(default)]
    pub choices: Vec<String>,
    /// The fact the answer is stored under.
    pub fact: Option<String>,
    /// How `--auto` answers: a condition or fact over what is known.
    pub auto: Option<String>,
    pub default: Option<Scalar>,

    // Where to go next (checks and questions).
    #[serde(default)]
    pub branches: Vec<BranchSpec>,
    pub next: Option<String>,

    // A conclusion.
    pub conclude: Option<String>,
    pub confidence: Option<Confidence>,
    pub title: Option<String>,
    pub explain: Option<String>,
    #[serde(default)]
    pub evidence: Vec<String>,
    pub fix: Option<FixSpec>,
    /// Keep walking after recording this finding: a host can have several faults.
    pub then: Option<String>,

    /// What the conclusion's finding is to the failures seen now; the
    /// default follows the cause (see [`Role`]).
    pub role: Option<Role>,

    // A stop: the diagnosis cannot go on (nothing to read, nothing to test).
    pub stop: Option<String>,

    // A walk of each item of a list fact (every failing upstream): the
    // item's facts are known as `<as>.<fact>` while `do` walks it, and the
    // walk goes on at `then` once every item was walked.
    pub each: Option<String>,
    #[serde(rename = "as")]
    pub as_: Option<String>,
    /// Names what the item's findings are about (`{{upstream.key}}`).
    pub label: Option<String>,
    #[serde(rename = "do")]
    pub do_: Option<String>,

    // A decision on what is known, without a probe: the first branch whose
    // condition holds; when none holds, the walk (or the item's) ends here.
    pub decide: Option<Vec<BranchSpec>>,
}

/// What a finding is to the failures users see now: what the report ranks
/// by and what decides the exit status.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// It causes the failures seen now.
    #[default]
    Cause,
    /// A fault that causes no failure yet: a configuration the next reload
    /// rejects while nginx runs on the last one that loaded.
    Latent,
    /// Only the consequence of another finding (every server of a group
    /// marked failed by the failures behind it).
    Consequence,
    /// Nothing wrong now.
    Healthy,
    /// The logged failures stopped, and the live checks say why: history,
    /// not a fault.
    Resolved,
}

impl Role {
    /// Whether a finding with this role is something to fix.
    pub fn is_fault(self) -> bool {
        matches!(self, Role::Cause | Role::Latent | Role::Consequence)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Input {
    Confirm,
    Select,
    Text,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Str(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchSpec {
    /// A condition; a branch without one is taken when no earlier one was.
    pub when: Option<String>,
    pub next: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixSpec {
    pub summary: Option<String>,
    #[serde(default)]
    pub steps: Vec<StepSpec>,
    #[serde(default)]
    pub verify: Vec<VerifySpec>,
}

/// The exit statuses that mean a command did its job: one (`exit: 1`) or
/// several (`exit: [0, 1]`). Without it, only 0 does.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ExitSpec {
    One(i64),
    Many(Vec<i64>),
}

impl ExitSpec {
    pub fn statuses(&self) -> Vec<i64> {
        match self {
            ExitSpec::One(n) => vec![*n],
            ExitSpec::Many(v) => v.clone(),
        }
    }
}

/// A line a person pastes into a shell to see that the fix worked: plain
/// text (it worked when it exits 0), or the text with the exit statuses
/// that mean it worked (`{run: "...", exit: 1}` for a grep that must find
/// nothing).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum VerifySpec {
    Line(String),
    Expect(VerifyExpect),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyExpect {
    pub run: String,
    pub exit: ExitSpec,
}

/// One step of a fix: what to do, and optionally the exact command or the
/// config edit (the file and the snippet to put there).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Only when this condition holds (e.g. `host.systemd`).
    pub when: Option<String>,
    pub say: String,
    pub run: Option<Vec<String>>,
    /// The exit statuses of `run` that mean it did its job; default 0.
    pub exit: Option<ExitSpec>,
    pub file: Option<String>,
    /// Where in `file`: a line (`"14"`) or a range (`"53-55"`), a template.
    pub line: Option<String>,
    pub snippet: Option<String>,
}
