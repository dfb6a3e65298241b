//! What protocol a port speaks, asked the way an admin would with three tools —
//! `cgi-fcgi`, `openssl s_client`, `curl` — but bounded and without them: a FastCGI
//! record, then a TLS ClientHello, then an HTTP request, stopping at the first
//! greeting whose answer is conclusive.
//!
//! The FastCGI record goes first because it is the cheapest to judge: php-fpm answers it,
//! an HTTP server rejects it with a `400` at once (its padding ends in a blank line, so a
//! parser waiting for one is not left waiting), a TLS server answers with an alert, an
//! HTTP/2-only server (gRPC) with a SETTINGS or GOAWAY frame. A server that takes the
//! connection and says nothing (a pool with every worker busy) is not asked again: a
//! second greeting would cost another timeout and say nothing more.

use super::reply::{Reply, greet};
use super::{ConnectResult, Target, fastcgi_ping, tls_sniff};
use std::time::Duration;

/// The protocol a port speaks, as far as greetings could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaks {
    Fastcgi,
    Http,
    Http2,
    Tls,
    /// It took the connection and answered nothing in time.
    Silent,
    /// It closed or reset every greeting: nothing conclusive.
    Unknown,
}

impl Speaks {
    /// The word the rules compare with what a pass directive speaks.
    pub fn as_str(self) -> &'static str {
        match self {
            Speaks::Fastcgi => "fastcgi",
            Speaks::Http => "http",
            Speaks::Http2 => "http2",
            Speaks::Tls => "tls",
            Speaks::Silent => "silent",
            Speaks::Unknown => "unknown",
        }
    }
}

/// One way to greet a port, bounded by its timeout.
type Greeting = fn(&Target, Duration) -> Result<Reply, ConnectResult>;

/// Greets `target` until one answer is conclusive; `timeout` bounds each greeting. Also
/// returns the answers, for the evidence (`fastcgi: closed; tls: alert`).
pub fn speaks(target: &Target, timeout: Duration) -> Result<(Speaks, Vec<String>), ConnectResult> {
    let mut heard = Vec::new();
    let greetings: [(&str, Greeting); 3] = [
        ("a FastCGI record", fastcgi_ping),
        ("a TLS ClientHello", tls_sniff),
        ("an HTTP request", http_request),
    ];
    for (what, greeting) in greetings {
        let reply = greeting(target, timeout)?;
        heard.push(format!("{what}: {}", describe(&reply)));
        match judge(&reply) {
            Some(s) => return Ok((s, heard)),
            None if reply == Reply::Silent => return Ok((Speaks::Silent, heard)),
            None => {}
        }
    }
    Ok((Speaks::Unknown, heard))
}

/// What one answer proves, if anything.
fn judge(reply: &Reply) -> Option<Speaks> {
    match reply {
        Reply::Fastcgi { .. } => Some(Speaks::Fastcgi),
        Reply::Http { .. } => Some(Speaks::Http),
        Reply::Tls => Some(Speaks::Tls),
        Reply::Http2 => Some(Speaks::Http2),
        Reply::Closed | Reply::Reset | Reply::Silent | Reply::Other(_) => None,
    }
}

fn describe(reply: &Reply) -> String {
    match reply {
        Reply::Fastcgi { record_type, .. } => format!("a FastCGI record (type {record_type})"),
        Reply::Http { first_line } => format!("\"{first_line}\""),
        Reply::Tls => "a TLS record".into(),
        Reply::Http2 => "an HTTP/2 frame".into(),
        Reply::Closed => "closed without a byte".into(),
        Reply::Reset => "reset".into(),
        Reply::Silent => "nothing before the timeout".into(),
        Reply::Other(b) => format!("a first byte 0x{b:02x}, no known protocol"),
    }
}

/// A plain HTTP/1.0 request for `/`, the last greeting: what `curl` would send.
fn http_request(target: &Target, timeout: Duration) -> Result<Reply, ConnectResult> {
    greet(
        target,
        timeout,
        b"GET / HTTP/1.0\r\nHost: localhost\r\nUser-Agent: nginx-doctor\r\n\r\n",
    )
}
