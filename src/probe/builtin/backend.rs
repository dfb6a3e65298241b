//! The `backend` built-in: the php-fpm behind an address — is it running,
//! which pool is meant to listen there, and where do the running pools
//! listen instead (the wrong-address diagnosis).
//!
//! Running masters are found in /proc (zombies and other namespaces'
//! masters set aside, see [`seen`]) and their configurations read from
//! the path in their process titles; for what is not running, the
//! configuration named with `--fpm-conf` and the distributions' usual
//! configuration paths say what should be there.

use crate::session::Session;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::Out;
use super::sockets_probe::endpoint;
use crate::host::fpm_conf::{self, ErrorLog, FpmConfig, ListenSpec, Pool};
use crate::host::procs::FpmMaster;
use crate::host::{Endpoint, Sourced};
use crate::probe::command;

mod places;
mod seen;
mod start;

/// What a person would type to see the php-fpm masters.
pub(super) const SHOWN: &str = "ps -o pid,args -C php-fpm";

/// A configuration and whether a master runs it.
struct Found {
    config: FpmConfig,
    master: Option<FpmMaster>,
}

pub fn run(host: &mut Session, params: &BTreeMap<String, String>, out: &mut Out) {
    let target = match endpoint(params) {
        Ok(t) => t,
        Err(e) => return out.fail(e),
    };
    let masters = seen::running_masters(host.processes(), out);
    let any_running = !masters.is_empty();
    out.shown_as = SHOWN.into();
    let found = configurations(masters, host.options.fpm_conf.as_deref());
    let matched = found.iter().find_map(|f| {
        f.config
            .pools
            .iter()
            .find(|p| serves(p, &target))
            .map(|p| (f, p))
    });
    let near: Vec<String> = found
        .iter()
        .filter(|f| f.master.is_some())
        .flat_map(|f| &f.config.pools)
        .filter_map(|p| p.listen_addr.as_ref())
        .filter(|l| is_near(l, &target))
        .map(nginx_form)
        .collect();
    out.set("nearby_count", i64::try_from(near.len()).unwrap_or(0));
    out.set("nearby", near.join(", "));
    // Running means the php-fpm that owns this address's pool when one does:
    // another version's master running beside it serves nothing here.
    out.set(
        "running",
        matched.map_or(any_running, |(f, _)| f.master.is_some()),
    );
    // Only the owner of the pool is described: the configuration, binary and
    // log of an unrelated php-fpm would send the fix to the wrong service.
    if let Some((f, _)) = matched {
        describe_backend(f, out);
    }
    if let Some((_, pool)) = matched {
        describe_pool(pool, out);
        places::describe(pool, out);
    }
}

fn configurations(masters: Vec<FpmMaster>, named: Option<&Path>) -> Vec<Found> {
    let mut found = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for m in masters {
        let Some(conf) = m.conf.clone() else { continue };
        if let Ok(config) = fpm_conf::parse(&conf) {
            seen.push(conf);
            found.push(Found {
                config,
                master: Some(m),
            });
        }
    }
    let named = named.map(Path::to_path_buf);
    for conf in named.into_iter().chain(fpm_conf::default_config_paths()) {
        if seen.iter().any(|s| same_path(s, &conf)) {
            continue;
        }
        if let Ok(config) = fpm_conf::parse(&conf) {
            seen.push(conf);
            found.push(Found {
                config,
                master: None,
            });
        }
    }
    found
}

fn describe_backend(f: &Found, out: &mut Out) {
    out.set("kind", "php-fpm");
    out.set(
        "conf",
        f.config.files.first().map(|p| p.display().to_string()),
    );
    if let ErrorLog::File(path) = f.config.error_log_target() {
        out.set("log", path.display().to_string());
    }
    let binary = match &f.master {
        Some(m) => start::running_binary(m.pid).or_else(|| command::locate(&m.comm)),
        None => command::locate("php-fpm").or_else(newest_versioned_binary),
    };
    if let Some(b) = &binary {
        out.set("binary", b.display().to_string());
        out.set("unit", unit_name(b));
    }
    out.set(
        "start",
        start::command(&f.config, f.master.as_ref(), binary.as_deref()),
    );
    if let Some(m) = &f.master {
        out.set("pid", i64::from(m.pid));
        out.note(&format!(
            "php-fpm master {} ({} workers)",
            m.pid,
            m.workers.len()
        ));
    }
}

fn describe_pool(pool: &Pool, out: &mut Out) {
    out.set("pool", pool.name.clone());
    out.set("pool_file", pool.file.display().to_string());
    out.set("pool_line", i64::try_from(pool.line).unwrap_or(0));
    out.set("pool_listen", pool.listen.as_ref().map(|l| l.value.clone()));
    out.set(
        "pm",
        pool.pm
            .as_ref()
            .map_or_else(|| "dynamic".to_owned(), |p| p.value.clone()),
    );
    out.set(
        "max_children",
        pool.pm_max_children.as_ref().map(|m| i64::from(m.value)),
    );
    out.set(
        "max_children_at",
        pool.pm_max_children.as_ref().map(Sourced::location),
    );
    out.set(
        "terminate_timeout",
        pool.request_terminate_timeout
            .as_ref()
            .map_or_else(|| "0 (off)".to_owned(), |t| t.value.clone()),
    );
    // In seconds for conditions (0 when off); unreadable text stays unknown.
    out.set(
        "terminate_timeout_secs",
        pool.request_terminate_timeout
            .as_ref()
            .map_or(Some(0), |t| {
                fpm_conf::fpm_duration_secs(&t.value).and_then(|s| i64::try_from(s).ok())
            }),
    );
    out.set(
        "terminate_timeout_at",
        pool.request_terminate_timeout
            .as_ref()
            .map(Sourced::location),
    );
    // The listen queue's length: a tiny one turns a busy pool's queue into 502s.
    out.set(
        "backlog",
        pool.listen_backlog
            .as_ref()
            .and_then(|b| b.value.trim().parse::<i64>().ok()),
    );
    out.set(
        "backlog_at",
        pool.listen_backlog.as_ref().map(Sourced::location),
    );
    out.set("owner", pool.listen_owner.as_ref().map(|o| o.value.clone()));
    out.set("group", pool.listen_group.as_ref().map(|o| o.value.clone()));
    out.set("mode", pool.listen_mode.as_ref().map(|o| o.value.clone()));
}

/// Whether the pool listens where nginx connects.
fn serves(pool: &Pool, target: &Endpoint) -> bool {
    match (pool.listen_addr.as_ref(), target) {
        (Some(ListenSpec::Unix(p)), Endpoint::Unix(t)) => same_path(p, t),
        (Some(ListenSpec::Tcp { host, port }), Endpoint::Tcp(addr)) => {
            *port == addr.port() && host_accepts(host.as_deref(), addr.ip())
        }
        _ => false,
    }
}

fn host_accepts(host: Option<&str>, ip: IpAddr) -> bool {
    match host {
        None => true,
        Some("localhost") => ip.is_loopback(),
        Some(h) => h
            .parse::<IpAddr>()
            .is_ok_and(|h| h == ip || h.is_unspecified()),
    }
}

/// A running pool a typo or an upgrade away from the target: TCP on the
/// same host (any port), or a socket in the same directory.
fn is_near(listen: &ListenSpec, target: &Endpoint) -> bool {
    match (listen, target) {
        (ListenSpec::Unix(p), Endpoint::Unix(t)) => !same_path(p, t) && p.parent() == t.parent(),
        (ListenSpec::Tcp { host, port }, Endpoint::Tcp(addr)) => {
            *port != addr.port() && host_accepts(host.as_deref(), addr.ip())
        }
        _ => false,
    }
}

fn same_path(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// How nginx would write the address in a pass directive.
fn nginx_form(listen: &ListenSpec) -> String {
    match listen {
        ListenSpec::Unix(p) => format!("unix:{}", p.display()),
        ListenSpec::Tcp { host: None, port } => format!("127.0.0.1:{port}"),
        ListenSpec::Tcp {
            host: Some(h),
            port,
        } if h.contains(':') => format!("[{h}]:{port}"),
        ListenSpec::Tcp {
            host: Some(h),
            port,
        } => format!("{h}:{port}"),
    }
}

/// Debian names the binary php-fpm8.2 and the unit php8.2-fpm; RHEL and
/// Docker images call both php-fpm.
fn unit_name(binary: &Path) -> String {
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.strip_prefix("php-fpm") {
        Some(version) if !version.is_empty() => format!("php{version}-fpm"),
        _ => "php-fpm".into(),
    }
}

fn newest_versioned_binary() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = glob::glob("/usr/sbin/php-fpm*")
        .ok()?
        .filter_map(Result::ok)
        .collect();
    found.sort();
    found.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_follow_the_distribution() {
        assert_eq!(unit_name(Path::new("/usr/sbin/php-fpm8.2")), "php8.2-fpm");
        assert_eq!(unit_name(Path::new("/usr/sbin/php-fpm")), "php-fpm");
    }

    #[test]
    fn another_port_on_the_same_host_is_near() {
        let target = Endpoint::Tcp("127.0.0.1:9001".parse().unwrap());
        assert!(is_near(
            &ListenSpec::Tcp {
                host: Some("127.0.0.1".into()),
                port: 9000
            },
            &target
        ));
        assert!(!is_near(
            &ListenSpec::Tcp {
                host: Some("10.0.0.5".into()),
                port: 9000
            },
            &target
        ));
        assert!(!is_near(&ListenSpec::Unix("/run/php.sock".into()), &target));
    }

    #[test]
    fn another_socket_in_the_same_directory_is_near() {
        let target = Endpoint::Unix("/run/php/php7.4-fpm.sock".into());
        assert!(is_near(
            &ListenSpec::Unix("/run/php/php8.2-fpm.sock".into()),
            &target
        ));
        assert!(!is_near(
            &ListenSpec::Unix("/tmp/other.sock".into()),
            &target
        ));
    }

    #[test]
    fn wildcard_pool_serves_loopback() {
        assert!(host_accepts(None, "127.0.0.1".parse().unwrap()));
        assert!(host_accepts(Some("0.0.0.0"), "127.0.0.1".parse().unwrap()));
        assert!(!host_accepts(
            Some("10.0.0.1"),
            "127.0.0.1".parse().unwrap()
        ));
    }
}
