//! One run of a command, below the probes: the person's flags checked
//! ([`options`]), the time budget's clock, and what was already learned
//! about this host (nginx's configuration, the process and socket tables)
//! so later probes do not read it again.
//!
//! `diagnose`, `scan` and `config` build their session the same way, from a
//! [`Request`] of the flags, so `--conf` and `--error-log` mean one thing in
//! all three. Finding nginx runs `nginx -V`, which is a probe's work: the
//! session keeps what was found ([`NginxView`]) and is handed the way to
//! look (see `probe::builtin::Discover`), so it never runs a program itself.

mod found;
mod options;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::host::procs::{self, Process};
use crate::host::sockets::{self, Listener};
use crate::nginx::BuildInfo;
use crate::rules::signatures::SignatureBook;

pub use found::{NginxView, discover, error_logs};
pub use options::{Options, OptionsError, Request, parse_since, since_or_error};

/// How a session learns the build facts of an nginx binary (`nginx -V`,
/// run by the probe layer within its bounds).
pub type BuildProbe = fn(&Path) -> BuildInfo;

/// What the report says about the machine it ran on.
#[derive(Debug, Clone, Serialize)]
pub struct HostInfo {
    pub hostname: String,
    pub euid: u32,
    pub root: bool,
    pub systemd: bool,
}

/// One command's run on this host.
#[derive(Debug)]
pub struct Session {
    pub options: Options,
    pub root: bool,
    pub systemd: bool,
    started: Instant,
    nginx: Option<NginxView>,
    /// The process and socket tables, read once per run: every upstream's
    /// walk asks them again, and reading every process's descriptors for
    /// the socket owners is the costliest look at the host.
    processes: Option<Vec<Process>>,
    listeners: Option<Vec<Listener>>,
    /// What each signature means, from the pack the diagnosis runs: the
    /// error-log check needs it; finding nginx (`scan`, `config`) does not.
    signatures: Option<SignatureBook>,
}

impl Session {
    pub fn new(options: Options) -> Session {
        Session {
            options,
            root: nix::unistd::geteuid().is_root(),
            systemd: procs::pid1_is_systemd(),
            started: Instant::now(),
            nginx: None,
            processes: None,
            listeners: None,
            signatures: None,
        }
    }

    /// Checks the flags and starts the session; the error says what was
    /// wrong and what to write.
    pub fn start(request: &Request<'_>) -> Result<Session, OptionsError> {
        Options::check(request).map(Session::new)
    }

    /// The session of a diagnosis with this pack's signatures.
    pub fn with_signatures(mut self, book: SignatureBook) -> Session {
        self.signatures = Some(book);
        self
    }

    /// What each signature means, when the pack's were given.
    pub fn signatures(&self) -> Option<&SignatureBook> {
        self.signatures.as_ref()
    }

    /// What is left of the run's time budget; zero when it is used up.
    pub fn remaining(&self) -> Duration {
        self.options.budget.saturating_sub(self.started.elapsed())
    }

    /// What is known about nginx, found on first use with `build`.
    pub fn nginx_found_by(&mut self, build: BuildProbe) -> &NginxView {
        let conf = self.options.conf.clone();
        self.nginx
            .get_or_insert_with(|| found::discover(conf.as_deref(), build))
    }

    /// The nginx error logs this run reads: `--error-log`, else those of
    /// the configuration found with `build`.
    pub fn error_logs_found_by(&mut self, build: BuildProbe) -> Vec<PathBuf> {
        let flag = self.options.error_logs.clone();
        found::error_logs(&flag, self.nginx_found_by(build))
    }

    /// The process table, as first read in this run.
    pub fn processes(&mut self) -> &[Process] {
        self.processes.get_or_insert_with(procs::processes)
    }

    /// The listening sockets with their owners, as first read in this run.
    pub fn listeners(&mut self) -> &[Listener] {
        self.listeners.get_or_insert_with(sockets::listeners)
    }

    /// What the report says about the machine it ran on.
    pub fn info(&self) -> HostInfo {
        HostInfo {
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_default(),
            euid: nix::unistd::geteuid().as_raw(),
            root: self.root,
            systemd: self.systemd,
        }
    }
}
