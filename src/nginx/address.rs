//! Endpoints nginx connects to, parsed the way `ngx_parse_url()` reads pass
//! targets and upstream `server` lines, and the way nginx prints them in the
//! `upstream: "..."` field of an error-log line. Comparing the two is how a
//! failing log line is traced back to the location that produced it.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

/// Where nginx connects: a TCP host and port, or a unix socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Address {
    /// `host:port`; `host` is an IP literal (IPv6 without brackets) or a name.
    Tcp {
        /// IP literal or host name, as written.
        host: String,
        /// The port, explicit or the scheme's default.
        port: u16,
    },
    /// `unix:/path`.
    Unix(PathBuf),
}

/// An address as written, before a default port is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Written {
    Unix(PathBuf),
    Inet { host: String, port: Option<u16> },
}

impl Address {
    /// Parses `unix:/path`, `[::1]:8080`, `127.0.0.1:9000`, `localhost:9000` or
    /// a bare host. A host without a port takes `default_port`; without one it
    /// is None, as nginx refuses it ("no port in upstream"). With `uri_part`
    /// (proxy_pass) a trailing `/uri` or `?args` is cut, and for unix sockets
    /// the path ends at the first `:` (`unix:/run/a.sock:/uri`).
    pub fn parse(text: &str, default_port: Option<u16>, uri_part: bool) -> Option<Address> {
        match parse_written(text, uri_part)? {
            Written::Unix(path) => Some(Address::Unix(path)),
            Written::Inet { host, port } => Some(Address::Tcp {
                host,
                port: port.or(default_port)?,
            }),
        }
    }

    /// Parses the `upstream:` field of an error-log line, e.g.
    /// `http://127.0.0.1:9001/refused`, `fastcgi://unix:/run/php.sock:` or
    /// `http://[::1]:8080/`. A field naming an upstream group instead of a peer
    /// (`http://backend/x`, logged when no peer was chosen) gives the group
    /// name as host with the scheme's default port, or None for schemes
    /// without one; [`crate::nginx::Model::find_by_log_upstream`] handles both.
    pub fn from_log(field: &str) -> Option<Address> {
        let (scheme, rest) = split_scheme(field);
        Address::parse(rest, scheme.and_then(default_port), true)
    }

    /// Whether two addresses are the same endpoint: IP literals compare as
    /// addresses (`::1` = `0::1`), names case-insensitively, and `localhost`
    /// equals 127.0.0.1 and ::1. Other names are not resolved.
    pub fn same_endpoint(&self, other: &Address) -> bool {
        match (self, other) {
            (Address::Unix(a), Address::Unix(b)) => a == b,
            (Address::Tcp { host: a, port: p }, Address::Tcp { host: b, port: q }) => {
                p == q && same_host(a, b)
            }
            _ => false,
        }
    }
}

impl fmt::Display for Address {
    /// Formats as nginx logs a peer: `127.0.0.1:9000`, `[::1]:8080`, `unix:/path`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Address::Tcp { host, port } => write!(f, "{host}:{port}"),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Splits `scheme://rest`; the scheme is lower-cased.
pub(crate) fn split_scheme(text: &str) -> (Option<String>, &str) {
    match text.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            (Some(scheme.to_ascii_lowercase()), rest)
        }
        _ => (None, text),
    }
}

/// The port nginx assumes for a scheme when none is written.
pub(crate) fn default_port(scheme: String) -> Option<u16> {
    match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Parses an address keeping whether a port was written.
pub(crate) fn parse_written(text: &str, uri_part: bool) -> Option<Written> {
    parse_url(text, uri_part).ok()
}

/// Parses a pass target or upstream `server` address as `ngx_parse_url()`
/// does, or gives nginx's reason for refusing it ("invalid port", "no host",
/// ...). With `uri_part` (proxy_pass) a `/uri` or `?args` may follow the
/// authority; without it a `/` makes the host invalid.
pub(crate) fn parse_url(text: &str, uri_part: bool) -> Result<Written, &'static str> {
    if let Some(path) = strip_prefix_ignore_case(text, "unix:") {
        let path = if uri_part {
            path.split(':').next().unwrap_or(path)
        } else {
            path
        };
        if path.is_empty() {
            return Err("no path in the unix domain socket");
        }
        return Ok(Written::Unix(PathBuf::from(path)));
    }
    match text.strip_prefix('[') {
        Some(rest) => parse_inet6(rest, uri_part),
        None => parse_inet(text, uri_part),
    }
}

/// `ngx_parse_inet_url()`: the port starts at the first `:` of the authority.
fn parse_inet(text: &str, uri_part: bool) -> Result<Written, &'static str> {
    let uri = text.find(['/', '?']);
    if uri.is_some() && !uri_part {
        return Err("invalid host");
    }
    let authority = &text[..uri.unwrap_or(text.len())];
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(parse_port(port).ok_or("invalid port")?)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err("no host");
    }
    Ok(Written::Inet {
        host: host.to_owned(),
        port,
    })
}

/// `ngx_parse_inet6_url()`: `[address]`, `[address]:port`, then the URI.
fn parse_inet6(rest: &str, uri_part: bool) -> Result<Written, &'static str> {
    let (host, after) = rest.split_once(']').ok_or("invalid host")?;
    let after = match after.find('/') {
        Some(_) if !uri_part => return Err("invalid host"),
        Some(i) => &after[..i],
        None => after,
    };
    let port = match after {
        "" => None,
        _ => {
            let digits = after.strip_prefix(':').ok_or("invalid host")?;
            Some(parse_port(digits).ok_or("invalid port")?)
        }
    };
    if host.is_empty() {
        return Err("no host");
    }
    if host.parse::<std::net::Ipv6Addr>().is_err() {
        return Err("invalid IPv6 address");
    }
    Ok(Written::Inet {
        host: host.to_owned(),
        port,
    })
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|&p| p != 0)
}

pub(crate) fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn same_host(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        (Ok(ip), Err(_)) => is_localhost(b) && is_loopback_literal(ip),
        (Err(_), Ok(ip)) => is_localhost(a) && is_loopback_literal(ip),
        _ => false,
    }
}

fn is_localhost(name: &str) -> bool {
    name.trim_end_matches('.').eq_ignore_ascii_case("localhost")
}

/// What /etc/hosts maps `localhost` to on a standard host.
fn is_loopback_literal(ip: IpAddr) -> bool {
    ip == IpAddr::from([127, 0, 0, 1]) || ip == IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Address {
        Address::Tcp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn proxy_url_drops_the_uri() {
        assert_eq!(
            Address::parse("127.0.0.1:9000/x", Some(80), true),
            Some(tcp("127.0.0.1", 9000))
        );
    }

    #[test]
    fn ipv6_literal_loses_its_brackets() {
        assert_eq!(
            Address::parse("[::1]:8080", Some(80), true),
            Some(tcp("::1", 8080))
        );
        assert_eq!(
            Address::parse("[::1]", Some(80), true),
            Some(tcp("::1", 80))
        );
    }

    #[test]
    fn unix_socket_in_a_proxy_url_ends_at_the_colon() {
        assert_eq!(
            Address::parse("unix:/run/a.sock:/uri", Some(80), true),
            Some(Address::Unix("/run/a.sock".into()))
        );
    }

    #[test]
    fn unix_socket_upstream_keeps_its_path() {
        assert_eq!(
            Address::parse("unix:/run/php/php8.2-fpm.sock", None, false),
            Some(Address::Unix("/run/php/php8.2-fpm.sock".into()))
        );
    }

    #[test]
    fn host_without_port_and_without_default_is_none() {
        assert_eq!(Address::parse("localhost", None, false), None);
        assert_eq!(
            Address::parse("localhost:9000", None, false),
            Some(tcp("localhost", 9000))
        );
    }

    #[test]
    fn bad_ports_are_rejected() {
        for text in ["h:", "h:0", "h:65536", "h:80x", "[::1]x", "unix:", ":80"] {
            assert_eq!(Address::parse(text, Some(80), false), None, "{text}");
        }
    }

    #[test]
    fn refused_urls_give_nginx_reason() {
        let cases = [
            ("h:0", false, "invalid port"),
            (":80", false, "no host"),
            ("h/x", false, "invalid host"),
            ("[::1]/x", false, "invalid host"),
            ("[::1", true, "invalid host"),
            ("[zz]:80", true, "invalid IPv6 address"),
            ("unix:", false, "no path in the unix domain socket"),
        ];
        for (text, uri_part, reason) in cases {
            assert_eq!(parse_url(text, uri_part), Err(reason), "{text}");
        }
    }

    #[test]
    fn log_field_forms_parse() {
        assert_eq!(
            Address::from_log("http://127.0.0.1:9001/refused"),
            Some(tcp("127.0.0.1", 9001))
        );
        assert_eq!(
            Address::from_log("fastcgi://127.0.0.1:9018"),
            Some(tcp("127.0.0.1", 9018))
        );
        assert_eq!(
            Address::from_log("fastcgi://unix:/srv/lab/run/php.sock:"),
            Some(Address::Unix("/srv/lab/run/php.sock".into()))
        );
        assert_eq!(
            Address::from_log("http://unix:/srv/lab/run/missing.sock:/"),
            Some(Address::Unix("/srv/lab/run/missing.sock".into()))
        );
        assert_eq!(
            Address::from_log("http://dead2/nolive"),
            Some(tcp("dead2", 80))
        );
        assert_eq!(
            Address::from_log("https://[::1]:9021/x"),
            Some(tcp("::1", 9021))
        );
    }

    #[test]
    fn endpoints_compare_ips_as_addresses_and_localhost_as_loopback() {
        assert!(tcp("::1", 80).same_endpoint(&tcp("0:0::1", 80)));
        assert!(tcp("localhost", 9000).same_endpoint(&tcp("127.0.0.1", 9000)));
        assert!(tcp("LocalHost", 9000).same_endpoint(&tcp("::1", 9000)));
        assert!(!tcp("localhost", 9000).same_endpoint(&tcp("127.0.0.1", 9001)));
        assert!(!tcp("db", 9000).same_endpoint(&tcp("127.0.0.1", 9000)));
    }

    #[test]
    fn display_matches_nginx_peer_names() {
        assert_eq!(tcp("::1", 8080).to_string(), "[::1]:8080");
        assert_eq!(tcp("10.0.0.1", 80).to_string(), "10.0.0.1:80");
        assert_eq!(
            Address::Unix("/run/x.sock".into()).to_string(),
            "unix:/run/x.sock"
        );
    }
}
