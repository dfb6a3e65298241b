//! Processes a test starts: each in its own process group, stopped (with everything it
//! forked) when its guard drops, so a failing or panicking test never leaks a daemon.
//! Also the /proc look-ups the lab needs to find workers and to prove they are gone.

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long a stopped master gets to shut its workers down before the group is killed.
const GRACE: Duration = Duration::from_secs(5);

/// A started process; on drop it is asked to stop (SIGTERM), then its group is killed.
pub struct Guard {
    name: String,
    child: Child,
}

impl Guard {
    /// Spawns `cmd` as the leader of a new process group. If the test thread dies without
    /// dropping the guard (the harness is killed), the kernel sends the child SIGTERM.
    pub fn spawn(name: &str, cmd: &mut Command) -> io::Result<Guard> {
        cmd.process_group(0);
        // SAFETY: the closure only calls prctl(2), which is async-signal-safe, and
        // allocates nothing between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(io::Error::from)
            });
        }
        let child = cmd.spawn()?;
        Ok(Guard {
            name: name.to_string(),
            child,
        })
    }

    /// The process id (also its process-group id).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// What the process was started as, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's stdout pipe, when it was spawned with `Stdio::piped()`.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// The child's stderr pipe, when it was spawned with `Stdio::piped()`.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// `Some(status)` once the process has exited (it is then reaped).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops the process: SIGTERM (nginx and php-fpm masters then stop their workers and
    /// reap them), a bounded wait, then SIGKILL to whatever is left of the group.
    pub fn stop(&mut self) {
        if self.exited().is_none() {
            let _ = kill(Pid::from_raw(self.pid()), Signal::SIGTERM);
            let deadline = Instant::now() + GRACE;
            while self.exited().is_none() && Instant::now() < deadline {
                sleep(Duration::from_millis(10));
            }
        }
        let _ = killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match fs::read(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat_field(&stat, 0) != Some("Z".to_string()),
        Err(_) => false,
    }
}

/// The state letter of `pid` (`S`, `R`, `Z`, ...); `None` once it is gone.
pub fn state(pid: i32) -> Option<String> {
    let stat = fs::read(format!("/proc/{pid}/stat")).ok()?;
    stat_field(&stat, 0)
}

/// Waits until `pid` is in `state` (e.g. `"Z"`: exited, not reaped); panics after `limit`
/// with the state it is in.
pub fn wait_for_state(pid: i32, state: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let now = self::state(pid);
        if now.as_deref() == Some(state) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} is {now:?}, not {state:?}, after {limit:?}"
        );
        sleep(Duration::from_millis(10));
    }
}

/// The live children of `pid` (e.g. a master's workers), read from /proc.
pub fn children(pid: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&p| parent(p) == Some(pid) && alive(p))
        .collect()
}

/// `pid` and all its live descendants.
pub fn tree(pid: i32) -> Vec<i32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let kids = children(all[i]);
        all.extend(kids);
        i += 1;
    }
    all
}

fn parent(pid: i32) -> Option<i32> {
    let stat = fs::read(format!("/proc/{pid}/stat")).ok()?;
    stat_field(&stat, 1)?.parse().ok()
}

/// Field `n` after the `(comm)` of /proc/PID/stat: 0 is the state, 1 the parent pid.
/// `comm` may hold spaces and parentheses, so split after its last `)`.
fn stat_field(stat: &[u8], n: usize) -> Option<String> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = String::from_utf8_lossy(&stat[close + 1..]);
    rest.split_whitespace().nth(n).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_field_survives_parentheses_in_comm() {
        let stat = b"42 (a) b (c)) S 7 42 42";
        assert_eq!(stat_field(stat, 0).as_deref(), Some("S"));
        assert_eq!(stat_field(stat, 1).as_deref(), Some("7"));
    }
}
