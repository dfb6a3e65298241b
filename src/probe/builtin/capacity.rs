//! The `capacity` built-in: how many php-fpm workers this host can afford,
//! from measurement instead of the "memory ÷ 50–100 MB" rule of thumb alone.
//!
//! It finds the pool's running workers (their master chosen by its
//! configuration file when given), measures them ([`memory`]), reads what
//! memory is left ([`memory::meminfo`], or the tighter [`cgroup`] limit of
//! the master's group), the pool's `memory_limit`, the CPUs the master may
//! use and whether its workers compute or wait ([`cpu`]), and does the
//! arithmetic ([`sizing`]), which it shows with every input and its source.
//! When the recommendation is not above the current `pm.max_children` the
//! host cannot afford more workers: the fix is elsewhere (slow requests,
//! caching), and `affordable` is false to say so.

mod facts;
mod sizing;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Out;
use crate::host::Sourced;
use crate::host::fpm_conf::{self, MemoryLimit};
use crate::host::procs::{self, FpmMaster, FpmWorker};
use crate::host::{cgroup, cpu, memory};

use cpu::Cpus;
use memory::{Consumer, MemInfo, Metric};
use sizing::{Inputs, Sizing};

/// How many of the other processes holding memory are named.
const OTHERS: usize = 3;

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
    /// The pool has no live worker, and which master runs it is unclear.
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
    /// The pool's PHP `memory_limit`, when its configuration was readable.
    pub memory_limit: Option<MemoryLimit>,
    /// The CPUs the master may use.
    pub cpus: Cpus,
    /// The busiest worker's CPU share over its life: `(pid, percent)`.
    pub busiest: Option<(i32, u64)>,
    /// The recommendation and its arithmetic.
    pub sizing: Sizing,
    /// The processes holding the most memory besides the pool.
    pub others: Vec<Consumer>,
}

impl Capacity {
    /// Whether more workers than now fit: the recommendation exceeds the
    /// configured `pm.max_children` (or, unknown, the workers running).
    pub fn affordable(&self) -> bool {
        u64::from(self.sizing.max_children) > self.current_or_running()
    }

    /// `pm.max_children` as configured, else the workers running.
    fn current_or_running(&self) -> u64 {
        self.current
            .as_ref()
            .map_or(self.pids.len() as u64, |c| u64::from(c.value))
    }

    /// Whether the busiest worker used at least half a CPU over its life.
    pub fn cpu_bound(&self) -> bool {
        self.busiest
            .is_some_and(|(_, pct)| pct >= cpu::CPU_BOUND_PERCENT)
    }

    /// Why the price of a worker is a floor rather than a measurement, if it is.
    pub fn caveat(&self) -> Option<String> {
        self.sizing.floor_used.then(|| self.basis())
    }

    /// What one worker is priced at, and why.
    pub fn basis(&self) -> String {
        let s = &self.sizing;
        let metric = self.metric.as_str();
        if !s.floor_used || s.per_worker_mib > s.floor_mib {
            return format!(
                "the largest of the {} worker(s) measured ({metric})",
                s.workers
            );
        }
        let seen = match s.workers {
            0 => "no worker was running to measure".to_owned(),
            n => format!(
                "{n} worker(s) measured, the largest {} MiB ({metric}), too few or too idle to \
                 show what a busy one holds",
                s.max_mib
            ),
        };
        if s.floor_mib < sizing::FLOOR_MIB {
            format!(
                "memory_limit plus an idle worker, the most one request can make it hold ({seen})"
            )
        } else {
            format!("a conservative floor, the top of the usual 50–100 MB per PHP worker ({seen})")
        }
    }
}

pub fn run(params: &BTreeMap<String, String>, out: &mut Out) {
    let pool = params.get("pool").map(String::as_str);
    let conf = params.get("conf").map(PathBuf::from);
    let masters = procs::fpm_masters();
    let roots = Roots {
        proc: Path::new("/proc"),
        cgroup: Path::new("/sys/fs/cgroup"),
        fs: Path::new("/"),
    };
    match measure(&roots, &masters, pool, conf.as_deref()) {
        Ok(c) => facts::report(&c, out),
        Err(e) => {
            out.shown_as = "ps -o pid,rss,args -C php-fpm".into();
            out.fail(e.to_string());
        }
    }
}

/// Where the host's procfs, cgroup mount and filesystem are (fake trees in tests).
pub struct Roots<'a> {
    /// `/proc`.
    pub proc: &'a Path,
    /// `/sys/fs/cgroup`.
    pub cgroup: &'a Path,
    /// `/`: where php.ini is looked for.
    pub fs: &'a Path,
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
    let conf = conf.map(Path::to_path_buf).or_else(|| master.conf.clone());
    let (current, memory_limit) = conf
        .as_deref()
        .map(|c| pool_settings(roots.fs, c, &pool, &master.comm))
        .unwrap_or_default();
    // No worker runs and the configuration has no such pool: nothing to size.
    if pids.is_empty() && memory_limit.is_none() {
        return Err(CapacityError::NoWorkers {
            running: pool_names(&master.workers),
            pool,
        });
    }
    let measured: Vec<_> = pids
        .iter()
        .filter_map(|&pid| memory::worker_memory(roots.proc, pid))
        .collect();
    let (metric, sizes) = memory::sizes(&measured);
    if sizes.is_empty() && !pids.is_empty() {
        return Err(CapacityError::Vanished(pool));
    }
    let mem = memory::meminfo(roots.proc)?;
    let limit = cgroup::limit_for(roots.proc, roots.cgroup, master.pid, mem.total_kib)
        .filter(|l| l.headroom_kib < mem.available_kib);
    let pids: Vec<i32> = measured.iter().map(|w| w.pid).collect();
    let ours = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpus = cpu::cpus(
        roots.proc,
        roots.cgroup,
        master.pid,
        u32::try_from(ours).unwrap_or(1),
    );
    let busiest = cpu::busiest_share(roots.proc, &pids);
    let inputs = Inputs {
        workers_kib: sizes,
        available_kib: limit.as_ref().map_or(mem.available_kib, |l| l.headroom_kib),
        cgroup: limit.is_some(),
        memory_limit_kib: memory_limit.as_ref().and_then(|m| m.kib),
        cpus: cpus.count,
        cpu_bound: busiest.is_some_and(|(_, pct)| pct >= cpu::CPU_BOUND_PERCENT),
    };
    Ok(Capacity {
        sizing: sizing::size(&inputs),
        others: memory::top_consumers(roots.proc, &pids, OTHERS),
        pids,
        pool,
        metric,
        mem,
        limit,
        current,
        memory_limit,
        cpus,
        busiest,
    })
}

/// The master, pool name and worker pids to measure. A pool without
/// workers (pm = ondemand, idle) is sized from the floor when its master is
/// known (the one running `conf`, or the only one) and its configuration
/// has the pool.
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
    let workers: Vec<FpmWorker> = chosen.iter().flat_map(|m| m.workers.clone()).collect();
    let running = pool_names(&workers);
    let pool = match pool {
        Some(p) => p.to_owned(),
        None if !running.is_empty() && !running.contains(", ") => running.clone(),
        None => return Err(CapacityError::WhichPool(running)),
    };
    for master in &chosen {
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
    match chosen.as_slice() {
        [only] => Ok((only, pool, Vec::new())),
        _ => Err(CapacityError::NoWorkers { pool, running }),
    }
}

/// The names of the pools these workers serve, sorted: `api, www`.
fn pool_names(workers: &[FpmWorker]) -> String {
    let mut names: Vec<&str> = workers.iter().map(|w| w.pool.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(", ")
}

/// `pm.max_children` and `memory_limit` of the pool in that configuration,
/// when readable.
fn pool_settings(
    fs: &Path,
    conf: &Path,
    pool: &str,
    binary: &str,
) -> (Option<Sourced<u32>>, Option<MemoryLimit>) {
    let Ok(config) = fpm_conf::parse(conf) else {
        return (None, None);
    };
    let Some(p) = config.pool(pool) else {
        return (None, None);
    };
    let limit = fpm_conf::memory_limit(p, conf, binary, fs);
    (p.pm_max_children.clone(), Some(limit))
}

fn same_path(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

#[cfg(test)]
mod tests;
