//! A fix step's edit, made as a person reading the step makes it (`rules/README.md`,
//! "Edits in a fix"): open the file at the line, or the range of lines, the step names
//! and put the snippet there. Each snippet line replaces the line of that range that
//! sets the same thing — the same nginx directive, the same php-fpm `key =`, also when
//! the range has it commented out (`;listen.mode = 0660`) — and the others go right after
//! the range, indented like its first line (one level deeper after a line that opens a
//! block). The step's words may say otherwise: "replace `TEXT`" replaces that text on the
//! line, "delete `TEXT`" removes it, "delete line N" removes the line, "before line N"
//! inserts above it. A file that does not exist yet, named without a line, is created.
//!
//! A report numbers the lines of the files as it read them: when an earlier step of the
//! same fix inserted lines above, a later step's line has moved with its setting, and
//! `follow` moves the citation with it (`Moved`).
//!
//! It refuses a citation that points elsewhere: a setting the snippet changes that is in
//! effect in the same php-fpm section or nginx block, outside the cited lines, means the
//! step sent the person to the wrong place (their new line would sit beside the old one,
//! and php-fpm keeps the last), and the test fails saying where it is.

use super::Step;
use crate::support::logs::read_lossy;
use regex::Regex;
use std::fs;
use std::path::Path;

/// nginx directives written many times in one block, told apart by their first argument.
const NAMED: &[&str] = &[
    "include",
    "set",
    "fastcgi_param",
    "uwsgi_param",
    "scgi_param",
    "proxy_set_header",
    "grpc_set_header",
    "add_header",
    "proxy_hide_header",
    "fastcgi_hide_header",
    "server",
    "listen",
    "error_page",
];

/// The line a step's text names in `file`: `FILE:N`, else `line N` / `lines N-M`.
pub(super) fn named_line(text: &str, file: Option<&str>) -> Option<usize> {
    if let Some(file) = file {
        let at = Regex::new(&format!(r"{}:(\d+)", regex::escape(file))).expect("regex");
        if let Some(c) = at.captures(text) {
            return c[1].parse().ok();
        }
    }
    let line = Regex::new(r"\blines? (\d+)").expect("regex");
    line.captures(text).and_then(|c| c[1].parse().ok())
}

/// Whether a step's words ask to delete something of its file.
pub(super) fn deletes(text: &str) -> bool {
    delete_text(text).is_some() || delete_line(text)
}

fn delete_text(text: &str) -> Option<String> {
    let re = Regex::new(r"delete `([^`]+)`").expect("regex");
    Some(re.captures(text)?[1].to_owned())
}

fn delete_line(text: &str) -> bool {
    Regex::new(r"delete (?:its |the )?line \d+")
        .expect("regex")
        .is_match(text)
}

fn replace_text(text: &str) -> Option<String> {
    let re = Regex::new(r"replace `([^`]+)`").expect("regex");
    Some(re.captures(text)?[1].to_owned())
}

/// What an edit did to its file's numbering: lines after `last` (as numbered before it)
/// moved by `delta`.
pub(super) struct Moved {
    pub file: String,
    pub last: usize,
    pub delta: isize,
}

/// Makes the edit `step` describes; returns `FILE:LINE` and how the file's later lines
/// moved. Panics, naming the step, when it cannot be made as written.
pub(super) fn apply(step: &Step) -> (String, Moved) {
    let text = &step.text;
    let file = step.file.as_deref().expect("an edit step names a file");
    let path = Path::new(file);
    let snippet = step.snippet.as_deref().unwrap_or_default();
    let Some(first) = step.line else {
        assert!(
            !path.exists(),
            "the step {text:?} edits {file} but names no line"
        );
        fs::write(path, format!("{snippet}\n")).expect("create the file");
        let moved = Moved {
            file: file.to_owned(),
            last: 0,
            delta: 0,
        };
        return (format!("{file}:1"), moved);
    };
    let last = step.last_line.unwrap_or(first);
    let mut lines: Vec<String> = read_lossy(path).lines().map(str::to_owned).collect();
    let before = lines.len();
    assert!(
        first >= 1 && last >= first && last <= lines.len(),
        "the step {text:?} names {file}:{first}-{last}, which has {} lines",
        lines.len()
    );
    let at = lines[first - 1].clone();
    let indent = indent(&at).to_owned();
    if let Some(old) = replace_text(text) {
        assert!(
            at.contains(&old),
            "the step {text:?} replaces {old:?} at {file}:{first}, which reads {at:?}"
        );
        let new = indented(snippet, &indent);
        lines[first - 1] = at.replacen(&old, new.trim_start(), 1);
    } else if let Some(old) = delete_text(text) {
        assert!(
            at.contains(&old),
            "the step {text:?} deletes {old:?} at {file}:{first}, which reads {at:?}"
        );
        let left = at.replacen(&old, "", 1);
        if left.trim().is_empty() {
            lines.remove(first - 1);
        } else {
            lines[first - 1] = left;
        }
    } else if delete_line(text) {
        lines.remove(first - 1);
    } else if text.contains("before line") {
        lines.insert(first - 1, indented(snippet, &indent));
    } else {
        set(&mut lines, first, last, snippet, file);
    }
    let delta = isize::try_from(lines.len()).unwrap_or(0) - isize::try_from(before).unwrap_or(0);
    fs::write(path, lines.join("\n") + "\n").expect("write the edited file");
    let moved = Moved {
        file: file.to_owned(),
        last,
        delta,
    };
    (format!("{file}:{first}"), moved)
}

/// `text` with `snippet` set at 1-based lines `first..=last` (see the module docs);
/// `file` names the file in a refusal.
pub fn set_lines(text: &str, first: usize, last: usize, snippet: &str, file: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    set(&mut lines, first, last, snippet, file);
    lines.join("\n") + "\n"
}

fn set(lines: &mut Vec<String>, first: usize, last: usize, snippet: &str, file: &str) {
    let ini = is_ini(lines);
    let opens = lines[last - 1].trim_end().ends_with('{');
    let scope = scope(lines, if opens { last } else { first - 1 }, ini);
    let base = indent(&lines[first - 1]).to_owned();
    let pad = if opens { format!("{base}    ") } else { base };
    let mut used = Vec::new();
    let mut after = Vec::new();
    for new in snippet.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let k = key(new, ini);
        let hit = (first - 1..last).find(|i| !used.contains(i) && key(&lines[*i], ini) == k);
        match hit {
            Some(i) => {
                lines[i] = format!("{}{new}", indent(&lines[i]));
                used.push(i);
            }
            None => {
                let elsewhere = scope
                    .iter()
                    .find(|&&i| !(first - 1..last).contains(&i) && active_key(&lines[i], ini) == k);
                if let Some(&i) = elsewhere {
                    panic!(
                        "the step cites {file}:{first}-{last}, but `{}` is set at line {}: {}",
                        k.unwrap_or_default(),
                        i + 1,
                        lines[i].trim()
                    );
                }
                after.push(format!("{pad}{new}"));
            }
        }
    }
    lines.splice(last..last, after);
}

/// A php-fpm file: it has `[section]` lines.
fn is_ini(lines: &[String]) -> bool {
    lines.iter().any(|l| {
        let t = l.trim();
        t.starts_with('[') && t.ends_with(']')
    })
}

/// What a line sets, also behind a comment mark: an ini key, or an nginx directive (with
/// its first argument for those written many times); `None` for a blank line.
fn key(line: &str, ini: bool) -> Option<String> {
    let code = line.trim().trim_start_matches([';', '#']).trim_start();
    if ini {
        let k = code.split('=').next()?.trim();
        return (!k.is_empty() && code.contains('=')).then(|| k.to_ascii_lowercase());
    }
    let mut words = code.trim_end_matches([';', '{']).split_whitespace();
    let name = words.next()?;
    match NAMED.contains(&name) {
        true => Some(format!("{name} {}", words.next().unwrap_or_default())),
        false => Some(name.to_owned()),
    }
}

/// `key`, for a line that is not commented out.
fn active_key(line: &str, ini: bool) -> Option<String> {
    let commented = line.trim_start().starts_with([';', '#']);
    if commented { None } else { key(line, ini) }
}

fn indent(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// `snippet`'s lines, each indented by `indent`.
fn indented(snippet: &str, indent: &str) -> String {
    snippet
        .lines()
        .map(|l| format!("{indent}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Indexes of the lines in the same php-fpm section, or directly in the same nginx
/// block, as the 0-based line `at`.
fn scope(lines: &[String], at: usize, ini: bool) -> Vec<usize> {
    let at = at.min(lines.len().saturating_sub(1));
    if ini {
        let section = |i: &usize| lines[*i].trim_start().starts_with('[');
        let start = (0..=at).rev().find(section).map_or(0, |s| s + 1);
        let end = (at + 1..lines.len()).find(section).unwrap_or(lines.len());
        return (start..end).collect();
    }
    let depth = depths(lines);
    let d = depth[at];
    let start = (0..=at).rev().take_while(|&i| depth[i] >= d).last();
    let end = (at..lines.len()).take_while(|&i| depth[i] >= d).last();
    let (Some(start), Some(end)) = (start, end) else {
        return vec![at];
    };
    (start..=end).filter(|&i| depth[i] == d).collect()
}

/// The brace depth at the start of each line (comments ignored).
fn depths(lines: &[String]) -> Vec<usize> {
    let mut depth = 0usize;
    lines
        .iter()
        .map(|l| {
            let at_start = depth;
            let code = l.split('#').next().unwrap_or("");
            for c in code.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth = depth.saturating_sub(1),
                    _ => {}
                }
            }
            at_start
        })
        .collect()
}

#[cfg(test)]
mod tests;
