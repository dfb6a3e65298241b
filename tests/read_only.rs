//! `--auto` changes nothing: on real faults, every file under the lab (the
//! configs, sockets, logs, pid files) and every process of the lab are the
//! same after a diagnosis as before it.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::support::{Lab, Pass, Pool};

const PHP: &str = "~ \\.php$";

/// What a file is: its kind, size, mode, owner, modification time and content.
type Snapshot = BTreeMap<PathBuf, (u32, u64, u32, i64, Vec<u8>)>;

fn snapshot(dir: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read lab dir").flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            if meta.is_dir() {
                stack.push(path.clone());
            }
            let content = if meta.is_file() {
                std::fs::read(&path).unwrap_or_default()
            } else {
                Vec::new()
            };
            out.insert(
                path,
                (
                    meta.mode(),
                    meta.len(),
                    meta.uid(),
                    meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
                    content,
                ),
            );
        }
    }
    out
}

fn processes() -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// Runs `--auto` on `lab` and proves it changed nothing there.
fn assert_read_only(lab: &Lab, expected: &str) {
    let lab_pids = lab.pids();
    let before = snapshot(lab.dir());
    let procs_before = processes();
    let run = lab.doctor(&["--auto", "--format", "json"]);
    run.assert_first(expected);
    let after = snapshot(lab.dir());
    let changed: Vec<_> = after
        .iter()
        .filter(|(p, v)| before.get(*p) != Some(v))
        .map(|(p, _)| p)
        .collect();
    let gone: Vec<_> = before.keys().filter(|p| !after.contains_key(*p)).collect();
    assert!(
        changed.is_empty() && gone.is_empty(),
        "changed: {changed:?}, removed: {gone:?}"
    );
    let procs_after = processes();
    for pid in lab_pids {
        assert!(
            procs_after.contains(&pid),
            "lab process {pid} is gone after the diagnosis"
        );
    }
    let new_children: Vec<_> = procs_after
        .iter()
        .filter(|p| !procs_before.contains(p))
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.contains("ngxlab"))
        })
        .collect();
    assert!(
        new_children.is_empty(),
        "the diagnosis left processes behind: {new_children:?}"
    );
}

#[test]
fn diagnosing_a_stopped_backend_changes_nothing() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    lab.stop(fpm.pid);
    assert_eq!(lab.get("/ok.php"), 502);
    assert_read_only(&lab, "backend-down");
}

#[test]
fn diagnosing_a_full_pool_changes_nothing() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::tcp("www").max_children(1));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm).with("fastcgi_read_timeout 1s;")));
    let statuses = lab.get_many("/sleep.php?s=3", 3);
    assert!(statuses.contains(&504), "{statuses:?}");
    crate::support::logs::wait_for_line(
        &fpm.log,
        "max_children",
        std::time::Duration::from_secs(5),
    );
    assert_read_only(&lab, "backend-pool-exhausted");
}

#[test]
fn diagnosing_a_healthy_host_changes_nothing() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get("/ok.php"), 200);
    assert_read_only(&lab, "no-fault-found");
}
