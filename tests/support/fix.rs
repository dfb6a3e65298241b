//! A report's fix, read from its JSON, and its edits applied as a person would apply them:
//! open the file the step names, go to the line its text names (`FILE:LINE`), and set each
//! line of the snippet there. A snippet line sets one setting — `key = value` in a php-fpm
//! pool, `directive args;` in nginx — so it replaces the setting of the same name in the
//! same php-fpm section or nginx block, and is added after the named line when that scope
//! has none. Nothing else in the file changes. Commands and verify lines are run elsewhere
//! (`lab::follow`); this module only reads and edits.

use super::doctor::DoctorRun;
use serde_json::Value;
use std::fs;
use std::path::Path;

/// One step of a fix, as the report prints it.
#[derive(Clone, Debug)]
pub struct Step {
    /// What to do, in words.
    pub text: String,
    /// The command to run, argv as printed.
    pub command: Option<Vec<String>>,
    /// The file to edit.
    pub file: Option<String>,
    /// What to put there.
    pub snippet: Option<String>,
}

/// A finding's fix: its steps in order and its verify lines.
#[derive(Clone, Debug)]
pub struct Fix {
    /// The steps, in the report's order (only those that apply to this host).
    pub steps: Vec<Step>,
    /// Shell lines that show the fault is gone.
    pub verify: Vec<String>,
}

impl Fix {
    /// The fix of finding `id`; panics (with the run) when there is none.
    pub fn of(run: &DoctorRun, id: &str) -> Fix {
        let fix = &run.finding(id)["fix"];
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let steps = fix["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("finding {id} has no fix steps\n{run}"))
            .iter()
            .map(|s| Step {
                text: text(&s["text"]).unwrap_or_default(),
                command: s["command"]
                    .as_array()
                    .map(|a| a.iter().filter_map(text).collect()),
                file: text(&s["file"]),
                snippet: text(&s["snippet"]),
            })
            .collect();
        let verify = fix["verify"]
            .as_array()
            .map(|a| a.iter().filter_map(text).collect())
            .unwrap_or_default();
        Fix { steps, verify }
    }

    /// The first step whose text contains `says`; panics with every step's text.
    pub fn step(&self, says: &str) -> &Step {
        self.steps
            .iter()
            .find(|s| s.text.contains(says))
            .unwrap_or_else(|| panic!("no step saying {says:?} in {:#?}", self.steps))
    }

    /// Every command of the fix, in order.
    pub fn commands(&self) -> Vec<&Vec<String>> {
        self.steps
            .iter()
            .filter_map(|s| s.command.as_ref())
            .collect()
    }
}

impl Step {
    /// The line the step's text names in its file (`FILE:LINE`).
    pub fn line(&self) -> usize {
        let file = self.file.as_deref().expect("an edit step names a file");
        let at = format!("{file}:");
        let named = self.text.match_indices(&at).find_map(|(i, _)| {
            let digits: String = self.text[i + at.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        });
        named.unwrap_or_else(|| panic!("step names no line of {file}: {:?}", self.text))
    }

    /// Applies the step's snippet to its file at the line it names.
    pub fn apply(&self) {
        let file = self.file.as_deref().expect("an edit step names a file");
        let snippet = self.snippet.as_deref().expect("an edit step has a snippet");
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("read {file}: {e}"));
        let edited = set_lines(&text, self.line(), snippet);
        fs::write(Path::new(file), edited).unwrap_or_else(|e| panic!("write {file}: {e}"));
    }
}

/// `text` with each line of `snippet` set at 1-based `line` (see the module docs).
pub fn set_lines(text: &str, line: usize, snippet: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(
        (1..=lines.len()).contains(&line),
        "line {line} is not in the file ({} lines)",
        lines.len()
    );
    let mut insert_at = line; // after the named line
    for new in snippet.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let key = key_of(new);
        let scope = scope(&lines, line - 1);
        let hit = scope.into_iter().find(|&i| key_of(lines[i].trim()) == key);
        match hit {
            Some(i) => lines[i] = format!("{}{new}", indent(&lines[i])),
            None => {
                let pad = indent(&lines[line - 1]);
                lines.insert(insert_at, format!("{pad}{new}"));
                insert_at += 1;
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// The setting a line sets: an nginx directive's name, or an ini key.
fn key_of(line: &str) -> String {
    if line.ends_with(';') || line.ends_with('{') {
        line.split_whitespace().next().unwrap_or("").to_owned()
    } else {
        line.split('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }
}

fn indent(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// Indexes of the lines in the same php-fpm section, or the same nginx block (at the same
/// depth), as line `at`.
fn scope(lines: &[String], at: usize) -> Vec<usize> {
    if lines.iter().any(|l| l.trim_start().starts_with('[')) {
        let start = (0..=at)
            .rev()
            .find(|&i| lines[i].trim_start().starts_with('['));
        let start = start.map_or(0, |s| s + 1);
        let end = (at + 1..lines.len())
            .find(|&i| lines[i].trim_start().starts_with('['))
            .unwrap_or(lines.len());
        return (start..end).collect();
    }
    let depth = depths(lines);
    let d = depth[at];
    let start = (0..=at)
        .rev()
        .take_while(|&i| depth[i] >= d)
        .last()
        .unwrap_or(at);
    let end = (at..lines.len())
        .take_while(|&i| depth[i] >= d)
        .last()
        .unwrap_or(at);
    (start..=end).filter(|&i| depth[i] == d).collect()
}

/// The brace depth at the start of each line (comments ignored): a block's opening line
/// is at the depth around it, its closing `}` at the block's own.
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
mod tests {
    use super::*;

    const POOL: &str = "[global]\npid = /x.pid\n\n[www]\nlisten = /x.sock\npm = dynamic\n\
                        pm.max_children = 1\npm.start_servers = 1\n\n[api]\npm.max_children = 9\n";

    #[test]
    fn ini_settings_replace_their_namesakes_in_the_section() {
        let out = set_lines(
            POOL,
            7,
            "pm.max_children = 4\npm.start_servers = 2\npm.max_spare_servers = 2",
        );
        assert!(
            out.contains("pm.max_children = 4\npm.max_spare_servers = 2\npm.start_servers = 2\n"),
            "the new one after the named line, the known one in its place:\n{out}"
        );
        assert!(
            out.contains("[api]\npm.max_children = 9"),
            "another pool is untouched:\n{out}"
        );
        assert_eq!(out.matches("pm.start_servers").count(), 1, "{out}");
    }

    #[test]
    fn a_new_ini_setting_goes_after_the_named_line() {
        let out = set_lines(POOL, 4, "listen.owner = www-data");
        assert!(
            out.contains("[www]\nlisten.owner = www-data\nlisten = /x.sock"),
            "{out}"
        );
    }

    #[test]
    fn nginx_directives_replace_only_in_their_own_block() {
        let conf = "http {\n    fastcgi_read_timeout 1s;\n    server {\n        location / {\n            fastcgi_pass 127.0.0.1:9;\n        }\n    }\n}\n";
        let out = set_lines(conf, 5, "fastcgi_read_timeout 300s;");
        assert!(
            out.contains("    fastcgi_read_timeout 1s;"),
            "the outer one stays:\n{out}"
        );
        assert!(
            out.contains("            fastcgi_pass 127.0.0.1:9;\n            fastcgi_read_timeout 300s;\n        }"),
            "{out}"
        );
        let again = set_lines(
            &out,
            5,
            "fastcgi_read_timeout 60s;\nfastcgi_pass unix:/s.sock;",
        );
        assert!(
            again.contains("fastcgi_pass unix:/s.sock;\n            fastcgi_read_timeout 60s;"),
            "{again}"
        );
        assert_eq!(again.matches("read_timeout").count(), 2, "{again}");
    }

    #[test]
    fn the_line_comes_from_the_step_text() {
        let step = Step {
            text: "Set it at /etc/p.conf:12 (sized as ...)".into(),
            command: None,
            file: Some("/etc/p.conf".into()),
            snippet: Some("a = 1".into()),
        };
        assert_eq!(step.line(), 12);
    }
}
