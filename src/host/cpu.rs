//! The CPUs a pool can use, and whether its workers are bound by them.
//!
//! Memory is not the only ceiling: a worker busy computing holds a CPU, so a
//! CPU-bound pool with more workers than CPUs only queues its requests on the
//! CPUs instead of in the listen queue, and a sizing from memory alone once
//! recommended 2366 workers on a 2-CPU host. The count is the CPUs the master
//! may run on (`Cpus_allowed_list`, inherited by its workers), lowered by a
//! CPU quota of its control group (v1 `cpu.cfs_quota_us`, v2 `cpu.max`, on
//! the group or an ancestor). A worker's CPU share is its CPU time over its
//! life, from `/proc/PID/stat`; one that used half a CPU or more for at least
//! [`MIN_AGE_SECS`] marks the pool CPU-bound.

use std::path::{Path, PathBuf};

use super::cgroup::{relative, v2_path};
use super::memory::read_small;

/// The kernel's unit for /proc times (USER_HZ), 100 on every Linux ABI.
const TICKS_PER_SEC: u64 = 100;

/// Younger workers are left out of the CPU share: their start-up dominates it.
pub const MIN_AGE_SECS: u64 = 10;

/// A worker using at least this share of a CPU over its life is CPU-bound.
pub const CPU_BOUND_PERCENT: u64 = 50;

/// How many CPUs, and what said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpus {
    /// At least 1.
    pub count: u32,
    /// Where the number comes from, for the report.
    pub from: String,
}

/// The CPUs `pid` (the master) may use; `fallback` when /proc says nothing.
pub fn cpus(proc: &Path, mount: &Path, pid: i32, fallback: u32) -> Cpus {
    let status = read_small(&proc.join(pid.to_string()).join("status")).unwrap_or_default();
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .and_then(|list| count_list(list.trim()));
    let mut best = match allowed {
        Some(n) => Cpus {
            count: n,
            from: format!("the CPUs php-fpm master {pid} may run on (Cpus_allowed_list)"),
        },
        None => Cpus {
            count: fallback.max(1),
            from: "the CPUs of this host".to_owned(),
        },
    };
    if let Some((n, group)) = quota(proc, mount, pid).filter(|(n, _)| *n < best.count) {
        best = Cpus {
            count: n,
            from: format!("the CPU quota of control group {}", group.display()),
        };
    }
    best
}

/// CPUs in a list such as `0-3,8,10-11`.
fn count_list(list: &str) -> Option<u32> {
    let mut n = 0u32;
    for part in list.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        n = n.checked_add(b.checked_sub(a)? + 1)?;
    }
    (n > 0).then_some(n)
}

/// The tightest CPU quota over the master's group and its ancestors, in whole
/// CPUs (rounded up), with the group that sets it.
fn quota(proc: &Path, mount: &Path, pid: i32) -> Option<(u32, PathBuf)> {
    let text = read_small(&proc.join(pid.to_string()).join("cgroup")).ok()?;
    let v1 = text.lines().find_map(|line| {
        let mut f = line.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        controllers
            .split(',')
            .any(|c| c == "cpu")
            .then(|| (controllers.to_owned(), relative(path).to_owned()))
    });
    let (base, v2) = match v1 {
        Some((controllers, path)) => {
            let dir = [controllers.as_str(), "cpu"]
                .iter()
                .map(|d| mount.join(d))
                .find(|d| d.is_dir())?;
            (dir.join(path), false)
        }
        None => (mount.join(v2_path(&text)?), true),
    };
    base.ancestors()
        .take_while(|dir| dir.starts_with(mount))
        .filter_map(|dir| group_quota(dir, v2).map(|n| (n, dir.to_path_buf())))
        .min_by_key(|(n, _)| *n)
}

/// One group's quota in CPUs; None when it sets none.
fn group_quota(dir: &Path, v2: bool) -> Option<u32> {
    let (quota, period) = if v2 {
        let text = read_small(&dir.join("cpu.max")).ok()?;
        let mut f = text.split_whitespace();
        (
            f.next()?.parse::<i64>().ok()?,
            f.next()?.parse::<i64>().ok()?,
        )
    } else {
        let read = |name: &str| read_small(&dir.join(name)).ok()?.trim().parse::<i64>().ok();
        (read("cpu.cfs_quota_us")?, read("cpu.cfs_period_us")?)
    };
    if quota <= 0 || period <= 0 {
        return None;
    }
    u32::try_from(quota.div_euclid(period) + i64::from(quota % period != 0)).ok()
}

/// The busiest worker's share of one CPU over its life, in percent, among
/// workers at least [`MIN_AGE_SECS`] old: `(pid, percent)`.
pub fn busiest_share(proc: &Path, pids: &[i32]) -> Option<(i32, u64)> {
    let uptime = read_small(&proc.join("uptime")).ok()?;
    let up_secs: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    // Whole ticks are precise enough here; uptime is never negative or huge.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let now_ticks = (up_secs * TICKS_PER_SEC as f64) as u64;
    pids.iter()
        .filter_map(|&pid| {
            let (cpu, start) =
                cpu_and_start(&read_small(&proc.join(pid.to_string()).join("stat")).ok()?)?;
            let age = now_ticks.checked_sub(start)?;
            (age >= MIN_AGE_SECS * TICKS_PER_SEC).then(|| (pid, cpu * 100 / age))
        })
        .max_by_key(|(_, pct)| *pct)
}

/// `utime + stime` and `starttime` (ticks) from a `/proc/PID/stat` line.
fn cpu_and_start(stat: &str) -> Option<(u64, u64)> {
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i)?.parse::<u64>().ok();
    Some((num(11)? + num(12)?, num(19)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(dir: &Path, name: &str, text: &str) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join(name), text).unwrap();
    }

    /// `pid`'s stat with this CPU time and start (ticks).
    fn stat(pid: i32, cpu: u64, start: u64) -> String {
        format!(
            "{pid} (php-fpm: pool (www)) S 1 1 1 0 -1 0 0 0 0 0 {cpu} 0 0 0 20 0 1 0 {start} 0 0\n"
        )
    }

    #[test]
    fn cpu_lists_count_every_cpu() {
        assert_eq!(count_list("0-1"), Some(2));
        assert_eq!(count_list("0-3,8,10-11"), Some(7));
        assert_eq!(count_list("0"), Some(1));
        assert_eq!(count_list("3-1"), None);
        assert_eq!(count_list(""), None);
    }

    #[test]
    fn affinity_then_a_tighter_v1_quota() {
        let root = tempfile::tempdir().unwrap();
        let (proc, mount) = (root.path().join("proc"), root.path().join("cg"));
        write(
            &proc.join("7"),
            "status",
            "Name:\tphp-fpm8.2\nCpus_allowed_list:\t0-7\n",
        );
        write(
            &proc.join("7"),
            "cgroup",
            "4:cpu,cpuacct:/docker/abc\n0::/\n",
        );
        let c = cpus(&proc, &mount, 7, 16);
        assert_eq!(c.count, 8);
        assert!(c.from.contains("Cpus_allowed_list"), "{}", c.from);
        let group = mount.join("cpu,cpuacct/docker");
        write(&group, "cpu.cfs_quota_us", "150000\n");
        write(&group, "cpu.cfs_period_us", "100000\n");
        write(&group.join("abc"), "cpu.cfs_quota_us", "-1\n");
        let c = cpus(&proc, &mount, 7, 16);
        assert_eq!(c.count, 2, "1.5 CPUs round up to 2");
        assert!(c.from.ends_with("cpu,cpuacct/docker"), "{}", c.from);
    }

    #[test]
    fn a_v2_quota_and_the_fallback() {
        let root = tempfile::tempdir().unwrap();
        let (proc, mount) = (root.path().join("proc"), root.path().join("cg"));
        assert_eq!(cpus(&proc, &mount, 7, 3).count, 3);
        write(&proc.join("7"), "cgroup", "0::/system.slice/php.service\n");
        write(
            &mount.join("system.slice/php.service"),
            "cpu.max",
            "max 100000\n",
        );
        assert_eq!(cpus(&proc, &mount, 7, 3).count, 3);
        write(&mount.join("system.slice"), "cpu.max", "100000 100000\n");
        assert_eq!(cpus(&proc, &mount, 7, 3).count, 1);
    }

    #[test]
    fn the_busiest_old_enough_worker_sets_the_share() {
        let root = tempfile::tempdir().unwrap();
        let proc = root.path();
        fs::write(proc.join("uptime"), "1000.00 5.00\n").unwrap();
        // 60 s old, 45 s of CPU: 75%; 30 s old, 3 s: 10%; 2 s old, all CPU: too young.
        write(&proc.join("11"), "stat", &stat(11, 4500, 94_000));
        write(&proc.join("12"), "stat", &stat(12, 300, 97_000));
        write(&proc.join("13"), "stat", &stat(13, 200, 99_800));
        assert_eq!(busiest_share(proc, &[11, 12, 13]), Some((11, 75)));
        assert_eq!(busiest_share(proc, &[12, 13]), Some((12, 10)));
        assert_eq!(busiest_share(proc, &[13]), None);
    }
}
