//! Every command the default pack prints works. For each fix step's `run` and each
//! `verify` line of every conclusion, a scenario that reaches it — a real fault in a
//! private lab, or in network and mount namespaces of its own — follows the fix as
//! printed (`support::follow`): each command run exactly as given, each placed edit
//! made, then each verify line pasted into bash. A command that exits with a status its
//! step does not declare — `dmesg: bad usage`, a verify line that still says "broken"
//! after the fix — fails the test with the command and its output.
//!
//! Which scenario covers which command is checked both ways: each scenario here asserts
//! that the commands it printed and ran are exactly the ones `COVERED` gives it (matched
//! back to the pack's templates), and `every_command_of_the_pack_is_covered` asserts that
//! `COVERED`, the scenarios of other modules (`ELSEWHERE`) and the commands no host here
//! can reach (`NOT_REACHED`, each with why) are together the pack's commands: a new
//! command without a scenario fails the suite.

mod backend;
mod coverage;
pub(crate) mod network;
mod nginx;

use crate::support::Lab;
use crate::support::doctor::DoctorRun;
use crate::support::follow::{self, Fix, Plan};
use coverage::Key;
use std::collections::BTreeSet;

/// The commands each scenario here prints and runs, `node: run N` (the pack's step N)
/// or `node: verify N`; `node: *` is every command of the node not in `NOT_REACHED`.
const COVERED: &[(&str, &[&str])] = &[
    (
        "a_missing_semicolon_is_fixed_at_the_line_it_is_missing_from",
        &["config-invalid: *"],
    ),
    (
        "an_unknown_directive_is_fixed_at_the_line_nginx_names",
        &["config-invalid: *"],
    ),
    (
        "a_config_error_only_the_doctor_read_is_fixed_as_printed",
        &["config-invalid-untested: *"],
    ),
    (
        "a_stopped_nginx_with_a_missing_semicolon_starts_once_it_is_added",
        &["nginx-down-config: *"],
    ),
    (
        "a_stopped_nginx_whose_port_is_taken_starts_once_it_is_free",
        &["nginx-down-port: *"],
    ),
    (
        "a_stopped_nginx_starts_with_the_printed_command",
        &["nginx-down: *"],
    ),
    (
        "a_stopped_nginx_whose_config_was_not_tested_starts_as_printed",
        &["nginx-down-untested: *"],
    ),
    (
        "an_untested_configuration_is_tested_with_the_printed_command",
        &["healthy-untested: *"],
    ),
    (
        "a_backend_nothing_claims_is_looked_for_and_started_there",
        &["backend-down: run grep *", "backend-down: verify *"],
    ),
    (
        "a_pass_to_the_wrong_port_is_pointed_at_the_pool",
        &["backend-wrong-address: *"],
    ),
    (
        "a_backend_on_ipv6_loopback_only_gets_a_working_check",
        &["backend-wrong-family: *"],
    ),
    (
        "a_crashing_worker_gets_the_kernel_log_and_a_working_check",
        &[
            "worker-crashed: run dmesg *",
            "worker-crashed: run grep *",
            "worker-crashed: verify *",
        ],
    ),
    (
        "a_slow_app_gets_a_longer_timeout_as_printed",
        &["app-timeout: *"],
    ),
    (
        "a_backend_answering_502_gets_a_working_check",
        &["backend-sent-502: *"],
    ),
    (
        "a_protocol_mismatch_only_nginx_logged_is_corrected_as_printed",
        &["protocol-mismatch-logged: *"],
    ),
    (
        "an_untrusted_backend_certificate_gets_a_working_check",
        &["tls-refused: *"],
    ),
    (
        "an_app_that_hangs_up_gets_the_kernel_log",
        &["reset-unexplained: *"],
    ),
    (
        "a_socket_denied_for_no_reason_seen_gets_its_path_shown",
        &["socket-permission-unknown: *"],
    ),
    (
        "a_refusal_by_a_listening_port_gets_the_rules_listed",
        &["refused-while-listening: *"],
    ),
    (
        "a_backend_that_stopped_accepting_gets_its_queue_shown",
        &["connect-timeout: *"],
    ),
    (
        "a_header_too_big_gets_bigger_buffers_as_printed",
        &["header-too-big: *"],
    ),
    (
        "proxy_pass_to_php_fpm_is_corrected_as_printed",
        &["protocol-mismatch: *"],
    ),
    (
        "a_request_php_fpm_killed_gets_working_commands",
        &["request-killed: *"],
    ),
    (
        "a_slow_php_script_gets_a_longer_timeout_as_printed",
        &[
            "upstream-timeout: run {{nginx.binary}} *",
            "upstream-timeout: verify *",
        ],
    ),
    (
        "a_backend_sending_an_invalid_header_gets_its_header_shown",
        &[
            "invalid-response: run curl -sS -i -m 10 http*",
            "invalid-response: verify *",
        ],
    ),
    (
        "an_unroutable_backend_gets_its_route_shown",
        &["unreachable: *"],
    ),
];

/// Commands followed by the "fix proven" scenarios of other modules, with the same
/// helper and its exit-status checks: `module::test` and what it covers.
const ELSEWHERE: &[(&str, &[&str])] = &[
    (
        "fixes_connect::stopped_php_fpm_is_started_by_the_printed_command_and_the_page_answers",
        &[
            "backend-down: run {{backend.start*}}",
            "backend-down: verify *",
        ],
    ),
    (
        "fixes_connect::socket_permission_is_fixed_by_a_stop_and_start_not_a_reload",
        &["socket-permission: *"],
    ),
    (
        "fixes_connect::a_running_pool_whose_socket_was_removed_is_stopped_and_started",
        &["pool-not-listening: *"],
    ),
    (
        "fixes_connect::a_group_whose_servers_all_failed_answers_once_its_backend_runs_and_nginx_reloads",
        &["no-live-upstreams: *"],
    ),
    (
        "fixes_response::full_dynamic_pool_gets_the_workers_one_cpu_can_run_and_the_burst_succeeds",
        &[
            "pool-exhausted: run {{backend.binary}} *",
            "pool-exhausted: run kill -USR2 *",
            "pool-exhausted: verify *",
        ],
    ),
    (
        "fixes_response::full_ondemand_pool_is_switched_to_dynamic_and_the_burst_succeeds",
        &[
            "pool-exhausted: run {{backend.binary}} *",
            "pool-exhausted: run kill -USR2 *",
            "pool-exhausted: verify *",
        ],
    ),
    (
        "fixes_response::full_static_pool_behind_a_tiny_listen_queue_gets_workers_and_a_queue",
        &[
            "pool-exhausted: run {{backend.binary}} *",
            "pool-exhausted: run kill -QUIT *",
            "pool-exhausted: run timeout *",
            "pool-exhausted: run {{backend.start*}}",
            "pool-exhausted: verify *",
        ],
    ),
    (
        "fixes_response::slow_page_gets_a_longer_read_timeout_and_php_fpm_keeps_up",
        &["upstream-timeout: *"],
    ),
    (
        "ports_fixes::a_narrowed_port_range_gets_the_default_back_and_the_502_ends",
        &["ports-exhausted-found: *"],
    ),
    (
        "tls_fixes::a_self_signed_backend_is_trusted_as_presented_and_named_and_the_502_ends",
        &["tls-refused: *"],
    ),
    (
        "firewall_fixes::an_iptables_reject_is_deleted_as_listed_and_the_502_ends",
        &["firewall-iptables-rule: *"],
    ),
    (
        "firewall_fixes::an_nft_tcp_reset_is_deleted_by_its_handle_and_the_502_ends",
        &["firewall-nft-rule: *"],
    ),
    (
        "firewall_fixes::a_drop_policy_gets_accept_rules_for_the_backend_and_its_answers",
        &["firewall-iptables-policy: *"],
    ),
    (
        "dns_fixes::a_name_moved_in_etc_hosts_is_fixed_by_the_printed_reload",
        &[
            "stale-dns: run 0",
            "stale-dns: verify 0",
            "stale-dns: verify 1",
        ],
    ),
    (
        "dns_fixes::a_name_in_dns_gets_a_resolver_and_then_follows_a_move_without_a_reload",
        &["stale-dns: *"],
    ),
    (
        "dns_fixes::a_missing_resolver_is_added_naming_the_nameserver_that_knows_the_name",
        &["dns-unresolved: *"],
    ),
    (
        "keepalive_fixes::a_measured_idle_timeout_gives_keepalive_timeout_below_it_and_the_post_succeeds",
        &["keepalive-timeouts: *"],
    ),
    (
        "keepalive_fixes::a_backend_serving_one_request_per_connection_loses_the_keepalive_line",
        &["keepalive-unsupported: *"],
    ),
];

/// Commands no scenario on this machine reaches, and why.
const NOT_REACHED: &[(&str, &str)] = &[
    (
        "pool-exhausted-no-room: *",
        "needs a host (or cgroup) whose memory cannot hold one more busy worker; its kill -USR2 and verify line are pool-exhausted's, run there",
    ),
    (
        "*: run systemctl *",
        "systemd is not PID 1 here: the steps for systemd hosts are not printed",
    ),
    (
        "selinux-denied: *",
        "SELinux cannot be enforcing on this kernel; tests/replay.rs replays a recorded host",
    ),
    (
        "firewall-firewalld-rule: *",
        "firewalld is not installed here (and accepts loopback where it runs); tests/replay.rs replays a recorded host",
    ),
    ("firewall-ufw-rule: *", "ufw is not installed here"),
    (
        "worker-crashed: run sysctl *",
        "sets the machine-wide kernel.core_pattern, which no namespace isolates; fixes_response::crashed_worker_gets_advice_naming_its_log_and_where_a_core_dump_goes checks its argv",
    ),
    (
        "pool-exhausted-unmeasured: *",
        "the capacity check sizes every lab pool here (idle workers too): the walk goes to pool-exhausted, whose kill -USR2 this node's is",
    ),
    (
        "invalid-response: run curl * --unix-socket *",
        "the lab's HTTP backends listen on TCP; its TCP twin differs only in --unix-socket",
    ),
    (
        "firewall-nft-policy: *",
        "the drop-policy scenario runs iptables; its nft twin differs only in the tool",
    ),
];

#[test]
fn every_command_of_the_pack_is_covered() {
    let pack = coverage::pack_commands();
    let all: BTreeSet<Key> = pack.iter().map(|c| c.key.clone()).collect();
    let not_reached =
        coverage::expand(&pack, NOT_REACHED.iter().map(|(k, _)| *k), &BTreeSet::new());
    let mut covered = BTreeSet::new();
    for (_, keys) in COVERED.iter().chain(ELSEWHERE) {
        covered.extend(coverage::expand(&pack, keys.iter().copied(), &not_reached));
    }
    let missing: Vec<&Key> = all
        .difference(&covered)
        .filter(|k| !not_reached.contains(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "commands of the pack no scenario runs: {missing:#?}"
    );
    let here = include_str!("fix_commands/nginx.rs").to_owned()
        + include_str!("fix_commands/backend.rs")
        + include_str!("fix_commands/network.rs");
    for (test, _) in COVERED {
        assert!(
            here.contains(&format!("fn {test}()")),
            "{test} is no test here"
        );
    }
    let sources = [
        ("fixes_connect", include_str!("fixes_connect.rs")),
        ("fixes_response", include_str!("fixes_response.rs")),
        ("ports_fixes", include_str!("ports_fixes.rs")),
        ("tls_fixes", include_str!("tls_fixes.rs")),
        ("firewall_fixes", include_str!("firewall_fixes.rs")),
        ("dns_fixes", include_str!("dns_fixes.rs")),
        ("keepalive_fixes", include_str!("keepalive_fixes.rs")),
    ];
    for (path, _) in ELSEWHERE {
        let (module, test) = path.split_once("::").expect("module::test");
        let source = sources.iter().find(|(m, _)| *m == module).map(|(_, s)| s);
        let found = source.is_some_and(|s| s.contains(&format!("fn {test}()")));
        assert!(found, "{path} is no test");
    }
}

/// `--auto --format json` on the lab: a diagnosis (exit 0 or 1), not an error.
fn diagnose(lab: &Lab) -> DoctorRun {
    let run = lab.doctor(&["--auto", "--format", "json"]);
    assert!(matches!(run.status, 0 | 1), "exit status\n{run}");
    run
}

/// Follows the fix of the finding `node` made as printed, runs its verify lines
/// (asserting their declared exit statuses), and asserts that the commands it printed
/// are the ones `COVERED` gives `test`. Returns the fix.
fn prove(lab: &Lab, run: &DoctorRun, node: &str, plan: Plan, test: &str) -> Fix {
    let fix = Fix::of_node(run, node);
    let pack = coverage::pack_commands();
    let printed = coverage::printed(&pack, &fix);
    follow::follow_fix(lab, &fix, plan);
    if !fix.verify.is_empty() {
        follow::verify_fix(lab, &fix);
    }
    // An ignored scenario (listed in NOT_REACHED) covers its node when it is run.
    let Some((_, declared)) = COVERED.iter().find(|(t, _)| *t == test) else {
        return fix;
    };
    let not_reached =
        coverage::expand(&pack, NOT_REACHED.iter().map(|(k, _)| *k), &BTreeSet::new());
    let declared = coverage::expand(&pack, declared.iter().copied(), &not_reached);
    assert_eq!(
        printed, declared,
        "what {test} printed and ran vs COVERED\n{run}"
    );
    fix
}
