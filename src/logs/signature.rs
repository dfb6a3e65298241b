//! Known upstream failures nginx logs, each with its status and its causes.
//!
//! A signature names *what* nginx saw (the catalogue's quick index, §7 of
//! `research/502-catalogue.md`); the same signature usually has several
//! causes (a refused connection: the backend is down, listens elsewhere, or a
//! firewall rejects), which [`Signature::candidates`] ranks by the
//! catalogue's evidence. The rules pick among them by probing the host.
//! [`classify`](super::classify::classify) maps a parsed line to a signature.
//!
//! Not here: the catalogue's correlation rows (`stale-dns`, `keepalive-race`,
//! `backend-own-5xx`), which no single line can show.

use serde::{Serialize, Serializer};

/// One known failure, as one error-log line shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signature {
    ConnRefusedTcp,
    UnixSocketStale,
    UnixSocketMissing,
    UnixSocketEacces,
    UnixBacklogFull,
    TcpEacces,
    PortExhaustion,
    HostUnreachable,
    NetUnreachable,
    ConnectTimeout,
    Internal500,
    NoLiveUpstreams,
    ResolveFailed,
    NoResolver,
    HostNotFoundConfig,
    BadPortConfig,
    SendTimeout,
    SendReset,
    ReadHeaderTimeout,
    PrematureCloseHeader,
    ResetHeader,
    TooBigHeader,
    InvalidHeader,
    NoValidHttp,
    FastcgiProtocolVersion,
    FastcgiBadRecord,
    FastcgiClosedStdout,
    InvalidStatus,
    FastcgiStderr,
    GrpcFrame,
    SslWrongVersion,
    SslHandshakeAlert,
    SslHandshakeTimeout,
    SslVerifyError,
    SslNameMismatch,
    BodyPhase,
    UpstreamDisabledWarn,
}

/// What is known about one signature.
struct Info {
    id: &'static str,
    status: Option<u16>,
    candidates: &'static [&'static str],
    summary: &'static str,
}

// Cause ids of CAUSES.md, named once so a typo cannot slip into a list.
const BACKEND_DOWN: &str = "backend-down";
const WRONG_ADDRESS: &str = "backend-wrong-address";
const POOL_EXHAUSTED: &str = "backend-pool-exhausted";
const REQUEST_KILLED: &str = "backend-request-killed";
const CRASHED: &str = "backend-crashed";
const TIMEOUT: &str = "upstream-timeout";
const CONFIG_INVALID: &str = "config-invalid";
const PROTOCOL_MISMATCH: &str = "pass-protocol-mismatch";
const SOCKET_PERMISSION: &str = "socket-permission";
const SELINUX: &str = "selinux-denied";
const FIREWALL: &str = "firewall-blocked";
const HEADER_TOO_BIG: &str = "header-too-big";
const TLS_FAILED: &str = "upstream-tls-failed";
const DNS_FAILED: &str = "upstream-dns-failed";
const PORTS_EXHAUSTED: &str = "ephemeral-ports-exhausted";
const KEEPALIVE_RACE: &str = "upstream-keepalive-race";
const INVALID_RESPONSE: &str = "invalid-upstream-response";
const STALE_DNS: &str = "upstream-stale-dns";
const NO_LIVE: &str = "no-live-upstreams";

impl Signature {
    /// Every signature, in catalogue order.
    pub const ALL: [Signature; 37] = [
        Signature::ConnRefusedTcp,
        Signature::UnixSocketStale,
        Signature::UnixSocketMissing,
        Signature::UnixSocketEacces,
        Signature::UnixBacklogFull,
        Signature::TcpEacces,
        Signature::PortExhaustion,
        Signature::HostUnreachable,
        Signature::NetUnreachable,
        Signature::ConnectTimeout,
        Signature::Internal500,
        Signature::NoLiveUpstreams,
        Signature::ResolveFailed,
        Signature::NoResolver,
        Signature::HostNotFoundConfig,
        Signature::BadPortConfig,
        Signature::SendTimeout,
        Signature::SendReset,
        Signature::ReadHeaderTimeout,
        Signature::PrematureCloseHeader,
        Signature::ResetHeader,
        Signature::TooBigHeader,
        Signature::InvalidHeader,
        Signature::NoValidHttp,
        Signature::FastcgiProtocolVersion,
        Signature::FastcgiBadRecord,
        Signature::FastcgiClosedStdout,
        Signature::InvalidStatus,
        Signature::FastcgiStderr,
        Signature::GrpcFrame,
        Signature::SslWrongVersion,
        Signature::SslHandshakeAlert,
        Signature::SslHandshakeTimeout,
        Signature::SslVerifyError,
        Signature::SslNameMismatch,
        Signature::BodyPhase,
        Signature::UpstreamDisabledWarn,
    ];

    /// The catalogue's kebab-case id (`conn-refused-tcp`).
    pub fn id(self) -> &'static str {
        self.info().id
    }

    /// The status the client got for the request the line logs: 502, 504 or
    /// 500. `None` when nginx did not decide one: config-time errors
    /// (`host-not-found-config`, `bad-port-config`; a run-time bad port gives
    /// 500), the body phase (the client already had the backend's status),
    /// HTTP/0.9 pass-through (`009`), FastCGI stderr (the app's status), and
    /// the `upstream server temporarily disabled` warning.
    pub fn status(self) -> Option<u16> {
        self.info().status
    }

    /// The CAUSES.md cause ids this signature can mean, most likely first.
    /// Empty when the line is no cause of a 502/504 by itself
    /// (`fastcgi-stderr`, `body-phase`, `internal-500`).
    pub fn candidates(self) -> &'static [&'static str] {
        self.info().candidates
    }

    /// One plain sentence saying what happened.
    pub fn summary(self) -> &'static str {
        self.info().summary
    }

    /// The signature with catalogue id `id`.
    pub fn from_id(id: &str) -> Option<Signature> {
        Signature::ALL.into_iter().find(|s| s.id() == id)
    }

    fn info(self) -> Info {
        use Signature as S;
        let (id, status, candidates, summary): (_, _, &'static [&'static str], _) = match self {
            S::ConnRefusedTcp => (
                "conn-refused-tcp",
                Some(502),
                &[BACKEND_DOWN, WRONG_ADDRESS, FIREWALL, STALE_DNS],
                "The backend refused the TCP connection: nothing listens on that address and port, or a firewall rejects it.",
            ),
            S::UnixSocketStale => (
                "unix-socket-stale",
                Some(502),
                &[BACKEND_DOWN, CRASHED, WRONG_ADDRESS],
                "The backend's unix socket file exists but no process listens on it any more.",
            ),
            S::UnixSocketMissing => (
                "unix-socket-missing",
                Some(502),
                &[BACKEND_DOWN, WRONG_ADDRESS],
                "The unix socket nginx connects to does not exist.",
            ),
            S::UnixSocketEacces => (
                "unix-socket-eacces",
                Some(502),
                &[SOCKET_PERMISSION, SELINUX],
                "nginx's worker user is not allowed to connect to the backend's unix socket.",
            ),
            S::UnixBacklogFull => (
                "unix-backlog-full",
                Some(502),
                &[POOL_EXHAUSTED],
                "The backend's unix socket queue is full: every worker is busy and no more connections may wait.",
            ),
            S::TcpEacces => (
                "tcp-eacces",
                Some(502),
                &[SELINUX, FIREWALL],
                "The kernel denied nginx the TCP connection to the backend (SELinux policy, usually).",
            ),
            S::PortExhaustion => (
                "port-exhaustion",
                Some(502),
                &[PORTS_EXHAUSTED],
                "nginx has no free local port left to open another connection to the backend.",
            ),
            S::HostUnreachable => (
                "host-unreachable",
                Some(502),
                &[FIREWALL, BACKEND_DOWN, STALE_DNS],
                "The backend's host could not be reached: a firewall rejected the connection or the host is gone.",
            ),
            S::NetUnreachable => (
                "net-unreachable",
                Some(502),
                &[WRONG_ADDRESS, FIREWALL, STALE_DNS],
                "There is no network route from the nginx host to the backend's address.",
            ),
            S::ConnectTimeout => (
                "connect-timeout",
                Some(504),
                &[FIREWALL, POOL_EXHAUSTED, STALE_DNS, BACKEND_DOWN, TIMEOUT],
                "The backend never answered the connection attempt: packets are dropped or its accept queue is full.",
            ),
            S::Internal500 => (
                "internal-500",
                Some(500),
                &[],
                "nginx failed on its own side before connecting (connections, file descriptors or proxy_bind), so the client got 500.",
            ),
            S::NoLiveUpstreams => (
                "no-live-upstreams",
                Some(502),
                &[NO_LIVE, BACKEND_DOWN],
                "Every server of the upstream group is marked failed or down, so nginx tried none of them.",
            ),
            S::ResolveFailed => (
                "resolve-failed",
                Some(502),
                &[DNS_FAILED],
                "nginx's resolver could not resolve the upstream host name at request time.",
            ),
            S::NoResolver => (
                "no-resolver",
                Some(502),
                &[DNS_FAILED],
                "The upstream name is only known at request time and no resolver is configured to look it up.",
            ),
            S::HostNotFoundConfig => (
                "host-not-found-config",
                None,
                &[CONFIG_INVALID],
                "A host name in the configuration does not resolve, so nginx refuses to load the configuration.",
            ),
            S::BadPortConfig => (
                "bad-port-config",
                None,
                &[CONFIG_INVALID],
                "An upstream address has an invalid or missing port.",
            ),
            S::SendTimeout => (
                "send-timeout",
                Some(504),
                &[POOL_EXHAUSTED, TIMEOUT],
                "The backend stopped reading the request before nginx could send all of it.",
            ),
            S::SendReset => (
                "send-reset",
                Some(502),
                &[REQUEST_KILLED, CRASHED, KEEPALIVE_RACE],
                "The backend closed the connection while nginx was still sending the request.",
            ),
            S::ReadHeaderTimeout => (
                "read-header-timeout",
                Some(504),
                &[TIMEOUT, POOL_EXHAUSTED, PROTOCOL_MISMATCH],
                "The backend took the request but sent no response header before nginx's read timeout.",
            ),
            S::PrematureCloseHeader => (
                "premature-close-header",
                Some(502),
                &[REQUEST_KILLED, CRASHED, KEEPALIVE_RACE, PROTOCOL_MISMATCH],
                "The backend closed the connection without sending a response header.",
            ),
            S::ResetHeader => (
                "reset-header",
                Some(502),
                &[
                    REQUEST_KILLED,
                    CRASHED,
                    PROTOCOL_MISMATCH,
                    POOL_EXHAUSTED,
                    KEEPALIVE_RACE,
                ],
                "The backend reset the connection before sending a response header.",
            ),
            S::TooBigHeader => (
                "too-big-header",
                Some(502),
                &[HEADER_TOO_BIG],
                "The backend's response headers do not fit nginx's header buffer.",
            ),
            S::InvalidHeader => (
                "invalid-header",
                Some(502),
                &[INVALID_RESPONSE],
                "The backend sent a response header nginx cannot accept.",
            ),
            S::NoValidHttp => (
                "no-valid-http",
                None,
                &[PROTOCOL_MISMATCH, INVALID_RESPONSE],
                "The backend answered with something that is not HTTP, and nginx passed it on raw as HTTP/0.9.",
            ),
            S::FastcgiProtocolVersion => (
                "fastcgi-protocol-version",
                Some(502),
                &[PROTOCOL_MISMATCH],
                "The peer behind fastcgi_pass does not speak FastCGI (usually an HTTP server answers there).",
            ),
            S::FastcgiBadRecord => (
                "fastcgi-bad-record",
                Some(502),
                &[INVALID_RESPONSE, PROTOCOL_MISMATCH, KEEPALIVE_RACE],
                "The FastCGI backend sent a record nginx did not expect at that point.",
            ),
            S::FastcgiClosedStdout => (
                "fastcgi-closed-stdout",
                Some(502),
                &[INVALID_RESPONSE],
                "The FastCGI backend ended its output before sending a response header.",
            ),
            S::InvalidStatus => (
                "invalid-status",
                Some(502),
                &[INVALID_RESPONSE],
                "The backend sent a Status header that is not a valid status code.",
            ),
            S::FastcgiStderr => (
                "fastcgi-stderr",
                None,
                &[],
                "The FastCGI application wrote to its error stream; the client's status comes from the application.",
            ),
            S::GrpcFrame => (
                "grpc-frame",
                Some(502),
                &[PROTOCOL_MISMATCH],
                "The peer behind grpc_pass does not speak HTTP/2 (usually an HTTP/1 server answers there).",
            ),
            S::SslWrongVersion => (
                "ssl-wrong-version",
                Some(502),
                &[PROTOCOL_MISMATCH, TLS_FAILED],
                "nginx spoke TLS to a backend port that answers in plain HTTP.",
            ),
            S::SslHandshakeAlert => (
                "ssl-handshake-alert",
                Some(502),
                &[TLS_FAILED],
                "The backend rejected nginx's TLS handshake (no SNI, no common protocol, or a client certificate required).",
            ),
            S::SslHandshakeTimeout => (
                "ssl-handshake-timeout",
                Some(504),
                &[PROTOCOL_MISMATCH, TLS_FAILED, TIMEOUT],
                "The TLS handshake with the backend did not finish within nginx's connect timeout.",
            ),
            S::SslVerifyError => (
                "ssl-verify-error",
                Some(502),
                &[TLS_FAILED],
                "nginx could not verify the backend's TLS certificate.",
            ),
            S::SslNameMismatch => (
                "ssl-name-mismatch",
                Some(502),
                &[TLS_FAILED],
                "The backend's TLS certificate does not name the host nginx expected.",
            ),
            S::BodyPhase => (
                "body-phase",
                None,
                &[],
                "The backend failed after its response header was sent, so the client got a cut-off response, not a 502 or 504.",
            ),
            S::UpstreamDisabledWarn => (
                "upstream-disabled-warn",
                None,
                &[NO_LIVE],
                "nginx marked a server of an upstream group as failed for a while after errors.",
            ),
        };
        Info {
            id,
            status,
            candidates,
            summary,
        }
    }
}

/// Serialized as its id, the form reports and rules use.
impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cause ids of CAUSES.md (the report contract).
    const CAUSES: [&str; 21] = [
        "backend-down",
        "backend-wrong-address",
        "backend-pool-exhausted",
        "backend-request-killed",
        "backend-crashed",
        "upstream-timeout",
        "config-invalid",
        "pass-protocol-mismatch",
        "socket-permission",
        "selinux-denied",
        "firewall-blocked",
        "header-too-big",
        "upstream-tls-failed",
        "upstream-dns-failed",
        "ephemeral-ports-exhausted",
        "upstream-keepalive-race",
        "invalid-upstream-response",
        "upstream-stale-dns",
        "backend-sent-502",
        "no-live-upstreams",
        "no-fault-found",
    ];

    #[test]
    fn every_candidate_is_a_cause_of_causes_md() {
        for sig in Signature::ALL {
            for cause in sig.candidates() {
                assert!(
                    CAUSES.contains(cause),
                    "{}: unknown cause {cause}",
                    sig.id()
                );
            }
        }
    }

    #[test]
    fn ids_are_unique_kebab_case_and_round_trip() {
        for sig in Signature::ALL {
            let id = sig.id();
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            );
            assert_eq!(Signature::from_id(id), Some(sig));
        }
        assert_eq!(Signature::from_id("no-such-signature"), None);
    }

    #[test]
    fn only_timer_expiries_are_504() {
        let timeouts = [
            Signature::ConnectTimeout,
            Signature::SendTimeout,
            Signature::ReadHeaderTimeout,
            Signature::SslHandshakeTimeout,
        ];
        for sig in Signature::ALL {
            assert_eq!(
                sig.status() == Some(504),
                timeouts.contains(&sig),
                "{}",
                sig.id()
            );
        }
    }

    #[test]
    fn dns_timeout_signature_is_502() {
        assert_eq!(Signature::ResolveFailed.status(), Some(502));
    }

    #[test]
    fn informational_signatures_have_no_status() {
        for sig in [
            Signature::BodyPhase,
            Signature::NoValidHttp,
            Signature::FastcgiStderr,
        ] {
            assert_eq!(sig.status(), None, "{}", sig.id());
        }
    }

    #[test]
    fn summaries_are_single_sentences() {
        for sig in Signature::ALL {
            let s = sig.summary();
            assert!(s.ends_with('.') && !s.contains('\n'), "{}", sig.id());
        }
    }

    #[test]
    fn serializes_as_its_id() {
        let json = serde_json::to_string(&Signature::ResetHeader).expect("serializes");
        assert_eq!(json, "\"reset-header\"");
    }
}
