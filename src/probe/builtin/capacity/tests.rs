//! Unit tests of the `capacity` built-in on fake /proc, cgroup and configuration trees.

use super::*;
use std::fs;

fn worker(pid: i32, pool: &str) -> FpmWorker {
    FpmWorker {
        pid,
        pool: pool.into(),
        uid: 33,
        user: None,
    }
}

fn master(pid: i32, conf: &Path, workers: Vec<FpmWorker>) -> FpmMaster {
    FpmMaster {
        pid,
        uid: 0,
        comm: "php-fpm8.2".into(),
        conf: Some(conf.to_path_buf()),
        argv: None,
        workers,
    }
}

fn www(ids: &[i32]) -> Vec<FpmWorker> {
    ids.iter().map(|&p| worker(p, "www")).collect()
}

/// A fake host: /proc with master 10 (8 MiB PSS, 16 CPUs) and workers
/// 11, 12, 13 (PSS 40, 56 and 48 MiB), meminfo with 1000 MiB available,
/// a pool config with max_children 5, no php.ini (PHP's default 128M).
fn host() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let proc = root.path().join("proc");
    for (pid, pss_mib) in [(10, 8), (11, 40), (12, 56), (13, 48)] {
        let dir = proc.join(pid.to_string());
        fs::create_dir_all(&dir).unwrap();
        let kib = pss_mib * 1024;
        let status = format!(
            "Name:\tphp-fpm8.2\nVmRSS:\t{} kB\nCpus_allowed_list:\t0-15\n",
            kib * 2
        );
        fs::write(dir.join("status"), status).unwrap();
        fs::write(
            dir.join("smaps_rollup"),
            format!("Rss: {} kB\nPss: {kib} kB\n", kib * 2),
        )
        .unwrap();
        fs::write(dir.join("cgroup"), "0::/\n").unwrap();
    }
    fs::write(
        proc.join("meminfo"),
        "MemTotal: 4096000 kB\nMemAvailable: 1024000 kB\n",
    )
    .unwrap();
    let conf = root.path().join("php-fpm.conf");
    fs::write(
        &conf,
        "[global]\n[www]\nlisten = /run/www.sock\npm = dynamic\npm.max_children = 5\n",
    )
    .unwrap();
    (root, conf)
}

fn measured(
    root: &Path,
    masters: &[FpmMaster],
    pool: Option<&str>,
) -> Result<Capacity, CapacityError> {
    let roots = Roots {
        proc: &root.join("proc"),
        cgroup: &root.join("cgroup"),
        fs: root,
    };
    measure(&roots, masters, pool, None)
}

#[test]
fn pool_is_sized_from_its_largest_worker() {
    let (root, conf) = host();
    let m = [master(10, &conf, www(&[11, 12, 13]))];
    let c = measured(root.path(), &m, Some("www")).unwrap();
    assert_eq!((c.metric, c.pids.clone()), (Metric::Pss, vec![11, 12, 13]));
    // (1000 + 3 × 48) × 0.8 ÷ 56 = 16.3, below 16 CPUs × 4.
    assert_eq!(c.sizing.max_children, 16);
    assert_eq!(c.current.as_ref().map(|s| s.value), Some(5));
    assert_eq!(c.current.as_ref().map(|s| s.line), Some(5));
    assert_eq!(c.cpus.count, 16);
    assert_eq!(
        c.memory_limit.as_ref().map(MemoryLimit::describe),
        Some("128M (PHP's default)".to_owned())
    );
    assert!(c.affordable());
    assert_eq!(c.caveat(), None);
}

#[test]
fn single_running_pool_needs_no_name() {
    let (root, conf) = host();
    let m = [master(10, &conf, vec![worker(11, "www")])];
    assert_eq!(measured(root.path(), &m, None).unwrap().pool, "www");
}

#[test]
fn several_pools_need_a_name() {
    let (root, conf) = host();
    let m = [master(
        10,
        &conf,
        vec![worker(11, "www"), worker(12, "api")],
    )];
    let err = measured(root.path(), &m, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "php-fpm runs several pools (api, www); name the one to size"
    );
}

#[test]
fn an_idle_pool_of_its_only_master_is_sized_from_the_floor() {
    let (root, conf) = host();
    let m = [master(10, &conf, vec![worker(11, "api")])];
    let c = measured(root.path(), &m, Some("www")).unwrap();
    assert!(c.pids.is_empty());
    let caveat = c.caveat().unwrap();
    assert!(
        caveat.contains("(no worker was running to measure)"),
        "{caveat}"
    );
    assert!(matches!(
        measured(root.path(), &[], None),
        Err(CapacityError::NotRunning)
    ));
}

#[test]
fn a_pool_neither_running_nor_configured_says_which_pools_run() {
    let (root, conf) = host();
    let m = [master(10, &conf, www(&[11]))];
    let err = measured(root.path(), &m, Some("shop")).unwrap_err();
    assert!(err.to_string().contains("(running pools: www)"), "{err}");
}

#[test]
fn pool_without_workers_among_several_masters_says_which_pools_run() {
    let (root, conf) = host();
    let m = [master(10, &conf, www(&[11])), master(12, &conf, www(&[13]))];
    let err = measured(root.path(), &m, Some("shop")).unwrap_err();
    assert!(err.to_string().contains("(running pools: www)"), "{err}");
}

#[test]
fn no_room_above_the_current_limit_is_not_affordable() {
    let (root, conf) = host();
    fs::write(
        root.path().join("proc/meminfo"),
        "MemTotal: 4096000 kB\nMemAvailable: 102400 kB\n",
    )
    .unwrap();
    let m = [master(10, &conf, www(&[11, 12, 13]))];
    let c = measured(root.path(), &m, Some("www")).unwrap();
    // (100 + 144) × 0.8 ÷ 56 = 3.5: fewer than the 5 configured.
    assert_eq!(c.sizing.max_children, 3);
    assert!(!c.affordable());
}

#[test]
fn the_cpus_of_the_master_cap_the_pool() {
    let (root, conf) = host();
    let status = "Name:\tphp-fpm8.2\nCpus_allowed_list:\t0\n";
    fs::write(root.path().join("proc/10/status"), status).unwrap();
    let m = [master(10, &conf, www(&[11, 12, 13]))];
    let c = measured(root.path(), &m, Some("www")).unwrap();
    assert_eq!((c.sizing.by_cpu, c.sizing.max_children), (4, 4));
    assert!(!c.affordable(), "4 is not above the 5 configured");
}

#[test]
fn a_cgroup_limit_tighter_than_the_machine_decides() {
    let (root, conf) = host();
    let group = root.path().join("cgroup");
    fs::create_dir_all(&group).unwrap();
    fs::write(group.join("memory.max"), format!("{}\n", 512u64 << 20)).unwrap();
    fs::write(group.join("memory.current"), format!("{}\n", 256u64 << 20)).unwrap();
    let m = [master(10, &conf, www(&[11, 12, 13]))];
    let c = measured(root.path(), &m, Some("www")).unwrap();
    assert_eq!(c.sizing.available_mib, 256);
    assert!(
        c.sizing.arithmetic.contains("under the cgroup limit"),
        "{}",
        c.sizing.arithmetic
    );
}

#[test]
fn one_small_worker_is_priced_at_the_floor_and_says_so() {
    let (root, conf) = host();
    let m = [master(10, &conf, www(&[10]))];
    let c = measured(root.path(), &m, Some("www")).unwrap();
    assert_eq!(c.sizing.per_worker_mib, 100);
    let caveat = c.caveat().unwrap();
    assert_eq!(
        caveat,
        "a conservative floor, the top of the usual 50–100 MB per PHP worker (1 worker(s) \
         measured, the largest 8 MiB (pss), too few or too idle to show what a busy one holds)"
    );
}
