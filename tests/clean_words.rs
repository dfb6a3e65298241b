//! Every word a person reads is clean: no "(unknown)" where a fact was missing, no Rust
//! Debug text (`Some(0)`, `Exited(1)`, `NotFound`), no literal `\n` or raw escape
//! character, no check without a name, no paragraph printed twice.
//!
//! The real-process scenarios of the suite (the `scenarios` table, `messy_host`,
//! `nginx_down`, `protocol_mismatch`) call [`assert_clean`] from their own `diagnose`
//! with the JSON run they made, so each fault is built once and its words are checked in
//! every format: the JSON report's human strings, then text and Markdown runs of the same
//! lab. The tests here add what those do not: the replay bundles of hosts this machine
//! cannot be, and guided mode in a pseudo-terminal (whose `why` and `found` lines the JSON
//! report also keeps, per check) on a few faults.

use crate::guided_tty;
use crate::support::Lab;
use crate::support::doctor::{self, DoctorRun};
use serde_json::Value;
use std::path::Path;

/// Words that stand for a fact nobody knew, or a program's internals.
const DEBUG_WORDS: &[&str] = &[
    "(unknown)",
    "Some(",
    "Exited(",
    "Signaled(",
    "NotFound",
    "TimedOut",
    "SpawnFailed",
    "NotExecutable",
    "NotIsolated",
];

/// A line at least this long printed twice in one report is a repeated paragraph.
const PARAGRAPH_CHARS: usize = 60;

/// What is wrong with one text a person reads, if anything.
fn dirt(text: &str) -> Vec<String> {
    let mut found: Vec<String> = DEBUG_WORDS
        .iter()
        .filter(|w| text.contains(*w))
        .map(|w| format!("says {w:?}"))
        .collect();
    // `None` is Debug text unless it begins a sentence ("None of ...").
    let none_as_debug = text.match_indices("None").any(|(i, _)| {
        let before = text[..i].trim_end();
        let after = text[i + 4..].chars().next();
        before.ends_with([':', '=', '(', '[', ','])
            || matches!(after, Some(')' | ']' | '/' | ','))
            || (before.is_empty() && after.is_none())
    });
    if none_as_debug {
        found.push("says `None`".into());
    }
    // Inside single quotes it is a shell command's own (`curl -w '%{http_code}\\n'`).
    let quoted = |i: usize| text[..i].matches('\'').count() % 2 == 1;
    if text.match_indices("\\n").any(|(i, _)| !quoted(i)) {
        found.push("has a literal `\\n`".into());
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        found.push(format!("has a raw control or escape character ({c:?})"));
    }
    found
}

/// The problems of a text report or a Markdown one: dirty lines, a check listed
/// without a name, a long line of prose printed twice in one part of it (a finding,
/// or what comes before the first). Code blocks and table rows are exempt: two
/// findings may give the same command, and a check may run twice.
fn report_dirt(report: &str) -> Vec<String> {
    let mut problems: Vec<String> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut fenced = false;
    for line in report.lines() {
        problems.extend(dirt(line).into_iter().map(|d| format!("{d}: {line}")));
        let t = line.trim();
        if t.starts_with("- ") && t[2..].trim_start().starts_with('(') && !t.contains("(built-in)")
        {
            problems.push(format!("a check without a name: {line}"));
        }
        if t.starts_with("```") {
            fenced = !fenced;
        }
        if starts_a_finding(t) {
            seen.clear();
        }
        let t = t.trim_start_matches(['-', '*', '>', '#', ' ', '✗', '✓', '•']);
        let prose = !fenced && !t.starts_with('|') && !is_quoted_evidence(t);
        if prose && t.chars().count() >= PARAGRAPH_CHARS {
            if seen.contains(&t) {
                problems.push(format!("printed twice: {t}"));
            }
            seen.push(t);
        }
    }
    problems
}

/// The first line of a finding: `✗ title` in text, a `###` heading in Markdown.
fn starts_a_finding(line: &str) -> bool {
    line.starts_with("✗ ") || line.starts_with("✓ ") || line.starts_with("### ")
}

/// A log line or a command quoted as evidence may rightly appear under two
/// findings of one upstream; prose may not.
fn is_quoted_evidence(line: &str) -> bool {
    let t = line.trim_start_matches('`');
    t.starts_with("$ ")
        || t.as_bytes().first().is_some_and(u8::is_ascii_digit)
        || t.starts_with("[")
        || t.starts_with("nginx: [")
}

/// The strings of a JSON report a person reads: findings (the fix's commands and the
/// evidence quote what the host said, and are checked too), the summary, resolved
/// upstreams, and each check's name, reason, why and found. Not a check's `excerpt`,
/// which is a program's own output.
fn json_dirt(report: &Value) -> Vec<String> {
    let mut texts: Vec<&str> = Vec::new();
    let mut problems = Vec::new();
    for key in ["findings", "resolved", "summary"] {
        texts.extend(doctor::strings(&report[key]));
    }
    for check in report["checks"].as_array().into_iter().flatten() {
        if check["shown_as"]
            .as_str()
            .is_none_or(|n| n.trim().is_empty())
        {
            problems.push(format!("a check without a name: {check}"));
        }
        for key in ["shown_as", "reason", "why", "found"] {
            texts.extend(check[key].as_str());
        }
    }
    for t in texts {
        problems.extend(dirt(t).into_iter().map(|d| format!("{d}: {t}")));
    }
    problems
}

/// Asserts `problems` is empty, naming where they were found.
fn assert_none(problems: &[String], what: &str, whole: &str) {
    assert!(
        problems.is_empty(),
        "{what} is not clean:\n  {}\n--- the whole output:\n{whole}",
        problems.join("\n  ")
    );
}

/// Checks a scenario's words: the JSON run it made, then the same diagnosis as text and
/// as Markdown. Called by every real-process scenario's `diagnose`.
pub fn assert_clean(lab: &Lab, json: &DoctorRun) {
    assert_none(&json_dirt(&json.json), "the JSON report", &json.stdout);
    for format in ["text", "markdown"] {
        let run = lab.doctor(&["--auto", "--format", format]);
        assert_none(
            &report_dirt(&run.stdout),
            &format!("the {format} report"),
            &run.stdout,
        );
        assert_none(
            &dirt_lines(&run.stderr),
            &format!("stderr of the {format} run"),
            &run.stderr,
        );
    }
}

fn dirt_lines(text: &str) -> Vec<String> {
    text.lines()
        .flat_map(|l| dirt(l).into_iter().map(move |d| format!("{d}: {l}")))
        .collect()
}

/// A bundle of `tests/fixtures/bundles`, replayed in `format`.
fn replay(bundle: &Path, format: &str) -> DoctorRun {
    let args: Vec<String> = [
        "--replay",
        &bundle.display().to_string(),
        "--format",
        format,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    doctor::run_bounded(
        doctor::BINARY,
        &args,
        Path::new("/"),
        doctor::DOCTOR_TIMEOUT,
    )
}

#[test]
fn every_replayed_bundle_reads_clean_in_every_format() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bundles");
    let mut bundles: Vec<_> = std::fs::read_dir(&dir)
        .expect("the bundles directory")
        .map(|e| e.expect("a bundle").path())
        .collect();
    bundles.sort();
    assert!(bundles.len() >= 4, "bundles: {bundles:?}");
    for bundle in &bundles {
        let json = replay(bundle, "json");
        let what = format!("{} as JSON", bundle.display());
        assert_none(&json_dirt(&json.json), &what, &json.stdout);
        for format in ["text", "markdown"] {
            let run = replay(bundle, format);
            let what = format!("{} as {format}", bundle.display());
            assert_none(&report_dirt(&run.stdout), &what, &run.stdout);
        }
    }
}

/// A guided walk's screen, without the carriage returns inquire redraws prompts with.
fn guided_screen(lab: &Lab) -> String {
    guided_tty::walk_to_the_end(lab).replace('\r', "")
}

#[test]
fn guided_mode_reads_clean_when_the_backend_is_down() {
    let (lab, _) = Lab::stopped_fpm_scenario();
    let screen = guided_screen(&lab);
    assert_none(&dirt_lines(&screen), "guided mode", &screen);
}

#[test]
fn guided_mode_reads_clean_on_a_socket_nginx_may_not_open() {
    if !crate::support::lab::is_root() {
        eprintln!("skipped: only root can give the socket to root:root");
        return;
    }
    let (lab, _) = crate::scenarios::socket_nginx_may_not_open();
    let screen = guided_screen(&lab);
    assert_none(&dirt_lines(&screen), "guided mode", &screen);
}

#[test]
fn guided_mode_reads_clean_on_a_healthy_host() {
    let lab = crate::scenarios::healthy_lab();
    let screen = guided_screen(&lab);
    assert_none(&dirt_lines(&screen), "guided mode", &screen);
}

#[test]
fn dirt_is_found_where_it_is() {
    assert!(dirt("queue Some(0)/Some(4096)").len() == 1);
    assert!(!dirt("pool: (unknown)").is_empty());
    assert!(!dirt("did not run: TimedOut").is_empty());
    assert!(!dirt("a\\nb").is_empty());
    assert!(!dirt("\u{1b}[31mred").is_empty());
    assert!(!dirt("owner: None").is_empty());
    assert!(dirt("None of the pools listens there.").is_empty());
    assert!(!report_dirt("Checks:\n  -  (error): no port is known\n").is_empty());
    let twice = "nginx's error logs hold no upstream failure in the last 15m, and more";
    assert!(!report_dirt(&format!("{twice}\n\n{twice}\n")).is_empty());
}
