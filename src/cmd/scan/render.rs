//! What `scan` prints: a JSON document for scripts, or a table with one
//! sparkline per signature for people.
//!
//! Every string that came from the host (paths, upstream names, error
//! texts) is sanitized before it gets here or here, so no byte of a log can
//! steer the terminal.

use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::Serialize;

use crate::rules::signatures::SignatureBook;
use crate::sanitize;
use crate::scan::{Histogram, Scan, width_for_span};

/// Marks per sparkline at most; longer histograms are summed in groups.
const MAX_MARKS: usize = 96;
/// Upstreams listed in text; JSON lists them all.
const TEXT_UPSTREAMS: usize = 15;
const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The scan's result, as printed (`--format json` serializes it as is).
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema: u32,
    /// The files read, oldest first per log.
    pub logs: Vec<String>,
    pub since: String,
    /// The first bucket's start and every bucket's width.
    pub bucket_start: String,
    pub bucket_secs: i64,
    pub total: u64,
    pub signatures: Vec<SignatureRow>,
    pub upstreams: Vec<UpstreamRow>,
    pub unreadable: Vec<Unreadable>,
}

#[derive(Debug, Serialize)]
pub struct SignatureRow {
    pub id: &'static str,
    /// 502, 504 or 500; `null` when nginx decided none (see `Signature::status`).
    pub status: Option<u16>,
    pub count: u64,
    pub first: String,
    pub last: String,
    pub buckets: Vec<u32>,
}

#[derive(Debug, Serialize)]
pub struct UpstreamRow {
    pub upstream: String,
    pub count: u64,
}

#[derive(Debug, Serialize)]
pub struct Unreadable {
    pub path: String,
    pub error: String,
}

impl Report {
    pub fn new(scan: &Scan, book: &SignatureBook) -> Report {
        let signatures = scan.tally.signatures(scan.end);
        let width = signatures.first().map_or_else(
            || width_for_span(scan.end.unix() - scan.origin.unix()),
            |(_, c)| c.histogram.width(),
        );
        let mut grid = Histogram::new(scan.origin);
        grid.widen_to(width);
        Report {
            schema: 1,
            logs: scan.read.iter().map(|p| shown_path(p)).collect(),
            since: scan.since.to_string(),
            bucket_start: grid.start().to_string(),
            bucket_secs: grid.width(),
            total: scan.tally.total(),
            signatures: signatures
                .into_iter()
                .map(|(sig, c)| SignatureRow {
                    id: sig.id(),
                    status: book.of(sig).status,
                    count: c.count,
                    first: c.first.to_string(),
                    last: c.last.to_string(),
                    buckets: c.histogram.buckets_until(scan.end),
                })
                .collect(),
            upstreams: scan
                .tally
                .upstreams()
                .into_iter()
                .map(|(upstream, count)| UpstreamRow { upstream, count })
                .collect(),
            unreadable: scan
                .unreadable
                .iter()
                .map(|(path, error)| Unreadable {
                    path: shown_path(path),
                    error: sanitize::for_terminal(error.as_bytes()),
                })
                .collect(),
        }
    }
}

/// A path as printed: its bytes, escaped where they could steer a terminal.
pub fn shown_path(path: &Path) -> String {
    sanitize::for_terminal(path.as_os_str().as_bytes())
}

/// The report for a person: totals, a table with sparklines, the upstreams.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let logs = if report.logs.is_empty() {
        "no log".to_owned()
    } else {
        report.logs.join(", ")
    };
    let _ = writeln!(out, "Scanned {logs}");
    let group = report
        .signatures
        .first()
        .map_or(1, |s| group_size(s.buckets.len()));
    let mark = duration(report.bucket_secs * group as i64);
    match report.total {
        0 => {
            let _ = writeln!(out, "No upstream failure since {}.", report.since);
        }
        n => {
            let _ = writeln!(
                out,
                "{n} upstream failure{} since {} (one mark = {mark}, from {}):\n",
                if n == 1 { "" } else { "s" },
                report.since,
                report.bucket_start
            );
            signature_table(&mut out, report, group);
            upstream_list(&mut out, report);
        }
    }
    for u in &report.unreadable {
        let _ = writeln!(out, "\nCould not read {}: {}", u.path, u.error);
    }
    out
}

fn signature_table(out: &mut String, report: &Report, group: usize) {
    let id_width = report
        .signatures
        .iter()
        .map(|s| s.id.len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "  {:>8}  {:6}  {:id_width$}  {:20}  last",
        "count", "status", "signature", "first"
    );
    for s in &report.signatures {
        let status = s.status.map_or("-".to_owned(), |c| c.to_string());
        let _ = writeln!(
            out,
            "  {:>8}  {status:6}  {:id_width$}  {:20}  {}",
            s.count, s.id, s.first, s.last
        );
        let _ = writeln!(out, "  {:>8}  |{}|", "", sparkline(&s.buckets, group));
    }
}

fn upstream_list(out: &mut String, report: &Report) {
    let _ = writeln!(out, "\nBy upstream:");
    for u in report.upstreams.iter().take(TEXT_UPSTREAMS) {
        let _ = writeln!(out, "  {:>8}  {}", u.count, u.upstream);
    }
    let more = report.upstreams.len().saturating_sub(TEXT_UPSTREAMS);
    if more > 0 {
        let _ = writeln!(out, "  ... and {more} more (--format json lists them all)");
    }
}

/// How many buckets one mark sums so a sparkline fits [`MAX_MARKS`].
fn group_size(buckets: usize) -> usize {
    buckets.div_ceil(MAX_MARKS).max(1)
}

/// One mark per `group` buckets: blank for none, else ▁ to █ by the share
/// of the largest mark (any failure shows at least ▁).
pub fn sparkline(buckets: &[u32], group: usize) -> String {
    let sums: Vec<u64> = buckets
        .chunks(group.max(1))
        .map(|c| c.iter().map(|&n| u64::from(n)).sum())
        .collect();
    let max = sums.iter().copied().max().unwrap_or(0).max(1);
    sums.iter()
        .map(|&n| match n {
            0 => ' ',
            n => {
                LEVELS[usize::try_from((n * 8).div_ceil(max) - 1)
                    .unwrap_or(7)
                    .min(7)]
            }
        })
        .collect()
}

/// `900` → `15 min`.
fn duration(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// The JSON document.
pub fn json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"schema\":1,\"error\":{:?}}}", e.to_string()));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Timestamp;

    fn report(total: u64) -> Report {
        Report {
            schema: 1,
            logs: vec!["/var/log/nginx/error.log".into()],
            since: Timestamp::from_unix(1_795_555_080).to_string(),
            bucket_start: Timestamp::from_unix(1_795_555_080).to_string(),
            bucket_secs: 60,
            total,
            signatures: if total == 0 {
                vec![]
            } else {
                vec![SignatureRow {
                    id: "conn-refused-tcp",
                    status: Some(502),
                    count: total,
                    first: "2026-11-24T21:18:00Z".into(),
                    last: "2026-11-24T21:20:00Z".into(),
                    buckets: vec![1, 0, 2],
                }]
            },
            upstreams: vec![UpstreamRow {
                upstream: "127.0.0.1:9001".into(),
                count: total,
            }],
            unreadable: vec![],
        }
    }

    #[test]
    fn sparkline_scales_to_the_largest_mark_and_blanks_zeros() {
        assert_eq!(sparkline(&[0, 1, 2, 4, 8], 1), " ▁▂▄█");
        assert_eq!(sparkline(&[1, 1000], 1), "▁█");
        assert_eq!(sparkline(&[], 1), "");
    }

    #[test]
    fn sparkline_sums_groups_of_buckets() {
        assert_eq!(sparkline(&[1, 1, 0, 0, 1], 2), "█ ▄");
    }

    #[test]
    fn long_histograms_fit_the_mark_limit() {
        assert_eq!(group_size(96), 1);
        assert_eq!(group_size(97), 2);
        assert_eq!(group_size(0), 1);
        assert!(sparkline(&[1; 1500], group_size(1500)).chars().count() <= MAX_MARKS);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(60), "1 min");
        assert_eq!(duration(900), "15 min");
        assert_eq!(duration(7200), "2 h");
        assert_eq!(duration(86_400), "1 d");
        assert_eq!(duration(90), "90 s");
    }

    #[test]
    fn text_lists_signature_status_first_last_and_histogram() {
        let shown = text(&report(3));
        assert!(
            shown.contains("3 upstream failures since 2026-11-24T21:18:00Z"),
            "{shown}"
        );
        assert!(
            shown.contains("502     conn-refused-tcp  2026-11-24T21:18:00Z  2026-11-24T21:20:00Z"),
            "{shown}"
        );
        assert!(shown.contains("|▄ █|"), "{shown}");
        assert!(
            shown.contains("By upstream:\n         3  127.0.0.1:9001"),
            "{shown}"
        );
    }

    #[test]
    fn text_without_failures_says_so() {
        let shown = text(&report(0));
        assert!(
            shown.contains("No upstream failure since 2026-11-24T21:18:00Z."),
            "{shown}"
        );
        assert!(!shown.contains("By upstream"));
    }

    #[test]
    fn json_has_the_documented_keys() {
        let value: serde_json::Value = serde_json::from_str(&json(&report(3))).expect("valid JSON");
        for key in [
            "schema",
            "logs",
            "since",
            "total",
            "signatures",
            "upstreams",
            "unreadable",
        ] {
            assert!(value.get(key).is_some(), "{key}");
        }
        let sig = &value["signatures"][0];
        for key in ["id", "status", "count", "first", "last", "buckets"] {
            assert!(sig.get(key).is_some(), "{key}");
        }
        assert_eq!(value["upstreams"][0]["upstream"], "127.0.0.1:9001");
    }

    #[test]
    fn hostile_paths_are_escaped() {
        let shown = shown_path(Path::new("/tmp/a\u{1b}[2Jb.log"));
        assert_eq!(shown, "/tmp/a\\x1b[2Jb.log");
    }
}
