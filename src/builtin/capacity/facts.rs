//! The `capacity` built-in's facts and notes: the measured numbers in whole
//! MiB, the recommendation with its arithmetic, and the commands a person
//! would run to see the same numbers.

use super::memory::{Consumer, Metric};
use super::{Capacity, Out};
use crate::host::Sourced;

pub(super) fn report(c: &Capacity, out: &mut Out) {
    let s = &c.sizing;
    let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    out.set("pool", c.pool.clone());
    out.set("workers", int(c.pids.len() as u64));
    out.set("measured_with", c.metric.as_str());
    out.set("pss_avg_mib", int(s.avg_mib));
    out.set("pss_max_mib", int(s.max_mib));
    out.set("per_worker_mib", int(s.max_mib));
    out.set("mem_available_mib", int(c.mem.available_kib / 1024));
    out.set("mem_total_mib", int(c.mem.total_kib / 1024));
    out.set(
        "mem_limit_mib",
        c.limit.as_ref().map(|l| int(l.limit_kib / 1024)),
    );
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
    use crate::builtin::capacity::memory::MemInfo;
    use crate::builtin::capacity::sizing::{self, Inputs};
    use crate::value::Value;
    use std::path::PathBuf;

    fn capacity() -> Capacity {
        let inputs = Inputs {
            workers_kib: vec![40 * 1024, 56 * 1024],
            available_kib: 1000 * 1024,
            cgroup: false,
        };
        Capacity {
            pool: "www".into(),
            pids: vec![11, 12],
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
            sizing: sizing::size(&inputs).unwrap(),
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
        assert_eq!(fact("recommended_max_children"), Some(Value::Int(15)));
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
                "(1000 MiB available + 2 × 48 MiB in use) × 0.8 ÷ 56 MiB per worker (the largest) = 15"
            ))
        );
    }

    #[test]
    fn shown_commands_read_the_same_files() {
        let mut c = capacity();
        assert!(
            shown_as(&c).starts_with("grep -H ^Pss: /proc/11/smaps_rollup /proc/12/smaps_rollup;")
        );
        c.metric = Metric::Rss;
        assert!(shown_as(&c).starts_with("grep -H ^VmRSS: /proc/11/status /proc/12/status;"));
    }
}
