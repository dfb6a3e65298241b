//! The report for a ticket or a wiki: Markdown with fenced commands.
//!
//! Host text (log lines, command output) goes only inside code spans or
//! fences, after sanitising, so it can neither inject Markdown nor escapes.

use std::fmt::Write as _;

use super::{Report, shell_words};
use crate::engine::Finding;

pub fn render(r: &Report) -> String {
    let mut out = format!(
        "# nginx-doctor report\n\n{} {}, rules `{}` ({}), host `{}`\n",
        r.tool.name, r.tool.version, r.rules.name, r.rules.source, r.host.hostname
    );
    for f in &r.findings {
        finding(&mut out, f);
    }
    if let Some(why) = &r.stopped {
        let _ = writeln!(out, "\n## Could not finish\n\n{why}");
    }
    let _ = writeln!(
        out,
        "\nPath: {}",
        r.path
            .iter()
            .map(|p| code(p))
            .collect::<Vec<_>>()
            .join(" → ")
    );
    let _ = writeln!(
        out,
        "\n## Checks\n\n| probe | command | status | ms |\n|---|---|---|---|"
    );
    for c in &r.checks {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            c.probe,
            code(&c.shown_as),
            c.status.as_str(),
            c.duration_ms
        );
    }
    out
}

/// A code span that survives backticks and pipes in host text.
fn code(s: &str) -> String {
    let s = s.replace('|', "\\|");
    let ticks = if s.contains('`') { "``" } else { "`" };
    format!("{ticks} {s} {ticks}")
}

fn fence(out: &mut String, lang: &str, body: &str) {
    let fence = if body.contains("```") { "~~~~" } else { "```" };
    let _ = writeln!(out, "{fence}{lang}\n{}\n{fence}", body.trim_end());
}

fn finding(out: &mut String, f: &Finding) {
    let primary = if f.primary { ", primary" } else { "" };
    let _ = writeln!(
        out,
        "\n## `{}`: {}\n\nConfidence: {:?}{primary}\n",
        f.id, f.title, f.confidence
    );
    if !f.explanation.is_empty() {
        let _ = writeln!(out, "{}\n", f.explanation.trim());
    }
    if !f.evidence.is_empty() {
        let _ = writeln!(out, "### Evidence\n");
        fence(out, "text", &f.evidence.join("\n"));
    }
    if !f.fix.steps.is_empty() {
        let _ = writeln!(out, "\n### Fix\n");
        if !f.fix.summary.is_empty() {
            let _ = writeln!(out, "{}\n", f.fix.summary);
        }
        for (i, s) in f.fix.steps.iter().enumerate() {
            let _ = writeln!(out, "{}. {}", i + 1, s.text);
            if let Some(argv) = &s.command {
                fence(out, "sh", &shell_words(argv));
            }
            if let (Some(file), Some(snippet)) = (&s.file, &s.snippet) {
                let _ = writeln!(out, "   In `{file}`:");
                fence(out, "nginx", snippet);
            }
        }
    }
    if !f.fix.verify.is_empty() {
        let _ = writeln!(out, "\n### Verify\n");
        fence(out, "sh", &f.fix.verify.join("\n"));
    }
}
