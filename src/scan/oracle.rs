//! The scan's specification, for tests: what a scan must count, computed
//! the slow and obvious way, and random logs to hold the scan to it.
//!
//! [`reference`] splits a log into entries by the definition (a line with a
//! valid timestamp and the non-empty lines after it that have none), parses
//! every entry with `parse_line`, classifies it with `classify` and tallies
//! what is counted: no prefilter, no blocks, no parts, no shortcut. Every
//! speed-up of the scan is proven by comparing against it on [`log`]s that
//! hold what breaks shortcuts: entries over several lines, the action or a
//! failure's words in a continuation line, failure words in noise, junk
//! and invalid UTF-8 between entries, times out of order.

use proptest::prelude::*;

use super::count::Window;
use super::tally::Tally;
use super::upstream::Names;
use crate::logs::Timestamp;
use crate::logs::classify::classify;
use crate::logs::nginx_line::{line_time, parse_line};
use crate::logs::signature::Signature;
use crate::scan::tally::SignatureCount;

/// 2026/11/24 21:18:00 UTC: the logs' first second.
pub const BASE: i64 = 1_795_555_080;

/// Every entry from [`BASE`] on, histograms from there, UTC.
pub fn window() -> Window {
    Window {
        since: Timestamp::from_unix(0),
        origin: Timestamp::from_unix(BASE),
        utc_offset: 0,
        failures: crate::rules::signatures::default_book().upstream_failures(),
    }
}

/// What a scan of `log` must count, after `before`.
pub fn reference(log: &[u8], window: Window, before: &Tally) -> Tally {
    let mut tally = before.seeded();
    let mut names = Names::default();
    let mut latest = None;
    let mut entry: Option<Vec<u8>> = None;
    let mut lines: Vec<&[u8]> = log.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    for line in lines {
        if let Some(time) = line_time(line, window.utc_offset) {
            latest = latest.max(Some(time));
            if let Some(text) = entry.replace(line.to_vec()) {
                count(&text, window, &mut tally, &mut names);
            }
        } else if let Some(text) = entry.as_mut().filter(|_| !line.is_empty()) {
            text.push(b'\n');
            text.extend_from_slice(line);
        }
    }
    if let Some(text) = entry {
        count(&text, window, &mut tally, &mut names);
    }
    tally.last_line = latest;
    tally
}

fn count(entry: &[u8], window: Window, tally: &mut Tally, names: &mut Names) {
    let text = String::from_utf8_lossy(entry);
    let Some(line) = parse_line(&text, window.utc_offset) else {
        return;
    };
    let Some(time) = line.time.filter(|t| *t >= window.since) else {
        return;
    };
    if let Some(sig) = classify(&line).filter(|s| window.failures.contains(*s)) {
        let borrowed = line.borrowed();
        let name = names.of(&borrowed, sig).into_owned();
        tally.add(sig, time, &name);
    }
}

/// Everything the report shows of a tally, in the order it shows it.
pub type Shown = (
    Vec<(Signature, SignatureCount)>,
    Vec<(String, u64)>,
    Option<Timestamp>,
    u64,
);

pub fn shown(tally: &Tally) -> Shown {
    let end = Timestamp::from_unix(BASE + 3 * 86_400);
    (
        tally.signatures(end),
        tally.upstreams(),
        tally.last_line,
        tally.total(),
    )
}

/// `YYYY/MM/DD HH:MM:SS ` of `secs` after [`BASE`] (UTC; days past the
/// month's end are invalid dates, hence no head).
pub fn stamp(secs: i64) -> String {
    let t = BASE + secs;
    let (h, m, s) = (t / 3600 % 24, t / 60 % 60, t % 60);
    let day = 24 + (t - BASE + BASE % 86_400) / 86_400;
    format!("2026/11/{day:02} {h:02}:{m:02}:{s:02} ")
}

/// Messages of counted failures, of noise that looks like them, and of
/// entries over several lines (the action or the failure's words after a
/// newline).
const MESSAGES: &[&str] = &[
    "connect() failed (111: Connection refused) while connecting to upstream",
    "connect() to unix:/run/a.sock failed (2: No such file or directory) while connecting to upstream",
    "upstream timed out (110: Connection timed out) while reading response header from upstream",
    "no live upstreams while connecting to upstream",
    "upstream prematurely closed connection while reading upstream",
    "upstream server temporarily disabled while connecting to upstream",
    "recv() failed (104: Connection reset by peer) while reading response header from upstream",
    "upstream sent too big header while reading response header from upstream",
    "SSL_do_handshake() failed (SSL: error:0A00010B:SSL routines::wrong version number) while SSL handshaking to upstream",
    "backend.example could not be resolved (3: Host not found)",
    "no resolver defined to resolve backend.example",
    "open() \"/srv/x\" failed (2: No such file or directory)",
    "open() \"/srv/x\" failed (2: No such file or directory)\n while reading upstream",
    "upstream prematurely closed connection\n\n while reading upstream",
    "upstream timed out\n (110: Connection timed out) while connecting to upstream",
    "FastCGI sent in stderr: \"PHP message: x\nupstream timed out (110: x) while connecting to upstream\" while reading response header from upstream",
    "FastCGI sent in stderr: \"a\r\n\r\nb\" while reading response header from upstream",
    "client prematurely closed connection while sending to client",
    "an upstream response is buffered to a temporary file /var/cache/1 while reading upstream",
    "SSL_read() failed (SSL: error:0A000126:SSL routines::unexpected eof while reading) while waiting for request",
    "limiting requests, excess: 10.5 by zone \"perip\"",
];

const LEVELS: &[&str] = &["error", "error", "error", "crit", "warn", "info", "notice"];

const PEERS: &[&str] = &[
    "http://127.0.0.1:9001/",
    "http://[::1]:8080/",
    "http://dead2/",
    "fastcgi://unix:/run/a.sock:",
];

/// Lines that are no entry's head: junk, a head-like line with an invalid
/// date, a failure's words with no timestamp, an empty line.
const ORPHANS: &[&str] = &[
    "#1 a continuation line without a head",
    "\u{1b}[2J\u{fffd} junk",
    "2026/11/31 21:18:00 [error] 1#1: *1 no live upstreams while connecting to upstream",
    " while reading upstream, client: 1.2.3.4, server: s",
    "upstream timed out (110: x) while connecting to upstream",
    "",
    "\r",
];

/// One entry or stray line, ending with `\n`.
pub fn piece() -> impl Strategy<Value = Vec<u8>> {
    let entry = (
        0..86_400 * 2i64,
        -3..3i64,
        0..LEVELS.len(),
        0..MESSAGES.len(),
        0..PEERS.len() + 1,
        any::<bool>(),
    )
        .prop_map(|(secs, jitter, level, message, peer, crlf)| {
            let upstream = PEERS
                .get(peer)
                .map_or(String::new(), |p| format!(", upstream: \"{p}\""));
            let end = if crlf { "\r\n" } else { "\n" };
            format!(
                "{}[{}] 7#7: *{secs} {}, client: 10.0.0.1, server: s, request: \"GET / HTTP/1.1\"{upstream}, host: \"h\"{end}",
                stamp((secs + jitter).max(0)),
                LEVELS[level],
                MESSAGES[message],
            )
            .into_bytes()
        });
    let orphan = prop::sample::select(ORPHANS).prop_map(|o| format!("{o}\n").into_bytes());
    let invalid = Just(b"2026/11/24 21:18:00 [error] 1#1: *1 \xff\xfe upstream timed out (110: x) while connecting to upstream\n".to_vec());
    prop_oneof![8 => entry, 2 => orphan, 1 => invalid]
}

/// A log of `pieces`, its last newline sometimes dropped.
pub fn log() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(piece(), 0..120), any::<bool>()).prop_map(|(pieces, cut_end)| {
        let mut log = pieces.concat();
        if cut_end && log.last() == Some(&b'\n') {
            log.pop();
        }
        log
    })
}
