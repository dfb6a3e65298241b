//! `explain`'s output: aligned text for a person, or JSON for a program.
//!
//! Host text arrives here already escaped and cut ([`super::Fields`]); only
//! the rule pack's and this program's own sentences are word-wrapped.

use std::fmt::Write as _;

use colored::Colorize;

use super::when::{self, Said};
use super::{Candidate, Explanation, LineExplanation, MAX_ENTRIES, Paste, paste};
use crate::logs::UpstreamRef;

/// What is said when the input holds no nginx error-log line.
pub const NOT_NGINX: &str = "no nginx error-log line in the input. One looks like \
`2026/11/24 21:18:00 [error] 812#812: *1 connect() failed (111: Connection refused) while connecting to upstream, ...`; \
a log shipper's prefix before it is fine, and so is the message alone \
(`connect() failed (111: Connection refused) while connecting to upstream`). \
An access-log line (`\"GET / HTTP/1.1\" 502 157`) only says that a 502 happened: \
look in the error log (usually /var/log/nginx/error.log) at the same time.";

/// [`NOT_NGINX`], and what the input did hold that says where to look.
pub fn not_nginx(said: &[Said]) -> String {
    match said.first() {
        Some(s) => format!("{NOT_NGINX} {}", when::hint(s.context)),
        None => NOT_NGINX.to_owned(),
    }
}

/// Text wraps at this column.
const WIDTH: usize = 78;

/// The explanation as pretty-printed JSON.
pub fn json(explanation: &Explanation) -> String {
    serde_json::to_string_pretty(explanation).unwrap_or_default() + "\n"
}

/// The explanation as text.
pub fn text(explanation: &Explanation) -> String {
    let mut out = String::new();
    for (index, line) in explanation.lines.iter().enumerate() {
        let earlier = explanation.lines[..index]
            .iter()
            .find(|e| same_causes(e, line));
        line_text(&mut out, line, earlier.map(|e| e.input_line));
    }
    let any_causes = explanation.lines.iter().any(|l| !l.candidates.is_empty());
    if any_causes {
        out.push_str("Run `sudo nginx-doctor --auto` to have these checks run for you.\n");
    }
    trailer(&mut out, explanation);
    out
}

/// Whether two lines have the same causes, so the second can refer back.
fn same_causes(a: &LineExplanation, b: &LineExplanation) -> bool {
    !b.candidates.is_empty()
        && a.signature == b.signature
        && a.candidates
            .iter()
            .map(|c| &c.id)
            .eq(b.candidates.iter().map(|c| &c.id))
}

fn line_text(out: &mut String, line: &LineExplanation, causes_as_for: Option<usize>) {
    let _ = writeln!(
        out,
        "{}",
        format!("Line {}: {}", line.input_line, heading(line)).bold()
    );
    wrap(out, &line.summary, 2);
    out.push('\n');
    field_rows(out, line);
    out.push('\n');
    wrap(out, &format!("The client got: {}", line.client_got), 2);
    if let Some(config) = &line.config_error {
        wrap(out, &format!("Effect: {}", config.effect), 2);
        wrap(out, &format!("Next: {}", config.next), 2);
    }
    for note in &line.notes {
        wrap(out, &format!("Note: {note}"), 2);
    }
    paste_text(out, &line.paste);
    out.push('\n');
    if line.candidates.is_empty() {
        return;
    }
    if let Some(failure) = line.consequence_of {
        let _ = writeln!(
            out,
            "  Possible causes: those of line {failure} above, the failure behind it.\n"
        );
        return;
    }
    if let Some(first) = causes_as_for {
        let _ = writeln!(out, "  Possible causes: as for line {first} above.\n");
        return;
    }
    let _ = writeln!(out, "  {}", "Possible causes, most likely first:".bold());
    for (rank, candidate) in line.candidates.iter().enumerate() {
        candidate_text(out, rank + 1, candidate);
    }
    out.push('\n');
}

/// What the line is: its failure, its configuration error, or neither.
fn heading(line: &LineExplanation) -> String {
    match (&line.config_error, line.signature) {
        (Some(config), _) => format!("{} (nginx configuration or start-up)", config.id),
        (None, Some(sig)) => sig.id().to_owned(),
        (None, None) if !line.candidates.is_empty() => "phase unknown".to_owned(),
        (None, None) => "not an upstream failure".to_owned(),
    }
}

/// What the line did not say, and what was changed to read it.
fn paste_text(out: &mut String, paste: &Paste) {
    for (label, notes) in [
        ("Not in the input", &paste.missing),
        ("Read as", &paste.repaired),
    ] {
        for note in notes {
            wrap_hanging(out, &format!("{label}: {}", note.text), 2, 4);
        }
    }
}

/// The parsed fields as aligned `Label  value` rows; absent fields are left out.
fn field_rows(out: &mut String, line: &LineExplanation) {
    let f = &line.parsed;
    let mut rows: Vec<(&str, String)> = Vec::new();
    let when = match (&f.local_time, &f.time) {
        (Some(local), _) => Some(format!("{local} (local time where it was logged)")),
        (None, _) => None,
    };
    if let Some(prefix) = &line.paste.prefix {
        let source = line.paste.source.and_then(paste::words_of);
        let from = source.map_or_else(|| prefix.clone(), |s| format!("{s}: {prefix}"));
        rows.push(("Read from", from));
    }
    rows.extend(when.map(|w| ("When", w)));
    rows.extend(f.level.map(|l| ("Level", l.to_owned())));
    rows.push(("Message", f.message.clone()));
    if let (Some(n), Some(text)) = (f.errno, &f.errno_text) {
        let meaning = line
            .errno_meaning
            .map_or(String::new(), |m| format!(": {m}"));
        rows.push(("Code", format!("{n} {text}{meaning}")));
    }
    if let (Some(action), Some(phase)) = (f.action, line.phase) {
        rows.push(("Phase", format!("{phase} (while {action})")));
    }
    let named = [
        ("Client", &f.client),
        ("Server", &f.server),
        ("Request", &f.request),
        ("Subrequest", &f.subrequest),
    ];
    for (label, value) in named {
        if let Some(v) = value {
            let shown = if v.is_empty() {
                "(none)".to_owned()
            } else {
                v.clone()
            };
            rows.push((label, shown));
        }
    }
    if let Some(upstream) = &f.upstream {
        rows.push(("Upstream", upstream_words(upstream)));
    }
    for (label, value) in [("Host", &f.host), ("Referrer", &f.referrer)] {
        rows.extend(value.clone().map(|v| (label, v)));
    }
    if let (Some(file), Some(n)) = (&f.config_file, f.config_line) {
        rows.push(("Config", format!("{file}:{n}")));
    }
    for (label, value) in rows {
        let _ = writeln!(out, "  {label:<10} {value}");
    }
}

/// The upstream field, with the pass directive and peer it names.
fn upstream_words(shown: &str) -> String {
    let Some(parsed) = UpstreamRef::parse(shown) else {
        return shown.to_owned();
    };
    let directive = match parsed.scheme.as_str() {
        "http" | "https" => "proxy_pass",
        "fastcgi" => "fastcgi_pass",
        "uwsgi" | "suwsgi" => "uwsgi_pass",
        "scgi" => "scgi_pass",
        "grpc" | "grpcs" => "grpc_pass",
        _ => return shown.to_owned(),
    };
    let peer = match &parsed.address {
        crate::logs::UpstreamAddr::Tcp { .. } => format!("TCP {}", parsed.address),
        crate::logs::UpstreamAddr::Unix(path) => format!("unix socket {path}"),
        crate::logs::UpstreamAddr::Group(name) => format!("upstream group {name}"),
    };
    format!("{shown} ({directive} to {peer})")
}

fn candidate_text(out: &mut String, rank: usize, candidate: &Candidate) {
    let _ = writeln!(out, "\n  {rank}. {}", candidate.id.bold());
    wrap(out, &candidate.summary, 5);
    if candidate.checks.is_empty() {
        return;
    }
    let _ = writeln!(out, "     Checks:");
    for check in &candidate.checks {
        wrap_hanging(out, &format!("- {}", check.say), 7, 9);
        if let Some(run) = &check.run {
            let _ = writeln!(out, "         $ {run}");
        }
    }
}

/// What was left out, and why.
fn trailer(out: &mut String, explanation: &Explanation) {
    if explanation.skipped_lines > 0 {
        let n = explanation.skipped_lines;
        let s = if n == 1 { " was" } else { "s were" };
        let _ = writeln!(
            out,
            "({n} input line{s} not part of an nginx error-log line and skipped.)"
        );
    }
    if explanation.unexplained_entries > 0 {
        let n = explanation.unexplained_entries;
        let _ = writeln!(
            out,
            "({n} more nginx lines were not explained: at most {MAX_ENTRIES} are. `nginx-doctor scan` counts them all.)"
        );
    }
    if explanation.input_truncated {
        let _ = writeln!(
            out,
            "(The input was longer than 1 MiB; only its first 1 MiB was read.)"
        );
    }
}

/// Appends `text` word-wrapped at [`WIDTH`], every line indented by `indent`.
fn wrap(out: &mut String, text: &str, indent: usize) {
    wrap_hanging(out, text, indent, indent);
}

/// Like [`wrap`], with the lines after the first indented by `hang`.
fn wrap_hanging(out: &mut String, text: &str, indent: usize, hang: usize) {
    let mut pad = " ".repeat(indent);
    let mut column = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let width = word.chars().count();
        if column > 0 && column + 1 + width > WIDTH {
            out.push('\n');
            column = 0;
            pad = " ".repeat(hang);
        }
        if column == 0 {
            out.push_str(&pad);
            column = pad.len();
        } else {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += width;
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_between_words_and_indents_every_line() {
        let mut out = String::new();
        wrap(&mut out, &"word ".repeat(40), 4);
        assert!(out.lines().count() > 1);
        for l in out.lines() {
            assert!(l.starts_with("    word"), "{l:?}");
            assert!(l.chars().count() <= WIDTH, "{l:?}");
        }
    }

    #[test]
    fn a_word_longer_than_the_width_stays_whole() {
        let mut out = String::new();
        let long = "x".repeat(200);
        wrap(&mut out, &format!("a {long} b"), 2);
        assert!(out.contains(&long));
    }

    #[test]
    fn upstream_names_its_pass_directive_and_peer() {
        assert_eq!(
            upstream_words("fastcgi://unix:/run/php.sock:"),
            "fastcgi://unix:/run/php.sock: (fastcgi_pass to unix socket /run/php.sock)"
        );
        assert_eq!(
            upstream_words("http://127.0.0.1:9001/x"),
            "http://127.0.0.1:9001/x (proxy_pass to TCP 127.0.0.1:9001)"
        );
        assert_eq!(upstream_words("not a url"), "not a url");
    }
}
