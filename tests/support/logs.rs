//! Reading what the lab's daemons wrote: waiting (bounded) for a log line to appear, and
//! cutting an nginx error-log line down to the message a report is expected to quote.

use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The first line of `path` containing `needle`, polling every 50 ms for up to `limit`;
/// panics with the file's content when it never appears.
pub fn wait_for_line(path: &Path, needle: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let text = read_lossy(path);
        if let Some(line) = text.lines().find(|l| l.contains(needle)) {
            return line.to_string();
        }
        if Instant::now() >= deadline {
            panic!(
                "no line with {needle:?} in {} after {limit:?}:\n{text}",
                path.display()
            );
        }
        sleep(Duration::from_millis(50));
    }
}

/// The message of an nginx error-log line: after the `*CONN ` request counter and before
/// `, client:` — `connect() failed (111: Connection refused) while connecting to upstream`.
/// Lines without a request context are returned whole.
pub fn nginx_message(line: &str) -> &str {
    let after_counter = line.split_once(" *").and_then(|(_, m)| m.split_once(' '));
    let message = after_counter.map_or(line, |(_, m)| m);
    message.split(", client:").next().unwrap_or(message)
}

/// A file's content, lossily decoded; empty when it cannot be read (not written yet).
pub fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_message_drops_timestamp_counter_and_request_context() {
        let line = "2026/11/24 21:18:53 [error] 7#7: *2 connect() failed (111: Connection refused) \
                    while connecting to upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.0\"";
        assert_eq!(
            nginx_message(line),
            "connect() failed (111: Connection refused) while connecting to upstream"
        );
    }

    #[test]
    fn a_line_without_request_context_stays_whole() {
        let line = "2026/11/24 21:18:53 [notice] 7#7: start worker processes";
        assert_eq!(nginx_message(line), line);
    }
}
