//! What a probe's observation becomes: facts for the rules to branch on,
//! and a check record for the report — with host text made safe for a
//! terminal and cut to a bound on the way in.

use super::Engine;
use crate::probe::{Invocation, Observation};
use crate::rules::{Probe, Stream};
use crate::sanitize;
use crate::value::{Facts, Value};
use crate::walk::CheckRecord;

/// Host text quoted in a fact or a report excerpt is cut to this many characters.
const FACT_CHARS: usize = 2000;
const EXCERPT_CHARS: usize = 1500;

impl Engine<'_> {
    pub(super) fn record(
        &mut self,
        n: usize,
        probe: &Probe,
        invocation: Invocation,
        obs: &Observation,
    ) {
        let facts = &mut self.walk.facts;
        let id = &probe.id;
        facts.set(format!("{id}.status"), obs.status.as_str());
        facts.set(format!("{id}.exit"), obs.exit.map(i64::from));
        facts.set(format!("{id}.stdout"), clean_fact(&obs.stdout));
        facts.set(format!("{id}.stderr"), clean_fact(&obs.stderr));
        let reason = obs.reason.as_deref().map(clean_fact);
        facts.set(format!("{id}.reason"), reason);
        for name in &probe.facts {
            if !crate::probe::builtin::COMMON_FACTS.contains(&name.as_str()) {
                facts.set(format!("{id}.{name}"), Value::Null);
            }
        }
        for (name, value) in &obs.facts {
            facts.set(format!("{id}.{name}"), value.clone());
        }
        if obs.status.ran() {
            extract(probe, obs, facts);
        }
        let upstream = self.current_label();
        self.walk.checks.push(CheckRecord {
            probe: id.clone(),
            node: self.rules.nodes[n].id.clone(),
            upstream,
            invocation,
            shown_as: sanitize::for_terminal(obs.shown_as.as_bytes()),
            status: obs.status,
            exit: obs.exit,
            duration_ms: crate::walk::millis(obs.duration),
            excerpt: excerpt(obs),
            reason: obs.reason.clone(),
            why: None,
            found: None,
        });
    }
}

fn clean_fact(text: &str) -> Value {
    Value::text(sanitize::truncate(
        &sanitize::for_terminal(text.trim_end().as_bytes()),
        FACT_CHARS,
    ))
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
