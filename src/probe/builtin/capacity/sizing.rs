//! The arithmetic of sizing a pool, in whole MiB so a reader can redo it
//! from the numbers shown. Two ceilings, and the lower one wins:
//!
//! - memory: `floor((available + workers × average) × 0.8 ÷ per worker)`.
//!   What the pool's workers hold now is added back to what is available
//!   (a resized pool replaces them) and 20% is kept for the rest of the host.
//!   The price of a worker is what a busy one holds: the largest measured
//!   when at least [`MIN_SAMPLE`] workers were measured and the largest looks
//!   used (at least [`IDLE_MIB`]); otherwise a conservative floor, the top of
//!   the usual 50–100 MB per PHP worker ([`FLOOR_MIB`]) — lower only when
//!   `memory_limit` keeps a worker smaller — or the largest measured if that
//!   is more. An idle worker of 8 MiB once priced a pool at 2366 workers.
//! - CPU: a worker that computes holds a CPU, so a CPU-bound pool gets one
//!   worker per CPU; others [`WAITING_PER_CPU`], for requests that spend most
//!   of their time waiting on a database or an API.
//!
//! The spare-server settings for `pm = dynamic` follow php-fpm's rules
//! (`1 ≤ min_spare ≤ max_spare ≤ max_children`) and its own default for
//! `pm.start_servers`: `min_spare + (max_spare − min_spare) ÷ 2`.

/// Fewer workers than this are too few to show what a busy one holds.
pub const MIN_SAMPLE: usize = 3;
/// A largest worker below this has most likely served little or nothing.
pub const IDLE_MIB: u64 = 24;
/// The conservative price of a worker when the sample cannot tell.
pub const FLOOR_MIB: u64 = 100;
/// Workers per CPU for a pool that is not CPU-bound.
pub const WAITING_PER_CPU: u32 = 4;

/// What the sizing starts from, in KiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    /// Each worker's size (all by the same metric); may be empty.
    pub workers_kib: Vec<u64>,
    /// Memory new workers can get: `MemAvailable`, or a cgroup's headroom.
    pub available_kib: u64,
    /// Whether `available_kib` is a cgroup's headroom rather than MemAvailable.
    pub cgroup: bool,
    /// The pool's `memory_limit`; None when unlimited or unreadable.
    pub memory_limit_kib: Option<u64>,
    /// CPUs the pool may use (at least 1).
    pub cpus: u32,
    /// Whether the workers were seen computing rather than waiting.
    pub cpu_bound: bool,
}

/// The recommendation and the numbers it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sizing {
    /// Workers measured.
    pub workers: u64,
    /// Average worker size, rounded to the nearest MiB (0 without workers).
    pub avg_mib: u64,
    /// Largest worker, rounded up (0 without workers).
    pub max_mib: u64,
    /// Available memory, rounded down.
    pub available_mib: u64,
    /// `workers × avg_mib`: what the pool holds now.
    pub in_use_mib: u64,
    /// The price of one worker used.
    pub per_worker_mib: u64,
    /// The conservative floor, and whether it set the price.
    pub floor_mib: u64,
    /// Whether the sample was too small or idle, so the floor applied.
    pub floor_used: bool,
    /// The memory ceiling.
    pub by_memory: u32,
    /// Workers per CPU allowed.
    pub per_cpu: u32,
    /// The CPU ceiling.
    pub by_cpu: u32,
    /// The recommended `pm.max_children`: the lower ceiling.
    pub max_children: u32,
    /// `pm.start_servers`.
    pub start_servers: u32,
    /// `pm.min_spare_servers`.
    pub min_spare: u32,
    /// `pm.max_spare_servers`.
    pub max_spare: u32,
    /// The computation written out, e.g. `memory: (1520 MiB available + 5 × 48
    /// MiB in use) × 0.8 ÷ 52 MiB per worker = 27; CPU: 2 CPUs × 4 workers
    /// per CPU = 8; pm.max_children = the lower, 8`.
    pub arithmetic: String,
}

/// Sizes the pool.
pub fn size(inputs: &Inputs) -> Sizing {
    let count = inputs.workers_kib.len() as u64;
    let total: u64 = inputs.workers_kib.iter().sum();
    let avg_mib = total.checked_div(count).map_or(0, |a| (a + 512) / 1024);
    let max_mib = inputs
        .workers_kib
        .iter()
        .max()
        .map_or(0, |m| m.div_ceil(1024));
    let floor_mib = floor(inputs);
    let floor_used = inputs.workers_kib.len() < MIN_SAMPLE || max_mib < IDLE_MIB;
    let per_worker_mib = if floor_used {
        max_mib.max(floor_mib)
    } else {
        max_mib
    }
    .max(1);
    let available_mib = inputs.available_kib / 1024;
    let in_use_mib = count.saturating_mul(avg_mib);
    let budget = available_mib.saturating_add(in_use_mib);
    let by_memory = u32::try_from(budget.saturating_mul(4) / per_worker_mib.saturating_mul(5))
        .unwrap_or(u32::MAX);
    let per_cpu = if inputs.cpu_bound { 1 } else { WAITING_PER_CPU };
    let by_cpu = inputs.cpus.max(1).saturating_mul(per_cpu);
    let max_children = by_memory.min(by_cpu);
    let (start_servers, min_spare, max_spare) = spares(max_children);
    let mut s = Sizing {
        workers: count,
        avg_mib,
        max_mib,
        available_mib,
        in_use_mib,
        per_worker_mib,
        floor_mib,
        floor_used,
        by_memory,
        per_cpu,
        by_cpu,
        max_children,
        start_servers,
        min_spare,
        max_spare,
        arithmetic: String::new(),
    };
    s.arithmetic = arithmetic(&s, inputs);
    s
}

/// [`FLOOR_MIB`], or less when `memory_limit` (plus the smallest worker's
/// own size, which the limit does not count) keeps a worker below it.
fn floor(inputs: &Inputs) -> u64 {
    let base_mib = inputs
        .workers_kib
        .iter()
        .min()
        .map_or(0, |m| m.div_ceil(1024));
    let capped = inputs
        .memory_limit_kib
        .map(|l| l.div_ceil(1024).saturating_add(base_mib));
    capped.map_or(FLOOR_MIB, |c| c.min(FLOOR_MIB))
}

fn arithmetic(s: &Sizing, inputs: &Inputs) -> String {
    let available = if inputs.cgroup {
        "available under the cgroup limit"
    } else {
        "available"
    };
    let budget = match s.workers {
        0 => format!("{} MiB {available}", s.available_mib),
        n => format!(
            "({} MiB {available} + {n} × {} MiB in use)",
            s.available_mib, s.avg_mib
        ),
    };
    let cpus = match inputs.cpus.max(1) {
        1 => "1 CPU".to_owned(),
        n => format!("{n} CPUs"),
    };
    format!(
        "memory: {budget} × 0.8 ÷ {} MiB per worker = {}; CPU: {cpus} × {} per CPU = {}; \
         pm.max_children = the lower, {}",
        s.per_worker_mib, s.by_memory, s.per_cpu, s.by_cpu, s.max_children
    )
}

/// `(start, min_spare, max_spare)` for `pm = dynamic` with `n` children;
/// all 0 when no worker fits.
fn spares(n: u32) -> (u32, u32, u32) {
    if n == 0 {
        return (0, 0, 0);
    }
    let min = (n / 4).max(1);
    let max = (n / 2).max(min);
    (min + (max - min) / 2, min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(workers_mib: &[u64], available_mib: u64, cpus: u32) -> Inputs {
        Inputs {
            workers_kib: workers_mib.iter().map(|m| m * 1024).collect(),
            available_kib: available_mib * 1024,
            cgroup: false,
            memory_limit_kib: Some(128 * 1024),
            cpus,
            cpu_bound: false,
        }
    }

    #[test]
    fn one_idle_worker_on_a_big_two_cpu_host_gets_eight_not_thousands() {
        // The report that asked for pm.max_children = 2366 and start_servers = 591.
        let s = size(&inputs(&[8], 23_650, 2));
        assert!(s.floor_used);
        assert_eq!((s.per_worker_mib, s.by_memory, s.by_cpu), (100, 189, 8));
        assert_eq!(s.max_children, 8);
        assert_eq!((s.start_servers, s.min_spare, s.max_spare), (3, 2, 4));
        assert_eq!(
            s.arithmetic,
            "memory: (23650 MiB available + 1 × 8 MiB in use) × 0.8 ÷ 100 MiB per worker = 189; \
             CPU: 2 CPUs × 4 per CPU = 8; pm.max_children = the lower, 8"
        );
    }

    #[test]
    fn enough_used_workers_are_priced_by_the_largest() {
        let s = size(&inputs(&[40, 40, 76], 1000, 8));
        assert!(!s.floor_used);
        assert_eq!((s.avg_mib, s.max_mib, s.in_use_mib), (52, 76, 156));
        // (1000 + 156) × 0.8 ÷ 76 = 12.17, below 8 × 4.
        assert_eq!((s.by_memory, s.max_children), (12, 12));
    }

    #[test]
    fn few_workers_cost_at_least_the_floor_unless_they_are_bigger() {
        assert_eq!(size(&inputs(&[60, 70], 10_000, 64)).per_worker_mib, 100);
        assert_eq!(size(&inputs(&[60, 170], 10_000, 64)).per_worker_mib, 170);
        assert_eq!(size(&inputs(&[5, 6, 7, 8], 10_000, 64)).per_worker_mib, 100);
    }

    #[test]
    fn a_small_memory_limit_lowers_the_floor_and_none_keeps_it() {
        let mut i = inputs(&[6], 10_000, 64);
        i.memory_limit_kib = Some(32 * 1024);
        assert_eq!(size(&i).per_worker_mib, 38, "32 MiB limit + 6 MiB worker");
        i.memory_limit_kib = None;
        assert_eq!(size(&i).per_worker_mib, 100);
    }

    #[test]
    fn a_cpu_bound_pool_gets_one_worker_per_cpu() {
        let mut i = inputs(&[50, 50, 50], 10_000, 2);
        i.cpu_bound = true;
        let s = size(&i);
        assert_eq!((s.by_cpu, s.max_children), (2, 2));
        assert!(
            s.arithmetic.contains("CPU: 2 CPUs × 1 per CPU = 2"),
            "{}",
            s.arithmetic
        );
    }

    #[test]
    fn no_workers_are_sized_from_the_floor() {
        let s = size(&inputs(&[], 1000, 1));
        assert_eq!((s.per_worker_mib, s.by_memory, s.max_children), (100, 8, 4));
        assert!(
            s.arithmetic.starts_with("memory: 1000 MiB available × 0.8"),
            "{}",
            s.arithmetic
        );
        assert!(s.arithmetic.contains("CPU: 1 CPU × 4"), "{}", s.arithmetic);
    }

    #[test]
    fn sizes_are_rounded_so_the_shown_numbers_recompute() {
        let mut i = inputs(&[], 0, 64);
        i.workers_kib = vec![30_000, 30_300, 29_000];
        i.available_kib = 5_000_000;
        i.cgroup = true;
        let s = size(&i);
        assert_eq!((s.avg_mib, s.max_mib, s.available_mib), (29, 30, 4882));
        let recomputed = (s.available_mib + 3 * s.avg_mib) * 8 / (10 * s.per_worker_mib);
        assert_eq!(u64::from(s.by_memory), recomputed);
        assert!(s.arithmetic.contains("available under the cgroup limit"));
    }

    #[test]
    fn no_room_recommends_zero_children_and_no_spares() {
        let s = size(&inputs(&[300], 0, 4));
        assert_eq!(s.max_children, 0);
        assert_eq!((s.start_servers, s.min_spare, s.max_spare), (0, 0, 0));
    }

    #[test]
    fn spares_follow_php_fpm_rules() {
        for n in 1..2000 {
            let (start, min, max) = spares(n);
            assert!(min >= 1 && min <= start && start <= max && max <= n, "{n}");
            assert_eq!(start, min + (max - min) / 2, "php-fpm's default start, {n}");
        }
    }
}
