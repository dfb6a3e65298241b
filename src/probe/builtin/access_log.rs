//! The `access-log` built-in: 502s and 504s that nginx answered without an
//! error-log line — the backend's own, passed through.
//!
//! nginx writes an error-log line for every 502/504 it generates itself; a
//! 502 in the access log with none in the error log came from upstream.

use super::nginx_probe::Discover;
use crate::session::Session;
use std::path::PathBuf;

use super::Out;
use crate::logs::Timestamp;
use crate::logs::window::tail_since;
use crate::sanitize;

const READ_BUDGET: u64 = 16 << 20;

pub fn run(host: &mut Session, out: &mut Out) {
    let logs = access_logs(host);
    out.shown_as = shown(&logs);
    let since = host.options.since;
    let (mut count, mut read) = (0_i64, Vec::new());
    for path in &logs {
        let Ok(tail) = tail_since(path, since, READ_BUDGET, line_time) else {
            continue;
        };
        read.push(path.display().to_string());
        for entry in &tail.entries {
            let text = String::from_utf8_lossy(entry);
            if line_time(entry).is_some_and(|t| t >= since)
                && matches!(status(&text), Some(502 | 504))
            {
                count += 1;
                out.set(
                    "line",
                    sanitize::truncate(&sanitize::for_terminal(text.trim_end().as_bytes()), 600),
                );
            }
        }
    }
    out.set("count", count);
    out.set("logs", read.join(", "));
}

/// What a person would type to see the same answers.
pub(super) fn shown(logs: &[PathBuf]) -> String {
    let words: Vec<String> = logs.iter().map(|p| p.display().to_string()).collect();
    format!("awk '$9 ~ /^50[24]$/' {}", crate::shell::words(&words))
}

pub(super) fn access_logs(host: &mut Session) -> Vec<PathBuf> {
    let view = host.nginx();
    let mut logs: Vec<PathBuf> = view
        .model
        .iter()
        .flat_map(|m| &m.access_logs)
        .filter(|s| !s.value.contains('$'))
        .map(|s| PathBuf::from(&s.value))
        .collect();
    logs.sort();
    logs.dedup();
    if logs.is_empty() {
        logs.push(PathBuf::from("/var/log/nginx/access.log"));
    }
    logs
}

/// The status of a `combined`-style line: the number after the quoted request.
fn status(line: &str) -> Option<u16> {
    let after_time = &line[line.find("] \"")? + 3..];
    let after_request = &after_time[after_time.find("\" ")? + 2..];
    after_request.get(..3)?.parse().ok()
}

/// `[25/Nov/2026:13:27:13 +0100]`: the access log carries its zone.
fn line_time(line: &[u8]) -> Option<Timestamp> {
    let text = std::str::from_utf8(line.get(..line.len().min(200))?).ok()?;
    let stamp = &text[text.find('[')? + 1..];
    let stamp = &stamp[..stamp.find(']')?];
    let (when, zone) = stamp.split_once(' ')?;
    let (date, clock) = when.split_once(':')?;
    let mut d = date.split('/');
    let (day, month, year) = (d.next()?, d.next()?, d.next()?);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    let local = format!("{year}/{month:02}/{day} {clock}");
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let hours: i32 = zone.get(1..3)?.parse().ok()?;
    let minutes: i32 = zone.get(3..5)?.parse().ok()?;
    crate::logs::nginx_line::line_time(local.as_bytes(), sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"127.0.0.1 - - [25/Nov/2026:13:27:13 +0000] "GET /x?a=\x22b\x22 HTTP/1.1" 502 157 "-" "curl/7.88""#;

    #[test]
    fn status_follows_the_quoted_request() {
        assert_eq!(status(LINE), Some(502));
        assert_eq!(status("garbage"), None);
    }

    #[test]
    fn time_applies_the_logged_zone() {
        let utc = line_time(LINE.as_bytes()).unwrap();
        let plus_one = line_time(LINE.replace("+0000", "+0100").as_bytes()).unwrap();
        assert_eq!(utc.unix() - plus_one.unix(), 3600);
    }
}
