//! The `resolve` built-in: what an upstream's name means now, and where
//! that answer comes from — because the fix depends on it.
//!
//! nginx resolves a name written in a pass once, at start or reload, the
//! way the system does (/etc/hosts, then DNS); a name behind a variable it
//! resolves per request with its own `resolver`, which speaks plain DNS and
//! never reads /etc/hosts. So a `resolver` line is only a fix when a DNS
//! server really answers for the name. This built-in asks the system (as
//! nginx did at start), reads /etc/hosts and /etc/resolv.conf, and puts the
//! same DNS question nginx would to the system's nameserver and to the
//! resolver the configuration has in effect where the pass is written —
//! each bounded — so a fix quotes a resolver that is known to work, or says
//! that none can.

mod dns;

use super::nginx_probe::Discover;
use crate::session::Session;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use super::{Out, conf_scope};
use dns::Answer;

/// Bound on the system's own lookup (it may try several servers).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on one DNS question.
const DNS_TIMEOUT: Duration = Duration::from_secs(2);
const HOSTS: &str = "/etc/hosts";
const RESOLV_CONF: &str = "/etc/resolv.conf";
const SMALL_FILE: u64 = 1 << 20;

pub fn run(host: &mut Session, params: &BTreeMap<String, String>, out: &mut Out) {
    let Some(name) = params
        .get("name")
        .map(|n| n.trim_end_matches('.').to_owned())
    else {
        return out.fail("no host name to resolve");
    };
    out.shown_as = format!("getent hosts {name}");
    let v6 = params
        .get("ip")
        .and_then(|i| i.parse::<IpAddr>().ok())
        .is_some_and(|i| i.is_ipv6());
    system_lookup(&name, params.get("ip"), out);
    let in_hosts = hosts_entry(&name);
    if let Some((line, _)) = &in_hosts {
        out.set("hosts_at", format!("{HOSTS}:{line}"));
    }
    let nameserver = nameservers().into_iter().next();
    let answer = nameserver.map(|ns| ask(ns, &name, v6, "nameserver", out));
    let source = match (&in_hosts, &answer) {
        (Some(_), _) => Some("hosts"),
        (None, Some(Answer::Addresses(_))) => Some("dns"),
        _ => None,
    };
    out.set("source", source);
    if let Some(ns) = nameserver {
        out.set("nameserver", nginx_address(ns.ip()));
        out.note(&format!("{RESOLV_CONF}: nameserver {}", ns.ip()));
    }
    nginx_resolver(host, params, &name, v6, out);
    variable_pass(params, &name, out);
}

/// The system's answer now, bounded (a dead DNS server makes getaddrinfo
/// wait for each of its retries).
fn system_lookup(name: &str, ip: Option<&String>, out: &mut Out) {
    let (tx, rx) = mpsc::channel();
    let owned = name.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send((owned.as_str(), 0).to_socket_addrs().map(|a| {
            let mut ips: Vec<IpAddr> = a.map(|s| s.ip()).collect();
            ips.dedup();
            ips
        }));
    });
    let addrs = match rx.recv_timeout(LOOKUP_TIMEOUT) {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return out.note(&format!("{name} does not resolve here: {e}")),
        Err(_) => return out.note(&format!("{name} did not resolve within {LOOKUP_TIMEOUT:?}")),
    };
    let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    out.set("addresses", shown.join(", "));
    if let Some(ip) = ip.and_then(|i| i.parse::<IpAddr>().ok()) {
        out.set("includes", addrs.contains(&ip));
    }
}

/// The line of /etc/hosts that names `name`, and its address.
fn hosts_entry(name: &str) -> Option<(usize, IpAddr)> {
    let text = crate::host::read_capped(Path::new(HOSTS), SMALL_FILE).ok()?;
    text.lines().enumerate().find_map(|(i, line)| {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let ip = words.next()?.parse().ok()?;
        words
            .any(|w| w.eq_ignore_ascii_case(name))
            .then_some((i + 1, ip))
    })
}

/// The `nameserver` lines of /etc/resolv.conf, as DNS server addresses.
fn nameservers() -> Vec<SocketAddr> {
    let text = crate::host::read_capped(Path::new(RESOLV_CONF), SMALL_FILE).unwrap_or_default();
    text.lines()
        .filter_map(
            |l| match l.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["nameserver", ip, ..] => ip.split('%').next()?.parse::<IpAddr>().ok(),
                _ => None,
            },
        )
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// Asks `server`, and sets `{what}_answer` and `{what}_knows`.
fn ask(server: SocketAddr, name: &str, v6: bool, what: &str, out: &mut Out) -> Answer {
    let answer = dns::ask(server, name, v6, DNS_TIMEOUT);
    out.set(&format!("{what}_answer"), answer.describe());
    out.set(
        &format!("{what}_knows"),
        matches!(answer, Answer::Addresses(_)),
    );
    out.note(&format!("DNS {server} for {name}: {}", answer.describe()));
    answer
}

/// An address as nginx's `resolver` takes it: IPv6 in brackets.
fn nginx_address(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// The `resolver` in effect where the pass (`file`, `line`) is written,
/// and what its first address answers for `name`.
fn nginx_resolver(
    host: &mut Session,
    params: &BTreeMap<String, String>,
    name: &str,
    v6: bool,
    out: &mut Out,
) {
    let Some(cfg) = host.nginx().config.as_ref() else {
        return;
    };
    let Some(path) = conf_scope::pass_path(cfg, params) else {
        return;
    };
    let Some(resolver) = conf_scope::in_effect(cfg, &path, "resolver") else {
        return;
    };
    out.set("resolver", resolver.args.join(" "));
    out.set(
        "resolver_at",
        format!("{}:{}", resolver.file.display(), resolver.line),
    );
    out.set("resolver_file", resolver.file.display().to_string());
    out.set("resolver_line", i64::try_from(resolver.line).unwrap_or(0));
    let first = resolver.args.iter().find(|a| !a.contains('='));
    if let Some(server) = first.and_then(|a| resolver_address(a)) {
        ask(server, name, v6, "resolver", out);
    }
}

/// `10.0.0.2`, `10.0.0.2:5353`, `[::1]:53` as a server address; a name
/// (nginx resolved it at start) is not asked.
fn resolver_address(arg: &str) -> Option<SocketAddr> {
    if let Ok(ip) = arg.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 53));
    }
    arg.parse().ok()
}

/// The pass written with a variable, so nginx resolves `name` per request
/// (`set` line and pass), or why that would change what nginx does.
fn variable_pass(params: &BTreeMap<String, String>, name: &str, out: &mut Out) {
    let (Some(kind), Some(target)) = (params.get("kind"), params.get("target")) else {
        return;
    };
    if let Some(block) = params.get("block") {
        return out.set(
            "variable_unfit",
            format!("it passes to upstream {block}, whose servers a variable cannot name"),
        );
    }
    let (scheme, rest) = match target.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), target.as_str()),
    };
    let (authority, uri) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port = authority
        .strip_prefix(name)
        .filter(|p| p.is_empty() || p.starts_with(':'));
    let unfit = match port {
        _ if target.contains('$') => Some("it already holds a variable".to_owned()),
        None => Some(format!("its target {target} does not name {name}")),
        Some(_) if !uri.is_empty() => Some(format!(
            "its target has a URI part ({uri}): with a variable nginx would pass that URI as \
             written instead of replacing the location's prefix"
        )),
        Some(_) => None,
    };
    if let Some(why) = unfit {
        return out.set("variable_unfit", why);
    }
    let var: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let var = format!("$upstream_{var}");
    out.set("variable_set", format!("set {var} {name};"));
    out.set(
        "variable_pass",
        format!("{kind}_pass {scheme}{var}{};", port.unwrap_or_default()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(kind: &str, target: &str) -> Out {
        let params = BTreeMap::from([
            ("kind".to_owned(), kind.to_owned()),
            ("target".to_owned(), target.to_owned()),
        ]);
        let mut out = Out::default();
        variable_pass(&params, "app.internal", &mut out);
        out
    }

    fn fact(out: &Out, name: &str) -> Option<String> {
        out.facts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.to_string())
    }

    #[test]
    fn a_named_target_is_written_with_a_variable() {
        let out = pass("proxy", "http://app.internal:9050");
        assert_eq!(
            fact(&out, "variable_set").as_deref(),
            Some("set $upstream_app_internal app.internal;")
        );
        assert_eq!(
            fact(&out, "variable_pass").as_deref(),
            Some("proxy_pass http://$upstream_app_internal:9050;")
        );
        let fcgi = pass("fastcgi", "app.internal:9000");
        assert_eq!(
            fact(&fcgi, "variable_pass").as_deref(),
            Some("fastcgi_pass $upstream_app_internal:9000;")
        );
    }

    #[test]
    fn a_target_with_a_uri_is_not_rewritten() {
        let out = pass("proxy", "http://app.internal:9050/api/");
        assert!(
            fact(&out, "variable_unfit")
                .unwrap()
                .contains("URI part (/api/)")
        );
        assert_eq!(fact(&out, "variable_pass"), None);
    }

    #[test]
    fn resolver_addresses_take_a_port_and_brackets() {
        assert_eq!(
            resolver_address("10.0.0.2"),
            Some("10.0.0.2:53".parse().unwrap())
        );
        assert_eq!(
            resolver_address("127.0.0.1:5353"),
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(resolver_address("[::1]"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(resolver_address("dns.internal"), None);
        assert_eq!(nginx_address("::1".parse().unwrap()), "[::1]");
    }
}
