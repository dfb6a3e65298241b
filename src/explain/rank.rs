//! Ranking a line's candidate causes with what the line itself shows.
//!
//! A signature's candidates are ranked for the failure in general. Some
//! lines say more: the pass directive's protocol is in the `upstream:`
//! scheme, the backend's address in its peer. The rules that use it are the
//! pack's (`rank:` under a signature in `rules/05-signatures.yaml`), each
//! resting on one fact of `research/502-catalogue.md` and saying why it
//! moved a cause so the reader can judge it; here they are only applied.
//!
//! Already right in the static lists, and tested as such: a unix-socket
//! `(13: Permission denied)` puts `socket-permission` before
//! `selinux-denied` (A4); a TCP `(13)` puts `selinux-denied` first (A6, trap 8).

use crate::logs::{ErrorLine, Signature};
pub use crate::rules::signatures::Ranked;
use crate::rules::signatures::SignatureBook;

/// The causes `line` (which shows `signature`) can mean, most likely first.
pub fn rank(signature: Signature, line: &ErrorLine, book: &SignatureBook) -> Ranked {
    book.ranked(signature, line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{classify, nginx_line::parse_line};
    use crate::rules::signatures::default_book;

    fn ranked(line: &str) -> (Signature, Ranked) {
        let parsed = parse_line(line, 0).expect("parses");
        let sig = classify(&parsed).expect("classifies");
        (sig, rank(sig, &parsed, &default_book()))
    }

    fn reset_to(upstream: &str) -> String {
        format!(
            r#"2026/11/24 21:18:00 [error] 1#1: *1 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", upstream: "{upstream}", host: "h""#
        )
    }

    #[test]
    fn http_reset_from_port_9000_puts_protocol_mismatch_first() {
        let (_, r) = ranked(&reset_to("http://127.0.0.1:9000/http-to-fpm"));
        assert_eq!(r.ids[0], "pass-protocol-mismatch");
        assert!(r.why.is_some_and(|w| w.contains("9000")));
    }

    #[test]
    fn fastcgi_reset_from_port_9000_keeps_the_static_order() {
        let (sig, r) = ranked(&reset_to("fastcgi://127.0.0.1:9000"));
        assert_eq!(r.ids, default_book().of(sig).causes);
        assert_eq!(r.why, None);
    }

    #[test]
    fn http_reset_from_another_port_keeps_the_static_order() {
        let (sig, r) = ranked(&reset_to("http://127.0.0.1:9100/x"));
        assert_eq!(r.ids, default_book().of(sig).causes);
        assert_eq!(r.ids[0], "backend-request-killed");
    }

    #[test]
    fn promotion_keeps_every_candidate_once() {
        let (sig, r) = ranked(&reset_to("http://[::1]:9000/"));
        let mut got = r.ids.clone();
        let mut want = default_book().of(sig).causes.clone();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
    }

    #[test]
    fn unix_permission_denied_ranks_socket_permission_then_selinux() {
        let (_, r) = ranked(
            r#"2026/11/24 21:18:00 [crit] 1#1: *117 connect() to unix:/srv/lab/run/perm.sock failed (13: Permission denied) while connecting to upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", upstream: "fastcgi://unix:/srv/lab/run/perm.sock:", host: "h""#,
        );
        assert_eq!(r.ids[..2], ["socket-permission", "selinux-denied"]);
    }

    #[test]
    fn tcp_permission_denied_ranks_selinux_first() {
        let (_, r) = ranked(
            r#"2026/11/24 21:18:00 [crit] 1#1: *93 connect() to 127.0.0.6:80 failed (13: Permission denied) while connecting to upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", upstream: "http://127.0.0.6:80/", host: "h""#,
        );
        assert_eq!(r.ids[0], "selinux-denied");
    }
}
