//! The `capacity` built-in: how many php-fpm workers this host can afford,
//! from measurement instead of the "memory ÷ 50–100 MB" rule of thumb.
//!
//! It finds the pool's running workers (their master chosen by its
//! configuration file when given), measures them ([`memory`]), reads what
//! memory is left ([`memory::meminfo`], or the tighter [`cgroup`] limit of
//! the master's group) and does the arithmetic ([`sizing`]), which it shows.
//! When the recommendation is not above the current `pm.max_children` the
//! host cannot afford more workers: the fix is elsewhere (slow requests,
//! caching), and `affordable` is false to say so.

mod cgroup;
mod facts;
mod memory;
mod sizing;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Out;
use crate::host::Sourced;
use crate::host::fpm_conf;
use crate::host::procs::{self, FpmMaster};

use memory::{Consumer, MemInfo, Metric};
use sizing::{Inputs, Sizing};

/// How many of the other processes holding memory are named.
const OTHERS: usize = 3;

/// Below this a PHP worker has most likely served nothing yet: the price
/// measured is its idle size, far less than a busy worker holds.
const IDLE_MIB: u64 = 8;

/// Why the pool could not be measured; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    /// No php-fpm master runs.
    #[error(
        "no php-fpm master is running, so there are no workers to measure; start php-fpm and run again"
    )]
    NotRunning,
    /// Several pools run and none was named.
    #[error("php-fpm runs several pools ({0}); name the one to size")]
    WhichPool(String),
    /// The pool has no live worker.
    #[error(
        "pool {pool} has no running worker to measure (running pools: {running}); with pm = ondemand workers start per request: send one and run again"
    )]
    NoWorkers {
        /// The pool asked for.
        pool: String,
        /// The pools that do run.
        running: String,
    },
    /// Every worker exited between listing and reading.
    #[error("the workers of pool {0} exited while being measured; run again")]
    Vanished(String),
    /// The host's memory figures could not be read.
    #[error(transparent)]
    Memory(#[from] memory::MemoryError),
}

/// Everything measured and concluded for one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    /// The pool's name.
    pub pool: String,
    /// The pids measured.
    pub pids: Vec<i32>,
    /// PSS, or RSS when PSS was not readable for every worker.
    pub metric: Metric,
    /// The machine's memory.
    pub mem: MemInfo,
    /// A cgroup limit tighter than the machine, if any.
    pub limit: Option<cgroup::Limit>,
    /// `pm.max_children` as configured, with where.
    pub current: Option<Sourced<u32>>,
    /// The recommendation and its arithmetic.
    pub sizing: Sizing,
    /// The processes holding the most memory besides the pool.
    pub others: Vec<Consumer>,
}

impl Capacity {
    /// Whether more workers than now fit: the recommendation exceeds the
    /// configured `pm.max_children` (or, unknown, the workers running).
    pub fn affordable(&self) -> bool {
        let now = self
            .current
            .as_ref()
            .map_or(self.pids.len() as u64, |c| u64::from(c.value));
        u64::from(self.sizing.max_children) > now
    }
}

impl Capacity {
    /// Why the recommendation may be too high, if the sample looks idle.
    pub fn caveat(&self) -> Option<String> {
        (self.sizing.max_mib < IDLE_MIB).then(|| {
            format!(
                "the largest worker holds only {} MiB, so the workers look idle; a busy PHP worker \
                 holds several times that: measure again while the site is under load",
                self.sizing.max_mib
            )
        })
    }
}

pub fn run(params: &BTreeMap<String, String>, out: &mut Out) {
    let pool = params.get("pool").map(String::as_str);
    let conf = params.get("conf").map(PathBuf::from);
    let masters = procs::fpm_masters();
    let roots = Roots {
        proc: Path::new("/proc"),
        cgroup: Path::new("/sys/fs/cgroup"),
    };
    match measure(&roots, &masters, pool, conf.as_deref()) {
        Ok(c) => facts::report(&c, out),
        Err(e) => {
            out.shown_as = "ps -o pid,rss,args -C php-fpm".into();
            out.fail(e.to_string());
        }
    }
}

/// Where the host's procfs and cgroup mount are (fake trees in tests).
pub struct Roots<'a> {
    /// `/proc`.
    pub proc: &'a Path,
    /// `/sys/fs/cgroup`.
    pub cgroup: &'a Path,
}

/// Measures `pool` (the only running pool when None) of the masters running
/// `conf` (any master when None or when none runs it).
pub fn measure(
    roots: &Roots,
    masters: &[FpmMaster],
    pool: Option<&str>,
    conf: Option<&Path>,
) -> Result<Capacity, CapacityError> {
    let (master, pool, pids) = pool_workers(masters, pool, conf)?;
    let measured: Vec<_> = pids
        .iter()
        .filter_map(|&pid| memory::worker_memory(roots.proc, pid))
        .collect();
    let (metric, sizes) = memory::sizes(&measured);
    if sizes.is_empty() {
        return Err(CapacityError::Vanished(pool));
    }
    let mem = memory::meminfo(roots.proc)?;
    let limit = cgroup::limit_for(roots.proc, roots.cgroup, master.pid, mem.total_kib)
        .filter(|l| l.headroom_kib < mem.available_kib);
    let inputs = Inputs {
        workers_kib: sizes,
        available_kib: limit.as_ref().map_or(mem.available_kib, |l| l.headroom_kib),
        cgroup: limit.is_some(),
    };
    let sizing = sizing::size(&inputs).ok_or_else(|| CapacityError::Vanished(pool.clone()))?;
    let conf = conf.map(Path::to_path_buf).or_else(|| master.conf.clone());
    Ok(Capacity {
        current: conf.and_then(|c| configured_max_children(&c, &pool)),
        others: memory::top_consumers(roots.proc, &pids, OTHERS),
        pids: measured.iter().map(|w| w.pid).collect(),
        pool,
        metric,
        mem,
        limit,
        sizing,
    })
}

/// The master, pool name and worker pids to measure.
fn pool_workers<'a>(
    masters: &'a [FpmMaster],
    pool: Option<&str>,
    conf: Option<&Path>,
) -> Result<(&'a FpmMaster, String, Vec<i32>), CapacityError> {
    if masters.is_empty() {
        return Err(CapacityError::NotRunning);
    }
    let runs_conf =
        |m: &&FpmMaster| conf.is_some_and(|c| m.conf.as_deref().is_some_and(|mc| same_path(mc, c)));
    let mut chosen: Vec<&FpmMaster> = masters.iter().filter(runs_conf).collect();
    if chosen.is_empty() {
        chosen = masters.iter().collect();
    }
    let mut running: Vec<&str> = chosen
        .iter()
        .flat_map(|m| &m.workers)
        .map(|w| w.pool.as_str())
        .collect();
    running.sort_unstable();
    running.dedup();
    let pool = match (pool, running.as_slice()) {
        (Some(p), _) => p.to_owned(),
        (None, [only]) => (*only).to_owned(),
        (None, _) => return Err(CapacityError::WhichPool(running.join(", "))),
    };
    for master in chosen {
        let pids: Vec<i32> = master
            .workers
            .iter()
            .filter(|w| w.pool.eq_ignore_ascii_case(&pool))
            .map(|w| w.pid)
            .collect();
        if !pids.is_empty() {
            return Ok((master, pool, pids));
        }
    }
    Err(CapacityError::NoWorkers {
        pool,
        running: running.join(", "),
    })
}

/// `pm.max_children` of the pool in that configuration, when readable.
fn configured_max_children(conf: &Path, pool: &str) -> Option<Sourced<u32>> {
    let config = fpm_conf::parse(conf).ok()?;
    config.pool(pool)?.pm_max_children.clone()
}

fn same_path(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::procs::FpmWorker;
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
            workers,
        }
    }

    /// A fake host: /proc with workers 11, 12 (PSS 40 and 56 MiB), meminfo
    /// with 1000 MiB available, a pool config with max_children 5.
    fn host() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let proc = root.path().join("proc");
        for (pid, pss_mib) in [(10, 8), (11, 40), (12, 56)] {
            let dir = proc.join(pid.to_string());
            fs::create_dir_all(&dir).unwrap();
            let kib = pss_mib * 1024;
            fs::write(
                dir.join("status"),
                format!("Name:\tphp-fpm8.2\nVmRSS:\t{} kB\n", kib * 2),
            )
            .unwrap();
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
        };
        measure(&roots, masters, pool, None)
    }

    #[test]
    fn pool_is_sized_from_its_largest_worker() {
        let (root, conf) = host();
        let m = [master(
            10,
            &conf,
            vec![worker(11, "www"), worker(12, "www")],
        )];
        let c = measured(root.path(), &m, Some("www")).unwrap();
        assert_eq!((c.metric, c.pids.clone()), (Metric::Pss, vec![11, 12]));
        // (1000 + 2 × 48) × 0.8 ÷ 56 = 15.66
        assert_eq!(c.sizing.max_children, 15);
        assert_eq!(c.current.as_ref().map(|s| s.value), Some(5));
        assert_eq!(c.current.as_ref().map(|s| s.line), Some(5));
        assert!(c.affordable());
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
    fn pool_without_workers_says_which_pools_run() {
        let (root, conf) = host();
        let m = [master(10, &conf, vec![worker(11, "www")])];
        let err = measured(root.path(), &m, Some("shop")).unwrap_err();
        assert!(err.to_string().contains("(running pools: www)"), "{err}");
        assert!(matches!(
            measured(root.path(), &[], None),
            Err(CapacityError::NotRunning)
        ));
    }

    #[test]
    fn no_room_above_the_current_limit_is_not_affordable() {
        let (root, conf) = host();
        fs::write(
            root.path().join("proc/meminfo"),
            "MemTotal: 4096000 kB\nMemAvailable: 102400 kB\n",
        )
        .unwrap();
        let m = [master(
            10,
            &conf,
            vec![worker(11, "www"), worker(12, "www")],
        )];
        let c = measured(root.path(), &m, Some("www")).unwrap();
        // (100 + 96) × 0.8 ÷ 56 = 2.8: fewer than the 5 configured.
        assert_eq!(c.sizing.max_children, 2);
        assert!(!c.affordable());
    }

    #[test]
    fn a_cgroup_limit_tighter_than_the_machine_decides() {
        let (root, conf) = host();
        let group = root.path().join("cgroup");
        fs::create_dir_all(&group).unwrap();
        fs::write(group.join("memory.max"), format!("{}\n", 512u64 << 20)).unwrap();
        fs::write(group.join("memory.current"), format!("{}\n", 256u64 << 20)).unwrap();
        let m = [master(
            10,
            &conf,
            vec![worker(11, "www"), worker(12, "www")],
        )];
        let c = measured(root.path(), &m, Some("www")).unwrap();
        assert_eq!(c.sizing.available_mib, 256);
        assert!(
            c.sizing.arithmetic.contains("under the cgroup limit"),
            "{}",
            c.sizing.arithmetic
        );
    }

    #[test]
    fn small_workers_are_flagged_as_idle() {
        let (root, conf) = host();
        let m = [master(10, &conf, vec![worker(10, "www")])];
        let idle = measured(root.path(), &m, Some("www")).unwrap();
        assert!(idle.caveat().is_none(), "8 MiB is the threshold itself");
        fs::write(root.path().join("proc/10/smaps_rollup"), "Pss: 3000 kB\n").unwrap();
        let tiny = measured(root.path(), &m, Some("www")).unwrap();
        assert!(
            tiny.caveat().unwrap().contains("only 3 MiB"),
            "{:?}",
            tiny.caveat()
        );
    }
}
