//! What people paste, explained by the binary: a real nginx line with a
//! log shipper's prefix, without its prefix, cut short, with smart quotes,
//! wrapped by a terminal; and the `upstream server temporarily disabled`
//! warning with and without the failure behind it.
//!
//! The lines come from a real nginx (a lab with an upstream group whose two
//! servers refuse), written to its error log and, through nginx's own
//! `syslog:` writer, to a datagram socket the test reads.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use super::{Run, explain, explain_json};
use crate::support::net::free_port;
use crate::support::{Lab, Pass};

/// What the lab's nginx logged for two requests to a dead group.
struct DeadGroup {
    /// The first `connect() failed (111: Connection refused)` line.
    refused: String,
    /// The error log from that line to `no live upstreams`.
    log: String,
    /// The refused line as nginx sent it to syslog: with the default tag
    /// (`nginx:`) and with `nohostname,tag=web`.
    syslog: Vec<String>,
}

fn dead_group() -> &'static DeadGroup {
    static LINES: OnceLock<DeadGroup> = OnceLock::new();
    LINES.get_or_init(record_dead_group)
}

fn record_dead_group() -> DeadGroup {
    let lab = Lab::new();
    let socket_path = lab.path("syslog.sock");
    let syslog = UnixDatagram::bind(&socket_path).expect("bind the syslog socket");
    // The workers run unprivileged and must be able to send to it.
    std::fs::set_permissions(&socket_path, std::fs::Permissions::from_mode(0o666))
        .expect("chmod the syslog socket");
    syslog
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("socket timeout");
    let (one, two) = (free_port(), free_port());
    let sock = socket_path.display().to_string();
    let file = lab.path("error.log").display().to_string();
    lab.nginx(|c| {
        c.http(&format!("error_log {file} info"))
            .http(&format!("error_log syslog:server=unix:{sock} error"))
            .http(&format!(
                "error_log syslog:server=unix:{sock},nohostname,tag=web error"
            ))
            .http(&format!("upstream dead2 {{ server {one}; server {two}; }}"))
            .location("/", Pass::proxy("http://dead2"))
    });
    assert_eq!(lab.get("/app"), 502);
    assert_eq!(lab.get("/app"), 502);
    let refused = lab.error_log_line("connect() failed (111: Connection refused)");
    lab.error_log_line("no live upstreams");
    let log = lab.error_log();
    let from = log.find(&refused).expect("the refused line is in the log");
    let to = log.find("no live upstreams").expect("no live upstreams");
    let end = log[to..].find('\n').map_or(log.len(), |n| to + n);
    DeadGroup {
        syslog: refused_syslog_lines(&syslog),
        refused,
        log: log[from..end].to_owned(),
    }
}

/// The syslog messages of refused connections, one of each tag.
fn refused_syslog_lines(socket: &UnixDatagram) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut buf = vec![0_u8; 8192];
    while found.len() < 2 {
        let Ok(n) = socket.recv(&mut buf) else { break };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let tag = text.contains(" nginx: ");
        let new_tag = !found.iter().any(|f| f.contains(" nginx: ") == tag);
        if text.contains("Connection refused") && new_tag {
            found.push(text);
        }
    }
    assert_eq!(
        found.len(),
        2,
        "nginx sent no refused line to syslog: {found:?}"
    );
    found
}

fn first(run: &Run) -> Value {
    assert_eq!(run.status, 0, "{}", String::from_utf8_lossy(&run.stderr));
    run.first()
}

/// The ids of what the line does not say.
fn missing(line: &Value) -> Vec<String> {
    line["paste"]["missing"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|n| n["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The refused line with `prefix` before it, explained.
fn with_prefix(prefix: &str) -> Value {
    first(&explain_json(&format!("{prefix}{}", dead_group().refused)))
}

fn assert_read_from(line: &Value, source: &str) {
    assert_eq!(line["signature"], "conn-refused-tcp", "{line:#}");
    assert_eq!(line["paste"]["source"], source, "{line:#}");
    assert!(missing(line).is_empty(), "{line:#}");
}

#[test]
fn docker_compose_prefix_is_set_aside_and_named() {
    let line = with_prefix("web-1  | ");
    assert_read_from(&line, "docker-compose");
    assert_eq!(line["paste"]["prefix"], "web-1  |");
}

#[test]
fn kubectl_and_docker_timestamps_are_set_aside() {
    assert_read_from(
        &with_prefix("2026-12-01T10:00:01.123456789Z "),
        "rfc3339-timestamp",
    );
}

#[test]
fn journald_short_iso_header_is_set_aside() {
    assert_read_from(
        &with_prefix("2026-12-01T10:00:01+0000 web1 nginx[1234]: "),
        "journald-iso",
    );
}

#[test]
fn syslog_lines_from_nginx_with_and_without_its_tag_are_read() {
    for sent in &dead_group().syslog {
        let line = first(&explain_json(sent));
        assert_read_from(&line, "syslog");
    }
    assert_read_from(&with_prefix("Dec 01 10:00:01 web1 nginx[1234]: "), "syslog");
}

#[test]
fn crlf_and_surrounding_blanks_change_nothing() {
    let run = explain(
        &["--format", "json"],
        format!("  {}  \r\n", dead_group().refused).as_bytes(),
    );
    let line = first(&run);
    assert_eq!(line["signature"], "conn-refused-tcp");
    assert_eq!(
        line["parsed"]["host"].as_str().map(|h| h.ends_with('"')),
        Some(false)
    );
    assert!(
        missing(&line).is_empty() && line["paste"]["prefix"].is_null(),
        "{line:#}"
    );
}

/// `refused` from `needle` on.
fn from(needle: &str) -> String {
    let refused = &dead_group().refused;
    refused[refused.find(needle).expect("in the line")..].to_owned()
}

#[test]
fn message_without_timestamp_is_explained_and_says_when_is_unknown() {
    let line = first(&explain_json(&from("*")));
    assert_eq!(line["signature"], "conn-refused-tcp");
    assert_eq!(missing(&line), ["no-timestamp", "no-level"]);
    assert!(line["parsed"]["time"].is_null() && line["parsed"]["level"].is_null());
    let text = explain(&[&from("*")], b"").text();
    assert!(
        text.contains("Not in the input: no timestamp: when it happened is unknown"),
        "{text}"
    );
}

#[test]
fn a_shipper_prefix_before_a_message_without_timestamp_is_set_aside() {
    let line = first(&explain_json(&format!("web-1  | {}", from("*"))));
    assert_eq!(line["signature"], "conn-refused-tcp");
    assert_eq!(line["paste"]["source"], "docker-compose");
    assert!(
        line["parsed"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("connect()"))
    );
}

#[test]
fn message_and_context_alone_are_explained() {
    let line = first(&explain_json(&from("connect()")));
    assert_eq!(line["signature"], "conn-refused-tcp");
    assert_eq!(line["candidates"][0]["id"], "backend-down");
    assert_eq!(
        missing(&line),
        ["no-timestamp", "no-level", "no-connection"]
    );
}

#[test]
fn message_alone_is_read_in_the_one_phase_nginx_logs_it_in() {
    let line = first(&explain_json("connect() failed (111: Connection refused)"));
    assert_eq!(line["signature"], "conn-refused-tcp");
    assert_eq!(line["parsed"]["action"], "connecting to upstream");
    assert!(
        missing(&line).contains(&"action-assumed".to_owned()),
        "{line:#}"
    );
}

#[test]
fn message_of_several_phases_lists_each_reading() {
    let line = first(&explain_json(
        "upstream timed out (110: Connection timed out)",
    ));
    assert!(line["signature"].is_null());
    let notes = line["notes"].to_string();
    for want in ["connect-timeout", "read-header-timeout", "body-phase"] {
        assert!(notes.contains(want), "{want} in {notes}");
    }
    assert_eq!(
        line["candidates"][0]["id"], "upstream-timeout",
        "the cause most share"
    );
}

#[test]
fn line_cut_before_upstream_says_the_backend_address_is_unknown() {
    let refused = &dead_group().refused;
    let cut = &refused[..refused.find(", upstream:").expect("upstream")];
    let line = first(&explain_json(cut));
    assert_eq!(line["signature"], "conn-refused-tcp");
    let says = line["paste"]["missing"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        says.contains("cut before `upstream:`: the backend's address is unknown"),
        "{says}"
    );
    assert!(line["parsed"]["upstream"].is_null());
}

#[test]
fn line_cut_inside_upstream_names_no_wrong_port() {
    let refused = &dead_group().refused;
    // Cut inside the port: `127.0.0.1:4` would be a port of its own.
    let port_at = refused
        .rfind("upstream: \"http://127.0.0.1:")
        .expect("upstream")
        + 28;
    let line = first(&explain_json(&refused[..port_at + 1]));
    assert_eq!(missing(&line), ["cut-in-upstream"]);
    assert!(line["parsed"]["upstream"].is_null());
    let runs = line["candidates"].to_string();
    assert!(
        runs.contains("sport = :PORT"),
        "the port word stays a word: {runs}"
    );
}

#[test]
fn smart_quotes_from_a_chat_tool_are_read_as_plain_quotes() {
    let mut open = true;
    let smart: String = dead_group()
        .refused
        .chars()
        .map(|c| match c {
            '"' => {
                open = !open;
                if open { '\u{201d}' } else { '\u{201c}' }
            }
            c => c,
        })
        .collect();
    let line = first(&explain_json(&smart));
    assert_eq!(line["paste"]["repaired"][0]["id"], "smart-quotes");
    assert!(
        line["parsed"]["upstream"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:"))
    );
}

#[test]
fn a_line_a_terminal_wrapped_is_read_as_one() {
    let refused = &dead_group().refused;
    let wrapped: Vec<&str> = refused
        .as_bytes()
        .chunks(80)
        .map(|c| std::str::from_utf8(c).expect("the lab's line is ASCII"))
        .collect();
    let run = explain(&["--format", "json"], wrapped.join("\n").as_bytes());
    let line = first(&run);
    assert_eq!(line["parsed"]["host"], Value::from(host_of(refused)));
    assert_eq!(line["paste"]["repaired"][0]["id"], "wrapped");
    assert_eq!(run.json()["skipped_lines"], 0);
}

fn host_of(line: &str) -> &str {
    line.rsplit("host: \"")
        .next()
        .and_then(|h| h.strip_suffix('"'))
        .unwrap_or_default()
}

#[test]
fn disabled_warning_takes_the_causes_of_the_failure_before_it() {
    let run = explain(&["--format", "json"], dead_group().log.as_bytes());
    assert_eq!(run.status, 0);
    let json = run.json();
    let lines = json["lines"].as_array().expect("lines");
    let warning = lines
        .iter()
        .find(|l| l["signature"] == "upstream-disabled-warn")
        .expect("a warning");
    let failure = warning["consequence_of"]
        .as_u64()
        .expect("linked to its failure");
    let behind = lines
        .iter()
        .find(|l| l["input_line"].as_u64() == Some(failure))
        .expect("the failure is explained");
    assert_eq!(behind["signature"], "conn-refused-tcp");
    assert_eq!(behind["parsed"]["upstream"], warning["parsed"]["upstream"]);
    assert_eq!(warning["candidates"][0]["id"], "backend-down");
    let text = explain(&[], dead_group().log.as_bytes()).text();
    assert!(
        text.contains(&format!(
            "those of line {failure} above, the failure behind it"
        )),
        "{text}"
    );
}

#[test]
fn disabled_warning_alone_says_where_its_failure_is() {
    let log = &dead_group().log;
    let warning = log
        .lines()
        .find(|l| l.contains("upstream server temporarily disabled"))
        .expect("a warning");
    let line = first(&explain_json(warning));
    assert!(line["consequence_of"].is_null());
    let says = line["paste"]["missing"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        says.contains("the failure behind it is not in the input"),
        "{says}"
    );
    assert!(says.contains("grep -F '*"), "{says}");
}
