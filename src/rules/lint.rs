//! Soundness of a whole pack: what no single node can prove about itself.
//!
//! Every node is reachable from the start, the graph has no cycle (so every
//! walk ends), every probe is used, and every fact a condition or a message
//! reads is produced on *every* path that reaches it — so a walk never
//! quotes a fact that cannot exist there.

use std::collections::BTreeSet;

use super::{Action, NodeKind, Problem, RuleSet};
use crate::builtin::CONTEXT_FACTS;
use crate::template::Template;

/// Every graph-wide problem of `set`.
pub fn soundness(set: &RuleSet) -> Vec<Problem> {
    let mut problems = unreachable(set);
    problems.extend(unused_probes(set));
    match topological_order(set) {
        Ok(order) => problems.extend(undefined_facts(set, &order)),
        Err(p) => problems.push(p),
    }
    problems
}

fn at(set: &RuleSet, node: usize, message: String) -> Problem {
    let origin = &set.nodes[node].origin;
    Problem {
        file: origin.file.clone(),
        pos: Some(origin.pos),
        message,
    }
}

fn reachable(set: &RuleSet) -> Vec<bool> {
    let mut seen = vec![false; set.nodes.len()];
    let mut stack = vec![set.start];
    while let Some(n) = stack.pop() {
        if !std::mem::replace(&mut seen[n], true) {
            stack.extend(set.nodes[n].successors());
        }
    }
    seen
}

fn unreachable(set: &RuleSet) -> Vec<Problem> {
    let seen = reachable(set);
    (0..set.nodes.len())
        .filter(|&n| !seen[n])
        .map(|n| {
            at(
                set,
                n,
                format!(
                    "node `{}` cannot be reached from the start node `{}`",
                    set.nodes[n].id, set.nodes[set.start].id
                ),
            )
        })
        .collect()
}

fn unused_probes(set: &RuleSet) -> Vec<Problem> {
    let used: BTreeSet<usize> = set
        .nodes
        .iter()
        .filter_map(|n| match &n.kind {
            NodeKind::Check(c) => Some(c.probe),
            _ => None,
        })
        .collect();
    (0..set.probes.len())
        .filter(|p| !used.contains(p))
        .map(|p| {
            let probe = &set.probes[p];
            Problem {
                file: probe.origin.file.clone(),
                pos: Some(probe.origin.pos),
                message: format!("probe `{}` is used by no check", probe.id),
            }
        })
        .collect()
}

/// Nodes in an order where every node comes after all nodes leading to it,
/// or the problem naming a cycle.
fn topological_order(set: &RuleSet) -> Result<Vec<usize>, Problem> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; set.nodes.len()];
    let mut order = Vec::new();
    // From the start first, so a cycle reads the way a walk would go round it.
    for root in std::iter::once(set.start).chain(0..set.nodes.len()) {
        if mark[root] != Mark::New {
            continue;
        }
        // Iterative DFS: a pack is data, and data may be deep.
        let mut stack = vec![(root, 0usize)];
        mark[root] = Mark::Open;
        while let Some(&mut (n, ref mut i)) = stack.last_mut() {
            let succ = set.nodes[n].successors();
            if let Some(&m) = succ.get(*i) {
                *i += 1;
                match mark[m] {
                    Mark::New => {
                        mark[m] = Mark::Open;
                        stack.push((m, 0));
                    }
                    Mark::Open => {
                        let from = stack.iter().position(|&(s, _)| s == m).unwrap_or(0);
                        let mut cycle: Vec<&str> = stack[from..]
                            .iter()
                            .map(|&(s, _)| set.nodes[s].id.as_str())
                            .collect();
                        cycle.push(&set.nodes[m].id);
                        // At `n`: its `next` is the one that closes the cycle.
                        return Err(at(
                            set,
                            n,
                            format!("cycle: {}; a walk must always end", cycle.join(" -> ")),
                        ));
                    }
                    Mark::Done => {}
                }
            } else {
                mark[n] = Mark::Done;
                order.push(n);
                stack.pop();
            }
        }
    }
    order.reverse();
    Ok(order)
}

/// Facts a node adds for the nodes after it.
fn produced(set: &RuleSet, node: usize) -> Vec<String> {
    match &set.nodes[node].kind {
        NodeKind::Check(c) => {
            let probe = &set.probes[c.probe];
            probe
                .facts
                .iter()
                .map(|f| format!("{}.{f}", probe.id))
                .collect()
        }
        NodeKind::Ask(a) => vec![a.fact.clone()],
        NodeKind::Conclude(_) | NodeKind::Stop(_) => Vec::new(),
    }
}

fn undefined_facts(set: &RuleSet, order: &[usize]) -> Vec<Problem> {
    let live = reachable(set);
    let mut avail: Vec<Option<BTreeSet<String>>> = vec![None; set.nodes.len()];
    avail[set.start] = Some(CONTEXT_FACTS.iter().map(|s| (*s).to_owned()).collect());
    let mut problems = Vec::new();
    for &n in order.iter().filter(|&&n| live[n]) {
        let Some(before) = avail[n].clone() else {
            continue;
        };
        let mut after = before.clone();
        after.extend(produced(set, n));
        for (fact, when_known) in uses(set, n) {
            let known = if when_known { &after } else { &before };
            if !known.contains(fact) {
                problems.push(at(
                    set,
                    n,
                    format!(
                        "node `{}` uses fact `{fact}`, which is not produced on every path to it",
                        set.nodes[n].id
                    ),
                ));
            }
        }
        for m in set.nodes[n].successors() {
            avail[m] = Some(match avail[m].take() {
                None => after.clone(),
                Some(prev) => prev.intersection(&after).cloned().collect(),
            });
        }
    }
    problems
}

/// The facts node `n` reads, each with whether it reads them after its own
/// probe or answer (true) or before (false).
fn uses(set: &RuleSet, n: usize) -> Vec<(&str, bool)> {
    let mut before: Vec<&Template> = Vec::new();
    let mut after: Vec<&Template> = Vec::new();
    let mut conditions: Vec<(&crate::expr::Expr, bool)> = Vec::new();
    match &set.nodes[n].kind {
        NodeKind::Check(c) => {
            let probe = &set.probes[c.probe];
            match &probe.action {
                Action::Command(argv) => before.extend(argv),
                Action::Builtin { with, .. } => before.extend(with.values()),
            }
            before.extend(probe.doc.iter().chain(c.why.iter()));
            after.extend(c.found.iter());
            conditions.extend(
                c.branches
                    .iter()
                    .filter_map(|b| b.when.as_ref())
                    .map(|w| (w, true)),
            );
        }
        NodeKind::Ask(a) => {
            before.push(&a.question);
            conditions.extend(a.auto.iter().map(|w| (w, false)));
            conditions.extend(
                a.branches
                    .iter()
                    .filter_map(|b| b.when.as_ref())
                    .map(|w| (w, true)),
            );
        }
        NodeKind::Stop(t) => before.push(t),
        NodeKind::Conclude(c) => {
            let fix = &c.fix;
            before.push(&c.title);
            before.extend(
                c.explain
                    .iter()
                    .chain(&c.evidence)
                    .chain(&fix.summary)
                    .chain(&fix.verify),
            );
            for s in &fix.steps {
                conditions.extend(s.when.iter().map(|w| (w, false)));
                before.push(&s.say);
                before.extend(s.run.iter().flatten().chain(&s.file).chain(&s.snippet));
            }
        }
    }
    let mut out: Vec<(&str, bool)> = Vec::new();
    out.extend(before.iter().flat_map(|t| t.facts()).map(|f| (f, false)));
    out.extend(after.iter().flat_map(|t| t.facts()).map(|f| (f, true)));
    for (e, when_after) in conditions {
        out.extend(e.facts().into_iter().map(|f| (f, when_after)));
    }
    out
}
