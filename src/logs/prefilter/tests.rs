//! The prefilter's proof: it keeps every entry classify counts, on the
//! catalogue's lines and on many random ones, and still rejects the noise.
//! "Counts" is taken as widely as any pack may: every signature but FastCGI
//! stderr, which the prefilter rejects on purpose; the default pack counts
//! fewer (`SignatureBook::is_upstream_failure`).

use super::*;
use crate::logs::classify::classify;
use crate::logs::nginx_line::{line_time, parse_line, parse_line_ref, parse_split_ref};
use crate::logs::signature::Signature;

const T: &str = "2026/11/24 21:18:00 ";
const CTX: &str = r#", client: 127.0.0.1, server: , request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:9001/x", host: "127.0.0.1:8080""#;

/// Whether a pack may count `entry` (what the scan would parse).
fn counted_by_classify(entry: &[u8]) -> bool {
    let text = String::from_utf8_lossy(entry);
    parse_line(&text, 0)
        .and_then(|l| classify(&l))
        .is_some_and(|s| s != Signature::FastcgiStderr)
}

/// The prefilter as the scan applies it: the head line's test, then the
/// marker anywhere in the entry.
fn passes(entry: &[u8]) -> bool {
    let p = Prefilter::default();
    let head = entry.split(|&b| b == b'\n').next().unwrap_or_default();
    p.message_start(head)
        .is_some_and(|at| p.may_fail(entry, at))
}

fn assert_kept_if_counted(entry: &[u8]) {
    if counted_by_classify(entry) {
        assert!(
            passes(entry),
            "prefilter drops a counted line: {:?}",
            String::from_utf8_lossy(entry)
        );
    }
}

/// One message per signature (the catalogue's §3 and §7 wording) with
/// its level, and the noise a busy log is made of.
const MESSAGES: &[(&str, &str)] = &[
    (
        "error",
        "connect() failed (111: Connection refused) while connecting to upstream",
    ),
    (
        "error",
        "connect() to unix:/run/a.sock failed (111: Connection refused) while connecting to upstream",
    ),
    (
        "crit",
        "connect() to unix:/run/a.sock failed (2: No such file or directory) while connecting to upstream",
    ),
    (
        "crit",
        "connect() to unix:/run/a.sock failed (13: Permission denied) while connecting to upstream",
    ),
    (
        "error",
        "connect() to unix:/run/a.sock failed (11: Resource temporarily unavailable) while connecting to upstream",
    ),
    (
        "crit",
        "connect() to 127.0.0.6:80 failed (13: Permission denied) while connecting to upstream",
    ),
    (
        "crit",
        "connect() to 127.0.0.1:9025 failed (99: Cannot assign requested address) while connecting to upstream",
    ),
    (
        "error",
        "connect() failed (113: No route to host) while connecting to upstream",
    ),
    (
        "error",
        "connect() to 127.0.0.7:80 failed (101: Network is unreachable) while connecting to upstream",
    ),
    (
        "error",
        "upstream timed out (110: Connection timed out) while connecting to upstream",
    ),
    (
        "alert",
        "3 worker_connections are not enough while connecting to upstream",
    ),
    (
        "alert",
        "socket() failed (24: Too many open files) while connecting to upstream",
    ),
    (
        "crit",
        "bind(127.0.0.1:9030) failed (98: Address already in use) while connecting to upstream",
    ),
    ("error", "no live upstreams while connecting to upstream"),
    (
        "warn",
        "upstream server temporarily disabled while connecting to upstream",
    ),
    (
        "error",
        "nonexistent.invalid could not be resolved (3: Host not found)",
    ),
    ("error", "no resolver defined to resolve backend.example"),
    (
        "emerg",
        "host not found in upstream \"backend.invalid\" in /etc/nginx/conf.d/a.conf:3",
    ),
    ("error", "invalid port in upstream \"127.0.0.1:99999\""),
    (
        "emerg",
        "no port in upstream \"php-fpm\" in /etc/nginx/conf.d/a.conf:9",
    ),
    (
        "error",
        "upstream timed out (110: Connection timed out) while sending request to upstream",
    ),
    (
        "error",
        "writev() failed (32: Broken pipe) while sending request to upstream",
    ),
    (
        "error",
        "upstream timed out (110: Connection timed out) while reading response header from upstream",
    ),
    (
        "error",
        "upstream prematurely closed connection while reading response header from upstream",
    ),
    (
        "error",
        "recv() failed (104: Connection reset by peer) while reading response header from upstream",
    ),
    (
        "error",
        "upstream sent too big header while reading response header from upstream",
    ),
    (
        "error",
        "upstream sent invalid header: \"Bad\\x20...\" while reading response header from upstream",
    ),
    (
        "error",
        "upstream sent no valid HTTP/1.0 header while reading response header from upstream",
    ),
    (
        "error",
        "upstream sent unsupported FastCGI protocol version: 72 while reading response header from upstream",
    ),
    (
        "error",
        "upstream sent unexpected FastCGI record: 3 while reading response header from upstream",
    ),
    (
        "error",
        "upstream prematurely closed FastCGI stdout while reading response header from upstream",
    ),
    (
        "error",
        "upstream sent invalid status \"abc\" while reading response header from upstream",
    ),
    (
        "error",
        "upstream sent too large http2 frame: 4740180 while reading response header from upstream",
    ),
    (
        "error",
        "SSL_do_handshake() failed (SSL: error:0A00010B:SSL routines::wrong version number) while SSL handshaking to upstream",
    ),
    (
        "error",
        "peer closed connection in SSL handshake (104: Connection reset by peer) while SSL handshaking to upstream",
    ),
    (
        "error",
        "upstream timed out (110: Connection timed out) while SSL handshaking to upstream",
    ),
    (
        "error",
        "upstream SSL certificate verify error: (18:self-signed certificate) while SSL handshaking to upstream",
    ),
    (
        "error",
        "upstream SSL certificate does not match \"wrong.example\" while SSL handshaking to upstream",
    ),
    (
        "error",
        "upstream prematurely closed connection while reading upstream",
    ),
    (
        "error",
        "recv() failed (104: Connection reset by peer) while proxying upgraded connection",
    ),
    (
        "error",
        "upstream prematurely closed connection while sending to client",
    ),
    (
        "error",
        "FastCGI sent in stderr: \"PHP message: boom\" while reading response header from upstream",
    ),
    (
        "info",
        "client prematurely closed connection while sending to client",
    ),
    (
        "error",
        "client intended to send too large body: 2000000 bytes",
    ),
    (
        "error",
        "open() \"/srv/www/favicon.ico\" failed (2: No such file or directory)",
    ),
    (
        "warn",
        "an upstream response is buffered to a temporary file /x/1 while reading upstream",
    ),
    ("notice", "signal process started"),
];

fn line(level: &str, message: &str) -> String {
    format!("{T}[{level}] 1#1: *1 {message}{CTX}")
}

#[test]
fn every_catalogue_failure_passes() {
    let mut checked = 0;
    for (level, message) in MESSAGES {
        let entry = line(level, message);
        assert_kept_if_counted(entry.as_bytes());
        checked += usize::from(counted_by_classify(entry.as_bytes()));
    }
    assert!(checked >= 38, "only {checked} messages were counted");
}

#[test]
fn routine_noise_is_rejected() {
    for (level, message) in [
        (
            "info",
            "client prematurely closed connection while sending to client",
        ),
        (
            "error",
            "client intended to send too large body: 2000000 bytes",
        ),
        (
            "error",
            "open() \"/srv/www/a\" failed (2: No such file or directory)",
        ),
        (
            "warn",
            "an upstream response is buffered to a temporary file /x/1 while reading upstream",
        ),
        (
            "error",
            "FastCGI sent in stderr: \"PHP message: x\" while reading response header from upstream",
        ),
        ("notice", "signal process started"),
    ] {
        assert!(!passes(line(level, message).as_bytes()), "{message}");
    }
}

#[test]
fn message_of_just_client_is_not_set_aside() {
    // classify reads the message "client" (not "client ") with an action.
    let entry = line("error", "client while reading upstream");
    assert!(counted_by_classify(entry.as_bytes()));
    assert!(passes(entry.as_bytes()));
    let stderr = line("error", "FastCGI sent in stderr: while reading upstream");
    assert!(counted_by_classify(stderr.as_bytes()));
    assert!(passes(stderr.as_bytes()));
}

#[test]
fn disabled_warning_passes_below_error() {
    let entry = line(
        "warn",
        "upstream server temporarily disabled while connecting to upstream",
    );
    assert!(counted_by_classify(entry.as_bytes()));
    assert!(passes(entry.as_bytes()));
}

#[test]
fn nothing_below_warn_is_a_failure_so_it_is_rejected_on_its_level() {
    for level in ["notice", "info", "debug"] {
        let entry = line(
            level,
            "upstream server temporarily disabled while connecting to upstream",
        );
        assert!(!counted_by_classify(entry.as_bytes()), "{entry}");
        assert!(!passes(entry.as_bytes()), "{entry}");
    }
}

#[test]
fn a_line_without_connection_number_is_split_like_the_parser() {
    let entry = format!("{T}[error] 7#7: no live upstreams while connecting to upstream{CTX}");
    assert!(counted_by_classify(entry.as_bytes()));
    assert!(passes(entry.as_bytes()));
}

#[test]
fn marker_in_a_continuation_line_is_seen() {
    let entry = format!(
        "{T}[error] 1#1: *1 upstream prematurely closed connection\n while reading upstream{CTX}"
    );
    assert_kept_if_counted(entry.as_bytes());
    assert!(passes(entry.as_bytes()));
}

/// Every name nginx writes lands in its own slot and is found there; a
/// name cut short or of another case is not.
#[test]
fn every_level_is_named_by_its_slot() {
    let names = [
        "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
    ];
    for name in names {
        let text = format!("{name}] 1#1: x");
        let want = Level::from_nginx(name).map(|l| (l, name.len() + 2));
        assert_eq!(level_named(text.as_bytes()), want, "{name}");
        let upper = text.to_uppercase();
        assert_eq!(level_named(upper.as_bytes()), None, "{upper}");
        let cut = format!("{}] 1#1: x", &name[..name.len() - 1]);
        assert_eq!(level_named(cut.as_bytes()), None, "{cut}");
    }
}

#[test]
fn malformed_heads_are_rejected() {
    let p = Prefilter::default();
    for head in [
        "2026/11/24 21:18:00 [err] 1#1: *1 no live upstreams while connecting to upstream",
        "2026/11/24 21:18:00 [error] 1: *1 no live upstreams while connecting to upstream",
        "2026/11/24 21:18:00 [error] 1#x: *1 no live upstreams while connecting to upstream",
        "2026/11/24 21:18:00 [error] 1#1234567890: no live upstreams while connecting",
        "2026/11/24 21:18:00 [error]",
        "short",
    ] {
        assert_eq!(p.message_start(head.as_bytes()), None, "{head}");
    }
}

/// A small xorshift generator: the random cases are the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// Fragments nginx and strangers write, spliced at random: prefixes,
/// levels, ids, messages cut anywhere, actions, context and junk.
fn random_entry(rng: &mut Rng) -> Vec<u8> {
    let levels = [
        "error", "crit", "alert", "emerg", "warn", "notice", "info", "debug", "err", "",
    ];
    let ids = [
        "1#1: ",
        "20734#20734: *5 ",
        "1#1: *",
        "1#1: *x ",
        "1#1:",
        "#1: ",
        "1#1: *12 *3 ",
    ];
    let extras = [
        "",
        " while ",
        "client ",
        "FastCGI sent in stderr: ",
        "upstream ",
        "while ",
        " while reading upstream",
        " while connecting to upstream",
        ", client: 1.2.3.4",
        " could not be resolved (3: x)",
        "no resolver defined to resolve x",
        " in upstream \"x\"",
        "upstream server temporarily disabled",
        "\n",
        "\u{1b}[2J",
        "\u{fffd}",
        "\"",
        " (111: x)",
    ];
    let level = if rng.one_in(2) {
        "error"
    } else {
        rng.pick(&levels)
    };
    let id = if rng.one_in(2) {
        ids[1]
    } else {
        rng.pick(&ids)
    };
    let mut text = format!("{T}[{level}] {id}");
    if rng.one_in(2) {
        let (_, message) = MESSAGES[(rng.next() % MESSAGES.len() as u64) as usize];
        text.push_str(message);
    }
    for _ in 0..rng.next() % 4 {
        if rng.one_in(3) {
            let (_, message) = MESSAGES[(rng.next() % MESSAGES.len() as u64) as usize];
            let cut = (rng.next() as usize % (message.len() + 1)).max(message.len() / 2);
            text.push_str(message.get(..cut).unwrap_or(message));
        } else {
            text.push_str(rng.pick(&extras));
        }
    }
    if rng.one_in(2) {
        text.push_str(CTX);
    }
    let mut bytes = text.into_bytes();
    if rng.one_in(8) {
        let at = rng.next() as usize % bytes.len();
        bytes.insert(at, 0xff);
    }
    bytes
}

/// Where the prefilter accepts `entry`'s head, parsing the entry from the
/// head's spans gives what the parser gives (the scan parses that way).
fn assert_parsed_from_spans(entry: &[u8]) {
    let head = entry.split(|&b| b == b'\n').next().unwrap_or_default();
    let (Some(spans), Some(time)) = (split_head(head).map(Split::spans), line_time(head, 0)) else {
        return;
    };
    let text = String::from_utf8_lossy(entry);
    assert_eq!(
        parse_split_ref(&text, time, &spans),
        parse_line_ref(&text, 0),
        "{text:?}"
    );
}

#[test]
fn random_entries_classify_would_count_always_pass() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut counted_cases = 0;
    for _ in 0..200_000 {
        let entry = random_entry(&mut rng);
        assert_kept_if_counted(&entry);
        assert_parsed_from_spans(&entry);
        counted_cases += usize::from(counted_by_classify(&entry));
    }
    // The generator must reach the accepting paths, or it proves nothing.
    assert!(counted_cases > 10_000, "{counted_cases}");
}

#[test]
fn fastcgi_stderr_is_no_upstream_failure() {
    let book = crate::rules::signatures::default_book();
    assert!(!book.is_upstream_failure(Signature::FastcgiStderr));
}

/// `split_head` against the parser itself: on any line with a timestamp,
/// both accept or both refuse, with the same level and the same message
/// start (the parser's message borrows from the line, so its offset is
/// where the parser thinks the message starts).
mod split_head_agrees_with_the_parser {
    use proptest::prelude::*;

    use super::super::split_head;
    use crate::logs::Level;
    use crate::logs::nginx_line::parse_line_ref;

    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "[",
            "]",
            "] ",
            " ",
            "error",
            "crit",
            "warn",
            "err",
            "emerg] ",
            "1",
            "12",
            "#",
            ":",
            ": ",
            "*",
            "*7 ",
            "0123456789",
            "\r",
            "é",
            "x",
            "client ",
            " while ",
        ])
    }

    /// A plausible head with random pieces spliced in where it gets tricky.
    fn head() -> impl Strategy<Value = String> {
        // Mostly nothing, so that the accepting paths are reached too.
        let pieces = || {
            prop_oneof![
                3 => Just(String::new()),
                1 => prop::collection::vec(piece(), 1..4).prop_map(|v| v.concat()),
            ]
        };
        (
            prop::sample::select(vec!["error", "crit", "alert", "warn", "notice", "info", ""]),
            pieces(),
            // Pids and tids either side of eight digits, the word the
            // usual head is split from.
            prop::sample::select(vec![
                "1#1: ",
                "20734#20734: *5 ",
                "1#1: *",
                "123456789#1: ",
                "1234567#1234567: *12345678 ",
                "12345678#1: ",
                "1#12345678: ",
                "1234567#123456789: ",
            ]),
            pieces(),
            pieces(),
        )
            .prop_map(|(level, a, ids, b, c)| {
                format!("2026/11/24 21:18:00 [{level}{a}] {ids}{b}upstream timed out{c}")
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn same_level_and_message_start(line in prop_oneof![head(), head().prop_map(|h| h.replace("] ", "]"))]) {
            // Below `warn` nothing is a failure: the split stops at the level.
            let parsed = parse_line_ref(&line, 0)
                .filter(|l| l.level.at_least(Level::Warn))
                .map(|l| (l.level, l.message.as_ptr() as usize - line.as_ptr() as usize));
            let split = split_head(line.as_bytes()).map(|s| (s.level, s.at));
            prop_assert_eq!(split, parsed, "{:?}", line);
            // And the parse from the spans is the parser's.
            super::assert_parsed_from_spans(line.as_bytes());
        }
    }
}

proptest::proptest! {
    /// The word-at-a-time digit count against the byte loop, on bytes
    /// that are mostly digits (and the bytes next to them, and non-ASCII).
    #[test]
    fn digits_counts_like_the_byte_loop(
        bytes in proptest::collection::vec(
            proptest::prop_oneof![
                3 => b'0'..=b'9',
                1 => proptest::sample::select(vec![b'/', b':', b'#', b' ', 0xb0, 0xb9, 0x00, 0xff]),
                1 => proptest::num::u8::ANY,
            ],
            0..40,
        )
    ) {
        let want = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        proptest::prop_assert_eq!(super::digits(&bytes), want);
    }
}

/// Every byte value in every position, beside digits and beside bytes that
/// are not: a byte's answer never depends on its neighbours.
#[test]
fn non_digits_is_exact_for_every_byte_in_every_position() {
    for filler in [b'0', b'9', b'/', b':', 0x80, 0xff] {
        for at in 0..8 {
            for b in 0..=255u8 {
                let mut word = [filler; 8];
                word[at] = b;
                let got = super::non_digits(u64::from_le_bytes(word));
                for (i, byte) in word.iter().enumerate() {
                    let flagged = got >> (8 * i + 7) & 1 == 1;
                    assert_eq!(flagged, !byte.is_ascii_digit(), "{word:?} at {i}");
                }
                assert_eq!(got & !0x8080_8080_8080_8080, 0);
            }
        }
    }
}

proptest::proptest! {
    /// The word comparison is `starts_with`, for prefixes shorter and
    /// longer than a word and texts around their length.
    #[test]
    fn prefix_starts_like_starts_with(
        text in proptest::collection::vec(
            proptest::sample::select(b"client FastCGI sent in stderr: upstream\0\xff".to_vec()),
            0..40,
        ),
        cut in 0..40usize,
    ) {
        for prefix in [super::CLIENT, super::STDERR, super::DISABLED] {
            // Also the texts that are the prefix itself, cut anywhere.
            let cut_prefix = &prefix.bytes[..cut.min(prefix.bytes.len())];
            for text in [&text[..], cut_prefix, prefix.bytes] {
                proptest::prop_assert_eq!(prefix.starts(text), text.starts_with(prefix.bytes));
            }
        }
    }
}

mod scan_fields;
