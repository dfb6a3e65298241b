//! The memory limit of the control group php-fpm runs in. In a container
//! (or a systemd unit with `MemoryMax=`) `MemAvailable` describes the whole
//! machine, yet the kernel kills the pool's workers when the group reaches
//! its limit: the headroom that counts is the limit minus what the group
//! uses now, page cache it can drop (`inactive_file`) not counted.
//!
//! The group comes from `/proc/PID/cgroup`: a cgroup v1 `memory` line
//! (`<mount>/memory/<path>/memory.limit_in_bytes`), else the v2 `0::` line
//! (`<mount>/<path>/memory.max`). Every ancestor up to the mount's root is
//! checked, since a parent's limit binds its children too; the tightest one
//! wins. Inside a cgroup namespace the path reads `/` and the mount's root is
//! the container's own group. Hybrid layouts with v2 mounted elsewhere than
//! the mount root given here are not followed.

use std::path::{Path, PathBuf};

use super::memory::read_small;

/// A binding memory limit and the room left under it, in KiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// The limit.
    pub limit_kib: u64,
    /// Limit minus the group's working set (usage without inactive page cache).
    pub headroom_kib: u64,
    /// The group directory that sets it.
    pub group: PathBuf,
}

/// The tightest memory limit over `pid`'s group and its ancestors, if any
/// is below `total_kib` (a limit above the machine's memory binds nothing).
/// `proc` is the procfs root, `mount` the cgroup mount (`/sys/fs/cgroup`).
pub fn limit_for(proc: &Path, mount: &Path, pid: i32, total_kib: u64) -> Option<Limit> {
    let text = read_small(&proc.join(pid.to_string()).join("cgroup")).ok()?;
    let (base, files) = match v1_memory_path(&text) {
        Some(path) => (mount.join("memory").join(path), &V1),
        None => (mount.join(v2_path(&text)?), &V2),
    };
    base.ancestors()
        .take_while(|dir| dir.starts_with(mount))
        .filter_map(|dir| read_limit(dir, files))
        .filter(|l| l.limit_kib < total_kib)
        .min_by_key(|l| l.headroom_kib)
}

/// File names and the stat key of one cgroup version.
struct Files {
    limit: &'static str,
    usage: &'static str,
    inactive: &'static str,
}

const V1: Files = Files {
    limit: "memory.limit_in_bytes",
    usage: "memory.usage_in_bytes",
    inactive: "total_inactive_file",
};

const V2: Files = Files {
    limit: "memory.max",
    usage: "memory.current",
    inactive: "inactive_file",
};

fn read_limit(dir: &Path, files: &Files) -> Option<Limit> {
    let number =
        |name: &str| -> Option<u64> { read_small(&dir.join(name)).ok()?.trim().parse().ok() };
    // v2 writes "max" for no limit, which does not parse: no limit here.
    let limit = number(files.limit)?;
    let usage = number(files.usage).unwrap_or(0);
    let inactive = read_small(&dir.join("memory.stat"))
        .ok()
        .and_then(|stat| stat_value(&stat, files.inactive))
        .unwrap_or(0);
    let working_set = usage.saturating_sub(inactive);
    Some(Limit {
        limit_kib: limit / 1024,
        headroom_kib: limit.saturating_sub(working_set) / 1024,
        group: dir.to_path_buf(),
    })
}

/// The path of a v1 hierarchy whose controllers include `memory`.
fn v1_memory_path(text: &str) -> Option<&str> {
    text.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then(|| relative(path))
    })
}

/// The path of the v2 (`0::`) line.
pub(super) fn v2_path(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(relative)
}

/// A group path made relative, so joining it stays under the mount; `..`
/// (possible for a group outside our namespace) is refused by yielding "".
pub(super) fn relative(path: &str) -> &str {
    let path = path.trim().trim_start_matches('/');
    if path.split('/').any(|s| s == "..") {
        ""
    } else {
        path
    }
}

fn stat_value(stat: &str, key: &str) -> Option<u64> {
    stat.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const GIB: u64 = 1 << 30;

    fn write(dir: &Path, name: &str, text: &str) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join(name), text).unwrap();
    }

    /// A procfs with pid 7 in `cgroup_line`, and a cgroup mount.
    fn fake(cgroup_line: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let proc = root.path().join("proc");
        let mount = root.path().join("cgroup");
        write(&proc.join("7"), "cgroup", cgroup_line);
        fs::create_dir_all(&mount).unwrap();
        (root, proc, mount)
    }

    const TOTAL_KIB: u64 = 16 * 1024 * 1024;

    #[test]
    fn v2_limit_leaves_room_minus_the_working_set() {
        let (_root, proc, mount) = fake("0::/system.slice/php-fpm.service\n");
        let group = mount.join("system.slice/php-fpm.service");
        write(&group, "memory.max", &format!("{}\n", 2 * GIB));
        write(&group, "memory.current", &format!("{}\n", GIB));
        write(
            &group,
            "memory.stat",
            &format!("anon 1\ninactive_file {}\n", GIB / 2),
        );
        let limit = limit_for(&proc, &mount, 7, TOTAL_KIB).unwrap();
        assert_eq!(limit.limit_kib, 2 * 1024 * 1024);
        assert_eq!(limit.headroom_kib, 3 * 512 * 1024);
        assert_eq!(limit.group, group);
    }

    #[test]
    fn v2_max_means_no_limit() {
        let (_root, proc, mount) = fake("0::/user.slice\n");
        write(&mount.join("user.slice"), "memory.max", "max\n");
        assert_eq!(limit_for(&proc, &mount, 7, TOTAL_KIB), None);
    }

    #[test]
    fn v1_parent_limit_binds_the_child() {
        let line = "12:pids:/docker/abc\n4:memory:/docker/abc\n0::/\n";
        let (_root, proc, mount) = fake(line);
        let parent = mount.join("memory/docker");
        let child = parent.join("abc");
        write(&child, "memory.limit_in_bytes", "9223372036854771712\n");
        write(&parent, "memory.limit_in_bytes", &format!("{GIB}\n"));
        write(&parent, "memory.usage_in_bytes", &format!("{}\n", GIB / 4));
        let limit = limit_for(&proc, &mount, 7, TOTAL_KIB).unwrap();
        assert_eq!((limit.limit_kib, limit.group), (1024 * 1024, parent));
        assert_eq!(limit.headroom_kib, 768 * 1024);
    }

    #[test]
    fn limit_above_the_machine_binds_nothing() {
        let (_root, proc, mount) = fake("0::/\n");
        write(&mount, "memory.max", &format!("{}\n", 64 * GIB));
        assert_eq!(limit_for(&proc, &mount, 7, TOTAL_KIB), None);
    }

    #[test]
    fn paths_cannot_climb_out_of_the_mount() {
        assert_eq!(relative("/../../etc"), "");
        assert_eq!(v1_memory_path("3:cpu,memory:/a/b\n"), Some("a/b"));
        assert_eq!(v2_path("1:name=systemd:/\n0::/x.slice\n"), Some("x.slice"));
    }

    #[test]
    fn unreadable_cgroup_file_is_no_limit() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(limit_for(root.path(), root.path(), 7, TOTAL_KIB), None);
    }
}
