//! The engine: walks a rule pack's decision tree over a host.
//!
//! It starts at the pack's start node, runs each check's probe through a
//! [`Prober`], records what it found as facts, follows the first branch whose
//! condition holds, asks questions (through a [`Guide`] in guided mode, from
//! facts and defaults with `--auto`), walks every item of a list (every
//! failing upstream) in turn, and records a finding at each conclusion. In
//! guided mode it offers each fix step to the person and runs the ones they
//! accept through a [`Fixer`], recording each in the walk. It knows nothing
//! about nginx: that is all in the rules.

mod conclude;
mod fix;
mod install;
mod items;
mod observe;

use std::collections::{BTreeMap, BTreeSet};

use crate::guide::fixer::Fixer;
use crate::guide::{Answer, CheckIntro, Choice, Guide, Interrupted, Question};
use crate::probe::{Invocation, Observation, ProbeStatus, Prober};
use crate::rules::{Action, Ask, Branch, Check, NodeKind, Probe, RuleSet};
use crate::template::Template;
use crate::value::{Facts, Value};
use items::Frame;

pub use crate::walk::{CheckRecord, Finding, FixRecord, FixText, StepText, Walk, millis};

/// State saved at each interactive step so the user can go back to it.
#[derive(Clone)]
struct Snapshot {
    node: usize,
    facts: Facts,
    findings: usize,
    resolved: usize,
    checks: usize,
    path: usize,
    answers: BTreeMap<String, Value>,
    frames: Vec<Frame>,
    skipped: BTreeSet<String>,
    unchecked: Vec<String>,
}

/// Walks `rules` from its start node.
pub struct Engine<'a> {
    rules: &'a RuleSet,
    prober: &'a mut dyn Prober,
    guide: Option<&'a mut dyn Guide>,
    /// Runs the fix commands the person accepts; without one, none runs.
    fixer: Option<&'a mut dyn Fixer>,
    walk: Walk,
    history: Vec<Snapshot>,
    /// The item walks under way (at most one: items are not nested).
    frames: Vec<Frame>,
    /// Probes the person chose not to run.
    skipped: BTreeSet<String>,
    /// Skipped checks whose facts a decision on this path read: every
    /// conclusion reached through them is lowered and says so.
    unchecked: Vec<String>,
    /// Answers given before the person went back: offered again as the
    /// default when the question comes again.
    remembered: BTreeMap<String, Value>,
}

impl<'a> Engine<'a> {
    /// `guide: None` is `--auto`: no question is ever asked.
    pub fn new(
        rules: &'a RuleSet,
        prober: &'a mut dyn Prober,
        guide: Option<&'a mut dyn Guide>,
        context: Facts,
    ) -> Self {
        let mut walk = Walk {
            facts: context,
            ..Walk::default()
        };
        walk.facts.set("walk.faults", 0_i64);
        walk.facts.set("walk.resolved", 0_i64);
        Engine {
            rules,
            prober,
            guide,
            fixer: None,
            walk,
            history: Vec::new(),
            frames: Vec::new(),
            skipped: BTreeSet::new(),
            unchecked: Vec::new(),
            remembered: BTreeMap::new(),
        }
    }

    /// Runs the fix commands a person accepts through `fixer`. Only a
    /// guide can accept one, so `--auto` never runs any.
    #[must_use]
    pub fn with_fixer(mut self, fixer: &'a mut dyn Fixer) -> Self {
        self.fixer = Some(fixer);
        self
    }

    /// Runs the walk to its end.
    pub fn run(mut self) -> Result<Walk, Interrupted> {
        let mut node = Some(self.rules.start);
        while let Some(n) = node {
            node = match self.step(n)? {
                Some(next) => Some(next),
                None => self.next_item()?,
            };
        }
        conclude::rank(&mut self.walk.findings);
        Ok(self.walk)
    }

    fn step(&mut self, n: usize) -> Result<Option<usize>, Interrupted> {
        let rules = self.rules;
        self.walk.path.push(rules.nodes[n].id.clone());
        match &rules.nodes[n].kind {
            NodeKind::Check(check) => self.check(n, check),
            NodeKind::Ask(ask) => self.ask(n, ask),
            NodeKind::Conclude(c) => {
                self.concluded(n, c)?;
                Ok(c.then)
            }
            NodeKind::Stop(t) => {
                self.walk.stopped = Some(t.render(&self.walk.facts));
                Ok(None)
            }
            NodeKind::Each(_) => self.enter_each(n),
            NodeKind::Decide(branches) => Ok(self.decide_or_end(branches)),
        }
    }

    fn snapshot(&mut self, node: usize) {
        self.history.push(Snapshot {
            node,
            facts: self.walk.facts.clone(),
            findings: self.walk.findings.len(),
            resolved: self.walk.resolved.len(),
            checks: self.walk.checks.len(),
            path: self.walk.path.len() - 1,
            answers: self.walk.answers.clone(),
            frames: self.frames.clone(),
            skipped: self.skipped.clone(),
            unchecked: self.unchecked.clone(),
        });
    }

    /// Restores the interactive step before the current one; stays put when
    /// there is none.
    fn back(&mut self, here: usize) -> usize {
        let given = self.walk.answers.clone();
        self.remembered.extend(given);
        let current = self.history.pop();
        let Some(prev) = self.history.pop() else {
            if let Some(c) = current {
                self.restore(c);
            }
            return here;
        };
        let node = prev.node;
        self.restore(prev);
        node
    }

    fn restore(&mut self, s: Snapshot) {
        self.walk.facts = s.facts;
        self.walk.findings.truncate(s.findings);
        self.walk.resolved.truncate(s.resolved);
        self.walk.checks.truncate(s.checks);
        self.walk.path.truncate(s.path);
        self.walk.answers = s.answers;
        self.frames = s.frames;
        self.skipped = s.skipped;
        self.unchecked = s.unchecked;
    }

    fn check(&mut self, n: usize, check: &Check) -> Result<Option<usize>, Interrupted> {
        let rules = self.rules;
        let probe = &rules.probes[check.probe];
        let invocation = invocation(probe, &self.walk.facts);
        let why = render_opt(check.why.as_ref().or(probe.doc.as_ref()), &self.walk.facts);
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
                    why: why.clone(),
                    command: self.prober.preview(inv),
                    can_go_back: self.history.len() > 1,
                };
                match guide.before_check(&intro)? {
                    Choice::Run => self.prober.observe(probe, inv),
                    Choice::Skip => Observation::not_run(
                        ProbeStatus::Skipped,
                        inv.shown(),
                        "skipped by the user",
                    ),
                    Choice::Back => return Ok(Some(self.back(n))),
                }
            }
            (Ok(inv), None) => self.prober.observe(probe, inv),
        };
        // A replayed skip is a skip too: what rests on it was not seen. A
        // probe run again (for another upstream) is seen again.
        if observation.status == ProbeStatus::Skipped {
            self.skipped.insert(probe.id.clone());
        } else {
            self.skipped.remove(&probe.id);
        }
        self.record(
            n,
            probe,
            invocation.unwrap_or(Invocation::Command { argv: Vec::new() }),
            &observation,
        );
        // A `found` whose sections all stayed closed says nothing: no line.
        let found = (check.found.as_ref())
            .map(|t| t.render(&self.walk.facts))
            .filter(|f| !f.trim().is_empty());
        if let Some(last) = self.walk.checks.last_mut() {
            last.found.clone_from(&found);
            last.why = why;
        }
        if let Some(guide) = self.guide.as_deref_mut() {
            guide.after_check(&observation, found.as_deref())?;
        }
        Ok(Some(self.decide(&check.branches)))
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
        let suggested = self.remembered.get(&ask.fact).cloned();
        let value = match self.guide.as_deref_mut() {
            None => automatic,
            Some(guide) => {
                let automatic = suggested.unwrap_or(automatic);
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
        Ok(Some(self.decide(&ask.branches)))
    }

    /// The branch to follow: the first whose condition holds. Build proved
    /// the last branch of a check or question is unconditional, so there
    /// always is one.
    fn decide(&mut self, branches: &[Branch]) -> usize {
        let last = branches.last().map_or(0, |b| b.next);
        self.decide_or_end(branches).unwrap_or(last)
    }

    /// Where the first branch that holds leads, if one does. A decision
    /// that read a skipped check's facts is remembered: it was made blind.
    fn decide_or_end(&mut self, branches: &[Branch]) -> Option<usize> {
        let facts = &self.walk.facts;
        let taken = branches
            .iter()
            .position(|b| b.when.as_ref().is_none_or(|w| w.holds(facts)));
        let read: Vec<String> = branches[..taken.map_or(branches.len(), |t| t + 1)]
            .iter()
            .filter_map(|b| b.when.as_ref())
            .flat_map(crate::expr::Expr::facts)
            .map(str::to_owned)
            .collect();
        self.note_blind(read.iter().map(String::as_str));
        taken.map(|t| branches[t].next)
    }

    /// Remembers the skipped checks whose facts a decision read.
    fn note_blind<'f>(&mut self, read: impl IntoIterator<Item = &'f str>) {
        for fact in read {
            let Some((probe, _)) = fact.split_once('.') else {
                continue;
            };
            if self.skipped.contains(probe) && !self.unchecked.iter().any(|u| u == probe) {
                self.unchecked.push(probe.to_owned());
            }
        }
    }
}

fn render_opt(t: Option<&Template>, facts: &Facts) -> Option<String> {
    t.map(|t| t.render(facts))
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
