//! The process table read from `/proc` (what `ps -eo pid,ppid,user,comm,args` shows), and the
//! php-fpm / nginx process trees built from it. Processes come and go while we read, and some
//! entries are unreadable without root: such entries are skipped or left partial, never fatal.
//!
//! php-fpm and nginx rewrite their argv into a title (`php-fpm: master process (CONF)`,
//! `php-fpm: pool www`, `nginx: worker process`), which is how roles are told apart; `comm`
//! only names the binary (`php-fpm8.2`, `php-fpm`, `nginx`).

use super::namespaces::{self, Elsewhere};
use super::{sanitize, users};
use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Upper bound on the bytes of `/proc/PID/cmdline` read per process (argv can be megabytes).
const CMDLINE_MAX: u64 = 16 * 1024;

/// One process, as `ps` would show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Process id.
    pub pid: i32,
    /// Parent process id.
    pub ppid: i32,
    /// Executable name, at most 15 bytes (`/proc/PID/comm`), sanitised.
    pub comm: String,
    /// Arguments (or the process title) joined by spaces, sanitised; empty for kernel threads.
    pub cmdline: String,
    /// Each argument on its own, sanitised (a title rewrite usually leaves one).
    pub args: Vec<String>,
    /// Effective uid.
    pub uid: u32,
    /// Name of `uid`, when it has a passwd entry.
    pub user: Option<String>,
    /// Start time in clock ticks after boot (field 22 of `/proc/PID/stat`); with `pid` it
    /// identifies a process across reads even when the pid is reused.
    pub start_time_ticks: u64,
    /// The state letter of `/proc/PID/stat` (`R`, `S`, `D`, `Z`, `X`, ...).
    pub state: char,
}

impl Process {
    /// Whether the process has exited and only waits for its parent to collect its status:
    /// a zombie (`Z`) or dead (`X`) process runs nothing, listens nowhere and has lost its
    /// arguments. A parent that does not reap (a container's init that never calls wait)
    /// can leave one for a long time.
    pub fn has_exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Every process that could be read.
pub fn processes() -> Vec<Process> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut names: HashMap<u32, Option<String>> = HashMap::new();
    let mut found: Vec<Process> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| read_process(pid, &mut names))
        .collect();
    found.sort_by_key(|p| p.pid);
    found
}

/// The processes for which `pred` holds.
pub fn find(pred: impl Fn(&Process) -> bool) -> Vec<Process> {
    processes().into_iter().filter(|p| pred(p)).collect()
}

/// Reads one process; `None` when it vanished or its `stat`/`status` are unreadable.
fn read_process(pid: i32, names: &mut HashMap<u32, Option<String>>) -> Option<Process> {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let stat = fs::read(dir.join("stat")).ok()?;
    let (comm, state, ppid, start_time_ticks) = parse_stat(&String::from_utf8_lossy(&stat))?;
    let status = fs::read(dir.join("status")).ok()?;
    let uid = parse_effective_uid(&String::from_utf8_lossy(&status))?;
    let args = read_args(&dir.join("cmdline"));
    let user = names.entry(uid).or_insert_with(|| users::user_name(uid));
    Some(Process {
        pid,
        ppid,
        comm: sanitize(&comm),
        cmdline: args.join(" "),
        args,
        uid,
        user: user.clone(),
        start_time_ticks,
        state,
    })
}

/// `(comm, state, ppid, starttime)` from `/proc/PID/stat`. `comm` may hold spaces and `)`,
/// so it spans from the first `(` to the last `)`.
fn parse_stat(stat: &str) -> Option<(String, char, i32, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    // Fields after `comm` start at field 3 (state); ppid is field 4, starttime field 22.
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let mut state = rest.first()?.chars();
    let state = state.next().filter(|_| state.next().is_none())?;
    let ppid = rest.get(1)?.parse().ok()?;
    let start = rest.get(19)?.parse().ok()?;
    Some((comm, state, ppid, start))
}

/// The effective uid: the second number on the `Uid:` line of `/proc/PID/status`.
fn parse_effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// NUL-separated argv, bounded; titles set by rewriting argv leave trailing NULs or spaces.
fn read_args(path: &Path) -> Vec<String> {
    let mut raw = Vec::new();
    if let Ok(file) = fs::File::open(path) {
        // A read error leaves whatever was read: the process may have exited meanwhile.
        let _ = file.take(CMDLINE_MAX).read_to_end(&mut raw);
    }
    split_args(&raw)
}

fn split_args(raw: &[u8]) -> Vec<String> {
    let mut args: Vec<String> = raw
        .split(|b| *b == 0)
        // Line breaks and tabs in an argument (a `python3 -c` script) are
        // spaces on one report line; other control characters stay escaped.
        .map(|a| String::from_utf8_lossy(a).replace(['\n', '\r', '\t'], " "))
        .map(|a| sanitize(a.trim_end()))
        .collect();
    while args.last().is_some_and(|a| a.is_empty()) {
        args.pop();
    }
    args
}

/// The systemd unit a process runs in, from its cgroup path
/// (`0::/system.slice/php8.2-fpm.service` → `php8.2-fpm.service`); `None`
/// outside systemd's services (a shell, a container's own init).
pub fn unit_of(pid: i32) -> Option<String> {
    let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    unit_in_cgroup(&cgroup)
}

fn unit_in_cgroup(cgroup: &str) -> Option<String> {
    cgroup.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2)?;
        path.split('/')
            .rev()
            .find(|part| part.ends_with(".service"))
            .map(sanitize)
    })
}

/// When `p` started, in whole seconds since the Unix epoch (the second a
/// log line written at that moment shows). `None` when the clock or
/// /proc/uptime cannot be read.
pub fn started_unix(p: &Process) -> Option<i64> {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)?;
    let after_boot = p.start_time_ticks as f64 / ticks as f64;
    Some((boot_time()? + after_boot).floor() as i64)
}

/// When the machine booted, to the hundredth of a second: now minus the
/// uptime. (/proc/stat's `btime` is whole seconds, rounded: a process
/// started in the same second as a log line could look a second older.)
fn boot_time() -> Option<f64> {
    let uptime = fs::read_to_string("/proc/uptime").ok()?;
    let up: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some(now - up)
}

/// Whether PID 1 is systemd, i.e. whether `systemctl` can answer at all (not in most
/// containers, where it exits 1 with "System has not been booted with systemd").
pub fn pid1_is_systemd() -> bool {
    fs::read_to_string("/proc/1/comm").is_ok_and(|c| c.trim_end() == "systemd")
}

/// A running php-fpm master and its pool workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FpmMaster {
    /// Master pid.
    pub pid: i32,
    /// Effective uid of the master: the default owner of its unix sockets.
    pub uid: u32,
    /// Binary name (`php-fpm8.2`, `php-fpm`), useful to guess the service unit.
    pub comm: String,
    /// The configuration file the master loaded, from its title; made absolute against the
    /// master's current directory when the title shows a relative path.
    pub conf: Option<PathBuf>,
    /// The command line it was started with, when it did not replace it with its title
    /// (`php-fpm: master process (PATH)`, which keeps only the configuration).
    pub argv: Option<Vec<String>>,
    /// Children whose title names a pool.
    pub workers: Vec<FpmWorker>,
}

/// One php-fpm pool worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FpmWorker {
    /// Worker pid.
    pub pid: i32,
    /// Pool name, from the title `php-fpm: pool NAME`.
    pub pool: String,
    /// Effective uid (the pool's `user`).
    pub uid: u32,
    /// Name of `uid`, when known.
    pub user: Option<String>,
}

/// An exited php-fpm process that its parent has not reaped (state `Z`): not running, though
/// `ps` still lists it under its binary's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FpmZombie {
    /// Its pid.
    pub pid: i32,
    /// Its binary's name (`php-fpm8.2`).
    pub comm: String,
    /// The parent that has not reaped it.
    pub parent: i32,
    /// The parent's binary name, when it could be read.
    pub parent_comm: Option<String>,
}

/// What the process table shows of php-fpm: the masters of this system, and what looks like
/// one but is not: masters in other namespaces (a container's, whose paths and sockets are
/// not ours) and zombies.
#[derive(Debug, Clone, Default)]
pub struct FpmSeen {
    /// Running masters in our mount and network namespaces.
    pub masters: Vec<FpmMaster>,
    /// Running masters elsewhere; their configuration paths mean files we cannot see.
    pub elsewhere: Vec<(FpmMaster, Elsewhere)>,
    /// Exited masters not yet reaped.
    pub zombies: Vec<FpmZombie>,
}

/// The php-fpm masters of this system running now, with their workers.
pub fn fpm_masters() -> Vec<FpmMaster> {
    fpm_seen().masters
}

/// php-fpm as the process table shows it now; see [`FpmSeen`].
pub fn fpm_seen() -> FpmSeen {
    fpm_seen_in(&processes())
}

/// php-fpm as the process table `procs` shows it; see [`FpmSeen`].
pub fn fpm_seen_in(procs: &[Process]) -> FpmSeen {
    let mut seen = FpmSeen {
        zombies: fpm_zombies_in(procs),
        ..FpmSeen::default()
    };
    for m in fpm_masters_in(procs) {
        match namespaces::elsewhere(Path::new("/proc"), m.pid) {
            Some(e) => seen.elsewhere.push((m, e)),
            None => seen.masters.push(m),
        }
    }
    seen
}

/// The zombie php-fpm processes in `procs`, except workers whose running master is about to
/// reap them: what is left is a master whose parent does not reap.
pub fn fpm_zombies_in(procs: &[Process]) -> Vec<FpmZombie> {
    let parent = |pid: i32| procs.iter().find(|p| p.pid == pid);
    // A worker that just exited is a zombie for the moment its master takes to reap it.
    let reaped_soon =
        |z: &&Process| parent(z.ppid).is_some_and(|p| !p.has_exited() && looks_like_fpm_master(p));
    procs
        .iter()
        .filter(|p| p.has_exited() && p.comm.starts_with("php-fpm"))
        .filter(|z| !reaped_soon(z))
        .map(|z| FpmZombie {
            pid: z.pid,
            comm: z.comm.clone(),
            parent: z.ppid,
            parent_comm: parent(z.ppid).map(|p| p.comm.clone()),
        })
        .collect()
}

/// The running php-fpm masters found in `procs`, with their workers.
pub fn fpm_masters_in(procs: &[Process]) -> Vec<FpmMaster> {
    let candidates: Vec<&Process> = procs
        .iter()
        .filter(|p| !p.has_exited() && looks_like_fpm_master(p))
        .collect();
    // A child forked a moment ago still shows its master's title until it retitles
    // itself; a real master never has a php-fpm master as its parent.
    let is_candidate = |pid: i32| candidates.iter().any(|c| c.pid == pid);
    candidates
        .iter()
        .filter(|m| !is_candidate(m.ppid))
        .map(|m| FpmMaster {
            pid: m.pid,
            uid: m.uid,
            comm: m.comm.clone(),
            conf: fpm_master_conf(m).map(|c| absolute_for(m.pid, c)),
            argv: (!m.cmdline.starts_with("php-fpm: ")).then(|| m.args.clone()),
            workers: procs
                .iter()
                .filter(|w| w.ppid == m.pid)
                .filter_map(fpm_worker)
                .collect(),
        })
        .collect()
}

fn looks_like_fpm_master(p: &Process) -> bool {
    if p.cmdline.starts_with("php-fpm: master process") {
        return true;
    }
    // Without a title (setproctitle failed): a php-fpm binary that is not a pool worker.
    p.comm.starts_with("php-fpm") && !p.cmdline.starts_with("php-fpm: pool ")
}

/// The config path from `php-fpm: master process (PATH)`, else from `-y PATH` /
/// `--fpm-config PATH` in an untitled argv.
fn fpm_master_conf(p: &Process) -> Option<PathBuf> {
    if let Some(rest) = p.cmdline.strip_prefix("php-fpm: master process (") {
        return rest.strip_suffix(')').map(PathBuf::from);
    }
    let mut args = p.args.iter();
    while let Some(arg) = args.next() {
        if arg == "-y" || arg == "--fpm-config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(v) = arg.strip_prefix("--fpm-config=") {
            return Some(PathBuf::from(v));
        }
        if let Some(v) = arg.strip_prefix("-y").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(v));
        }
    }
    None
}

fn absolute_for(pid: i32, path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        return path;
    }
    match fs::read_link(format!("/proc/{pid}/cwd")) {
        Ok(cwd) => cwd.join(path),
        Err(_) => path,
    }
}

fn fpm_worker(p: &Process) -> Option<FpmWorker> {
    let pool = p.cmdline.strip_prefix("php-fpm: pool ")?.trim();
    Some(FpmWorker {
        pid: p.pid,
        pool: pool.to_string(),
        uid: p.uid,
        user: p.user.clone(),
    })
}

/// The users nginx's worker processes run as (the `user` directive in effect), sorted and
/// without duplicates; a uid without a passwd entry is given as its number.
pub fn nginx_worker_users(master_pid: i32) -> Vec<String> {
    nginx_worker_users_in(&processes(), master_pid)
}

/// [`nginx_worker_users`] over an already-read process list.
pub fn nginx_worker_users_in(procs: &[Process], master_pid: i32) -> Vec<String> {
    let mut found: Vec<String> = procs
        .iter()
        .filter(|p| p.ppid == master_pid && p.cmdline.starts_with("nginx: worker process"))
        .map(|p| p.user.clone().unwrap_or_else(|| p.uid.to_string()))
        .collect();
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests;
