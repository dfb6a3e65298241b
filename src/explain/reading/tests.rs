use super::*;
use crate::explain::entries::split;

/// A line nginx 1.22 logged in the lab (catalogue §3, A4).
const EACCES: &str = r#"2026/11/24 21:18:00 [crit] 20734#20734: *117 connect() to unix:/srv/lab/run/perm.sock failed (13: Permission denied) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /php-perm/ok.php HTTP/1.1", upstream: "fastcgi://unix:/srv/lab/run/perm.sock:", host: "127.0.0.1:8080""#;

fn read_text(text: &str) -> Reading {
    let s = split(text, reads_as_nginx);
    assert_eq!(s.entries.len(), 1, "{text}");
    read(&s.entries[0], 0).expect("reads")
}

fn ids(reading: &Reading) -> Vec<&'static str> {
    reading.gaps.iter().map(Gap::id).collect()
}

fn from(needle: &str) -> &'static str {
    &EACCES[EACCES.find(needle).expect("in the line")..]
}

#[test]
fn a_whole_line_lacks_nothing() {
    let r = read_text(EACCES);
    assert_eq!(r.signature, Some(Signature::UnixSocketEacces));
    assert!(r.gaps.is_empty(), "{:?}", r.gaps);
    assert!(r.level_known);
}

#[test]
fn the_message_after_the_connection_number_lacks_time_and_level() {
    let r = read_text(from("*117 "));
    assert_eq!(r.signature, Some(Signature::UnixSocketEacces));
    assert_eq!(ids(&r), ["no-timestamp", "no-level"]);
    assert!(!r.level_known);
    assert_eq!(r.line.conn, Some(117));
}

#[test]
fn the_message_and_context_alone_lack_the_connection_number_too() {
    let r = read_text(from("connect()"));
    assert_eq!(r.signature, Some(Signature::UnixSocketEacces));
    assert_eq!(ids(&r), ["no-timestamp", "no-level", "no-connection"]);
    assert_eq!(
        r.line.upstream.as_deref(),
        Some("fastcgi://unix:/srv/lab/run/perm.sock:")
    );
}

#[test]
fn a_message_without_its_phase_is_read_in_the_only_phase_it_has() {
    let r = read_text("connect() to unix:/srv/lab/run/perm.sock failed (13: Permission denied)");
    assert_eq!(r.signature, Some(Signature::UnixSocketEacces));
    assert_eq!(r.line.action, Some(Action::ConnectingToUpstream));
    assert!(ids(&r).contains(&"action-assumed"), "{:?}", r.gaps);
    assert!(ids(&r).contains(&"no-context"), "{:?}", r.gaps);
}

#[test]
fn a_message_of_several_phases_lists_them() {
    let r = read_text("upstream timed out (110: Connection timed out)");
    assert_eq!(r.signature, None);
    assert!(r.phases.len() > 2, "{:?}", r.phases);
    assert!(ids(&r).contains(&"no-action"));
}

#[test]
fn a_value_cut_inside_upstream_is_no_address() {
    let cut = &EACCES[..EACCES.find("perm.sock:\", host").expect("upstream")];
    let r = read_text(cut);
    assert_eq!(r.line.upstream, None);
    assert_eq!(r.signature, Some(Signature::UnixSocketEacces));
    assert_eq!(ids(&r), ["cut-in-upstream"]);
    assert!(
        r.gaps[0].text().contains("fastcgi://unix:/srv/lab/run/"),
        "{}",
        r.gaps[0].text()
    );
}

#[test]
fn a_line_cut_before_upstream_says_the_address_is_unknown() {
    let cut = &EACCES[..EACCES.find(", upstream:").expect("upstream")];
    let r = read_text(cut);
    assert_eq!(ids(&r), ["cut-before-upstream"]);
    let cut_in_request = &EACCES[..EACCES.find("ok.php").expect("request")];
    let r = read_text(cut_in_request);
    assert_eq!(ids(&r), ["cut-in-value", "cut-before-upstream"]);
}

#[test]
fn an_errno_cut_short_keeps_its_number() {
    let cut = &EACCES[..EACCES.find("ission denied").expect("errno")];
    let r = read_text(cut);
    assert_eq!(r.line.errno, Some(13));
    assert_eq!(r.signature, Some(Signature::UnixSocketEacces));
    assert_eq!(ids(&r), ["cut-in-errno", "action-assumed", "no-context"]);
}

#[test]
fn a_configuration_message_without_its_level_is_read_as_emerg() {
    let r = read_text(r#"unknown directive "bogus" in /etc/nginx/nginx.conf:6"#);
    assert_eq!(r.line.level, Level::Emerg);
    assert_eq!(r.config.as_ref().map(|c| c.id), Some("unknown-directive"));
    assert_eq!(ids(&r), ["no-timestamp", "no-level"]);
}

#[test]
fn prose_and_access_log_lines_do_not_read_as_nginx() {
    for text in [
        "hello world",
        "the backend failed while we slept",
        r#"127.0.0.1 - - [24/Nov/2026:21:18:00 +0000] "GET / HTTP/1.1" 502 157 "-" "curl/7.88""#,
        "502 Bad Gateway",
        "*42 hello",
    ] {
        assert!(!reads_as_nginx(text), "{text}");
    }
    for text in [
        "connect() failed (111: Connection refused)",
        "no live upstreams while connecting to upstream",
        "client prematurely closed connection while sending to client",
        r#"still could not bind()"#,
    ] {
        assert!(reads_as_nginx(text), "{text}");
    }
}
