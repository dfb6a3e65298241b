//! What a parsed line means in plain words: the phase, the errno, and the
//! status the client really got.
//!
//! The status is where a literal reading goes wrong most often (catalogue §1
//! and §8): a `[warn] upstream server temporarily disabled` is no failure by
//! itself, `FastCGI sent in stderr: "Primary script unknown"` is a 404, and
//! a failure while reading the body comes after the client already had the
//! backend's status. What the client got for each signature, and the notes
//! on such a line, are the pack's (`client_got:` and `notes:` in
//! `rules/05-signatures.yaml`); here are the phase, the errno and the
//! status's own words. Every sentence states a fact of the catalogue.

use crate::logs::{Action, ErrorLine, Signature};
use crate::rules::signatures::SignatureBook;

/// What nginx was doing when it failed, as a sentence fragment.
pub fn phase(action: Action) -> &'static str {
    match action {
        Action::ConnectingToUpstream => "nginx was opening a connection to the backend",
        Action::SslHandshaking => {
            "nginx had connected and was doing the TLS handshake with the backend"
        }
        Action::SendingRequest => "nginx had connected and was sending the request to the backend",
        Action::ReadingResponseHeader => {
            "nginx had sent the request and was waiting for the response header"
        }
        Action::ReadingUpstream => {
            "the backend had already sent its response header, and nginx was reading the body"
        }
        Action::ProxyingUpgraded => {
            "the connection had been upgraded (e.g. a WebSocket) and nginx was relaying it"
        }
        Action::SendingToClient => "nginx was sending the response to the client",
        Action::SendingEarlyHints => "nginx was sending early hints (103) to the client",
    }
}

/// The errno (or resolver code) in plain words, when it is one nginx's
/// upstream failures carry.
pub fn errno_meaning(line: &ErrorLine) -> Option<&'static str> {
    let code = line.errno?;
    if line.message.contains(" could not be resolved (") {
        return resolver_meaning(code);
    }
    let unix = line.message.starts_with("connect() to unix:");
    Some(match code {
        2 if unix => "the unix socket file does not exist",
        2 => "a file or path does not exist",
        11 if unix => {
            "the socket's listen queue is full (Linux reports it this way on unix sockets)"
        }
        13 => {
            "the kernel refused nginx's worker: file permissions on a unix socket, SELinux policy, or a prohibit route"
        }
        24 => "nginx's worker reached its limit of open files",
        32 => "the backend had already closed the connection",
        98 => "the local address nginx binds to (proxy_bind) is already in use",
        99 => "no local port or address is free to connect from",
        101 => "there is no route to the backend's network",
        104 => "the backend (or something in between) aborted the connection with a TCP reset",
        110 if line.message.starts_with("upstream timed out") => {
            "nginx's own timer for this phase ran out (a *_timeout directive)"
        }
        110 => "the connection timed out",
        111 if unix => "no process listens on the socket file",
        111 => {
            "nothing accepted the connection at that address and port, or a firewall rejected it with a reset"
        }
        113 => {
            "the backend's host could not be reached: a firewall's ICMP reject, or the host is gone"
        }
        _ => return None,
    })
}

/// `ngx_resolver_strerror()`'s codes; every one of them gives 502.
fn resolver_meaning(code: i32) -> Option<&'static str> {
    Some(match code {
        1 => "the DNS server could not read the query (format error); the client still got 502",
        2 => "the DNS server failed (SERVFAIL); the client got 502",
        3 => "the name does not exist (NXDOMAIN); the client got 502",
        4 => "the DNS server does not implement the query; the client got 502",
        5 => "the DNS server refused the query; the client got 502",
        110 => {
            "the DNS server did not answer within resolver_timeout; still a 502, since only nginx's upstream timers give 504"
        }
        _ => return None,
    })
}

/// What the client received for the logged request: a status when one is
/// known, and the sentence that says it.
pub struct ClientGot {
    pub status: Option<u16>,
    pub text: String,
}

/// What the client got for a line that shows `signature`: as the pack's
/// `client_got` rules say, else from the status it gives the signature.
pub fn client_got(signature: Signature, line: &ErrorLine, book: &SignatureBook) -> ClientGot {
    match book.client_got(signature, line) {
        Some((status, text)) => ClientGot { status, text },
        None => gateway_status(signature, line, book.of(signature).status),
    }
}

/// 502 or 504 as the signature says, with the retry caveat where nginx may
/// have tried another server (catalogue §1.2: the last attempt decides).
fn gateway_status(signature: Signature, line: &ErrorLine, status: Option<u16>) -> ClientGot {
    let Some(status) = status else {
        return ClientGot {
            status: None,
            text: "not known from this line.".to_owned(),
        };
    };
    let name = match status {
        504 => "504 Gateway Timeout",
        502 => "502 Bad Gateway",
        _ => "an error status",
    };
    let retried = matches!(
        line.action,
        Some(
            Action::ConnectingToUpstream
                | Action::SslHandshaking
                | Action::SendingRequest
                | Action::ReadingResponseHeader
        )
    ) && signature != Signature::NoLiveUpstreams;
    let text = if retried {
        format!(
            "{name}, unless nginx retried the request on another server (proxy_next_upstream) and that one answered."
        )
    } else {
        format!("{name}.")
    };
    ClientGot {
        status: Some(status),
        text,
    }
}

/// Facts about this line that change how to read it, as sentences: the
/// pack's `notes` for its signature.
pub fn notes(signature: Signature, line: &ErrorLine, book: &SignatureBook) -> Vec<String> {
    book.notes(signature, line)
}

/// The summary of an nginx line that is no known upstream failure.
pub fn not_an_upstream_failure(line: &ErrorLine) -> &'static str {
    let about_client = line.message.starts_with("client ")
        || matches!(
            line.action,
            Some(Action::SendingToClient | Action::SendingEarlyHints)
        );
    if about_client {
        "This nginx line is about the connection to the client, not to the backend: it is no upstream failure and did not cause a 502 or 504."
    } else {
        "This nginx line is no upstream failure nginx-doctor knows: it did not cause a 502 or 504 by itself."
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::nginx_line::parse_line;
    use crate::rules::signatures::default_book;

    fn line(level: &str, message: &str) -> ErrorLine {
        let text = format!(
            r#"2026/11/24 21:18:00 [{level}] 1#1: *1 {message}, client: 127.0.0.1, server: , request: "POST /x HTTP/1.1", upstream: "http://127.0.0.1:9/x", host: "h""#
        );
        parse_line(&text, 0).expect("parses")
    }

    #[test]
    fn primary_script_unknown_is_a_404() {
        let l = line(
            "error",
            r#"FastCGI sent in stderr: "Primary script unknown" while reading response header from upstream"#,
        );
        let got = client_got(Signature::FastcgiStderr, &l, &default_book());
        assert_eq!(got.status, Some(404));
        assert!(got.text.contains("Not a 502"));
    }

    #[test]
    fn php_fatal_error_is_a_500() {
        let l = line(
            "error",
            r#"FastCGI sent in stderr: "PHP message: PHP Fatal error:  Uncaught Error" while reading response header from upstream"#,
        );
        assert_eq!(
            client_got(Signature::FastcgiStderr, &l, &default_book()).status,
            Some(500)
        );
    }

    #[test]
    fn other_stderr_has_no_status() {
        let l = line(
            "error",
            r#"FastCGI sent in stderr: "PHP message: something bad" while reading response header from upstream"#,
        );
        assert_eq!(
            client_got(Signature::FastcgiStderr, &l, &default_book()).status,
            None
        );
    }

    #[test]
    fn disabled_warning_is_no_failure_by_itself() {
        let l = line(
            "warn",
            "upstream server temporarily disabled while connecting to upstream",
        );
        let got = client_got(Signature::UpstreamDisabledWarn, &l, &default_book());
        assert_eq!(got.status, None);
        assert!(got.text.contains("logged just before"));
    }

    #[test]
    fn body_phase_says_the_status_was_already_sent() {
        let l = line(
            "error",
            "upstream prematurely closed connection while reading upstream",
        );
        let got = client_got(Signature::BodyPhase, &l, &default_book());
        assert_eq!(got.status, None);
        assert!(got.text.contains("already been sent"));
    }

    #[test]
    fn connect_timeout_is_a_504_with_the_retry_caveat() {
        let l = line(
            "error",
            "upstream timed out (110: Connection timed out) while connecting to upstream",
        );
        let got = client_got(Signature::ConnectTimeout, &l, &default_book());
        assert_eq!(got.status, Some(504));
        assert!(got.text.contains("proxy_next_upstream"));
    }

    #[test]
    fn run_time_bad_port_is_a_500_and_config_time_has_no_status() {
        let l = line("error", r#"invalid port in upstream "127.0.0.1:99999""#);
        assert_eq!(
            client_got(Signature::BadPortConfig, &l, &default_book()).status,
            Some(500)
        );
        let conf = parse_line(
            r#"nginx: [emerg] no port in upstream "php" in /etc/nginx/a.conf:9"#,
            0,
        )
        .expect("parses");
        assert_eq!(
            client_got(Signature::BadPortConfig, &conf, &default_book()).status,
            None
        );
    }

    #[test]
    fn resolver_codes_are_not_read_as_errnos() {
        let l = line(
            "error",
            "app.invalid could not be resolved (110: Operation timed out)",
        );
        assert!(errno_meaning(&l).is_some_and(|m| m.contains("resolver_timeout")));
    }

    #[test]
    fn timer_expiry_is_named_as_nginx_s_own() {
        let l = line(
            "error",
            "upstream timed out (110: Connection timed out) while reading response header from upstream",
        );
        assert!(errno_meaning(&l).is_some_and(|m| m.contains("own timer")));
    }

    #[test]
    fn post_reset_notes_the_keepalive_race() {
        let l = line(
            "error",
            "upstream prematurely closed connection while reading response header from upstream",
        );
        let notes = notes(Signature::PrematureCloseHeader, &l, &default_book());
        assert!(notes.iter().any(|n| n.contains("upstream-keepalive-race")));
    }

    #[test]
    fn client_side_line_says_it_is_about_the_client() {
        let l = line(
            "info",
            "client prematurely closed connection while sending to client",
        );
        assert!(not_an_upstream_failure(&l).contains("client"));
    }
}
