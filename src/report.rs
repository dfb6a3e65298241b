//! The report: what a walk found, as text, Markdown or JSON.
//!
//! JSON is the contract of DESIGN.md (`schema: 1`, `findings`, `checks`) and
//! only grows additively. Text and Markdown show the same findings for a
//! person or a ticket: what is wrong, the evidence, the fix as commands to
//! copy, and how to verify it.

mod markdown;
mod text;

use serde::Serialize;

use crate::rules::Role;
use crate::value::Value;
use crate::walk::{CheckRecord, Finding, FixRecord, Walk};

/// One paragraph: the primary finding (what fails and since when, the
/// cause, the fix), how many more there are, or that nothing fails now.
fn summary(findings: &[Finding], resolved: &[Finding], stopped: Option<&str>) -> String {
    let faults = findings.iter().filter(|f| f.is_fault()).count();
    let Some(first) = findings.first().filter(|f| f.is_fault()) else {
        return match (resolved.len(), stopped) {
            (_, Some(why)) if findings.is_empty() => {
                format!("The diagnosis could not finish. {why}")
            }
            (0, _) => findings
                .first()
                .map_or_else(|| "No fault found.".to_owned(), |f| sentence(&f.title)),
            (1, _) => "No fault now: 1 upstream failed earlier in the window and answers now \
                (see Recovered)."
                .to_owned(),
            (n, _) => format!(
                "No fault now: {n} upstreams failed earlier in the window and answer now (see Recovered)."
            ),
        };
    };
    let mut text = String::new();
    if let Some(about) = &first.about {
        text.push_str(&sentence(about));
        text.push(' ');
    }
    text.push_str(&sentence(&first.title));
    if !first.fix.summary.is_empty() {
        text.push_str(" Fix: ");
        text.push_str(&sentence(&first.fix.summary));
    }
    if faults > 1 {
        text.push_str(&format!(
            " {} below.",
            crate::plural::count(faults - 1, "more finding")
        ));
    }
    text
}

/// `text` ending in one full stop.
fn sentence(text: &str) -> String {
    let t = text.trim().trim_end_matches(['.', ':', ';']);
    format!("{t}.")
}

/// What a finding's role means to a reader, beside its confidence.
pub fn role_note(role: Role) -> Option<&'static str> {
    match role {
        Role::Cause | Role::Healthy | Role::Resolved => None,
        Role::Latent => Some("latent: not behind the failures seen now"),
        Role::Consequence => Some("a consequence of the failures above"),
    }
}

/// How a finding's lowered confidence is explained.
pub fn unchecked_note(f: &Finding) -> Option<String> {
    (!f.unchecked.is_empty()).then(|| {
        format!(
            "Confidence lowered: this rests on checks that were skipped ({}).",
            f.unchecked.join(", ")
        )
    })
}

pub use crate::walk::exit_note;

/// What an accepted fix command is for, in words: `fix for
/// backend-down on UPSTREAM, started 2026-...`.
pub fn fix_context(fix: &FixRecord) -> String {
    let on = fix
        .upstream
        .as_deref()
        .map(|u| format!(" on {u}"))
        .unwrap_or_default();
    format!("fix for {}{on}, started {}", fix.finding, fix.at)
}

/// Output formats of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

/// Everything the report says.
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema: u32,
    pub tool: Tool,
    pub mode: &'static str,
    pub rules: RulesInfo,
    pub host: HostInfo,
    /// The whole report in one paragraph, for the top of a ticket: what
    /// fails, since when, the cause and the fix.
    pub summary: String,
    pub findings: Vec<Finding>,
    /// Upstreams whose logged failures stopped, with what changed.
    pub resolved: Vec<Finding>,
    pub checks: Vec<CheckRecord>,
    /// The decision-tree nodes visited, in order.
    pub path: Vec<String>,
    pub answers: std::collections::BTreeMap<String, Value>,
    /// Why the diagnosis could not finish, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Guided mode: what each check made after the person's fix found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rechecks: Vec<crate::recheck::Recheck>,
    /// Guided mode: the fix commands the person accepted, as they ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<FixRecord>,
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct RulesInfo {
    pub name: String,
    pub source: String,
}

pub use crate::session::HostInfo;

impl Report {
    pub fn new(walk: Walk, mode: &'static str, rules: RulesInfo, host: HostInfo) -> Report {
        Report {
            schema: 1,
            tool: Tool {
                name: env!("CARGO_PKG_NAME"),
                version: env!("CARGO_PKG_VERSION"),
            },
            mode,
            rules,
            host,
            summary: summary(&walk.findings, &walk.resolved, walk.stopped.as_deref()),
            findings: walk.findings,
            resolved: walk.resolved,
            checks: walk.checks,
            path: walk.path,
            answers: walk.answers,
            stopped: walk.stopped,
            rechecks: Vec::new(),
            fixes: walk.fixes,
        }
    }

    /// Whether any finding is a fault: something to fix.
    pub fn has_fault(&self) -> bool {
        self.findings.iter().any(Finding::is_fault)
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => text::render(self),
            Format::Markdown => markdown::render(self),
            Format::Json => {
                let mut s = serde_json::to_string_pretty(self)
                    .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
                s.push('\n');
                s
            }
        }
    }

    /// The findings grouped by what they are about, in report order: each
    /// upstream (and the host as a whole) once, where its first finding ranks.
    pub fn groups(&self) -> Vec<(Option<&str>, Vec<&Finding>)> {
        let mut groups: Vec<(Option<&str>, Vec<&Finding>)> = Vec::new();
        for f in &self.findings {
            let about = f.upstream.as_deref();
            match groups.iter_mut().find(|(u, _)| *u == about) {
                Some((_, list)) => list.push(f),
                None => groups.push((about, vec![f])),
            }
        }
        groups
    }

    /// The probes that could not run, for the "not checked" section.
    pub fn not_run(&self) -> impl Iterator<Item = &CheckRecord> {
        self.checks.iter().filter(|c| !c.status.ran())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, upstream: Option<&str>, role: Role) -> Finding {
        Finding::sample(id, role, upstream)
    }

    #[test]
    fn success_other_than_zero_is_said_and_zero_is_not() {
        assert_eq!(exit_note(&[0]), None);
        assert_eq!(
            exit_note(&[1]).as_deref(),
            Some("(exit status 1 means it worked)")
        );
        assert_eq!(
            exit_note(&[0, 1]).as_deref(),
            Some("(exit status 0 or 1 means it worked)")
        );
    }

    fn report(findings: Vec<Finding>) -> Report {
        let walk = Walk {
            findings,
            ..Walk::default()
        };
        let rules = RulesInfo {
            name: "t".into(),
            source: "t".into(),
        };
        let host = HostInfo {
            hostname: "h".into(),
            euid: 0,
            root: true,
            systemd: false,
        };
        Report::new(walk, "auto", rules, host)
    }

    fn three_groups() -> Report {
        report(vec![
            finding("backend-down", Some("a"), Role::Cause),
            finding("upstream-timeout", Some("b"), Role::Cause),
            finding("config-invalid", None, Role::Latent),
            finding("no-live-upstreams", Some("a"), Role::Consequence),
        ])
    }

    #[test]
    fn findings_are_grouped_by_upstream_where_each_first_ranks() {
        let r = three_groups();
        let groups: Vec<(Option<&str>, Vec<&str>)> = r
            .groups()
            .into_iter()
            .map(|(u, fs)| (u, fs.iter().map(|f| f.id.as_str()).collect()))
            .collect();
        assert_eq!(
            groups,
            [
                (Some("a"), vec!["backend-down", "no-live-upstreams"]),
                (Some("b"), vec!["upstream-timeout"]),
                (None, vec!["config-invalid"]),
            ]
        );
    }

    #[test]
    fn every_group_has_a_heading_in_markdown_once_one_is_an_upstream() {
        let md = three_groups().render(Format::Markdown);
        let headings: Vec<&str> = md.lines().filter(|l| l.starts_with("## ")).collect();
        assert_eq!(
            headings,
            [
                "## Upstream ` a `",
                "## Upstream ` b `",
                "## nginx on this host",
                "## Checks"
            ]
        );
    }

    #[test]
    fn a_latent_fault_says_it_is_not_behind_todays_failures() {
        colored::control::set_override(false);
        let text = three_groups().render(Format::Text);
        assert!(
            text.contains(
                "[config-invalid, high confidence, latent: not behind the failures seen now]"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_recovered_upstream_is_shown_apart_and_marked_as_no_fault() {
        colored::control::set_override(false);
        let mut r = report(vec![finding("no-fault-found", None, Role::Healthy)]);
        r.resolved = vec![finding("no-fault-found", Some("a"), Role::Resolved)];
        let text = r.render(Format::Text);
        let recovered = text.split("Recovered").nth(1).unwrap_or_default();
        assert!(
            text.contains(": no fault now; 1 upstream recovered"),
            "{text}"
        );
        assert!(recovered.contains("✓ no-fault-found title"), "{text}");
    }

    #[test]
    fn the_summary_says_what_fails_since_when_the_cause_and_the_fix() {
        let mut f = finding("backend-down", Some("a"), Role::Cause);
        f.about = Some("a: 6 failures from 10:30:11 to 10:42:10 (unix-socket-missing)".into());
        f.title = "Nothing is listening at /run/php.sock: the backend is not running".into();
        f.fix.summary = "Start the backend.".into();
        let r = report(vec![f, finding("upstream-timeout", Some("b"), Role::Cause)]);
        assert_eq!(
            r.summary,
            "a: 6 failures from 10:30:11 to 10:42:10 (unix-socket-missing). Nothing is \
             listening at /run/php.sock: the backend is not running. Fix: Start the backend. 1 \
             more finding below."
        );
        colored::control::set_override(false);
        let text = r.render(Format::Text);
        assert!(
            text.lines()
                .nth(2)
                .is_some_and(|l| l.starts_with("a: 6 failures")),
            "{text}"
        );
    }

    #[test]
    fn only_faults_count_toward_the_exit_status() {
        let mut r = report(vec![finding("no-fault-found", None, Role::Healthy)]);
        r.resolved = vec![finding("no-fault-found", Some("a"), Role::Resolved)];
        assert!(!r.has_fault());
    }
}
