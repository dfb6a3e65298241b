//! "Known here": a text for people may quote a fact only where it has a value.
//!
//! A fact produced on every path (the check before this one) can still be
//! null on a host: the probe failed, or the log had no such line. A message
//! that quotes it would then say "(unknown)", which a person cannot act on.
//! A fact counts as known at a node when every path to it went through a
//! condition that implies it (`exists(x)`, `x > 0`, `x =~ "..."`, a bare
//! `x`, or an earlier branch's `not exists(x)` that was not taken), through
//! the question that answers it, or the `each` whose items always have it;
//! a fix step's `when:` adds what it implies for that step's texts. Any
//! other quote belongs in a section `{{#x}}...{{/x}}`, or is optional
//! (`{{x?}}`). Evidence is exempt: a line quoting an unknown fact is dropped.

use std::collections::BTreeSet;

use crate::expr::{CmpOp, Expr};
use crate::rules::{Action, Branch, NodeKind, Problem, RuleSet};
use crate::template::Template;
use crate::value::Value;

type Known = BTreeSet<String>;

/// Facts that always have a value, before any probe runs.
const ALWAYS: &[&str] = &["host.root", "host.systemd", "walk.faults", "walk.resolved"];

/// Every quote of a fact that may be unknown where a person reads it.
pub(super) fn unknown_quotes(set: &RuleSet, order: &[usize], live: &[bool]) -> Vec<Problem> {
    let mut known: Vec<Option<Known>> = vec![None; set.nodes.len()];
    known[set.start] = Some(ALWAYS.iter().map(|s| (*s).to_owned()).collect());
    let mut problems: Vec<(String, String, Problem)> = Vec::new();
    for &n in order.iter().filter(|&&n| live[n]) {
        let Some(before) = known[n].take() else {
            continue;
        };
        let after = after_node(set, n, &before);
        for (t, extra, is_after) in texts(set, n) {
            let base = if is_after { &after } else { &before };
            problems.extend(unknown_in(set, n, t, base, &extra));
        }
        for (m, implied) in edges(set, n, &before, &after) {
            known[m] = Some(match known[m].take() {
                None => implied,
                Some(prev) => prev.intersection(&implied).cloned().collect(),
            });
        }
    }
    tolerate_declared(set, problems)
}

/// Drops the problems the pack declares under `pack.unguarded`, and adds one
/// for each declaration that matches no problem: a quote guarded since (or a
/// node renamed) must leave the list, so that it only ever shrinks.
fn tolerate_declared(set: &RuleSet, problems: Vec<(String, String, Problem)>) -> Vec<Problem> {
    let declared = |node: &str, fact: &str| {
        set.unguarded
            .iter()
            .any(|u| u.node == node && u.fact == fact)
    };
    let stale = set.unguarded.iter().filter(|u| {
        !problems
            .iter()
            .any(|(node, fact, _)| *node == u.node && *fact == u.fact)
    });
    let stale: Vec<Problem> = stale
        .map(|u| Problem {
            file: u.origin.file.clone(),
            pos: Some(u.origin.pos),
            message: format!(
                "`pack.unguarded` lists `{}` for node `{}`, which quotes it nowhere unguarded: remove it from the list",
                u.fact, u.node
            ),
        })
        .collect();
    problems
        .into_iter()
        .filter(|(node, fact, _)| !declared(node, fact))
        .map(|(_, _, p)| p)
        .chain(stale)
        .collect()
}

/// What is known once node `n` did its work: a check's status, an answer.
fn after_node(set: &RuleSet, n: usize, before: &Known) -> Known {
    let mut after = before.clone();
    match &set.nodes[n].kind {
        NodeKind::Check(c) => {
            after.insert(format!("{}.status", set.probes[c.probe].id));
        }
        NodeKind::Ask(a) if a.default.is_some() => {
            after.insert(a.fact.clone());
        }
        _ => {}
    }
    after
}

/// The problems of one template: each required fact neither known nor
/// implied by `extra` (a step's `when`).
fn unknown_in(
    set: &RuleSet,
    n: usize,
    t: &Template,
    known: &Known,
    extra: &Known,
) -> Vec<(String, String, Problem)> {
    let node = &set.nodes[n];
    let mut seen = BTreeSet::new();
    t.required_facts()
        .filter(|f| !known.contains(*f) && !extra.contains(*f) && seen.insert(*f))
        .map(|f| {
            let at = t.origin_of(f).unwrap_or(&node.origin);
            let problem = Problem {
                file: at.file.clone(),
                pos: Some(at.pos),
                message: format!(
                    "node `{}` quotes `{f}`, which may be unknown here (a person would read \
                     \"(unknown)\"): test it on every path here (`exists({f})`), or write \
                     `{{{{#{f}}}}}...{{{{/{f}}}}}` (with `{{{{^{f}}}}}...{{{{/{f}}}}}` for the \
                     unknown case) or `{{{{{f}?}}}}`",
                    node.id
                ),
            };
            (node.id.clone(), f.to_owned(), problem)
        })
        .collect()
}

/// The texts of node `n` a person reads, each with the facts its own
/// condition implies and whether it is rendered after the node's probe ran.
fn texts(set: &RuleSet, n: usize) -> Vec<(&Template, Known, bool)> {
    let none = Known::new;
    let mut out: Vec<(&Template, Known, bool)> = Vec::new();
    match &set.nodes[n].kind {
        NodeKind::Check(c) => {
            let why = c.why.as_ref().or(set.probes[c.probe].doc.as_ref());
            out.extend(why.map(|t| (t, none(), false)));
            out.extend(c.found.as_ref().map(|t| (t, none(), true)));
        }
        NodeKind::Ask(a) => out.push((&a.question, none(), false)),
        NodeKind::Stop(t) => out.push((t, none(), false)),
        NodeKind::Decide(_) => {}
        NodeKind::Each(e) => {
            let items: Known = item_known(set, e).into_iter().collect();
            out.push((&e.label, items.clone(), false));
            out.extend(e.title.as_ref().map(|t| (t, items, false)));
        }
        NodeKind::Conclude(c) => {
            let plain = [Some(&c.title), c.explain.as_ref(), c.fix.summary.as_ref()];
            out.extend(plain.into_iter().flatten().map(|t| (t, none(), false)));
            for s in &c.fix.steps {
                let implied: Known = s.when.as_ref().map(|w| implies(set, w)).unwrap_or_default();
                let step = std::iter::once(&s.say).chain(&s.file).chain(&s.line);
                for t in step.chain(&s.snippet) {
                    out.push((t, implied.clone(), false));
                }
            }
        }
    }
    out
}

/// Where node `n` leads, each with what is known on arriving there.
fn edges(set: &RuleSet, n: usize, before: &Known, after: &Known) -> Vec<(usize, Known)> {
    match &set.nodes[n].kind {
        NodeKind::Check(c) => branch_edges(set, &c.branches, after),
        NodeKind::Ask(a) => branch_edges(set, &a.branches, after),
        NodeKind::Decide(branches) => branch_edges(set, branches, before),
        NodeKind::Each(e) => {
            let mut with_item = after.clone();
            with_item.extend(item_known(set, e));
            let mut out = vec![(e.start, with_item)];
            out.extend(e.then.map(|t| (t, after.clone())));
            out
        }
        NodeKind::Conclude(c) => c.then.iter().map(|&t| (t, after.clone())).collect(),
        NodeKind::Stop(_) => Vec::new(),
    }
}

/// Each branch's target, with what its condition holding implies and what
/// the conditions of the branches before it failing imply.
fn branch_edges(set: &RuleSet, branches: &[Branch], known: &Known) -> Vec<(usize, Known)> {
    let mut failed = Known::new();
    let mut out = Vec::new();
    for b in branches {
        let mut here = known.clone();
        here.extend(failed.iter().cloned());
        if let Some(w) = &b.when {
            here.extend(implies(set, w));
            failed.extend(implies_not(set, w));
        }
        out.push((b.next, here));
    }
    out
}

/// The facts of the same probe that have a value whenever `fact` is true
/// (`nginx.found` gives `nginx.conf`), as its built-in declares, with
/// those it sets whenever `fact` has a value.
fn when_true(set: &RuleSet, fact: &str) -> Known {
    let mut out = when_set(set, fact);
    for f in probe_builtin(set, fact)
        .map(|(probe, b, name)| (probe, crate::rules::builtins::known_when_true(b, name)))
        .into_iter()
        .flat_map(|(probe, implied)| implied.iter().map(move |f| format!("{probe}.{f}")))
    {
        out.extend(when_set(set, &f));
        out.insert(f);
    }
    out
}

/// The facts of the same probe that have a value whenever `fact` has one
/// (`pass-target.target_host` gives `pass-target.file`), and what those
/// imply in turn.
fn when_set(set: &RuleSet, fact: &str) -> Known {
    let Some((probe, builtin, _)) = probe_builtin(set, fact) else {
        return Known::new();
    };
    let mut out = Known::new();
    let mut todo = vec![fact.to_owned()];
    while let Some(f) = todo.pop() {
        let name = f.split_once('.').map_or("", |(_, n)| n);
        for implied in crate::rules::builtins::known_when_set(builtin, name) {
            let full = format!("{probe}.{implied}");
            if full != fact && out.insert(full.clone()) {
                todo.push(full);
            }
        }
    }
    out
}

/// The probe of a fact and the built-in it runs, with the fact's own name.
fn probe_builtin<'a>(set: &'a RuleSet, fact: &'a str) -> Option<(&'a str, &'a str, &'a str)> {
    let (probe, name) = fact.split_once('.')?;
    let builtin = set.probes.iter().find_map(|p| match &p.action {
        Action::Builtin { name, .. } if p.id == probe => Some(name.as_str()),
        _ => None,
    })?;
    Some((probe, builtin, name))
}

/// The facts of an `each`'s item that always have a value, with its prefix.
fn item_known(set: &RuleSet, e: &crate::rules::Each) -> Vec<String> {
    let Some((probe, list)) = e.list.split_once('.') else {
        return Vec::new();
    };
    let builtin = set.probes.iter().find_map(|p| match &p.action {
        Action::Builtin { name, .. } if p.id == probe => Some(name.as_str()),
        _ => None,
    });
    let always = builtin.map_or(&[][..], |b| crate::rules::builtins::item_always(b, list));
    always.iter().map(|f| format!("{}.{f}", e.prefix)).collect()
}

/// The facts that have a value whenever `e` holds.
fn implies(set: &RuleSet, e: &Expr) -> Known {
    match e {
        Expr::Fact(n) => {
            let mut out = Known::from([n.clone()]);
            out.extend(when_true(set, n));
            out
        }
        Expr::Exists(n) => {
            let mut out = Known::from([n.clone()]);
            out.extend(when_set(set, n));
            out
        }
        Expr::Not(x) => implies_not(set, x),
        Expr::And(a, b) => &implies(set, a) | &implies(set, b),
        Expr::Or(a, b) => &implies(set, a) & &implies(set, b),
        Expr::Matches(a, re, _) => {
            let mut out: Known = fact_of(a).into_iter().map(str::to_owned).collect();
            out.extend(fact_of(a).map(|f| when_set(set, f)).unwrap_or_default());
            if let Some(sig) = fact_of(a).filter(|f| f.ends_with(".signature")) {
                let ids = crate::logs::signature::Signature::ALL.map(|s| s.id());
                let mut matching = ids.iter().filter(|id| re.is_match(id));
                let first = matching.next().map(|id| with_signature(sig, id));
                let common = matching.fold(first.unwrap_or_default(), |acc, id| {
                    &acc & &with_signature(sig, id)
                });
                out.extend(common);
            }
            out
        }
        Expr::Cmp(a, op, b) => {
            let out = compared(a, *op, b);
            let promises: Vec<Known> = out.iter().map(|f| when_set(set, f)).collect();
            promises.into_iter().fold(out, |acc, p| &acc | &p)
        }
        Expr::Lit(..) => Known::new(),
    }
}

/// The facts that have a value whenever `e` does not hold.
fn implies_not(set: &RuleSet, e: &Expr) -> Known {
    match e {
        Expr::Not(x) => implies(set, x),
        Expr::Or(a, b) => &implies_not(set, a) | &implies_not(set, b),
        Expr::And(a, b) => &implies_not(set, a) & &implies_not(set, b),
        Expr::Cmp(a, CmpOp::Ne, b) => implies(set, &Expr::Cmp(a.clone(), CmpOp::Eq, b.clone())),
        _ => Known::new(),
    }
}

/// A comparison that holds: an ordering needs two numbers; `x == "a"`
/// needs `x` (null equals only null).
fn compared(a: &Expr, op: CmpOp, b: &Expr) -> Known {
    let non_null = |e: &Expr| matches!(e, Expr::Lit(v, _) if !matches!(v, Value::Null));
    match op {
        CmpOp::Ne => Known::new(),
        CmpOp::Eq if non_null(b) => equal(a, b),
        CmpOp::Eq if non_null(a) => equal(b, a),
        CmpOp::Eq => Known::new(),
        _ => fact_of(a)
            .into_iter()
            .chain(fact_of(b))
            .map(str::to_owned)
            .collect(),
    }
}

/// `fact == literal`: the fact, and what a signature id implies.
fn equal(fact: &Expr, lit: &Expr) -> Known {
    let mut out: Known = fact_of(fact).into_iter().map(str::to_owned).collect();
    if let (Some(sig), Expr::Lit(Value::Str(id), _)) = (fact_of(fact), lit)
        && sig.ends_with(".signature")
    {
        out.extend(with_signature(sig, id));
    }
    out
}

/// The facts next to `prefix.signature` that a line of signature `id` has.
fn with_signature(sig: &str, id: &str) -> Known {
    let prefix = sig.trim_end_matches("signature");
    crate::rules::builtins::known_with_signature(id)
        .iter()
        .map(|f| format!("{prefix}{f}"))
        .collect()
}

fn fact_of(e: &Expr) -> Option<&str> {
    match e {
        Expr::Fact(n) => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_found_brings_its_whole_description_and_its_settings() {
        let set = RuleSet::embedded().expect("the embedded pack loads");
        let known = when_true(&set, "pass-target.found");
        for fact in [
            "matched_by",
            "kind",
            "file",
            "line",
            "at",
            "location",
            "read_timeout",
        ] {
            assert!(
                known.contains(&format!("pass-target.{fact}")),
                "{fact}: {known:?}"
            );
        }
    }
}
