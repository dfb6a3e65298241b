//! The rule pack: a decision tree of checks, questions and conclusions.
//!
//! Files are read (`embedded`, or a directory), parsed into the serde mirror
//! (`schema`), built into this checked model (`build`), and proven sound
//! (`lint`). The engine only ever sees a [`RuleSet`] that passed all of it.
//! The format is documented in `rules/README.md`.

pub mod build;
pub mod builtins;
pub mod embedded;
pub mod graph;
mod invocation;
pub mod lint;
pub mod schema;
pub mod signatures;
pub mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use regex::Regex;

use crate::expr::Expr;
pub use crate::template::Origin;
use crate::template::Template;
use crate::value::Value;
pub use invocation::{Invocation, ProbeStatus};
pub use schema::{Confidence, Input, Need, Role, Stream};
pub use yaml::Pos;

/// A checked rule pack.
#[derive(Debug)]
pub struct RuleSet {
    pub name: String,
    pub description: Option<String>,
    pub start: usize,
    pub nodes: Vec<Node>,
    pub probes: Vec<Probe>,
    /// Where each file came from, for messages: a directory or "embedded".
    pub source: String,
    /// What each documented cause means and how to tell it apart, by id.
    pub causes: BTreeMap<String, CauseDoc>,
    /// What each signature of the error log means.
    pub signatures: signatures::SignatureBook,
    /// Quotes of a fact that may be unknown, which the pack declares it
    /// still has (`pack.unguarded`): lint tolerates exactly these.
    pub unguarded: Vec<Unguarded>,
}

/// One declared unguarded quote: a node, a fact, and where it is declared.
#[derive(Debug, Clone)]
pub struct Unguarded {
    pub node: String,
    pub fact: String,
    pub origin: Origin,
}

/// A cause's documentation: what `explain` says about it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CauseDoc {
    pub summary: String,
    pub checks: Vec<CauseCheck>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CauseCheck {
    pub say: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

#[derive(Debug)]
pub struct Node {
    pub id: String,
    pub origin: Origin,
    pub kind: NodeKind,
}

#[derive(Debug)]
pub enum NodeKind {
    Check(Check),
    Ask(Ask),
    Conclude(Conclusion),
    /// The walk cannot go on; the text says why and what to do.
    Stop(Template),
    /// Walks each item of a list fact in turn.
    Each(Each),
    /// Goes where the first branch that holds leads; ends the walk when none does.
    Decide(Vec<Branch>),
}

/// A walk of every item of a list fact, one after the other.
#[derive(Debug)]
pub struct Each {
    /// The list fact, `probe.list`.
    pub list: String,
    /// The prefix an item's facts get while it is walked.
    pub prefix: String,
    /// The names of an item's facts, without the prefix.
    pub item_facts: Vec<String>,
    /// What the item's findings are about.
    pub label: Template,
    /// Shown to a person when the walk of an item begins.
    pub title: Option<Template>,
    /// Added to the evidence of every finding made while walking an item.
    pub evidence: Vec<Template>,
    /// Where each item's walk begins.
    pub start: usize,
    /// Where the walk goes on once every item was walked.
    pub then: Option<usize>,
}

#[derive(Debug)]
pub struct Check {
    pub probe: usize,
    pub why: Option<Template>,
    pub found: Option<Template>,
    pub branches: Vec<Branch>,
}

#[derive(Debug)]
pub struct Ask {
    pub question: Template,
    pub help: Option<String>,
    pub input: Input,
    pub choices: Vec<String>,
    /// The fact the answer is stored under.
    pub fact: String,
    pub auto: Option<Expr>,
    pub default: Option<Value>,
    pub branches: Vec<Branch>,
}

/// One way out of a check or question; `when: None` is "otherwise".
#[derive(Debug)]
pub struct Branch {
    pub when: Option<Expr>,
    pub when_text: Option<String>,
    pub next: usize,
}

#[derive(Debug)]
pub struct Conclusion {
    pub cause: String,
    pub confidence: Confidence,
    pub role: Role,
    pub title: Template,
    pub explain: Option<Template>,
    pub evidence: Vec<Template>,
    pub fix: Fix,
    pub then: Option<usize>,
}

#[derive(Debug, Default)]
pub struct Fix {
    pub summary: Option<Template>,
    pub steps: Vec<FixStep>,
    pub verify: Vec<Verify>,
}

/// A verify line (shell text a person pastes) and the exit statuses that
/// mean the fix worked.
#[derive(Debug)]
pub struct Verify {
    pub line: Template,
    pub exit: Vec<i32>,
}

#[derive(Debug)]
pub struct FixStep {
    /// The step is shown only when this holds.
    pub when: Option<Expr>,
    pub say: Template,
    pub run: Option<Vec<Template>>,
    /// The exit statuses of `run` that mean it did its job (`[0]` unless
    /// the pack says otherwise).
    pub exit: Vec<i32>,
    pub file: Option<Template>,
    /// Where in `file` the edit goes: a line or a range (`53-55`).
    pub line: Option<Template>,
    pub snippet: Option<Template>,
}

/// How long a probe may run unless its spec says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How many bytes of each of stdout and stderr are kept unless the spec says otherwise.
pub const DEFAULT_MAX_OUTPUT: usize = 1 << 20;

#[derive(Debug)]
pub struct Probe {
    pub id: String,
    pub origin: Origin,
    pub doc: Option<Template>,
    pub action: Action,
    pub timeout: Duration,
    pub max_output: usize,
    pub needs: Vec<Need>,
    pub extract: Vec<Extract>,
    /// Fact names it produces, without the `id.` prefix.
    pub facts: Vec<String>,
}

#[derive(Debug)]
pub enum Action {
    Command(Vec<Template>),
    Builtin {
        name: String,
        with: BTreeMap<String, Template>,
    },
}

#[derive(Debug)]
pub struct Extract {
    pub from: Stream,
    pub regex: Regex,
}

impl Node {
    /// The nodes this one can lead to, in order.
    pub fn successors(&self) -> Vec<usize> {
        match &self.kind {
            NodeKind::Check(c) => c.branches.iter().map(|b| b.next).collect(),
            NodeKind::Ask(a) => a.branches.iter().map(|b| b.next).collect(),
            NodeKind::Conclude(c) => c.then.into_iter().collect(),
            NodeKind::Stop(_) => Vec::new(),
            NodeKind::Each(e) => std::iter::once(e.start).chain(e.then).collect(),
            NodeKind::Decide(branches) => branches.iter().map(|b| b.next).collect(),
        }
    }
}

impl RuleSet {
    /// The embedded default pack. It is linted by the test suite, so a
    /// failure here is a bug in the build, reported as a rule error anyway.
    pub fn embedded() -> Result<RuleSet, Problems> {
        build::build("embedded", embedded::files())
    }

    /// Every `*.yaml` file of `dir`, in name order.
    pub fn from_dir(dir: &Path) -> Result<RuleSet, Problems> {
        let files = embedded::read_dir(dir)?;
        build::build(&embedded::display_name(dir), files)
    }

    pub fn node(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// Every cause the pack can conclude, sorted.
    pub fn concludable(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::Conclude(c) => Some(c.cause.as_str()),
                _ => None,
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// One thing wrong with a rule pack, at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub pos: Option<Pos>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A pack's text (ids, file names) may hold escape sequences; they
        // are shown escaped, never sent to the terminal.
        let file = crate::sanitize::for_terminal(self.file.as_bytes());
        let message = crate::sanitize::for_terminal(self.message.as_bytes());
        match self.pos {
            Some(p) => write!(f, "{file}:{}:{}: {message}", p.line, p.column),
            None => write!(f, "{file}: {message}"),
        }
    }
}

/// Every problem found, reported together so one lint run shows them all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_quoting_an_escape_sequence_shows_it_escaped() {
        let p = Problem {
            file: "pack/00-\x1b[31m.yaml".into(),
            pos: Some(Pos {
                line: 3,
                column: 10,
            }),
            message: "no node `\x1b]0;title\x07`".into(),
        };
        assert_eq!(
            p.to_string(),
            "pack/00-\\x1b[31m.yaml:3:10: no node `\\x1b]0;title\\x07`"
        );
    }
}
