//! `nginx-doctor rules lint|list|graph`: looking at a pack without running it.

use std::path::Path;

use serde::Serialize;

use crate::cli::{ListFormat, RulesCommand};
use crate::error::{Error, Result};
use crate::rules::{NodeKind, RuleSet, graph};
use crate::{ExitStatus, print_stdout};

pub fn run(cmd: &RulesCommand, rules_dir: Option<&Path>) -> Result<ExitStatus> {
    let dir = match &cmd {
        RulesCommand::Lint { dir: Some(d) } => Some(d.as_path()),
        _ => rules_dir,
    };
    let set = RuleSet::load(dir).map_err(Error::RulePack)?;
    let text = match cmd {
        RulesCommand::Lint { .. } => format!(
            "{}: {} nodes, {} probes, {} causes; no problems found\n",
            set.source,
            set.nodes.len(),
            set.probes.len(),
            set.concludable().len()
        ),
        RulesCommand::List {
            format: ListFormat::Json,
        } => serde_json::to_string_pretty(&Listing::of(&set)).unwrap_or_default() + "\n",
        RulesCommand::List {
            format: ListFormat::Text,
        } => list_text(&set),
        RulesCommand::Graph { format } => graph::render(&set, *format),
    };
    print_stdout(&text).map_err(|e| Error::output("to stdout", e))?;
    Ok(ExitStatus::Healthy)
}

#[derive(Serialize)]
struct Listing<'a> {
    name: &'a str,
    source: &'a str,
    causes: Vec<&'a str>,
    probes: Vec<ProbeEntry<'a>>,
    nodes: Vec<NodeEntry<'a>>,
}

#[derive(Serialize)]
struct ProbeEntry<'a> {
    id: &'a str,
    kind: &'static str,
    facts: &'a [String],
}

#[derive(Serialize)]
struct NodeEntry<'a> {
    id: &'a str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'a str>,
    at: String,
}

impl<'a> Listing<'a> {
    fn of(set: &'a RuleSet) -> Self {
        Listing {
            name: &set.name,
            source: &set.source,
            causes: set.concludable(),
            probes: set
                .probes
                .iter()
                .map(|p| ProbeEntry {
                    id: &p.id,
                    kind: match p.action {
                        crate::rules::Action::Command(_) => "command",
                        crate::rules::Action::Builtin { .. } => "builtin",
                    },
                    facts: &p.facts,
                })
                .collect(),
            nodes: set
                .nodes
                .iter()
                .map(|n| {
                    let (kind, cause) = match &n.kind {
                        NodeKind::Check(_) => ("check", None),
                        NodeKind::Ask(_) => ("ask", None),
                        NodeKind::Conclude(c) => ("conclude", Some(c.cause.as_str())),
                        NodeKind::Stop(_) => ("stop", None),
                        NodeKind::Each(_) => ("each", None),
                        NodeKind::Decide(_) => ("decide", None),
                    };
                    NodeEntry {
                        id: &n.id,
                        kind,
                        cause,
                        at: n.origin.to_string(),
                    }
                })
                .collect(),
        }
    }
}

fn list_text(set: &RuleSet) -> String {
    let l = Listing::of(set);
    let mut out = format!(
        "pack {} ({})\n\ncauses it can conclude ({}):\n",
        l.name,
        l.source,
        l.causes.len()
    );
    for c in &l.causes {
        out += &format!("  {c}\n");
    }
    out += &format!("\nprobes ({}):\n", l.probes.len());
    for p in &l.probes {
        out += &format!("  {:<24} {}\n", p.id, p.kind);
    }
    out += &format!("\nnodes ({}):\n", l.nodes.len());
    for n in &l.nodes {
        out += &format!("  {:<32} {:<9} {}\n", n.id, n.kind, n.cause.unwrap_or(""));
    }
    out
}
