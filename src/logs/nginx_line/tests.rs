//! The parser on real nginx lines, hostile ones and near misses.

use super::*;

const REFUSED: &str = r#"2026/11/24 21:18:00 [error] 20734#20734: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /refused HTTP/1.1", upstream: "http://127.0.0.1:9001/refused", host: "127.0.0.1:8080""#;

fn parsed(line: &str) -> ErrorLine {
    parse_line(line, 0).unwrap_or_else(|| panic!("should parse: {line}"))
}

#[test]
fn prefix_fields_are_read() {
    let l = parsed(REFUSED);
    assert_eq!(l.time, Some(Timestamp::from_unix(1_795_555_080)));
    assert_eq!(l.level, Level::Error);
    assert_eq!((l.pid, l.tid, l.conn), (Some(20734), Some(20734), Some(1)));
}

#[test]
fn message_stops_before_the_action() {
    let l = parsed(REFUSED);
    assert_eq!(l.message, "connect() failed (111: Connection refused)");
    assert_eq!(l.action, Some(Action::ConnectingToUpstream));
    assert_eq!(l.errno, Some(111));
    assert_eq!(l.errno_text.as_deref(), Some("Connection refused"));
}

#[test]
fn context_fields_are_read_including_an_empty_server() {
    let l = parsed(REFUSED);
    assert_eq!(l.client.as_deref(), Some("127.0.0.1"));
    assert_eq!(l.server.as_deref(), Some(""));
    assert_eq!(l.request.as_deref(), Some("GET /refused HTTP/1.1"));
    assert_eq!(l.upstream.as_deref(), Some("http://127.0.0.1:9001/refused"));
    assert_eq!(l.host.as_deref(), Some("127.0.0.1:8080"));
    assert_eq!(l.referrer, None);
}

#[test]
fn utc_offset_shifts_the_instant() {
    let l = parse_line(REFUSED, 3600).expect("parses");
    assert_eq!(l.time, Some(Timestamp::from_unix(1_795_555_080 - 3600)));
}

#[test]
fn unix_socket_upstream_keeps_its_path() {
    let l = parsed(
        r#"2026/11/24 21:18:00 [crit] 20734#20734: *119 connect() to unix:/srv/lab/run/php-missing.sock failed (2: No such file or directory) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /php-missing/ok.php HTTP/1.1", upstream: "fastcgi://unix:/srv/lab/run/php-missing.sock:", host: "127.0.0.1:8080""#,
    );
    assert_eq!(l.level, Level::Crit);
    assert_eq!(l.errno, Some(2));
    let u = l.upstream_ref().expect("upstream parses");
    assert_eq!(u.address.to_string(), "unix:/srv/lab/run/php-missing.sock");
}

#[test]
fn resolver_line_has_no_action_and_no_upstream() {
    let l = parsed(
        r#"2026/11/24 21:18:00 [error] 20734#20734: *43 nonexistent.invalid could not be resolved (3: Host not found), client: 127.0.0.1, server: , request: "GET /resolver-nx HTTP/1.1", host: "127.0.0.1:8080""#,
    );
    assert_eq!(
        l.message,
        "nonexistent.invalid could not be resolved (3: Host not found)"
    );
    assert_eq!(l.action, None);
    assert_eq!(l.errno, Some(3));
    assert_eq!(l.upstream, None);
    assert_eq!(l.host.as_deref(), Some("127.0.0.1:8080"));
}

#[test]
fn message_with_commas_and_quotes_stays_whole() {
    let l = parsed(
        r#"2026/11/24 21:18:00 [error] 1#1: *5 upstream sent invalid header: "a, b \"c\", client: x\x00..." while reading response header from upstream, client: 10.0.0.1, server: app, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:9010/", host: "h""#,
    );
    assert_eq!(
        l.message,
        r#"upstream sent invalid header: "a, b \"c\", client: x\x00...""#
    );
    assert_eq!(l.action, Some(Action::ReadingResponseHeader));
    assert_eq!(l.client.as_deref(), Some("10.0.0.1"));
    assert_eq!(l.errno, None);
}

#[test]
fn multi_line_fastcgi_stderr_keeps_its_newlines() {
    let entry = "2026/11/24 21:18:00 [error] 9#9: *3 FastCGI sent in stderr: \"PHP message: PHP Fatal error:  Uncaught Error: x\nStack trace:\n#0 {main}\n  thrown in /srv/fatal.php on line 1\" while reading response header from upstream, client: 127.0.0.1, server: , request: \"GET /php/fatal.php HTTP/1.1\", upstream: \"fastcgi://unix:/srv/lab/run/php.sock:\", host: \"127.0.0.1:8080\"";
    let l = parsed(entry);
    assert!(l.message.ends_with("on line 1\""), "{}", l.message);
    assert_eq!(l.message.lines().count(), 4);
    assert_eq!(l.action, Some(Action::ReadingResponseHeader));
    assert_eq!(l.request.as_deref(), Some("GET /php/fatal.php HTTP/1.1"));
}

#[test]
fn referrer_is_the_last_field_and_may_hold_quotes() {
    let l = parsed(
        r#"2026/11/24 21:18:00 [error] 1#1: *2 no live upstreams while connecting to upstream, client: 1.2.3.4, server: s, request: "GET /x HTTP/1.1", upstream: "http://dead2/x", host: "h", referrer: "https://r/?q=", upstream: "evil""#,
    );
    assert_eq!(l.upstream.as_deref(), Some("http://dead2/x"));
    assert_eq!(
        l.referrer.as_deref(),
        Some(r#"https://r/?q=", upstream: "evil"#)
    );
}

#[test]
fn forged_context_in_the_referrer_does_not_move_the_split() {
    let l = parsed(
        r#"2026/11/24 21:18:00 [error] 1#1: *2 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 1.2.3.4, server: s, request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:1/x", host: "h", referrer: " while connecting to upstream, client: 6.6.6.6""#,
    );
    assert_eq!(l.action, Some(Action::ReadingResponseHeader));
    assert_eq!(l.client.as_deref(), Some("1.2.3.4"));
}

#[test]
fn stream_module_line_keeps_its_upstream_value_clean() {
    let l = parsed(
        r#"2026/11/24 21:18:00 [error] 7#7: *5 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: 0.0.0.0:8443, upstream: "127.0.0.1:5000", bytes from/to client:0/0, bytes from/to upstream:0/0"#,
    );
    assert_eq!(l.server.as_deref(), Some("0.0.0.0:8443"));
    assert_eq!(l.upstream.as_deref(), Some("127.0.0.1:5000"));
    assert_eq!(l.upstream_ref(), None);
}

#[test]
fn subrequest_field_is_read() {
    let l = parsed(
        r#"2026/11/24 21:18:00 [error] 1#1: *2 upstream prematurely closed connection while reading response header from upstream, client: ::1, server: s, request: "GET / HTTP/1.1", subrequest: "/auth", upstream: "http://127.0.0.1:9/auth", host: "h""#,
    );
    assert_eq!(l.subrequest.as_deref(), Some("/auth"));
    assert_eq!(l.upstream.as_deref(), Some("http://127.0.0.1:9/auth"));
}

#[test]
fn debian_nginx_t_line_carries_the_config_location() {
    let l = parsed(
        r#"2026/11/24 21:22:58 [emerg] 22799#22799: host not found in upstream "backend.invalid" in /srv/lab/etcnginx/sites-enabled/app:4"#,
    );
    assert_eq!(l.level, Level::Emerg);
    assert_eq!(l.conn, None);
    let at = l.config_location.expect("location");
    assert_eq!(
        (at.file.as_str(), at.line),
        ("/srv/lab/etcnginx/sites-enabled/app", 4)
    );
}

#[test]
fn nginx_prefixed_form_from_nginx_t_parses_without_time() {
    let l = parsed(
        r#"nginx: [emerg] host not found in upstream "app-container:8080" in /etc/nginx/conf.d/up.conf:1"#,
    );
    assert_eq!((l.time, l.pid, l.tid), (None, None, None));
    assert_eq!(l.level, Level::Emerg);
    assert_eq!(
        l.message,
        r#"host not found in upstream "app-container:8080" in /etc/nginx/conf.d/up.conf:1"#
    );
    assert_eq!(l.config_location.map(|c| c.line), Some(1));
}

#[test]
fn config_errno_is_read_before_the_location() {
    let l = parsed(
        r#"2026/11/24 21:22:58 [emerg] 22803#22803: open() "/srv/lab/etcnginx/nginx.pid" failed (13: Permission denied)"#,
    );
    assert_eq!(l.errno, Some(13));
    assert_eq!(l.config_location, None);
}

#[test]
fn status_lines_of_nginx_t_are_not_error_lines() {
    assert_eq!(
        parse_line(
            "nginx: configuration file /etc/nginx/nginx.conf test failed",
            0
        ),
        None
    );
    assert_eq!(
        parse_line(
            "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok",
            0
        ),
        None
    );
}

#[test]
fn line_without_connection_number_parses() {
    let l = parsed("2026/11/24 21:18:00 [notice] 100#100: signal process started");
    assert_eq!(l.conn, None);
    assert_eq!(l.message, "signal process started");
}

#[test]
fn garbage_and_near_misses_are_rejected() {
    for bad in [
        "",
        "hello",
        "2026/11/24 21:18:00",
        "2026/13/24 21:18:00 [error] 1#1: x",
        "2026/11/24 21:18:00 [fatal] 1#1: x",
        "2026/11/24 21:18:00 [error] x#1: y",
        "2026-11-24 21:18:00 [error] 1#1: x",
    ] {
        assert_eq!(parse_line(bad, 0), None, "{bad:?}");
    }
}

#[test]
fn line_time_reads_only_the_prefix() {
    assert_eq!(
        line_time(b"2026/11/24 21:18:00 anything", 0),
        Some(Timestamp::from_unix(1_795_555_080))
    );
    assert_eq!(line_time(b"#0 {main}", 0), None);
    assert_eq!(line_time(b"2026/11/24 21:18", 0), None);
}

#[test]
fn hostile_line_parses_without_panic() {
    let mut line = String::from(
        r#"2026/11/24 21:18:00 [error] 1#1: *1 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 1.2.3.4, server: , request: "GET /$(rm -rf /)"#,
    );
    line.push_str("\u{1b}]8;;http://x\u{7}\0\u{fffd}");
    line.push_str(&"A".repeat(1 << 20));
    line.push_str(r#" HTTP/1.1", upstream: "http://127.0.0.1:9/", host: "h""#);
    let l = parsed(&line);
    assert_eq!(l.errno, Some(104));
    assert!(
        l.request
            .as_deref()
            .is_some_and(|r| r.starts_with("GET /$(rm -rf /)"))
    );
    assert_eq!(l.upstream.as_deref(), Some("http://127.0.0.1:9/"));
}

#[test]
fn many_open_parentheses_do_not_make_parsing_quadratic() {
    let line = format!(
        "2026/11/24 21:18:00 [error] 1#1: *1 x{}",
        " (1: a".repeat(200_000)
    );
    assert_eq!(parsed(&line).errno, None);
}

#[test]
fn invalid_utf8_decoded_lossily_still_parses() {
    let bytes = b"2026/11/24 21:18:00 [error] 1#1: *1 upstream sent invalid header: \"\xff\xfe\" while reading response header from upstream, client: 1.2.3.4, server: , request: \"GET / HTTP/1.1\"";
    let l = parsed(&String::from_utf8_lossy(bytes));
    assert_eq!(l.action, Some(Action::ReadingResponseHeader));
}

#[test]
fn action_literals_round_trip() {
    for (action, literal) in Action::ALL {
        assert_eq!(action.as_str(), literal);
    }
}

#[test]
fn field_index_is_the_place_in_fields() {
    for (i, name) in FIELDS.iter().enumerate() {
        assert_eq!(field_index(name), Some(i), "{name}");
    }
    assert_eq!(field_index("bytes from/to client"), None);
}

/// The parser's own substring search, against the standard library's.
mod finders {
    use proptest::prelude::*;

    use super::super::{
        Action, FIELDS, find_all, next_field, paren_opens, split_context, split_once,
    };

    /// Text made of the pieces the needles are made of, so that matches,
    /// near misses and multi-byte characters are common.
    fn text() -> impl Strategy<Value = String> {
        let pieces = vec![
            ",", " ", ":", "]", "(", ")", "c", "client", "1", "é", "\n", "\"",
        ];
        prop::collection::vec(prop::sample::select(pieces), 0..48).prop_map(|v| v.concat())
    }

    fn needle() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![", client: ", ": ", ", ", "] "])
    }

    proptest! {
        #[test]
        fn find_all_is_every_match_in_order(t in text(), needle in needle()) {
            let want: Vec<usize> = t.match_indices(needle).map(|(at, _)| at).collect();
            prop_assert_eq!(find_all(&t, needle).collect::<Vec<_>>(), want);
            prop_assert_eq!(split_once(&t, needle), t.split_once(needle));
        }

        /// Trying the expected fields' names first finds the `: ` the
        /// search finds, whatever starts the text (field names, their
        /// starts and ends, colons, other words).
        #[test]
        fn next_field_splits_at_the_first_colon_space(
            pieces in prop::collection::vec(
                prop::sample::select(vec![
                    "client", "server", "request", "subrequest", "upstream", "host",
                    "referrer", "upstr", "hosts", ": ", ":", " ", "\"", ", ", "é", "x",
                ]),
                0..10,
            ),
            from in 0..=FIELDS.len(),
        ) {
            let t = pieces.concat();
            prop_assert_eq!(next_field(&t, &FIELDS[from..]), split_once(&t, ": "));
        }

        /// The action `split_context` hands over is the one the text it
        /// cut ends with, so the parser need not look again.
        #[test]
        fn split_context_names_the_action_its_text_ends_with(
            pieces in prop::collection::vec(
                prop::sample::select(vec![
                    " while ", "while ", "connecting to upstream", "reading upstream",
                    "reading response header from upstream", "sending to client",
                    ", client: ", ", client:", "x", " ", "é", "upstream",
                ]),
                0..10,
            ),
        ) {
            let body = pieces.concat();
            let (text, _, ended) = split_context(&body);
            prop_assert_eq!(ended.or_else(|| Action::strip_from(text)), Action::strip_from(text));
        }

        #[test]
        fn paren_opens_are_the_matches_of_space_paren_from_the_end(t in text()) {
            let want: Vec<usize> = t.rmatch_indices(" (").map(|(at, _)| at + 1).collect();
            prop_assert_eq!(paren_opens(&t).collect::<Vec<_>>(), want);
        }
    }
}
