//! The arithmetic of sizing a pool from what was measured, in whole MiB so a
//! reader can redo it from the numbers shown:
//!
//! `max_children = floor((available + workers × average) × 0.8 ÷ per worker)`
//!
//! The memory the pool's workers hold now is added back to what is available
//! (a resized pool replaces them), 20% is kept as headroom for the rest of
//! the host and for workers growing, and the price per worker is the largest
//! worker measured, not the average: idle workers are small, a busy one is
//! what more workers will cost. The spare-server settings for `pm = dynamic`
//! follow as fixed shares of the result (25% started, 10%..30% kept idle),
//! which always satisfy php-fpm's `min_spare ≤ start ≤ max_spare ≤ max_children`.

/// What the sizing starts from, in KiB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    /// Each worker's size (all by the same metric).
    pub workers_kib: Vec<u64>,
    /// Memory new workers can get: `MemAvailable`, or a cgroup's headroom.
    pub available_kib: u64,
    /// Whether `available_kib` is a cgroup's headroom rather than MemAvailable.
    pub cgroup: bool,
}

/// The recommendation and the numbers it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sizing {
    /// Average worker size, rounded to the nearest MiB.
    pub avg_mib: u64,
    /// Largest worker, rounded up (never 0): the price of one worker.
    pub max_mib: u64,
    /// Available memory, rounded down.
    pub available_mib: u64,
    /// `workers × avg_mib`: what the pool holds now.
    pub in_use_mib: u64,
    /// The recommended `pm.max_children`.
    pub max_children: u32,
    /// `pm.start_servers`.
    pub start_servers: u32,
    /// `pm.min_spare_servers`.
    pub min_spare: u32,
    /// `pm.max_spare_servers`.
    pub max_spare: u32,
    /// The computation written out, e.g. `(1520 MiB available + 5 × 48 MiB
    /// in use) × 0.8 ÷ 52 MiB per worker (the largest) = 27`.
    pub arithmetic: String,
}

/// Sizes the pool; None without a single measured worker.
pub fn size(inputs: &Inputs) -> Option<Sizing> {
    let count = u64::try_from(inputs.workers_kib.len()).ok()?;
    let total: u64 = inputs.workers_kib.iter().sum();
    let avg_mib = total.checked_div(count)?.saturating_add(512) / 1024;
    let max_mib = inputs.workers_kib.iter().max()?.div_ceil(1024).max(1);
    let available_mib = inputs.available_kib / 1024;
    let in_use_mib = count.saturating_mul(avg_mib);
    let budget = available_mib.saturating_add(in_use_mib);
    let n = budget.saturating_mul(4) / max_mib.saturating_mul(5);
    let max_children = u32::try_from(n).unwrap_or(u32::MAX);
    let available = if inputs.cgroup {
        "available under the cgroup limit"
    } else {
        "available"
    };
    let per_worker = if max_mib == avg_mib {
        "per worker"
    } else {
        "per worker (the largest)"
    };
    let arithmetic = format!(
        "({available_mib} MiB {available} + {count} × {avg_mib} MiB in use) × 0.8 ÷ {max_mib} MiB {per_worker} = {max_children}"
    );
    let (start_servers, min_spare, max_spare) = spares(max_children);
    Some(Sizing {
        avg_mib,
        max_mib,
        available_mib,
        in_use_mib,
        max_children,
        start_servers,
        min_spare,
        max_spare,
        arithmetic,
    })
}

/// `(start, min_spare, max_spare)` for `pm = dynamic` with `n` children;
/// all 0 when no worker fits.
fn spares(n: u32) -> (u32, u32, u32) {
    if n == 0 {
        return (0, 0, 0);
    }
    let share = |percent: u64| {
        let v = u64::from(n) * percent / 100;
        u32::try_from(v).unwrap_or(n).max(1)
    };
    (share(25), share(10), share(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(workers_mib: &[u64], available_mib: u64) -> Inputs {
        Inputs {
            workers_kib: workers_mib.iter().map(|m| m * 1024).collect(),
            available_kib: available_mib * 1024,
            cgroup: false,
        }
    }

    #[test]
    fn equal_workers_give_the_documented_example() {
        let s = size(&inputs(&[48; 5], 1520)).unwrap();
        assert_eq!(s.max_children, 29);
        assert_eq!(
            s.arithmetic,
            "(1520 MiB available + 5 × 48 MiB in use) × 0.8 ÷ 48 MiB per worker = 29"
        );
        assert_eq!((s.start_servers, s.min_spare, s.max_spare), (7, 2, 8));
    }

    #[test]
    fn the_largest_worker_sets_the_price() {
        let s = size(&inputs(&[40, 40, 76], 1000)).unwrap();
        assert_eq!((s.avg_mib, s.max_mib, s.in_use_mib), (52, 76, 156));
        // (1000 + 156) × 0.8 ÷ 76 = 12.17
        assert_eq!(s.max_children, 12);
        assert!(
            s.arithmetic
                .ends_with("÷ 76 MiB per worker (the largest) = 12")
        );
    }

    #[test]
    fn sizes_are_rounded_so_the_shown_numbers_recompute() {
        let s = Inputs {
            workers_kib: vec![10_000, 10_300],
            available_kib: 5_000_000,
            cgroup: true,
        };
        let s = size(&s).unwrap();
        assert_eq!((s.avg_mib, s.max_mib, s.available_mib), (10, 11, 4882));
        let recomputed = (s.available_mib + 2 * s.avg_mib) * 8 / (10 * s.max_mib);
        assert_eq!(u64::from(s.max_children), recomputed);
        assert!(s.arithmetic.contains("available under the cgroup limit"));
    }

    #[test]
    fn no_room_recommends_zero_children_and_no_spares() {
        let s = size(&inputs(&[300], 0)).unwrap();
        assert_eq!(s.max_children, 0);
        assert_eq!((s.start_servers, s.min_spare, s.max_spare), (0, 0, 0));
    }

    #[test]
    fn spares_stay_ordered_and_within_the_pool() {
        for n in 1..500 {
            let (start, min, max) = spares(n);
            assert!(min >= 1 && min <= start && start <= max && max <= n, "{n}");
        }
    }

    #[test]
    fn tiny_workers_cost_at_least_one_mib() {
        let s = size(&Inputs {
            workers_kib: vec![0, 0],
            available_kib: 10 * 1024,
            cgroup: false,
        })
        .unwrap();
        assert_eq!((s.max_mib, s.max_children), (1, 8));
    }

    #[test]
    fn no_workers_cannot_be_sized() {
        assert_eq!(size(&inputs(&[], 1000)), None);
    }
}
