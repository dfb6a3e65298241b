//! `nginx-doctor scan` as users run it: on generated error logs, in text and
//! JSON, with `--since`, rotated and compressed copies, logs named by a
//! configuration, and hostile lines that must neither break the scan nor
//! reach the terminal.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use nginx_doctor::logs::Timestamp;
use nginx_doctor::logs::time::local_utc_offset_at;
use serde_json::Value;

use crate::support::doctor::{BINARY, DOCTOR_TIMEOUT, DoctorRun, run_bounded};

/// Long before any generated line: every line is in the window.
const ALL: &str = "2000-01-01 00:00";
const REFUSED: &str = "connect() failed (111: Connection refused) while connecting to upstream";
const TIMEOUT: &str =
    "upstream timed out (110: Connection timed out) while reading response header from upstream";
const STDERR: &str =
    "FastCGI sent in stderr: \"PHP message: x\" while reading response header from upstream";

fn scan(args: &[&str]) -> DoctorRun {
    let mut all = vec!["scan".to_owned()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    run_bounded(BINARY, &all, Path::new("/"), DOCTOR_TIMEOUT)
}

/// `t` as nginx writes it: local time, `YYYY/MM/DD HH:MM:SS`.
fn stamp(t: Timestamp) -> String {
    let local = Timestamp::from_unix(t.unix() + i64::from(local_utc_offset_at(t)));
    let rfc = local.to_string(); // 2026-11-24T21:18:00Z
    format!("{} {}", rfc[..10].replace('-', "/"), &rfc[11..19])
}

/// 2026/11/24 21:18:00 UTC plus `secs`.
fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix(1_795_555_080 + secs)
}

/// One error-log line at `t` with `message` and a request context naming `upstream`.
fn line(t: Timestamp, level: &str, message: &str, upstream: &str) -> String {
    format!(
        "{} [{level}] 2100#2100: *7 {message}, client: 10.0.0.1, server: shop, request: \"GET /a HTTP/1.1\", upstream: \"{upstream}\", host: \"shop\"\n",
        stamp(t)
    )
}

/// 3 refused (two upstreams), 1 timeout, and noise that is not counted.
fn mixed_log() -> String {
    [
        line(at(0), "error", REFUSED, "http://127.0.0.1:9001/a"),
        line(
            at(10),
            "info",
            "client prematurely closed connection while sending to client",
            "http://127.0.0.1:9001/a",
        ),
        line(at(20), "error", STDERR, "fastcgi://unix:/run/php.sock:"),
        line(at(65), "error", REFUSED, "http://127.0.0.1:9001/a"),
        line(at(70), "error", TIMEOUT, "fastcgi://unix:/run/php.sock:"),
        line(at(600), "error", REFUSED, "http://10.0.0.2:8080/a"),
    ]
    .concat()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, text).expect("write log");
    path.display().to_string()
}

fn write_gz(dir: &Path, name: &str, text: &str) {
    let file = fs::File::create(dir.join(name)).expect("create");
    let mut gz = GzEncoder::new(file, Compression::fast());
    gz.write_all(text.as_bytes()).expect("compress");
    gz.finish().expect("finish");
}

fn signature<'a>(run: &'a DoctorRun, id: &str) -> &'a Value {
    let sigs = run.json["signatures"].as_array();
    let found = sigs.and_then(|s| s.iter().find(|s| s["id"] == id));
    found.unwrap_or_else(|| panic!("no signature {id}\n{run}"))
}

#[test]
fn text_counts_by_signature_and_upstream_with_sparklines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = write(dir.path(), "error.log", &mixed_log());
    let run = scan(&[&log, "--since", ALL]);
    assert_eq!(run.status, 1, "{run}");
    assert!(run.stdout.contains("4 upstream failures"), "{run}");
    let refused = run
        .stdout
        .lines()
        .find(|l| l.contains("conn-refused-tcp"))
        .expect("a row");
    assert!(refused.contains(" 3  502 "), "{run}");
    assert!(
        refused.contains("2026-11-24T21:18:00Z  2026-11-24T21:28:00Z"),
        "{run}"
    );
    assert!(run.stdout.contains("read-header-timeout"), "{run}");
    assert!(!run.stdout.contains("fastcgi-stderr"), "{run}");
    assert!(run.stdout.contains('█'), "no sparkline\n{run}");
    assert!(run.stdout.contains("2  127.0.0.1:9001"), "{run}");
    assert!(run.stdout.contains("1  unix:/run/php.sock"), "{run}");
}

/// `--error-log` means what it means to the diagnosis: the log to read,
/// instead of those the configuration names.
#[test]
fn an_error_log_flag_is_read_like_a_named_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = write(dir.path(), "error.log", &mixed_log());
    let run = scan(&["--error-log", &log, "--since", ALL, "--format", "json"]);
    assert_eq!(run.status, 1, "{run}");
    assert_eq!(run.json["total"], 4, "{run}");
    assert_eq!(run.json["logs"][0], log.as_str(), "{run}");
}

/// `--error-log` is checked as the diagnosis checks it: a path that is not
/// there is a usage error naming the flag, not an empty count.
#[test]
fn a_missing_error_log_flag_is_a_usage_error_naming_it() {
    let run = scan(&["--error-log", "/nonexistent/error.log"]);
    assert_eq!(run.status, 2, "{run}");
    assert!(
        run.stderr
            .contains("--error-log /nonexistent/error.log: no such file."),
        "{run}"
    );
}

#[test]
fn json_has_counts_status_first_last_and_buckets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = write(dir.path(), "error.log", &mixed_log());
    let run = scan(&[&log, "--since", ALL, "--format", "json"]);
    assert_eq!(run.status, 1, "{run}");
    assert_eq!(run.json["schema"], 1, "{run}");
    assert_eq!(run.json["total"], 4, "{run}");
    assert_eq!(run.json["bucket_secs"], 60, "{run}");
    assert_eq!(run.json["logs"][0], log.as_str(), "{run}");
    let refused = signature(&run, "conn-refused-tcp");
    assert_eq!(refused["status"], 502);
    assert_eq!(refused["count"], 3);
    assert_eq!(refused["first"], "2026-11-24T21:18:00Z");
    assert_eq!(refused["last"], "2026-11-24T21:28:00Z");
    let buckets: Vec<u64> = refused["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert_eq!(buckets.len(), 11, "{run}");
    assert_eq!((buckets[0], buckets[1], buckets[10]), (1, 1, 1), "{run}");
    assert_eq!(signature(&run, "read-header-timeout")["status"], 504);
    assert_eq!(run.json["upstreams"][0]["upstream"], "127.0.0.1:9001");
    assert_eq!(run.json["upstreams"][0]["count"], 2);
    assert_eq!(run.json["unreadable"], Value::Array(vec![]));
}

#[test]
fn since_leaves_older_failures_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let now = Timestamp::now();
    let text = [
        line(
            now.minus_secs(2 * 86_400),
            "error",
            REFUSED,
            "http://127.0.0.1:9001/",
        ),
        line(
            now.minus_secs(3 * 3600),
            "error",
            TIMEOUT,
            "http://127.0.0.1:9001/",
        ),
        line(
            now.minus_secs(600),
            "error",
            REFUSED,
            "http://127.0.0.1:9001/",
        ),
    ]
    .concat();
    let log = write(dir.path(), "error.log", &text);
    let run = scan(&[&log, "--since", "1h", "--format", "json"]);
    assert_eq!(run.status, 1, "{run}");
    assert_eq!(run.json["total"], 1, "{run}");
    assert_eq!(signature(&run, "conn-refused-tcp")["count"], 1);
    let day = scan(&[&log, "--since", "1d", "--format", "json"]);
    assert_eq!(day.json["total"], 2, "{day}");
    assert_eq!(day.json["bucket_secs"], 900, "{day}");
}

#[test]
fn no_failure_in_the_window_exits_0_and_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let old = line(
        Timestamp::now().minus_secs(7200),
        "error",
        REFUSED,
        "http://127.0.0.1:9001/",
    );
    let log = write(dir.path(), "error.log", &old);
    let run = scan(&[&log, "--since", "15m"]);
    assert_eq!(run.status, 0, "{run}");
    assert!(run.stdout.contains("No upstream failure since"), "{run}");
}

#[test]
fn rotated_and_compressed_copies_are_read_as_far_as_the_window_reaches() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let refused = |secs| line(at(secs), "error", REFUSED, "http://127.0.0.1:9001/");
    write_gz(d, "error.log.3.gz", &refused(0));
    write_gz(d, "error.log.2.gz", &(refused(100) + &refused(110)));
    write(d, "error.log.1", &refused(200));
    let log = write(d, "error.log", &refused(300));
    // After the first line of .2.gz: .3.gz cannot hold a line of the window.
    let since = stamp(at(105)).replace('/', "-");
    let run = scan(&[&log, "--since", &since, "--format", "json"]);
    assert_eq!(run.status, 1, "{run}");
    assert_eq!(run.json["total"], 3, "{run}");
    let read: Vec<&str> = run.json["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let names: Vec<&str> = read.iter().filter_map(|p| p.rsplit('/').next()).collect();
    assert_eq!(
        names,
        ["error.log.2.gz", "error.log.1", "error.log"],
        "{run}"
    );
    assert_eq!(
        signature(&run, "conn-refused-tcp")["first"],
        "2026-11-24T21:19:50Z"
    );
    let before_all = stamp(at(-60)).replace('/', "-");
    let all = scan(&[&log, "--since", &before_all, "--format", "json"]);
    assert_eq!(all.json["total"], 5, "{all}");
    assert_eq!(all.json["logs"].as_array().map(Vec::len), Some(4), "{all}");
}

#[test]
fn a_compressed_log_can_be_named_directly() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_gz(dir.path(), "old.log.gz", &mixed_log());
    let gz = dir.path().join("old.log.gz").display().to_string();
    let run = scan(&[&gz, "--since", ALL, "--format", "json"]);
    assert_eq!(run.json["total"], 4, "{run}");
}

#[test]
fn hostile_lines_are_inert_and_never_reach_the_terminal_raw() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(
        line(at(0), "error", REFUSED, "http://ev\x1b]0;pwned\x07il/").as_bytes(),
    );
    // Invalid UTF-8 and escapes in the request and the upstream.
    let nolive = line(
        at(1),
        "error",
        "no live upstreams while connecting to upstream",
        "http://grp\x1b[31m/",
    );
    let (head, rest) = nolive.split_at(nolive.find("/a HTTP").expect("request"));
    bytes.extend_from_slice(head.as_bytes());
    bytes.extend_from_slice(b"\x1b[2J\xff");
    bytes.extend_from_slice(rest.as_bytes());
    bytes.extend_from_slice(b"\xff\xfe\x00 binary junk \x1b[2J\n");
    // A 1 MiB request: the failure is still counted.
    let huge = format!("/{}", "a".repeat(1 << 20));
    bytes.extend_from_slice(
        line(
            at(2),
            "error",
            TIMEOUT,
            &format!("http://10.0.0.9:80{huge}"),
        )
        .as_bytes(),
    );
    bytes.extend_from_slice(&[0xc3, 0x28, b'\n']);
    let path = dir.path().join("error.log");
    fs::write(&path, &bytes).expect("write");
    let log = path.display().to_string();
    for format in ["text", "json"] {
        let run = scan(&[&log, "--since", ALL, "--format", format]);
        assert_eq!(run.status, 1, "{run}");
        assert!(!run.stdout.contains('\u{1b}'), "raw ESC on stdout\n{run}");
        assert!(!run.stderr.contains('\u{1b}'), "raw ESC on stderr\n{run}");
        assert!(run.stdout.contains("\\x1b"), "escape not shown\n{run}");
        assert!(!run.stderr.contains("panicked"), "{run}");
    }
    let run = scan(&[&log, "--since", ALL, "--format", "json"]);
    assert_eq!(run.json["total"], 3, "{run}");
    assert_eq!(signature(&run, "read-header-timeout")["count"], 1);
}

#[test]
fn a_nonsense_since_is_a_usage_error_naming_the_value() {
    let run = scan(&["/dev/null", "--since", "yesterday-ish"]);
    assert_eq!(run.status, 2, "{run}");
    assert!(run.stderr.contains("\"yesterday-ish\""), "{run}");
    assert_eq!(run.stdout, "", "{run}");
}

#[test]
fn no_readable_log_exits_3_and_names_it() {
    let run = scan(&["/nonexistent/dir/error.log", "--format", "json"]);
    assert_eq!(run.status, 3, "{run}");
    assert_eq!(
        run.json["unreadable"][0]["path"], "/nonexistent/dir/error.log",
        "{run}"
    );
    assert!(run.stderr.contains("no log could be read"), "{run}");
}

#[test]
fn without_logs_the_configuration_names_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = write(dir.path(), "site-error.log", &mixed_log());
    let conf = dir.path().join("nginx.conf");
    fs::write(
        &conf,
        format!("error_log {log};\nevents {{}}\nhttp {{ server {{ listen 127.0.0.1:1; }} }}\n"),
    )
    .expect("write conf");
    let conf = conf.display().to_string();
    let run = scan(&["--conf", &conf, "--since", ALL, "--format", "json"]);
    assert_eq!(run.json["logs"][0], log.as_str(), "{run}");
    assert_eq!(run.json["total"], 4, "{run}");
}
