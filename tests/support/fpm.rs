//! php-fpm pools for the lab: a builder for one pool's settings (the knobs the fault
//! scenarios turn), the `php-fpm.conf` it renders, and the handle of a started instance.

use super::lab::Account;
use super::net::Addr;
use super::proc;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where a pool listens, before the lab picks the concrete path or port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listen {
    /// A unix socket `DIR/<pool>.sock`.
    Unix,
    /// A free loopback TCP port.
    Tcp,
}

/// The process manager (`pm =`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pm {
    /// `pm = dynamic`: the only mode that logs "server reached pm.max_children".
    Dynamic,
    /// `pm = static`: all children forked up front, saturation is never logged.
    Static,
    /// `pm = ondemand`: children forked per connection.
    Ondemand,
}

/// One pool's settings. Defaults: `pm = dynamic`, `pm.max_children = 5`, the socket owned
/// by the nginx worker account (as Debian's www.conf does), mode 0660.
#[derive(Clone, Debug)]
pub struct Pool {
    name: String,
    listen: Listen,
    pm: Pm,
    max_children: u32,
    backlog: Option<i32>,
    terminate_timeout: Option<String>,
    owner: Option<(String, String)>,
    mode: String,
    status_path: Option<String>,
    extra: Vec<(String, String)>,
}

impl Pool {
    /// A pool listening on a unix socket in the lab directory.
    pub fn unix(name: &str) -> Pool {
        Pool::new(name, Listen::Unix)
    }

    /// A pool listening on a free 127.0.0.1 port.
    pub fn tcp(name: &str) -> Pool {
        Pool::new(name, Listen::Tcp)
    }

    fn new(name: &str, listen: Listen) -> Pool {
        Pool {
            name: name.to_string(),
            listen,
            pm: Pm::Dynamic,
            max_children: 5,
            backlog: None,
            terminate_timeout: None,
            owner: None,
            mode: "0660".to_string(),
            status_path: None,
            extra: Vec::new(),
        }
    }

    /// `pm.max_children`; the spare-server settings are clamped to fit it.
    pub fn max_children(mut self, n: u32) -> Pool {
        self.max_children = n.max(1);
        self
    }

    /// `listen.backlog`.
    pub fn backlog(mut self, n: i32) -> Pool {
        self.backlog = Some(n);
        self
    }

    /// `request_terminate_timeout`, e.g. `"2s"`.
    pub fn terminate_timeout(mut self, t: &str) -> Pool {
        self.terminate_timeout = Some(t.to_string());
        self
    }

    /// `listen.owner` / `listen.group` of the unix socket.
    pub fn owner(mut self, user: &str, group: &str) -> Pool {
        self.owner = Some((user.to_string(), group.to_string()));
        self
    }

    /// `listen.mode` of the unix socket, e.g. `"0660"`.
    pub fn mode(mut self, mode: &str) -> Pool {
        self.mode = mode.to_string();
        self
    }

    /// `pm = static`.
    pub fn pm_static(mut self) -> Pool {
        self.pm = Pm::Static;
        self
    }

    /// `pm = ondemand`.
    pub fn pm_ondemand(mut self) -> Pool {
        self.pm = Pm::Ondemand;
        self
    }

    /// `pm.status_path`, e.g. `"/status"`.
    pub fn status_path(mut self, path: &str) -> Pool {
        self.status_path = Some(path.to_string());
        self
    }

    /// Any other pool directive, written as `key = value`.
    pub fn setting(mut self, key: &str, value: &str) -> Pool {
        self.extra.push((key.to_string(), value.to_string()));
        self
    }

    /// The pool name (`[www]`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Unix socket or TCP.
    pub fn listen_kind(&self) -> Listen {
        self.listen
    }

    /// The whole `php-fpm.conf`: a `[global]` section pointing pid and log into the lab,
    /// then this pool. `worker` is the account children run as (only when we are root).
    pub fn render(&self, addr: &Addr, pid: &Path, log: &Path, worker: Option<&Account>) -> String {
        let mut c = String::new();
        let _ = writeln!(c, "[global]");
        let _ = writeln!(c, "pid = {}", pid.display());
        let _ = writeln!(c, "error_log = {}", log.display());
        let _ = writeln!(c, "log_level = notice");
        let _ = writeln!(c, "daemonize = no");
        let _ = writeln!(c, "rlimit_core = 0");
        let _ = writeln!(c, "\n[{}]", self.name);
        if let Some(w) = worker {
            let _ = writeln!(c, "user = {}\ngroup = {}", w.user, w.group);
        }
        match addr {
            Addr::Tcp(a) => {
                let _ = writeln!(c, "listen = {a}");
            }
            Addr::Unix(p) => {
                let _ = writeln!(c, "listen = {}", p.display());
                self.render_socket_access(&mut c, worker);
            }
        }
        if let Some(n) = self.backlog {
            let _ = writeln!(c, "listen.backlog = {n}");
        }
        self.render_pm(&mut c);
        if let Some(t) = &self.terminate_timeout {
            let _ = writeln!(c, "request_terminate_timeout = {t}");
        }
        if let Some(s) = &self.status_path {
            let _ = writeln!(c, "pm.status_path = {s}");
        }
        let _ = writeln!(c, "catch_workers_output = yes");
        for (k, v) in &self.extra {
            let _ = writeln!(c, "{k} = {v}");
        }
        c
    }

    /// Owner and mode of the socket. Without root php-fpm cannot chown, so an owner is
    /// written only when the test asked for one or we run as root.
    fn render_socket_access(&self, c: &mut String, worker: Option<&Account>) {
        let owner = self
            .owner
            .clone()
            .or_else(|| worker.map(|w| (w.user.clone(), w.group.clone())));
        if let Some((user, group)) = owner {
            let _ = writeln!(c, "listen.owner = {user}\nlisten.group = {group}");
        }
        let _ = writeln!(c, "listen.mode = {}", self.mode);
    }

    fn render_pm(&self, c: &mut String) {
        let n = self.max_children;
        let (pm, spares) = match self.pm {
            Pm::Dynamic => ("dynamic", true),
            Pm::Static => ("static", false),
            Pm::Ondemand => ("ondemand", false),
        };
        let _ = writeln!(c, "pm = {pm}\npm.max_children = {n}");
        if spares {
            // php-fpm refuses start_servers outside [min_spare, max_spare] <= max_children.
            let max_spare = n.min(3);
            let _ = writeln!(
                c,
                "pm.start_servers = 1\npm.min_spare_servers = 1\npm.max_spare_servers = {max_spare}"
            );
        }
    }
}

/// A started php-fpm instance (one master, one pool).
#[derive(Clone, Debug)]
pub struct Fpm {
    /// The pool name.
    pub pool: String,
    /// Where the pool listens.
    pub addr: Addr,
    /// Its `php-fpm.conf`.
    pub conf: PathBuf,
    /// Its global `error_log`.
    pub log: PathBuf,
    /// The master's pid.
    pub pid: i32,
}

impl Fpm {
    /// The TCP address; panics for a unix-socket pool (a test bug).
    pub fn tcp_addr(&self) -> SocketAddr {
        match &self.addr {
            Addr::Tcp(a) => *a,
            Addr::Unix(p) => panic!(
                "pool {} listens on unix:{}, not TCP",
                self.pool,
                p.display()
            ),
        }
    }

    /// The socket path; panics for a TCP pool (a test bug).
    pub fn socket_path(&self) -> &Path {
        match &self.addr {
            Addr::Unix(p) => p,
            Addr::Tcp(a) => panic!("pool {} listens on {a}, not a unix socket", self.pool),
        }
    }

    /// The pool's address as a `fastcgi_pass` target.
    pub fn target(&self) -> String {
        self.addr.nginx_target()
    }

    /// The pids of the pool's live children (`php-fpm: pool NAME`).
    pub fn workers(&self) -> Vec<i32> {
        proc::children(self.pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(pool: &Pool, addr: &Addr, worker: Option<&Account>) -> String {
        pool.render(
            addr,
            Path::new("/l/fpm.pid"),
            Path::new("/l/fpm.log"),
            worker,
        )
    }

    #[test]
    fn unix_pool_gets_worker_owned_socket_when_root() {
        let w = Account {
            user: "www-data".into(),
            group: "www-data".into(),
        };
        let c = render(
            &Pool::unix("www"),
            &Addr::Unix("/l/www.sock".into()),
            Some(&w),
        );
        assert!(
            c.contains("listen = /l/www.sock\nlisten.owner = www-data\nlisten.group = www-data")
        );
        assert!(c.contains("user = www-data\ngroup = www-data"));
    }

    #[test]
    fn explicit_owner_overrides_the_worker() {
        let w = Account {
            user: "www-data".into(),
            group: "www-data".into(),
        };
        let pool = Pool::unix("perm").owner("root", "root").mode("0600");
        let c = render(&pool, &Addr::Unix("/l/p.sock".into()), Some(&w));
        assert!(c.contains("listen.owner = root\nlisten.group = root\nlisten.mode = 0600"));
    }

    #[test]
    fn one_child_pool_keeps_spares_within_max_children() {
        let c = render(
            &Pool::tcp("www").max_children(1),
            &Addr::Tcp(([127, 0, 0, 1], 9).into()),
            None,
        );
        assert!(c.contains("pm = dynamic\npm.max_children = 1\npm.start_servers = 1"));
        assert!(c.contains("pm.max_spare_servers = 1"));
        assert!(!c.contains("user ="));
    }

    #[test]
    fn static_pool_has_no_spare_settings() {
        let c = render(
            &Pool::tcp("www").pm_static(),
            &Addr::Tcp(([127, 0, 0, 1], 9).into()),
            None,
        );
        assert!(c.contains("pm = static"));
        assert!(!c.contains("spare"));
    }
}
