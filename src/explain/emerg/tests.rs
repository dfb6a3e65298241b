use super::*;
use crate::logs::nginx_line::parse_line;

/// Lines nginx 1.22.1 printed for `nginx -t` and a start on broken
/// configurations (Debian's build: the timestamped form on stderr).
const REAL: &[(&str, &str, Stage, &str)] = &[
    (
        r#"2026/12/07 18:18:38 [emerg] 20135#20135: unknown directive "bogus_directive" in /tmp/emx/n.conf:6"#,
        "unknown-directive",
        Stage::Load,
        "\"bogus_directive\"",
    ),
    (
        r#"2026/12/07 18:18:38 [emerg] 20139#20139: "proxy_pass" directive is not allowed here in /tmp/emx/n.conf:6"#,
        "not-allowed-here",
        Stage::Load,
        "\"proxy_pass\"",
    ),
    (
        r#"2026/12/07 18:18:38 [emerg] 20143#20143: host not found in upstream "backend.invalid:80" in /tmp/emx/n.conf:6"#,
        "host-not-found",
        Stage::Load,
        "\"backend.invalid:80\"",
    ),
    (
        r#"2026/12/07 18:18:38 [emerg] 20147#20147: cannot load certificate "/tmp/emx/nocert.pem": BIO_new_file() failed (SSL: error:80000002:system library::No such file or directory:calling fopen(/tmp/emx/nocert.pem, r) error:10000080:BIO routines::no such file)"#,
        "certificate",
        Stage::Load,
        "TLS certificate",
    ),
    (
        r#"2026/12/07 18:18:38 [emerg] 20151#20151: invalid port in upstream "127.0.0.1:99999" in /tmp/emx/n.conf:6"#,
        "bad-port",
        Stage::Load,
        "\"127.0.0.1:99999\"",
    ),
    (
        r#"2026/12/07 18:18:38 [emerg] 20159#20159: invalid number of arguments in "proxy_pass" directive in /tmp/emx/n.conf:6"#,
        "invalid-arguments",
        Stage::Load,
        "\"proxy_pass\"",
    ),
    (
        r#"2026/12/07 18:18:38 [emerg] 20163#20163: "keepalive_timeout" directive invalid value in /tmp/emx/n.conf:6"#,
        "invalid-value",
        Stage::Load,
        "a value",
    ),
    (
        r#"2026/12/07 18:18:56 [emerg] 20675#20675: bind() to 127.0.0.1:18095 failed (98: Address already in use)"#,
        "address-in-use",
        Stage::Start,
        "127.0.0.1:18095",
    ),
    (
        "2026/12/07 18:18:56 [emerg] 20675#20675: still could not bind()",
        "could-not-bind",
        Stage::Start,
        "five tries",
    ),
    (
        r#"2026/11/24 21:22:58 [emerg] 22803#22803: open() "/srv/lab/etcnginx/nginx.pid" failed (13: Permission denied)"#,
        "not-root",
        Stage::NotRoot,
        "\"/srv/lab/etcnginx/nginx.pid\"",
    ),
];

fn recognised(line: &str) -> Option<Recognised> {
    recognise(&parse_line(line, 0).expect("parses"), true)
}

#[test]
fn every_real_line_is_its_kind_with_its_value() {
    for (line, id, stage, said) in REAL {
        let r = recognised(line).unwrap_or_else(|| panic!("not recognised: {line}"));
        assert_eq!((r.id, r.stage), (*id, *stage), "{line}");
        assert!(r.meaning.contains(said), "{line}\n{}", r.meaning);
    }
}

#[test]
fn every_pattern_compiles_and_ids_are_kebab_case() {
    let (set, regexes) = kinds();
    assert_eq!(set.len(), KINDS.len());
    assert_eq!(regexes.len(), KINDS.len());
    for kind in KINDS {
        assert!(
            kind.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{}",
            kind.id
        );
        assert!(
            kind.meaning.ends_with('.') && kind.next.ends_with('.'),
            "{}",
            kind.id
        );
    }
}

#[test]
fn the_nginx_t_form_is_recognised_too() {
    let r = recognised(r#"nginx: [emerg] unknown directive "bogus" in /etc/nginx/nginx.conf:6"#);
    assert_eq!(r.map(|r| r.id), Some("unknown-directive"));
}

#[test]
fn a_run_time_error_with_a_request_is_no_config_error() {
    let line = r#"2026/11/24 21:18:00 [error] 1#1: *1 invalid port in upstream "127.0.0.1:99999", client: 127.0.0.1, server: , request: "GET / HTTP/1.1", host: "h""#;
    assert_eq!(recognised(line), None);
}

#[test]
fn levels_below_alert_are_no_config_error_unless_the_level_was_not_pasted() {
    let warn =
        r#"2026/11/24 21:18:00 [warn] 1#1: unknown directive "x" in /etc/nginx/nginx.conf:6"#;
    assert_eq!(recognised(warn), None);
    let line = parse_line(warn, 0).expect("parses");
    assert_eq!(
        recognise(&line, false).map(|r| r.id),
        Some("unknown-directive")
    );
}

#[test]
fn an_unknown_emerg_is_about_the_configuration_when_it_names_a_file() {
    let located = recognised(
        r#"2026/11/24 21:18:00 [emerg] 1#1: something new "x" in /etc/nginx/nginx.conf:6"#,
    )
    .expect("recognised");
    assert_eq!((located.id, located.stage), ("other-emerg", Stage::Load));
    let bare = recognised("2026/11/24 21:18:00 [emerg] 1#1: something new").expect("recognised");
    assert_eq!(bare.stage, Stage::Start);
    assert_eq!(
        recognise(
            &parse_line("2026/11/24 21:18:00 [emerg] 1#1: x", 0).expect("parses"),
            false
        ),
        None
    );
}

#[test]
fn next_names_the_place_and_says_to_test_again() {
    let r = recognised(REAL[0].0).expect("recognised");
    let next = r.next(Some("/tmp/emx/n.conf:6"));
    assert!(next.contains("Look at /tmp/emx/n.conf:6."), "{next}");
    assert!(next.contains("sudo nginx -t"), "{next}");
    let unplaced = r.next(None);
    assert!(
        unplaced.contains("the file and line `sudo nginx -t` names"),
        "{unplaced}"
    );
}

#[test]
fn a_start_failure_is_not_told_to_reload() {
    let r = recognised(REAL[7].0).expect("recognised");
    assert!(!r.next(None).contains("reload"), "{}", r.next(None));
}

#[test]
fn a_hostile_value_is_kept_as_text_for_the_caller_to_escape() {
    let r = recognised(
        "2026/11/24 21:18:00 [emerg] 1#1: unknown directive \"\u{1b}]0;x\u{7}\" in /a:1",
    )
    .expect("recognised");
    assert!(r.meaning.contains("\u{1b}]0;x"));
}
