//! Conclusions: the finding a conclusion node makes from the facts of the
//! walk, and the order findings are reported in.
//!
//! The order is the pack's roles first (what causes today's failures, then
//! what will fail later, then consequences), then the upstreams in the
//! order they were walked (the log's busiest failing upstream first), then
//! confidence. The first is primary: the fault behind what users see now.

use std::cmp::Reverse;

use super::Engine;
use crate::guide::Interrupted;
use crate::rules::{Conclusion, Confidence, FixStep, Role};
use crate::template::Template;
use crate::value::Facts;
use crate::walk::{Finding, FixText, StepText};

impl Engine<'_> {
    /// Makes the finding of conclusion node `n`, tells the person, and
    /// counts it in the walk's running facts.
    pub(super) fn concluded(&mut self, n: usize, c: &Conclusion) -> Result<(), Interrupted> {
        let mut finding = conclude(&self.walk.facts, c, self.rules.nodes[n].id.clone());
        finding.upstream = self.current_label();
        finding.about = self.current_title();
        if let Some(each) = self.current_each() {
            let facts = &self.walk.facts;
            let extra = each.evidence.iter().filter(|t| t.all_known(facts));
            finding.evidence.extend(extra.map(|t| t.render(facts)));
        }
        let blind = c.fix.steps.iter().filter_map(|s| s.when.as_ref());
        let read: Vec<String> = c
            .evidence
            .iter()
            .chain(std::iter::once(&c.title))
            .flat_map(Template::facts)
            .chain(blind.flat_map(crate::expr::Expr::facts))
            .map(str::to_owned)
            .collect();
        self.note_blind(read.iter().map(String::as_str));
        if !self.unchecked.is_empty() {
            finding.confidence = Confidence::Low;
            finding.unchecked = self.unchecked.clone();
        }
        if let Some(guide) = self.guide.as_deref_mut() {
            guide.concluded(&finding)?;
            self.offer_fixes(&finding)?;
        }
        if finding.role == Role::Resolved {
            self.walk.resolved.push(finding);
        } else {
            self.walk.findings.push(finding);
        }
        let faults = self.walk.findings.iter().filter(|f| f.is_fault()).count();
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.walk.facts.set("walk.faults", count(faults));
        let resolved = count(self.walk.resolved.len());
        self.walk.facts.set("walk.resolved", resolved);
        Ok(())
    }
}

fn conclude(facts: &Facts, c: &Conclusion, node: String) -> Finding {
    let known = |t: &&Template| t.all_known(facts);
    Finding {
        id: c.cause.clone(),
        title: c.title.render(facts),
        confidence: c.confidence,
        primary: false,
        upstream: None,
        about: None,
        role: c.role,
        explanation: c
            .explain
            .as_ref()
            .map(|t| t.render(facts))
            .unwrap_or_default(),
        evidence: c
            .evidence
            .iter()
            .filter(known)
            .map(|t| t.render(facts))
            .collect(),
        fix: fix_text(facts, c),
        unchecked: Vec::new(),
        node,
    }
}

fn fix_text(facts: &Facts, c: &Conclusion) -> FixText {
    let render = |t: &Option<Template>| t.as_ref().map(|t| t.render(facts));
    // A verify line is pasted into a shell: one quoting a value that is
    // not plain (a quote, `$(`, a leading `-`) is not offered.
    let (verify, verify_exit) = c
        .fix
        .verify
        .iter()
        .filter_map(|v| Some((v.line.render_command(facts)?, v.exit.clone())))
        .unzip();
    let mut fix = FixText {
        summary: render(&c.fix.summary).unwrap_or_default(),
        steps: c
            .fix
            .steps
            .iter()
            .filter(|s| s.when.as_ref().is_none_or(|w| w.holds(facts)))
            .map(|s| StepText {
                text: s.say.render(facts),
                // A fix command obeys the probes' argument rules: one
                // quoting an unknown or unsafe value is not offered.
                command: command(s, facts),
                exit: command(s, facts).map(|_| s.exit.clone()),
                file: render(&s.file),
                line: lines(s, facts).map(|(first, _)| first),
                last_line: lines(s, facts).and_then(|(_, last)| last),
                snippet: render(&s.snippet),
            })
            .collect(),
        verify,
        verify_exit,
    };
    super::install::before_missing(facts, &mut fix);
    fix
}

/// The line (or range of lines, `53-55`) of a step's file; none when its
/// template quotes an unknown fact or is not a line number.
fn lines(s: &FixStep, facts: &Facts) -> Option<(u64, Option<u64>)> {
    let text = s.line.as_ref()?.render(facts);
    let (first, last) = match text.split_once('-') {
        Some((a, b)) => (a.trim().parse().ok()?, Some(b.trim().parse().ok()?)),
        None => (text.trim().parse().ok()?, None),
    };
    Some((first, last.filter(|l| *l > first)))
}

/// A step's command: it obeys the probes' argument rules, so one quoting
/// an unknown or unsafe value is not offered.
fn command(s: &FixStep, facts: &Facts) -> Option<Vec<String>> {
    let argv = s.run.as_ref()?;
    // A word list (`{{rule*}}`) is several arguments: the parts are joined.
    let parts: Option<Vec<Vec<String>>> = argv.iter().map(|a| a.render_argv(facts).ok()).collect();
    parts.map(|p| p.concat())
}

/// Orders findings (see the module docs), keeps one finding per cause and
/// upstream, drops "nothing wrong" when anything is wrong, and marks the
/// first one primary.
pub(super) fn rank(findings: &mut Vec<Finding>) {
    let mut seen = std::collections::BTreeSet::new();
    findings.retain(|f| seen.insert((f.id.clone(), f.upstream.clone())));
    if findings.iter().any(Finding::is_fault) {
        findings.retain(Finding::is_fault);
    }
    // Upstreams in the order the walk met them; host-wide findings first.
    let mut met: Vec<Option<String>> = vec![None];
    for f in findings.iter() {
        if !met.contains(&f.upstream) {
            met.push(f.upstream.clone());
        }
    }
    let order = |f: &Finding| met.iter().position(|u| *u == f.upstream).unwrap_or(0);
    findings.sort_by_key(|f| (f.role, order(f), Reverse(f.confidence)));
    if let Some(first) = findings.first_mut() {
        first.primary = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, role: Role, upstream: Option<&str>, confidence: Confidence) -> Finding {
        Finding {
            confidence,
            ..Finding::sample(id, role, upstream)
        }
    }

    fn ranked(mut findings: Vec<Finding>) -> Vec<(String, bool)> {
        rank(&mut findings);
        findings.into_iter().map(|f| (f.id, f.primary)).collect()
    }

    #[test]
    fn a_consequence_follows_the_failure_behind_it_at_any_confidence() {
        let found = vec![
            finding(
                "no-live-upstreams",
                Role::Consequence,
                None,
                Confidence::High,
            ),
            finding("firewall-blocked", Role::Cause, None, Confidence::Low),
        ];
        assert_eq!(
            ranked(found),
            [
                ("firewall-blocked".to_owned(), true),
                ("no-live-upstreams".to_owned(), false)
            ]
        );
    }

    #[test]
    fn a_consequence_alone_is_primary() {
        let found = vec![finding(
            "no-live-upstreams",
            Role::Consequence,
            None,
            Confidence::Medium,
        )];
        assert_eq!(ranked(found), [("no-live-upstreams".to_owned(), true)]);
    }

    #[test]
    fn a_latent_fault_comes_right_after_the_cause_of_todays_failures() {
        let found = vec![
            finding("config-invalid", Role::Latent, None, Confidence::High),
            finding("backend-down", Role::Cause, Some("u1"), Confidence::Medium),
        ];
        assert_eq!(
            ranked(found),
            [
                ("backend-down".to_owned(), true),
                ("config-invalid".to_owned(), false)
            ]
        );
    }

    #[test]
    fn upstreams_keep_the_order_they_were_walked_in_over_confidence() {
        let found = vec![
            finding(
                "upstream-timeout",
                Role::Cause,
                Some("busy"),
                Confidence::Low,
            ),
            finding("backend-down", Role::Cause, Some("quiet"), Confidence::High),
        ];
        assert_eq!(
            ranked(found),
            [
                ("upstream-timeout".to_owned(), true),
                ("backend-down".to_owned(), false)
            ]
        );
    }

    #[test]
    fn the_same_cause_on_two_upstreams_is_two_findings() {
        let found = vec![
            finding("backend-down", Role::Cause, Some("a"), Confidence::High),
            finding("backend-down", Role::Cause, Some("b"), Confidence::High),
        ];
        assert_eq!(ranked(found).len(), 2);
    }

    #[test]
    fn nothing_wrong_is_dropped_beside_a_fault() {
        let found = vec![
            finding("no-fault-found", Role::Healthy, None, Confidence::High),
            finding("config-invalid", Role::Latent, None, Confidence::High),
        ];
        assert_eq!(ranked(found), [("config-invalid".to_owned(), true)]);
    }
}
