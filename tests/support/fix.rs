//! A report's fix, read from its JSON, and its edits applied as a person would apply them,
//! and as `rules/README.md` ("Edits in a fix") says they go: open the file the step names,
//! go to its lines (JSON `line` and `last_line`; else `FILE:LINE` in its text), and put the
//! snippet there. A snippet line sets one setting — `key = value` in a php-fpm pool,
//! `directive args;` in nginx — so it replaces the line of those that sets the same thing
//! (also one that has it commented out), and the others go right after them. Nothing else in
//! the file changes: a namesake elsewhere stays, so a step that names the wrong lines fails.
//! Commands and verify lines are run elsewhere (`lab::follow`); this module only reads and
//! edits.

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
    /// The first line the edit goes to (JSON `line`).
    pub line: Option<usize>,
    /// The last one, for a range (JSON `last_line`).
    pub last_line: Option<usize>,
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
                line: number(&s["line"]),
                last_line: number(&s["last_line"]),
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

fn number(v: &Value) -> Option<usize> {
    v.as_u64().and_then(|n| usize::try_from(n).ok())
}

impl Step {
    /// The lines the step names in its file: its `line` and `last_line`, else the
    /// `FILE:LINE` its text names.
    pub fn lines(&self) -> (usize, usize) {
        match self.line {
            Some(first) => (first, self.last_line.unwrap_or(first)),
            None => (self.text_line(), self.text_line()),
        }
    }

    fn text_line(&self) -> usize {
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
        let edited = set_lines(&text, self.lines(), snippet);
        fs::write(Path::new(file), edited).unwrap_or_else(|e| panic!("write {file}: {e}"));
    }
}

/// `text` with `snippet` put at the 1-based lines `first..=last` (see the module docs).
pub fn set_lines(text: &str, (first, last): (usize, usize), snippet: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(
        1 <= first && first <= last && last <= lines.len(),
        "lines {first}-{last} are not in the file ({} lines)",
        lines.len()
    );
    let mut insert_at = last; // right after the range
    let pad = indent(&lines[first - 1]).to_owned();
    for new in snippet.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let key = key_of(new);
        let hit = (first - 1..last).find(|&i| key_of(uncommented(&lines[i])) == key);
        match hit {
            Some(i) => lines[i] = format!("{}{new}", indent(&lines[i])),
            None => {
                lines.insert(insert_at, format!("{pad}{new}"));
                insert_at += 1;
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// A line without the comment mark that disables it (`;listen.mode = 0660`).
fn uncommented(line: &str) -> &str {
    line.trim().trim_start_matches([';', '#']).trim_start()
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

#[cfg(test)]
mod tests {
    use super::*;

    const POOL: &str = "[global]\npid = /x.pid\n\n[www]\nlisten = /x.sock\n;listen.mode = 0660\n\
                        pm = dynamic\npm.max_children = 1\npm.start_servers = 1\n\n[api]\n\
                        pm.max_children = 9\n";

    #[test]
    fn ini_settings_replace_their_namesakes_in_the_range_and_the_rest_follow_it() {
        let snippet = "pm.max_children = 4\npm.start_servers = 2\npm.max_spare_servers = 2";
        let out = set_lines(POOL, (8, 9), snippet);
        assert!(
            out.contains("pm.max_children = 4\npm.start_servers = 2\npm.max_spare_servers = 2\n"),
            "the known ones in place, the new one right after the range:\n{out}"
        );
        assert!(
            out.contains("[api]\npm.max_children = 9"),
            "another pool is untouched:\n{out}"
        );
    }

    #[test]
    fn a_setting_commented_out_in_the_range_is_replaced() {
        let out = set_lines(POOL, (6, 6), "listen.mode = 0666");
        assert!(
            out.contains("/x.sock\nlisten.mode = 0666\npm = dynamic"),
            "{out}"
        );
    }

    #[test]
    fn a_new_setting_goes_right_after_the_named_line() {
        let out = set_lines(POOL, (4, 4), "listen.owner = www-data");
        assert!(
            out.contains("[www]\nlisten.owner = www-data\nlisten = /x.sock"),
            "{out}"
        );
    }

    #[test]
    fn a_namesake_outside_the_range_stays_as_a_person_would_leave_it() {
        let conf = "server {\n    location / {\n        fastcgi_pass 127.0.0.1:9;\n        fastcgi_read_timeout 1s;\n    }\n}\n";
        let out = set_lines(conf, (3, 3), "fastcgi_read_timeout 300s;");
        assert!(
            out.contains("        fastcgi_pass 127.0.0.1:9;\n        fastcgi_read_timeout 300s;\n        fastcgi_read_timeout 1s;"),
            "{out}"
        );
        let moved = set_lines(conf, (3, 3), "fastcgi_pass unix:/s.sock;");
        assert!(
            moved.contains("        fastcgi_pass unix:/s.sock;\n"),
            "{moved}"
        );
    }

    #[test]
    fn the_lines_come_from_the_json_else_from_the_step_text() {
        let mut step = Step {
            text: "Set it at /etc/p.conf:12 (sized as ...)".into(),
            command: None,
            file: Some("/etc/p.conf".into()),
            snippet: Some("a = 1".into()),
            line: None,
            last_line: None,
        };
        assert_eq!(step.lines(), (12, 12));
        step.line = Some(116);
        step.last_line = Some(142);
        assert_eq!(step.lines(), (116, 142));
    }
}
