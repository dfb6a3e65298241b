//! The `capacity` built-in's facts and notes: the measured numbers in whole
//! MiB, the recommendation with its arithmetic, and the commands a person
//! would run to see the same numbers.

use super::{Capacity, Out};
use crate::host::Sourced;
use crate::host::fpm_conf::MemoryLimit;
use crate::host::memory::{Consumer, Metric};

pub(super) fn report(c: &Capacity, out: &mut Out) {
    let s = &c.sizing;
    let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    out.set("pool", c.pool.clone());
    out.set("workers", int(c.pids.len() as u64));
    out.set("measured_with", c.metric.as_str());
    out.set("pss_avg_mib", (s.workers > 0).then(|| int(s.avg_mib)));
    out.set("pss_max_mib", (s.workers > 0).then(|| int(s.max_mib)));
    out.set("per_worker_mib", int(s.per_worker_mib));
    out.set("per_worker_basis", c.basis());
    out.set(
        "memory_limit",
        c.memory_limit.as_ref().map(MemoryLimit::describe),
    );
    out.set("mem_available_mib", int(c.mem.available_kib / 1024));
    out.set("mem_total_mib", int(c.mem.total_kib / 1024));
    out.set(
        "mem_limit_mib",
        c.limit.as_ref().map(|l| int(l.limit_kib / 1024)),
    );
    out.set("available_from", available_from(c));
    out.set("cpus", i64::from(c.cpus.count));
    out.set("cpus_from", c.cpus.from.clone());
    out.set("cpu_bound", c.cpu_bound());
    out.set("cpu_share", cpu_share(c));
    out.set("by_memory", i64::from(s.by_memory));
    out.set("by_cpu", i64::from(s.by_cpu));
    out.set(
        "current_max_children",
        c.current.as_ref().map(|m| i64::from(m.value)),
    );
    out.set(
        "current_max_children_at",
        c.current.as_ref().map(Sourced::location),
    );
    out.set("recommended_max_children", i64::from(s.max_children));
    out.set("start_servers", i64::from(s.start_servers));
    out.set("min_spare", i64::from(s.min_spare));
    out.set("max_spare", i64::from(s.max_spare));
    // What pm = dynamic's idle workers may hold while the site is quiet: at
    // most max_spare of them, each priced as a busy one (an upper bound).
    out.set(
        "idle_max_mib",
        int(u64::from(s.max_spare) * s.per_worker_mib),
    );
    out.set("arithmetic", s.arithmetic.clone());
    out.set("affordable", c.affordable());
    out.set("caveat", c.caveat());
    let others: Vec<String> = c.others.iter().map(Consumer::describe).collect();
    out.set("others", others.join(", "));
    out.shown_as = shown_as(c);
    out.note(&s.arithmetic);
    if let Some(l) = &c.limit {
        out.note(&format!(
            "memory limit {} MiB set by {}",
            l.limit_kib / 1024,
            l.group.display()
        ));
    }
    if !others.is_empty() {
        out.note(&format!(
            "most memory besides the pool: {}",
            others.join(", ")
        ));
    }
}

/// Where the available memory was read.
fn available_from(c: &Capacity) -> String {
    match &c.limit {
        Some(l) => format!(
            "the memory limit of control group {} minus what the group uses",
            l.group.display()
        ),
        None => "MemAvailable in /proc/meminfo (what other services use is already taken out)"
            .to_owned(),
    }
}

/// How the CPU ceiling was chosen.
fn cpu_share(c: &Capacity) -> String {
    let per = if c.cpu_bound() {
        "1 worker per CPU"
    } else {
        "4 workers per CPU, for requests that mostly wait on a database or an API"
    };
    match c.busiest {
        Some((pid, pct)) => {
            format!("{per}: the busiest worker (pid {pid}) used {pct}% of a CPU over its life")
        }
        None => format!(
            "{per}: no worker has run long enough to tell whether the pool computes or waits"
        ),
    }
}

/// The commands a person would run to see the same numbers.
fn shown_as(c: &Capacity) -> String {
    let file = match c.metric {
        Metric::Pss => ("^Pss:", "smaps_rollup"),
        Metric::Rss => ("^VmRSS:", "status"),
    };
    let paths: Vec<String> = c
        .pids
        .iter()
        .take(8)
        .map(|p| format!("/proc/{p}/{}", file.1))
        .collect();
    format!(
        "grep -H {} {}; grep -E '^Mem(Total|Available):' /proc/meminfo",
        file.0,
        paths.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::cpu::Cpus;
    use crate::host::memory::MemInfo;
    use crate::probe::builtin::capacity::sizing::{self, Inputs};
    use crate::value::Value;
    use std::path::PathBuf;

    fn capacity() -> Capacity {
        let inputs = Inputs {
            workers_kib: vec![40 * 1024, 56 * 1024, 48 * 1024],
            available_kib: 1000 * 1024,
            cgroup: false,
            memory_limit_kib: Some(128 * 1024),
            cpus: 2,
            cpu_bound: false,
        };
        Capacity {
            pool: "www".into(),
            pids: vec![11, 12, 13],
            metric: Metric::Pss,
            mem: MemInfo {
                total_kib: 4000 * 1024,
                available_kib: 1000 * 1024,
            },
            limit: None,
            current: Some(Sourced::new(
                5,
                &PathBuf::from("/etc/php-fpm.d/www.conf"),
                9,
            )),
            memory_limit: None,
            cpus: Cpus {
                count: 2,
                from: "the CPUs php-fpm master 10 may run on (Cpus_allowed_list)".into(),
            },
            busiest: Some((12, 3)),
            sizing: sizing::size(&inputs),
            others: vec![Consumer {
                name: "mysqld".into(),
                processes: 1,
                rss_kib: 2100 * 1024,
            }],
        }
    }

    #[test]
    fn facts_carry_the_numbers_and_the_arithmetic() {
        let mut out = Out::default();
        report(&capacity(), &mut out);
        let obs = out.finish();
        let fact = |n: &str| {
            obs.facts
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(fact("recommended_max_children"), Some(Value::Int(8)));
        assert_eq!(
            (fact("by_memory"), fact("by_cpu")),
            (Some(Value::Int(16)), Some(Value::Int(8)))
        );
        assert_eq!(fact("cpus"), Some(Value::Int(2)));
        assert_eq!(
            fact("per_worker_basis"),
            Some(Value::text("the largest of the 3 worker(s) measured (pss)"))
        );
        assert_eq!(
            fact("cpu_share"),
            Some(Value::text(
                "4 workers per CPU, for requests that mostly wait on a database or an API: the busiest worker (pid 12) used 3% of a CPU over its life"
            ))
        );
        assert_eq!(fact("measured_with"), Some(Value::text("pss")));
        assert_eq!(fact("affordable"), Some(Value::Bool(true)));
        assert_eq!(
            fact("current_max_children_at"),
            Some(Value::text("/etc/php-fpm.d/www.conf:9"))
        );
        assert_eq!(fact("others"), Some(Value::text("mysqld 2100 MiB")));
        assert_eq!(fact("caveat"), Some(Value::Null));
        assert_eq!(
            fact("arithmetic"),
            Some(Value::text(
                "memory: (1000 MiB available + 3 × 48 MiB in use) × 0.8 ÷ 56 MiB per worker = 16; \
                 CPU: 2 CPUs × 4 per CPU = 8; pm.max_children = the lower, 8"
            ))
        );
    }

    #[test]
    fn a_sized_pool_sets_every_fact_it_promises_with_its_recommendation() {
        let mut c = capacity();
        c.busiest = None;
        c.others.clear();
        c.current = None;
        let mut out = Out::default();
        report(&c, &mut out);
        let obs = out.finish();
        for name in crate::rules::builtins::known::capacity::WITH_SIZING {
            let value = obs.facts.iter().find(|(k, _)| k == name).map(|(_, v)| v);
            assert!(
                value.is_some_and(|v| !matches!(v, Value::Null)),
                "{name}: {value:?}"
            );
        }
        let idle = obs.facts.iter().find(|(k, _)| k == "idle_max_mib");
        assert_eq!(
            idle.map(|(_, v)| v),
            Some(&Value::Int(4 * 56)),
            "4 spare × 56 MiB"
        );
    }

    #[test]
    fn shown_commands_read_the_same_files() {
        let mut c = capacity();
        assert!(
            shown_as(&c).starts_with("grep -H ^Pss: /proc/11/smaps_rollup /proc/12/smaps_rollup ")
        );
        c.metric = Metric::Rss;
        assert!(shown_as(&c).starts_with("grep -H ^VmRSS: /proc/11/status /proc/12/status "));
    }
}
