//! The pack's commands, named by what they say, and the printed commands of a report
//! matched back to them: a fix step's `run` is `node: run ARGV` (its template, words
//! joined by spaces), a verify line `node: verify LINE`. Named by content, not position,
//! so the tables of `fix_commands` survive a step moving and read as the commands do; a
//! table entry may use `*` for any text (`backend-down: *`, `*: run systemctl *`).

use crate::support::follow::Fix;
use nginx_doctor::rules::{NodeKind, RuleSet};
use regex::Regex;
use std::collections::BTreeSet;

/// A command of the pack, by content (see the module docs).
pub type Key = String;

/// One command of the pack and how to recognise it printed.
pub struct PackCommand {
    pub key: Key,
    node: String,
    matcher: Matcher,
}

enum Matcher {
    /// A step's argv: per element, a pattern, or a word list (one or more words).
    Argv(Vec<Option<Regex>>),
    /// A verify line.
    Line(Regex),
}

/// Every fix step `run` and every `verify` line of every conclusion of the default pack.
pub fn pack_commands() -> Vec<PackCommand> {
    let pack = RuleSet::embedded().expect("the embedded pack loads");
    let mut out = Vec::new();
    for node in &pack.nodes {
        let NodeKind::Conclude(c) = &node.kind else {
            continue;
        };
        for run in c.fix.steps.iter().filter_map(|s| s.run.as_ref()) {
            let words: Vec<String> = run.iter().map(|t| t.source()).collect();
            let matcher = words
                .iter()
                .map(|w| (!(w.starts_with("{{") && w.ends_with("*}}"))).then(|| pattern(w)))
                .collect();
            out.push(PackCommand {
                key: format!("{}: run {}", node.id, words.join(" ")),
                node: node.id.clone(),
                matcher: Matcher::Argv(matcher),
            });
        }
        for v in &c.fix.verify {
            let line = v.line.source();
            out.push(PackCommand {
                key: format!("{}: verify {line}", node.id),
                node: node.id.clone(),
                matcher: Matcher::Line(pattern(&line)),
            });
        }
    }
    out
}

impl PackCommand {
    /// How many elements of its argv are not a word list: how literal the template is.
    fn literals(&self) -> usize {
        match &self.matcher {
            Matcher::Argv(elems) => elems.iter().filter(|e| e.is_some()).count(),
            Matcher::Line(_) => 0,
        }
    }
}

/// A template's text as an anchored pattern: each `{{fact}}` any text.
fn pattern(source: &str) -> Regex {
    let facts = Regex::new(r"\{\{[^}]*\}\}").expect("regex");
    let parts: Vec<String> = facts.split(source).map(regex::escape).collect();
    Regex::new(&format!("(?s)^{}$", parts.join(".*"))).expect("a template pattern")
}

/// The pack's commands `fix` prints (its steps' commands and its verify lines); panics
/// on a printed command that none of its node's templates gives.
pub fn printed(pack: &[PackCommand], fix: &Fix) -> BTreeSet<Key> {
    let mine: Vec<&PackCommand> = pack.iter().filter(|c| c.node == fix.node).collect();
    let mut keys = BTreeSet::new();
    for argv in fix.commands() {
        // The most literal template that matches: `{{backend.start*}}` alone matches any
        // argv, so `grep -rn ADDR /etc` is the grep step's, not the start step's.
        let found = mine
            .iter()
            .filter(|c| match &c.matcher {
                Matcher::Argv(elems) => argv_matches(elems, argv),
                Matcher::Line(_) => false,
            })
            .max_by_key(|c| c.literals());
        let found = found.unwrap_or_else(|| panic!("{argv:?} is no command of {}", fix.node));
        keys.insert(found.key.clone());
    }
    for v in &fix.verify {
        let found = mine.iter().find(|c| match &c.matcher {
            Matcher::Line(re) => re.is_match(&v.line),
            Matcher::Argv(_) => false,
        });
        let found =
            found.unwrap_or_else(|| panic!("{:?} is no verify line of {}", v.line, fix.node));
        keys.insert(found.key.clone());
    }
    keys
}

/// Whether `argv` is what the elements give: a word list takes one or more words.
fn argv_matches(elems: &[Option<Regex>], argv: &[String]) -> bool {
    match (elems.split_first(), argv.split_first()) {
        (None, None) => true,
        (Some((Some(re), rest)), Some((word, words))) => {
            re.is_match(word) && argv_matches(rest, words)
        }
        (Some((None, rest)), Some(_)) => (1..=argv.len()).any(|n| argv_matches(rest, &argv[n..])),
        _ => false,
    }
}

/// The pack's keys that match one of `patterns` (`*` any text), less `except`.
pub fn expand<'a>(
    pack: &[PackCommand],
    patterns: impl Iterator<Item = &'a str>,
    except: &BTreeSet<Key>,
) -> BTreeSet<Key> {
    let globs: Vec<Regex> = patterns
        .map(|p| {
            let parts: Vec<String> = p.split('*').map(regex::escape).collect();
            Regex::new(&format!("(?s)^{}$", parts.join(".*"))).expect("a glob")
        })
        .collect();
    pack.iter()
        .map(|c| &c.key)
        .filter(|k| globs.iter().any(|g| g.is_match(k)) && !except.contains(*k))
        .cloned()
        .collect()
}
