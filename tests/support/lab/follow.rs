//! The lab's part in following a printed fix (`support::follow`): what needs the lab's own
//! process table — a printed start command run as one of its daemons, so it dies with the
//! lab, and a stopped master reaped, as init would. The older methods fix-fpm's tests call
//! (`follow_fix`, `run_verify`, `errors_since`) are thin wrappers over `support::follow`.

use super::Lab;
use crate::support::doctor::{DoctorRun, run_bounded};
use crate::support::follow::{self, Fix, Plan};
use crate::support::fpm::Fpm;
use crate::support::net::Addr;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// Bound on a stopped php-fpm finishing its requests and exiting.
const STOP_LIMIT: Duration = Duration::from_secs(30);
/// Bound on one printed command run by `run_printed`.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

impl Lab {
    /// Runs a printed command that starts nginx (the lab's configuration keeps it in the
    /// foreground) as a daemon of this lab, and waits until nginx's port accepts: proof
    /// that following the fix brings nginx up. Panics with the logs when it does not.
    pub fn follow_start_command(&self, argv: &[String]) {
        let port = self.nginx_info().port;
        let addr = Addr::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        self.follow_daemon_command(argv, &addr);
    }

    /// Runs a printed command that starts a daemon (nginx, php-fpm) as a daemon of this
    /// lab, and waits until `addr` accepts. Panics with the logs when it does not.
    pub fn follow_daemon_command(&self, argv: &[String], addr: &Addr) {
        let (program, args) = argv.split_first().expect("a command to run");
        let logs = [self.path("error.log"), self.path("php-fpm.log")];
        let logs: Vec<&Path> = logs.iter().map(PathBuf::as_path).collect();
        let started = self.start(program, args, addr, &logs, "followed");
        assert!(
            started.is_some(),
            "{argv:?} did not start anything on {addr:?}"
        );
    }

    /// Runs a printed php-fpm start command as one of the lab's daemons and waits until
    /// `fpm`'s address accepts; the php-fpm now running.
    pub fn follow_fpm_start(&self, argv: &[String], fpm: &Fpm) -> Fpm {
        let (program, args) = argv.split_first().expect("a command to run");
        let pid = self
            .start(program, args, &fpm.addr, &[&fpm.log], "followed-fpm")
            .unwrap_or_else(|| panic!("{argv:?}: {:?} was still taken", fpm.addr));
        Fpm { pid, ..fpm.clone() }
    }

    /// Waits until the lab's process `pid` has exited, and collects it (init's part when a
    /// printed command stopped it); panics after a bound.
    pub fn reap(&self, pid: i32) {
        let deadline = Instant::now() + STOP_LIMIT;
        let mut procs = self.procs.borrow_mut();
        let at = procs.iter().position(|g| g.pid() == pid);
        let at = at.unwrap_or_else(|| panic!("pid {pid} was not started by this lab"));
        while procs[at].exited().is_none() {
            assert!(
                Instant::now() < deadline,
                "pid {pid} still runs after {STOP_LIMIT:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        procs.remove(at);
    }

    /// Follows every step of `fix`; `fpm` is the php-fpm it is about. Returns that
    /// php-fpm as it runs afterwards. Wrapper: `follow::follow_fix(lab, fix,
    /// Plan::new().fpm(fpm))`.
    pub fn follow_fix(&self, fix: &Fix, fpm: Option<&Fpm>) -> Option<Fpm> {
        let plan = match fpm {
            Some(f) => Plan::new().fpm(f),
            None => Plan::new(),
        };
        follow::follow_fix(self, fix, plan).fpm
    }

    /// Runs a printed command as it is; panics unless it exits 0 (1 for grep: no match).
    pub fn run_printed(&self, argv: &[String]) -> DoctorRun {
        let (program, args) = argv.split_first().expect("a command to run");
        let run = run_bounded(program, args, self.dir(), COMMAND_LIMIT);
        let grep_no_match = program == "grep" && run.status == 1;
        assert!(
            run.status == 0 || grep_no_match,
            "the printed command {argv:?} failed\n{run}"
        );
        run
    }

    /// Runs each verify line of `fix` in a shell, as pasted; their runs, in order.
    /// Wrapper: `follow::run_verify_lines`.
    pub fn run_verify(&self, fix: &Fix) -> Vec<DoctorRun> {
        assert!(!fix.verify.is_empty(), "the fix has no verify line");
        let lines = follow::run_verify_lines(self, fix);
        lines.into_iter().map(|v| v.out).collect()
    }

    /// How much of nginx's error log exists now. Wrapper: `follow::mark`.
    pub fn error_log_mark(&self) -> usize {
        follow::mark(self)
    }

    /// The failures logged since `mark` that name `upstream`. Wrapper:
    /// `follow::new_failures`.
    pub fn errors_since(&self, mark: usize, upstream: &str) -> Vec<String> {
        follow::new_failures(self, mark, upstream)
    }
}
