//! Test-only fixture: a private php-fpm master with one TCP pool and one unix-socket pool,
//! configured in a temporary directory and stopped when dropped. Several tests in this module
//! tree need a real php-fpm (its FastCGI answers, its sockets, its process titles).

use super::procs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PHP_FPM: &str = "/usr/sbin/php-fpm8.2";

/// A running php-fpm; killed (with its workers) on drop.
pub(crate) struct PhpFpm {
    child: Child,
    dir: tempfile::TempDir,
    conf: PathBuf,
    port: u16,
}

impl PhpFpm {
    /// Starts php-fpm, or returns `None` (with a note on stderr) when it is not installed.
    /// Panics when it is installed but does not come up: that is a broken test environment.
    pub(crate) fn start() -> Option<PhpFpm> {
        if !Path::new(PHP_FPM).exists() {
            eprintln!("skipping: {PHP_FPM} is not installed");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let conf = dir.path().join("php-fpm.conf");
        std::fs::write(&conf, config(dir.path(), port)).expect("write php-fpm.conf");
        let child = Command::new(PHP_FPM)
            .args(["-F", "-R", "-y"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn php-fpm");
        let fpm = PhpFpm {
            child,
            dir,
            conf,
            port,
        };
        fpm.wait_until_ready();
        Some(fpm)
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            // A fresh worker keeps the master's title until it names its
            // pool; count only workers that have.
            let workers =
                procs::find(|p| p.ppid == self.pid() && p.cmdline.contains("pool ")).len();
            if workers >= 2 && self.unix_path().exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = std::fs::read_to_string(self.dir.path().join("fpm.log")).unwrap_or_default();
        panic!("php-fpm did not start within 10 s; its log:\n{log}");
    }

    /// Master pid.
    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The main configuration file.
    pub(crate) fn conf_path(&self) -> &Path {
        &self.conf
    }

    /// The `[tcp]` pool's address (loopback).
    pub(crate) fn tcp_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The `[unix]` pool's socket path.
    pub(crate) fn unix_path(&self) -> PathBuf {
        self.dir.path().join("php.sock")
    }
}

impl Drop for PhpFpm {
    fn drop(&mut self) {
        // SIGTERM makes the master stop its workers and unlink its sockets.
        stop(&mut self.child);
    }
}

/// Stops a test's server: SIGTERM so it stops its own workers (SIGKILL would
/// orphan them), and SIGKILL only if it has not exited 5 s later.
pub(crate) fn stop(child: &mut std::process::Child) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let pid = i32::try_from(child.id()).expect("a pid fits an i32");
    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A port that was free a moment ago (the kernel's pick for an ephemeral bind).
pub(crate) fn free_port() -> u16 {
    let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
    probe.local_addr().expect("local addr").port()
}

fn config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "[global]\n\
         pid = {d}/fpm.pid\n\
         error_log = {d}/fpm.log\n\
         daemonize = no\n\
         \n\
         [tcp]\n\
         user = nobody\n\
         group = nogroup\n\
         listen = 127.0.0.1:{port}\n\
         pm = static\n\
         pm.max_children = 1\n\
         \n\
         [unix]\n\
         user = nobody\n\
         group = nogroup\n\
         listen = {d}/php.sock\n\
         listen.mode = 0666\n\
         pm = static\n\
         pm.max_children = 1\n"
    )
}
