//! The report for a terminal or a plain-text ticket.

use std::fmt::Write as _;

use colored::Colorize;

use super::Report;
use crate::plural;
use crate::shell::words as shell_words;
use crate::walk::Finding;

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let faults = r.findings.iter().filter(|f| f.is_fault()).count();
    let headline = match faults {
        0 if r.stopped.is_some() => "diagnosis incomplete".yellow().bold(),
        0 if !r.resolved.is_empty() => format!(
            "no fault now; {} recovered",
            plural::count(r.resolved.len(), "upstream")
        )
        .green()
        .bold(),
        0 => "no fault found".green().bold(),
        n if r.rechecks.last().is_some_and(|c| c.gone) => {
            let at = r.rechecks.last().map_or("", |c| c.at.as_str());
            format!(
                "{} diagnosed, gone when checked again at {at}",
                plural::count(n, "fault")
            )
            .green()
            .bold()
        }
        1 => "1 fault diagnosed".red().bold(),
        n => format!("{n} faults diagnosed, most likely first")
            .red()
            .bold(),
    };
    let _ = writeln!(out, "{} {}: {headline}", r.tool.name, r.tool.version);
    let _ = writeln!(out, "\n{}", r.summary);
    let groups = r.groups();
    let headed = groups.iter().any(|(about, _)| about.is_some());
    for (about, findings) in groups {
        if headed {
            let heading = about.map_or_else(
                || "nginx on this host".to_owned(),
                |u| format!("Upstream {u}"),
            );
            let _ = writeln!(out, "\n{}", heading.bold().underline());
        }
        for f in findings {
            finding(&mut out, f);
        }
    }
    if !r.resolved.is_empty() {
        let _ = writeln!(out, "\n{}", "Recovered".bold().underline());
        for f in &r.resolved {
            finding(&mut out, f);
        }
    }
    fixes(&mut out, r);
    // The last check is the host's state; the JSON report keeps them all.
    if let Some(check) = r.rechecks.last() {
        let _ = writeln!(out, "\n{}", check.heading().bold().underline());
        for item in check.items() {
            let _ = writeln!(out, "  {item}");
        }
        let _ = writeln!(out, "{}", check.verdict());
    }
    // With no finding, the summary above already said why.
    if let Some(why) = r.stopped.as_ref().filter(|_| !r.findings.is_empty()) {
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

/// The fix commands the person accepted: what changed on the host.
fn fixes(out: &mut String, r: &Report) {
    if r.fixes.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", "What was run".bold().underline());
    for fix in &r.fixes {
        let _ = writeln!(out, "  $ {}", fix.shown_as);
        let _ = writeln!(out, "    {}: {}", super::fix_context(fix), fix.outcome);
        for line in fix.excerpt.lines() {
            let _ = writeln!(out, "    | {line}");
        }
    }
}

fn finding(out: &mut String, f: &Finding) {
    let mark = if f.is_fault() {
        "✗".red()
    } else {
        "✓".green()
    };
    let mut tags = vec![
        f.id.clone(),
        format!("{:?} confidence", f.confidence).to_lowercase(),
    ];
    tags.extend(f.primary.then(|| "primary".to_owned()));
    tags.extend(super::role_note(f.role).map(str::to_owned));
    let _ = writeln!(out, "\n{mark} {}\n  [{}]", f.title.bold(), tags.join(", "));
    for line in f.explanation.trim().lines() {
        let _ = writeln!(out, "  {line}");
    }
    if let Some(note) = super::unchecked_note(f) {
        let _ = writeln!(out, "  {}", note.yellow());
    }
    if !f.evidence.is_empty() {
        let _ = writeln!(out, "  {}", "Evidence:".bold());
        // An evidence item may span lines (a file's lines around an
        // error): each keeps the indent.
        for line in f.evidence.iter().flat_map(|e| e.lines()) {
            let _ = writeln!(out, "    {line}");
        }
    }
    if !f.fix.steps.is_empty() || !f.fix.summary.is_empty() {
        let _ = writeln!(out, "  {} {}", "Fix:".bold(), f.fix.summary);
        for (i, s) in f.fix.steps.iter().enumerate() {
            let _ = writeln!(out, "    {}. {}", i + 1, s.text);
            if let Some(argv) = &s.command {
                let _ = writeln!(out, "       $ {}", shell_words(argv));
                if let Some(note) = s.exit.as_deref().and_then(super::exit_note) {
                    let _ = writeln!(out, "         {note}");
                }
            }
            if let Some(place) = s.place() {
                let _ = writeln!(out, "       {place}");
            }
            for line in s.snippet.iter().flat_map(|s| s.lines()) {
                let _ = writeln!(out, "         {line}");
            }
        }
    }
    if !f.fix.verify.is_empty() {
        let _ = writeln!(out, "  {}", "Verify:".bold());
        for (i, v) in f.fix.verify.iter().enumerate() {
            let _ = writeln!(out, "    $ {v}");
            let exit = f.fix.verify_exit.get(i).map_or(&[0][..], Vec::as_slice);
            if let Some(note) = super::exit_note(exit) {
                let _ = writeln!(out, "      {note}");
            }
        }
    }
}
