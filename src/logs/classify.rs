//! Which [`Signature`] an nginx error line shows.
//!
//! Every check anchors on text nginx itself writes: the start of the message
//! (the emitter's fixed words), the parsed errno and the parsed action. Text
//! that strangers control — a request, a header, backend output quoted in
//! `upstream sent invalid header: "..."` or `FastCGI sent in stderr: "..."` —
//! sits after those anchors, so it cannot make a line look like another
//! failure. Plain `str` prefix tests keep it cheap enough for every line of a
//! large log; no regex is needed.

use std::sync::LazyLock;

use memchr::memmem::Finder;

use super::Level;
use super::nginx_line::{Action, ErrorLine, LineRef};
use super::signature::Signature;

// The anchors the scan's prefilter tests as well (`logs::prefilter`), said
// once so that the two cannot drift apart.
/// FastCGI stderr: the application writing, never counted by the scan.
pub(crate) const STDERR: &str = "FastCGI sent in stderr: ";
/// The one message below `error` that is a failure (logged at `warn`).
pub(crate) const DISABLED: &str = "upstream server temporarily disabled";
/// Client-side errors: never an upstream failure.
pub(crate) const CLIENT: &str = "client ";
/// How the messages without an action start (see [`without_action`]).
pub(crate) const NO_RESOLVER: &str = "no resolver defined to resolve ";
pub(crate) const HOST_NOT_FOUND: &str = "host not found in upstream \"";
pub(crate) const INVALID_PORT: &str = "invalid port in upstream \"";
pub(crate) const NO_PORT: &str = "no port in upstream \"";
pub(crate) const ACTIONLESS: [&str; 4] = [NO_RESOLVER, HOST_NOT_FOUND, INVALID_PORT, NO_PORT];
/// What follows the host name (the message's first word) of a resolver failure.
pub(crate) const UNRESOLVED: &str = " could not be resolved (";

/// The signature `line` shows, or `None` for lines that are no known
/// upstream failure (client-side errors, startup notices, unknown text).
pub fn classify(line: &ErrorLine) -> Option<Signature> {
    classify_ref(&line.borrowed())
}

/// [`classify`] on a borrowed line (what `scan` parses).
pub fn classify_ref(line: &LineRef) -> Option<Signature> {
    let msg = line.message;
    if msg.starts_with(STDERR) {
        return Some(Signature::FastcgiStderr);
    }
    // Below `error`, only the peer-disabled warning matters; the rest is
    // routine ("an upstream response is buffered to a temporary file").
    // nginx logs that warning at `warn` (ngx_http_upstream_free_round_robin_peer),
    // so `notice`, `info` and `debug` lines are never failures: the scan's
    // prefilter rejects them on the level alone.
    let disabled = line.level.at_least(Level::Warn) && msg.starts_with(DISABLED);
    if msg.starts_with(CLIENT) || !(line.level.at_least(Level::Error) || disabled) {
        return None;
    }
    match line.action {
        Some(Action::ReadingUpstream | Action::ProxyingUpgraded) => Some(Signature::BodyPhase),
        Some(Action::SendingToClient) if msg.starts_with("upstream ") => Some(Signature::BodyPhase),
        Some(Action::ConnectingToUpstream) => connecting(line),
        Some(Action::SslHandshaking) => handshaking(line),
        Some(Action::SendingRequest) => sending(line),
        Some(Action::ReadingResponseHeader) => reading_header(line),
        Some(Action::SendingToClient | Action::SendingEarlyHints) => None,
        None => without_action(msg),
    }
}

/// Failures while connecting: the errno and the socket family decide.
fn connecting(line: &LineRef) -> Option<Signature> {
    let msg = line.message;
    if msg.starts_with("upstream timed out ") {
        return Some(Signature::ConnectTimeout);
    }
    if msg.starts_with("no live upstreams") {
        return Some(Signature::NoLiveUpstreams);
    }
    if msg.starts_with(DISABLED) {
        return Some(Signature::UpstreamDisabledWarn);
    }
    if is_internal_500(msg) {
        return Some(Signature::Internal500);
    }
    if !msg.starts_with("connect() ") {
        return None;
    }
    let unix = msg.starts_with("connect() to unix:");
    match (line.errno?, unix) {
        (111, false) => Some(Signature::ConnRefusedTcp),
        (111, true) => Some(Signature::UnixSocketStale),
        (2, true) => Some(Signature::UnixSocketMissing),
        (13, true) => Some(Signature::UnixSocketEacces),
        (13, false) => Some(Signature::TcpEacces),
        (11, true) => Some(Signature::UnixBacklogFull),
        (99, false) => Some(Signature::PortExhaustion),
        (113, _) => Some(Signature::HostUnreachable),
        (101, _) => Some(Signature::NetUnreachable),
        _ => None,
    }
}

/// nginx's own failures before a connection exists; the client gets 500.
fn is_internal_500(msg: &str) -> bool {
    // Built once: `str::contains` would build a searcher for every connect
    // failure of a large log.
    static NOT_ENOUGH: LazyLock<Finder<'static>> =
        LazyLock::new(|| Finder::new(" worker_connections are not enough"));
    NOT_ENOUGH.find(msg.as_bytes()).is_some()
        || msg.starts_with("socket() failed")
        || (msg.starts_with("bind(") && msg.contains(") failed"))
}

fn handshaking(line: &LineRef) -> Option<Signature> {
    let msg = line.message;
    if msg.starts_with("upstream timed out ") {
        Some(Signature::SslHandshakeTimeout)
    } else if let Some(ssl) = msg.strip_prefix("SSL_do_handshake() failed (SSL: ") {
        if ssl.contains("wrong version number") {
            Some(Signature::SslWrongVersion)
        } else if ssl.contains("alert") {
            Some(Signature::SslHandshakeAlert)
        } else {
            None
        }
    } else if msg.starts_with("peer closed connection in SSL handshake") {
        Some(Signature::SslHandshakeAlert)
    } else if msg.starts_with("upstream SSL certificate verify error: (") {
        Some(Signature::SslVerifyError)
    } else if msg.starts_with("upstream SSL certificate does not match \"") {
        Some(Signature::SslNameMismatch)
    } else {
        None
    }
}

fn sending(line: &LineRef) -> Option<Signature> {
    let msg = line.message;
    if msg.starts_with("upstream timed out ") {
        return Some(Signature::SendTimeout);
    }
    let writer = [
        "writev() failed",
        "send() failed",
        "sendfile() failed",
        "SSL_write() failed",
    ];
    let reset_or_pipe = matches!(line.errno, Some(104 | 32));
    (reset_or_pipe && writer.iter().any(|w| msg.starts_with(w))).then_some(Signature::SendReset)
}

/// Failures before the response header arrived: the richest phase.
fn reading_header(line: &LineRef) -> Option<Signature> {
    let msg = line.message;
    if msg.starts_with("upstream timed out ") {
        return Some(Signature::ReadHeaderTimeout);
    }
    if msg.starts_with("upstream prematurely closed connection") {
        return Some(Signature::PrematureCloseHeader);
    }
    if msg.starts_with("upstream prematurely closed FastCGI stdout") {
        return Some(Signature::FastcgiClosedStdout);
    }
    let reader = ["recv() failed", "readv() failed", "SSL_read() failed"];
    if line.errno == Some(104) && reader.iter().any(|r| msg.starts_with(r)) {
        return Some(Signature::ResetHeader);
    }
    upstream_sent(msg)
}

/// `upstream sent ...`: the backend's answer was not acceptable.
fn upstream_sent(msg: &str) -> Option<Signature> {
    let what = msg.strip_prefix("upstream sent ")?;
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| what.starts_with(p));
    if what.starts_with("too big header") {
        Some(Signature::TooBigHeader)
    } else if what.starts_with("invalid status \"") {
        Some(Signature::InvalidStatus)
    } else if what.starts_with("no valid HTTP/1.0 header") {
        Some(Signature::NoValidHttp)
    } else if what.starts_with("unsupported FastCGI protocol version: ") {
        Some(Signature::FastcgiProtocolVersion)
    } else if starts(&[
        "unexpected FastCGI record: ",
        "invalid FastCGI record type: ",
        "unexpected FastCGI request id ",
    ]) {
        Some(Signature::FastcgiBadRecord)
    } else if what.starts_with("too large http2 frame: ") {
        Some(Signature::GrpcFrame)
    } else if is_invalid_header(what) {
        Some(Signature::InvalidHeader)
    } else {
        None
    }
}

/// The header rejections of catalogue D5. Duplicates fail the request only
/// for Content-Length and Transfer-Encoding (nginx >= 1.23.0, `error`); the
/// others are a `warn` "... ignoring" that [`classify`] already set aside.
fn is_invalid_header(what: &str) -> bool {
    let rejected = [
        "invalid header",
        "invalid \"Content-Length\" header",
        "\"Content-Length\" and \"Transfer-Encoding\"",
        "unknown \"Transfer-Encoding\"",
        "HTTP/1.0 response with early hints",
        "invalid :status",
        "no :status header",
        "duplicate header line: \"Content-Length",
        "duplicate header line: \"Transfer-Encoding",
    ];
    rejected.iter().any(|p| what.starts_with(p))
}

/// Lines nginx writes with no action: resolver and config-time failures.
fn without_action(msg: &str) -> Option<Signature> {
    if msg.starts_with(NO_RESOLVER) {
        return Some(Signature::NoResolver);
    }
    if msg.starts_with(HOST_NOT_FOUND) {
        return Some(Signature::HostNotFoundConfig);
    }
    if msg.starts_with(INVALID_PORT) || msg.starts_with(NO_PORT) {
        return Some(Signature::BadPortConfig);
    }
    let (name, _) = msg.split_once(UNRESOLVED)?;
    (!name.is_empty() && !name.contains(' ')).then_some(Signature::ResolveFailed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::nginx_line::parse_line;

    const T: &str = "2026/11/24 21:18:00 ";
    const CTX: &str = r#", client: 127.0.0.1, server: , request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:9001/x", host: "127.0.0.1:8080""#;

    fn sig_of(line: &str) -> Option<Signature> {
        let parsed = parse_line(line, 0).unwrap_or_else(|| panic!("should parse: {line}"));
        classify(&parsed)
    }

    /// Lines quoted verbatim from the catalogue's §3 (the lab stripped the
    /// timestamp, [`T`] puts one back).
    const LAB_LINES: &[(&str, Option<Signature>)] = &[
        (
            r#"[error] 20734#20734: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /refused HTTP/1.1", upstream: "http://127.0.0.1:9001/refused", host: "127.0.0.1:8080""#,
            Some(Signature::ConnRefusedTcp),
        ),
        (
            r#"[crit] 20734#20734: *119 connect() to unix:/srv/lab/run/php-missing.sock failed (2: No such file or directory) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /php-missing/ok.php HTTP/1.1", upstream: "fastcgi://unix:/srv/lab/run/php-missing.sock:", host: "127.0.0.1:8080""#,
            Some(Signature::UnixSocketMissing),
        ),
        (
            r#"[error] 20734#20734: *5 connect() to unix:/srv/lab/run/stale.sock failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /unix-stale HTTP/1.1", upstream: "http://unix:/srv/lab/run/stale.sock:/", host: "127.0.0.1:8080""#,
            Some(Signature::UnixSocketStale),
        ),
        (
            r#"[crit] 20734#20734: *117 connect() to unix:/srv/lab/run/perm.sock failed (13: Permission denied) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /php-perm/ok.php HTTP/1.1", upstream: "fastcgi://unix:/srv/lab/run/perm.sock:", host: "127.0.0.1:8080""#,
            Some(Signature::UnixSocketEacces),
        ),
        (
            r#"[error] 20734#20734: *137 connect() to unix:/srv/lab/run/mc.sock failed (11: Resource temporarily unavailable) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /php-mc/sleep.php?s=3 HTTP/1.1", upstream: "fastcgi://unix:/srv/lab/run/mc.sock:", host: "127.0.0.1:8080""#,
            Some(Signature::UnixBacklogFull),
        ),
        (
            r#"[crit] 20734#20734: *93 connect() to 127.0.0.6:80 failed (13: Permission denied) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /route-prohibit HTTP/1.1", upstream: "http://127.0.0.6:80/route-prohibit", host: "127.0.0.1:8080""#,
            Some(Signature::TcpEacces),
        ),
        (
            r#"[crit] 20734#20734: *145 connect() to 127.0.0.1:9025 failed (99: Cannot assign requested address) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /portexhaust HTTP/1.1", upstream: "http://127.0.0.1:9025/portexhaust", host: "127.0.0.1:8080""#,
            Some(Signature::PortExhaustion),
        ),
        (
            r#"[error] 20734#20734: *87 connect() failed (113: No route to host) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /fw-hostprohib HTTP/1.1", upstream: "http://127.0.0.1:9027/fw-hostprohib", host: "127.0.0.1:8080""#,
            Some(Signature::HostUnreachable),
        ),
        (
            r#"[error] 20734#20734: *83 upstream timed out (110: Connection timed out) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /fw-drop HTTP/1.1", upstream: "http://127.0.0.1:9024/fw-drop", host: "127.0.0.1:8080""#,
            Some(Signature::ConnectTimeout),
        ),
        (
            r#"[error] 20734#20734: *40 no live upstreams while connecting to upstream, client: 127.0.0.1, server: , request: "GET /nolive HTTP/1.1", upstream: "http://dead2/nolive", host: "127.0.0.1:8080""#,
            Some(Signature::NoLiveUpstreams),
        ),
        (
            r#"[error] 20734#20734: *43 nonexistent.invalid could not be resolved (3: Host not found), client: 127.0.0.1, server: , request: "GET /resolver-nx HTTP/1.1", host: "127.0.0.1:8080""#,
            Some(Signature::ResolveFailed),
        ),
        (
            r#"[error] 20734#20734: *42 no resolver defined to resolve nonexistent.invalid, client: 127.0.0.1, server: , request: "GET /noresolver HTTP/1.1", host: "127.0.0.1:8080""#,
            Some(Signature::NoResolver),
        ),
        (
            r#"[emerg] 22757#22757: host not found in upstream "app-container:8080" in upstreamhost.conf:1"#,
            Some(Signature::HostNotFoundConfig),
        ),
        (
            r#"[emerg] 22799#22799: host not found in upstream "backend.invalid" in /srv/lab/etcnginx/sites-enabled/app:4"#,
            Some(Signature::HostNotFoundConfig),
        ),
        (
            r#"[error] 20734#20734: *13 upstream timed out (110: Connection timed out) while sending request to upstream, client: 127.0.0.1, server: , request: "POST /timeout-send HTTP/1.1", upstream: "http://127.0.0.1:9004/timeout-send", host: "127.0.0.1:8080""#,
            Some(Signature::SendTimeout),
        ),
        (
            r#"[error] 20734#20734: *19 writev() failed (104: Connection reset by peer) while sending request to upstream, client: 127.0.0.1, server: , request: "POST /rst-while-send HTTP/1.1", upstream: "http://127.0.0.1:9007/rst-while-send", host: "127.0.0.1:8080""#,
            Some(Signature::SendReset),
        ),
        (
            r#"[error] 20734#20734: *9 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /timeout-read HTTP/1.1", upstream: "http://127.0.0.1:9002/timeout-read", host: "127.0.0.1:8080""#,
            Some(Signature::ReadHeaderTimeout),
        ),
        (
            r#"[error] 20734#20734: *15 upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /premature HTTP/1.1", upstream: "http://127.0.0.1:9005/premature", host: "127.0.0.1:8080""#,
            Some(Signature::PrematureCloseHeader),
        ),
        (
            r#"[error] 21292#21292: *30 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /php/sleep.php?s=10 HTTP/1.1", upstream: "fastcgi://unix:/srv/lab/run/php.sock:", host: "127.0.0.1:8080""#,
            Some(Signature::ResetHeader),
        ),
        (
            r#"[error] 20734#20734: *21 upstream sent too big header while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /bigheader HTTP/1.1", upstream: "http://127.0.0.1:9008/bigheader", host: "127.0.0.1:8080""#,
            Some(Signature::TooBigHeader),
        ),
        (
            r#"[error] 21292#21292: *1 upstream sent unsupported FastCGI protocol version: 72 while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /fcgi-to-node HTTP/1.1", upstream: "fastcgi://127.0.0.1:9030", host: "127.0.0.1:8080""#,
            Some(Signature::FastcgiProtocolVersion),
        ),
        (
            r#"[error] 21292#21292: *5 SSL_do_handshake() failed (SSL: error:0A00010B:SSL routines::wrong version number) while SSL handshaking to upstream, client: 127.0.0.1, server: , request: "GET /ssl-to-node HTTP/1.1", upstream: "https://127.0.0.1:9030/ssl-to-node", host: "127.0.0.1:8080""#,
            Some(Signature::SslWrongVersion),
        ),
        (
            r#"[error] 20734#20734: *78 upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1, server: , request: "POST /ka HTTP/1.1", upstream: "http://127.0.0.1:9022/ka", host: "127.0.0.1:8080""#,
            Some(Signature::PrematureCloseHeader),
        ),
    ];

    #[test]
    fn every_catalogue_lab_line_classifies() {
        for (line, want) in LAB_LINES {
            assert_eq!(sig_of(&format!("{T}{line}")), *want, "{line}");
        }
    }

    /// Messages of the results matrix (§6.7) and §3 that the catalogue quotes
    /// without the rest of the line; [`CTX`] supplies it.
    const LAB_MESSAGES: &[(&str, &str, Option<Signature>)] = &[
        (
            "error",
            "connect() to 127.0.0.5:80 failed (113: No route to host) while connecting to upstream",
            Some(Signature::HostUnreachable),
        ),
        (
            "error",
            "connect() to 127.0.0.7:80 failed (101: Network is unreachable) while connecting to upstream",
            Some(Signature::NetUnreachable),
        ),
        (
            "crit",
            "bind(127.0.0.1:9030) failed (98: Address already in use) while connecting to upstream",
            Some(Signature::Internal500),
        ),
        (
            "alert",
            "3 worker_connections are not enough while connecting to upstream",
            Some(Signature::Internal500),
        ),
        (
            "alert",
            "socket() failed (24: Too many open files) while connecting to upstream",
            Some(Signature::Internal500),
        ),
        (
            "warn",
            "upstream server temporarily disabled while connecting to upstream",
            Some(Signature::UpstreamDisabledWarn),
        ),
        (
            "error",
            "nonexistent.invalid could not be resolved (2: Server failure)",
            Some(Signature::ResolveFailed),
        ),
        (
            "error",
            "nonexistent.invalid could not be resolved (110: Operation timed out)",
            Some(Signature::ResolveFailed),
        ),
        (
            "error",
            r#"invalid port in upstream "127.0.0.1:99999""#,
            Some(Signature::BadPortConfig),
        ),
        (
            "error",
            "writev() failed (32: Broken pipe) while sending request to upstream",
            Some(Signature::SendReset),
        ),
        (
            "error",
            r#"upstream sent invalid header: "Bad\x20..." while reading response header from upstream"#,
            Some(Signature::InvalidHeader),
        ),
        (
            "error",
            r#"upstream sent invalid header: "X-Nul: a\x00..." while reading response header from upstream"#,
            Some(Signature::InvalidHeader),
        ),
        (
            "error",
            r#"upstream sent duplicate header line: "Content-Length: 5", previous value: "Content-Length: 3" while reading response header from upstream"#,
            Some(Signature::InvalidHeader),
        ),
        (
            "warn",
            r#"upstream sent duplicate header line: "X-A: 2", previous value: "X-A: 1", ignoring while reading response header from upstream"#,
            None,
        ),
        (
            "error",
            "upstream sent no valid HTTP/1.0 header while reading response header from upstream",
            Some(Signature::NoValidHttp),
        ),
        (
            "error",
            "upstream sent unexpected FastCGI record: 3 while reading response header from upstream",
            Some(Signature::FastcgiBadRecord),
        ),
        (
            "error",
            "upstream prematurely closed FastCGI stdout while reading response header from upstream",
            Some(Signature::FastcgiClosedStdout),
        ),
        (
            "error",
            r#"upstream sent invalid status "abc" while reading response header from upstream"#,
            Some(Signature::InvalidStatus),
        ),
        (
            "error",
            r#"FastCGI sent in stderr: "PHP message: something bad" while reading response header from upstream"#,
            Some(Signature::FastcgiStderr),
        ),
        (
            "error",
            r#"FastCGI sent in stderr: "Primary script unknown" while reading response header from upstream"#,
            Some(Signature::FastcgiStderr),
        ),
        (
            "error",
            "upstream sent too large http2 frame: 4740180 while reading response header from upstream",
            Some(Signature::GrpcFrame),
        ),
        (
            "error",
            "upstream timed out (110: Connection timed out) while SSL handshaking to upstream",
            Some(Signature::SslHandshakeTimeout),
        ),
        (
            "error",
            "SSL_do_handshake() failed (SSL: error:0A000410:SSL routines::sslv3 alert handshake failure:SSL alert number 40) while SSL handshaking to upstream",
            Some(Signature::SslHandshakeAlert),
        ),
        (
            "error",
            "peer closed connection in SSL handshake (104: Connection reset by peer) while SSL handshaking to upstream",
            Some(Signature::SslHandshakeAlert),
        ),
        (
            "error",
            "upstream SSL certificate verify error: (18:self-signed certificate) while SSL handshaking to upstream",
            Some(Signature::SslVerifyError),
        ),
        (
            "error",
            "upstream SSL certificate verify error: (20:unable to get local issuer certificate) while SSL handshaking to upstream",
            Some(Signature::SslVerifyError),
        ),
        (
            "error",
            r#"upstream SSL certificate does not match "wrong.example" while SSL handshaking to upstream"#,
            Some(Signature::SslNameMismatch),
        ),
        (
            "error",
            "upstream prematurely closed connection while reading upstream",
            Some(Signature::BodyPhase),
        ),
        (
            "error",
            "upstream timed out (110: Connection timed out) while reading upstream",
            Some(Signature::BodyPhase),
        ),
        (
            "error",
            "upstream prematurely closed FastCGI request while reading upstream",
            Some(Signature::BodyPhase),
        ),
        (
            "error",
            "recv() failed (104: Connection reset by peer) while reading upstream",
            Some(Signature::BodyPhase),
        ),
        (
            "error",
            "upstream timed out (110: Connection timed out) while proxying upgraded connection",
            Some(Signature::BodyPhase),
        ),
        (
            "error",
            "upstream prematurely closed connection while sending to client",
            Some(Signature::BodyPhase),
        ),
    ];

    #[test]
    fn every_catalogue_message_classifies() {
        for (level, msg, want) in LAB_MESSAGES {
            let line = format!("{T}[{level}] 1#1: *1 {msg}{CTX}");
            assert_eq!(sig_of(&line), *want, "{msg}");
        }
    }

    #[test]
    fn nginx_t_config_errors_classify() {
        let cases = [
            (
                r#"nginx: [emerg] host not found in upstream "backend.invalid" in /etc/nginx/conf.d/a.conf:3"#,
                Signature::HostNotFoundConfig,
            ),
            (
                r#"nginx: [emerg] invalid port in upstream "127.0.0.1:99999" in /etc/nginx/conf.d/a.conf:3"#,
                Signature::BadPortConfig,
            ),
            (
                r#"nginx: [emerg] no port in upstream "php-fpm" in /etc/nginx/conf.d/a.conf:9"#,
                Signature::BadPortConfig,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(sig_of(line), Some(want), "{line}");
        }
    }

    #[test]
    fn client_side_and_unrelated_lines_are_not_upstream_failures() {
        let lines = [
            format!(
                "{T}[info] 1#1: *1 client prematurely closed connection while sending to client{CTX}"
            ),
            format!(
                "{T}[error] 1#1: *1 writev() failed (104: Connection reset by peer) while sending to client{CTX}"
            ),
            format!(
                "{T}[warn] 1#1: *1 a client request body is buffered to a temporary file /var/lib/nginx/body/0000000001{CTX}"
            ),
            format!(
                r#"{T}[error] 1#1: *1 open() "/srv/www/favicon.ico" failed (2: No such file or directory){CTX}"#
            ),
            format!("{T}[notice] 1#1: signal process started"),
            format!(
                "{T}[warn] 1#1: *1 an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/1/00/0000000001 while reading upstream{CTX}"
            ),
            format!(
                "{T}[error] 1#1: *1 connect() failed (104: Connection reset by peer) while connecting to upstream{CTX}"
            ),
        ];
        for line in &lines {
            assert_eq!(sig_of(line), None, "{line}");
        }
    }

    #[test]
    fn backend_text_quoted_in_stderr_cannot_pose_as_a_connect_failure() {
        let line = format!(
            r#"{T}[error] 1#1: *1 FastCGI sent in stderr: "connect() failed (111: Connection refused) while connecting to upstream, client: 6.6.6.6" while reading response header from upstream{CTX}"#
        );
        assert_eq!(sig_of(&line), Some(Signature::FastcgiStderr));
    }

    #[test]
    fn header_text_cannot_pose_as_a_timeout() {
        let line = format!(
            r#"{T}[error] 1#1: *1 upstream sent invalid header: "upstream timed out (110: x)\x00..." while reading response header from upstream{CTX}"#
        );
        assert_eq!(sig_of(&line), Some(Signature::InvalidHeader));
    }

    #[test]
    fn request_text_cannot_pose_as_no_live_upstreams() {
        let line = format!(
            r#"{T}[error] 1#1: *1 upstream prematurely closed connection while reading response header from upstream, client: 1.2.3.4, server: , request: "GET /no%20live%20upstreams$(rm%20-rf%20/) HTTP/1.1""#
        );
        assert_eq!(sig_of(&line), Some(Signature::PrematureCloseHeader));
    }

    #[test]
    fn hostile_line_classifies_without_panic() {
        let mut line = format!("{T}[error] 1#1: *1 upstream sent invalid header: \"");
        line.push_str("\u{1b}[2J\0\u{fffd}$(rm -rf /)");
        line.push_str(&"\u{1b}]8;;x\u{7}".repeat(100_000));
        line.push_str("\" while reading response header from upstream");
        line.push_str(CTX);
        assert_eq!(sig_of(&line), Some(Signature::InvalidHeader));
    }
}
