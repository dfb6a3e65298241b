//! Which server and location nginx picks for a request, so a URI from an
//! error-log `request:` field leads to the location (and pass) that served it.
//!
//! Server: among the servers listening on the port, an exact `server_name`,
//! then the longest `*.suffix` / `.suffix`, then the longest `prefix.*`, then
//! the first matching `~regex`, else the port's `default_server` (or its first
//! server). Only ports are compared, not listen addresses.
//!
//! Location (`ngx_http_core_find_location()`): an `=` location equal to the
//! URI wins at once; otherwise the longest prefix is remembered and its nested
//! locations searched; unless that prefix is `^~`, the regex locations of the
//! level are tried in configuration order (`~*` ignoring case) and the first
//! match wins (then its own nested locations); else the longest prefix stands.
//! nginx uses PCRE, we use the `regex` crate: a pattern it cannot compile
//! (look-around, back-references) is treated as never matching. The URI is
//! compared as given (no percent-decoding or slash merging).

use regex::RegexBuilder;

use super::model::{Location, Model, Server};

impl Model {
    /// The server and location nginx would use for `uri` sent to `listen_port`
    /// with `Host: server_name` (None: no Host header). None of the arguments
    /// is trusted: a malformed name or URI simply matches less.
    pub fn locate(
        &self,
        server_name: Option<&str>,
        listen_port: Option<u16>,
        uri: &str,
    ) -> Option<(&Server, &Location)> {
        let server = self.select_server(server_name, listen_port)?;
        let path = uri.split(['?', '#']).next().unwrap_or(uri);
        let index = find_location(&server.locations, None, path).0?;
        Some((server, server.locations.get(index)?))
    }

    /// The server nginx would choose for a Host name on a port.
    pub fn select_server(
        &self,
        server_name: Option<&str>,
        listen_port: Option<u16>,
    ) -> Option<&Server> {
        let candidates: Vec<&Server> = self
            .servers
            .iter()
            .filter(|s| listen_port.is_none_or(|p| s.ports().contains(&p)))
            .collect();
        let host = normalize_host(server_name.unwrap_or(""));
        by_name(&candidates, &host).or_else(|| default_server(&candidates, listen_port))
    }
}

impl Server {
    /// The ports the server listens on; none written means 80 (or 8000 when
    /// nginx does not run as root), so both are returned.
    pub fn ports(&self) -> Vec<u16> {
        if self.listen.is_empty() {
            return vec![80, 8000];
        }
        self.listen.iter().filter_map(|l| listen_port(l)).collect()
    }

    /// Whether the server is marked `default_server` on that port.
    pub fn is_default_for(&self, port: u16) -> bool {
        self.default_listen
            .iter()
            .any(|l| listen_port(l) == Some(port))
    }
}

/// The port of a `listen` address: `80`, `*:80`, `127.0.0.1:8080`, `[::]:443`,
/// `127.0.0.1` (80); None for `unix:` sockets.
pub fn listen_port(listen: &str) -> Option<u16> {
    if listen.starts_with("unix:") {
        return None;
    }
    let port = if let Some(rest) = listen.strip_prefix('[') {
        rest.split_once("]:").map(|(_, p)| p)
    } else if listen.bytes().all(|b| b.is_ascii_digit()) {
        Some(listen)
    } else {
        listen.rsplit_once(':').map(|(_, p)| p)
    };
    match port {
        Some(p) => p.parse().ok(),
        None => Some(80),
    }
}

fn normalize_host(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    let host = match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name.to_owned()
        }
        _ => host,
    };
    host.trim_end_matches('.').to_owned()
}

fn by_name<'a>(candidates: &[&'a Server], host: &str) -> Option<&'a Server> {
    let names = || {
        candidates.iter().flat_map(|s| {
            let implicit = s.names.is_empty().then_some("");
            s.names
                .iter()
                .map(String::as_str)
                .chain(implicit)
                .map(move |n| (*s, n))
        })
    };
    if let Some((s, _)) = names().find(|(_, n)| exact(n, host)) {
        return Some(s);
    }
    let longest = |f: fn(&str, &str) -> Option<usize>| {
        names()
            .filter_map(|(s, n)| Some((f(n, host)?, s)))
            .fold(
                None,
                |best: Option<(usize, &Server)>, (len, s)| match best {
                    Some((b, _)) if b >= len => best,
                    _ => Some((len, s)),
                },
            )
            .map(|(_, s)| s)
    };
    longest(leading_wildcard)
        .or_else(|| longest(trailing_wildcard))
        .or_else(|| names().find(|(_, n)| regex_name(n, host)).map(|(s, _)| s))
}

fn exact(name: &str, host: &str) -> bool {
    let name = name.strip_prefix('.').unwrap_or(name);
    !name.starts_with('~') && !name.contains('*') && name.eq_ignore_ascii_case(host)
}

/// `*.example.com` and `.example.com`: the length of the matched suffix.
fn leading_wildcard(name: &str, host: &str) -> Option<usize> {
    let suffix = name
        .strip_prefix('*')
        .or_else(|| name.starts_with('.').then_some(name))?;
    let matches = suffix.starts_with('.')
        && host.len() > suffix.len()
        && host
            .get(host.len() - suffix.len()..)?
            .eq_ignore_ascii_case(suffix);
    matches.then_some(suffix.len())
}

/// `www.example.*`: the length of the matched prefix.
fn trailing_wildcard(name: &str, host: &str) -> Option<usize> {
    let prefix = name.strip_suffix('*')?;
    let matches = prefix.ends_with('.')
        && !prefix.starts_with('*')
        && host.len() > prefix.len()
        && host.get(..prefix.len())?.eq_ignore_ascii_case(prefix);
    matches.then_some(prefix.len())
}

fn regex_name(name: &str, host: &str) -> bool {
    let Some(pattern) = name.strip_prefix('~') else {
        return false;
    };
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .build()
        .is_ok_and(|re| re.is_match(host))
}

fn default_server<'a>(candidates: &[&'a Server], port: Option<u16>) -> Option<&'a Server> {
    let marked = candidates.iter().find(|s| match port {
        Some(p) => s.is_default_for(p),
        None => !s.default_listen.is_empty(),
    });
    marked.or(candidates.first()).copied()
}

/// Searches the locations nested in `parent` (None: the server level).
/// Returns the location found and whether the search is final (an exact or
/// regex match) rather than a prefix that outer regexes may still override.
fn find_location(locs: &[Location], parent: Option<usize>, uri: &str) -> (Option<usize>, bool) {
    let level: Vec<usize> = (0..locs.len())
        .filter(|&i| locs[i].parent == parent && !locs[i].is_named())
        .collect();
    let modifier = |i: usize| locs[i].modifier.as_deref();
    if let Some(&i) = level
        .iter()
        .find(|&&i| modifier(i) == Some("=") && locs[i].path == uri)
    {
        return (Some(i), true);
    }
    let best = level
        .iter()
        .copied()
        .filter(|&i| {
            matches!(modifier(i), None | Some("^~")) && uri.starts_with(locs[i].path.as_str())
        })
        .fold(None, |best: Option<usize>, i| match best {
            Some(b) if locs[b].path.len() >= locs[i].path.len() => best,
            _ => Some(i),
        });
    let mut found = None;
    if let Some(p) = best {
        match find_location(locs, Some(p), uri) {
            (Some(i), true) => return (Some(i), true),
            (Some(i), false) => found = Some(i),
            (None, _) => found = Some(p),
        }
        if modifier(p) == Some("^~") {
            return (found, false);
        }
    }
    for &i in &level {
        let caseless = match modifier(i) {
            Some("~") => false,
            Some("~*") => true,
            _ => continue,
        };
        let hit = RegexBuilder::new(&locs[i].path)
            .case_insensitive(caseless)
            .build()
            .is_ok_and(|re| re.is_match(uri));
        if hit {
            let nested = find_location(locs, Some(i), uri).0;
            return (nested.or(Some(i)), true);
        }
    }
    (found, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::model::model;
    use crate::nginx::parse::parse_str;
    use std::path::Path;

    const CONF: &str = r#"
http {
    server {
        listen 80;
        server_name example.com *.example.com www.example.* ~^api\d+\.test$;
        location / { return 200; }
        location = / { return 201; }
        location /static/ { location ~ \.css$ { return 202; } }
        location ^~ /assets/ { return 203; }
        location ~* \.(png|jpg)$ { return 204; }
        location ~ ^/static/app { return 205; }
        location /app/ {
            location /app/admin/ { }
            location ~ \.php$ { }
        }
        location ~ /app/ { }
        location @fallback { }
        location ~ (?<=x)y { }
    }
    server {
        listen 127.0.0.1:80 default_server;
        server_name other.test "";
        location / { }
    }
    server { listen 8080; location /eight/ { } }
}
"#;

    fn m() -> Model {
        model(
            &parse_str(CONF, Path::new("/n.conf")).unwrap(),
            Path::new("/p"),
        )
    }

    fn at(uri: &str) -> String {
        let model = m();
        let (_, l) = model.locate(Some("example.com"), Some(80), uri).unwrap();
        format!("{}{}", l.modifier.as_deref().unwrap_or(""), l.path)
    }

    #[test]
    fn exact_location_beats_prefix() {
        assert_eq!(at("/"), "=/");
        assert_eq!(at("/index.html"), "/");
    }

    #[test]
    fn regex_overrides_the_longest_prefix() {
        assert_eq!(at("/static/app.js"), "~^/static/app");
        assert_eq!(at("/static/x.txt"), "/static/");
    }

    #[test]
    fn nested_regex_is_tried_before_outer_regexes() {
        assert_eq!(at("/static/app.css"), "~\\.css$");
    }

    #[test]
    fn caret_tilde_stops_the_regex_search() {
        assert_eq!(at("/assets/logo.png"), "^~/assets/");
    }

    #[test]
    fn caseless_regex_ignores_case() {
        assert_eq!(at("/img/A.PNG"), "~*\\.(png|jpg)$");
    }

    #[test]
    fn nested_prefix_yields_to_outer_regex() {
        // /app/admin/ is the deepest prefix, but the outer `~ /app/` regex wins.
        assert_eq!(at("/app/admin/x"), "~/app/");
        assert_eq!(at("/app/admin/x.php"), "~\\.php$");
    }

    #[test]
    fn query_string_is_ignored() {
        assert_eq!(at("/static/x.txt?v=/static/app"), "/static/");
    }

    #[test]
    fn unsupported_pcre_never_matches() {
        assert_eq!(at("/xy"), "/");
    }

    #[test]
    fn server_names_by_precedence() {
        let model = m();
        let first = &model.servers[0];
        for host in [
            "example.com",
            "a.b.example.com",
            "www.example.org",
            "API7.test",
            "Example.COM:80",
        ] {
            let s = model.select_server(Some(host), Some(80)).unwrap();
            assert_eq!(s.line, first.line, "{host}");
        }
    }

    #[test]
    fn unknown_host_goes_to_the_default_server() {
        let model = m();
        let s = model.select_server(Some("unknown.test"), Some(80)).unwrap();
        assert_eq!(s.names[0], "other.test");
    }

    #[test]
    fn missing_host_matches_the_empty_name() {
        let model = m();
        assert_eq!(
            model.select_server(None, Some(80)).unwrap().names[0],
            "other.test"
        );
    }

    #[test]
    fn port_filters_servers() {
        let model = m();
        let (s, l) = model
            .locate(Some("example.com"), Some(8080), "/eight/x")
            .unwrap();
        assert_eq!((s.listen[0].as_str(), l.path.as_str()), ("8080", "/eight/"));
        assert!(model.locate(None, Some(9999), "/").is_none());
    }

    #[test]
    fn listen_ports_parse() {
        let cases = [
            ("80", Some(80)),
            ("*:81", Some(81)),
            ("[::]:443", Some(443)),
            ("10.0.0.1", Some(80)),
        ];
        for (text, port) in cases {
            assert_eq!(listen_port(text), port, "{text}");
        }
        assert_eq!(listen_port("unix:/run/n.sock"), None);
    }
}
