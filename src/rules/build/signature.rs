//! Signature ids are a closed vocabulary ([`Signature::ALL`]): a condition
//! that compares a fact holding one with anything else never holds (`==`)
//! or always does (`!=`), so a misspelt id silently sends every walk down
//! another branch. Lint checks each literal such a fact is compared with,
//! each whole-value alternative of a regex it is matched against, and that
//! the regex can match some id at all. Which facts hold signature ids is
//! declared by the built-ins ([`BuiltinInfo::signatures`]), not guessed.
//!
//! [`BuiltinInfo::signatures`]: crate::rules::builtins::BuiltinInfo::signatures

use std::collections::BTreeSet;

use regex::Regex;
use regex_syntax::ast::{self, Assertion, AssertionKind, Ast, GroupKind};

use super::hint::closest;
use super::{At, Builder, Parsed};
use crate::expr::{Against, Expr};
use crate::logs::signature::Signature;
use crate::rules::builtins as builtin;
use crate::rules::{Action, Probe, Problem};
use crate::value::Value;

/// Every signature id, from the one list.
fn ids() -> impl Iterator<Item = &'static str> {
    Signature::ALL.into_iter().map(Signature::id)
}

/// The facts that hold a signature id: `log.signature` for a probe `log` of
/// the `error-log` built-in, and `up.signature` for the items of an `each`
/// over its `upstreams` list `as: up` (declared as `upstreams.signature`).
pub(super) fn signature_facts(probes: &[Option<Probe>], files: &[Parsed]) -> BTreeSet<String> {
    let declared = |probe: &str| -> &'static [&'static str] {
        let builtin = probes.iter().flatten().find(|p| p.id == probe);
        match builtin.map(|p| &p.action) {
            Some(Action::Builtin { name, .. }) => builtin::info(name).map_or(&[], |b| b.signatures),
            _ => &[],
        }
    };
    let mut facts = BTreeSet::new();
    for probe in probes.iter().flatten() {
        let own = declared(&probe.id).iter().filter(|f| !f.contains('.'));
        facts.extend(own.map(|f| format!("{}.{f}", probe.id)));
    }
    let walks = files.iter().flat_map(|f| f.file.nodes.values());
    for (list, prefix) in walks.filter_map(|n| Some((n.each.as_deref()?, n.as_.as_deref()?))) {
        let Some((probe, list)) = list.rsplit_once('.') else {
            continue;
        };
        let of_items = declared(probe)
            .iter()
            .filter_map(|f| f.strip_prefix(list)?.strip_prefix('.'));
        facts.extend(of_items.map(|f| format!("{prefix}.{f}")));
    }
    facts
}

impl Builder {
    /// Checks what the condition `text` (parsed as `expr`, written at `at`)
    /// compares signature-valued facts with.
    pub(super) fn signature_literals(&mut self, expr: &Expr, text: &str, at: &At) {
        for compared in expr.compared() {
            if !self.signature_facts.contains(compared.fact) {
                continue;
            }
            let (fact, from) = (compared.fact, compared.at);
            match compared.with {
                // `== null` asks whether there is a signature at all.
                Against::Value(Value::Null) => {}
                Against::Value(Value::Bool(b)) => {
                    self.signature_value(&b.to_string(), fact, text, from, at);
                }
                Against::Value(v) => self.signature_value(&v.to_string(), fact, text, from, at),
                Against::Regex(re) => self.signature_regex(re, fact, text, from, at),
            }
        }
    }

    /// `fact == "literal"`: the literal must be an id.
    fn signature_value(&mut self, literal: &str, fact: &str, text: &str, from: usize, at: &At) {
        if Signature::from_id(literal).is_some() {
            return;
        }
        let offset = text[from..].find(literal).map(|i| from + i);
        let message = format!(
            "`{literal}` is not a signature id (what `{fact}` holds){}",
            did_you_mean(literal)
        );
        self.problem_within(at, text, offset, literal, message);
    }

    /// `fact =~ "regex"`: each whole-value alternative must be an id, and
    /// the regex must match some id.
    fn signature_regex(&mut self, re: &Regex, fact: &str, text: &str, from: usize, at: &At) {
        let pattern = re.as_str();
        let mut wrong = 0;
        for (alternative, in_pattern) in whole_value_alternatives(pattern) {
            if Signature::from_id(&alternative).is_some() {
                continue;
            }
            wrong += 1;
            // The same occurrence in the condition as in the pattern: the
            // pattern is the condition's literal with its escapes undone.
            let nth = pattern
                .match_indices(alternative.as_str())
                .position(|(i, _)| i == in_pattern);
            let offset = nth.and_then(|n| {
                let written = text[from..].match_indices(alternative.as_str()).nth(n);
                written.map(|(i, _)| from + i)
            });
            let message = format!(
                "`{alternative}` in the regex is not a signature id (what `{fact}` holds){}",
                did_you_mean(&alternative)
            );
            self.problem_within(at, text, offset, &alternative, message);
        }
        if wrong == 0 && !ids().any(|id| re.is_match(id)) {
            let message = format!(
                "the regex `{pattern}` matches no signature id (what `{fact}` holds), so it never matches"
            );
            let offset = text[from..].find(pattern).map(|i| from + i);
            self.problem_within(at, text, offset, pattern, message);
        }
    }

    /// A problem at `needle`, found at `offset` of the condition `text`
    /// written at `at`; at the condition itself when its place is unknown.
    fn problem_within(
        &mut self,
        at: &At,
        text: &str,
        offset: Option<usize>,
        needle: &str,
        message: String,
    ) {
        let origin = offset.map_or_else(|| at.origin(), |o| at.origin_of(text, o, needle));
        self.problems.push(Problem {
            file: origin.file,
            pos: Some(origin.pos),
            message,
        });
    }
}

fn did_you_mean(wrong: &str) -> String {
    closest(wrong, ids())
        .map(|id| format!("; did you mean `{id}`?"))
        .unwrap_or_default()
}

/// The alternatives of `pattern` that must be a whole value and are plain
/// text — `a` and `b` in `^(a|b)$`, `^(?:a|b)$` or `^a$|^b$` — each with its
/// byte offset in the pattern. A prefix (`^ssl-`), a class or a flag makes
/// an alternative no plain id, and it is not listed.
fn whole_value_alternatives(pattern: &str) -> Vec<(String, usize)> {
    match ast::parse::Parser::new().parse(pattern) {
        Ok(ast) => alternatives_of(&ast),
        Err(_) => Vec::new(),
    }
}

fn alternatives_of(ast: &Ast) -> Vec<(String, usize)> {
    match ast {
        Ast::Alternation(alt) => alt.asts.iter().flat_map(alternatives_of).collect(),
        Ast::Group(group) if plain(&group.kind) => alternatives_of(&group.ast),
        Ast::Concat(concat) => match concat.asts.as_slice() {
            [first, middle @ .., last] if is_anchor(first, true) && is_anchor(last, false) => {
                anchored(middle)
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// What `^…$` holds: one text, or a group of alternatives.
fn anchored(middle: &[Ast]) -> Vec<(String, usize)> {
    if let Some(text) = literal_text(middle) {
        return vec![text];
    }
    match middle {
        [Ast::Group(group)] if plain(&group.kind) => branches(&group.ast)
            .into_iter()
            .filter_map(|branch| match branch {
                Ast::Concat(concat) => literal_text(&concat.asts),
                single => literal_text(std::slice::from_ref(single)),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The branches of an alternation, through plain groups around it.
fn branches(ast: &Ast) -> Vec<&Ast> {
    match ast {
        Ast::Alternation(alt) => alt.asts.iter().collect(),
        Ast::Group(group) if plain(&group.kind) => branches(&group.ast),
        other => vec![other],
    }
}

/// A group that only groups: a capture, or `(?:…)` without flags.
fn plain(kind: &GroupKind) -> bool {
    match kind {
        GroupKind::CaptureIndex(_) | GroupKind::CaptureName { .. } => true,
        GroupKind::NonCapturing(flags) => flags.items.is_empty(),
    }
}

fn is_anchor(ast: &Ast, start: bool) -> bool {
    let Ast::Assertion(assertion) = ast else {
        return false;
    };
    let Assertion { kind, .. } = assertion.as_ref();
    if start {
        matches!(kind, AssertionKind::StartLine | AssertionKind::StartText)
    } else {
        matches!(kind, AssertionKind::EndLine | AssertionKind::EndText)
    }
}

/// The text of a run of plain characters, and where it starts.
fn literal_text(asts: &[Ast]) -> Option<(String, usize)> {
    let start = asts.first()?.span().start.offset;
    asts.iter()
        .map(|a| match a {
            Ast::Literal(literal) => Some(literal.c),
            _ => None,
        })
        .collect::<Option<String>>()
        .map(|text| (text, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(pattern: &str) -> Vec<String> {
        whole_value_alternatives(pattern)
            .into_iter()
            .map(|(text, _)| text)
            .collect()
    }

    #[test]
    fn anchored_alternatives_are_listed_with_their_offsets() {
        assert_eq!(
            whole_value_alternatives("^(ab|cd)$"),
            vec![("ab".into(), 2), ("cd".into(), 5)]
        );
        assert_eq!(texts("^(?:ab|cd)$"), ["ab", "cd"]);
        assert_eq!(texts("^ab$|^cd$"), ["ab", "cd"]);
        assert_eq!(texts("^ab-c$"), ["ab-c"]);
    }

    #[test]
    fn prefixes_classes_and_flags_are_no_plain_alternatives() {
        assert!(texts("^ssl-").is_empty());
        assert!(texts("ab|cd").is_empty());
        assert!(texts("(?i)^(ab)$").is_empty());
        assert_eq!(texts("^(ab|c.*|d[ef])$"), ["ab"]);
    }
}
