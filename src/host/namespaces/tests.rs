use super::*;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ID: &str = "3f2a1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";

fn kind_and_name(cgroup: &str) -> Option<(&'static str, Option<String>)> {
    runtime_in_cgroup(cgroup).map(|r| (r.kind, r.name))
}

fn short() -> Option<String> {
    Some("3f2a1b2c4d5e".to_string())
}

#[test]
fn docker_is_named_from_cgroup_v1_and_v2() {
    let v1 = format!("12:memory:/docker/{ID}\n0::/\n");
    assert_eq!(kind_and_name(&v1), Some(("docker", short())));
    let v2 = format!("0::/system.slice/docker-{ID}.scope\n");
    assert_eq!(kind_and_name(&v2), Some(("docker", short())));
}

#[test]
fn podman_is_named_but_not_its_monitor() {
    let pod = format!("0::/machine.slice/libpod-{ID}.scope/container\n");
    assert_eq!(kind_and_name(&pod), Some(("podman", short())));
    let conmon = format!("0::/machine.slice/libpod-conmon-{ID}.scope\n");
    assert_eq!(kind_and_name(&conmon), None);
}

#[test]
fn kubernetes_containers_are_containerd_s() {
    let scope = format!("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-{ID}.scope\n");
    assert_eq!(kind_and_name(&scope), Some(("containerd", short())));
    let bare = format!("4:memory:/kubepods/burstable/pod0a1b/{ID}\n");
    assert_eq!(kind_and_name(&bare), Some(("containerd", short())));
}

#[test]
fn nspawn_machine_names_are_unescaped() {
    let service = "0::/machine.slice/systemd-nspawn@web\\x2d1.service/payload\n";
    assert_eq!(
        kind_and_name(service),
        Some(("systemd-nspawn", Some("web-1".into())))
    );
    let scope = "0::/machine.slice/machine-db.scope\n";
    assert_eq!(
        kind_and_name(scope),
        Some(("systemd-nspawn", Some("db".into())))
    );
}

#[test]
fn lxc_names_are_read_and_odd_ones_withheld() {
    assert_eq!(
        kind_and_name("0::/lxc.payload.web/init.scope\n"),
        Some(("lxc", Some("web".into())))
    );
    assert_eq!(
        kind_and_name("0::/lxc/x;reboot\n"),
        Some(("lxc", None)),
        "a name that is not plain is never pasted into a command"
    );
}

#[test]
fn host_cgroups_name_no_runtime() {
    let ours = "4:memory:/process_api/97ef16a687db94b80402d93f13f265f6\n0::/\n";
    assert_eq!(kind_and_name(ours), None);
    let user = "0::/user.slice/user-1000.slice/session-2.scope\n";
    assert_eq!(kind_and_name(user), None);
    assert_eq!(kind_and_name("0::/docker/not-an-id\n"), None);
}

fn docker_elsewhere() -> Elsewhere {
    Elsewhere {
        pid: 4242,
        differs: vec![Namespace::Mount, Namespace::Network],
        runtime: Some(Runtime {
            kind: "docker",
            name: short(),
        }),
    }
}

#[test]
fn elsewhere_says_which_namespaces_and_which_container() {
    assert_eq!(
        docker_elsewhere().to_string(),
        "in another mount and network namespace (docker container 3f2a1b2c4d5e)"
    );
    let bare = Elsewhere {
        pid: 7,
        differs: vec![Namespace::Network],
        runtime: None,
    };
    assert_eq!(bare.to_string(), "in another network namespace");
}

#[test]
fn docker_gets_docker_exec_beside_nsenter() {
    assert_eq!(
        docker_elsewhere().diagnose_inside(),
        [
            "nsenter -t 4242 -m -n -p nginx-doctor --auto",
            "docker exec 3f2a1b2c4d5e nginx-doctor --auto"
        ]
    );
}

#[test]
fn unnamed_container_gets_only_nsenter() {
    let mut e = docker_elsewhere();
    e.runtime = Some(Runtime {
        kind: "lxc",
        name: None,
    });
    assert_eq!(
        e.diagnose_inside(),
        ["nsenter -t 4242 -m -n -p nginx-doctor --auto"]
    );
    assert!(
        e.advice()
            .contains("`nsenter -t 4242 -m -n -p nginx-doctor --auto`")
    );
}

/// A fake procfs with `self` and `pid`, each with `ns/mnt` and `ns/net` links.
fn fake_proc(ours: [&str; 2], theirs: [&str; 2]) -> tempfile::TempDir {
    let proc = tempfile::tempdir().expect("temp dir");
    for (who, ids) in [("self", ours), ("42", theirs)] {
        let ns = proc.path().join(who).join("ns");
        fs::create_dir_all(&ns).expect("mkdir ns");
        symlink(ids[0], ns.join("mnt")).expect("mnt link");
        symlink(ids[1], ns.join("net")).expect("net link");
    }
    proc
}

#[test]
fn differing_links_put_a_process_elsewhere() {
    let proc = fake_proc(["mnt:[1]", "net:[2]"], ["mnt:[9]", "net:[2]"]);
    let docker = format!("0::/system.slice/docker-{ID}.scope\n");
    fs::write(proc.path().join("42/cgroup"), docker).expect("write cgroup");
    let found = elsewhere(proc.path(), 42).expect("elsewhere");
    assert_eq!(found.differs, [Namespace::Mount]);
    assert_eq!(found.runtime.map(|r| r.kind), Some("docker"));
}

#[test]
fn same_or_unreadable_links_keep_a_process_ours() {
    let proc = fake_proc(["mnt:[1]", "net:[2]"], ["mnt:[1]", "net:[2]"]);
    assert_eq!(elsewhere(proc.path(), 42), None);
    assert_eq!(elsewhere(proc.path(), 43), None, "no such process");
}

#[test]
fn own_process_is_ours() {
    let me = i32::try_from(std::process::id()).expect("pid fits");
    assert_eq!(elsewhere(Path::new("/proc"), me), None);
}

/// Waits until `pid` runs `comm` (after unshare's exec its namespaces are final).
fn wait_for_comm(pid: u32, comm: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let path = PathBuf::from(format!("/proc/{pid}/comm"));
    while !fs::read_to_string(&path).is_ok_and(|c| c.trim_end() == comm) {
        assert!(Instant::now() < deadline, "pid {pid} never ran {comm}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn real_process_in_a_private_network_namespace_is_elsewhere() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: unshare --net needs root");
        return;
    }
    let mut child = Command::new("unshare")
        .args(["--net", "cat"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("run unshare");
    wait_for_comm(child.id(), "cat");
    let pid = i32::try_from(child.id()).expect("pid fits");
    let found = elsewhere(Path::new("/proc"), pid);
    drop(child.stdin.take());
    let _ = child.wait();
    assert_eq!(found.map(|e| e.differs), Some(vec![Namespace::Network]));
}
