//! The `error-log` built-in: the recent window of nginx's error logs, with
//! every upstream failure classified and grouped by the upstream it is
//! about, each group an item the rules walk (see `upstreams`).
//!
//! Reading is from the end and bounded, so a 10 GiB log costs what a small
//! one does. Lines before the window are counted as history, not faults.

use super::nginx_probe::Discover;
use crate::rules::signatures::SignatureBook;
use crate::session::Session;
use std::collections::BTreeMap;
use std::path::PathBuf;

mod upstreams;

use super::Out;
use crate::logs::classify::classify;
use crate::logs::nginx_line;
use crate::logs::prefilter::Prefilter;
use crate::logs::signature::Signature;
use crate::logs::upstream_ref::UpstreamAddr;
use crate::logs::window::{TailError, tail_since};
use crate::logs::{Timestamp, time::local_utc_offset};
use crate::rules::builtins::known::ITEM_FACTS;
use crate::sanitize;
use crate::value::Value;
use upstreams::{Clock, Seen};

/// Bytes read back from the end of each log for the window itself.
const WINDOW_BUDGET: u64 = 16 << 20;
/// Bytes of history read before the window (256 KiB): enough to say "and before
/// that, N more", bounded so a huge log costs what a small one does.
const HISTORY_BUDGET: u64 = 256 << 10;
/// How far back history reaches before the window.
const HISTORY_SECS: u64 = 7 * 86_400;
const LINE_CHARS: usize = 800;

pub fn run(host: &mut Session, out: &mut Out) {
    let Some(book) = host.signatures().cloned() else {
        return out.fail("the rule pack's signatures were not given to this check");
    };
    let logs = host.error_logs();
    let since = host.options.since;
    let offset = local_utc_offset();
    let mut recent: Vec<Seen> = Vec::new();
    let mut history = 0_i64;
    let mut history_last: Option<Timestamp> = None;
    let (mut read, mut unreadable) = (Vec::new(), Vec::new());
    let prefilter = Prefilter::default();
    // The latest `[emerg]`: why nginx would not start or reload.
    let mut emerg: Option<(Option<Timestamp>, String)> = None;
    for path in &logs {
        let time_of = |l: &[u8]| nginx_line::line_time(l, offset);
        // The window first, then a bounded stretch of history before it.
        let window = tail_since(path, since, WINDOW_BUDGET, time_of);
        let window_bytes = window
            .as_ref()
            .map_or(0, |t| t.entries.iter().map(|e| e.len() as u64 + 1).sum());
        let tail = window.and_then(|_| {
            tail_since(
                path,
                since.minus_secs(HISTORY_SECS),
                window_bytes + HISTORY_BUDGET,
                time_of,
            )
        });
        let tail = match tail {
            Ok(t) => t,
            Err(e) => {
                unreadable.push(format!("{} ({})", path.display(), short_reason(&e)));
                continue;
            }
        };
        read.push(path.display().to_string());
        for entry in &tail.entries {
            // Most lines are noise; the byte-level test skips them unparsed.
            let head = entry.split(|b| *b == b'\n').next().unwrap_or_default();
            if head.get(20..27) == Some(b"[emerg]".as_slice()) {
                let t = time_of(head);
                if emerg.as_ref().is_none_or(|(last, _)| t >= *last) {
                    emerg = Some((t, String::from_utf8_lossy(head).into_owned()));
                }
                continue;
            }
            if !prefilter
                .message_start(head)
                .is_some_and(|at| prefilter.may_fail(entry, at))
            {
                continue;
            }
            let raw = String::from_utf8_lossy(entry);
            let Some(line) = nginx_line::parse_line(&raw, offset) else {
                continue;
            };
            let Some(sig) = classify(&line).filter(|s| book.is_upstream_failure(*s)) else {
                continue;
            };
            match line.time {
                Some(t) if t < since => {
                    history += 1;
                    history_last = history_last.max(Some(t));
                }
                _ => recent.push(Seen {
                    raw: raw.into_owned(),
                    line,
                    sig,
                }),
            }
        }
    }
    out.set("logs", read.join(", "));
    out.set("unreadable", unreadable.join(", "));
    out.set("window", host.options.window.clone());
    out.set("history", history);
    out.set("history_last", history_last.map(|t| t.to_string()));
    out.set("count", i64::try_from(recent.len()).unwrap_or(i64::MAX));
    if let Some((t, line)) = emerg {
        let now = Timestamp::now();
        out.set("emerg_clock", t.map(|t| t.clock(now, offset)));
        out.set(
            "emerg_line",
            sanitize::truncate(&clean(line.trim_end()), LINE_CHARS),
        );
    }
    out.shown_as = shown(&logs);
    if !unreadable.is_empty() && read.is_empty() {
        // Root can read any log; for root the reason is the whole story.
        let advice = if host.root {
            ""
        } else {
            "; run as root: sudo nginx-doctor --auto"
        };
        out.fail(format!("could not read {}{advice}", unreadable.join(", ")));
    }
    describe_upstreams(&recent, &book, out);
}

/// The failing upstreams of an error-log recording as this version's rules
/// read them: a v0.1 recording's one upstream as a list of items, and the
/// facts added to items since filled in from those it has.
pub fn recorded_items(facts: &BTreeMap<String, Value>) -> Option<Value> {
    let mut items = match facts.get("upstreams") {
        Some(Value::List(items)) => items.clone(),
        Some(_) => return None,
        None => items_of_flat_recording(facts)?,
    };
    items.iter_mut().for_each(upstreams::fill_recorded);
    Some(Value::List(items))
}

/// The failing upstream of a recording made before failures were grouped
/// by upstream (a v0.1 bundle): its flat facts described the one failure
/// the walk followed, which becomes the only item.
fn items_of_flat_recording(
    facts: &BTreeMap<String, Value>,
) -> Option<Vec<BTreeMap<String, Value>>> {
    if !facts.contains_key("signature") {
        return None;
    }
    let mut item: BTreeMap<String, Value> = ITEM_FACTS
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), facts.get(*name)?.clone())))
        .collect();
    let text = |name: &str| item.get(name).map(ToString::to_string);
    let key = match (
        text("scheme"),
        text("transport").as_deref(),
        text("address"),
    ) {
        (Some(scheme), Some("unix"), Some(path)) => format!("{scheme}://unix:{path}"),
        (Some(scheme), _, Some(address)) => format!("{scheme}://{address}"),
        _ => text("signature").unwrap_or_default(),
    };
    item.insert("key".into(), Value::Str(key));
    Some(vec![item])
}

/// Why a log could not be read, as the C library says it ("No such file
/// or directory", "Permission denied"), without Rust's "(os error 2)".
fn short_reason(e: &TailError) -> String {
    let TailError::Read { source, .. } = e;
    let text = source.to_string();
    match source.raw_os_error() {
        Some(n) => text
            .strip_suffix(&format!(" (os error {n})"))
            .unwrap_or(&text)
            .to_owned(),
        None => text,
    }
}

/// The paths as shell words: a log path comes from a config and is shown
/// as part of a command a person may paste.
fn shell_paths(paths: &[PathBuf]) -> String {
    let words: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    crate::shell::words(&words)
}

/// What a person would type to see the same lines.
pub(super) fn shown(logs: &[PathBuf]) -> String {
    format!("tail -n 200 {}", shell_paths(logs))
}

/// Every failing upstream as an item of its own, plus, for packs written
/// before items, the first item's facts under the probe's own names.
fn describe_upstreams(recent: &[Seen], book: &SignatureBook, out: &mut Out) {
    let clock = Clock {
        now: Timestamp::now(),
        offset: local_utc_offset(),
    };
    out.set("signatures", tally(recent));
    describe_no_live(recent, out);
    let items = upstreams::items(recent, clock, book);
    out.set(
        "upstream_count",
        i64::try_from(items.len()).unwrap_or(i64::MAX),
    );
    if let Some(first) = items.first() {
        for (name, value) in first {
            if !matches!(name.as_str(), "count" | "failures" | "signatures") {
                out.set(name, value.clone());
            }
        }
    }
    out.set("upstreams", Value::List(items));
}

/// Every signature of the window, most frequent first.
fn tally(recent: &[Seen]) -> String {
    let mut counts: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    for (i, s) in recent.iter().enumerate() {
        let e = counts.entry(s.sig.id()).or_default();
        e.0 += 1;
        e.1 = e.1.max(i);
    }
    let mut ranked: Vec<(&str, (usize, usize))> = counts.into_iter().collect();
    ranked.sort_by_key(|(_, key)| std::cmp::Reverse(*key));
    ranked
        .iter()
        .map(|(id, (n, _))| format!("{id} x{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "no live upstreams" in the window, whatever the primary failure: it is
/// the consequence of other failures, reported beside them with its own line.
fn describe_no_live(recent: &[Seen], out: &mut Out) {
    let no_live: Vec<&Seen> = recent
        .iter()
        .filter(|s| s.sig == Signature::NoLiveUpstreams)
        .collect();
    out.set(
        "no_live_count",
        i64::try_from(no_live.len()).unwrap_or(i64::MAX),
    );
    let Some(latest) = no_live.last() else {
        return;
    };
    out.set(
        "no_live_line",
        sanitize::truncate(&clean(latest.raw.trim_end()), LINE_CHARS),
    );
    if let Some(UpstreamAddr::Group(name)) = latest.line.upstream_ref().map(|u| u.address) {
        out.set("no_live_group", clean(&name));
    }
}

fn clean(s: &str) -> String {
    sanitize::for_terminal(s.as_bytes())
}
