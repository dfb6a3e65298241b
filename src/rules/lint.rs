//! Soundness of a whole pack: what no single node can prove about itself.
//!
//! Every node is reachable from the start, the graph has no cycle (so every
//! walk ends), every probe is used, and every fact a condition or a message
//! reads is produced on *every* path that reaches it — so a walk never
//! quotes a fact that cannot exist there — and known wherever a text for
//! people quotes it (`known`), so no message says "(unknown)".

mod known;

use std::collections::BTreeSet;

use super::{Action, NodeKind, Problem, RuleSet};
use crate::rules::builtins::CONTEXT_FACTS;
use crate::template::Template;

/// Every graph-wide problem of `set`.
pub fn soundness(set: &RuleSet) -> Vec<Problem> {
    let mut problems = unreachable(set);
    problems.extend(unused_probes(set));
    problems.extend(item_walks_end_alone(set));
    match topological_order(set) {
        Ok(order) => {
            let undefined = undefined_facts(set, &order);
            // A fact that may not even be produced is reported once, as that.
            if undefined.is_empty() {
                problems.extend(known::unknown_quotes(set, &order, &reachable(set)));
            }
            problems.extend(undefined);
        }
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
    reachable_from(set, set.start)
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
        NodeKind::Conclude(_) | NodeKind::Stop(_) | NodeKind::Each(_) | NodeKind::Decide(_) => {
            Vec::new()
        }
    }
}

/// The facts node `n` passes on to its successor `m`: an `each` gives its
/// items' facts to the walk of an item only; after the last item the walk
/// goes on with what was known before it.
fn passed_on(set: &RuleSet, n: usize, m: usize, after: &BTreeSet<String>) -> BTreeSet<String> {
    match &set.nodes[n].kind {
        NodeKind::Each(e) if m == e.start => {
            let mut with_item = after.clone();
            with_item.extend(e.item_facts.iter().map(|f| format!("{}.{f}", e.prefix)));
            with_item
        }
        _ => after.clone(),
    }
}

/// An item's walk must end by itself: reaching the node that follows the
/// whole `each`, or another `each`, would walk it once per item and again.
fn item_walks_end_alone(set: &RuleSet) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (n, node) in set.nodes.iter().enumerate() {
        let NodeKind::Each(e) = &node.kind else {
            continue;
        };
        let inside = reachable_from(set, e.start);
        for (m, reached) in inside.iter().enumerate() {
            if !reached {
                continue;
            }
            let why = if Some(m) == e.then {
                "the node the walk goes on at after every item"
            } else if matches!(set.nodes[m].kind, NodeKind::Each(_)) {
                "another `each` (items are not walked inside items)"
            } else {
                continue;
            };
            problems.push(at(
                set,
                n,
                format!(
                    "the walk of an item of `{}` reaches `{}`, {why}; it must end by itself",
                    node.id, set.nodes[m].id
                ),
            ));
        }
    }
    problems
}

fn reachable_from(set: &RuleSet, start: usize) -> Vec<bool> {
    let mut seen = vec![false; set.nodes.len()];
    let mut stack = vec![start];
    while let Some(n) = stack.pop() {
        if !std::mem::replace(&mut seen[n], true) {
            stack.extend(set.nodes[n].successors());
        }
    }
    seen
}

fn undefined_facts(set: &RuleSet, order: &[usize]) -> Vec<Problem> {
    let live = reachable(set);
    let declared = declared(set);
    let mut avail: Vec<Option<BTreeSet<String>>> = vec![None; set.nodes.len()];
    avail[set.start] = Some(context_facts());
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
        for fact in optional_uses(set, n) {
            if !declared.contains(fact) {
                problems.push(at(
                    set,
                    n,
                    format!(
                        "node `{}` uses fact `{fact}?`, which no probe, question or list produces",
                        set.nodes[n].id
                    ),
                ));
            }
        }
        for m in set.nodes[n].successors() {
            let passed = passed_on(set, n, m, &after);
            avail[m] = Some(match avail[m].take() {
                None => passed,
                Some(prev) => prev.intersection(&passed).cloned().collect(),
            });
        }
    }
    problems
}

/// The facts known before the walk: the host's, the options', the walk's
/// counts and whether each tool a fix may name is installed (`tool.curl`).
fn context_facts() -> BTreeSet<String> {
    let names = CONTEXT_FACTS.iter().map(|s| (*s).to_owned());
    names.chain(crate::host::tools::fact_names()).collect()
}

/// Every fact the pack can produce anywhere.
fn declared(set: &RuleSet) -> BTreeSet<String> {
    let mut all = context_facts();
    for (n, node) in set.nodes.iter().enumerate() {
        all.extend(produced(set, n));
        if let NodeKind::Each(e) = &node.kind {
            all.extend(e.item_facts.iter().map(|f| format!("{}.{f}", e.prefix)));
        }
    }
    all
}

/// The optional facts (`{{name?}}`) node `n`'s templates quote.
fn optional_uses(set: &RuleSet, n: usize) -> Vec<&str> {
    templates(set, n)
        .into_iter()
        .flat_map(|(t, _)| {
            let required: BTreeSet<&str> = t.required_facts().collect();
            t.facts().filter(move |f| !required.contains(f))
        })
        .collect()
}

/// Every template of node `n`, each with whether it is rendered after the
/// node's own probe ran (a check's `found`) or before.
fn templates(set: &RuleSet, n: usize) -> Vec<(&Template, bool)> {
    let mut before: Vec<&Template> = Vec::new();
    let mut after: Vec<&Template> = Vec::new();
    match &set.nodes[n].kind {
        NodeKind::Check(c) => {
            let probe = &set.probes[c.probe];
            match &probe.action {
                Action::Command(argv) => before.extend(argv),
                Action::Builtin { with, .. } => before.extend(with.values()),
            }
            before.extend(probe.doc.iter().chain(&c.why));
            after.extend(&c.found);
        }
        NodeKind::Ask(a) => before.push(&a.question),
        NodeKind::Stop(t) => before.push(t),
        NodeKind::Decide(_) => {}
        NodeKind::Each(e) => {
            before.extend(std::iter::once(&e.label).chain(&e.title).chain(&e.evidence));
        }
        NodeKind::Conclude(c) => {
            let fix = &c.fix;
            before.push(&c.title);
            before.extend(
                c.explain
                    .iter()
                    .chain(&c.evidence)
                    .chain(&fix.summary)
                    .chain(fix.verify.iter().map(|v| &v.line)),
            );
            for s in &fix.steps {
                before.push(&s.say);
                before.extend(
                    s.run
                        .iter()
                        .flatten()
                        .chain(&s.file)
                        .chain(&s.line)
                        .chain(&s.snippet),
                );
            }
        }
    }
    let before = before.into_iter().map(|t| (t, false));
    before.chain(after.into_iter().map(|t| (t, true))).collect()
}

/// Every condition of node `n`, each with whether it is evaluated after the
/// node's own probe or answer (branches) or before (`auto`, a fix step's `when`).
fn conditions(set: &RuleSet, n: usize) -> Vec<(&crate::expr::Expr, bool)> {
    match &set.nodes[n].kind {
        NodeKind::Check(c) => whens(&c.branches, true),
        NodeKind::Ask(a) => {
            let mut out: Vec<_> = a.auto.iter().map(|w| (w, false)).collect();
            out.extend(whens(&a.branches, true));
            out
        }
        NodeKind::Decide(branches) => whens(branches, false),
        NodeKind::Conclude(c) => c
            .fix
            .steps
            .iter()
            .filter_map(|s| s.when.as_ref())
            .map(|w| (w, false))
            .collect(),
        NodeKind::Stop(_) | NodeKind::Each(_) => Vec::new(),
    }
}

fn whens(branches: &[crate::rules::Branch], after: bool) -> Vec<(&crate::expr::Expr, bool)> {
    branches
        .iter()
        .filter_map(|b| b.when.as_ref())
        .map(|w| (w, after))
        .collect()
}

fn is_item_fact(e: &crate::rules::Each, fact: &str) -> bool {
    fact.strip_prefix(e.prefix.as_str())
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|name| e.item_facts.iter().any(|f| f == name))
}

/// The facts node `n` reads, each with whether it reads them after its own
/// probe or answer (true) or before (false). An `each` reads its list, and
/// renders its label, title and evidence with an item's facts on top.
fn uses(set: &RuleSet, n: usize) -> Vec<(&str, bool)> {
    let mut out: Vec<(&str, bool)> = Vec::new();
    if let NodeKind::Each(e) = &set.nodes[n].kind {
        out.push((e.list.as_str(), false));
    }
    for (t, after) in templates(set, n) {
        out.extend(t.required_facts().map(|f| (f, after)));
    }
    for (e, after) in conditions(set, n) {
        out.extend(e.facts().into_iter().map(|f| (f, after)));
    }
    if let NodeKind::Each(e) = &set.nodes[n].kind {
        out.retain(|(f, _)| !is_item_fact(e, f));
    }
    out
}
