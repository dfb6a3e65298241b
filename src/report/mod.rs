//! The report: what a walk found, as text, Markdown or JSON.
//!
//! JSON is the contract of DESIGN.md (`schema: 1`, `findings`, `checks`) and
//! only grows additively. Text and Markdown show the same findings for a
//! person or a ticket: what is wrong, the evidence, the fix as commands to
//! copy, and how to verify it.

mod markdown;
mod text;

use serde::Serialize;

use crate::causes::NO_FAULT;
use crate::engine::{CheckRecord, Finding, Walk};
use crate::value::Value;

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
    pub findings: Vec<Finding>,
    pub checks: Vec<CheckRecord>,
    /// The decision-tree nodes visited, in order.
    pub path: Vec<String>,
    pub answers: std::collections::BTreeMap<String, Value>,
    /// Why the diagnosis could not finish, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
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

#[derive(Debug, Clone, Serialize)]
pub struct HostInfo {
    pub hostname: String,
    pub euid: u32,
    pub root: bool,
    pub systemd: bool,
}

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
            findings: walk.findings,
            checks: walk.checks,
            path: walk.path,
            answers: walk.answers,
            stopped: walk.stopped,
        }
    }

    /// Whether any finding is a fault (anything but `no-fault-found`).
    pub fn has_fault(&self) -> bool {
        self.findings.iter().any(|f| f.id != NO_FAULT)
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

    /// The probes that could not run, for the "not checked" section.
    pub fn not_run(&self) -> impl Iterator<Item = &CheckRecord> {
        self.checks.iter().filter(|c| !c.status.ran())
    }
}

/// Quotes an argv for display so it can be pasted into a shell as is.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=@%+,".contains(&b));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_unquoted() {
        assert_eq!(shell_words(&["ss".into(), "-Htlnp".into()]), "ss -Htlnp");
    }

    #[test]
    fn words_with_spaces_or_quotes_are_single_quoted() {
        assert_eq!(shell_words(&["sport = :9000".into()]), "'sport = :9000'");
        assert_eq!(shell_words(&["it's".into()]), r"'it'\''s'");
        assert_eq!(shell_words(&[String::new()]), "''");
    }
}
