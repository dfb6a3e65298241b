//! Hostile text in the forms people paste to `explain`: escape sequences
//! and invalid UTF-8 in a shipper's prefix, in a message without its
//! prefix, in an `[emerg]` line's directive and file, in a line with smart
//! quotes, in a line a terminal wrapped and one cut inside `upstream:`;
//! shell syntax in the file an `[emerg]` names; and pasted forms of a
//! megabyte. Everything is explained (exit 0) or refused (exit 2), the
//! output holds no control character, no offered command quotes the
//! hostile text, and the time and output stay bounded.

use std::time::{Duration, Instant};

use super::{ESCAPES, Run, assert_terminal_safe, escape_lines};
use crate::explain::explain;

/// `nginx-doctor explain --format FORMAT` with `input` on stdin, for each
/// format; panics unless it exits `status` with terminal-safe output.
fn explain_all(input: &[u8], status: i32) -> Vec<Run> {
    ["text", "json"]
        .into_iter()
        .map(|format| {
            let done = explain(&["--format", format], input);
            let run = Run {
                status: Some(done.status),
                stdout: done.stdout,
                stderr: done.stderr,
            };
            assert_eq!(run.status, Some(status), "{format}\n{run}");
            assert_terminal_safe(&run);
            run
        })
        .collect()
}

/// The refused connect of [`escape_lines`] (ESCAPES in its server,
/// request, upstream, host and referrer) from the message on: no prefix.
fn hostile_message() -> Vec<u8> {
    let line = escape_lines().swap_remove(0);
    let at = line
        .windows(9)
        .position(|w| w == b"connect()")
        .expect("the message");
    line[at..].to_vec()
}

fn with(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    [prefix, rest].concat()
}

#[test]
fn escapes_in_a_shipper_prefix_are_shown_escaped() {
    let mut prefix = b"web".to_vec();
    prefix.extend_from_slice(ESCAPES);
    prefix.extend_from_slice(b"-1  | 2026/11/24 21:18:00 [error] 1#1: *3 ");
    let runs = explain_all(&with(&prefix, &hostile_message()), 0);
    assert!(runs[0].stdout().contains("pwned-title"), "{}", runs[0]);
    assert!(
        runs[1].json()["lines"][0]["paste"]["prefix"]
            .as_str()
            .is_some_and(|p| p.contains("\\x1b"))
    );
}

#[test]
fn escapes_in_a_message_without_prefix_are_shown_escaped() {
    let runs = explain_all(&hostile_message(), 0);
    assert_eq!(runs[1].json()["lines"][0]["signature"], "conn-refused-tcp");
}

/// Escape sequences without a space: nginx names a file up to the first.
const TIGHT: &[u8] = b"\x1b]0;pwned-title\x07\x1b[2J\xc2\x9b1A\xe2\x80\xaeRTL\x00\x7f\xff";

#[test]
fn escapes_in_an_emerg_directive_and_file_are_shown_escaped() {
    let line = with(
        &with(b"nginx: [emerg] unknown directive \"", ESCAPES),
        &with(b"\" in /etc/nginx/", &with(TIGHT, b".conf:6")),
    );
    let runs = explain_all(&line, 0);
    let config = &runs[1].json()["lines"][0]["config_error"];
    assert_eq!(config["id"], "unknown-directive");
    assert!(
        config["at"].as_str().is_some_and(|a| a.contains("\\x1b")),
        "{config:#}"
    );
}

#[test]
fn shell_syntax_in_the_file_an_emerg_names_is_in_no_offered_command() {
    let line = b"2026/11/24 21:18:00 [emerg] 1#1: unknown directive \"x\" in /etc/nginx/$(touch pwned);`touch pwned`.conf:6";
    let runs = explain_all(line, 0);
    let text = runs[0].stdout();
    let offered: Vec<&str> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("$ "))
        .collect();
    assert!(!offered.is_empty(), "{}", runs[0]);
    for command in offered {
        assert!(!command.contains("touch"), "{command}");
    }
}

#[test]
fn escapes_in_a_smart_quoted_wrapped_and_cut_line_are_shown_escaped() {
    let mut smart = String::from_utf8_lossy(&hostile_message()).replace('"', "\u{201d}");
    smart.insert_str(0, "2026-12-01T10:00:01Z ");
    explain_all(smart.as_bytes(), 0);
    let message = hostile_message();
    let wrapped: Vec<&[u8]> = message.chunks(61).collect();
    explain_all(&wrapped.join(&b"\n"[..]), 0);
    let cut_at = message
        .windows(6)
        .position(|w| w == b"9/\x1b]8;")
        .expect("upstream")
        + 4;
    let runs = explain_all(&message[..cut_at], 0);
    let missing = runs[1].json()["lines"][0]["paste"]["missing"].to_string();
    assert!(missing.contains("cut-in-upstream"), "{missing}");
}

#[test]
fn a_megabyte_of_pasted_forms_stays_bounded() {
    let mut bare = b"connect() failed (111: Connection refused) while connecting to upstream, client: 1.2.3.4, server: x, request: \"GET /".to_vec();
    bare.extend(std::iter::repeat_n(b'A', 1 << 20));
    let mut wrapped = b"2026/11/24 21:18:00 [error] 1#1: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 1.2.3.4, server: x, request: \"GET /".to_vec();
    for _ in 0..(1 << 20) / 61 {
        wrapped.extend_from_slice(b"\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    }
    let pieces =
        b"[error] 1#1: *1 upstream timed out (110: Connection timed out)\n".repeat((1 << 20) / 64);
    for input in [bare, wrapped, pieces] {
        let started = Instant::now();
        for run in explain_all(&input, 0) {
            assert!(run.stdout.len() < 1 << 20, "{} bytes out", run.stdout.len());
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
    }
}
