//! The `fpm-log` built-in: php-fpm's own account of the same minutes —
//! a full pool, requests it killed, workers that died.
//!
//! This is what tells a "Connection reset by peer" apart: the nginx line is
//! the same for a killed request and a crashed worker, php-fpm's is not.

use crate::session::Session;
use std::collections::BTreeMap;
use std::path::Path;

use super::Out;
use crate::logs::Timestamp;
use crate::logs::fpm_line::{self, FpmEvent};
use crate::logs::time::local_utc_offset;
use crate::logs::window::tail_since;
use crate::sanitize;

const READ_BUDGET: u64 = 8 << 20;
const LINE_CHARS: usize = 600;

/// Seconds either side of nginx's failures that still count as "the same
/// moment": the two processes log the same event in different seconds.
const SLACK: i64 = 2;

/// The span of nginx's failures that php-fpm events are joined with:
/// `from - lead - SLACK ..= to + SLACK`. `lead` reaches back by nginx's
/// read timeout, because a full pool is logged when it fills, long before
/// nginx gives up on the queued requests.
#[derive(Debug, Clone, Copy)]
struct Near {
    from: i64,
    to: i64,
}

impl Near {
    fn from_params(params: &BTreeMap<String, String>) -> Option<Near> {
        let num = |k: &str| params.get(k).and_then(|v| v.parse::<i64>().ok());
        let (from, to) = (num("from")?, num("to")?);
        let lead = num("lead").unwrap_or(0).clamp(0, 3600);
        Some(Near {
            from: from - lead - SLACK,
            to: to + SLACK,
        })
    }

    fn contains(self, t: Option<Timestamp>) -> bool {
        t.is_some_and(|t| (self.from..=self.to).contains(&t.unix()))
    }
}

/// Signals php-fpm itself sends when it ends a child on purpose: SIGQUIT
/// (graceful), SIGTERM (request_terminate_timeout, reloads).
const DELIBERATE: [i32; 2] = [3, 15];

pub fn run(host: &mut Session, params: &BTreeMap<String, String>, out: &mut Out) {
    let near = Near::from_params(params);
    let Some(path) = params.get("path").map(String::as_str) else {
        out.set("readable", false);
        out.fail("no php-fpm log is known for this backend");
        return;
    };
    out.shown_as = shown(path);
    let offset = local_utc_offset();
    // php-fpm events come a little before nginx gives up (a killed request
    // is logged as it is killed): read a minute more than the window.
    let since = host.options.since.minus_secs(60);
    let tail = match tail_since(Path::new(path), since, READ_BUDGET, |l| {
        fpm_line::line_time(l, offset)
    }) {
        Ok(t) => t,
        Err(e) => {
            out.set("readable", false);
            out.fail(e.to_string());
            return;
        }
    };
    out.set("readable", true);
    let (mut max_children, mut timed_out, mut crashed, mut lines) = (0_i64, 0_i64, 0_i64, 0_i64);
    let (mut max_children_near, mut timed_out_near, mut crashed_near) = (0_i64, 0_i64, 0_i64);
    for entry in &tail.entries {
        let raw = String::from_utf8_lossy(entry);
        let Some(line) = fpm_line::parse_line(&raw, offset) else {
            continue;
        };
        lines += 1;
        let is_near = near.is_some_and(|n| n.contains(line.time));
        let quoted = sanitize::truncate(
            &sanitize::for_terminal(raw.trim_end().as_bytes()),
            LINE_CHARS,
        );
        match line.event {
            FpmEvent::MaxChildrenReached { .. } => {
                max_children += 1;
                max_children_near += i64::from(is_near);
                out.set("max_children_line", quoted);
            }
            FpmEvent::ExecutionTimedOut { .. } => {
                timed_out += 1;
                timed_out_near += i64::from(is_near);
                out.set("timed_out_line", quoted);
            }
            FpmEvent::ChildExited {
                signal: Some(sig), ..
            } if !DELIBERATE.contains(&sig) => {
                crashed += 1;
                crashed_near += i64::from(is_near);
                out.set("crash_signal", i64::from(sig));
                out.set("crash_line", quoted);
            }
            _ => {}
        }
    }
    out.set("max_children", max_children);
    out.set("timed_out", timed_out);
    out.set("crashed", crashed);
    out.set("lines", lines);
    if near.is_some() {
        out.set("max_children_near", max_children_near);
        out.set("timed_out_near", timed_out_near);
        out.set("crashed_near", crashed_near);
    }
}

/// What a person would type to see the same lines.
pub(super) fn shown(path: &str) -> String {
    format!("tail -n 100 {}", crate::shell::words(&[path.to_owned()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn near_spans_the_failures_with_slack() {
        let near = Near::from_params(&params(&[("from", "1000"), ("to", "1010")])).unwrap();
        assert!(near.contains(Some(Timestamp::from_unix(998))));
        assert!(near.contains(Some(Timestamp::from_unix(1012))));
        assert!(!near.contains(Some(Timestamp::from_unix(1013))));
        assert!(!near.contains(None));
    }

    #[test]
    fn lead_reaches_back_by_the_read_timeout() {
        let near = Near::from_params(&params(&[("from", "1000"), ("to", "1000"), ("lead", "60")]))
            .unwrap();
        assert!(near.contains(Some(Timestamp::from_unix(940))));
        assert!(!near.contains(Some(Timestamp::from_unix(937))));
    }

    #[test]
    fn without_failure_times_nothing_is_near() {
        assert!(Near::from_params(&params(&[("path", "/x")])).is_none());
    }
}
