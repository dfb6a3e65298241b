//! The scan's short read of a failure (`nginx_line::scan_fields`) against
//! the full parse: wherever it answers, it answers what the parser does on
//! every field the tallies read, and it answers for the usual failures.

use super::*;
use crate::logs::Timestamp;
use crate::logs::nginx_line::{LineRef, scan_fields};

/// What the tallies read of a parsed line.
type Read<'a> = (
    Option<Timestamp>,
    Level,
    &'a str,
    Option<i32>,
    Option<&'a str>,
    Option<crate::logs::Action>,
    Option<&'a str>,
);

fn read<'a>(line: &LineRef<'a>) -> Read<'a> {
    (
        line.time,
        line.level,
        line.message,
        line.errno,
        line.errno_text,
        line.action,
        line.upstream,
    )
}

/// The short read of `entry` when the prefilter keeps its head; `None`
/// when it declines. Panics when it answers something the parser does not.
fn short_read(entry: &[u8]) -> Option<Read<'_>> {
    let head = entry.split(|&b| b == b'\n').next().unwrap_or_default();
    let split = Prefilter::default().keep(head)?;
    let time = line_time(head, 0)?;
    let fields = scan_fields(entry, time, &split.spans())?;
    let text = String::from_utf8_lossy(entry);
    let parsed = parse_line_ref(&text, 0).expect("a line read short parses");
    assert_eq!(
        Some(read(&fields)),
        Some(read(&parsed)),
        "{:?}",
        String::from_utf8_lossy(entry)
    );
    Some(read(&fields))
}

/// The request contexts nginx writes (those of the benchmark's log among
/// them), and a few it does not.
const CONTEXTS: &[&str] = &[
    CTX,
    r#", client: 1.2.3.4, server: shop.example.com, request: "GET /index.php HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "shop.example.com", referrer: "https://shop.example.com/products?id=42""#,
    r#", client: 1.2.3.4, server: shop.example.com, request: "POST /api/v1/items/83121?page=3 HTTP/1.1", upstream: "http://[::1]:9000/api/v1/items/83121?page=3", host: "shop.example.com""#,
    r#", client: 1.2.3.4, server: shop.example.com, request: "GET / HTTP/1.1", upstream: "grpc://127.0.5.2:50051", host: "shop.example.com""#,
    r#", client: 1.2.3.4, server: shop.example.com, request: "GET / HTTP/1.1", upstream: "http://api_backend/""#,
    r#", client: 1.2.3.4, server: , request: "GET / HTTP/1.1", host: "a""#,
    r#", client: 1.2.3.4, server: s, request: "GET / HTTP/1.1""#,
    r#", client: 1.2.3.4, request: "GET / HTTP/1.1", upstream: "http://10.0.0.1:80/", referrer: "x""#,
    r#", client: 1.2.3.4, server: s"#,
    r#", client: 1.2.3.4"#,
    // Not the usual shape: declined, or read as the parser reads them.
    r#", client: 1.2.3.4, server: s, request: "GET /"x" HTTP/1.1", upstream: "http://10.0.0.1:80/", host: "a""#,
    r#", client: 1.2.3.4, server: s, request: "GET / HTTP/1.1", subrequest: "/s", upstream: "http://10.0.0.1:80/", host: "a""#,
    r#", client: 1.2.3.4, server: a, b, request: "GET / HTTP/1.1", upstream: "http://10.0.0.1:80/", host: "a""#,
    r#", client: 1.2.3.4, server: s, request: "GET / HTTP/1.1", upstream: "http://10.0.0.1:80/", host: "a", referrer: "", upstream: "http://evil/""#,
    r#", client: 1.2.3.4, server: s, request: "GET / HTTP/1.1", upstream: "http://10.0.0.1:80/x", host: "a"", host: "b""#,
    r#", client: 1.2.3.4, server: s, request: "GET / HTTP/1.1", upstream: "http://a/", upstream: "http://b/", host: "h""#,
    r#", client: 1.2.3.4, server: s, request: "GET / HTTP/1.1", upstream: "http://10.0.0.1:80/"#,
    r#", client: 1.2.3.4, server: s, request: "GET / HTTP/1.1", upstream: "#,
    r#", client: 1.2.3.4, server: s, request: "GET / HTTP/1.1", ups"#,
    r#", client: "1.2.3.4", server: s, request: "GET / HTTP/1.1", upstream: "http://10.0.0.1:80/""#,
    ", client: 1.2.3.4, server: s, request: \"GET / HTTP/1.1\", upstream: \"http://10.0.0.1:80/\u{1b}[2J\", host: \"a\"",
    ", client: 1.2.3.4, server: s, request: \"GET / HTTP/1.1\", upstream: \"http://10.0.0.1:80/\"\r",
];

#[test]
fn every_usual_failure_is_read_short_as_the_parser_reads_it() {
    let mut short = 0;
    for (level, message) in MESSAGES {
        for (i, ctx) in CONTEXTS.iter().enumerate() {
            let entry = format!("{T}[{level}] 2101#2101: *53277408 {message}{ctx}");
            let usual = i < 10 && message.contains(" while ");
            let read = short_read(entry.as_bytes());
            if usual && Prefilter::default().keep(entry.as_bytes()).is_some() {
                assert!(read.is_some(), "not read short: {entry:?}");
            }
            short += usize::from(read.is_some());
        }
    }
    assert!(short >= 300, "only {short} entries were read short");
}

#[test]
fn invalid_utf8_around_the_fields_reads_as_the_lossy_parse() {
    let entries: [&[u8]; 4] = [
        b"2026/11/24 21:18:00 [error] 1#1: *1 connect() failed (111: \xff) while connecting to upstream, client: 1.2.3.4, server: s, request: \"GET / HTTP/1.1\", upstream: \"http://10.0.0.1:80/\", host: \"a\"",
        b"2026/11/24 21:18:00 [error] 1#1: *1 connect() failed (111: x) while connecting to upstream, client: \xe2\x82, server: s, request: \"GET /\xff HTTP/1.1\", upstream: \"http://10.0.0.1:80/\", host: \"\xff\"",
        b"2026/11/24 21:18:00 [error] 1#1: *1 connect() failed (111: x) while connecting to upstream, client: 1.2.3.4, server: s, request: \"GET / HTTP/1.1\", upstream: \"http://10.0.0.1:80/\xe2\x82\", host: \"a\"",
        b"2026/11/24 21:18:00 [error] 1#1: *1 \xf0\x9f\x98\x80 upstream timed out (110: x) while reading upstream, client: 1.2.3.4, server: s, request: \"GET / HTTP/1.1\", upstream: \"unix:/run/\xc3\xa9.sock:\"",
    ];
    let read: Vec<bool> = entries.iter().map(|e| short_read(e).is_some()).collect();
    // Clean fields are read short whatever surrounds them; broken ones are
    // left to the parser, which decodes them lossily.
    assert_eq!(read, [false, true, false, true]);
}

/// Random entries: every answer is the parser's, and the usual ones
/// among them are answered.
#[test]
fn random_entries_read_short_are_read_as_the_parser_reads_them() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut short = 0;
    for _ in 0..100_000 {
        let mut entry = random_entry(&mut rng);
        if rng.one_in(2) {
            // Replace the usual context by another.
            let ctx = rng.pick(CONTEXTS);
            if let Some(at) = memchr::memmem::find(&entry, b", client: ") {
                entry.truncate(at);
            }
            entry.extend_from_slice(ctx.as_bytes());
        }
        short += usize::from(short_read(&entry).is_some());
    }
    assert!(short > 5_000, "only {short} entries were read short");
}
