//! `nginx-doctor explain`: what an nginx error-log line means, offline.
//!
//! A person pastes a line (or several, or pipes a log excerpt in) and learns
//! what nginx was doing, what failed, what the client really got, and which
//! causes the line can have, most likely first, each with the checks that
//! tell it apart and the commands to run them. It reads nothing on the host
//! and needs no root: the meaning comes from the line ([`crate::logs`]) and
//! the rule pack's cause docs (`causes:` in `rules/80-causes.yaml`).
//!
//! The line is attacker-influenced (request, headers, backend output), so
//! every piece of it is escaped for the terminal and cut to a bounded length
//! before it is shown, in text and in JSON alike; input is read up to 1 MiB.
//!
//! * [`entries`] — finding nginx entries in pasted text, [`start`] where
//!   nginx's text starts in a line and [`paste`] what was done to the line
//!   on its way (a shipper's prefix, smart quotes, CRLF);
//! * [`reading`] — an entry read as far as it goes, with the [`gaps`] it
//!   leaves: a fragment, a line cut short ([`cut`]);
//! * [`meaning`] — phase, errno and the client's status in plain words;
//! * [`emerg`] and [`when`] — configuration and start-up errors, and what
//!   the lines around them say about when they were logged;
//! * [`behind`] — the failure behind a consequence;
//! * [`rank`] — the few line-specific changes to a signature's ranking;
//! * [`tokens`] — the line's address filled into the pack's commands;
//! * [`line`] — one entry explained; [`render`] — the text and JSON output.

mod behind;
mod cut;
mod emerg;
mod entries;
mod gaps;
mod line;
mod meaning;
mod paste;
mod rank;
mod reading;
mod render;
mod start;
mod tokens;
mod when;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::logs::Signature;
use crate::rules::CauseDoc;
use crate::rules::signatures::SignatureBook;
use crate::sanitize;

pub use emerg::Stage;
pub use when::Context;

/// Input beyond this many bytes is not read.
pub const MAX_INPUT: usize = 1 << 20;
/// At most this many nginx entries are explained; the rest are counted.
pub const MAX_ENTRIES: usize = 50;
/// Shown length of host text fields (request, host, ...), in characters.
const FIELD_CHARS: usize = 300;
/// Shown length of the message, which may quote backend output.
const MESSAGE_CHARS: usize = 2000;

/// Everything `explain` found in its input; the JSON output.
#[derive(Debug, Serialize)]
pub struct Explanation {
    pub schema: u32,
    pub lines: Vec<LineExplanation>,
    /// Non-blank input lines that belonged to no nginx error-log entry.
    pub skipped_lines: usize,
    /// nginx entries beyond [`MAX_ENTRIES`], counted but not explained.
    pub unexplained_entries: usize,
    /// Whether the input was longer than [`MAX_INPUT`] and cut there.
    pub input_truncated: bool,
}

/// One nginx entry, explained.
#[derive(Debug, Serialize)]
pub struct LineExplanation {
    /// The input line the entry starts on, from 1.
    pub input_line: usize,
    pub parsed: Fields,
    /// The failure's id (`conn-refused-tcp`), or null for other nginx lines.
    pub signature: Option<Signature>,
    /// The status the client got, when this line tells it.
    pub status: Option<u16>,
    /// What the client got, in a sentence.
    pub client_got: String,
    /// What happened, in a sentence.
    pub summary: String,
    /// What nginx was doing, in words; null without a ` while ...` part.
    pub phase: Option<&'static str>,
    /// The errno (or resolver code) in words, when it is a known one.
    pub errno_meaning: Option<&'static str>,
    /// Facts about this line that change how to read it.
    pub notes: Vec<String>,
    /// The causes it can mean, most likely first.
    pub candidates: Vec<Candidate>,
    /// How the pasted text was read: a shipper's prefix, what was changed,
    /// what the line does not say.
    pub paste: Paste,
    /// For a configuration or start-up error: what it is, where, and what
    /// follows; null for other lines.
    pub config_error: Option<ConfigError>,
    /// For a consequence (`upstream server temporarily disabled`): the
    /// input line of the failure behind it, whose causes it shows.
    pub consequence_of: Option<usize>,
}

/// How one entry's pasted text was read.
#[derive(Debug, Serialize)]
pub struct Paste {
    /// The text before nginx's own on its line (a log shipper's prefix),
    /// escaped and cut; null when there was none.
    pub prefix: Option<String>,
    /// What wrote that prefix, when known: `docker-compose`,
    /// `rfc3339-timestamp`, `kubectl-prefix`, `journald-iso`, `syslog`.
    pub source: Option<&'static str>,
    /// What the line does not say, and what that leaves unknown.
    pub missing: Vec<Note>,
    /// What was changed to read it (smart quotes, a terminal's wrapping).
    pub repaired: Vec<Note>,
}

/// A fact about the pasted text: an id, and the sentence that says it.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub id: &'static str,
    pub text: String,
}

/// A configuration or start-up error (`[emerg]`), and what follows from it.
#[derive(Debug, Serialize)]
pub struct ConfigError {
    /// Its kind: `unknown-directive`, `address-in-use`, ... or `other-emerg`.
    pub id: &'static str,
    /// When nginx logs such a message: `load` (reading the configuration),
    /// `start` (listening sockets, files) or `not-root`.
    pub stage: Stage,
    /// The `file:line` the line names, escaped; null when it names none.
    pub at: Option<String>,
    /// When it was logged, as the lines pasted with it say (`test`,
    /// `reload`, `start-failed`); null when none does.
    pub context: Option<Context>,
    /// The input line that says so.
    pub context_line: Option<usize>,
    /// What follows for nginx and its clients.
    pub effect: String,
    /// What to check next.
    pub next: String,
}

/// The line's fields, escaped for a terminal and cut to a bounded length.
#[derive(Debug, Serialize)]
pub struct Fields {
    /// RFC 3339 in UTC, read with this host's UTC offset.
    pub time: Option<String>,
    /// The time exactly as the log wrote it (the writer's local time).
    pub local_time: Option<String>,
    /// Null when the `[level]` was not pasted.
    pub level: Option<&'static str>,
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    pub connection: Option<u64>,
    pub message: String,
    pub errno: Option<i32>,
    pub errno_text: Option<String>,
    /// The ` while ...` literal.
    pub action: Option<&'static str>,
    pub client: Option<String>,
    pub server: Option<String>,
    pub request: Option<String>,
    pub subrequest: Option<String>,
    pub upstream: Option<String>,
    pub host: Option<String>,
    pub referrer: Option<String>,
    pub config_file: Option<String>,
    pub config_line: Option<u32>,
}

/// A candidate cause with its documentation from the rule pack.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub id: String,
    pub summary: String,
    pub checks: Vec<Check>,
}

/// A check that confirms or rules out a cause: what to look at, and the
/// command, with the line's address filled in where the pack marks it.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub say: String,
    pub run: Option<String>,
}

/// What `explain` reads from the rule pack: what each signature means, and
/// each cause's doc.
#[derive(Clone, Copy)]
pub struct Pack<'a> {
    pub signatures: &'a SignatureBook,
    pub causes: &'a BTreeMap<String, CauseDoc>,
}

impl<'a> Pack<'a> {
    pub fn of(set: &'a crate::rules::RuleSet) -> Pack<'a> {
        Pack {
            signatures: &set.signatures,
            causes: &set.causes,
        }
    }
}

/// Explains every nginx error-log entry in `input` with what a rule pack
/// says. `utc_offset_secs` turns the log's local times into instants.
pub fn explain(input: &str, pack: Pack, utc_offset_secs: i32) -> Explanation {
    let split = entries::split(input, reading::reads_as_nginx);
    let said = said_when(input);
    let mut explanation = Explanation {
        schema: 1,
        lines: Vec::new(),
        skipped_lines: split.skipped,
        unexplained_entries: 0,
        input_truncated: false,
    };
    for entry in &split.entries {
        let Some(read) = reading::read(entry, utc_offset_secs) else {
            explanation.skipped_lines += entry.lines();
            continue;
        };
        if explanation.lines.len() == MAX_ENTRIES {
            explanation.unexplained_entries += 1;
        } else {
            let explained = line::explain_line(entry, &read, pack, &said);
            explanation.lines.push(explained);
        }
    }
    behind::link(&mut explanation.lines);
    explanation
}

/// The input lines that say when a configuration error was logged.
fn said_when(input: &str) -> Vec<when::Said> {
    input
        .split('\n')
        .enumerate()
        .filter_map(|(index, raw)| when::said_by(index + 1, &paste::physical(raw).text))
        .collect()
}

/// Host text as it may be shown: escaped, then cut.
fn clean(text: &str, max_chars: usize) -> String {
    sanitize::truncate(&sanitize::for_terminal(text.as_bytes()), max_chars)
}

/// The text of an explanation, as `explain` prints it.
pub fn text(explanation: &Explanation) -> String {
    render::text(explanation)
}

/// The JSON of an explanation.
pub fn json(explanation: &Explanation) -> String {
    render::json(explanation)
}

/// What to say when `input` held no nginx error-log line.
pub fn not_nginx(input: &str) -> String {
    render::not_nginx(&said_when(input))
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use super::*;
    use crate::rules::CauseCheck;
    use crate::rules::signatures::default_book;

    static BOOK: LazyLock<SignatureBook> = LazyLock::new(default_book);

    fn pack(causes: &BTreeMap<String, CauseDoc>) -> Pack<'_> {
        Pack {
            signatures: &BOOK,
            causes,
        }
    }

    const REFUSED: &str = r#"2026/11/24 21:18:00 [error] 20734#20734: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /refused HTTP/1.1", upstream: "http://127.0.0.1:9001/refused", host: "127.0.0.1:8080""#;

    fn docs() -> BTreeMap<String, CauseDoc> {
        let doc = CauseDoc {
            summary: "It is down.".into(),
            checks: vec![CauseCheck {
                say: "Nothing listens.".into(),
                run: Some("ss -Htlnp 'sport = :PORT'".into()),
            }],
        };
        BTreeMap::from([("backend-down".to_owned(), doc)])
    }

    #[test]
    fn refused_line_is_explained_with_the_port_filled_in() {
        let e = explain(REFUSED, pack(&docs()), 0);
        let line = &e.lines[0];
        assert_eq!(line.signature, Some(Signature::ConnRefusedTcp));
        assert_eq!(line.status, Some(502));
        assert_eq!(line.candidates[0].id, "backend-down");
        let run = line.candidates[0].checks[0].run.as_deref();
        assert_eq!(run, Some("ss -Htlnp 'sport = :9001'"));
        assert_eq!(line.parsed.time.as_deref(), Some("2026-11-24T21:18:00Z"));
    }

    #[test]
    fn a_cause_is_described_only_by_the_pack() {
        let e = explain(REFUSED, pack(&docs()), 0);
        assert_eq!(e.lines[0].candidates[0].summary, "It is down.");
        let wrong = &e.lines[0].candidates[1];
        assert_eq!(wrong.id, "backend-wrong-address");
        assert!(wrong.summary.is_empty() && wrong.checks.is_empty());
    }

    #[test]
    fn hostile_fields_are_escaped_and_cut() {
        let line = REFUSED.replace(
            "GET /refused",
            &format!("GET /\u{1b}]0;pwned\u{7}{}", "A".repeat(5000)),
        );
        let e = explain(&line, pack(&docs()), 0);
        let request = e.lines[0].parsed.request.as_deref().unwrap_or_default();
        assert!(!request.contains('\u{1b}'));
        assert!(request.contains("\\x1b"));
        assert!(request.chars().count() < FIELD_CHARS + 40);
    }

    #[test]
    fn entries_beyond_the_limit_are_counted_not_explained() {
        let input = vec![REFUSED; MAX_ENTRIES + 3].join("\n");
        let e = explain(&input, pack(&docs()), 0);
        assert_eq!(e.lines.len(), MAX_ENTRIES);
        assert_eq!(e.unexplained_entries, 3);
    }

    #[test]
    fn input_without_nginx_lines_explains_nothing() {
        let e = explain("hello\nworld\n", pack(&docs()), 0);
        assert!(e.lines.is_empty());
        assert_eq!(e.skipped_lines, 2);
    }

    #[test]
    fn other_nginx_lines_are_explained_as_no_upstream_failure() {
        let e = explain(
            "2026/11/24 21:18:00 [notice] 1#1: signal process started",
            pack(&docs()),
            0,
        );
        assert_eq!(e.lines[0].signature, None);
        assert!(e.lines[0].candidates.is_empty());
        assert!(e.lines[0].summary.contains("no upstream failure"));
    }
}
