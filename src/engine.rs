//! The engine: walks a rule pack's decision tree over a host.
//!
//! It starts at the pack's start node, runs each check's probe through a
//! [`Prober`], records what it found as facts, follows the first branch whose
//! condition holds, asks questions (through a [`Guide`] in guided mode, from
//! facts and defaults with `--auto`) and records a finding at each
//! conclusion. It knows nothing about nginx: that is all in the rules.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::causes::{NO_FAULT, SECONDARY};
use crate::guide::{Answer, CheckIntro, Choice, Guide, Interrupted, Question};
use crate::probe::{Invocation, Observation, ProbeStatus, Prober};
use crate::rules::{Action, Ask, Check, Conclusion, Confidence, NodeKind, Probe, RuleSet, Stream};
use crate::sanitize;
use crate::template::Template;
use crate::value::{Facts, Value};

/// Host text quoted in a fact or a report excerpt is cut to this many characters.
const FACT_CHARS: usize = 2000;
const EXCERPT_CHARS: usize = 1500;

/// Everything a walk found.
#[derive(Debug, Default, Serialize)]
pub struct Walk {
    pub findings: Vec<Finding>,
    pub checks: Vec<CheckRecord>,
    /// The nodes visited, in order.
    pub path: Vec<String>,
    pub answers: BTreeMap<String, Value>,
    /// Why the walk could not go on, when it ended at a stop.
    pub stopped: Option<String>,
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
    pub explanation: String,
    pub evidence: Vec<String>,
    pub fix: FixText,
    /// The conclusion node that made it.
    pub node: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FixText {
    pub summary: String,
    pub steps: Vec<StepText>,
    pub verify: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepText {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

/// One probe the walk ran, or could not run, for the report's `checks`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRecord {
    pub probe: String,
    pub node: String,
    #[serde(flatten)]
    pub invocation: Invocation,
    pub shown_as: String,
    pub status: ProbeStatus,
    pub exit: Option<i32>,
    pub duration_ms: u64,
    pub excerpt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// State saved at each interactive step so the user can go back to it.
struct Snapshot {
    node: usize,
    facts: Facts,
    findings: usize,
    checks: usize,
    path: usize,
    answers: BTreeMap<String, Value>,
}

/// Walks `rules` from its start node.
pub struct Engine<'a> {
    rules: &'a RuleSet,
    prober: &'a mut dyn Prober,
    guide: Option<&'a mut dyn Guide>,
    walk: Walk,
    history: Vec<Snapshot>,
}

impl<'a> Engine<'a> {
    /// `guide: None` is `--auto`: no question is ever asked.
    pub fn new(
        rules: &'a RuleSet,
        prober: &'a mut dyn Prober,
        guide: Option<&'a mut dyn Guide>,
        context: Facts,
    ) -> Self {
        let walk = Walk {
            facts: context,
            ..Walk::default()
        };
        Engine {
            rules,
            prober,
            guide,
            walk,
            history: Vec::new(),
        }
    }

    /// Runs the walk to its end.
    pub fn run(mut self) -> Result<Walk, Interrupted> {
        let mut node = Some(self.rules.start);
        while let Some(n) = node {
            node = self.step(n)?;
        }
        rank(&mut self.walk.findings);
        Ok(self.walk)
    }

    fn step(&mut self, n: usize) -> Result<Option<usize>, Interrupted> {
        let rules = self.rules;
        self.walk.path.push(rules.nodes[n].id.clone());
        match &rules.nodes[n].kind {
            NodeKind::Check(check) => self.check(n, check),
            NodeKind::Ask(ask) => self.ask(n, ask),
            NodeKind::Conclude(c) => {
                let finding = self.conclude(n, c);
                if let Some(guide) = self.guide.as_deref_mut() {
                    guide.concluded(&finding)?;
                }
                self.walk.findings.push(finding);
                Ok(c.then)
            }
            NodeKind::Stop(t) => {
                self.walk.stopped = Some(t.render(&self.walk.facts));
                Ok(None)
            }
        }
    }

    fn snapshot(&mut self, node: usize) {
        self.history.push(Snapshot {
            node,
            facts: self.walk.facts.clone(),
            findings: self.walk.findings.len(),
            checks: self.walk.checks.len(),
            path: self.walk.path.len() - 1,
            answers: self.walk.answers.clone(),
        });
    }

    /// Restores the interactive step before the current one; stays put when
    /// there is none.
    fn back(&mut self, here: usize) -> usize {
        let current = self.history.pop();
        let Some(prev) = self.history.pop() else {
            if let Some(c) = current {
                self.restore(&c);
            }
            return here;
        };
        self.restore(&prev);
        prev.node
    }

    fn restore(&mut self, s: &Snapshot) {
        self.walk.facts = s.facts.clone();
        self.walk.findings.truncate(s.findings);
        self.walk.checks.truncate(s.checks);
        self.walk.path.truncate(s.path);
        self.walk.answers = s.answers.clone();
    }

    fn check(&mut self, n: usize, check: &Check) -> Result<Option<usize>, Interrupted> {
        let rules = self.rules;
        let probe = &rules.probes[check.probe];
        let invocation = invocation(probe, &self.walk.facts);
        if self.guide.is_some() && invocation.is_ok() {
            self.snapshot(n);
        }
        let observation = match (&invocation, self.guide.as_deref_mut()) {
            (Err(unsafe_reason), _) => Observation::not_run(
                ProbeStatus::UnsafeValue,
                probe.id.clone(),
                unsafe_reason.clone(),
            ),
            (Ok(inv), Some(guide)) => {
                let intro = CheckIntro {
                    node: &rules.nodes[n].id,
                    why: render_opt(check.why.as_ref().or(probe.doc.as_ref()), &self.walk.facts),
                    command: shown_command(inv),
                    can_go_back: self.history.len() > 1,
                };
                match guide.before_check(&intro)? {
                    Choice::Run => self.prober.observe(probe, inv),
                    Choice::Skip => Observation::not_run(
                        ProbeStatus::Skipped,
                        shown_command(inv),
                        "skipped by the user",
                    ),
                    Choice::Back => return Ok(Some(self.back(n))),
                }
            }
            (Ok(inv), None) => self.prober.observe(probe, inv),
        };
        self.record(
            n,
            probe,
            invocation.unwrap_or(Invocation::Command { argv: Vec::new() }),
            &observation,
        );
        let found = check.found.as_ref().map(|t| t.render(&self.walk.facts));
        if let Some(guide) = self.guide.as_deref_mut() {
            guide.after_check(&observation, found.as_deref())?;
        }
        Ok(Some(first_branch(&check.branches, &self.walk.facts)))
    }

    fn record(&mut self, n: usize, probe: &Probe, invocation: Invocation, obs: &Observation) {
        let facts = &mut self.walk.facts;
        let id = &probe.id;
        facts.set(format!("{id}.status"), obs.status.as_str());
        facts.set(format!("{id}.exit"), obs.exit.map(i64::from));
        facts.set(
            format!("{id}.stdout"),
            Value::text(sanitize::truncate(
                &sanitize::for_terminal(obs.stdout.trim_end().as_bytes()),
                FACT_CHARS,
            )),
        );
        facts.set(
            format!("{id}.stderr"),
            Value::text(sanitize::truncate(
                &sanitize::for_terminal(obs.stderr.trim_end().as_bytes()),
                FACT_CHARS,
            )),
        );
        for name in &probe.facts {
            if !["status", "exit", "stdout", "stderr"].contains(&name.as_str()) {
                facts.set(format!("{id}.{name}"), Value::Null);
            }
        }
        for (name, value) in &obs.facts {
            facts.set(format!("{id}.{name}"), value.clone());
        }
        if obs.status.ran() {
            extract(probe, obs, facts);
        }
        let excerpt = excerpt(obs);
        self.walk.checks.push(CheckRecord {
            probe: id.clone(),
            node: self.rules.nodes[n].id.clone(),
            invocation,
            shown_as: sanitize::for_terminal(obs.shown_as.as_bytes()),
            status: obs.status,
            exit: obs.exit,
            duration_ms: u64::try_from(obs.duration.as_millis()).unwrap_or(u64::MAX),
            excerpt,
            reason: obs.reason.clone(),
        });
    }

    fn ask(&mut self, n: usize, ask: &Ask) -> Result<Option<usize>, Interrupted> {
        let automatic = ask
            .auto
            .as_ref()
            .map(|e| e.eval(&self.walk.facts))
            .filter(|v| !v.is_null())
            .or_else(|| ask.default.clone())
            .unwrap_or(Value::Null);
        if self.guide.is_some() {
            self.snapshot(n);
        }
        let value = match self.guide.as_deref_mut() {
            None => automatic,
            Some(guide) => {
                let q = Question {
                    node: &self.rules.nodes[n].id,
                    text: ask.question.render(&self.walk.facts),
                    help: ask.help.as_deref(),
                    input: ask.input,
                    choices: &ask.choices,
                    suggested: automatic,
                    can_go_back: self.history.len() > 1,
                };
                match guide.ask(&q)? {
                    Answer::Value(v) => v,
                    Answer::Back => return Ok(Some(self.back(n))),
                }
            }
        };
        self.walk.answers.insert(ask.fact.clone(), value.clone());
        self.walk.facts.set(ask.fact.clone(), value);
        Ok(Some(first_branch(&ask.branches, &self.walk.facts)))
    }

    fn conclude(&self, n: usize, c: &Conclusion) -> Finding {
        let facts = &self.walk.facts;
        let known = |t: &&Template| t.all_known(facts);
        Finding {
            id: c.cause.clone(),
            title: c.title.render(facts),
            confidence: c.confidence,
            primary: false,
            explanation: render_opt(c.explain.as_ref(), facts).unwrap_or_default(),
            evidence: c
                .evidence
                .iter()
                .filter(known)
                .map(|t| t.render(facts))
                .collect(),
            fix: FixText {
                summary: render_opt(c.fix.summary.as_ref(), facts).unwrap_or_default(),
                steps: c
                    .fix
                    .steps
                    .iter()
                    .filter(|s| s.when.as_ref().is_none_or(|w| w.holds(facts)))
                    .map(|s| StepText {
                        text: s.say.render(facts),
                        // A fix command obeys the probes' argument rules: one
                        // quoting an unknown or unsafe value is not offered.
                        command: s.run.as_ref().and_then(|argv| {
                            argv.iter().map(|a| a.render_arg(facts).ok()).collect()
                        }),
                        file: render_opt(s.file.as_ref(), facts),
                        snippet: render_opt(s.snippet.as_ref(), facts),
                    })
                    .collect(),
                // A verify line is pasted into a shell: one quoting a value
                // that is not plain (a quote, `$(`, a leading `-`) is not offered.
                verify: c
                    .fix
                    .verify
                    .iter()
                    .filter_map(|t| t.render_command(facts))
                    .collect(),
            },
            node: self.rules.nodes[n].id.clone(),
        }
    }
}

fn render_opt(t: Option<&Template>, facts: &Facts) -> Option<String> {
    t.map(|t| t.render(facts))
}

/// The branch to follow: the first whose condition holds. Build proved the
/// last branch is unconditional, so there always is one.
fn first_branch(branches: &[crate::rules::Branch], facts: &Facts) -> usize {
    branches
        .iter()
        .find(|b| b.when.as_ref().is_none_or(|w| w.holds(facts)))
        .or(branches.last())
        .map_or(0, |b| b.next)
}

/// Fills a probe's arguments from facts; `Err` says which value was unsafe.
fn invocation(probe: &Probe, facts: &Facts) -> Result<Invocation, String> {
    match &probe.action {
        Action::Command(argv) => {
            let argv = argv
                .iter()
                .map(|a| a.render_arg(facts))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("not run: unsafe value: {e}"))?;
            Ok(Invocation::Command { argv })
        }
        Action::Builtin { name, with } => {
            let mut params = BTreeMap::new();
            for (k, t) in with {
                // A parameter whose fact is unknown is simply absent: the
                // built-in decides what it can do without it.
                match t.render_arg(facts) {
                    Ok(v) => {
                        params.insert(k.clone(), v);
                    }
                    Err(crate::template::UnsafeArg::Unknown(_)) => {}
                    Err(e) => return Err(format!("not run: unsafe value for `{k}`: {e}")),
                }
            }
            Ok(Invocation::Builtin {
                name: name.clone(),
                params,
            })
        }
    }
}

/// The command line shown to a person before a probe runs.
pub fn shown_command(inv: &Invocation) -> String {
    match inv {
        Invocation::Command { argv } => crate::report::shell_words(argv),
        Invocation::Builtin { name, params } => {
            let args: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("(built-in) {name} {}", args.join(" "))
                .trim_end()
                .to_owned()
        }
    }
}

fn extract(probe: &Probe, obs: &Observation, facts: &mut Facts) {
    for e in &probe.extract {
        let text = match e.from {
            Stream::Stdout => obs.stdout.clone(),
            Stream::Stderr => obs.stderr.clone(),
            Stream::Both => format!("{}\n{}", obs.stdout, obs.stderr),
        };
        let Some(caps) = e.regex.captures(&text) else {
            continue;
        };
        for name in e.regex.capture_names().flatten() {
            if let Some(m) = caps.name(name) {
                let clean =
                    sanitize::truncate(&sanitize::for_terminal(m.as_str().as_bytes()), FACT_CHARS);
                facts.set(format!("{}.{name}", probe.id), Value::Str(clean));
            }
        }
    }
}

fn excerpt(obs: &Observation) -> String {
    let mut text = obs.stdout.trim_end().to_owned();
    if !obs.stderr.trim().is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(obs.stderr.trim_end());
    }
    // Line by line, so the excerpt keeps its shape while every control
    // character inside a line is still escaped.
    let lines: Vec<String> = text
        .lines()
        .map(|l| sanitize::for_terminal(l.as_bytes()))
        .collect();
    sanitize::truncate(&lines.join("\n"), EXCERPT_CHARS)
}

/// Orders findings most likely first, drops `no-fault-found` when anything
/// else was found, and marks the first one primary; the always-secondary
/// cause comes after every other, whatever its confidence.
fn rank(findings: &mut Vec<Finding>) {
    let mut seen = std::collections::BTreeSet::new();
    findings.retain(|f| seen.insert(f.id.clone()));
    if findings.iter().any(|f| f.id != NO_FAULT) {
        findings.retain(|f| f.id != NO_FAULT);
    }
    findings.sort_by_key(|f| (f.id == SECONDARY, std::cmp::Reverse(f.confidence)));
    if let Some(first) = findings.first_mut() {
        first.primary = true;
    }
}

/// How long the report says a probe took; kept here so tests can build one.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, confidence: Confidence) -> Finding {
        Finding {
            id: id.to_owned(),
            title: String::new(),
            confidence,
            primary: false,
            explanation: String::new(),
            evidence: Vec::new(),
            fix: FixText::default(),
            node: id.to_owned(),
        }
    }

    fn ranked(mut findings: Vec<Finding>) -> Vec<(String, bool)> {
        rank(&mut findings);
        findings.into_iter().map(|f| (f.id, f.primary)).collect()
    }

    #[test]
    fn the_secondary_cause_follows_the_failure_behind_it_at_any_confidence() {
        let found = vec![
            finding(SECONDARY, Confidence::Medium),
            finding("firewall-blocked", Confidence::Low),
        ];
        assert_eq!(
            ranked(found),
            [
                ("firewall-blocked".to_owned(), true),
                (SECONDARY.to_owned(), false)
            ]
        );
    }

    #[test]
    fn the_secondary_cause_alone_is_primary() {
        let found = vec![finding(SECONDARY, Confidence::Medium)];
        assert_eq!(ranked(found), [(SECONDARY.to_owned(), true)]);
    }
}
