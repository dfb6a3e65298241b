//! The `error-log` built-in: the recent window of nginx's error logs, with
//! every upstream failure classified and the most frequent one chosen as
//! the one the rules follow.
//!
//! Reading is from the end and bounded, so a 10 GiB log costs what a small
//! one does. Lines before the window are counted as history, not faults.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Host, Out};
use crate::logs::classify::classify;
use crate::logs::nginx_line::{self, ErrorLine};
use crate::logs::signature::Signature;
use crate::logs::upstream_ref::UpstreamAddr;
use crate::logs::window::tail_since;
use crate::logs::{Timestamp, time::local_utc_offset};
use crate::sanitize;
use crate::scan::prefilter::Prefilter;

/// Bytes read back from the end of each log for the window itself.
const WINDOW_BUDGET: u64 = 16 << 20;
/// Bytes of history read before the window (256 KiB): enough to say "and before
/// that, N more", bounded so a huge log costs what a small one does.
const HISTORY_BUDGET: u64 = 256 << 10;
/// How far back history reaches before the window.
const HISTORY_SECS: u64 = 7 * 86_400;
const LINE_CHARS: usize = 800;

/// A failure nginx answered with 502/504: what the rules diagnose. Info
/// lines (FastCGI stderr, the peer-disabled warning, body-phase errors the
/// client got a 200 for) are context, not faults.
fn is_gateway_failure(sig: Signature) -> bool {
    matches!(sig.status(), Some(502 | 504))
        && !matches!(
            sig,
            Signature::UpstreamDisabledWarn | Signature::FastcgiStderr
        )
}

struct Seen {
    line: ErrorLine,
    raw: String,
    sig: Signature,
}

pub fn run(host: &mut Host, out: &mut Out) {
    let logs = host.error_logs();
    let since = host.options.since;
    let offset = local_utc_offset();
    let mut recent: Vec<Seen> = Vec::new();
    let mut history = 0_i64;
    let mut history_last: Option<Timestamp> = None;
    let (mut read, mut unreadable) = (Vec::new(), Vec::new());
    let prefilter = Prefilter::default();
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
                unreadable.push(format!(
                    "{} ({})",
                    path.display(),
                    short_reason(&e.to_string())
                ));
                continue;
            }
        };
        read.push(path.display().to_string());
        for entry in &tail.entries {
            // Most lines are noise; the byte-level test skips them unparsed.
            let head = entry.split(|b| *b == b'\n').next().unwrap_or_default();
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
            let Some(sig) = classify(&line).filter(|s| is_gateway_failure(*s)) else {
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
    out.shown_as = format!("tail -n 200 {}", shell_paths(&logs));
    if !unreadable.is_empty() && read.is_empty() {
        out.fail(format!(
            "could not read {}; run as root: sudo nginx-doctor --auto",
            unreadable.join(", ")
        ));
    }
    describe_primary(&recent, out);
}

fn short_reason(message: &str) -> String {
    message
        .split(':')
        .next_back()
        .unwrap_or(message)
        .trim()
        .to_owned()
}

/// The paths as shell words: a log path comes from a config and is shown
/// as part of a command a person may paste.
fn shell_paths(paths: &[PathBuf]) -> String {
    let words: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    crate::report::shell_words(&words)
}

/// The failure the rules follow: the most frequent signature in the window,
/// its latest line. "no live upstreams" only when nothing else failed: it
/// is always the consequence of another failure.
fn describe_primary(recent: &[Seen], out: &mut Out) {
    // Per signature: how many, and the index of the latest (ties go to the
    // failure that is happening now, not the one fixed ten minutes ago).
    let mut counts: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    for (i, s) in recent.iter().enumerate() {
        let e = counts.entry(s.sig.id()).or_default();
        e.0 += 1;
        e.1 = e.1.max(i);
    }
    let mut ranked: Vec<(&str, (usize, usize))> = counts.into_iter().collect();
    ranked.sort_by_key(|(_, key)| std::cmp::Reverse(*key));
    out.set(
        "signatures",
        ranked
            .iter()
            .map(|(id, (n, _))| format!("{id} x{n}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let primary = ranked
        .iter()
        .find(|(id, _)| *id != Signature::NoLiveUpstreams.id())
        .or(ranked.first())
        .map(|(id, _)| *id);
    describe_no_live(recent, out);
    let Some(seen) = primary.and_then(|id| recent.iter().rev().find(|s| s.sig.id() == id)) else {
        return;
    };
    let l = &seen.line;
    out.set("signature", seen.sig.id());
    out.set("summary", seen.sig.summary());
    out.set("candidates", seen.sig.candidates().join(", "));
    out.set("http_status", seen.sig.status().map(i64::from));
    out.set("errno", l.errno.map(i64::from));
    out.set("errno_text", l.errno_text.as_deref().map(clean));
    out.set("action", l.action.map(|a| a.as_str()));
    out.set("upstream", l.upstream.as_deref().map(clean));
    out.set("request", l.request.as_deref().map(clean));
    out.set("server", l.server.as_deref().map(clean));
    out.set("time", l.time.map(|t| t.to_string()));
    // The span of this failure, for joining with the backend's own log.
    let times = recent
        .iter()
        .filter(|s| s.sig == seen.sig)
        .filter_map(|s| s.line.time);
    let (first, last) = times.fold(
        (None, None),
        |(lo, hi): (Option<Timestamp>, Option<Timestamp>), t| {
            (
                Some(lo.map_or(t, |l| l.min(t))),
                Some(hi.map_or(t, |h| h.max(t))),
            )
        },
    );
    out.set("first_unix", first.map(Timestamp::unix));
    out.set("last_unix", last.map(Timestamp::unix));
    out.set(
        "line",
        sanitize::truncate(&clean(seen.raw.trim_end()), LINE_CHARS),
    );
    if let Some(up) = l.upstream_ref() {
        out.set("scheme", up.scheme.clone());
        out.set("address", clean(&up.address.to_string()));
        match up.address {
            UpstreamAddr::Tcp { host, port } => {
                out.set("transport", "tcp");
                out.set("host", host.to_string());
                out.set("port", i64::from(port));
            }
            UpstreamAddr::Unix(path) => {
                out.set("transport", "unix");
                out.set("address", clean(&path));
                out.set("path", clean(&path));
            }
            UpstreamAddr::Group(name) => {
                out.set("transport", "group");
                out.set("host", clean(&name));
            }
        }
    }
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
