//! Known upstream failures nginx logs: the classifier's closed vocabulary.
//!
//! A signature names *what* nginx saw (the catalogue's quick index, §7 of
//! `research/502-catalogue.md`); [`classify`](super::classify::classify)
//! maps a parsed line to one. What a signature *means* (the status the
//! client got, a sentence, the causes it can mean, most likely first) is
//! pack knowledge: `signatures:` in `rules/05-signatures.yaml`, read by the
//! pack's `SignatureBook` (a layer above this one). The rules
//! pick among the causes by probing the host.
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
        use Signature as S;
        match self {
            S::ConnRefusedTcp => "conn-refused-tcp",
            S::UnixSocketStale => "unix-socket-stale",
            S::UnixSocketMissing => "unix-socket-missing",
            S::UnixSocketEacces => "unix-socket-eacces",
            S::UnixBacklogFull => "unix-backlog-full",
            S::TcpEacces => "tcp-eacces",
            S::PortExhaustion => "port-exhaustion",
            S::HostUnreachable => "host-unreachable",
            S::NetUnreachable => "net-unreachable",
            S::ConnectTimeout => "connect-timeout",
            S::Internal500 => "internal-500",
            S::NoLiveUpstreams => "no-live-upstreams",
            S::ResolveFailed => "resolve-failed",
            S::NoResolver => "no-resolver",
            S::HostNotFoundConfig => "host-not-found-config",
            S::BadPortConfig => "bad-port-config",
            S::SendTimeout => "send-timeout",
            S::SendReset => "send-reset",
            S::ReadHeaderTimeout => "read-header-timeout",
            S::PrematureCloseHeader => "premature-close-header",
            S::ResetHeader => "reset-header",
            S::TooBigHeader => "too-big-header",
            S::InvalidHeader => "invalid-header",
            S::NoValidHttp => "no-valid-http",
            S::FastcgiProtocolVersion => "fastcgi-protocol-version",
            S::FastcgiBadRecord => "fastcgi-bad-record",
            S::FastcgiClosedStdout => "fastcgi-closed-stdout",
            S::InvalidStatus => "invalid-status",
            S::FastcgiStderr => "fastcgi-stderr",
            S::GrpcFrame => "grpc-frame",
            S::SslWrongVersion => "ssl-wrong-version",
            S::SslHandshakeAlert => "ssl-handshake-alert",
            S::SslHandshakeTimeout => "ssl-handshake-timeout",
            S::SslVerifyError => "ssl-verify-error",
            S::SslNameMismatch => "ssl-name-mismatch",
            S::BodyPhase => "body-phase",
            S::UpstreamDisabledWarn => "upstream-disabled-warn",
        }
    }

    /// The signature with catalogue id `id`.
    pub fn from_id(id: &str) -> Option<Signature> {
        Signature::ALL.into_iter().find(|s| s.id() == id)
    }
}

/// A set of signatures, small and `Copy`: which ones a reader counts (the
/// pack decides, see `SignatureBook::upstream_failures`) travels with each
/// part of a scan and costs a bit test per line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignatureSet(u64);

impl SignatureSet {
    /// Whether `signature` is in the set.
    pub fn contains(self, signature: Signature) -> bool {
        self.0 & bit(signature) != 0
    }
}

impl FromIterator<Signature> for SignatureSet {
    fn from_iter<I: IntoIterator<Item = Signature>>(iter: I) -> Self {
        SignatureSet(iter.into_iter().fold(0, |set, s| set | bit(s)))
    }
}

/// The bit of `signature`: its place in the declaration, below 64 (a test
/// holds [`Signature::ALL`] to fewer than 64).
fn bit(signature: Signature) -> u64 {
    1 << (signature as u32)
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
    fn a_set_holds_what_it_was_made_of() {
        assert!(Signature::ALL.len() < 64, "SignatureSet is a u64");
        let set: SignatureSet = [Signature::ResetHeader, Signature::BodyPhase]
            .into_iter()
            .collect();
        for sig in Signature::ALL {
            let want = matches!(sig, Signature::ResetHeader | Signature::BodyPhase);
            assert_eq!(set.contains(sig), want, "{}", sig.id());
        }
    }

    #[test]
    fn serializes_as_its_id() {
        let json = serde_json::to_string(&Signature::ResetHeader).expect("serializes");
        assert_eq!(json, "\"reset-header\"");
    }
}
