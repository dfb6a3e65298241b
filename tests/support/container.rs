//! A container as `/proc` sees one, without a container engine: a process tree in its own
//! mount, network and pid namespaces (`unshare --mount --net --pid --fork --mount-proc`),
//! with a private tmpfs over one directory holding its own files. So a path can name one
//! file on the host and another inside, and an address can be taken here and free there:
//! what a doctor on the host must not confuse with its own.

use super::proc::{self, Guard};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Bound on the container's program coming up.
const START_LIMIT: Duration = Duration::from_secs(10);

/// What the container does before running its program: its own files in a tmpfs over
/// `$DIR` (copied from `$STAGE/files`), its loopback up.
const SETUP: &str = r#"set -e
mount -t tmpfs -o mode=0755 container "$DIR"
cp -a "$STAGE/files/." "$DIR/"
ip link set lo up
exec "$@"
"#;

/// A running container; stopped (everything in it killed) on drop.
pub struct Container {
    guard: Guard,
    stage: TempDir,
}

/// Why containers cannot be made here, if they cannot.
pub fn missing() -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root for new namespaces");
    }
    let works = |args: &[&str]| {
        Command::new("unshare")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !works(&[
        "--mount",
        "--net",
        "--pid",
        "--fork",
        "--mount-proc",
        "true",
    ]) {
        return Some("`unshare --mount --net --pid --fork --mount-proc` does not work here");
    }
    if !works(&["--net", "ip", "link", "set", "lo", "up"]) {
        return Some("needs the ip command (iproute2)");
    }
    None
}

impl Container {
    /// Starts `argv` as PID 1 of a new container whose `dir` holds only `files` (name,
    /// content): the host's `dir` is hidden inside it.
    pub fn start(dir: &Path, files: &[(&str, &str)], argv: &[String]) -> Container {
        let stage = TempDir::with_prefix_in("ngxbox-", "/tmp").expect("create staging dir");
        let staged = stage.path().join("files");
        fs::create_dir(&staged).expect("create staging files dir");
        for (name, content) in files {
            fs::write(staged.join(name), content).expect("stage a container file");
        }
        let out = File::create(stage.path().join("out")).expect("create container output");
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--net", "--pid", "--fork", "--mount-proc"])
            .args(["--kill-child", "--", "sh", "-c", SETUP, "sh"])
            .args(argv)
            .env("DIR", dir)
            .env("STAGE", stage.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup output file"))
            .stderr(out);
        let guard = Guard::spawn("container", &mut cmd).expect("run unshare");
        Container { guard, stage }
    }

    /// The host pid of the container's process whose title starts with `title` (e.g.
    /// `nginx: master process`), once it runs; panics with the container's output when it
    /// exits or does not show up in time.
    pub fn wait_for(&mut self, title: &str) -> i32 {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let found = proc::tree(self.guard.pid())
                .into_iter()
                .find(|&pid| cmdline(pid).starts_with(title));
            if let Some(pid) = found {
                return pid;
            }
            let exited = self.guard.exited();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "no {title:?} in the container ({exited:?}):\n{}",
                self.output()
            );
            sleep(Duration::from_millis(20));
        }
    }

    /// What the container printed so far.
    pub fn output(&self) -> String {
        fs::read_to_string(self.stage.path().join("out")).unwrap_or_default()
    }
}

impl Drop for Container {
    /// `unshare --fork` ignores SIGTERM while it waits for its child, so the guard's polite
    /// stop would only time out: SIGKILL it, and `--kill-child` takes the whole namespace.
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.guard.pid()), Signal::SIGKILL);
    }
}

fn cmdline(pid: i32) -> String {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}
