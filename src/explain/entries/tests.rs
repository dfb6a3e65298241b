use super::*;

const REFUSED: &str = r#"2026/11/24 21:18:00 [error] 20734#20734: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /refused HTTP/1.1", upstream: "http://127.0.0.1:9001/refused", host: "127.0.0.1:8080""#;

/// The test `explain` gives for lines without a prefix, cut down: a line
/// naming `connect()` reads as nginx's.
fn connect_reads(text: &str) -> bool {
    text.contains("connect()")
}

fn split_all(input: &str) -> Split {
    split(input, connect_reads)
}

#[test]
fn one_line_is_one_entry() {
    let s = split_all(REFUSED);
    assert_eq!(s.entries.len(), 1);
    assert_eq!(s.entries[0].text, REFUSED);
    assert_eq!(s.entries[0].first_line, 1);
    assert_eq!(s.entries[0].form, Form::Stamped);
    assert_eq!(s.skipped, 0);
}

#[test]
fn shipper_prefix_is_cut_off_and_kept() {
    let s = split_all(&format!("Nov 24 21:18:00 web nginx[812]: {REFUSED}"));
    assert_eq!(s.entries[0].text, REFUSED);
    assert_eq!(s.entries[0].prefix, "Nov 24 21:18:00 web nginx[812]:");
}

#[test]
fn line_without_timestamp_is_found_without_time() {
    let s = split_all(&REFUSED[20..]);
    assert_eq!(s.entries[0].form, Form::NoStamp);
    let (line, _) = s.entries[0].parse(0).expect("parses");
    assert_eq!(line.time, None);
    assert_eq!(
        (line.pid, line.conn, line.errno),
        (Some(20734), Some(1), Some(111))
    );
    assert_eq!(s.entries[0].local_time(), None);
}

#[test]
fn a_message_without_prefix_is_an_entry_when_it_reads_as_nginx() {
    let s = split_all(&format!("  {}  ", &REFUSED[41..]));
    assert_eq!(s.entries.len(), 1, "{:?}", s.entries);
    assert_eq!(s.entries[0].form, Form::Bare);
    let (line, _) = s.entries[0].parse(0).expect("parses");
    assert_eq!(line.level, Level::Error);
    assert_eq!(line.client.as_deref(), Some("127.0.0.1"));
    let s = split("hello world", connect_reads);
    assert_eq!((s.entries.len(), s.skipped), (0, 1));
}

#[test]
fn a_shipper_prefix_before_a_message_without_prefix_is_set_aside() {
    let s = split_all(&format!("web-1  | *42 {}", &REFUSED[44..]));
    assert_eq!(s.entries[0].prefix, "web-1  |");
    assert_eq!(s.entries[0].form, Form::Bare);
    let (line, _) = s.entries[0].parse(0).expect("parses");
    assert_eq!(line.conn, Some(42));
    assert!(line.message.starts_with("connect()"), "{}", line.message);
}

#[test]
fn a_level_and_connection_without_ids_keep_both() {
    let s = split_all(&format!("[crit] *42 {}", &REFUSED[41..]));
    assert_eq!(s.entries[0].form, Form::LevelOnly);
    let (line, _) = s.entries[0].parse(0).expect("parses");
    assert_eq!(
        (line.level, line.conn, line.pid),
        (Level::Crit, Some(42), None)
    );
}

#[test]
fn local_time_is_the_stamp_as_written() {
    let s = split_all(REFUSED);
    assert_eq!(s.entries[0].local_time(), Some("2026/11/24 21:18:00"));
}

#[test]
fn crlf_and_trailing_blanks_leave_the_last_field_whole() {
    let s = split_all(&format!("{REFUSED}   \r\n"));
    let (line, end) = s.entries[0].parse(0).expect("parses");
    assert_eq!(end, ContextEnd::Whole);
    assert_eq!(line.host.as_deref(), Some("127.0.0.1:8080"));
}

#[test]
fn a_line_wrapped_inside_a_value_is_joined() {
    let at = REFUSED.find("9001").expect("port");
    let s = split_all(&format!("{}\n{}", &REFUSED[..at], &REFUSED[at..]));
    assert_eq!(s.entries.len(), 1, "{:?}", s.entries);
    assert_eq!(s.entries[0].text, REFUSED);
    assert_eq!(s.entries[0].pieces, 2);
    assert_eq!(s.skipped, 0);
}

#[test]
fn a_line_wrapped_before_its_context_is_joined_at_every_width() {
    for width in [60, 80, 100] {
        let pieces: Vec<String> = REFUSED
            .as_bytes()
            .chunks(width)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let s = split_all(&pieces.join("\n"));
        assert_eq!(s.entries.len(), 1, "width {width}: {:?}", s.entries);
        assert_eq!(s.entries[0].text, REFUSED, "width {width}");
        assert_eq!(s.entries[0].pieces, pieces.len());
    }
}

#[test]
fn a_whole_line_does_not_swallow_the_next_text() {
    let input =
        format!("{REFUSED}\nsome unrelated text that is long enough to be a wrap\n{REFUSED}");
    let s = split_all(&input);
    assert_eq!(s.entries.len(), 2);
    assert_eq!(s.entries[0].text, REFUSED);
    assert_eq!(s.entries[1].first_line, 3);
    assert_eq!(s.skipped, 1);
}

#[test]
fn a_short_line_cut_inside_a_value_ended_there() {
    let short = r#"connect() x, client: a, request: "GET"#;
    assert!(short.chars().count() < MIN_WRAP_WIDTH);
    let s = split_all(&format!("{short}\nthe next line of the paste"));
    assert_eq!(s.entries.len(), 1);
    assert_eq!(s.entries[0].text, short);
    assert_eq!(s.skipped, 1);
}

#[test]
fn fastcgi_stderr_continuation_lines_join_the_entry() {
    let input = "2026/11/24 21:18:00 [error] 1#1: *3 FastCGI sent in stderr: \"PHP message: PHP Fatal error:  Uncaught Error: x in /srv/a.php:3\nStack trace:\n#0 {main}\n  thrown in /srv/a.php on line 3\" while reading response header from upstream, client: 127.0.0.1, server: , request: \"GET /a.php HTTP/1.1\", upstream: \"fastcgi://unix:/run/php.sock:\", host: \"h\"\n";
    let s = split_all(input);
    assert_eq!(s.entries.len(), 1, "{:?}", s.entries);
    assert_eq!(s.entries[0].lines(), 4);
    let (line, _) = s.entries[0].parse(0).expect("parses");
    assert_eq!(line.action, Some(Action::ReadingResponseHeader));
    assert_eq!(line.client.as_deref(), Some("127.0.0.1"));
    assert_eq!(s.skipped, 0);
}

#[test]
fn a_new_entry_ends_an_open_stderr_entry() {
    let input = format!(
        "2026/11/24 21:18:00 [error] 1#1: *3 FastCGI sent in stderr: \"PHP message: a\nb\n{REFUSED}"
    );
    let s = split_all(&input);
    assert_eq!(s.entries.len(), 2);
    assert_eq!(s.entries[0].text.lines().count(), 2);
}

#[test]
fn text_that_is_not_nginx_is_counted_as_skipped() {
    let s = split_all(
        "hello\n\n  \n127.0.0.1 - - [24/Nov/2026:21:18:00 +0000] \"GET / HTTP/1.1\" 502 157\n",
    );
    assert!(s.entries.is_empty());
    assert_eq!(s.skipped, 2);
}

#[test]
fn nginx_t_form_is_found() {
    let s = split_all(
        r#"nginx: [emerg] host not found in upstream "app:8080" in /etc/nginx/conf.d/a.conf:1"#,
    );
    assert_eq!(s.entries.len(), 1);
    assert_eq!(s.entries[0].form, Form::NginxT);
    assert!(s.entries[0].parse(0).is_some());
}

#[test]
fn smart_quotes_are_read_and_said() {
    let s = split_all(
        &REFUSED
            .replace("\"GET", "\u{201c}GET")
            .replace('"', "\u{201d}"),
    );
    assert!(s.entries[0].smart_quotes);
    let (line, _) = s.entries[0].parse(0).expect("parses");
    assert_eq!(
        line.upstream.as_deref(),
        Some("http://127.0.0.1:9001/refused")
    );
}

#[test]
fn stderr_entry_stops_growing_at_the_bound() {
    let mut input = String::from("2026/11/24 21:18:00 [error] 1#1: *3 FastCGI sent in stderr: \"x");
    for _ in 0..10_000 {
        input.push_str("\nmore stderr text that never closes");
    }
    let s = split_all(&input);
    assert!(s.entries[0].text.len() <= MAX_CONTINUED);
    assert!(s.skipped > 9_000);
}

#[test]
fn a_wrapped_entry_stops_growing_at_the_bound() {
    let cut = &REFUSED[..REFUSED.find("GET").expect("request")];
    let mut input = String::from(cut);
    for _ in 0..1_000 {
        input.push_str("\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    }
    let s = split_all(&input);
    assert!(s.entries[0].text.len() <= MAX_WRAPPED);
    assert!(s.skipped > 900);
}

#[test]
fn many_brackets_do_not_panic_or_match() {
    let s = split_all(&"[[[] [error] 1#x: ".repeat(50_000));
    assert!(s.entries.is_empty());
    assert_eq!(s.skipped, 1);
}
