//! The report for a terminal or a plain-text ticket.

use std::fmt::Write as _;

use colored::Colorize;

use super::{Report, shell_words};
use crate::engine::Finding;

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let faults = r
        .findings
        .iter()
        .filter(|f| f.id != crate::causes::NO_FAULT)
        .count();
    let headline = match faults {
        0 if r.stopped.is_some() => "diagnosis incomplete".yellow().bold(),
        0 => "no fault found".green().bold(),
        1 => "1 fault diagnosed".red().bold(),
        n => format!("{n} faults diagnosed, most likely first")
            .red()
            .bold(),
    };
    let _ = writeln!(out, "{} {}: {headline}", r.tool.name, r.tool.version);
    for f in &r.findings {
        finding(&mut out, f);
    }
    if let Some(why) = &r.stopped {
        let _ = writeln!(out, "\n{} {why}", "Could not finish:".yellow().bold());
    }
    let _ = writeln!(out, "\n{} {}", "Path:".bold(), r.path.join(" → "));
    let skipped: Vec<_> = r.not_run().collect();
    let _ = writeln!(
        out,
        "\n{} {} run, {} could not run",
        "Checks:".bold(),
        r.checks.len() - skipped.len(),
        skipped.len()
    );
    for c in skipped {
        let reason = c.reason.as_deref().unwrap_or("");
        let _ = writeln!(out, "  - {} ({}): {reason}", c.shown_as, c.status.as_str());
    }
    out
}

fn finding(out: &mut String, f: &Finding) {
    let mark = if f.id == crate::causes::NO_FAULT {
        "✓".green()
    } else {
        "✗".red()
    };
    let primary = if f.primary { ", primary" } else { "" };
    let confidence = format!("{:?}", f.confidence).to_lowercase();
    let _ = writeln!(
        out,
        "\n{mark} {}\n  [{}, {confidence} confidence{primary}]",
        f.title.bold(),
        f.id
    );
    for line in f.explanation.trim().lines() {
        let _ = writeln!(out, "  {line}");
    }
    if !f.evidence.is_empty() {
        let _ = writeln!(out, "  {}", "Evidence:".bold());
        for e in &f.evidence {
            let _ = writeln!(out, "    {e}");
        }
    }
    if !f.fix.steps.is_empty() || !f.fix.summary.is_empty() {
        let _ = writeln!(out, "  {} {}", "Fix:".bold(), f.fix.summary);
        for (i, s) in f.fix.steps.iter().enumerate() {
            let _ = writeln!(out, "    {}. {}", i + 1, s.text);
            if let Some(argv) = &s.command {
                let _ = writeln!(out, "       $ {}", shell_words(argv));
            }
            if let Some(file) = &s.file {
                let _ = writeln!(out, "       in {file}:");
            }
            for line in s.snippet.iter().flat_map(|s| s.lines()) {
                let _ = writeln!(out, "         {line}");
            }
        }
    }
    if !f.fix.verify.is_empty() {
        let _ = writeln!(out, "  {}", "Verify:".bold());
        for v in &f.fix.verify {
            let _ = writeln!(out, "    $ {v}");
        }
    }
}
