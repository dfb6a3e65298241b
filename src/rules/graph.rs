//! The decision tree as a diagram: Mermaid for READMEs, DOT for Graphviz.
//!
//! Checks are boxes labelled with their probe, questions are diamonds,
//! conclusions are rounded and name their cause; edges carry conditions.

use std::fmt::Write as _;

use super::{NodeKind, RuleSet};

/// The diagram formats `rules graph` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

/// Renders the whole pack.
pub fn render(set: &RuleSet, format: GraphFormat) -> String {
    match format {
        GraphFormat::Mermaid => mermaid(set),
        GraphFormat::Dot => dot(set),
    }
}

fn label(set: &RuleSet, n: usize) -> String {
    let node = &set.nodes[n];
    match &node.kind {
        NodeKind::Check(c) => format!("{}: {}", node.id, set.probes[c.probe].id),
        NodeKind::Ask(_) => format!("{}?", node.id),
        NodeKind::Conclude(c) => c.cause.clone(),
        NodeKind::Stop(_) => format!("{}: stop", node.id),
        NodeKind::Each(e) => format!("{}: each {}", node.id, e.list),
        NodeKind::Decide(_) => format!("{}?", node.id),
    }
}

/// Edges as (from, to, condition).
fn edges(set: &RuleSet) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    for (i, node) in set.nodes.iter().enumerate() {
        match &node.kind {
            NodeKind::Check(c) => out.extend(
                c.branches
                    .iter()
                    .map(|b| (i, b.next, b.when_text.clone().unwrap_or_default())),
            ),
            NodeKind::Ask(a) => out.extend(
                a.branches
                    .iter()
                    .map(|b| (i, b.next, b.when_text.clone().unwrap_or_default())),
            ),
            NodeKind::Conclude(c) => out.extend(c.then.map(|t| (i, t, "then".to_owned()))),
            NodeKind::Stop(_) => {}
            NodeKind::Decide(branches) => out.extend(
                branches
                    .iter()
                    .map(|b| (i, b.next, b.when_text.clone().unwrap_or_default())),
            ),
            NodeKind::Each(e) => {
                out.push((i, e.start, format!("each {}", e.prefix)));
                out.extend(e.then.map(|t| (i, t, "then".to_owned())));
            }
        }
    }
    out
}

fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;").replace('|', "#124;")
}

fn mermaid(set: &RuleSet) -> String {
    let mut out = String::from("flowchart TD\n");
    for (i, node) in set.nodes.iter().enumerate() {
        let text = mermaid_text(&label(set, i));
        let shape = match node.kind {
            NodeKind::Check(_) => format!("[\"{text}\"]"),
            NodeKind::Ask(_) => format!("{{\"{text}\"}}"),
            NodeKind::Conclude(_) => format!("([\"{text}\"])"),
            NodeKind::Stop(_) => format!("[[\"{text}\"]]"),
            NodeKind::Each(_) => format!("[/\"{text}\"/]"),
            NodeKind::Decide(_) => format!("{{\"{text}\"}}"),
        };
        let _ = writeln!(out, "  n{i}{shape}");
    }
    for (from, to, cond) in edges(set) {
        if cond.is_empty() {
            let _ = writeln!(out, "  n{from} --> n{to}");
        } else {
            let _ = writeln!(out, "  n{from} -->|\"{}\"| n{to}", mermaid_text(&cond));
        }
    }
    out
}

fn dot_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn dot(set: &RuleSet) -> String {
    let mut out = format!("digraph \"{}\" {{\n  rankdir=TB;\n", dot_text(&set.name));
    for (i, node) in set.nodes.iter().enumerate() {
        let shape = match node.kind {
            NodeKind::Check(_) => "box",
            NodeKind::Ask(_) => "diamond",
            NodeKind::Conclude(_) => "ellipse",
            NodeKind::Stop(_) => "octagon",
            NodeKind::Each(_) => "parallelogram",
            NodeKind::Decide(_) => "diamond",
        };
        let _ = writeln!(
            out,
            "  n{i} [shape={shape}, label=\"{}\"];",
            dot_text(&label(set, i))
        );
    }
    for (from, to, cond) in edges(set) {
        let _ = writeln!(out, "  n{from} -> n{to} [label=\"{}\"];", dot_text(&cond));
    }
    out.push_str("}\n");
    out
}
