//! One php-fpm pool: its settings in order, and typed views of the ones the diagnosis
//! needs (where it listens, socket ownership, process limits, timeouts), with the defaults
//! php-fpm applies when a setting is absent.

use crate::host::{Endpoint, Sourced};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

/// Where a pool listens, as php-fpm interprets `listen`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenSpec {
    /// `listen = 9000` (host `None`: every address, IPv6 and IPv4-mapped when IPv6 works),
    /// `127.0.0.1:9000`, `[::1]:9000`, `localhost:9000`.
    Tcp {
        /// The host part without brackets; `None` when only a port was given.
        host: Option<String>,
        /// The port.
        port: u16,
    },
    /// Anything without a `:` that is not all digits: a unix socket path.
    Unix(PathBuf),
}

impl ListenSpec {
    /// Parses a `listen` value with php-fpm's rule: contains `:` or is all digits ⇒ TCP.
    pub fn parse(value: &str) -> Option<ListenSpec> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        if !value.contains(':') && !value.bytes().all(|b| b.is_ascii_digit()) {
            return Some(ListenSpec::Unix(PathBuf::from(value)));
        }
        let (host, port) = match value.rsplit_once(':') {
            Some((host, port)) => (Some(host), port),
            None => (None, value),
        };
        let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
        let host = host
            .map(|h| {
                h.strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(h)
            })
            .filter(|h| !h.is_empty() && *h != "*")
            .map(str::to_string);
        Some(ListenSpec::Tcp { host, port })
    }

    /// Where a local client (nginx on this host) reaches this listener: loopback for a
    /// wildcard, the literal address otherwise, `127.0.0.1` for `localhost`; `None` for other
    /// host names (they would need DNS).
    pub fn local_endpoint(&self) -> Option<Endpoint> {
        match self {
            ListenSpec::Unix(path) => Some(Endpoint::Unix(path.clone())),
            ListenSpec::Tcp { host, port } => {
                let ip = match host.as_deref() {
                    None | Some("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
                    Some(h) => match h.parse::<IpAddr>().ok()? {
                        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
                        ip => ip,
                    },
                };
                Some(Endpoint::Tcp(SocketAddr::new(ip, *port)))
            }
        }
    }
}

/// One worker pool (`[name]` section) with the settings the diagnosis uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// Section name.
    pub name: String,
    /// Where the section was first opened.
    pub file: PathBuf,
    /// Line of that section header.
    pub line: usize,
    /// `listen` as written (after `$pool` expansion).
    pub listen: Option<Sourced<String>>,
    /// `listen`, interpreted.
    pub listen_addr: Option<ListenSpec>,
    /// `listen.owner`; unset ⇒ the master's user owns the socket.
    pub listen_owner: Option<Sourced<String>>,
    /// `listen.group`; unset ⇒ `listen.owner`'s primary group, else the master's group.
    pub listen_group: Option<Sourced<String>>,
    /// `listen.mode`; unset ⇒ 0660 (see [`Pool::listen_mode_bits`]).
    pub listen_mode: Option<Sourced<String>>,
    /// `listen.acl_users`; when set, owner and group are ignored.
    pub listen_acl_users: Option<Sourced<String>>,
    /// `listen.acl_groups`; when set, owner and group are ignored.
    pub listen_acl_groups: Option<Sourced<String>>,
    /// `listen.backlog` (`-1` on Linux by default: `net.core.somaxconn`).
    pub listen_backlog: Option<Sourced<String>>,
    /// `listen.allowed_clients` (TCP only).
    pub listen_allowed_clients: Option<Sourced<String>>,
    /// `user` the workers run as.
    pub user: Option<Sourced<String>>,
    /// `group` the workers run as.
    pub group: Option<Sourced<String>>,
    /// `pm`: `static`, `dynamic` or `ondemand`.
    pub pm: Option<Sourced<String>>,
    /// `pm.max_children`.
    pub pm_max_children: Option<Sourced<u32>>,
    /// `pm.start_servers`.
    pub pm_start_servers: Option<Sourced<u32>>,
    /// `pm.min_spare_servers`.
    pub pm_min_spare_servers: Option<Sourced<u32>>,
    /// `pm.max_spare_servers`.
    pub pm_max_spare_servers: Option<Sourced<u32>>,
    /// `pm.max_requests`.
    pub pm_max_requests: Option<Sourced<u32>>,
    /// `pm.status_path`.
    pub pm_status_path: Option<Sourced<String>>,
    /// `ping.path`.
    pub ping_path: Option<Sourced<String>>,
    /// `request_terminate_timeout` as written (`30s`, `5m`, `0`); see [`fpm_duration_secs`].
    pub request_terminate_timeout: Option<Sourced<String>>,
    /// `request_slowlog_timeout` as written.
    pub request_slowlog_timeout: Option<Sourced<String>>,
    /// `slowlog` path.
    pub slowlog: Option<Sourced<String>>,
    /// `access.log` path.
    pub access_log: Option<Sourced<String>>,
    /// `catch_workers_output` as written.
    pub catch_workers_output: Option<Sourced<String>>,
    /// Every setting of the pool in order, keys as written (including `php_admin_value[..]`,
    /// which configure PHP, not FPM: `php_admin_value[error_log]` is PHP's log).
    pub settings: Vec<(String, Sourced<String>)>,
    /// Settings commented out in the pool's section (`;listen.mode = 0660`,
    /// as distributions ship their defaults): where a setting not in
    /// effect would be written.
    pub commented: Vec<(String, Sourced<String>)>,
}

/// Where a group of settings is written in one file: lines `first` to
/// `last`, or, when none of them is, the pool's `[name]` line (the edit
/// goes right after it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The file.
    pub file: PathBuf,
    /// The first line.
    pub first: usize,
    /// The last line (`first` for one line).
    pub last: usize,
}

impl Span {
    /// `53` or `53-55`.
    pub fn lines(&self) -> String {
        if self.last > self.first {
            format!("{}-{}", self.first, self.last)
        } else {
            self.first.to_string()
        }
    }

    /// `/etc/php/8.2/fpm/pool.d/www.conf:53-55`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.lines())
    }
}

impl Pool {
    /// Where the settings `keys` are written: each where it takes effect,
    /// else where the pool's section has it commented out; the lines of
    /// those in the file of the first one found. The `[name]` line when
    /// none is written at all.
    pub fn span(&self, keys: &[&str]) -> Span {
        let commented = |key: &str| {
            let hit = self
                .commented
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(key));
            hit.map(|(_, v)| v)
        };
        let places: Vec<&Sourced<String>> = keys
            .iter()
            .filter_map(|k| self.get(k).or_else(|| commented(k)))
            .collect();
        let Some(file) = places.first().map(|p| p.file.clone()) else {
            return Span {
                file: self.file.clone(),
                first: self.line,
                last: self.line,
            };
        };
        let lines = places.iter().filter(|p| p.file == file).map(|p| p.line);
        let (first, last) = lines.fold((usize::MAX, 0), |(lo, hi), l| (lo.min(l), hi.max(l)));
        Span { file, first, last }
    }

    /// The last value of `key` (case-insensitive), as php-fpm keeps the last one.
    pub fn get(&self, key: &str) -> Option<&Sourced<String>> {
        let hit = self
            .settings
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key));
        hit.map(|(_, v)| v)
    }

    /// The socket's permission bits: `listen.mode` in octal, or php-fpm's default 0660.
    pub fn listen_mode_bits(&self) -> Option<u32> {
        match &self.listen_mode {
            None => Some(0o660),
            Some(m) => u32::from_str_radix(m.value.trim(), 8).ok(),
        }
    }

    /// Whether `listen.acl_users`/`listen.acl_groups` replace owner and group.
    pub fn uses_acl(&self) -> bool {
        let set =
            |v: &Option<Sourced<String>>| v.as_ref().is_some_and(|s| !s.value.trim().is_empty());
        set(&self.listen_acl_users) || set(&self.listen_acl_groups)
    }

    pub(super) fn new(name: &str, at: &Sourced<String>) -> Pool {
        Pool {
            name: name.to_string(),
            file: at.file.clone(),
            line: at.line,
            listen: None,
            listen_addr: None,
            listen_owner: None,
            listen_group: None,
            listen_mode: None,
            listen_acl_users: None,
            listen_acl_groups: None,
            listen_backlog: None,
            listen_allowed_clients: None,
            user: None,
            group: None,
            pm: None,
            pm_max_children: None,
            pm_start_servers: None,
            pm_min_spare_servers: None,
            pm_max_spare_servers: None,
            pm_max_requests: None,
            pm_status_path: None,
            ping_path: None,
            request_terminate_timeout: None,
            request_slowlog_timeout: None,
            slowlog: None,
            access_log: None,
            catch_workers_output: None,
            settings: Vec::new(),
            commented: Vec::new(),
        }
    }

    /// Fills the typed fields from `settings`; bad numbers are reported in `problems`.
    pub(super) fn resolve(&mut self, problems: &mut Vec<Sourced<String>>) {
        let text = |p: &Pool, k: &str| p.get(k).cloned();
        self.listen = text(self, "listen");
        self.listen_addr = self
            .listen
            .as_ref()
            .and_then(|l| ListenSpec::parse(&l.value));
        self.listen_owner = text(self, "listen.owner");
        self.listen_group = text(self, "listen.group");
        self.listen_mode = text(self, "listen.mode");
        self.listen_acl_users = text(self, "listen.acl_users");
        self.listen_acl_groups = text(self, "listen.acl_groups");
        self.listen_backlog = text(self, "listen.backlog");
        self.listen_allowed_clients = text(self, "listen.allowed_clients");
        self.user = text(self, "user");
        self.group = text(self, "group");
        self.pm = text(self, "pm");
        self.pm_status_path = text(self, "pm.status_path");
        self.ping_path = text(self, "ping.path");
        self.request_terminate_timeout = text(self, "request_terminate_timeout");
        self.request_slowlog_timeout = text(self, "request_slowlog_timeout");
        self.slowlog = text(self, "slowlog");
        self.access_log = text(self, "access.log");
        self.catch_workers_output = text(self, "catch_workers_output");
        self.pm_max_children = self.number("pm.max_children", problems);
        self.pm_start_servers = self.number("pm.start_servers", problems);
        self.pm_min_spare_servers = self.number("pm.min_spare_servers", problems);
        self.pm_max_spare_servers = self.number("pm.max_spare_servers", problems);
        self.pm_max_requests = self.number("pm.max_requests", problems);
    }

    fn number(&self, key: &str, problems: &mut Vec<Sourced<String>>) -> Option<Sourced<u32>> {
        let raw = self.get(key)?.clone();
        match raw.value.trim().parse::<u32>() {
            Ok(n) => Some(raw.map(|_| n)),
            Err(_) => {
                let why = format!(
                    "[pool {}] {key} = {:?} is not a number",
                    self.name, raw.value
                );
                problems.push(raw.map(|_| why));
                None
            }
        }
    }
}

/// Seconds in a php-fpm time value: a number with an optional `s`, `m`, `h` or `d` suffix.
pub fn fpm_duration_secs(value: &str) -> Option<u64> {
    let v = value.trim();
    let (digits, unit) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => v.split_at(i),
        None => (v, ""),
    };
    let n: u64 = digits.parse().ok()?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    n.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn tcp(host: Option<&str>, port: u16) -> Option<ListenSpec> {
        let host = host.map(str::to_string);
        Some(ListenSpec::Tcp { host, port })
    }

    fn pool_with(settings: &[(&str, &str)]) -> (Pool, Vec<Sourced<String>>) {
        let at = Sourced::new("p".to_string(), Path::new("/etc/p.conf"), 1);
        let mut pool = Pool::new("p", &at);
        for (i, (k, v)) in settings.iter().enumerate() {
            let value = Sourced::new(v.to_string(), Path::new("/etc/p.conf"), i + 2);
            pool.settings.push((k.to_string(), value));
        }
        let mut problems = Vec::new();
        pool.resolve(&mut problems);
        (pool, problems)
    }

    #[test]
    fn bare_port_listens_on_every_address() {
        assert_eq!(ListenSpec::parse("9000"), tcp(None, 9000));
        assert_eq!(ListenSpec::parse("*:9000"), tcp(None, 9000));
    }

    #[test]
    fn host_and_port_forms_are_tcp() {
        assert_eq!(
            ListenSpec::parse("127.0.0.1:9000"),
            tcp(Some("127.0.0.1"), 9000)
        );
        assert_eq!(ListenSpec::parse("[::1]:9001"), tcp(Some("::1"), 9001));
        assert_eq!(
            ListenSpec::parse("localhost:9002"),
            tcp(Some("localhost"), 9002)
        );
    }

    #[test]
    fn paths_are_unix_sockets() {
        let path = "/run/php/php8.2-fpm.sock";
        assert_eq!(
            ListenSpec::parse(path),
            Some(ListenSpec::Unix(PathBuf::from(path)))
        );
        assert_eq!(
            ListenSpec::parse("php.sock"),
            Some(ListenSpec::Unix(PathBuf::from("php.sock")))
        );
    }

    #[test]
    fn bad_ports_are_rejected() {
        assert_eq!(ListenSpec::parse("127.0.0.1:http"), None);
        assert_eq!(ListenSpec::parse("70000"), None);
        assert_eq!(ListenSpec::parse("0"), None);
        assert_eq!(ListenSpec::parse(""), None);
    }

    #[test]
    fn local_endpoint_maps_wildcards_to_loopback() {
        let v4 = |s: &str| Some(Endpoint::Tcp(s.parse().expect("literal")));
        assert_eq!(
            tcp(None, 9000).and_then(|l| l.local_endpoint()),
            v4("127.0.0.1:9000")
        );
        assert_eq!(
            tcp(Some("::"), 9000).and_then(|l| l.local_endpoint()),
            v4("[::1]:9000")
        );
        assert_eq!(
            tcp(Some("0.0.0.0"), 80).and_then(|l| l.local_endpoint()),
            v4("127.0.0.1:80")
        );
        assert_eq!(
            tcp(Some("php.internal"), 9000).and_then(|l| l.local_endpoint()),
            None
        );
    }

    #[test]
    fn durations_accept_php_fpm_suffixes() {
        assert_eq!(fpm_duration_secs("30"), Some(30));
        assert_eq!(fpm_duration_secs("30s"), Some(30));
        assert_eq!(fpm_duration_secs("5m"), Some(300));
        assert_eq!(fpm_duration_secs("2h"), Some(7200));
        assert_eq!(fpm_duration_secs("1d"), Some(86400));
        assert_eq!(fpm_duration_secs("5 minutes"), None);
        assert_eq!(fpm_duration_secs(""), None);
    }

    #[test]
    fn last_setting_wins_and_keys_ignore_case() {
        let (pool, _) = pool_with(&[("listen", "127.0.0.1:9000"), ("LISTEN", "9001")]);
        assert_eq!(pool.listen.as_ref().map(|l| l.value.as_str()), Some("9001"));
        assert_eq!(pool.listen.as_ref().map(|l| l.line), Some(3));
        assert_eq!(pool.listen_addr, tcp(None, 9001));
    }

    #[test]
    fn listen_mode_defaults_to_0660() {
        let (pool, _) = pool_with(&[]);
        assert_eq!(pool.listen_mode_bits(), Some(0o660));
        let (pool, _) = pool_with(&[("listen.mode", "0666")]);
        assert_eq!(pool.listen_mode_bits(), Some(0o666));
        let (pool, _) = pool_with(&[("listen.mode", "rw")]);
        assert_eq!(pool.listen_mode_bits(), None);
    }

    #[test]
    fn acl_users_replace_owner_and_group() {
        let (pool, _) = pool_with(&[("listen.acl_users", "apache,nginx")]);
        assert!(pool.uses_acl());
        let (pool, _) = pool_with(&[("listen.owner", "www-data")]);
        assert!(!pool.uses_acl());
    }

    #[test]
    fn a_span_covers_settings_set_and_commented_out() {
        let (mut pool, _) =
            pool_with(&[("listen.owner", "www-data"), ("listen.group", "www-data")]);
        let mode = Sourced::new("0660".to_string(), Path::new("/etc/p.conf"), 4);
        pool.commented.push(("listen.mode".to_string(), mode));
        let span = pool.span(&["listen.owner", "listen.group", "listen.mode"]);
        assert_eq!(span.location(), "/etc/p.conf:2-4");
        assert_eq!(pool.span(&["listen.owner"]).lines(), "2");
    }

    #[test]
    fn settings_written_nowhere_go_after_the_section_line() {
        let (pool, _) = pool_with(&[("listen", "9000")]);
        assert_eq!(pool.span(&["listen.mode"]).location(), "/etc/p.conf:1");
    }

    #[test]
    fn bad_number_is_a_problem_with_its_location() {
        let (pool, problems) = pool_with(&[("pm.max_children", "five")]);
        assert_eq!(pool.pm_max_children, None);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 2);
        assert!(problems[0].value.contains("pm.max_children"));
    }
}
