//! `nginx-doctor explain`, run as a binary: the lab lines of the catalogue's
//! results matrix (§6.7) get their signature, status and most likely cause;
//! input comes as an argument or on stdin; JSON has its documented shape;
//! hostile input stays inert; text that is no nginx line exits 2. What
//! people paste (prefixes, fragments, cut and wrapped lines) is in
//! `explain/pasted.rs`, configuration and start-up errors in
//! `explain/emerg.rs`.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::doctor::BINARY;

mod emerg;
mod pasted;

/// One finished `explain` run.
pub(crate) struct Run {
    pub(crate) status: i32,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn first(&self) -> Value {
        self.json()["lines"][0].clone()
    }
}

/// Runs `nginx-doctor explain ARGS` with `stdin` on its standard input.
pub(crate) fn explain(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(BINARY)
        .arg("explain")
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_vec();
    // A writer thread: the child may stop reading at 1 MiB and exit, and a
    // full pipe must not block this test (a write error is expected then).
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("the binary runs");
    let _ = writer.join();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

fn explain_json(line: &str) -> Run {
    explain(&["--format", "json", line], b"")
}

/// The request context nginx appends; the matrix quotes only messages.
const CTX: &str = r#", client: 127.0.0.1, server: , request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:9001/x", host: "127.0.0.1:8080""#;
const T: &str = "2026/11/24 21:18:00 ";

/// A line with message `msg` at `level`, in the lab's context.
fn lab(level: &str, msg: &str) -> String {
    format!("{T}[{level}] 20734#20734: *1 {msg}{CTX}")
}

/// The same with the lab's own `upstream:` value.
fn lab_to(level: &str, msg: &str, upstream: &str) -> String {
    lab(level, msg).replace("http://127.0.0.1:9001/x", upstream)
}

/// The catalogue's §6.7 results matrix, one row per logged line:
/// `signature status first-cause | level | message [| upstream]`, with `-`
/// for "none". A `line` level gives the whole line, for rows without the
/// usual context (and for the disabled warning, whose connection differs
/// from the other rows': it stands alone, with no failure behind it). Notes: "proxy_pass http -> php-fpm TCP" is the lab's own
/// line, whose port (9100) tells nothing, so the static order holds (port
/// 9000 is tested on its own); the matrix rows for the [::1] backend, the
/// tcp-reset REJECT and the moved host log the same refused line as the
/// first row, and the php-fpm kills the same reset as the unix-socket row.
const MATRIX: &str = r#"
conn-refused-tcp 502 backend-down | error | connect() failed (111: Connection refused) while connecting to upstream
host-unreachable 502 firewall-blocked | error | connect() failed (113: No route to host) while connecting to upstream
connect-timeout 504 firewall-blocked | error | upstream timed out (110: Connection timed out) while connecting to upstream
host-unreachable 502 firewall-blocked | error | connect() to 127.0.0.5:80 failed (113: No route to host) while connecting to upstream
tcp-eacces 502 selinux-denied | crit | connect() to 127.0.0.6:80 failed (13: Permission denied) while connecting to upstream
net-unreachable 502 backend-wrong-address | error | connect() to 127.0.0.7:80 failed (101: Network is unreachable) while connecting to upstream
port-exhaustion 502 ephemeral-ports-exhausted | crit | connect() to 127.0.0.1:9025 failed (99: Cannot assign requested address) while connecting to upstream
unix-socket-missing 502 backend-down | crit | connect() to unix:/srv/lab/run/php-missing.sock failed (2: No such file or directory) while connecting to upstream | fastcgi://unix:/srv/lab/run/php-missing.sock:
unix-socket-stale 502 backend-down | error | connect() to unix:/srv/lab/run/stale.sock failed (111: Connection refused) while connecting to upstream | http://unix:/srv/lab/run/stale.sock:/
unix-socket-eacces 502 socket-permission | crit | connect() to unix:/srv/lab/run/perm.sock failed (13: Permission denied) while connecting to upstream | fastcgi://unix:/srv/lab/run/perm.sock:
unix-backlog-full 502 backend-pool-exhausted | error | connect() to unix:/srv/lab/run/mc.sock failed (11: Resource temporarily unavailable) while connecting to upstream | fastcgi://unix:/srv/lab/run/mc.sock:
upstream-disabled-warn - no-live-upstreams | line | 2026/11/24 21:18:00 [warn] 20734#20734: *2 upstream server temporarily disabled while connecting to upstream, client: 127.0.0.1, server: , request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:9001/x", host: "127.0.0.1:8080"
no-live-upstreams 502 no-live-upstreams | error | no live upstreams while connecting to upstream | http://dead2/nolive
internal-500 500 - | crit | bind(127.0.0.1:9030) failed (98: Address already in use) while connecting to upstream
internal-500 500 - | alert | 3 worker_connections are not enough while connecting to upstream
resolve-failed 502 upstream-dns-failed | error | nonexistent.invalid could not be resolved (110: Operation timed out)
bad-port-config 500 config-invalid | error | invalid port in upstream "127.0.0.1:99999"
read-header-timeout 504 upstream-timeout | error | upstream timed out (110: Connection timed out) while reading response header from upstream
send-timeout 504 backend-pool-exhausted | error | upstream timed out (110: Connection timed out) while sending request to upstream
send-reset 502 backend-request-killed | error | writev() failed (104: Connection reset by peer) while sending request to upstream
premature-close-header 502 backend-request-killed | error | upstream prematurely closed connection while reading response header from upstream
reset-header 502 backend-request-killed | error | recv() failed (104: Connection reset by peer) while reading response header from upstream
too-big-header 502 header-too-big | error | upstream sent too big header while reading response header from upstream
invalid-header 502 invalid-upstream-response | error | upstream sent invalid header: "Bad\x20..." while reading response header from upstream
invalid-header 502 invalid-upstream-response | error | upstream sent invalid header: "X-Nul: a\x00..." while reading response header from upstream
no-valid-http - pass-protocol-mismatch | error | upstream sent no valid HTTP/1.0 header while reading response header from upstream
body-phase - - | error | upstream prematurely closed connection while reading upstream
body-phase - - | error | upstream timed out (110: Connection timed out) while reading upstream
fastcgi-protocol-version 502 pass-protocol-mismatch | error | upstream sent unsupported FastCGI protocol version: 72 while reading response header from upstream | fastcgi://127.0.0.1:9030
ssl-handshake-timeout 504 pass-protocol-mismatch | error | upstream timed out (110: Connection timed out) while SSL handshaking to upstream
reset-header 502 backend-request-killed | error | recv() failed (104: Connection reset by peer) while reading response header from upstream | http://127.0.0.1:9100/http-to-fpm
grpc-frame 502 pass-protocol-mismatch | error | upstream sent too large http2 frame: 4740180 while reading response header from upstream | grpc://127.0.0.1:9030
invalid-status 502 invalid-upstream-response | error | upstream sent invalid status "abc" while reading response header from upstream
fastcgi-bad-record 502 invalid-upstream-response | error | upstream sent unexpected FastCGI record: 3 while reading response header from upstream
fastcgi-closed-stdout 502 invalid-upstream-response | error | upstream prematurely closed FastCGI stdout while reading response header from upstream
fastcgi-stderr - - | error | FastCGI sent in stderr: "PHP message: something bad" while reading response header from upstream
fastcgi-stderr 404 - | error | FastCGI sent in stderr: "Primary script unknown" while reading response header from upstream
fastcgi-stderr 403 - | error | FastCGI sent in stderr: "Access to the script '/srv/lab/www/x.txt' has been denied (see security.limit_extensions)" while reading response header from upstream
fastcgi-stderr 500 - | error | FastCGI sent in stderr: "PHP message: PHP Fatal error:  Uncaught Error: x" while reading response header from upstream
reset-header 502 backend-request-killed | error | recv() failed (104: Connection reset by peer) while reading response header from upstream | fastcgi://unix:/srv/lab/run/php.sock:
ssl-wrong-version 502 pass-protocol-mismatch | error | SSL_do_handshake() failed (SSL: error:0A00010B:SSL routines::wrong version number) while SSL handshaking to upstream
ssl-handshake-alert 502 upstream-tls-failed | error | SSL_do_handshake() failed (SSL: error:0A000410:SSL routines::sslv3 alert handshake failure:SSL alert number 40) while SSL handshaking to upstream
ssl-verify-error 502 upstream-tls-failed | error | upstream SSL certificate verify error: (18:self-signed certificate) while SSL handshaking to upstream
ssl-verify-error 502 upstream-tls-failed | error | upstream SSL certificate verify error: (20:unable to get local issuer certificate) while SSL handshaking to upstream
ssl-name-mismatch 502 upstream-tls-failed | error | upstream SSL certificate does not match "wrong.example" while SSL handshaking to upstream
no-resolver 502 upstream-dns-failed | line | 2026/11/24 21:18:00 [error] 20734#20734: *42 no resolver defined to resolve nonexistent.invalid, client: 127.0.0.1, server: , request: "GET /noresolver HTTP/1.1", host: "127.0.0.1:8080"
resolve-failed 502 upstream-dns-failed | line | 2026/11/24 21:18:00 [error] 20734#20734: *43 nonexistent.invalid could not be resolved (3: Host not found), client: 127.0.0.1, server: , request: "GET /resolver-nx HTTP/1.1", host: "127.0.0.1:8080"
host-not-found-config - config-invalid | line | 2026/11/24 21:22:58 [emerg] 22799#22799: host not found in upstream "backend.invalid" in /srv/lab/etcnginx/sites-enabled/app:4
"#;

/// One matrix row: the line, and the signature, status and first cause it should get.
struct Row {
    line: String,
    signature: String,
    status: Option<u64>,
    first: Option<String>,
}

fn matrix() -> Vec<Row> {
    let none_if_dash = |s: &str| (s != "-").then(|| s.to_owned());
    MATRIX
        .lines()
        .filter(|l| !l.is_empty())
        .map(|row| {
            let parts: Vec<&str> = row.splitn(4, " | ").collect();
            let want: Vec<&str> = parts[0].split(' ').collect();
            let line = match (parts[1], parts.get(3)) {
                ("line", _) => parts[2].to_owned(),
                (level, Some(upstream)) => lab_to(level, parts[2], upstream),
                (level, None) => lab(level, parts[2]),
            };
            Row {
                line,
                signature: want[0].to_owned(),
                status: want[1].parse().ok(),
                first: none_if_dash(want[2]),
            }
        })
        .collect()
}

#[test]
fn every_matrix_line_gets_its_signature_status_and_first_cause() {
    // One run for all: explain takes many lines, and a run costs a pack load.
    let rows = matrix();
    let input: Vec<&str> = rows.iter().map(|r| r.line.as_str()).collect();
    let run = explain(&["--format", "json"], input.join("\n").as_bytes());
    assert_eq!(run.status, 0);
    let json = run.json();
    let got = json["lines"].as_array().expect("lines");
    assert_eq!(got.len(), rows.len(), "{json:#}");
    let mut wrong = Vec::new();
    for (want, got) in rows.iter().zip(got) {
        let got_first = got["candidates"][0]["id"].as_str();
        let ok = got["signature"].as_str() == Some(want.signature.as_str())
            && got["status"].as_u64() == want.status
            && got_first == want.first.as_deref();
        if !ok {
            wrong.push(format!(
                "{}\n  got {} {} {got_first:?}, want {} {:?} {:?}",
                want.line, got["signature"], got["status"], want.signature, want.status, want.first
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn http_reset_from_php_fpm_port_ranks_protocol_mismatch_first() {
    let line = lab_to(
        "error",
        "recv() failed (104: Connection reset by peer) while reading response header from upstream",
        "http://127.0.0.1:9000/http-to-fpm",
    );
    let got = explain_json(&line).first();
    assert_eq!(got["candidates"][0]["id"], "pass-protocol-mismatch");
    let notes = got["notes"].to_string();
    assert!(notes.contains("9000"), "{notes}");
}

#[test]
fn checks_carry_the_line_s_address_in_their_commands() {
    let run = explain(
        &[&lab(
            "error",
            "connect() failed (111: Connection refused) while connecting to upstream",
        )],
        b"",
    );
    let text = run.text();
    assert!(text.contains("$ ss -Htlnp 'sport = :9001'"), "{text}");
    assert!(text.contains("sudo nginx-doctor --auto"), "{text}");
    assert!(
        !text.contains("src SOCKET"),
        "a unix-socket check for a TCP line:\n{text}"
    );
}

#[test]
fn text_output_names_phase_status_and_fields() {
    let run = explain(
        &[&lab(
            "error",
            "upstream timed out (110: Connection timed out) while reading response header from upstream",
        )],
        b"",
    );
    let text = run.text();
    assert_eq!(run.status, 0);
    for want in [
        "Line 1: read-header-timeout",
        "nginx had sent the request and was waiting for the response header",
        "The client got: 504 Gateway Timeout",
        "Request    GET /x HTTP/1.1",
        "1. upstream-timeout",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn stdin_lines_are_explained_in_order_with_a_multi_line_stderr_entry() {
    let input = format!(
        "{}\n{T}[error] 1#1: *3 FastCGI sent in stderr: \"PHP message: PHP Fatal error:  Uncaught Error: x in /srv/a.php:3\nStack trace:\n#0 {{main}}\n  thrown in /srv/a.php on line 3\" while reading response header from upstream{CTX}\nnot a log line\n",
        lab(
            "error",
            "upstream prematurely closed connection while reading response header from upstream"
        ),
    );
    let run = explain(&["--format", "json"], input.as_bytes());
    assert_eq!(run.status, 0);
    let json = run.json();
    let lines = json["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2, "{json:#}");
    assert_eq!(lines[0]["signature"], "premature-close-header");
    assert_eq!(lines[1]["signature"], "fastcgi-stderr");
    assert_eq!(lines[1]["input_line"], 2);
    assert_eq!(lines[1]["status"], 500);
    assert_eq!(lines[1]["parsed"]["client"], "127.0.0.1");
    assert_eq!(json["skipped_lines"], 1);
}

#[test]
fn json_has_the_documented_shape() {
    let json = explain_json(&lab(
        "error",
        "connect() failed (111: Connection refused) while connecting to upstream",
    ))
    .json();
    assert_eq!(json["schema"], 1);
    let line = &json["lines"][0];
    for key in [
        "parsed",
        "signature",
        "status",
        "summary",
        "client_got",
        "phase",
        "notes",
        "candidates",
    ] {
        assert!(line.get(key).is_some(), "no {key} in {line:#}");
    }
    let parsed = &line["parsed"];
    assert_eq!(parsed["errno"], 111);
    assert_eq!(parsed["upstream"], "http://127.0.0.1:9001/x");
    assert_eq!(parsed["local_time"], "2026/11/24 21:18:00");
    let candidate = &line["candidates"][0];
    assert!(candidate["summary"].as_str().is_some_and(|s| !s.is_empty()));
    let check = &candidate["checks"][0];
    assert!(
        check["say"].is_string() && check.get("run").is_some(),
        "{check:#}"
    );
}

#[test]
fn line_that_is_no_upstream_failure_is_said_so_and_exits_0() {
    let run = explain(&[&format!("{T}[notice] 1#1: signal process started")], b"");
    assert_eq!(run.status, 0);
    assert!(run.text().contains("no upstream failure"), "{}", run.text());
}

#[test]
fn text_that_is_no_nginx_line_exits_2_and_says_so() {
    let access =
        r#"127.0.0.1 - - [24/Nov/2026:21:18:00 +0000] "GET / HTTP/1.1" 502 157 "-" "curl/7.88""#;
    let run = explain(&[access], b"");
    assert_eq!(run.status, 2);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("no nginx error-log line"), "{err}");
    let empty = explain(&[], b"");
    assert_eq!(empty.status, 2);
}

/// No byte of a terminal escape (ESC, or 8-bit CSI/OSC as UTF-8) in `bytes`.
fn assert_inert(bytes: &[u8]) {
    assert!(!bytes.contains(&0x1b), "raw ESC in output");
    assert!(
        !bytes
            .windows(2)
            .any(|w| w == [0xc2, 0x9b] || w == [0xc2, 0x9d]),
        "raw C1 control in output"
    );
}

#[test]
fn escapes_in_the_line_reach_neither_text_nor_json_raw() {
    let hostile = lab(
        "error",
        "upstream prematurely closed connection while reading response header from upstream",
    )
    .replace(
        "GET /x",
        "GET /\u{1b}[2J\u{1b}]8;;http://evil/\u{7}click\u{9b}31m\u{202e}$(rm -rf /)",
    );
    for format in ["text", "json"] {
        let run = explain(&["--format", format, &hostile], b"");
        assert_eq!(run.status, 0, "{format}");
        assert_inert(&run.stdout);
        assert_inert(&run.stderr);
        assert!(
            run.text().contains("\\x1b[2J"),
            "{format}: the escape is shown visibly\n{}",
            run.text()
        );
    }
}

#[test]
fn invalid_utf8_on_stdin_is_explained_without_panic() {
    let mut input = lab(
        "error",
        "upstream sent invalid header: \"X\" while reading response header from upstream",
    )
    .into_bytes();
    let at = input.iter().position(|&b| b == b'X').expect("marker");
    input.splice(at..=at, [0xff, 0xfe, 0x1b, b'[', b'3', b'1', b'm', 0x00]);
    let run = explain(&["--format", "json"], &input);
    assert_eq!(run.status, 0, "{}", String::from_utf8_lossy(&run.stderr));
    assert_inert(&run.stdout);
    assert_eq!(run.first()["signature"], "invalid-header");
}

#[test]
fn more_than_a_mib_on_stdin_is_cut_and_still_explained() {
    let mut input = lab(
        "error",
        "connect() failed (111: Connection refused) while connecting to upstream",
    )
    .replace(
        "GET /x",
        &format!("GET /{}", "\u{1b}]0;x\u{7}".repeat(200_000)),
    );
    input.push('\n');
    input.push_str(&"junk\n".repeat(100_000));
    assert!(input.len() > 1 << 20);
    let run = explain(&["--format", "json"], input.as_bytes());
    assert_eq!(run.status, 0, "{}", String::from_utf8_lossy(&run.stderr));
    assert_inert(&run.stdout);
    let json = run.json();
    assert_eq!(json["input_truncated"], true);
    assert_eq!(json["lines"][0]["signature"], "conn-refused-tcp");
    assert!(
        run.stdout.len() < 64 * 1024,
        "output is bounded: {} bytes",
        run.stdout.len()
    );
}

#[test]
fn every_cause_has_a_doc_in_the_embedded_pack() {
    let set = nginx_doctor::rules::RuleSet::embedded().expect("the embedded pack loads");
    for (id, doc) in &set.causes {
        assert!(!doc.summary.trim().is_empty(), "{id}: empty summary");
        assert!(!doc.checks.is_empty(), "{id}: no checks");
    }
}
