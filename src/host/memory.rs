//! What memory costs on this host, read from a procfs mount: each worker's
//! proportional share (PSS, `/proc/PID/smaps_rollup`) or, when that is not
//! readable (another user's process without root, kernels before 4.14), its
//! resident size (`VmRSS` in `/proc/PID/status`); `MemAvailable` and
//! `MemTotal`; and the processes that hold the most memory besides the pool.
//!
//! PSS is the honest price of one more worker: pages shared with the master
//! and its siblings (the PHP binary, opcache) are split between them, where
//! RSS counts them once per worker. Every function takes the procfs root so
//! tests can hand it a fake tree; a process that vanished is skipped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Upper bound on the bytes read from one small /proc file.
const READ_MAX: u64 = 64 * 1024;

/// Why the host's memory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// `/proc/meminfo` could not be read.
    #[error("cannot read {}: {source}; is /proc mounted?", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// A field the sizing needs is missing.
    #[error("{} has no {field} line (Linux 3.14 or later is needed)", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The field, e.g. `MemAvailable`.
        field: &'static str,
    },
}

/// Which size a worker was measured by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Proportional set size: shared pages split between their users.
    Pss,
    /// Resident set size: shared pages counted in full.
    Rss,
}

impl Metric {
    /// `pss` or `rss`, as the fact reads.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Pss => "pss",
            Metric::Rss => "rss",
        }
    }
}

/// One worker's memory, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerMemory {
    /// The worker's pid.
    pub pid: i32,
    /// PSS, when smaps_rollup was readable.
    pub pss_kib: Option<u64>,
    /// RSS from status.
    pub rss_kib: Option<u64>,
}

/// The system-wide figures of `/proc/meminfo`, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemInfo {
    /// `MemTotal`.
    pub total_kib: u64,
    /// `MemAvailable`: what new work can get without swapping.
    pub available_kib: u64,
}

/// Reads one worker; None when it is gone or nothing was readable.
pub fn worker_memory(proc: &Path, pid: i32) -> Option<WorkerMemory> {
    let dir = proc.join(pid.to_string());
    let pss_kib = read_small(&dir.join("smaps_rollup"))
        .ok()
        .and_then(|t| field_kib(&t, "Pss"));
    let rss_kib = read_small(&dir.join("status"))
        .ok()
        .and_then(|t| field_kib(&t, "VmRSS"));
    (pss_kib.is_some() || rss_kib.is_some()).then_some(WorkerMemory {
        pid,
        pss_kib,
        rss_kib,
    })
}

/// The workers' sizes by one metric for all: PSS when every worker has it,
/// else RSS (mixing the two would understate the shared part for some).
pub fn sizes(workers: &[WorkerMemory]) -> (Metric, Vec<u64>) {
    if workers.iter().all(|w| w.pss_kib.is_some()) {
        let pss = workers.iter().filter_map(|w| w.pss_kib).collect();
        return (Metric::Pss, pss);
    }
    (
        Metric::Rss,
        workers.iter().filter_map(|w| w.rss_kib).collect(),
    )
}

/// Reads `MemTotal` and `MemAvailable`.
pub fn meminfo(proc: &Path) -> Result<MemInfo, MemoryError> {
    let path = proc.join("meminfo");
    let text = read_small(&path).map_err(|source| MemoryError::Read {
        path: path.clone(),
        source,
    })?;
    let get = |field: &'static str| {
        field_kib(&text, field).ok_or_else(|| MemoryError::Missing {
            path: path.clone(),
            field,
        })
    };
    Ok(MemInfo {
        total_kib: get("MemTotal")?,
        available_kib: get("MemAvailable")?,
    })
}

/// The `count` process names holding the most resident memory, summed over
/// processes of the same name, leaving out the pids in `skip` (the pool).
/// Kernel threads (no `VmRSS`) and unreadable entries are left out.
pub fn top_consumers(proc: &Path, skip: &[i32], count: usize) -> Vec<Consumer> {
    let Ok(entries) = std::fs::read_dir(proc) else {
        return Vec::new();
    };
    let mut by_name: BTreeMap<String, Consumer> = BTreeMap::new();
    let pids = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| !skip.contains(pid));
    for pid in pids {
        let Ok(status) = read_small(&proc.join(pid.to_string()).join("status")) else {
            continue;
        };
        let (Some(name), Some(rss)) = (field_text(&status, "Name"), field_kib(&status, "VmRSS"))
        else {
            continue;
        };
        let entry = by_name.entry(name.to_owned()).or_insert_with(|| Consumer {
            name: crate::host::sanitize(name),
            processes: 0,
            rss_kib: 0,
        });
        entry.processes += 1;
        entry.rss_kib = entry.rss_kib.saturating_add(rss);
    }
    let mut all: Vec<Consumer> = by_name.into_values().collect();
    all.sort_by(|a, b| b.rss_kib.cmp(&a.rss_kib).then(a.name.cmp(&b.name)));
    all.truncate(count);
    all
}

/// Processes of one name and the resident memory they hold together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// The process name (`/proc/PID/status` `Name:`), sanitised.
    pub name: String,
    /// How many processes have that name.
    pub processes: usize,
    /// Their summed RSS in KiB (shared pages counted per process).
    pub rss_kib: u64,
}

impl Consumer {
    /// `mysqld 2100 MiB` or `php-fpm8.2 ×12 640 MiB`.
    pub fn describe(&self) -> String {
        let count = match self.processes {
            1 => String::new(),
            n => format!(" ×{n}"),
        };
        format!("{}{count} {} MiB", self.name, self.rss_kib / 1024)
    }
}

/// Reads a /proc file that is small by nature; host text may be any bytes.
pub(super) fn read_small(path: &Path) -> io::Result<String> {
    let mut bytes = Vec::new();
    File::open(path)?.take(READ_MAX).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The number of a `Field:   1234 kB` line.
fn field_kib(text: &str, field: &str) -> Option<u64> {
    let value = field_text(text, field)?;
    let number = value.strip_suffix("kB").unwrap_or(value).trim();
    number.parse().ok()
}

/// The trimmed value of a `Field:\tvalue` line.
fn field_text<'a>(text: &'a str, field: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == field).then(|| value.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A fake procfs: `(pid, name, rss kB, Some(pss kB))` entries and a meminfo.
    fn fake_proc(procs: &[(i32, &str, u64, Option<u64>)], meminfo: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for &(pid, name, rss, pss) in procs {
            let dir = root.path().join(pid.to_string());
            fs::create_dir_all(&dir).unwrap();
            let status = format!("Name:\t{name}\nUmask:\t0022\nVmRSS:\t  {rss} kB\nThreads:\t1\n");
            fs::write(dir.join("status"), status).unwrap();
            if let Some(pss) = pss {
                let rollup = format!(
                    "55e4-7ffe ---p 00000000 00:00 0  [rollup]\nRss:  {rss} kB\nPss:  {pss} kB\nPss_Dirty:  1 kB\n"
                );
                fs::write(dir.join("smaps_rollup"), rollup).unwrap();
            }
        }
        fs::write(root.path().join("meminfo"), meminfo).unwrap();
        fs::create_dir_all(root.path().join("self")).unwrap();
        root
    }

    const MEMINFO: &str =
        "MemTotal:       24683656 kB\nMemFree:  100 kB\nMemAvailable:   22810712 kB\n";

    #[test]
    fn pss_comes_from_smaps_rollup_and_rss_from_status() {
        let proc = fake_proc(&[(10, "php-fpm8.2", 30000, Some(12000))], MEMINFO);
        let w = worker_memory(proc.path(), 10).unwrap();
        assert_eq!((w.pss_kib, w.rss_kib), (Some(12000), Some(30000)));
    }

    #[test]
    fn one_worker_without_pss_makes_every_worker_measured_by_rss() {
        let proc = fake_proc(
            &[
                (10, "php-fpm8.2", 30000, Some(12000)),
                (11, "php-fpm8.2", 31000, None),
            ],
            MEMINFO,
        );
        let ws: Vec<WorkerMemory> = [10, 11]
            .iter()
            .filter_map(|&p| worker_memory(proc.path(), p))
            .collect();
        assert_eq!(sizes(&ws), (Metric::Rss, vec![30000, 31000]));
        assert_eq!(sizes(&ws[..1]), (Metric::Pss, vec![12000]));
    }

    #[test]
    fn vanished_worker_is_none() {
        let proc = fake_proc(&[], MEMINFO);
        assert_eq!(worker_memory(proc.path(), 99), None);
    }

    #[test]
    fn meminfo_gives_total_and_available() {
        let proc = fake_proc(&[], MEMINFO);
        assert_eq!(
            meminfo(proc.path()).unwrap(),
            MemInfo {
                total_kib: 24_683_656,
                available_kib: 22_810_712
            }
        );
    }

    #[test]
    fn meminfo_without_memavailable_names_the_field() {
        let proc = fake_proc(&[], "MemTotal: 1000 kB\nMemFree: 10 kB\n");
        let err = meminfo(proc.path()).unwrap_err();
        assert!(err.to_string().contains("no MemAvailable line"), "{err}");
    }

    #[test]
    fn top_consumers_sum_by_name_and_skip_the_pool() {
        let proc = fake_proc(
            &[
                (1, "systemd", 10_240, None),
                (5, "mysqld", 2_150_400, None),
                (6, "java", 921_600, None),
                (7, "php-fpm8.2", 51_200, None),
                (8, "php-fpm8.2", 51_200, None),
                (9, "php-fpm8.2", 999_999, None),
            ],
            MEMINFO,
        );
        let top = top_consumers(proc.path(), &[9], 3);
        let shown: Vec<String> = top.iter().map(Consumer::describe).collect();
        assert_eq!(
            shown,
            ["mysqld 2100 MiB", "java 900 MiB", "php-fpm8.2 ×2 100 MiB"]
        );
    }

    #[test]
    fn garbage_status_is_skipped() {
        let proc = fake_proc(&[], MEMINFO);
        let dir = proc.path().join("42");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("status"), b"Name:\t\xff\xfe\nVmRSS: lots kB\n").unwrap();
        assert!(top_consumers(proc.path(), &[], 3).is_empty());
        assert_eq!(worker_memory(proc.path(), 42), None);
    }
}
