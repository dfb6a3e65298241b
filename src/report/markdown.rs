//! The report for a ticket or a wiki: Markdown with fenced commands.
//!
//! Host text (log lines, command output) goes inside code spans or fences,
//! after sanitising, so it can neither inject Markdown nor escapes. Titles
//! and explanations quote facts too (an upstream path, a group name): their
//! text outside code spans is escaped ([`prose`]), so a value cannot become a
//! link, an image, HTML or emphasis.

use std::fmt::Write as _;

use super::Report;
use crate::shell::words as shell_words;
use crate::walk::Finding;

pub fn render(r: &Report) -> String {
    let mut out = format!(
        "# nginx-doctor report\n\n{} {}, rules {} ({}), host {}\n",
        r.tool.name,
        r.tool.version,
        code(&r.rules.name),
        prose(&r.rules.source),
        code(&r.host.hostname)
    );
    let groups = r.groups();
    let headed = groups.iter().any(|(about, _)| about.is_some());
    for (about, findings) in groups {
        match about {
            Some(u) => {
                let _ = writeln!(out, "\n## Upstream {}", code(u));
            }
            None if headed => {
                let _ = writeln!(out, "\n## nginx on this host");
            }
            None => {}
        }
        for f in findings {
            finding(&mut out, f);
        }
    }
    if !r.resolved.is_empty() {
        let _ = writeln!(out, "\n## Recovered");
        for f in &r.resolved {
            finding(&mut out, f);
        }
    }
    fixes(&mut out, r);
    // The last check is the host's state; the JSON report keeps them all.
    if let Some(check) = r.rechecks.last() {
        let _ = writeln!(out, "\n## {}\n", prose(&check.heading()));
        for item in check.items() {
            let _ = writeln!(out, "- {}", prose(&item));
        }
        let _ = writeln!(out, "\n{}", prose(&check.verdict()));
    }
    if let Some(why) = &r.stopped {
        let _ = writeln!(out, "\n## Could not finish\n\n{}", prose(why));
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

/// A code span that survives backticks and pipes in host text: CommonMark
/// ends a span only at a backtick run as long as the one that opened it, so
/// the delimiter is one backtick longer than the longest run inside.
fn code(s: &str) -> String {
    let s = s.replace('|', "\\|");
    let ticks = "`".repeat(longest_backtick_run(&s) + 1);
    format!("{ticks} {s} {ticks}")
}

/// A fenced block whose body cannot close it: a backtick fence closes only
/// on a line of at least as many backticks, and is longer than any run inside.
fn fence(out: &mut String, lang: &str, body: &str) {
    out.push_str(&fenced(lang, body));
}

/// `body` as a fenced block whose fence outlasts any backtick run inside.
fn fenced(lang: &str, body: &str) -> String {
    let fence = "`".repeat((longest_backtick_run(body) + 1).max(3));
    format!("{fence}{lang}\n{}\n{fence}\n", body.trim_end())
}

/// Every line of `block` behind `indent`.
fn indented(indent: &str, block: &str) -> String {
    block.lines().map(|l| format!("{indent}{l}\n")).collect()
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Rule prose with facts in it, for Markdown: code spans (the rule's own
/// `` `nginx -t` ``, or one a value opens) are kept, as nothing in them is
/// markup; elsewhere the characters that make links, images, HTML, emphasis
/// or escapes are backslash-escaped, and a backtick run that opens no span
/// is escaped too.
fn prose(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('`') {
        out.push_str(&escape_markup(&rest[..open]));
        let ticks = rest[open..].len() - rest[open..].trim_start_matches('`').len();
        let after = &rest[open + ticks..];
        match closing_run(after, ticks) {
            Some(close) => {
                out.push_str(&rest[open..open + ticks + close + ticks]);
                rest = &after[close + ticks..];
            }
            None => {
                out.push_str(&"\\`".repeat(ticks));
                rest = after;
            }
        }
    }
    out.push_str(&escape_markup(rest));
    out
}

/// Where in `s` a run of exactly `n` backticks starts.
fn closing_run(s: &str, n: usize) -> Option<usize> {
    let mut at = 0;
    while let Some(i) = s[at..].find('`') {
        let start = at + i;
        let len = s[start..].len() - s[start..].trim_start_matches('`').len();
        if len == n {
            return Some(start);
        }
        at = start + len;
    }
    None
}

fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '<' | '>' | '[' | ']' | '*' | '_' | '&') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The fix commands the person accepted: what changed on the host.
fn fixes(out: &mut String, r: &Report) {
    if r.fixes.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## What was run");
    for fix in &r.fixes {
        let _ = writeln!(out);
        fence(out, "sh", &fix.shown_as);
        let _ = writeln!(
            out,
            "\n{}: {}",
            prose(&super::fix_context(fix)),
            prose(&fix.outcome)
        );
        if !fix.excerpt.is_empty() {
            let _ = writeln!(out);
            fence(out, "text", &fix.excerpt);
        }
    }
}

fn finding(out: &mut String, f: &Finding) {
    let primary = if f.primary { ", primary" } else { "" };
    let role = super::role_note(f.role)
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\n### `{}`: {}\n\nConfidence: {:?}{primary}{role}\n",
        f.id,
        prose(&f.title),
        f.confidence
    );
    if let Some(note) = super::unchecked_note(f) {
        let _ = writeln!(out, "{}\n", prose(&note));
    }
    if !f.explanation.is_empty() {
        let _ = writeln!(out, "{}\n", prose(f.explanation.trim()));
    }
    if !f.evidence.is_empty() {
        let _ = writeln!(out, "#### Evidence\n");
        fence(out, "text", &f.evidence.join("\n"));
    }
    if !f.fix.steps.is_empty() {
        let _ = writeln!(out, "\n#### Fix\n");
        if !f.fix.summary.is_empty() {
            let _ = writeln!(out, "{}\n", prose(&f.fix.summary));
        }
        for (i, s) in f.fix.steps.iter().enumerate() {
            let number = format!("{}. ", i + 1);
            // A step's blocks are indented to its text, so Markdown keeps
            // them inside the list item instead of ending the list.
            let indent = " ".repeat(number.len());
            let _ = writeln!(out, "{number}{}", prose(&s.text));
            if let Some(argv) = &s.command {
                out.push_str(&indented(&indent, &fenced("sh", &shell_words(argv))));
                if let Some(note) = s.exit.as_deref().and_then(super::exit_note) {
                    let _ = writeln!(out, "{indent}{note}\n");
                }
            }
            if let Some(place) = s.place() {
                let file = s.file.as_deref().unwrap_or_default();
                let place = place.replacen(&format!("in {file}"), &format!("In {}", code(file)), 1);
                let _ = writeln!(out, "{indent}{place}\n");
            }
            if let Some(snippet) = &s.snippet {
                let block = fenced(snippet_language(snippet), snippet);
                out.push_str(&indented(&indent, &block));
            }
        }
    }
    if !f.fix.verify.is_empty() {
        let _ = writeln!(out, "\n#### Verify\n");
        fence(out, "sh", &f.fix.verify.join("\n"));
        let notes = f.fix.verify.iter().zip(&f.fix.verify_exit);
        for (line, exit) in notes {
            if let Some(note) = super::exit_note(exit) {
                let _ = writeln!(out, "{}: {note}\n", code(line));
            }
        }
    }
}

/// The fence language of a configuration snippet: php-fpm's ini settings
/// (`key = value`) or nginx directives (`name args;`).
fn snippet_language(snippet: &str) -> &'static str {
    let lines = || snippet.lines().map(str::trim).filter(|l| !l.is_empty());
    let ini = lines().all(|l| l.contains(" = ") && !l.ends_with(';'));
    if ini { "ini" } else { "nginx" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_php_fpm_snippet_is_fenced_as_ini_and_an_nginx_one_as_nginx() {
        assert_eq!(
            snippet_language("pm.max_children = 12\npm = dynamic"),
            "ini"
        );
        assert_eq!(snippet_language("proxy_read_timeout 300s;"), "nginx");
        assert_eq!(
            snippet_language("upstream b { server 127.0.0.1:9000; keepalive 32; }"),
            "nginx"
        );
    }

    #[test]
    fn a_snippet_without_a_file_is_still_shown() {
        use crate::rules::{Confidence, Role};
        use crate::walk::{FixText, StepText};
        let f = Finding {
            id: "upstream-keepalive-race".into(),
            title: "t".into(),
            confidence: Confidence::Low,
            primary: true,
            upstream: None,
            about: None,
            role: Role::Cause,
            explanation: String::new(),
            evidence: Vec::new(),
            fix: FixText {
                summary: "s".into(),
                steps: vec![StepText {
                    text: "In upstream backend:".into(),
                    command: None,
                    exit: None,
                    file: None,
                    line: None,
                    last_line: None,
                    snippet: Some("keepalive_timeout 4s;".into()),
                }],
                verify: Vec::new(),
                verify_exit: Vec::new(),
            },
            unchecked: Vec::new(),
            node: "n".into(),
        };
        let mut out = String::new();
        finding(&mut out, &f);
        assert!(
            out.contains("1. In upstream backend:\n   ```nginx\n   keepalive_timeout 4s;\n   ```"),
            "{out}"
        );
    }

    #[test]
    fn code_span_outlasts_every_backtick_run_inside() {
        assert_eq!(code("a``b`c"), "``` a``b`c ```");
        assert_eq!(code("plain"), "` plain `");
    }

    #[test]
    fn prose_keeps_code_spans_and_escapes_markup_around_them() {
        assert_eq!(
            prose("`nginx -t` rejects <img src=x> [a](http://e) *b*"),
            "`nginx -t` rejects \\<img src=x\\> \\[a\\](http://e) \\*b\\*"
        );
    }

    #[test]
    fn prose_escapes_a_backtick_run_that_closes_nothing() {
        assert_eq!(prose("a``<b>"), "a\\`\\`\\<b\\>");
    }

    #[test]
    fn code_span_escapes_table_pipes() {
        assert_eq!(code("a|b"), "` a\\|b `");
    }

    #[test]
    fn fence_outlasts_backtick_and_tilde_lines_inside() {
        let mut out = String::new();
        fence(&mut out, "text", "```\n~~~~\n`````");
        assert_eq!(out, "``````text\n```\n~~~~\n`````\n``````\n");
    }
}
