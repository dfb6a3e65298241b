//! Which processes belong to this system. A process in another mount namespace sees other
//! files (its `-c /etc/nginx/nginx.conf` is a container's file, not ours), and one in
//! another network namespace has other sockets (its `127.0.0.1:9000` is not in our socket
//! table): taking either for this host's own misdiagnoses both. A container (Docker,
//! Podman, containerd, systemd-nspawn, LXC) is exactly such a process to `/proc`.
//!
//! Namespaces are compared by the identities the kernel shows in `/proc/PID/ns/{mnt,net}`
//! against our own (`/proc/self/ns/...`). When the process is a container's, its cgroup
//! names the runtime, so the report can say how to diagnose inside it. Without root the
//! links of other users' processes are unreadable: such a process is taken as ours, which
//! is all that could be said before.

use serde::Serialize;
use std::fmt;
use std::fs;
use std::path::Path;

/// A namespace that decides what a process's paths and addresses mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    /// Files: configuration paths, sockets' paths, logs.
    Mount,
    /// Sockets: what listens where, and what a connect reaches.
    Network,
}

impl Namespace {
    const COMPARED: [Namespace; 2] = [Namespace::Mount, Namespace::Network];

    /// The link under `/proc/PID/ns/`.
    fn link(self) -> &'static str {
        match self {
            Namespace::Mount => "mnt",
            Namespace::Network => "net",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Namespace::Mount => "mount",
            Namespace::Network => "network",
        }
    }
}

/// The container runtime a process runs under, read from its cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Runtime {
    /// `docker`, `podman`, `containerd`, `systemd-nspawn` or `lxc`.
    pub kind: &'static str,
    /// The container's short id (12 hex digits, as `docker ps` shows it) or machine name;
    /// `None` when the cgroup's text is not a plain name (it is then not pasted anywhere).
    pub name: Option<String>,
}

/// A process that is not this system's: the namespaces of ours it does not share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Elsewhere {
    /// The process, as our `/proc` numbers it.
    pub pid: i32,
    /// Mount, network or both.
    pub differs: Vec<Namespace>,
    /// The container runtime, when its cgroup names one.
    pub runtime: Option<Runtime>,
}

/// Where `pid` lives when that is not in our mount and network namespaces; `None` when it
/// shares both with us, or when its links cannot be read. `proc` is the procfs to read
/// (`/proc`; a fake tree in tests), whose `self` is the caller.
pub fn elsewhere(proc: &Path, pid: i32) -> Option<Elsewhere> {
    let differs: Vec<Namespace> = Namespace::COMPARED
        .into_iter()
        .filter(|ns| not_ours(proc, pid, *ns))
        .collect();
    if differs.is_empty() {
        return None;
    }
    let cgroup = fs::read_to_string(proc.join(pid.to_string()).join("cgroup"));
    Some(Elsewhere {
        pid,
        differs,
        runtime: cgroup.ok().and_then(|c| runtime_in_cgroup(&c)),
    })
}

fn not_ours(proc: &Path, pid: i32, ns: Namespace) -> bool {
    let id = |who: &str| fs::read_link(proc.join(who).join("ns").join(ns.link())).ok();
    match (id(&pid.to_string()), id("self")) {
        (Some(theirs), Some(ours)) => theirs != ours,
        _ => false,
    }
}

impl fmt::Display for Elsewhere {
    /// `in another mount and network namespace (docker container 3f2a1b2c4d5e)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.differs.iter().map(|n| n.word()).collect();
        write!(f, "in another {} namespace", words.join(" and "))?;
        match &self.runtime {
            Some(Runtime {
                kind,
                name: Some(name),
            }) => write!(f, " ({kind} container {name})"),
            Some(Runtime { kind, name: None }) => write!(f, " (a {kind} container)"),
            None => Ok(()),
        }
    }
}

impl Elsewhere {
    /// Commands that run the doctor inside the process's namespaces, where its paths and
    /// sockets mean what it meant: `nsenter` always (it needs only the pid), the runtime's
    /// own `exec` when it has one and the container's name is known.
    pub fn diagnose_inside(&self) -> Vec<String> {
        let mut commands = vec![self.nsenter("--auto")];
        let exec = self.runtime.as_ref().and_then(|r| {
            let name = r.name.as_deref()?;
            match r.kind {
                "docker" | "podman" => Some(format!("{} exec {name}", r.kind)),
                "containerd" => Some(format!("crictl exec {name}")),
                "lxc" => Some(format!("lxc-attach -n {name} --")),
                _ => None,
            }
        });
        commands.extend(exec.map(|e| format!("{e} nginx-doctor --auto")));
        commands
    }

    /// `nsenter -t PID -m -n -p nginx-doctor ARGS`: the doctor run with the process's files
    /// (mount), sockets (network) and process table (pid; nsenter forks into it).
    pub fn nsenter(&self, doctor_args: &str) -> String {
        format!(
            "nsenter -t {} -m -n -p nginx-doctor {doctor_args}",
            self.pid
        )
    }

    /// ``diagnose it inside with `nsenter ...` or `docker exec ...` ``, with the caveat that
    /// the binary must be there (both run the container's own files).
    pub fn advice(&self) -> String {
        let commands: Vec<String> = self
            .diagnose_inside()
            .iter()
            .map(|c| format!("`{c}`"))
            .collect();
        format!(
            "diagnose it inside with {} (nginx-doctor must be installed there)",
            commands.join(" or ")
        )
    }
}

/// The runtime named by a `/proc/PID/cgroup` text (one `ID:CONTROLLERS:PATH` per line):
/// Docker's `/docker/ID` or `docker-ID.scope`, Podman's `libpod-ID.scope`, containerd's
/// `cri-containerd-ID.scope` or a Kubernetes pod's `/kubepods.../ID`, systemd-nspawn's
/// `systemd-nspawn@NAME.service` or `machine-NAME.scope`, LXC's `/lxc/NAME` or
/// `lxc.payload.NAME`.
pub fn runtime_in_cgroup(text: &str) -> Option<Runtime> {
    text.lines()
        .filter_map(|line| line.splitn(3, ':').nth(2))
        .find_map(runtime_in_path)
}

fn runtime_in_path(path: &str) -> Option<Runtime> {
    let segments: Vec<&str> = path.split('/').collect();
    let pod = path.contains("/kubepods");
    segments.iter().enumerate().rev().find_map(|(i, seg)| {
        let parent = i.checked_sub(1).map_or("", |p| segments[p]);
        runtime_in_segment(parent, seg, pod)
    })
}

/// One segment of a cgroup path; `parent` is the one above it, `pod` whether the path is
/// a Kubernetes pod's (whose container segments are bare ids).
fn runtime_in_segment(parent: &str, seg: &str, pod: bool) -> Option<Runtime> {
    let scoped = |prefix: &str| seg.strip_prefix(prefix)?.strip_suffix(".scope");
    let id = |kind| container_id(seg).map(|n| runtime(kind, n));
    if let Some(id) = scoped("docker-") {
        return container_id(id).map(|n| runtime("docker", n));
    }
    if let Some(id) = scoped("libpod-").filter(|i| !i.starts_with("conmon-")) {
        return container_id(id).map(|n| runtime("podman", n));
    }
    if let Some(id) = scoped("cri-containerd-") {
        return container_id(id).map(|n| runtime("containerd", n));
    }
    if let Some(name) = seg
        .strip_prefix("systemd-nspawn@")
        .and_then(|s| s.strip_suffix(".service"))
        .or_else(|| scoped("machine-"))
    {
        return Some(named("systemd-nspawn", &name.replace("\\x2d", "-")));
    }
    if let Some(name) = seg.strip_prefix("lxc.payload.") {
        return Some(named("lxc", name));
    }
    match parent {
        "docker" => id("docker"),
        "lxc" => Some(named("lxc", seg)),
        _ if pod => id("containerd"),
        _ => None,
    }
}

fn runtime(kind: &'static str, name: String) -> Runtime {
    Runtime {
        kind,
        name: Some(name),
    }
}

/// A runtime with a machine or container name, kept only when it is a plain name (it is
/// pasted into a command).
fn named(kind: &'static str, name: &str) -> Runtime {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    Runtime {
        kind,
        name: plain.then(|| name.to_string()),
    }
}

/// The 12-digit short form of a 64-hex-digit container id; `None` for anything else.
fn container_id(text: &str) -> Option<String> {
    (text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| text[..12].to_ascii_lowercase())
}

#[cfg(test)]
mod tests;
