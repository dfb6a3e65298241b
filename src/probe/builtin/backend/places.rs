//! Where the settings a fix changes are written in the pool's files, so a
//! step can send a person to the lines themselves: `pm` and its limits
//! (lines 116–142 of Debian's www.conf), the socket's owner, group and
//! mode (53–55, the mode commented out), the slow log, the request
//! timeout. A setting not in effect is found where the section has it
//! commented out, as distributions ship their defaults; one written
//! nowhere goes right after the pool's `[name]` line.

use super::Out;
use crate::host::fpm_conf::Pool;

/// The groups of settings fix steps edit together, by the name of their
/// facts (`pm_file`, `pm_lines`, `pm_at`).
pub const GROUPS: &[(&str, &[&str])] = &[
    (
        "pm",
        &[
            "pm",
            "pm.max_children",
            "pm.start_servers",
            "pm.min_spare_servers",
            "pm.max_spare_servers",
        ],
    ),
    ("socket", &["listen.owner", "listen.group", "listen.mode"]),
    ("slowlog", &["request_slowlog_timeout", "slowlog"]),
    ("terminate", &["request_terminate_timeout"]),
    ("backlog", &["listen.backlog"]),
];

/// Sets `<group>_file`, `<group>_lines` (`53-55`, for a step's `line`)
/// and `<group>_at` (`file:53-55`, for people) of every group.
pub(super) fn describe(pool: &Pool, out: &mut Out) {
    for (name, keys) in GROUPS {
        let span = pool.span(keys);
        out.set(&format!("{name}_file"), span.file.display().to_string());
        out.set(&format!("{name}_lines"), span.lines());
        out.set(&format!("{name}_at"), span.location());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::fpm_conf::{self, ParseOptions};
    use std::path::Path;

    /// Debian's stock pool (tests/fixtures/php-fpm/debian is a copy of the
    /// files php8.2-fpm installs).
    fn debian_www() -> Pool {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/php-fpm/debian");
        let opts = ParseOptions {
            prefix: None,
            root: Some(root),
        };
        let conf = fpm_conf::parse_with(Path::new("/etc/php/8.2/fpm/php-fpm.conf"), &opts)
            .expect("the fixture parses");
        conf.pool("www").expect("pool www").clone()
    }

    fn lines(group: &str) -> String {
        let keys = GROUPS.iter().find(|(n, _)| *n == group).expect("a group").1;
        debian_www().span(keys).lines()
    }

    #[test]
    fn the_pool_limits_are_cited_at_lines_116_to_142_not_127() {
        assert_eq!(lines("pm"), "116-142");
    }

    #[test]
    fn the_socket_settings_are_cited_at_lines_53_to_55_not_the_section() {
        assert_eq!(lines("socket"), "53-55");
    }

    #[test]
    fn settings_shipped_commented_out_are_cited_where_they_are_commented() {
        assert_eq!(lines("slowlog"), "375-381");
        assert_eq!(lines("terminate"), "392");
    }

    #[test]
    fn a_pool_found_sets_every_fact_it_promises() {
        let mut out = Out::default();
        let pool = debian_www();
        super::super::describe_pool(&pool, &mut out);
        describe(&pool, &mut out);
        for name in crate::rules::builtins::known::backend::WITH_POOL {
            assert!(out.has(name), "{name}");
        }
    }

    #[test]
    fn every_group_has_its_facts_in_the_builtin_table() {
        let backend = crate::probe::builtin::info("backend").expect("backend is a built-in");
        for (name, _) in GROUPS {
            for fact in ["file", "lines", "at"] {
                let fact = format!("{name}_{fact}");
                assert!(backend.facts.contains(&fact.as_str()), "{fact}");
            }
        }
    }
}
