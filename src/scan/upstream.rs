//! The name a failure is counted under: the peer nginx tried, else the
//! host a resolver or configuration message names; escaped and bounded.
//!
//! A busy log fails against a handful of upstreams hundreds of thousands of
//! times, so the name is borrowed from the line whenever it shows as logged
//! (socket paths, group and resolver names), and an IP peer, which shows in
//! its canonical form (`[::1]:8080`), is formatted once per distinct text
//! and remembered in a bounded table.

use std::borrow::Cow;
use std::collections::HashMap;

use super::hash::Keyed;
use crate::logs::Signature;
use crate::logs::nginx_line::LineRef;
use crate::logs::upstream_ref::{self, PeerText, UpstreamAddr};
use crate::sanitize;

/// Characters of an upstream name shown; the rest is cut visibly.
const UPSTREAM_CHARS: usize = 120;
/// The upstream of failures whose line names none.
pub const NO_UPSTREAM: &str = "(none)";
/// IP peers remembered, and the longest text remembered (an IPv6 peer with
/// its port fits): the table stays small whatever the log holds.
const REMEMBERED: usize = 256;
const REMEMBERED_LEN: usize = 64;

/// Names upstreams; one per scanning thread.
#[derive(Default)]
pub struct Names {
    /// IP peer text → index in `canonical`: one hash per lookup.
    ip_peers: HashMap<Box<str>, usize, Keyed>,
    canonical: Vec<String>,
}

impl Names {
    /// The name `line`'s failure of `sig` counts under.
    pub fn of<'a>(&'a mut self, line: &LineRef<'a>, sig: Signature) -> Cow<'a, str> {
        let named = match line.upstream.and_then(upstream_ref::split) {
            Some((_, PeerText::Unix(text), _)) => Some(Cow::Borrowed(text)),
            Some((_, PeerText::Inet(authority), _)) => Some(self.inet(authority)),
            None => named_in_message(line.message, sig).map(Cow::Borrowed),
        };
        named.map_or(Cow::Borrowed(NO_UPSTREAM), shown)
    }

    /// An `ip:port` peer in canonical form, or a group name as logged.
    fn inet<'a>(&'a mut self, authority: &'a str) -> Cow<'a, str> {
        if let Some(&i) = self.ip_peers.get(authority) {
            return Cow::Borrowed(&self.canonical[i]);
        }
        let address = PeerText::Inet(authority).address();
        if !matches!(address, UpstreamAddr::Tcp { .. }) {
            return Cow::Borrowed(authority);
        }
        let canonical = address.to_string();
        if authority.len() > REMEMBERED_LEN {
            return Cow::Owned(canonical);
        }
        if self.canonical.len() >= REMEMBERED {
            self.ip_peers.clear();
            self.canonical.clear();
        }
        self.ip_peers.insert(authority.into(), self.canonical.len());
        self.canonical.push(canonical);
        Cow::Borrowed(&self.canonical[self.canonical.len() - 1])
    }
}

/// `name` as printed: escaped and cut when needed (most names need neither,
/// which spares two copies per failure).
fn shown(name: Cow<'_, str>) -> Cow<'_, str> {
    let plain = name.len() <= UPSTREAM_CHARS && name.bytes().all(|b| (b' '..=b'~').contains(&b));
    if plain {
        name
    } else {
        let escaped = sanitize::for_terminal(name.as_bytes());
        Cow::Owned(sanitize::truncate(&escaped, UPSTREAM_CHARS))
    }
}

/// The host a resolver or configuration message names.
fn named_in_message(message: &str, sig: Signature) -> Option<&str> {
    match sig {
        Signature::ResolveFailed => message
            .split_once(" could not be resolved (")
            .map(|(n, _)| n),
        Signature::NoResolver => message
            .strip_prefix("no resolver defined to resolve ")
            .and_then(|rest| rest.split(' ').next()),
        Signature::HostNotFoundConfig | Signature::BadPortConfig => message
            .split_once(" in upstream \"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(name, _)| name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::logs::classify::classify;
    use crate::logs::nginx_line::parse_line;

    /// The name as the diagnosis computes it: the typed upstream, displayed.
    fn expected(line: &str) -> Option<String> {
        let parsed = parse_line(line, 0)?;
        let sig = classify(&parsed)?;
        let named = match parsed.upstream_ref() {
            Some(up) => Some(up.address.to_string()),
            None => named_in_message(&parsed.message, sig).map(str::to_owned),
        };
        Some(shown(Cow::Owned(named.unwrap_or_else(|| NO_UPSTREAM.to_owned()))).into_owned())
    }

    fn upstream() -> impl Strategy<Value = String> {
        let peer = prop::sample::select(vec![
            "127.0.0.1:9001",
            "[::1]:8080",
            "[0:0::1]:80",
            "[::ffff:1.2.3.4]:1",
            "10.0.0.1:+80",
            "10.0.0.1:080",
            "unix:/run/a.sock:",
            "unix:",
            "dead2",
            "a:b",
            "1.2.3.4",
            "",
            "ev\u{1b}]0;x",
            "300.1.1.1:1",
        ]);
        let scheme = prop::sample::select(vec!["http://", "fastcgi://", "Http://", "", "grpc://"]);
        let uri = prop::sample::select(vec!["", "/", "/x:1/y", "?q=http://b:1/"]);
        (scheme, peer, uri, 0..3usize)
            .prop_map(|(s, p, u, long)| format!("{s}{}{p}{u}", "9".repeat(long * 40)))
    }

    proptest! {
        #[test]
        fn names_are_what_the_typed_upstream_displays(values in prop::collection::vec(upstream(), 1..40)) {
            let mut names = Names::default();
            for value in values {
                let line = format!(
                    "2026/11/24 21:18:00 [error] 1#1: *1 no live upstreams while connecting to upstream, client: 1.2.3.4, server: , request: \"GET / HTTP/1.1\", upstream: \"{value}\", host: \"h\""
                );
                let parsed = crate::logs::nginx_line::parse_line_ref(&line, 0).expect("parses");
                let sig = crate::logs::classify::classify_ref(&parsed).expect("classifies");
                let got = names.of(&parsed, sig).into_owned();
                prop_assert_eq!(Some(got), expected(&line), "{:?}", value);
            }
        }
    }

    #[test]
    fn resolver_names_come_from_the_message() {
        let line = "2026/11/24 21:18:00 [error] 1#1: *1 backend.example could not be resolved (3: Host not found), client: 1.2.3.4, server: , request: \"GET / HTTP/1.1\", host: \"a\"";
        let parsed = crate::logs::nginx_line::parse_line_ref(line, 0).expect("parses");
        let got = Names::default()
            .of(&parsed, Signature::ResolveFailed)
            .into_owned();
        assert_eq!(got, "backend.example");
        assert_eq!(Some(got), expected(line));
    }

    #[test]
    fn the_remembered_peers_stay_bounded() {
        let mut names = Names::default();
        for i in 0..3 * REMEMBERED {
            let line = format!(
                "2026/11/24 21:18:00 [error] 1#1: *1 no live upstreams while connecting to upstream, client: 1.2.3.4, server: , request: \"GET / HTTP/1.1\", upstream: \"http://10.0.{}.{}:80/\", host: \"h\"",
                i / 256,
                i % 256
            );
            let parsed = crate::logs::nginx_line::parse_line_ref(&line, 0).expect("parses");
            let _ = names.of(&parsed, Signature::NoLiveUpstreams);
            assert!(names.ip_peers.len() <= REMEMBERED && names.canonical.len() <= REMEMBERED);
        }
    }
}
