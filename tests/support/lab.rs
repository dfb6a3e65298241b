//! The reproduction lab (catalogue §6, in Rust): one private temp directory holding a
//! hermetic nginx and php-fpm (configs, sockets, logs, document root), started on free
//! loopback ports, driven with real HTTP requests, then diagnosed by the binary under test.
//!
//! Everything a lab starts dies with it, also when the test panics. Labs run one at a time
//! (a lock held by the process and, through `flock` on [`LOCK_FILE`], by every test binary
//! on the machine): the doctor reads the host's process and socket tables, and a
//! neighbouring lab's daemons there — in this suite or in another checkout's — would make
//! its report depend on scheduling. So a test holds at most one `Lab` at a time.

use super::backend::{Backend, Mode};
use super::doctor::{self, DoctorRun};
use super::fpm::{Fpm, Listen, Pool};
use super::logs::{nginx_message, read_lossy, wait_for_line};
use super::net::{self, Addr, NotUp};
use super::nginx::{FASTCGI_PARAMS, Layout, Nginx, NginxConf};
use super::proc::{self, Guard};
use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Group, User, geteuid};
use std::cell::{Cell, RefCell};
use std::fs::{self, File, Permissions};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;
use tempfile::TempDir;

mod follow;

/// The nginx binary the lab runs.
pub const NGINX: &str = "/usr/sbin/nginx";
/// Bound on one HTTP request to the lab's nginx.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on a daemon coming up (its socket accepting).
const START_LIMIT: Duration = Duration::from_secs(10);
/// Starts retried when a free port was taken in between.
const START_TRIES: usize = 5;

/// The PHP scripts every lab serves from `DIR/www`.
const SCRIPTS: &[(&str, &str)] = &[
    ("ok.php", include_str!("../fixtures/lab/www/ok.php")),
    ("sleep.php", include_str!("../fixtures/lab/www/sleep.php")),
    ("bighdr.php", include_str!("../fixtures/lab/www/bighdr.php")),
    ("crash.php", include_str!("../fixtures/lab/www/crash.php")),
];

static SERIAL: Mutex<()> = Mutex::new(());

/// The machine-wide lab lock: test binaries of several checkouts take turns on it.
pub const LOCK_FILE: &str = "/tmp/nginx-doctor-labs.lock";

/// Set in a child test process whose parent already holds the machine-wide lock (a
/// scenario re-run inside a network namespace): taking it again would wait forever.
pub const LOCK_HELD: &str = "NGXDOC_LABS_LOCK_HELD";

/// Held while a lab lives: this process's turn, then the machine's. Tests that start
/// daemons without a `Lab` (the network-namespace scenarios) hold one too.
pub struct Serial {
    _machine: Option<Flock<File>>,
    _process: MutexGuard<'static, ()>,
}

impl Serial {
    pub fn take() -> Serial {
        let process = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        // Without the file (a read-only /tmp) labs of one binary are still serial.
        let held = std::env::var_os(LOCK_HELD).is_some();
        let machine = (!held)
            .then(|| {
                fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(LOCK_FILE)
            })
            .and_then(Result::ok)
            .and_then(|f| Flock::lock(f, FlockArg::LockExclusive).ok());
        Serial {
            _machine: machine,
            _process: process,
        }
    }
}

/// The unprivileged account nginx workers and php-fpm children run as when we are root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// User name (`www-data`, else `nobody`).
    pub user: String,
    /// Its primary group's name.
    pub group: String,
}

impl Account {
    /// `www-data` (exists once nginx is installed), else `nobody`.
    pub fn unprivileged() -> Account {
        let user = ["www-data", "nobody"]
            .iter()
            .find_map(|n| User::from_name(n).ok().flatten())
            .expect("neither www-data nor nobody exists");
        let group = Group::from_gid(user.gid)
            .ok()
            .flatten()
            .map_or_else(|| user.gid.to_string(), |g| g.name);
        Account {
            user: user.name,
            group,
        }
    }
}

/// A private nginx + php-fpm + backends playground; see the module docs.
pub struct Lab {
    procs: RefCell<Vec<Guard>>,
    backends: RefCell<Vec<Backend>>,
    nginx: RefCell<Option<Nginx>>,
    fpm_count: Cell<usize>,
    worker: Option<Account>,
    dir: TempDir,
    _serial: Serial,
}

impl Default for Lab {
    fn default() -> Lab {
        Lab::new()
    }
}

impl Lab {
    /// A fresh lab: `/tmp/ngxlab-XXXX` (short, so socket paths stay far below 108 bytes)
    /// with `www/` (the fixture scripts), `tmp/` and our `fastcgi_params`.
    pub fn new() -> Lab {
        let serial = Serial::take();
        let dir = TempDir::with_prefix_in("ngxlab-", "/tmp").expect("create lab dir in /tmp");
        let lab = Lab {
            procs: RefCell::new(Vec::new()),
            backends: RefCell::new(Vec::new()),
            nginx: RefCell::new(None),
            fpm_count: Cell::new(0),
            worker: is_root().then(Account::unprivileged),
            dir,
            _serial: serial,
        };
        lab.lay_out();
        lab
    }

    fn lay_out(&self) {
        // Workers run unprivileged: they must traverse DIR and read DIR/www.
        for d in [self.dir(), &self.path("www"), &self.path("tmp")] {
            fs::create_dir_all(d).expect("create lab dir");
            fs::set_permissions(d, Permissions::from_mode(0o755)).expect("chmod lab dir");
        }
        for (name, body) in SCRIPTS {
            self.write_www(name, body);
        }
        fs::write(self.path("fastcgi_params"), FASTCGI_PARAMS).expect("write fastcgi_params");
    }

    /// The lab directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `DIR/rel`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir().join(rel)
    }

    /// The account workers run as; `None` when not root (then everything runs as us).
    pub fn worker(&self) -> Option<&Account> {
        self.worker.as_ref()
    }

    /// Adds (or replaces) a world-readable file in the document root.
    pub fn write_www(&self, name: &str, body: &str) {
        let path = self.path("www").join(name);
        fs::write(&path, body).expect("write into www");
        fs::set_permissions(&path, Permissions::from_mode(0o644)).expect("chmod www file");
    }

    /// Starts php-fpm (`-F -y DIR/php-fpm.conf`, `-R` as root) with `pool`, and waits until
    /// its socket accepts. Later instances get `php-fpm-N.*` files and `NAME-N.sock`.
    pub fn php_fpm(&self, pool: Pool) -> Fpm {
        self.php_fpm_under(&[], pool)
    }

    /// [`Lab::php_fpm`], run by `launcher` (a program and its arguments, to which php-fpm's
    /// command line is appended), e.g. a parent that never reaps it. The returned pid is
    /// the launcher's; php-fpm's master is its child.
    pub fn php_fpm_under(&self, launcher: &[String], pool: Pool) -> Fpm {
        let n = self.fpm_count.replace(self.fpm_count.get() + 1);
        let (stem, sock) = match n {
            0 => ("php-fpm".to_string(), format!("{}.sock", pool.name())),
            _ => (format!("php-fpm-{n}"), format!("{}-{n}.sock", pool.name())),
        };
        let conf = self.path(&format!("{stem}.conf"));
        let log = self.path(&format!("{stem}.log"));
        let pid_file = self.path(&format!("{stem}.pid"));
        let mut argv = launcher.to_vec();
        argv.extend([fpm_binary(), "-F".into(), "-y".into(), path_str(&conf)]);
        if is_root() {
            argv.push("-R".to_string());
        }
        let (program, args) = argv.split_first().expect("a program to run");
        for _ in 0..START_TRIES {
            let addr = match pool.listen_kind() {
                Listen::Unix => Addr::Unix(self.path(&sock)),
                Listen::Tcp => Addr::Tcp(net::free_port()),
            };
            let text = pool.render(&addr, &pid_file, &log, self.worker());
            fs::write(&conf, text).expect("write php-fpm.conf");
            if let Some(pid) = self.start(program, args, &addr, &[&log], &stem) {
                let pool = pool.name().to_string();
                return Fpm {
                    pool,
                    addr,
                    conf,
                    log,
                    pid,
                };
            }
        }
        panic!("php-fpm: the port was taken {START_TRIES} times in a row");
    }

    /// Returns once the wall clock is in a later second than when called: what happens
    /// next is logged (and timed by /proc) in a later second than what happened before,
    /// as when an admin fixes something minutes after the failure.
    pub fn next_second(&self) {
        let second = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        };
        let start = second();
        while second() == start {
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts a stopped php-fpm again from the same configuration (same socket or port,
    /// same log), as `systemctl start` would after a stop; waits until it accepts.
    pub fn restart_fpm(&self, fpm: &Fpm) -> Fpm {
        let mut args = vec!["-F".to_string(), "-y".to_string(), path_str(&fpm.conf)];
        if is_root() {
            args.push("-R".to_string());
        }
        let stem = fpm
            .conf
            .file_stem()
            .map_or("php-fpm".into(), |s| s.to_string_lossy().into_owned());
        let pid = self
            .start(&fpm_binary(), &args, &fpm.addr, &[&fpm.log], &stem)
            .unwrap_or_else(|| panic!("php-fpm could not take {:?} again", fpm.addr));
        Fpm { pid, ..fpm.clone() }
    }

    /// Edits `DIR/nginx.conf` on disk (`from` must occur in it) and reloads nginx with
    /// SIGHUP, as `nginx -s reload` does; returns once every worker is one the reload
    /// started (the old ones exited), so the new configuration is what answers.
    pub fn edit_and_reload_nginx(&self, from: &str, to: &str) {
        let path = self.path("nginx.conf");
        let text = read_lossy(&path);
        assert!(text.contains(from), "{from:?} is not in {}", path.display());
        fs::write(&path, text.replace(from, to)).expect("rewrite nginx.conf");
        let before = self.nginx_workers();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.nginx_info().pid),
            nix::sys::signal::Signal::SIGHUP,
        )
        .expect("SIGHUP nginx");
        self.await_new_workers(&before);
    }

    /// The nginx master's worker pids now.
    pub fn nginx_workers(&self) -> Vec<i32> {
        proc::children(self.nginx_info().pid)
    }

    /// Returns once every nginx worker is a new one, none of `before` (taken with
    /// [`Lab::nginx_workers`] before a reload): the reloaded configuration answers.
    pub fn await_new_workers(&self, before: &[i32]) {
        let reloaded = || {
            let now = self.nginx_workers();
            !now.is_empty() && now.iter().all(|p| !before.contains(p))
        };
        let deadline = std::time::Instant::now() + START_LIMIT;
        while !reloaded() {
            assert!(
                std::time::Instant::now() < deadline,
                "nginx did not replace its workers within {START_LIMIT:?}:\n{}",
                self.error_log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Writes `DIR/nginx.conf` from `build` and starts `nginx -p DIR/ -e DIR/error.log
    /// -c DIR/nginx.conf` on a free port; waits until it accepts. One nginx per lab.
    pub fn nginx(&self, build: impl FnOnce(&mut NginxConf) -> &mut NginxConf) -> Nginx {
        assert!(self.nginx.borrow().is_none(), "a lab runs one nginx");
        let mut conf = NginxConf::default();
        build(&mut conf);
        let path = self.path("nginx.conf");
        let error_log = self.path("error.log");
        let prefix = format!("{}/", self.dir().display());
        let args: Vec<String> = [
            "-p",
            &prefix,
            "-e",
            &path_str(&error_log),
            "-c",
            &path_str(&path),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..START_TRIES {
            let port = net::free_port().port();
            self.write_nginx_conf(&conf, port);
            let addr = Addr::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
            if let Some(pid) = self.start(NGINX, &args, &addr, &[&error_log], "nginx") {
                let access_log = self.path("access.log");
                let ngx = Nginx {
                    port,
                    conf: path,
                    error_log,
                    access_log,
                    pid,
                };
                *self.nginx.borrow_mut() = Some(ngx.clone());
                return ngx;
            }
        }
        panic!("nginx: the port was taken {START_TRIES} times in a row");
    }

    /// Writes `DIR/nginx.conf` from `build` as [`Lab::nginx`] does, and starts
    /// nothing: nginx is stopped, and the pid file, logs and temp paths the
    /// configuration names inside the lab do not exist.
    pub fn nginx_stopped(&self, build: impl FnOnce(&mut NginxConf) -> &mut NginxConf) -> PathBuf {
        let mut conf = NginxConf::default();
        build(&mut conf);
        self.write_nginx_conf(&conf, net::free_port().port())
    }

    fn write_nginx_conf(&self, conf: &NginxConf, port: u16) -> PathBuf {
        let layout = Layout {
            dir: self.dir(),
            port,
            worker: self.worker(),
        };
        let path = self.path("nginx.conf");
        fs::write(&path, conf.render(&layout)).expect("write nginx.conf");
        path
    }

    /// Spawns a daemon (output to `DIR/<stem>.out`) and waits until `addr` accepts.
    /// `None` when it exited because its address was in use (pick another and retry);
    /// panics with its logs on any other failure.
    fn start(
        &self,
        bin: &str,
        args: &[String],
        addr: &Addr,
        logs: &[&Path],
        stem: &str,
    ) -> Option<i32> {
        let out_path = self.path(&format!("{stem}.out"));
        let out = File::create(&out_path).expect("create daemon output file");
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .current_dir(self.dir())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup output file"))
            .stderr(out);
        let mut guard =
            Guard::spawn(stem, &mut cmd).unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
        let outcome = net::wait_accepting(addr, START_LIMIT, || guard.exited().is_some());
        let pid = guard.pid();
        match outcome {
            Ok(()) => {
                self.procs.borrow_mut().push(guard);
                Some(pid)
            }
            Err(why) => {
                drop(guard);
                let mut text = read_lossy(&out_path);
                for l in logs {
                    text.push_str(&read_lossy(l));
                }
                if matches!(why, NotUp::Exited) && text.contains("Address already in use") {
                    return None;
                }
                panic!("{bin} {args:?} did not accept on {addr:?} ({why:?}):\n{text}");
            }
        }
    }

    /// Starts a tiny HTTP backend thread (see `backend::Mode`); returns where it listens.
    pub fn backend(&self, mode: Mode) -> SocketAddr {
        let b = Backend::start(mode).expect("start backend");
        let addr = b.addr();
        self.backends.borrow_mut().push(b);
        addr
    }

    /// Starts a tiny HTTP backend thread at exactly `addr` (see `Backend::start_at`).
    pub fn backend_at(&self, addr: SocketAddr, mode: Mode) {
        let b = Backend::start_at(addr, mode).expect("start backend at its address");
        self.backends.borrow_mut().push(b);
    }

    /// Stops a process this lab started (e.g. `lab.stop(fpm.pid)`), workers included.
    pub fn stop(&self, pid: i32) {
        let mut procs = self.procs.borrow_mut();
        let at = procs.iter().position(|g| g.pid() == pid);
        let at = at.unwrap_or_else(|| panic!("pid {pid} was not started by this lab"));
        procs.remove(at).stop();
    }

    /// Every live pid the lab started: masters and their workers.
    pub fn pids(&self) -> Vec<i32> {
        self.procs
            .borrow()
            .iter()
            .flat_map(|g| proc::tree(g.pid()))
            .collect()
    }

    /// The started nginx; panics before `nginx()`.
    pub fn nginx_info(&self) -> Nginx {
        self.nginx
            .borrow()
            .clone()
            .expect("start nginx first: lab.nginx(...)")
    }

    /// One real `GET path` (HTTP/1.0) to the lab's nginx; the response status.
    pub fn get(&self, path: &str) -> u16 {
        let port = self.nginx_info().port;
        net::http_get(port, path, HTTP_TIMEOUT).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// One `POST path` (HTTP/1.0, empty body) to the lab's nginx; the response status.
    /// nginx does not retry a POST on another connection, so a lost one is a 502.
    pub fn post(&self, path: &str) -> u16 {
        use std::io::{Read, Write};
        let port = self.nginx_info().port;
        let mut conn =
            std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect to nginx");
        conn.set_read_timeout(Some(HTTP_TIMEOUT))
            .expect("read timeout");
        write!(
            conn,
            "POST {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"
        )
        .expect("send POST");
        let mut reply = String::new();
        let _ = conn.read_to_string(&mut reply);
        let status = reply.get(9..12).and_then(|s| s.parse().ok());
        status.unwrap_or_else(|| panic!("POST {path}: no status in {reply:?}"))
    }

    /// `n` concurrent `GET path`; the statuses, in thread order.
    pub fn get_many(&self, path: &str, n: usize) -> Vec<u16> {
        let port = self.nginx_info().port;
        thread::scope(|s| {
            let running: Vec<_> = (0..n)
                .map(|_| s.spawn(move || net::http_get(port, path, HTTP_TIMEOUT)))
                .collect();
            running
                .into_iter()
                .map(|t| match t.join() {
                    Ok(Ok(status)) => status,
                    Ok(Err(e)) => panic!("GET {path}: {e}"),
                    Err(_) => panic!("GET {path}: request thread panicked"),
                })
                .collect()
        })
    }

    /// Runs the binary under test with `args` plus `--conf DIR/nginx.conf`, `NO_COLOR=1`,
    /// stdin null, killed (and the test failed) after `doctor::DOCTOR_TIMEOUT`.
    pub fn doctor(&self, args: &[&str]) -> DoctorRun {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["--conf".to_string(), path_str(&self.path("nginx.conf"))]);
        doctor::run_bounded(doctor::BINARY, &all, self.dir(), doctor::DOCTOR_TIMEOUT)
    }

    /// `nginx -t` on the lab's config as it is on disk now.
    pub fn nginx_test(&self) -> DoctorRun {
        let conf = path_str(&self.path("nginx.conf"));
        let prefix = format!("{}/", self.dir().display());
        let args: Vec<String> = ["-t", "-p", &prefix, "-e", "stderr", "-c", &conf]
            .iter()
            .map(|s| s.to_string())
            .collect();
        doctor::run_bounded(NGINX, &args, self.dir(), Duration::from_secs(30))
    }

    /// Breaks `DIR/nginx.conf` on disk (the running nginx keeps its loaded config):
    /// `directive` goes first in the `http {}` block, e.g. `"bogus_directive on;"`.
    pub fn break_config(&self, directive: &str) {
        let path = self.path("nginx.conf");
        let text = read_lossy(&path);
        assert!(
            text.contains("\nhttp {\n"),
            "no http block in {}",
            path.display()
        );
        fs::write(
            &path,
            text.replacen("\nhttp {\n", &format!("\nhttp {{\n    {directive}\n"), 1),
        )
        .expect("rewrite nginx.conf");
    }

    /// The nginx error log so far.
    pub fn error_log(&self) -> String {
        read_lossy(&self.path("error.log"))
    }

    /// The first nginx error-log line containing `needle`; panics with the log if none
    /// appears within 5 s.
    pub fn error_log_line(&self, needle: &str) -> String {
        wait_for_line(&self.path("error.log"), needle, Duration::from_secs(5))
    }

    /// The message of that line (see `nginx_message`): what a report quotes at least.
    pub fn error_log_message(&self, needle: &str) -> String {
        nginx_message(&self.error_log_line(needle)).to_string()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if thread::panicking() {
            self.dump_logs();
        }
        // Reverse start order: nginx (the client) first, then the backends it used.
        let procs = self.procs.get_mut();
        while let Some(g) = procs.pop() {
            drop(g);
        }
        self.backends.get_mut().clear();
        if std::env::var_os("LAB_KEEP").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("LAB_KEEP: lab kept at {}", self.dir().display());
        }
    }
}

impl Lab {
    /// On a failing test, the last lines of every log, so CI output explains the failure.
    fn dump_logs(&self) {
        let Ok(entries) = fs::read_dir(self.dir()) else {
            return;
        };
        let mut logs: Vec<PathBuf> = entries
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "log" || x == "out" || x == "conf")
            })
            .collect();
        logs.sort();
        for log in logs {
            let text = read_lossy(&log);
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            eprintln!("----- {} (last 40 lines)\n{tail}", log.display());
        }
    }
}

/// True when we run as root (then workers drop to `Account::unprivileged()`).
pub fn is_root() -> bool {
    geteuid().is_root()
}

/// The installed php-fpm: the highest `/usr/sbin/php-fpm*`.
pub fn fpm_binary() -> String {
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/sbin")
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    found.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("php-fpm"))
    });
    found.sort();
    let last = found
        .pop()
        .expect("no /usr/sbin/php-fpm*: install php-fpm (php8.2-fpm)");
    path_str(&last)
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}
