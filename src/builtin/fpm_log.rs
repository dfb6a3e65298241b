//! The `fpm-log` built-in: php-fpm's own account of the same minutes —
//! a full pool, requests it killed, workers that died.
//!
//! This is what tells a "Connection reset by peer" apart: the nginx line is
//! the same for a killed request and a crashed worker, php-fpm's is not.

use std::path::Path;

use super::{Host, Out};
use crate::logs::fpm_line::{self, FpmEvent};
use crate::logs::time::local_utc_offset;
use crate::logs::window::tail_since;
use crate::sanitize;

const READ_BUDGET: u64 = 8 << 20;
const LINE_CHARS: usize = 600;

/// Signals php-fpm itself sends when it ends a child on purpose: SIGQUIT
/// (graceful), SIGTERM (request_terminate_timeout, reloads).
const DELIBERATE: [i32; 2] = [3, 15];

pub fn run(host: &mut Host, path: Option<&str>, out: &mut Out) {
    let Some(path) = path else {
        out.set("readable", false);
        out.fail("no php-fpm log is known for this backend");
        return;
    };
    out.shown_as = format!("tail -n 100 {path}");
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
    for entry in &tail.entries {
        let raw = String::from_utf8_lossy(entry);
        let Some(line) = fpm_line::parse_line(&raw, offset) else {
            continue;
        };
        lines += 1;
        let quoted = sanitize::truncate(
            &sanitize::for_terminal(raw.trim_end().as_bytes()),
            LINE_CHARS,
        );
        match line.event {
            FpmEvent::MaxChildrenReached { .. } => {
                max_children += 1;
                out.set("max_children_line", quoted);
            }
            FpmEvent::ExecutionTimedOut { .. } => {
                timed_out += 1;
                out.set("timed_out_line", quoted);
            }
            FpmEvent::ChildExited {
                signal: Some(sig), ..
            } if !DELIBERATE.contains(&sig) => {
                crashed += 1;
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
}
