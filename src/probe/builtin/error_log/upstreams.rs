//! The window's failures grouped by upstream: one item per upstream nginx
//! failed to reach, which the rules walk one after the other.
//!
//! What an item's walk tests is the failure mode nginx logs *now* for that
//! upstream — the signature of its latest line — not the most frequent one:
//! a socket that had the wrong owner ten minutes ago and is gone now fails
//! with "No such file" today, and only that is worth testing. The other
//! modes of the window are kept as the item's history.

use crate::rules::signatures::{SignatureBook, SignatureDoc};
use std::collections::BTreeMap;

use crate::logs::Timestamp;
use crate::logs::facts::{line_facts, resolved_name};
use crate::logs::nginx_line::ErrorLine;
use crate::logs::signature::Signature;
use crate::logs::upstream_ref::UpstreamAddr;
use crate::sanitize;
use crate::value::Value;

/// A logged line shown in a report is cut to this many characters.
const LINE_CHARS: usize = 800;

/// One failure of the window.
pub struct Seen {
    pub line: ErrorLine,
    pub raw: String,
    pub sig: Signature,
}

/// How times are shown: local clock, relative to today.
#[derive(Clone, Copy)]
pub struct Clock {
    pub now: Timestamp,
    pub offset: i32,
}

impl Clock {
    fn show(self, t: Option<Timestamp>) -> Option<String> {
        t.map(|t| t.clock(self.now, self.offset))
    }
}

/// The items, busiest upstream first (then the one that failed last).
pub fn items(recent: &[Seen], clock: Clock, book: &SignatureBook) -> Vec<BTreeMap<String, Value>> {
    let mut groups: Vec<(String, Vec<&Seen>)> = Vec::new();
    for s in recent {
        let key = key(&s.line, s.sig);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, lines)) => lines.push(s),
            None => groups.push((key, vec![s])),
        }
    }
    let latest = |lines: &[&Seen]| lines.iter().filter_map(|s| s.line.time).max();
    groups.sort_by_key(|(_, lines)| std::cmp::Reverse((lines.len(), latest(lines))));
    groups
        .into_iter()
        .map(|(key, lines)| item(key, &lines, clock, book))
        .collect()
}

/// What a failure is about: the upstream as nginx logged it, without the
/// URI (`fastcgi://unix:/run/php/php8.2-fpm.sock`, `http://backend`), or
/// the name nginx could not resolve.
fn key(line: &ErrorLine, sig: Signature) -> String {
    if let Some(up) = line.upstream_ref() {
        let address = match &up.address {
            UpstreamAddr::Unix(path) => format!("unix:{path}"),
            other => other.to_string(),
        };
        return clean(&format!("{}://{address}", up.scheme));
    }
    match resolved_name(line) {
        Some(name) => format!("name {}", clean(name)),
        None => format!("({} without an upstream)", sig.id()),
    }
}

fn item(
    key: String,
    lines: &[&Seen],
    clock: Clock,
    book: &SignatureBook,
) -> BTreeMap<String, Value> {
    let mut facts = BTreeMap::new();
    let mut set = |name: &str, value: Value| {
        let value = match value {
            Value::Str(s) if s.is_empty() => Value::Null,
            v => v,
        };
        facts.insert(name.to_owned(), value);
    };
    let Some(latest) = lines.iter().max_by_key(|s| s.line.time) else {
        return BTreeMap::new();
    };
    let mode = latest.sig;
    set("key", key.into());
    set("count", count(lines.len()));
    set("failures", failures(lines.len()).into());
    set("signatures", tally(lines).into());
    describe_line(latest, clock, book.of(latest.sig), &mut set);
    // The current mode: how many, since when, and the span for joining
    // with the backend's own log.
    let of_mode: Vec<&&Seen> = lines.iter().filter(|s| s.sig == mode).collect();
    let times = || of_mode.iter().filter_map(|s| s.line.time);
    set("mode_count", count(of_mode.len()));
    set("mode_since", clock.show(mode_since(lines, mode)).into());
    let first = lines.iter().filter_map(|s| s.line.time).min();
    set("first_clock", clock.show(first).into());
    let last = lines.iter().filter_map(|s| s.line.time).max();
    set("span", span(clock.show(first), clock.show(last)).into());
    set("first_unix", times().min().map(Timestamp::unix).into());
    set("last_unix", times().max().map(Timestamp::unix).into());
    let (earlier, n) = earlier(lines, mode, clock);
    set("earlier", earlier.into());
    set("earlier_count", count(n));
    facts
}

/// The facts the latest line tells: what failed, where, and for which
/// request (as `explain` reads a line too), and what the pack says it means.
fn describe_line(
    seen: &Seen,
    clock: Clock,
    meaning: &SignatureDoc,
    set: &mut impl FnMut(&str, Value),
) {
    for (name, value) in line_facts(&seen.line, seen.sig) {
        set(name, value);
    }
    set("summary", meaning.summary.clone().into());
    set("candidates", meaning.causes.join(", ").into());
    set("http_status", meaning.status.map(i64::from).into());
    set("clock", clock.show(seen.line.time).into());
    set(
        "line",
        sanitize::truncate(&clean(seen.raw.trim_end()), LINE_CHARS).into(),
    );
}

/// When the latest unbroken run of the current mode began.
fn mode_since(lines: &[&Seen], mode: Signature) -> Option<Timestamp> {
    let mut by_time: Vec<&&Seen> = lines.iter().collect();
    by_time.sort_by_key(|s| s.line.time);
    by_time
        .iter()
        .rev()
        .take_while(|s| s.sig == mode)
        .filter_map(|s| s.line.time)
        .min()
}

/// The other failure modes of this upstream: `12 × connect() to ... failed
/// (13: Permission denied), the last at 10:41:02`, most recent first.
fn earlier(lines: &[&Seen], mode: Signature, clock: Clock) -> (String, usize) {
    let mut modes: Vec<(Signature, usize, Option<Timestamp>, &str)> = Vec::new();
    for s in lines.iter().filter(|s| s.sig != mode) {
        match modes.iter_mut().find(|m| m.0 == s.sig) {
            Some(m) => {
                m.1 += 1;
                if s.line.time >= m.2 {
                    m.2 = s.line.time;
                    m.3 = &s.line.message;
                }
            }
            None => modes.push((s.sig, 1, s.line.time, &s.line.message)),
        }
    }
    modes.sort_by_key(|m| std::cmp::Reverse(m.2));
    let total = modes.iter().map(|m| m.1).sum();
    let text = modes
        .iter()
        .map(|(_, n, last, message)| {
            let when = clock
                .show(*last)
                .map(|c| format!(", the last at {c}"))
                .unwrap_or_default();
            format!(
                "{n} × {}{when}",
                sanitize::truncate(&clean(message), LINE_CHARS)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    (text, total)
}

/// `unix-socket-missing x3, unix-socket-eacces x12`, the current mode first.
fn tally(lines: &[&Seen]) -> String {
    let mut counts: Vec<(&str, usize, Option<Timestamp>)> = Vec::new();
    for s in lines {
        match counts.iter_mut().find(|c| c.0 == s.sig.id()) {
            Some(c) => {
                c.1 += 1;
                c.2 = c.2.max(s.line.time);
            }
            None => counts.push((s.sig.id(), 1, s.line.time)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.2));
    counts
        .iter()
        .map(|(id, n, _)| format!("{id} x{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds the facts a recording made before they existed (`failures`,
/// `span`) to a recorded item, from the facts it has.
pub fn fill_recorded(item: &mut BTreeMap<String, Value>) {
    let text = |name: &str| match item.get(name) {
        Some(Value::Str(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let span = span(text("first_clock"), text("clock"));
    let count = item.get("count").and_then(Value::as_int);
    if !item.contains_key("failures")
        && let Some(n) = count.and_then(|n| usize::try_from(n).ok())
    {
        item.insert("failures".into(), failures(n).into());
    }
    if !item.contains_key("span") && !span.is_empty() {
        item.insert("span".into(), span.into());
    }
}

/// `1 failure`, `6 failures`: the count as a person reads it.
fn failures(n: usize) -> String {
    crate::plural::count(n, "failure")
}

/// `at 10:41:02`, or `from 10:30:11 to 10:42:10`; empty without times.
fn span(first: Option<String>, last: Option<String>) -> String {
    match (first, last) {
        (Some(a), Some(b)) if a == b => format!("at {a}"),
        (Some(a), Some(b)) => format!("from {a} to {b}"),
        (Some(t), None) | (None, Some(t)) => format!("at {t}"),
        (None, None) => String::new(),
    }
}

fn count(n: usize) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn clean(s: &str) -> String {
    sanitize::for_terminal(s.as_bytes())
}
