//! When a configuration or start-up error was logged, from the lines
//! pasted with it, and what follows from that.
//!
//! `nginx -t` ends with `configuration file ... test failed`; a reload is
//! announced in the error log (`signal 1 (SIGHUP) received`,
//! `reconfiguring`); systemd says `Failed to start` when a start failed.
//! The nearest such line decides; without one, the explanation says both
//! readings. Which causes and which effect follow is the table
//! [`OUTCOMES`].

use std::sync::OnceLock;

use regex::RegexSet;
use serde::Serialize;

use super::emerg::Stage;

/// When an error was logged, as the lines around it say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Context {
    /// `nginx -t` (or `nginx -T`).
    Test,
    /// A reload: the running nginx read its configuration again.
    Reload,
    /// A start that failed (systemd gave up on the service).
    StartFailed,
}

/// The lines that say when, with what they say.
const CONTEXTS: &[(Context, &str, &str)] = &[
    (
        Context::Test,
        r"configuration file \S+ test failed",
        "`nginx -t` failed",
    ),
    (
        Context::Reload,
        r"signal 1 \(SIGHUP\) received|\] \d+#\d+: reconfiguring$|Reload(?:ing| failed for) ",
        "a reload was under way",
    ),
    (
        Context::StartFailed,
        r"Failed to start |Failed with result '|Active: failed|Control process exited, code=exited",
        "the service failed to start",
    ),
];

/// The causes and the effect of an error logged at a stage, in a context
/// (`None`: the lines around it do not say).
pub const OUTCOMES: &[(Stage, Option<Context>, &[&str], &str)] = &[
    (
        Stage::Load,
        None,
        &["config-invalid", "nginx-down"],
        "If this came from `nginx -t` or a reload, the running nginx keeps its old configuration and every reload fails until this is fixed; if it came from a start or a restart, nginx is not running.",
    ),
    (
        Stage::Load,
        Some(Context::Test),
        &["config-invalid", "nginx-down"],
        "`nginx -t` failed: a reload now would fail and keep the old configuration, and a restart would leave nginx stopped.",
    ),
    (
        Stage::Load,
        Some(Context::Reload),
        &["config-invalid"],
        "A reload failed: the running nginx kept its old configuration, so clients noticed nothing; every reload fails until this is fixed, and a restart would leave nginx stopped.",
    ),
    (
        Stage::Load,
        Some(Context::StartFailed),
        &["nginx-down", "config-invalid"],
        "nginx could not start with this configuration: it is not running. Clients get connection refused, and a proxy or load balancer in front of it answers 502.",
    ),
    (
        Stage::Start,
        None,
        &["nginx-down"],
        "nginx could not start: it is not running. Clients get connection refused, and a proxy or load balancer in front of it answers 502. (Had this come from a reload, the old configuration would keep running.)",
    ),
    (
        Stage::Start,
        Some(Context::Reload),
        &["config-invalid"],
        "A reload could not open what the new configuration asks for: the running nginx kept its old configuration, and a restart would leave nginx stopped.",
    ),
    (
        Stage::NotRoot,
        None,
        &[],
        "This run had no root, so it could not open what nginx opens as root: it says nothing about the configuration.",
    ),
];

/// What to paste when the input holds only a line that says when.
const HINTS: &[(Context, &str)] = &[
    (
        Context::Test,
        "The input holds `nginx -t`'s summary (`test failed`): the `[emerg]` line printed just before it names the error; paste it too.",
    ),
    (
        Context::Reload,
        "The input holds a reload: the `[emerg]` line logged right after it names what failed; paste it too.",
    ),
    (
        Context::StartFailed,
        "The input holds systemd's word that a start failed: `sudo journalctl -u nginx -n 20 --no-pager` shows nginx's own lines; paste them.",
    ),
];

/// What to paste when the input holds only a line that says `context`.
pub fn hint(context: Context) -> &'static str {
    HINTS
        .iter()
        .find(|(c, _)| *c == context)
        .map_or("", |(_, hint)| hint)
}

/// The causes and effect for `stage` in `context`; a context the table
/// has no row for reads as an unknown one.
pub fn outcome(stage: Stage, context: Option<Context>) -> (&'static [&'static str], &'static str) {
    let row = |c: Option<Context>| OUTCOMES.iter().find(|(s, x, ..)| *s == stage && *x == c);
    row(context)
        .or_else(|| row(None))
        .map_or((&[], ""), |(_, _, causes, effect)| (*causes, *effect))
}

fn contexts() -> &'static RegexSet {
    static SET: OnceLock<RegexSet> = OnceLock::new();
    SET.get_or_init(|| {
        RegexSet::new(CONTEXTS.iter().map(|(_, p, _)| p)).unwrap_or_else(|_| RegexSet::empty())
    })
}

/// A line of the input that says when, and what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Said {
    /// The input line, from 1.
    pub input_line: usize,
    pub context: Context,
    pub says: &'static str,
}

/// What `line` (input line `input_line`) says about when, if anything.
pub fn said_by(input_line: usize, line: &str) -> Option<Said> {
    let at = contexts().matches(line).into_iter().next()?;
    let (context, _, says) = CONTEXTS[at];
    Some(Said {
        input_line,
        context,
        says,
    })
}

/// Of `said`, the one nearest to input line `line` (the later one on a tie).
pub fn nearest(said: &[Said], line: usize) -> Option<Said> {
    said.iter()
        .copied()
        .min_by_key(|s| (s.input_line.abs_diff(line), std::cmp::Reverse(s.input_line)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        assert_eq!(contexts().len(), CONTEXTS.len());
    }

    #[test]
    fn real_lines_say_when() {
        for (line, want) in [
            (
                "nginx: configuration file /etc/nginx/nginx.conf test failed",
                Context::Test,
            ),
            (
                "2026/12/07 18:24:36 [notice] 32026#32026: signal 1 (SIGHUP) received from 32021, reconfiguring",
                Context::Reload,
            ),
            (
                "2026/12/07 18:24:36 [notice] 32026#32026: reconfiguring",
                Context::Reload,
            ),
            (
                "Dec 01 10:00:01 web1 systemd[1]: Failed to start nginx.service - A high performance web server and a reverse proxy server.",
                Context::StartFailed,
            ),
            (
                "Dec 01 10:00:01 web1 systemd[1]: nginx.service: Failed with result 'exit-code'.",
                Context::StartFailed,
            ),
            (
                "     Active: failed (Result: exit-code) since Tue 2026-12-01 10:00:01 UTC; 3s ago",
                Context::StartFailed,
            ),
            (
                "Dec 01 10:00:01 web1 systemd[1]: Reloading nginx.service - A high performance web server",
                Context::Reload,
            ),
        ] {
            assert_eq!(said_by(1, line).map(|s| s.context), Some(want), "{line}");
        }
        assert_eq!(
            said_by(
                1,
                "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok"
            ),
            None
        );
    }

    #[test]
    fn the_nearest_line_decides() {
        let at = |input_line, context| Said {
            input_line,
            context,
            says: "",
        };
        let said = [at(1, Context::Reload), at(9, Context::StartFailed)];
        assert_eq!(nearest(&said, 3).map(|s| s.input_line), Some(1));
        assert_eq!(nearest(&said, 7).map(|s| s.input_line), Some(9));
        assert_eq!(nearest(&said, 5).map(|s| s.input_line), Some(9));
        assert_eq!(nearest(&[], 5), None);
    }

    #[test]
    fn every_stage_has_an_outcome_without_context() {
        for stage in [Stage::Load, Stage::Start, Stage::NotRoot] {
            assert!(OUTCOMES.iter().any(|(s, c, ..)| *s == stage && c.is_none()));
        }
        assert_eq!(
            outcome(Stage::Start, Some(Context::Test)),
            outcome(Stage::Start, None)
        );
        assert_eq!(
            outcome(Stage::Load, Some(Context::StartFailed)).0[0],
            "nginx-down"
        );
        assert_eq!(
            outcome(Stage::Load, Some(Context::Reload)).0,
            ["config-invalid"]
        );
    }

    #[test]
    fn every_cause_is_a_cause_id() {
        let pack = crate::rules::RuleSet::embedded().expect("the default pack loads");
        for (_, _, causes, effect) in OUTCOMES {
            assert!(effect.ends_with('.') || effect.ends_with(".)"));
            for c in *causes {
                assert!(pack.causes.contains_key(*c), "{c}");
            }
        }
    }
}
