//! The `pass-target` built-in: the location and the `*_pass` directive that
//! send requests to the failing upstream, with the effective timeouts and
//! buffer size and the file:line each came from — where a fix goes.
//!
//! Several locations often pass to one upstream (`location ~ \.php$` and
//! `location @php`, or one per site). The error line's `server:` and
//! `request:` fields say which one served the failing request: the server is
//! the one whose first `server_name` nginx logged, and the location is the one
//! nginx's matching rules pick for the request's path. Without them, or when
//! the match passes elsewhere, the first candidate is quoted and the note says so.

use super::nginx_probe::Discover;
use crate::session::Session;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use super::Out;
use crate::nginx::{Address, Effective, Location, Model, Pass, Server};

/// What a person would type to see the pass directives.
pub(super) const SHOWN: &str = "nginx -T | grep -n _pass";

/// One candidate: a pass directive with its server and location.
type Hit<'a> = (&'a Server, &'a Location, &'a Pass);

/// How the quoted pass was chosen among the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchedBy {
    /// Only one location passes to the upstream.
    Only,
    /// nginx's location matching for the logged server and request.
    Request,
    /// The first candidate in the logged server (the request did not decide).
    Server,
    /// The first candidate in the configuration.
    First,
}

impl MatchedBy {
    fn as_str(self) -> &'static str {
        match self {
            MatchedBy::Only => "only",
            MatchedBy::Request => "request",
            MatchedBy::Server => "server",
            MatchedBy::First => "first",
        }
    }
}

pub fn run(host: &mut Session, params: &BTreeMap<String, String>, out: &mut Out) {
    let view = host.nginx();
    let Some(model) = &view.model else {
        out.set("found", false);
        out.fail("the nginx configuration could not be read, so the pass directive is unknown");
        return;
    };
    let mut hits = match params.get("upstream") {
        Some(field) => model.find_by_log_upstream(field),
        None => match address(params) {
            Some(a) => model.find_by_upstream(&a),
            None => Vec::new(),
        },
    };
    let server = params.get("server").map(String::as_str);
    let uri = params
        .get("request")
        .map(String::as_str)
        .and_then(request_path);
    out.set("names_logged", !hits.is_empty());
    if hits.is_empty() {
        // No pass names the logged address: a host name nginx resolved to
        // it at start (and may no longer resolve to). The location that
        // handled the request still says which directive it was.
        let handled = uri.as_deref().and_then(|u| model.locate(server, None, u));
        if let Some((s, l)) = handled
            && let Some(pass) = &l.pass
        {
            hits = vec![(s, l, pass)];
        }
    }
    out.set("found", !hits.is_empty());
    out.set("candidates", i64::try_from(hits.len()).unwrap_or(i64::MAX));
    out.shown_as = SHOWN.into();
    let Some((index, how)) = choose(model, &hits, server, uri.as_deref()) else {
        return;
    };
    let (server, location, pass) = hits[index];
    out.set("matched_by", how.as_str());
    describe(server, location, pass, out);
    for unused in &location.unused_passes {
        out.note(&format!(
            "{}:{}: {}_pass {} is not used: nginx uses the last content handler of the block",
            unused.file.display(),
            unused.line,
            unused.kind.prefix(),
            unused.target
        ));
    }
    out.set("target_host", target_host(model, pass));
    set_endpoint(model, pass, out);
    if let Some(name) = &pass.upstream {
        out.set("upstream_block", name.clone());
        out.set(
            "keepalive",
            model
                .upstream(name)
                .and_then(|u| u.keepalive)
                .map(i64::from),
        );
    }
    if hits.len() > 1 {
        out.note(&match how {
            MatchedBy::Request => format!(
                "{} locations pass to this upstream; quoted: the one nginx picks for {}",
                hits.len(),
                uri.as_deref().unwrap_or("the request")
            ),
            _ => format!(
                "{} locations pass to this upstream; the request did not single one out, the first is quoted",
                hits.len()
            ),
        });
    }
}

/// Picks the candidate that served the request: the location nginx selects
/// for `uri` in the server that logged `server`, if it is a candidate.
fn choose(
    model: &Model,
    hits: &[Hit],
    server: Option<&str>,
    uri: Option<&str>,
) -> Option<(usize, MatchedBy)> {
    match hits.len() {
        0 => return None,
        1 => return Some((0, MatchedBy::Only)),
        _ => {}
    }
    let in_server: Vec<usize> = (0..hits.len())
        .filter(|&i| server.is_none_or(|name| logs_as(hits[i].0, name)))
        .collect();
    if let Some(uri) = uri {
        if let Some((s, l)) = model.locate(server, None, uri)
            && let Some(i) = in_server.iter().copied().find(|&i| same(hits[i], s, l))
        {
            return Some((i, MatchedBy::Request));
        }
        // The Host-based choice above can land on a twin server (the same
        // name on port 80 and 443); try every server the log line names.
        for &i in &in_server {
            let (s, _, _) = hits[i];
            if let Some(l) = locate_in(s, uri)
                && let Some(j) = in_server.iter().copied().find(|&j| same(hits[j], s, &l))
            {
                return Some((j, MatchedBy::Request));
            }
        }
    }
    match (server, in_server.first()) {
        (Some(_), Some(&i)) => Some((i, MatchedBy::Server)),
        _ => Some((0, MatchedBy::First)),
    }
}

/// Whether nginx logs this server as `server: NAME`: its first
/// `server_name`, lower-cased, without a leading dot ("" when it has none).
fn logs_as(server: &Server, logged: &str) -> bool {
    let first = server.names.first().map_or("", String::as_str);
    let first = first.strip_prefix('.').unwrap_or(first);
    first.eq_ignore_ascii_case(logged)
}

/// The location nginx picks for `uri` within one server.
fn locate_in(server: &Server, uri: &str) -> Option<Location> {
    let alone = Model {
        servers: vec![server.clone()],
        ..Model::default()
    };
    alone.locate(None, None, uri).map(|(_, l)| l.clone())
}

fn same(hit: Hit, server: &Server, location: &Location) -> bool {
    let (s, l, _) = hit;
    (&s.file, s.line) == (&server.file, server.line)
        && (&l.file, l.line) == (&location.file, location.line)
}

/// The path nginx matches locations against, from an error-log `request:`
/// field such as `GET /a//b/../x.php?a=1 HTTP/1.1`: percent-decoded, with
/// merged slashes and dot segments resolved, as nginx normalises `$uri`.
fn request_path(request: &str) -> Option<String> {
    let target = request.split_whitespace().nth(1)?;
    let target = match target.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/')?..],
        None => target,
    };
    let raw = target.split(['?', '#']).next()?;
    if !raw.starts_with('/') {
        return None;
    }
    let decoded = String::from_utf8_lossy(&percent_decode(raw)).into_owned();
    let mut parts: Vec<&str> = Vec::new();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        match segment {
            "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let trailing = decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    let mut path = format!("/{}", parts.join("/"));
    if trailing && !parts.is_empty() {
        path.push('/');
    }
    Some(path)
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn describe(server: &Server, location: &Location, pass: &Pass, out: &mut Out) {
    let kind = pass.kind.prefix();
    out.set("kind", kind);
    out.set("directive", format!("{kind}_pass {}", pass.target));
    out.set("target", pass.target.clone());
    out.set("file", pass.file.display().to_string());
    out.set("line", i64::try_from(pass.line).unwrap_or(0));
    out.set("at", format!("{}:{}", pass.file.display(), pass.line));
    let modifier = location
        .modifier
        .as_deref()
        .map(|m| format!("{m} "))
        .unwrap_or_default();
    out.set("location", format!("{modifier}{}", location.path));
    out.set(
        "server",
        server
            .names
            .first()
            .cloned()
            .unwrap_or_else(|| format!("{}:{}", server.file.display(), server.line)),
    );
    let t = &pass.timeouts;
    out.set("read_timeout", t.read_timeout.value.clone());
    out.set("read_timeout_at", source(&t.read_timeout));
    out.set("read_timeout_default", t.read_timeout.source.is_none());
    out.set(
        "read_timeout_secs",
        t.read_timeout
            .duration()
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
    );
    out.set(
        "effective",
        effective_text(&format!("{kind}_read_timeout"), &t.read_timeout),
    );
    set_where(out, "read_timeout", &t.read_timeout);
    out.set("connect_timeout", t.connect_timeout.value.clone());
    out.set("buffer_size", t.buffer_size.value.clone());
    out.set("buffer_size_at", source(&t.buffer_size));
    out.set("buffer_size_default", t.buffer_size.source.is_none());
    out.set(
        "buffer_size_effective",
        effective_text(&format!("{kind}_buffer_size"), &t.buffer_size),
    );
    // Where a setting the location lacks goes: after the pass, or, for a
    // pass in an `if` (where nginx refuses these), after the location's line.
    let add = if pass.conditional {
        location.line
    } else {
        pass.line
    };
    out.set("add_line", i64::try_from(add).unwrap_or(0));
    // An edit replaces whole lines or adds one after a line: neither works
    // where the location is written on one line with its braces.
    let shared = |file: &Path, line: usize| line_is_shared(file, line);
    let own_timeout = (t.read_timeout.here)
        .then_some(t.read_timeout.source.as_ref())
        .flatten();
    out.set(
        "shared_line",
        shared(&pass.file, add) || own_timeout.is_some_and(|(f, l)| shared(f, *l)),
    );
    set_buffers(pass, add, out);
    out.note(&format!(
        "{}:{}: {kind}_pass {}",
        pass.file.display(),
        pass.line,
        pass.target
    ));
}

/// Whether line `line` of `file` holds more than one statement or a brace
/// (`location /api/ { proxy_pass ...; }`), so that replacing it, or adding
/// a line after it, would not edit the one statement meant.
fn line_is_shared(file: &Path, line: usize) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    let Some(l) = line.checked_sub(1).and_then(|i| text.lines().nth(i)) else {
        return false;
    };
    let code = l.split('#').next().unwrap_or_default().trim_end();
    match code.strip_suffix('{') {
        // A block's opening line (`location ~ \.php$ {`): a line after it
        // is inside the block.
        Some(head) => head.contains(['{', '}', ';']),
        None => code.contains(['{', '}']) || code.matches(';').count() > 1,
    }
}

/// Where the pass sends requests now, as typed facts the address probes
/// take: its own address, or the first server of its upstream group.
/// A host name is left out (nginx resolved it once; the probes take IPs),
/// except `localhost`, which nginx resolves to the loopback.
fn set_endpoint(model: &Model, pass: &Pass, out: &mut Out) {
    let group = pass.upstream.as_deref().and_then(|n| model.upstream(n));
    let first_server = group.and_then(|g| g.servers.iter().find_map(|s| s.parsed.clone()));
    match pass.address.clone().or(first_server) {
        Some(Address::Unix(path)) => {
            out.set("now_transport", "unix");
            out.set("now_path", path.display().to_string());
            out.set("now_address", path.display().to_string());
        }
        Some(Address::Tcp { host, port }) => {
            let ip = if host == "localhost" {
                "127.0.0.1".parse().ok()
            } else {
                host.trim_matches(['[', ']']).parse::<IpAddr>().ok()
            };
            let Some(ip) = ip else { return };
            out.set("now_transport", "tcp");
            out.set("now_host", ip.to_string());
            out.set("now_port", i64::from(port));
            out.set(
                "now_address",
                std::net::SocketAddr::new(ip, port).to_string(),
            );
        }
        None => {}
    }
}

/// Where a fix changes `name`: `{name}_here` (set in the pass's own block,
/// so a fix changes that line: a second one is "duplicate"), and the
/// `_file` and `_line` that set it, when any does.
fn set_where(out: &mut Out, name: &str, e: &Effective) {
    out.set(&format!("{name}_here"), e.here);
    if let Some((file, line)) = &e.source {
        out.set(&format!("{name}_file"), file.display().to_string());
        out.set(&format!("{name}_line"), i64::try_from(*line).unwrap_or(0));
    }
}

/// The header buffer is raised with the buffers it must fit in. Those of
/// the three the pass's block sets (in the pass's file) are changed where
/// they are: `buffers_lines` spans them and `add` (the line after which a
/// missing one goes), where an edit
/// changes each and adds the others (`buffers_here` says whether any is).
fn set_buffers(pass: &Pass, add: usize, out: &mut Out) {
    let t = &pass.timeouts;
    let own: Vec<usize> = [&t.buffer_size, &t.buffers, &t.busy_buffers_size]
        .into_iter()
        .filter(|e| e.here)
        .filter_map(|e| e.source.as_ref())
        .filter(|(file, _)| *file == pass.file)
        .map(|(_, line)| *line)
        .collect();
    let first = own.iter().copied().chain([add]).min().unwrap_or(add);
    let last = own.iter().copied().chain([add]).max().unwrap_or(add);
    out.set("buffers_here", !own.is_empty());
    out.set(
        "buffers_lines",
        if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        },
    );
}

/// "file:line", or that it is nginx's default.
fn source(e: &Effective) -> String {
    match &e.source {
        Some((file, line)) => format!("{}:{line}", file.display()),
        None => "nginx's default".into(),
    }
}

/// `fastcgi_read_timeout 5s (/etc/nginx/sites-enabled/shop:42)`.
fn effective_text(directive: &str, e: &Effective) -> String {
    format!("{directive} {} ({})", e.value, source(e))
}

/// The host name nginx resolved for this pass (once, at start or reload):
/// the target's own host, else the first upstream `server` written as a name.
fn target_host(model: &Model, pass: &Pass) -> Option<String> {
    let named = |a: &Address| match a {
        Address::Tcp { host, .. } if host.parse::<IpAddr>().is_err() => Some(host.clone()),
        _ => None,
    };
    match (&pass.address, &pass.upstream) {
        (Some(a), _) => named(a),
        (None, Some(group)) => model
            .upstream(group)?
            .servers
            .iter()
            .find_map(|s| named(s.parsed.as_ref()?)),
        (None, None) => None,
    }
}

fn address(params: &BTreeMap<String, String>) -> Option<Address> {
    match params.get("transport").map(String::as_str) {
        Some("unix") => params
            .get("path")
            .map(|p| Address::Unix(Path::new(p).to_path_buf())),
        Some("tcp") => Some(Address::Tcp {
            host: params.get("host")?.clone(),
            port: params.get("port")?.parse().ok()?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
