//! Checking again after a fix: the same diagnosis walked once more without
//! questions, and compared upstream by upstream with the first.
//!
//! A person who followed a fix wants one answer: is the 502 gone? Verify
//! lines are for reading; this module answers by asking the host again, with
//! the same rules, window and options. An upstream whose failures stopped
//! since the fix (the walk's recovery checks: a reload, a backend start, the
//! address answering now) is fixed; one that still fails, for the same cause
//! or another, is not; a fault that was not there before is said to be new.

use serde::Serialize;

use crate::walk::{Finding, Walk};

/// What one check after the fix found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Recheck {
    /// When it ran: local wall-clock time, as a person reads it beside the logs.
    pub at: String,
    /// No fault remains.
    pub gone: bool,
    /// Each upstream (or the host, `upstream: null`) that had a fault before or has one now.
    pub upstreams: Vec<Outcome>,
}

/// One upstream's state after the fix.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Outcome {
    pub upstream: Option<String>,
    /// The cause diagnosed before the fix; none for a fault that is new.
    pub before: Option<String>,
    /// `fixed`, `failing` or `new`.
    pub now: State,
    /// The finding now: the fault that remains, or the recovery seen.
    pub finding: Option<String>,
    pub title: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Fixed,
    Failing,
    New,
}

impl Recheck {
    /// Compares the walk made before the fix with the one made after it.
    pub fn compare(before: &[Finding], after: &Walk, at: String) -> Recheck {
        let faults = |fs: &[Finding]| -> Vec<Finding> {
            fs.iter().filter(|f| f.is_fault()).cloned().collect()
        };
        let (was, is) = (faults(before), faults(&after.findings));
        let mut upstreams: Vec<Outcome> = Vec::new();
        for f in &was {
            if upstreams.iter().any(|o| o.upstream == f.upstream) {
                continue;
            }
            let now = is.iter().find(|g| g.upstream == f.upstream);
            let seen = now.or_else(|| after.resolved.iter().find(|g| g.upstream == f.upstream));
            upstreams.push(Outcome {
                upstream: f.upstream.clone(),
                before: Some(f.id.clone()),
                now: if now.is_some() {
                    State::Failing
                } else {
                    State::Fixed
                },
                finding: seen.map(|g| g.id.clone()),
                title: seen.map(|g| g.title.clone()),
            });
        }
        for g in &is {
            if !upstreams.iter().any(|o| o.upstream == g.upstream) {
                upstreams.push(Outcome {
                    upstream: g.upstream.clone(),
                    before: None,
                    now: State::New,
                    finding: Some(g.id.clone()),
                    title: Some(g.title.clone()),
                });
            }
        }
        Recheck {
            at,
            gone: is.is_empty(),
            upstreams,
        }
    }

    /// Whether every upstream still fails for the cause found before the fix.
    pub fn unchanged(&self) -> bool {
        self.upstreams
            .iter()
            .all(|o| o.now == State::Failing && o.finding == o.before)
    }

    /// "Checked again at 10:42:07".
    pub fn heading(&self) -> String {
        format!("Checked again at {}", self.at)
    }

    /// One line an upstream: what it is now, and the finding that says so.
    pub fn items(&self) -> Vec<String> {
        self.upstreams
            .iter()
            .map(|o| {
                let what = o.upstream.as_deref().unwrap_or("nginx on this host");
                let state = match o.now {
                    State::Fixed => "fixed",
                    State::Failing => "still failing",
                    State::New => "a new fault",
                };
                // A recovery's id says nothing to a person; a fault's id is
                // the name its report and the docs use.
                match (&o.title, &o.finding, o.now) {
                    (Some(title), _, State::Fixed) => format!("{what}: {state} ({title})"),
                    (Some(title), Some(id), _) => format!("{what}: {state}: {title} ({id})"),
                    _ => format!("{what}: {state}"),
                }
            })
            .collect()
    }

    /// Whether the fault is gone, and what to do when it is not.
    pub fn verdict(&self) -> String {
        let left = self
            .upstreams
            .iter()
            .filter(|o| o.now != State::Fixed)
            .count();
        match left {
            0 => "The fault is gone: nothing fails now.".to_owned(),
            1 => "1 fault remains: follow its fix, then check again.".to_owned(),
            n => format!("{n} faults remain: follow their fixes, then check again."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Role;

    fn finding(id: &str, upstream: &str, role: Role) -> Finding {
        Finding::sample(id, role, Some(upstream))
    }

    fn walk(findings: Vec<Finding>, resolved: Vec<Finding>) -> Walk {
        Walk {
            findings,
            resolved,
            ..Walk::default()
        }
    }

    #[test]
    fn an_upstream_that_recovered_is_fixed_with_the_recovery_named() {
        let before = walk(vec![finding("backend-down", "a", Role::Cause)], vec![]);
        let after = walk(vec![], vec![finding("backend-down", "a", Role::Resolved)]);
        let r = Recheck::compare(&before.findings, &after, "10:00:00".into());
        assert!(r.gone);
        assert_eq!(r.upstreams[0].now, State::Fixed);
        assert_eq!(r.upstreams[0].title.as_deref(), Some("backend-down title"));
        assert_eq!(r.verdict(), "The fault is gone: nothing fails now.");
    }

    #[test]
    fn an_upstream_failing_for_another_cause_is_still_failing() {
        let before = walk(vec![finding("backend-down", "a", Role::Cause)], vec![]);
        let after = walk(vec![finding("socket-permission", "a", Role::Cause)], vec![]);
        let r = Recheck::compare(&before.findings, &after, "10:00:00".into());
        assert!(!r.gone);
        assert_eq!(r.upstreams[0].now, State::Failing);
        assert_eq!(r.upstreams[0].finding.as_deref(), Some("socket-permission"));
        assert!(!r.unchanged(), "another cause now: something changed");
        assert_eq!(
            r.items(),
            ["a: still failing: socket-permission title (socket-permission)"]
        );
    }

    #[test]
    fn the_same_cause_on_every_upstream_is_unchanged() {
        let before = walk(vec![finding("backend-down", "a", Role::Cause)], vec![]);
        let r = Recheck::compare(&before.findings, &before, "10:00:00".into());
        assert!(r.unchanged() && !r.gone);
    }

    #[test]
    fn a_fault_on_an_upstream_not_seen_before_is_new() {
        let before = walk(vec![finding("backend-down", "a", Role::Cause)], vec![]);
        let after = walk(vec![finding("upstream-timeout", "b", Role::Cause)], vec![]);
        let r = Recheck::compare(&before.findings, &after, "10:00:00".into());
        let states: Vec<State> = r.upstreams.iter().map(|o| o.now).collect();
        assert_eq!(states, [State::Fixed, State::New]);
        assert_eq!(
            r.verdict(),
            "1 fault remains: follow its fix, then check again."
        );
    }

    #[test]
    fn a_host_wide_fault_is_named_as_nginx_on_this_host() {
        let mut down = finding("nginx-down", "a", Role::Cause);
        down.upstream = None;
        let before = walk(vec![down], vec![]);
        let r = Recheck::compare(&before.findings, &walk(vec![], vec![]), "10:00:00".into());
        assert_eq!(r.items(), ["nginx on this host: fixed"]);
    }
}
