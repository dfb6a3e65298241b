//! The `upstream: "..."` field of an nginx error line, as scheme, peer and URI.
//!
//! nginx writes it as `schema + peer name + separator + uri`
//! (`ngx_http_log_error_handler()`): `http://127.0.0.1:9001/refused`,
//! `http://[::1]:8080/x`, `http://unix:/run/app.sock:/` (a `:` separates a
//! unix path from the URI), `fastcgi://unix:/run/php.sock:` (FastCGI has no
//! URI), and `http://dead2/nolive` — the upstream group's name when no peer
//! was chosen ("no live upstreams"). The peer tells the diagnosis where to
//! probe, so it is typed: an IP literal, a socket path or a group name, never
//! a string that could be passed on unchecked.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

/// Where nginx tried to send the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpstreamRef {
    /// `http`, `https`, `fastcgi`, `uwsgi`, `suwsgi`, `scgi`, `grpc`, `grpcs`, ...
    pub scheme: String,
    /// The peer nginx picked, or the group it could not pick from.
    pub address: UpstreamAddr,
    /// The URI sent upstream (`/refused`); empty for FastCGI and bare peers.
    pub uri: String,
}

/// The peer part of an upstream reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum UpstreamAddr {
    /// A TCP peer: nginx logs the address it connected to, always an IP literal.
    Tcp { host: IpAddr, port: u16 },
    /// A unix-domain socket path (`/run/php/php8.2-fpm.sock`).
    Unix(String),
    /// An upstream group or host name with no chosen peer (`dead2`).
    Group(String),
}

impl fmt::Display for UpstreamAddr {
    /// The form nginx itself writes: `127.0.0.1:9001`, `[::1]:8080`,
    /// `unix:/run/app.sock`, `dead2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamAddr::Tcp {
                host: IpAddr::V6(ip),
                port,
            } => write!(f, "[{ip}]:{port}"),
            UpstreamAddr::Tcp { host, port } => write!(f, "{host}:{port}"),
            UpstreamAddr::Unix(path) => write!(f, "unix:{path}"),
            UpstreamAddr::Group(name) => f.write_str(name),
        }
    }
}

impl UpstreamRef {
    /// Parses the value of an `upstream:` field (without the quotes). `None`
    /// when it does not have nginx's shape (no `scheme://`, empty peer).
    pub fn parse(value: &str) -> Option<UpstreamRef> {
        let (scheme, peer, uri) = split(value)?;
        Some(UpstreamRef {
            scheme: scheme.to_owned(),
            address: peer.address(),
            uri: uri.to_owned(),
        })
    }
}

/// The peer part of an `upstream:` value, still as logged: what
/// [`UpstreamAddr`] is made of, for callers that need no copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerText<'a> {
    /// `unix:PATH`, the `unix:` included: exactly how the address displays.
    Unix(&'a str),
    /// `ip:port`, `[ipv6]:port` or a group name.
    Inet(&'a str),
}

impl PeerText<'_> {
    /// The typed address.
    pub fn address(self) -> UpstreamAddr {
        match self {
            PeerText::Unix(text) => UpstreamAddr::Unix(text["unix:".len()..].to_owned()),
            PeerText::Inet(authority) => {
                tcp_peer(authority).unwrap_or_else(|| UpstreamAddr::Group(authority.to_owned()))
            }
        }
    }
}

/// Scheme, peer and URI of an `upstream:` value, borrowed; `None` when
/// [`UpstreamRef::parse`] would refuse it.
pub fn split(value: &str) -> Option<(&str, PeerText<'_>, &str)> {
    // The first `://`, found by its `:` (the first one, in nginx's form):
    // cheaper than building a substring searcher for every failure.
    let bytes = value.as_bytes();
    let sep = memchr::memchr_iter(b':', bytes).find(|&at| bytes[at + 1..].starts_with(b"//"))?;
    let (scheme, rest) = (&value[..sep], &value[sep + 3..]);
    let scheme_ok = !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_lowercase());
    if !scheme_ok {
        return None;
    }
    let (peer, uri) = match rest.strip_prefix("unix:") {
        Some(socket) => {
            split_unix(socket).map(|(path, uri)| (PeerText::Unix(&rest[..5 + path]), uri))?
        }
        None => split_inet(rest).map(|(authority, uri)| (PeerText::Inet(authority), uri))?,
    };
    Some((scheme, peer, uri))
}

/// `/run/app.sock:/uri` → the path's length and the URI. nginx's own
/// `unix:` parser ends the path at the first `:`, so a URI containing `:`
/// stays whole.
fn split_unix(socket: &str) -> Option<(usize, &str)> {
    // memchr: `split_once(char)` costs a searcher per failure a scan counts.
    let (path, uri) = match memchr::memchr(b':', socket.as_bytes()) {
        Some(at) => (&socket[..at], &socket[at + 1..]),
        None => (socket, ""),
    };
    (!path.is_empty()).then_some((path.len(), uri))
}

/// `127.0.0.1:9001/uri`, `[::1]:8080/uri` or `group/uri` → authority and URI.
fn split_inet(rest: &str) -> Option<(&str, &str)> {
    let find =
        |byte: u8, from: usize| memchr::memchr(byte, &rest.as_bytes()[from..]).map(|at| from + at);
    let authority_end = if rest.starts_with('[') {
        find(b']', 0).and_then(|close| find(b'/', close))
    } else {
        find(b'/', 0)
    };
    let (authority, uri) = rest.split_at(authority_end.unwrap_or(rest.len()));
    (!authority.is_empty()).then_some((authority, uri))
}

/// An `ip:port` / `[ipv6]:port` authority, or `None` for names.
fn tcp_peer(authority: &str) -> Option<UpstreamAddr> {
    let (host, port) = authority.rsplit_once(':')?;
    let host = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.strip_suffix(']')?,
        None => host,
    };
    let host: IpAddr = host.parse().ok()?;
    let port: u16 = port.parse().ok()?;
    Some(UpstreamAddr::Tcp { host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(value: &str) -> UpstreamRef {
        UpstreamRef::parse(value).unwrap_or_else(|| panic!("{value:?} should parse"))
    }

    fn tcp(host: &str, port: u16) -> UpstreamAddr {
        UpstreamAddr::Tcp {
            host: host.parse().expect("test literal"),
            port,
        }
    }

    #[test]
    fn tcp_upstream_splits_into_address_and_uri() {
        let u = parsed("http://127.0.0.1:9001/refused");
        assert_eq!(u.scheme, "http");
        assert_eq!(u.address, tcp("127.0.0.1", 9001));
        assert_eq!(u.uri, "/refused");
    }

    #[test]
    fn ipv6_upstream_keeps_its_port() {
        let u = parsed("http://[::1]:8080/x");
        assert_eq!(u.address, tcp("::1", 8080));
        assert_eq!(u.uri, "/x");
        assert_eq!(u.address.to_string(), "[::1]:8080");
    }

    #[test]
    fn fastcgi_unix_socket_keeps_its_path_and_has_no_uri() {
        let u = parsed("fastcgi://unix:/srv/lab/run/php.sock:");
        assert_eq!(u.scheme, "fastcgi");
        assert_eq!(
            u.address,
            UpstreamAddr::Unix("/srv/lab/run/php.sock".into())
        );
        assert_eq!(u.uri, "");
        assert_eq!(u.address.to_string(), "unix:/srv/lab/run/php.sock");
    }

    #[test]
    fn http_unix_socket_separates_path_from_uri() {
        let u = parsed("http://unix:/x.sock:/a?next=http://b:1/");
        assert_eq!(u.address, UpstreamAddr::Unix("/x.sock".into()));
        assert_eq!(u.uri, "/a?next=http://b:1/");
    }

    #[test]
    fn fastcgi_tcp_peer_has_no_uri() {
        let u = parsed("fastcgi://127.0.0.1:9018");
        assert_eq!(u.address, tcp("127.0.0.1", 9018));
        assert_eq!(u.uri, "");
    }

    #[test]
    fn group_name_is_not_taken_for_an_address() {
        let u = parsed("http://dead2/nolive");
        assert_eq!(u.address, UpstreamAddr::Group("dead2".into()));
        assert_eq!(u.uri, "/nolive");
        let named = parsed("http://localhost:9043/");
        assert_eq!(named.address, UpstreamAddr::Group("localhost:9043".into()));
    }

    #[test]
    fn other_schemes_parse() {
        assert_eq!(parsed("uwsgi://127.0.0.1:9041").scheme, "uwsgi");
        assert_eq!(
            parsed("grpc://127.0.0.1:9030").address,
            tcp("127.0.0.1", 9030)
        );
        assert_eq!(
            parsed("https://127.0.0.1:9021/ssl-verify").uri,
            "/ssl-verify"
        );
    }

    #[test]
    fn malformed_values_are_rejected() {
        for bad in [
            "",
            "127.0.0.1:5432",
            "http://",
            "HTTP://a/",
            "http://unix::/",
            "$(rm -rf /)://x",
        ] {
            assert_eq!(UpstreamRef::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn out_of_range_port_is_a_name_not_an_address() {
        let u = parsed("http://127.0.0.1:99999/");
        assert_eq!(u.address, UpstreamAddr::Group("127.0.0.1:99999".into()));
    }

    proptest::proptest! {
        /// The scheme ends at the first `://`, as `str::split_once` finds it.
        #[test]
        fn scheme_ends_at_the_first_separator(
            parts in proptest::collection::vec(
                proptest::sample::select(vec!["http", ":", "/", "://", "unix:", "a", "é", "[::1]"]),
                0..12,
            )
        ) {
            let value = parts.concat();
            let want = value
                .split_once("://")
                .map(|(scheme, _)| scheme)
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase()));
            let got = split(&value).map(|(scheme, _, _)| scheme);
            // `split` may still refuse a value for an empty peer.
            proptest::prop_assert!(got.is_none() || got == want, "{:?}", value);
            proptest::prop_assert!(want.is_some() || got.is_none(), "{:?}", value);
        }
    }
}
