//! The address built-ins: `listeners`, `connect`, `fastcgi-ping`,
//! `http-get` and `socket-file`. They take the failing upstream's address
//! as typed parameters (transport, host, port, path) — never as a string
//! handed to a tool — and refuse values that do not parse.

use crate::session::Session;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::Out;
use crate::host::Endpoint;
use crate::host::connect::{self, ConnectResult, Reply};
use crate::host::procs::Process;
use crate::host::sockets::{self, Listener};
use crate::host::users::{self, Account, SocketAccess};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The address the parameters name, or why they do not name one.
pub fn endpoint(params: &BTreeMap<String, String>) -> Result<Endpoint, String> {
    let get = |k: &str| params.get(k).map(String::as_str);
    match get("transport") {
        Some("unix") => {
            let path = get("path").ok_or("no socket path is known")?;
            if !path.starts_with('/') {
                return Err(format!("socket path {path:?} is not absolute"));
            }
            Ok(Endpoint::Unix(PathBuf::from(path)))
        }
        Some("tcp") => {
            let host = get("host").ok_or("the failing upstream's host is not known")?;
            let ip: IpAddr = host
                .parse()
                .map_err(|_| format!("host {host:?} is not an IP address"))?;
            let port = get("port").ok_or("the failing upstream's port is not known")?;
            let port: u16 = port
                .parse()
                .map_err(|_| format!("port {port:?} is not a port number"))?;
            Ok(Endpoint::Tcp(SocketAddr::new(ip, port)))
        }
        Some(other) => Err(format!("cannot probe a {other} upstream directly")),
        None => Err("the failing upstream's address is not known".into()),
    }
}

/// Runs one of this module's built-ins.
pub fn run(host: &mut Session, name: &str, params: &BTreeMap<String, String>, out: &mut Out) {
    if name == "socket-file" {
        return socket_file(params, out);
    }
    let target = match endpoint(params) {
        Ok(t) => t,
        Err(e) => return out.fail(e),
    };
    match name {
        "listeners" => listeners(host, &target, out),
        "connect" => {
            out.shown_as = shown_connect(&target);
            let result = connect::connect(&target, CONNECT_TIMEOUT);
            out.set("result", connect_word(&result));
            out.set("errno", result.errno().map(i64::from));
        }
        "fastcgi-ping" => {
            out.shown_as = format!("(FastCGI GET_VALUES to {target})");
            let reply = match connect::fastcgi_ping(&target, CONNECT_TIMEOUT) {
                Ok(r) => reply_word(&r),
                Err(_) => "connect-failed",
            };
            out.set("reply", reply);
        }
        _ => http_get(&target, params, out),
    }
}

fn listeners(host: &mut Session, target: &Endpoint, out: &mut Out) {
    let all = host.listeners().to_vec();
    let procs = host.processes();
    out.shown_as = sockets::ss_equivalent(target);
    let here: Option<&Listener> = match target {
        Endpoint::Unix(path) => {
            out.set("path_exists", path.exists());
            out.set(
                "path_is_socket",
                std::fs::metadata(path)
                    .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type())),
            );
            sockets::unix_listening(&all, path)
        }
        Endpoint::Tcp(addr) => {
            let on_port: Vec<String> = sockets::listening_on_port(&all, addr.port())
                .iter()
                .map(|l| l.addr.to_string())
                .collect();
            out.set("port_used", !on_port.is_empty());
            out.set("on_port", on_port.join(", "));
            if sockets::accepts(&all, addr) {
                sockets::listening_on_port(&all, addr.port())
                    .into_iter()
                    .next()
            } else {
                None
            }
        }
    };
    out.set("listening", here.is_some());
    if let Some(l) = here {
        out.set("queue", l.queue.map(i64::from));
        out.set("backlog", l.backlog.map(i64::from));
        out.set("queue_full", l.queue.zip(l.backlog).map(|(q, b)| q > b));
        out.set("owners", owners(l, procs));
        describe_owner(l, procs, out);
        let queue = match (l.queue, l.backlog) {
            (Some(q), Some(b)) => format!(", {q} waiting of a backlog of {b}"),
            (Some(q), None) => format!(", {q} waiting"),
            _ => String::new(),
        };
        out.note(&format!("{} listening{queue}", l.addr));
    } else {
        out.set("owners", "no process");
        out.note(&format!("nothing listens at {target}"));
    }
}

/// The program behind a listening socket: the oldest process holding it
/// (php-fpm's master, gunicorn's arbiter), its command line and its unit.
fn describe_owner(l: &Listener, procs: &[Process], out: &mut Out) {
    let Some(owner) = procs
        .iter()
        .filter(|p| l.pids.contains(&p.pid))
        .min_by_key(|p| p.start_time_ticks)
    else {
        return;
    };
    let kind = if owner.comm.starts_with("php-fpm") {
        "php-fpm"
    } else {
        owner.comm.as_str()
    };
    out.set("owner_kind", kind);
    out.set("owner_pid", i64::from(owner.pid));
    out.set("owner_command", command_line(&owner.args));
    out.set("owner_unit", crate::host::procs::unit_of(owner.pid));
}

/// A process's command line for one line of a report: whitespace runs
/// become one space, and it is cut to 120 characters.
fn command_line(args: &[String]) -> String {
    let joined = args.join(" ");
    let words: Vec<&str> = joined.split_whitespace().collect();
    crate::sanitize::truncate(&words.join(" "), 120)
}

fn owners(l: &Listener, procs: &[Process]) -> String {
    let names: Vec<String> = l
        .pids
        .iter()
        .filter_map(|p| procs.iter().find(|q| q.pid == *p))
        .map(|p| format!("{} (pid {})", p.comm, p.pid))
        .take(3)
        .collect();
    if names.is_empty() {
        "owner not visible".into()
    } else {
        names.join(", ")
    }
}

fn connect_word(r: &ConnectResult) -> &'static str {
    match r {
        ConnectResult::Ok => "ok",
        ConnectResult::Refused => "refused",
        ConnectResult::NoSuchFile => "no-such-file",
        ConnectResult::PermissionDenied => "permission-denied",
        ConnectResult::TimedOut => "timed-out",
        ConnectResult::WouldBlock => "would-block",
        ConnectResult::Unreachable(_) => "unreachable",
        ConnectResult::Other(..) => "other",
    }
}

fn reply_word(r: &Reply) -> &'static str {
    match r {
        Reply::Fastcgi { .. } => "fastcgi",
        Reply::Http { .. } => "http",
        Reply::Tls => "tls",
        Reply::Http2 => "http2",
        Reply::Closed => "closed",
        Reply::Reset => "reset",
        Reply::Silent => "silent",
        Reply::Other(_) => "other",
    }
}

/// What a person would type to connect as this probe does.
pub(super) fn shown_connect(target: &Endpoint) -> String {
    format!("curl -sS -o /dev/null {}", curl_url(target))
}

/// What a person would type to send the same request.
pub(super) fn shown_get(target: &Endpoint, params: &BTreeMap<String, String>) -> String {
    let (host, uri) = split_url(params.get("uri").map_or("/", String::as_str));
    format!(
        "curl -sS -o /dev/null -w '%{{http_code}}' -H 'Host: {host}' {}{uri}",
        curl_url(target).trim_end_matches('/')
    )
}

/// What a person would type to see every directory on the way to a socket.
pub(super) fn shown_socket_file(path: &std::path::Path) -> String {
    format!(
        "namei -l {}",
        crate::shell::quote(&path.display().to_string())
    )
}

fn curl_url(target: &Endpoint) -> String {
    match target {
        Endpoint::Tcp(a) => format!("http://{a}/"),
        Endpoint::Unix(p) => format!("--unix-socket {} http://localhost/", p.display()),
    }
}

fn http_get(target: &Endpoint, params: &BTreeMap<String, String>, out: &mut Out) {
    let (host, uri) = split_url(params.get("uri").map_or("/", String::as_str));
    out.shown_as = shown_get(target, params);
    match connect::http_get(target, host, uri, Duration::from_secs(10), 64 * 1024) {
        Ok(r) => {
            out.set(
                "result",
                if r.tls_like {
                    "tls"
                } else if r.status.is_some() {
                    "ok"
                } else {
                    "no-status"
                },
            );
            out.set("code", r.status.map(i64::from));
            out.set("first_line", r.first_line);
        }
        Err(e) => {
            out.set("result", "failed");
            out.fail(e.to_string());
        }
    }
}

/// `http://shop.example/x` → ("shop.example", "/x"); a bare path keeps
/// "localhost". The request always goes to the loopback target: the name
/// only selects nginx's server block, as a browser's Host header would.
fn split_url(uri: &str) -> (&str, &str) {
    let Some(rest) = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))
    else {
        return ("localhost", if uri.starts_with('/') { uri } else { "/" });
    };
    match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    }
}

fn socket_file(params: &BTreeMap<String, String>, out: &mut Out) {
    let Some(path) = params
        .get("path")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    else {
        return out.fail("no absolute socket path is known");
    };
    out.shown_as = shown_socket_file(&path);
    let meta = std::fs::metadata(&path);
    out.set("exists", meta.is_ok());
    if let Ok(m) = &meta {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        out.set("is_socket", m.file_type().is_socket());
        out.set(
            "owner",
            users::user_name(m.uid()).unwrap_or_else(|| m.uid().to_string()),
        );
        out.set(
            "group",
            users::group_name(m.gid()).unwrap_or_else(|| m.gid().to_string()),
        );
        out.set("mode", format!("{:04o}", m.mode() & 0o7777));
    }
    let Some(user) = params.get("user") else {
        return out.fail("nginx's worker user is not known");
    };
    let Some(account) = Account::by_name(user) else {
        return out.fail(format!("no user {user:?} on this host"));
    };
    let (can, reason) = match users::unix_socket_access(&path, &account) {
        SocketAccess::Allowed => (true, String::new()),
        SocketAccess::Missing(p) => (false, format!("{} does not exist", p.display())),
        SocketAccess::DirectoryNotSearchable(p) => {
            (false, format!("{user} may not enter {}", p.display()))
        }
        SocketAccess::SocketNotWritable { mode, .. } => (
            false,
            format!("mode {mode:04o} gives {user} no write permission"),
        ),
    };
    out.set("user_can_connect", can);
    out.set("reason", reason);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_is_one_short_line() {
        let args = vec![
            "/usr/bin/python3".to_owned(),
            "-c".to_owned(),
            "import http.server\n\nclass H:\n    pass".to_owned(),
        ];
        assert_eq!(
            command_line(&args),
            "/usr/bin/python3 -c import http.server class H: pass"
        );
        let long = vec!["x".repeat(300)];
        assert!(command_line(&long).chars().count() < 140);
    }

    #[test]
    fn urls_name_the_server_block_and_the_path() {
        assert_eq!(
            split_url("http://shop.example/a?b=1"),
            ("shop.example", "/a?b=1")
        );
        assert_eq!(split_url("https://shop.example"), ("shop.example", "/"));
        assert_eq!(split_url("/index.php"), ("localhost", "/index.php"));
        assert_eq!(split_url("index.php"), ("localhost", "/"));
    }

    #[test]
    fn addresses_come_only_from_typed_parameters() {
        let p = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert!(
            endpoint(&p(&[
                ("transport", "tcp"),
                ("host", "127.0.0.1"),
                ("port", "9000")
            ]))
            .is_ok()
        );
        assert!(
            endpoint(&p(&[
                ("transport", "tcp"),
                ("host", "$(reboot)"),
                ("port", "9000")
            ]))
            .is_err()
        );
        assert!(
            endpoint(&p(&[
                ("transport", "tcp"),
                ("host", "127.0.0.1"),
                ("port", "99999")
            ]))
            .is_err()
        );
        assert!(endpoint(&p(&[("transport", "unix"), ("path", "../etc/x.sock")])).is_err());
    }
}
