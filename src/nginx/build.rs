//! Building the [`Model`] from a directive tree: which directives carry the
//! facts, how pass targets are read per module, and how nginx merges a
//! setting from http to server to location (the innermost one written wins).

use std::path::Path;

use super::address::{Address, split_scheme};
use super::model::{
    Effective, Location, Model, Pass, PassKind, Server, Sourced, Timeouts, Upstream, UpstreamServer,
};
use super::parse::{Config, Directive};
use super::registry::Reached;
use super::resolve::{Handlers, Resolved, resolve};

/// Extracts the model; `prefix` is nginx's prefix (`-p`, or the compiled
/// `--prefix`), against which relative log paths resolve.
pub fn model(cfg: &Config, prefix: &Path) -> Model {
    let mut m = Model::default();
    if let Some(user) = cfg.directives.iter().find(|d| d.name == "user") {
        m.user = sourced(user, 0);
        m.group = sourced(user, 1).or_else(|| m.user.clone());
    }
    collect_logs(&cfg.directives, prefix, &mut m);
    let https: Vec<&Directive> = cfg.directives.iter().filter(|d| d.name == "http").collect();
    for http in &https {
        m.upstreams.extend(
            http.children()
                .iter()
                .filter(|d| d.name == "upstream")
                .map(upstream),
        );
    }
    let resolved = resolve(&https);
    for http in https {
        for d in http.children().iter().filter(|d| d.name == "server") {
            m.servers.push(server(d, &[http, d], &resolved));
        }
    }
    m.problems = resolved.problems;
    m
}

fn sourced(d: &Directive, arg: usize) -> Option<Sourced<String>> {
    Some(Sourced {
        value: d.arg(arg)?.to_owned(),
        file: d.file.clone(),
        line: d.line,
    })
}

/// Blocks whose contents are data (key/value lists), not directives.
pub(super) const DATA_BLOCKS: &[&str] = &[
    "map",
    "types",
    "geo",
    "split_clients",
    "charset_map",
    "match",
];

fn collect_logs(ds: &[Directive], prefix: &Path, m: &mut Model) {
    for d in ds {
        let target = d.arg(0).unwrap_or_default();
        match d.name.as_str() {
            "error_log" if !is_special_log(target, &["stderr", "syslog:", "memory:"]) => {
                m.error_logs.extend(resolved_log(d, prefix));
            }
            "access_log" if !is_special_log(target, &["off", "syslog:"]) => {
                m.access_logs.extend(resolved_log(d, prefix));
            }
            name if !DATA_BLOCKS.contains(&name) => collect_logs(d.children(), prefix, m),
            _ => {}
        }
    }
}

fn is_special_log(target: &str, special: &[&str]) -> bool {
    target.is_empty()
        || special.iter().any(|s| {
            if s.ends_with(':') {
                target.starts_with(s)
            } else {
                target == *s
            }
        })
}

/// `error_log off;` is not special to nginx: it writes a file named "off".
fn resolved_log(d: &Directive, prefix: &Path) -> Option<Sourced<String>> {
    let mut log = sourced(d, 0)?;
    if !log.value.starts_with('/') && !log.value.contains('$') {
        log.value = prefix.join(&log.value).to_string_lossy().into_owned();
    }
    Some(log)
}

fn upstream(d: &Directive) -> Upstream {
    let servers = d
        .children()
        .iter()
        .filter(|c| c.name == "server")
        .filter_map(|c| {
            let address = c.arg(0)?.to_owned();
            Some(UpstreamServer {
                parsed: Address::parse(&address, Some(80), false),
                address,
                params: c.args.iter().skip(1).cloned().collect(),
                file: c.file.clone(),
                line: c.line,
            })
        })
        .collect();
    Upstream {
        name: d.arg(0).unwrap_or_default().to_owned(),
        servers,
        keepalive: d
            .children()
            .iter()
            .find(|c| c.name == "keepalive")
            .and_then(|c| c.arg(0)?.parse().ok()),
        file: d.file.clone(),
        line: d.line,
    }
}

fn server(d: &Directive, scopes: &[&Directive], resolved: &Resolved) -> Server {
    let mut s = Server {
        listen: Vec::new(),
        default_listen: Vec::new(),
        names: Vec::new(),
        file: d.file.clone(),
        line: d.line,
        locations: Vec::new(),
    };
    for c in d.children() {
        match c.name.as_str() {
            "listen" => {
                let Some(addr) = c.arg(0) else { continue };
                s.listen.push(addr.to_owned());
                if c.args
                    .iter()
                    .skip(1)
                    .any(|a| a == "default_server" || a == "default")
                {
                    s.default_listen.push(addr.to_owned());
                }
            }
            "server_name" => s.names.extend(c.args.iter().cloned()),
            "location" => add_location(&mut s.locations, c, None, scopes, resolved),
            _ => {}
        }
    }
    s
}

fn add_location(
    out: &mut Vec<Location>,
    d: &Directive,
    parent: Option<usize>,
    scopes: &[&Directive],
    resolved: &Resolved,
) {
    let (modifier, path) = location_match(&d.args);
    let mut chain = scopes.to_vec();
    chain.push(d);
    let own = Handlers::of(d.children());
    let pass = own
        .used_pass()
        .map(|c| make_pass(c, &chain, false, resolved));
    let mut unused: Vec<Pass> = own
        .unused()
        .map(|c| make_pass(c, &chain, false, resolved))
        .collect();
    let mut if_passes = Vec::new();
    for block in d
        .children()
        .iter()
        .filter(|c| c.name == "if" || c.name == "limit_except")
    {
        let mut inner = chain.clone();
        inner.push(block);
        let h = Handlers::of(block.children());
        if_passes.extend(h.used_pass().map(|c| make_pass(c, &inner, true, resolved)));
        unused.extend(h.unused().map(|c| make_pass(c, &inner, true, resolved)));
    }
    let index = out.len();
    out.push(Location {
        modifier,
        path,
        parent,
        file: d.file.clone(),
        line: d.line,
        pass,
        if_passes,
        unused_passes: unused,
    });
    for c in d.children().iter().filter(|c| c.name == "location") {
        add_location(out, c, Some(index), &chain, resolved);
    }
}

/// Splits `location [=|~|~*|^~] uri`, including the forms nginx accepts with
/// the modifier glued to the URI (`=/x`, `~*\.php$`, `^~/static`).
fn location_match(args: &[String]) -> (Option<String>, String) {
    match args {
        [m, path] => (Some(m.clone()), path.clone()),
        [one] => {
            for m in ["=", "^~", "~*", "~"] {
                if let Some(rest) = one.strip_prefix(m) {
                    return (Some(m.to_owned()), rest.to_owned());
                }
            }
            (None, one.clone())
        }
        _ => (None, args.join(" ")),
    }
}

fn make_pass(d: &Directive, chain: &[&Directive], conditional: bool, resolved: &Resolved) -> Pass {
    // The caller only passes pass directives; Proxy is never used as a fallback.
    let kind = PassKind::of_directive(&d.name).unwrap_or(PassKind::Proxy);
    let target = d.arg(0).unwrap_or_default().to_owned();
    let (address, upstream) = match resolved.of(d) {
        Some(Reached::Endpoint(a)) => (Some(a.clone()), None),
        Some(Reached::Group(name)) => (None, Some(name.clone())),
        Some(Reached::Nowhere) | None => (None, None),
    };
    Pass {
        kind,
        scheme: split_scheme(&target).0,
        address,
        upstream,
        has_variables: kind.has_variables(&target),
        conditional,
        file: d.file.clone(),
        line: d.line,
        timeouts: timeouts(kind, chain, conditional),
        target,
    }
}

/// The settings in effect for a pass whose own block ends `chain`; a
/// conditional one's location is the block before its `if`, where these
/// directives are allowed (nginx refuses them in an `if`).
fn timeouts(kind: PassKind, chain: &[&Directive], conditional: bool) -> Timeouts {
    let p = kind.prefix();
    let own = chain.len().saturating_sub(if conditional { 2 } else { 1 });
    let e = |name: &str, default: &str| effective(chain, &format!("{p}_{name}"), default, own);
    Timeouts {
        connect_timeout: e("connect_timeout", "60s"),
        send_timeout: e("send_timeout", "60s"),
        read_timeout: e("read_timeout", "60s"),
        buffer_size: e("buffer_size", "4k"),
        buffers: e("buffers", "8 4k"),
        busy_buffers_size: e("busy_buffers_size", "8k"),
    }
}

/// The innermost scope that sets `name` wins, as in nginx's merge. A fix
/// changes the directive where the pass's own block sets it (a second one
/// there is "duplicate"), else adds one there to override the inherited one.
fn effective(chain: &[&Directive], name: &str, default: &str, own: usize) -> Effective {
    chain
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, scope)| Some((i, scope.children().iter().find(|c| c.name == name)?)))
        .and_then(|(i, d)| {
            d.arg(0)?;
            Some(Effective {
                value: d.args.join(" "),
                source: Some((d.file.clone(), d.line)),
                here: i >= own,
            })
        })
        .unwrap_or_else(|| Effective {
            value: default.to_owned(),
            source: None,
            here: false,
        })
}
