//! Whole reports, checked as snapshots: for a representative set of real faults the text,
//! Markdown and JSON reports of `nginx-doctor --auto` are compared with the files under
//! `tests/snapshots/`, so that a layout regression, a paragraph printed twice or an
//! unknown placeholder shows in review as a diff of what a person reads. The assertions
//! elsewhere check ids and quotes; these check everything else.
//!
//! What differs from run to run is redacted before comparing ([`REDACTIONS`]): the lab's
//! temp directory, ports, pids, nginx's connection numbers, clock times, durations and the
//! host name. Nothing timed is compared, so a snapshot holds on any machine and under load.
//!
//! Reviewing a change: a failing test prints the diff. When the new report is right,
//! accept it with `INSTA_UPDATE=always cargo nextest run --locked report_snapshots`
//! (insta rewrites the `.snap` files; `cargo insta` is not installed here), then read
//! `git diff tests/snapshots/` before committing. With `CI=true` (as `.ci/run` runs)
//! insta never writes a file: a mismatch fails the test.

use crate::support::doctor::DoctorRun;
use crate::support::faults::PHP;
use crate::support::lab::is_root;
use crate::support::logs::wait_for_line;
use crate::support::net::free_port;
use crate::support::{Lab, Pass, Pool};
use std::fs::{self, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// The report formats, each with the arguments that ask for it.
const FORMATS: &[(&str, &[&str])] = &[
    ("text", &["--auto"]),
    ("markdown", &["--auto", "--format", "markdown"]),
    ("json", &["--auto", "--format", "json"]),
];

/// Pattern → replacement, applied in order to every report before it is compared (after
/// the values a test names, see [`assert_reports`]).
const REDACTIONS: &[(&str, &str)] = &[
    (r"/tmp/ngxlab-[A-Za-z0-9]+", "[LAB]"),
    (r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}", "[DATE TIME]"),
    (r"\[\d{2}-[A-Z][a-z]{2}-\d{4} ", "[[DATE] "),
    (r"\b\d{2}:\d{2}:\d{2}\b", "[TIME]"),
    (r"\b\d+#\d+: \*\d+ ", "[PID]#[TID]: *[CONN] "),
    (r"\b\d+#\d+: ", "[PID]#[TID]: "),
    (r"(127\.0\.0\.1|\[::1\]|localhost):\d+", "$1:[PORT]"),
    (r#""duration_ms": \d+"#, r#""duration_ms": [MS]"#),
    (r"\| \d+ \|\n", "| [MS] |\n"),
    (r#""hostname": "[^"]*""#, r#""hostname": "[HOST]""#),
    (r"host ` [^`]+ `", "host ` [HOST] `"),
    (
        r"(\bpid|\bmaster|\bprocess| -p| -USR2| -HUP| -QUIT) \d+",
        "$1 [PID]",
    ),
    (r#""(-p|-USR2|-HUP|-QUIT)",(\s*)"\d+""#, r#""$1",$2"[PID]""#),
    (r"/proc/\d+/", "/proc/[PID]/"),
    (r"\b1[6-9]\d{8}\b", "[UNIX TIME]"),
    // What the host has: memory, and the programs that use it, differ on every machine.
    (r"\b\d+ MiB\b", "[N] MiB"),
    (r"\b\d+ of \[N\] MiB", "[N] of [N] MiB"),
    (r"per worker = \d+", "per worker = [N]"),
    (
        r"\d+ waiting of a backlog of \d+",
        "[N] waiting of a backlog of [N]",
    ),
    (
        r#"most memory besides the pool: [^\n"\\]*"#,
        "most memory besides the pool: [PROGRAMS]",
    ),
    (r"php\.ini:\d+", "php.ini:[LINE]"),
    // Another nginx on the machine running the tests (a developer's own) is named too.
    (
        r#"(\\n)?other nginx masters run: [^\n"]*; diagnose one with --conf"#,
        "",
    ),
    (r#"; other nginx masters: [^\n"]*"#, ""),
];

/// Bound on php-fpm writing what it saw (its maintenance ticks once a second).
const FPM_LOG_WAIT: Duration = Duration::from_secs(5);

/// Checks the lab's report in every format against `NAME.FORMAT` snapshots; each run must
/// exit with `exit`. `known` names values the test chose (a port, as `[FPM PORT]`), so
/// the snapshot says which is which; nginx's own port is always `[NGINX PORT]`.
fn assert_reports(name: &str, lab: &Lab, exit: i32, known: &[(String, &str)]) {
    if !is_root() {
        // A report made without root reads less of the host: another report.
        return eprintln!("skipped the {name} snapshots: they are taken as root");
    }
    let nginx_port = (lab.nginx_info().port.to_string(), "[NGINX PORT]");
    let known: Vec<(String, &str)> = known.iter().cloned().chain([nginx_port]).collect();
    for (format, args) in FORMATS {
        let run = lab.doctor(args);
        assert_eq!(run.status, exit, "{format} report's exit status\n{run}");
        assert_report(&format!("{name}.{format}"), &run, &known);
    }
}

/// Compares one report, redacted, with its snapshot.
fn assert_report(snapshot: &str, run: &DoctorRun, known: &[(String, &str)]) {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    for (value, label) in known {
        settings.add_filter(&format!(r"\b{}\b", regex::escape(value)), *label);
    }
    for (pattern, replacement) in REDACTIONS {
        settings.add_filter(pattern, *replacement);
    }
    settings.bind(|| insta::assert_snapshot!(snapshot, run.stdout));
}

#[test]
fn backend_down_behind_a_unix_socket() {
    let (lab, _) = Lab::stopped_fpm_scenario();
    assert_reports("backend_down_unix_socket", &lab, 1, &[]);
}

#[test]
fn read_timeout_504() {
    let lab = Lab::new();
    lab.php_with_read_timeout(Pool::unix("www").max_children(5), "1s");
    assert_eq!(lab.get("/sleep.php?s=3"), 504);
    assert_reports("read_timeout_504", &lab, 1, &[]);
}

#[test]
fn pool_exhausted() {
    let lab = Lab::new();
    // On one CPU, so that the pool size the fix gives (4 workers per CPU) is the same on
    // any machine.
    let one_cpu = ["taskset", "-c", "0"].map(String::from);
    let fpm = lab.php_fpm_under(&one_cpu, Pool::unix("www").max_children(1));
    lab.pass_php_with_read_timeout(&fpm, "1s");
    // Every request waits longer than the read timeout, the one php-fpm runs and the
    // two it queues: three 504s, always, so the report's counts never vary.
    assert_eq!(lab.get_many("/sleep.php?s=3", 3), [504, 504, 504]);
    let full = "server reached pm.max_children setting (1)";
    wait_for_line(&fpm.log, full, FPM_LOG_WAIT);
    assert_reports("pool_exhausted", &lab, 1, &[]);
}

#[test]
fn php_fpm_on_another_port() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::tcp("www"));
    let elsewhere = free_port();
    assert_ne!(fpm.tcp_addr(), elsewhere);
    lab.nginx(|c| c.location(PHP, Pass::fastcgi_to(elsewhere)));
    assert_eq!(lab.get("/ok.php"), 502);
    let ports = [
        (fpm.tcp_addr().port().to_string(), "[FPM PORT]"),
        (elsewhere.port().to_string(), "[WRONG PORT]"),
    ];
    assert_reports("wrong_port", &lab, 1, &ports);
}

#[test]
fn healthy_host() {
    let lab = crate::scenarios::healthy_lab();
    assert_reports("healthy_host", &lab, 0, &[]);
}

/// The stopped-backend lab with every log root's alone, diagnosed as `nobody`: the
/// report says the diagnosis is incomplete and how to rerun it. Needs root (to become
/// nobody); skipped, saying so, elsewhere.
#[test]
fn error_log_unreadable() {
    let (lab, _) = Lab::stopped_fpm_scenario();
    for entry in fs::read_dir(lab.dir()).expect("lab dir").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "log") {
            fs::set_permissions(&path, Permissions::from_mode(0o600)).expect("chmod 600");
        }
    }
    let conf = lab.path("nginx.conf").display().to_string();
    for (format, args) in FORMATS {
        let args: Vec<&str> = args.iter().copied().chain(["--conf", &conf]).collect();
        let Some(run) = crate::degraded::doctor_as_nobody(&args, lab.dir()) else {
            return;
        };
        assert_eq!(run.status, 3, "{format} report's exit status\n{run}");
        assert_report(&format!("error_log_unreadable.{format}"), &run, &[]);
    }
}
