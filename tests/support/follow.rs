//! Following a report's fix the way the junior admin it is written for would: every step
//! in order, each command run exactly as printed (its argv, bounded), each edit made where
//! the step says (the file and the line it names, and the text it says to replace), a
//! reload waited for until the new workers answer; then the verify lines, pasted into a
//! shell. A fix that only works when read generously fails here.
//!
//! How a step says where its snippet goes, as a person reads it: `line N` (or `FILE:N`)
//! names the line; "replace `TEXT`" replaces that text on it; "delete `TEXT`" removes it
//! from it (and the line, when nothing else is left); "before line N" inserts above it,
//! anything else below it (one level deeper after a line that opens a block); "delete
//! line N" deletes it; a file that does not exist yet is created with the snippet.

use super::doctor::{self, DoctorRun};
use super::lab::Lab;
use super::logs::read_lossy;
use regex::Regex;
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::time::Duration;

/// Bound on one command of a fix (an `nft`, a reload, `nginx -t`).
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// What following a fix did.
#[derive(Debug, Default)]
pub struct Followed {
    /// The commands run, as printed.
    pub ran: Vec<Vec<String>>,
    /// The edits made, `FILE:LINE`.
    pub edited: Vec<String>,
    /// Steps that are advice only (no command, no edit): their texts.
    pub advice: Vec<String>,
}

/// The steps of finding `id`'s fix.
pub fn steps(run: &DoctorRun, id: &str) -> Vec<Value> {
    run.finding(id)["fix"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Follows finding `id`'s fix on `lab`, step by step; panics, with the step and what
/// happened, at the first one that cannot be done as written.
pub fn follow(lab: &Lab, run: &DoctorRun, id: &str) -> Followed {
    let mut done = Followed::default();
    for step in steps(run, id) {
        let text = step["text"].as_str().unwrap_or_default().to_owned();
        if let Some(argv) = step["command"].as_array() {
            let argv: Vec<String> = argv
                .iter()
                .map(|a| a.as_str().unwrap_or_default().to_owned())
                .collect();
            run_command(lab, &argv, &text);
            done.ran.push(argv);
        }
        let file = step["file"].as_str();
        let snippet = step["snippet"].as_str();
        match (file, snippet) {
            (Some(file), snippet) if edits(&text, snippet) => {
                done.edited
                    .push(edit(Path::new(file), &step, &text, snippet));
            }
            _ if step["command"].is_null() => done.advice.push(text),
            _ => {}
        }
    }
    done
}

/// Runs finding `id`'s verify lines in a shell, as pasted; each with what it printed.
pub fn verify(lab: &Lab, run: &DoctorRun, id: &str) -> Vec<(String, DoctorRun)> {
    let lines = run.finding(id)["fix"]["verify"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    lines
        .iter()
        .filter_map(Value::as_str)
        .map(|line| {
            let args = vec!["-c".to_owned(), line.to_owned()];
            let out = doctor::run_bounded("/bin/sh", &args, lab.dir(), STEP_TIMEOUT);
            (line.to_owned(), out)
        })
        .collect()
}

/// Runs one printed command; a reload is waited for until the new workers answer.
fn run_command(lab: &Lab, argv: &[String], text: &str) {
    let (program, args) = argv.split_first().expect("a command has a program");
    let reload = argv.windows(2).any(|w| w[0] == "-s" && w[1] == "reload");
    let before = reload.then(|| lab.nginx_workers());
    let out = doctor::run_bounded(program, args, lab.dir(), STEP_TIMEOUT);
    assert_eq!(
        out.status, 0,
        "the fix step {text:?} ran {argv:?}, which failed:\n{out}"
    );
    if let Some(before) = before {
        lab.await_new_workers(&before);
    }
}

/// Whether a step with `file` asks for an edit: a snippet to put there, or a line to delete.
fn edits(text: &str, snippet: Option<&str>) -> bool {
    snippet.is_some() || delete_line(text).is_some() || delete_text(text).is_some()
}

fn delete_text(text: &str) -> Option<String> {
    let re = Regex::new(r"delete `([^`]+)`").expect("regex");
    Some(re.captures(text)?[1].to_owned())
}

fn delete_line(text: &str) -> Option<usize> {
    let re = Regex::new(r"delete (?:its |the )?line (\d+)").expect("regex");
    re.captures(text)?[1].parse().ok()
}

/// The line a step names: its `line`, else `line N` or `FILE:N` in its text.
fn named_line(step: &Value, text: &str, file: &Path) -> Option<usize> {
    if let Some(n) = step["line"].as_u64() {
        return usize::try_from(n).ok();
    }
    let at = Regex::new(&format!(
        r"{}:(\d+)",
        regex::escape(&file.display().to_string())
    ))
    .expect("regex");
    let line = Regex::new(r"\bline (\d+)").expect("regex");
    at.captures(text)
        .or_else(|| line.captures(text))
        .and_then(|c| c[1].parse().ok())
}

/// Makes the edit a step describes; returns `FILE:LINE`.
fn edit(file: &Path, step: &Value, text: &str, snippet: Option<&str>) -> String {
    let Some(n) = named_line(step, text, file) else {
        assert!(
            !file.exists(),
            "the step {text:?} edits {} but names no line",
            file.display()
        );
        fs::write(file, format!("{}\n", snippet.unwrap_or_default())).expect("create the file");
        return format!("{}:1", file.display());
    };
    let content = read_lossy(file);
    let mut lines: Vec<String> = content.lines().map(str::to_owned).collect();
    assert!(
        (1..=lines.len()).contains(&n),
        "the step {text:?} names line {n} of {}, which has {} lines",
        file.display(),
        lines.len()
    );
    let at = &lines[n - 1];
    let indent: String = at.chars().take_while(|c| c.is_whitespace()).collect();
    let replace = Regex::new(r"replace `([^`]+)`").expect("regex");
    if let Some(c) = replace.captures(text) {
        let old = &c[1];
        assert!(
            at.contains(old),
            "the step {text:?} replaces {old:?} at {}:{n}, which reads {at:?}",
            file.display()
        );
        let new = indented(snippet.unwrap_or_default(), &indent);
        lines[n - 1] = at.replacen(old, new.trim_start(), 1);
    } else if let Some(old) = delete_text(text) {
        assert!(
            at.contains(&old),
            "the step {text:?} deletes {old:?} at {}:{n}, which reads {at:?}",
            file.display()
        );
        let left = at.replacen(&old, "", 1);
        if left.trim().is_empty() {
            lines.remove(n - 1);
        } else {
            lines[n - 1] = left;
        }
    } else if delete_line(text).is_some() {
        lines.remove(n - 1);
    } else {
        let deeper = if at.trim_end().ends_with('{') {
            "    "
        } else {
            ""
        };
        let new = indented(snippet.unwrap_or_default(), &format!("{indent}{deeper}"));
        let to = if text.contains("before line") {
            n - 1
        } else {
            n
        };
        lines.insert(to, new);
    }
    fs::write(file, lines.join("\n") + "\n").expect("write the edited file");
    format!("{}:{n}", file.display())
}

/// `snippet`'s lines, each indented by `indent`.
fn indented(snippet: &str, indent: &str) -> String {
    snippet
        .lines()
        .map(|l| format!("{indent}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The error-log lines written after `mark` (a byte length taken earlier) that name
/// `upstream`: a failure the fix should have ended.
pub fn new_failures(lab: &Lab, mark: usize, upstream: &str) -> Vec<String> {
    let log = lab.error_log();
    let new = log.get(mark..).unwrap_or_default();
    new.lines()
        .filter(|l| l.contains(upstream) && (l.contains("[error]") || l.contains("[crit]")))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_replace_keeps_the_line_and_its_indentation() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("n.conf");
        fs::write(
            &f,
            "server {\n    location / {\n        proxy_pass http://a;\n    }\n}\n",
        )
        .unwrap();
        let step = json!({});
        let text = format!(
            "In {}, line 3, replace `proxy_pass http://a;` with:",
            f.display()
        );
        edit(&f, &step, &text, Some("set $b x;\nproxy_pass http://$b;"));
        assert_eq!(
            read_lossy(&f),
            "server {\n    location / {\n        set $b x;\n        proxy_pass http://$b;\n    }\n}\n"
        );
    }

    #[test]
    fn an_insert_after_a_block_line_goes_one_level_deeper() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("n.conf");
        fs::write(&f, "upstream u {\n    server a;\n}\n").unwrap();
        let text = format!("In upstream u ({}:1), after line 1, add:", f.display());
        edit(&f, &json!({}), &text, Some("keepalive_timeout 1s;"));
        assert_eq!(
            read_lossy(&f),
            "upstream u {\n    keepalive_timeout 1s;\n    server a;\n}\n"
        );
    }
}
