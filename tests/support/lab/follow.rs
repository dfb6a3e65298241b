//! Following a report's fix on the lab, literally and in order, as an admin pastes it:
//! each edit applied at the file:line its step names (`fix::Step::apply`), each command run
//! as printed. The lab only plays the parts a host's init would: a printed start command
//! runs as one of the lab's daemons (so it dies with the lab), a stopped master is reaped,
//! and after a printed reload it waits, bounded, until the reloaded process answers.
//! Then the fix's verify lines run in a shell, as pasted.

use super::{Lab, START_LIMIT};
use crate::support::doctor::{DoctorRun, run_bounded};
use crate::support::fix::Fix;
use crate::support::fpm::Fpm;
use crate::support::logs::read_lossy;
use crate::support::proc;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// Bound on one printed command or verify line.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);
/// Bound on a stopped php-fpm finishing its requests and exiting.
const STOP_LIMIT: Duration = Duration::from_secs(30);
/// What php-fpm logs each time it has (re)started and accepts.
const FPM_READY: &str = "ready to handle connections";

/// What a printed command does to the lab's processes.
enum Kind {
    /// Starts a php-fpm master: run as a lab daemon.
    FpmStart,
    /// Stops the process with this pid: the lab reaps it, as init would.
    Stop(i32),
    /// `kill -USR2`: php-fpm re-executes itself with its configuration.
    FpmReload,
    /// `nginx -s reload`.
    NginxReload,
    /// Anything else: it must succeed.
    Other,
}

fn kind(argv: &[String]) -> Kind {
    let program = Path::new(&argv[0])
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let has = |a: &str| argv.iter().any(|x| x == a);
    match (program.as_str(), argv.get(1).map(String::as_str)) {
        (p, _) if p.starts_with("php-fpm") && has("-y") && !has("-t") && !has("-tt") => {
            Kind::FpmStart
        }
        ("kill", Some("-USR2")) => Kind::FpmReload,
        ("kill", Some("-QUIT" | "-TERM" | "-INT" | "-KILL")) => {
            let pid = argv.get(2).and_then(|p| p.parse().ok());
            Kind::Stop(pid.unwrap_or_else(|| panic!("no pid in {argv:?}")))
        }
        ("nginx", _) if has("-s") && has("reload") => Kind::NginxReload,
        _ => Kind::Other,
    }
}

impl Lab {
    /// Follows every step of `fix` in order; `fpm` is the php-fpm the fix is about, if any.
    /// Returns that php-fpm as it runs afterwards (a new master when the fix restarted it).
    pub fn follow_fix(&self, fix: &Fix, fpm: Option<&Fpm>) -> Option<Fpm> {
        let mut fpm = fpm.cloned();
        for step in &fix.steps {
            if step.file.is_some() && step.snippet.is_some() {
                step.apply();
            }
            if let Some(argv) = &step.command {
                fpm = self.follow_command(argv, fpm);
            }
        }
        fpm
    }

    fn follow_command(&self, argv: &[String], fpm: Option<Fpm>) -> Option<Fpm> {
        let about = || {
            fpm.clone()
                .unwrap_or_else(|| panic!("{argv:?} acts on php-fpm, and the test named none"))
        };
        match kind(argv) {
            Kind::FpmStart => return Some(self.follow_fpm_start(argv, &about())),
            Kind::Stop(pid) => {
                self.run_printed(argv);
                self.reap(pid);
            }
            Kind::FpmReload => {
                let f = about();
                let before = read_lossy(&f.log).matches(FPM_READY).count();
                self.run_printed(argv);
                self.wait_fpm_ready(&f, before + 1);
            }
            Kind::NginxReload => {
                let before = proc::children(self.nginx_info().pid);
                self.run_printed(argv);
                self.await_new_workers(&before);
            }
            Kind::Other => {
                self.run_printed(argv);
            }
        }
        fpm
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

    /// Waits until php-fpm has logged that it is ready `times` times in all and its address
    /// accepts: a reload finished.
    fn wait_fpm_ready(&self, fpm: &Fpm, times: usize) {
        let deadline = Instant::now() + START_LIMIT;
        while read_lossy(&fpm.log).matches(FPM_READY).count() < times || !fpm.addr.accepts() {
            assert!(
                Instant::now() < deadline,
                "php-fpm did not come back within {START_LIMIT:?}:\n{}",
                read_lossy(&fpm.log)
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs each verify line of `fix` in a shell, as pasted; their runs, in order.
    pub fn run_verify(&self, fix: &Fix) -> Vec<DoctorRun> {
        assert!(!fix.verify.is_empty(), "the fix has no verify line");
        let shell = |line: &String| {
            let args = vec!["-c".to_owned(), line.clone()];
            run_bounded("/bin/sh", &args, self.dir(), COMMAND_LIMIT)
        };
        fix.verify.iter().map(shell).collect()
    }

    /// How much of nginx's error log exists now: pass it to `errors_since`.
    pub fn error_log_mark(&self) -> usize {
        self.error_log().len()
    }

    /// The error-log lines written since `mark` that name `upstream`.
    pub fn errors_since(&self, mark: usize, upstream: &str) -> Vec<String> {
        let log = self.error_log();
        let new = log.get(mark..).unwrap_or("");
        new.lines()
            .filter(|l| l.contains(upstream))
            .map(str::to_owned)
            .collect()
    }
}
