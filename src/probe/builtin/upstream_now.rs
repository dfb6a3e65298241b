//! The `upstream-now` built-in: does an upstream that failed in the window
//! still fail, and what changed since its last failure?
//!
//! A log line is the past; the host is the present. Before the rules test
//! why an upstream failed, this asks the host three things: where nginx
//! sends those requests *now* (a reload may have moved them), whether that
//! address accepts a connection now — for a unix socket, whether nginx's
//! worker user may open it — and what changed after the last failure: nginx
//! reloaded, the backend's listener started, the socket was made or its
//! owner and mode changed. Failures that stopped before such a change, at an
//! address that answers now, are history: the rules report them resolved.

use super::nginx_probe::Discover;
use crate::session::Session;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use super::Out;
use super::sockets_probe::endpoint;
use crate::host::Endpoint;
use crate::host::connect::{self, ConnectResult};
use crate::host::procs::{self, Process};
use crate::host::sockets::{self, Listener};
use crate::host::users::{self, Account, SocketAccess};
use crate::logs::Timestamp;
use crate::logs::time::local_utc_offset;

/// A backend that answers at all accepts within this on loopback or a LAN; one that does
/// not (a DROP rule) is "not answering", which only keeps a failure from being called
/// resolved, so a short bound costs nothing but time saved.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);

/// One thing that changed, and when.
struct Change {
    at: i64,
    what: String,
}

pub fn run(host: &mut Session, params: &BTreeMap<String, String>, out: &mut Out) {
    // Log times are whole seconds: a change in the same second as the last
    // failure may have come before it, so only a later second counts.
    let last = params.get("last_unix").and_then(|v| v.parse::<i64>().ok());
    let target = endpoint(params);
    let logged = params.get("logged").map(String::as_str);
    if let Ok(t) = &target {
        out.set("target", t.to_string());
        out.set("moved", logged.is_some_and(|l| !same_address(t, l)));
        out.shown_as = sockets::ss_equivalent(t);
    }
    let procs = host.processes().to_vec();
    let changes = changes(host, &procs, target.as_ref().ok());
    let after: Vec<&Change> = changes
        .iter()
        .filter(|c| last.is_some_and(|l| c.at > l))
        .collect();
    out.set("changed_after", !after.is_empty());
    out.set("change", describe(&after));
    let answers = match &target {
        Ok(t) => answer(t, params.get("user").map(String::as_str), out),
        Err(why) => {
            out.set("answer", format!("cannot test it now: {why}"));
            None
        }
    };
    out.set("answers", answers);
    let url_ok = url_answered(host, params);
    out.set("url_ok", url_ok);
    let resolved = answers == Some(true) && (!after.is_empty() || url_ok == Some(true));
    out.set("resolved", resolved);
}

/// Whether `target` is the address nginx logged (`127.0.0.1:9000`,
/// `/run/php/php8.2-fpm.sock`).
fn same_address(target: &Endpoint, logged: &str) -> bool {
    match target {
        Endpoint::Unix(path) => path.to_str() == Some(logged.trim_start_matches("unix:")),
        Endpoint::Tcp(addr) => addr.to_string() == logged,
    }
}

/// Everything that changed recently that could end a failure: nginx's last
/// (re)load, the start of whatever listens at the target, the socket file.
fn changes(host: &mut Session, procs: &[Process], target: Option<&Endpoint>) -> Vec<Change> {
    let clock = |t: i64| Timestamp::from_unix(t).clock(Timestamp::now(), local_utc_offset());
    let mut found = Vec::new();
    if let Some(at) = nginx_loaded(host, procs) {
        found.push(Change {
            at,
            what: format!("nginx loaded its configuration at {}", clock(at)),
        });
    }
    let Some(target) = target else {
        return found;
    };
    if let Some((at, who)) = listener_started(host.listeners(), procs, target) {
        found.push(Change {
            at,
            what: format!("{who} started at {}", clock(at)),
        });
    }
    if let Endpoint::Unix(path) = target
        && let Ok(meta) = std::fs::metadata(path)
    {
        found.push(Change {
            at: meta.ctime(),
            what: format!(
                "the socket {} was made or had its owner or mode changed at {}",
                path.display(),
                clock(meta.ctime())
            ),
        });
    }
    found
}

/// When the running nginx last loaded its configuration: when its current
/// workers started (a reload starts new ones; old ones shutting down and a
/// crashed worker's replacement do not count).
fn nginx_loaded(host: &mut Session, procs: &[Process]) -> Option<i64> {
    let master = host.nginx().master.as_ref()?.pid;
    procs
        .iter()
        .filter(|p| p.ppid == master && p.cmdline.starts_with("nginx: worker process"))
        .filter(|p| !p.cmdline.contains("is shutting down"))
        .filter_map(procs::started_unix)
        .min()
}

/// When the process that owns the listening socket at `target` started, and
/// what it is (`php-fpm8.2 (pid 4242)`).
fn listener_started(
    all: &[Listener],
    procs: &[Process],
    target: &Endpoint,
) -> Option<(i64, String)> {
    let listener = match target {
        Endpoint::Unix(path) => sockets::unix_listening(all, path),
        Endpoint::Tcp(addr) => sockets::accepts(all, addr)
            .then(|| {
                sockets::listening_on_port(all, addr.port())
                    .into_iter()
                    .next()
            })
            .flatten(),
    }?;
    let owner = procs
        .iter()
        .filter(|p| listener.pids.contains(&p.pid))
        .min_by_key(|p| p.start_time_ticks)?;
    let at = procs::started_unix(owner)?;
    Some((at, format!("{} (pid {})", owner.comm, owner.pid)))
}

fn describe(changes: &[&Change]) -> String {
    let mut sorted: Vec<&&Change> = changes.iter().collect();
    sorted.sort_by_key(|c| c.at);
    let text: Vec<&str> = sorted.iter().map(|c| c.what.as_str()).collect();
    if text.is_empty() {
        return "no change seen (no reload of nginx, no restart of the backend, no new socket)"
            .into();
    }
    text.join("; ")
}

/// Whether the target takes a connection now, as nginx's workers would
/// make it; says what was found in `answer`.
fn answer(target: &Endpoint, user: Option<&str>, out: &mut Out) -> Option<bool> {
    let result = connect::connect(target, CONNECT_TIMEOUT);
    if !matches!(result, ConnectResult::Ok) {
        out.set(
            "answer",
            format!("{target} does not accept a connection: {result}"),
        );
        return Some(false);
    }
    // Root may open any socket; what matters is nginx's worker user.
    if let (Endpoint::Unix(path), Some(account)) = (target, user.and_then(Account::by_name))
        && !matches!(
            users::unix_socket_access(path, &account),
            SocketAccess::Allowed
        )
    {
        out.set(
            "answer",
            format!(
                "{target} accepts connections, but not from nginx's workers ({})",
                account.name
            ),
        );
        return Some(false);
    }
    out.set("answer", format!("{target} accepts connections"));
    Some(true)
}

/// With `--url`: whether the URL was answered without a 5xx through the
/// same pass directive as these failures; `None` when no URL was asked or
/// it went through another one.
fn url_answered(host: &mut Session, params: &BTreeMap<String, String>) -> Option<bool> {
    let code: u16 = params.get("url_code")?.parse().ok()?;
    let path = url_path(params.get("url")?)?;
    let pass_at = params.get("pass_at")?;
    let model = host.nginx().model.as_ref()?;
    let (_, location) = model.locate(None, None, &path)?;
    let pass = location.pass.as_ref()?;
    let at = format!("{}:{}", pass.file.display(), pass.line);
    (at == *pass_at).then_some(code < 500)
}

/// The path of a `--url` (`/index.php`, `http://shop.example/index.php?x`).
fn url_path(url: &str) -> Option<String> {
    let rest = match url.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/').unwrap_or(rest.len())..],
        None => url,
    };
    let path = rest.split(['?', '#']).next().unwrap_or(rest);
    Some(if path.is_empty() {
        "/".into()
    } else {
        path.into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn a_url_path_is_found_with_or_without_scheme_and_host() {
        assert_eq!(url_path("/index.php").as_deref(), Some("/index.php"));
        assert_eq!(
            url_path("http://shop.example/a/b.php?x=1").as_deref(),
            Some("/a/b.php")
        );
        assert_eq!(url_path("http://shop.example").as_deref(), Some("/"));
    }

    #[test]
    fn the_logged_address_is_compared_with_the_target_as_nginx_writes_it() {
        let sock = Endpoint::Unix(PathBuf::from("/run/php/php8.2-fpm.sock"));
        assert!(same_address(&sock, "/run/php/php8.2-fpm.sock"));
        assert!(same_address(&sock, "unix:/run/php/php8.2-fpm.sock"));
        let tcp = Endpoint::Tcp("127.0.0.1:9001".parse().unwrap());
        assert!(!same_address(&tcp, "127.0.0.1:9000"));
        assert!(same_address(&tcp, "127.0.0.1:9001"));
    }
}
