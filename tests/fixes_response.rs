//! The php-fpm response-phase fixes, proven by doing them (see `fixes_connect`): a full
//! pool in each process manager's way of showing it, a pool the host cannot grow, a request
//! php-fpm kills, a page slower than nginx waits, a header too big for nginx's buffer.
//!
//! php-fpm is pinned to one CPU (`taskset -c 0`, as a cpuset or CPUAffinity would), so the
//! sizing's CPU ceiling is the same on any machine: 4 workers. Pages that hold a worker
//! are written per test; their length and nginx's timeout are what make the fault.

use crate::fixes_connect::{assert_fixed, diagnosed};
use crate::support::faults::PHP;
use crate::support::fix::Fix;
use crate::support::fpm::Fpm;
use crate::support::logs::{read_lossy, wait_for_line};
use crate::support::{Lab, Pass, Pool};
use std::path::Path;
use std::time::Duration;

/// php-fpm writes what it saw on its next maintenance tick (once a second).
const FPM_LOG_WAIT: Duration = Duration::from_secs(5);

/// A page that holds a worker for `secs` seconds.
fn slow_page(lab: &Lab, name: &str, secs: u32) -> String {
    lab.write_www(name, &format!("<?php sleep({secs}); echo \"done\\n\";\n"));
    format!("/{name}")
}

/// php-fpm with `pool`, allowed one CPU.
fn pinned_fpm(lab: &Lab, pool: Pool) -> Fpm {
    let launcher = ["taskset", "-c", "0"].map(str::to_owned);
    lab.php_fpm_under(&launcher, pool)
}

/// The fix's pool edit, applied as printed, leaves these settings in the pool file.
fn pool_file_has(fpm: &Fpm, settings: &[&str]) {
    let conf = read_lossy(&fpm.conf);
    for s in settings {
        assert!(conf.lines().any(|l| l.trim() == *s), "no {s:?} in\n{conf}");
    }
}

/// A lab whose pinned `pool` serves `page` (holding a worker `secs` seconds) behind an
/// nginx that waits `timeout`; a burst of `burst` requests gets at least one `status`.
struct Burst {
    lab: Lab,
    fpm: Fpm,
    page: String,
    burst: usize,
}

impl Burst {
    fn fails(pool: Pool, secs: u32, timeout: &str, burst: usize, status: u16) -> Burst {
        let lab = Lab::new();
        let page = slow_page(&lab, "report.php", secs);
        let fpm = pinned_fpm(&lab, pool);
        lab.nginx(|c| {
            c.server(&format!("fastcgi_read_timeout {timeout}"))
                .location(PHP, Pass::fastcgi(&fpm))
        });
        let statuses = lab.get_many(&page, burst);
        assert!(statuses.contains(&status), "statuses {statuses:?}");
        Burst {
            lab,
            fpm,
            page,
            burst,
        }
    }

    /// Follows `fix`; then the same burst gets only 200s, nginx logs nothing new about the
    /// pool, and the verify line's burst (as many as the 4 workers) gets four 200s.
    fn fixed_by(&self, fix: &Fix) -> Fpm {
        let mark = self.lab.error_log_mark();
        let fpm = self.lab.follow_fix(fix, Some(&self.fpm)).expect("php-fpm");
        let statuses = self.lab.get_many(&self.page, self.burst);
        assert!(statuses.iter().all(|&s| s == 200), "statuses {statuses:?}");
        let sock = fpm.socket_path().display().to_string();
        let four = "200\n200\n200\n200";
        assert_fixed(&self.lab, fix, mark, &sock, &self.page, &[four]);
        fpm
    }
}

#[test]
fn full_dynamic_pool_gets_the_workers_one_cpu_can_run_and_the_burst_succeeds() {
    let b = Burst::fails(Pool::unix("www").max_children(1), 2, "7s", 4, 504);
    let fpm_log = &b.fpm.log;
    wait_for_line(
        fpm_log,
        "server reached pm.max_children setting (1)",
        FPM_LOG_WAIT,
    );

    let (run, fix) = diagnosed(&b.lab, "backend-pool-exhausted", None);
    let quotes = |text: &str| run.assert_evidence_quotes("backend-pool-exhausted", text);
    quotes("CPUs: 1, from the CPUs php-fpm master");
    quotes("PHP memory_limit: 128M");
    let edit = fix.step("Set the limits of pool");
    assert_eq!(
        edit.snippet.as_deref(),
        Some(
            "pm.max_children = 4\npm.start_servers = 1\npm.min_spare_servers = 1\npm.max_spare_servers = 2"
        ),
        "one CPU × 4, whatever the memory; start_servers between the spares"
    );
    assert!(
        fix.commands().iter().any(|c| c[..2] == ["kill", "-USR2"]),
        "{fix:?}"
    );

    let fpm = b.fixed_by(&fix);
    pool_file_has(&fpm, &["pm.max_children = 4", "pm.max_spare_servers = 2"]);
    let workers = fpm.workers();
    assert!(
        workers.len() <= 4,
        "at most the 4 workers asked for: {workers:?}"
    );
}

/// An ondemand pool cannot absorb a burst whatever its pm.max_children: its master forks
/// one worker per wake-up of the listening socket's edge-triggered event, so connections
/// that arrive together wait for one worker (measured: 200 200 200 504 with four allowed).
/// The fix switches it to pm = dynamic, sized; a reload (USR2) applies that.
#[test]
fn full_ondemand_pool_is_switched_to_dynamic_and_the_burst_succeeds() {
    let b = Burst::fails(
        Pool::unix("www").pm_ondemand().max_children(1),
        2,
        "7s",
        4,
        504,
    );
    wait_for_line(
        &b.fpm.log,
        "server reached max_children setting (1)",
        FPM_LOG_WAIT,
    );

    let (_, fix) = diagnosed(&b.lab, "backend-pool-exhausted", None);
    let edit = fix.step("Switch it to pm = dynamic");
    assert_eq!(
        edit.snippet.as_deref(),
        Some(
            "pm = dynamic\npm.max_children = 4\npm.start_servers = 1\npm.min_spare_servers = 1\npm.max_spare_servers = 2"
        ),
        "dynamic, sized like the dynamic pool"
    );
    assert!(
        edit.text.contains("at most 200 MiB (2 × 100 MiB"),
        "the idle workers' cost: {}",
        edit.text
    );
    let commands: Vec<String> = fix.commands().iter().map(|c| c.join(" ")).collect();
    assert!(
        commands.contains(&format!("kill -USR2 {}", b.fpm.pid)),
        "a reload applies pm = dynamic: {commands:?}"
    );

    let fpm = b.fixed_by(&fix);
    pool_file_has(&fpm, &["pm = dynamic", "pm.max_children = 4"]);
    assert!(
        !read_lossy(&fpm.conf).contains("pm = ondemand"),
        "the ondemand line was replaced"
    );
}

#[test]
fn full_static_pool_behind_a_tiny_listen_queue_gets_workers_and_a_queue() {
    let pool = Pool::unix("www").pm_static().max_children(1).backlog(1);
    let b = Burst::fails(pool, 2, "20s", 6, 502);
    b.lab
        .error_log_line("(11: Resource temporarily unavailable)");

    let (_, fix) = diagnosed(&b.lab, "backend-pool-exhausted", None);
    assert_eq!(
        fix.step("Set pm.max_children").snippet.as_deref(),
        Some("pm.max_children = 4")
    );
    assert_eq!(
        fix.step("listen queue holds only 1").snippet.as_deref(),
        Some("listen.backlog = -1")
    );
    let commands: Vec<String> = fix.commands().iter().map(|c| c.join(" ")).collect();
    assert!(
        commands.contains(&format!("kill -QUIT {}", b.fpm.pid))
            && !commands.iter().any(|c| c.contains("USR2")),
        "a new listen queue takes a stop and a start: {commands:?}"
    );

    let fpm = b.fixed_by(&fix);
    pool_file_has(&fpm, &["pm.max_children = 4", "listen.backlog = -1"]);
}

/// A full pool whose configuration file is gone since php-fpm started (a redeploy moved
/// it): the doctor still measures and sizes the running pool, and the fix names the
/// settings and their section in words instead of a file it cannot cite.
#[test]
fn full_pool_whose_configuration_is_gone_gets_the_sized_settings_in_words() {
    let pool = Pool::unix("www").pm_static().max_children(1).backlog(1);
    let b = Burst::fails(pool, 2, "20s", 6, 502);
    b.lab
        .error_log_line("(11: Resource temporarily unavailable)");
    let moved = b.fpm.conf.with_extension("conf.moved");
    std::fs::rename(&b.fpm.conf, &moved).expect("move the configuration away");

    let (run, fix) = diagnosed(&b.lab, "backend-pool-exhausted", None);
    assert_eq!(run.findings()[0]["node"], "pool-exhausted", "{run}");
    let edit = fix.step("The configuration of pool www was not found here");
    assert!(edit.file.is_none(), "no file to cite: {edit:?}");
    assert_eq!(
        edit.snippet.as_deref(),
        Some(
            "pm = dynamic\npm.max_children = 4\npm.start_servers = 1\npm.min_spare_servers = 1\npm.max_spare_servers = 2"
        )
    );
    assert!(
        edit.text
            .contains("in its section ([www]) of the pool file"),
        "{}",
        edit.text
    );
}

#[test]
fn pool_at_its_cpu_ceiling_gets_no_more_workers_but_a_slow_log_naming_the_page() {
    let b = Burst::fails(Pool::unix("www").max_children(4), 3, "5s", 6, 504);
    let (lab, fpm, page) = (&b.lab, &b.fpm, &b.page);
    wait_for_line(
        &fpm.log,
        "server reached pm.max_children setting (4)",
        FPM_LOG_WAIT,
    );

    let (run, fix) = diagnosed(lab, "backend-pool-exhausted", None);
    assert_eq!(run.findings()[0]["node"], "pool-exhausted-no-room", "{run}");
    let raised = fix.steps.iter().any(|s| {
        s.snippet
            .as_deref()
            .is_some_and(|t| t.contains("max_children"))
    });
    assert!(!raised, "no more workers than the CPU can run: {fix:?}");

    lab.follow_fix(&fix, Some(fpm));
    pool_file_has(fpm, &["request_slowlog_timeout = 2s"]);
    assert_eq!(lab.get(page), 200, "one request alone is served in time");
    let runs = lab.run_verify(&fix);
    assert_eq!(runs[0].status, 0, "{}", runs[0]);
    assert!(
        runs[0].stdout.contains("report.php"),
        "the slow log names the page\n{}",
        runs[0]
    );
}

#[test]
fn killed_request_gets_php_fpm_the_same_limit_as_nginx_and_succeeds() {
    let lab = Lab::new();
    let page = slow_page(&lab, "report.php", 3);
    let fpm = lab.php_with_read_timeout(Pool::unix("www").terminate_timeout("1s"), "10s");
    assert_eq!(lab.get(&page), 502);
    wait_for_line(&fpm.log, "execution timed out", FPM_LOG_WAIT);

    let (_, fix) = diagnosed(&lab, "backend-request-killed", None);
    let align = fix.step("Set request_terminate_timeout");
    assert_eq!(
        align.snippet.as_deref(),
        Some("request_terminate_timeout = 10s")
    );

    let mark = lab.error_log_mark();
    let fpm = lab.follow_fix(&fix, Some(&fpm)).expect("php-fpm");
    pool_file_has(&fpm, &["request_terminate_timeout = 10s"]);
    let sock = fpm.socket_path().display().to_string();
    assert_fixed(&lab, &fix, mark, &sock, &page, &["200 in "]);
}

#[test]
fn slow_page_gets_a_longer_read_timeout_and_php_fpm_keeps_up() {
    let lab = Lab::new();
    let page = slow_page(&lab, "report.php", 2);
    let fpm = lab.php_with_read_timeout(Pool::unix("www").terminate_timeout("10s"), "1s");
    assert_eq!(lab.get(&page), 504);

    let (_, fix) = diagnosed(&lab, "upstream-timeout", None);
    assert_eq!(
        fix.step("raise the read timeout").snippet.as_deref(),
        Some("fastcgi_read_timeout 300s;")
    );
    assert_eq!(
        fix.step("raise request_terminate_timeout")
            .snippet
            .as_deref(),
        Some("request_terminate_timeout = 300s"),
        "php-fpm's 10s would kill what nginx now waits for"
    );

    let mark = lab.error_log_mark();
    let fpm = lab.follow_fix(&fix, Some(&fpm)).expect("php-fpm");
    let sock = fpm.socket_path().display().to_string();
    assert_fixed(&lab, &fix, mark, &sock, &page, &["200 in "]);
}

#[test]
fn big_php_header_gets_bigger_buffers_and_the_page_answers() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get("/bighdr.php"), 502);

    let (_, fix) = diagnosed(&lab, "header-too-big", None);
    let mark = lab.error_log_mark();
    lab.follow_fix(&fix, Some(&fpm));
    let conf = read_lossy(&lab.path("nginx.conf"));
    assert!(conf.contains("fastcgi_busy_buffers_size 32k;"), "{conf}");
    let sock = fpm.socket_path().display().to_string();
    assert_fixed(&lab, &fix, mark, &sock, "/bighdr.php", &["200"]);
}

/// A crash has no fix to prove: the advice must be concrete on this host. Its log command
/// prints the crash, and the place it says core dumps go exists (the kernel's own pattern
/// decides which: a program it pipes to, an absolute path, or /tmp instead of a worker's
/// working directory; the test never changes the machine-wide pattern).
#[test]
fn crashed_worker_gets_advice_naming_its_log_and_where_a_core_dump_goes() {
    let lab = Lab::new();
    lab.write_www("crash.php", "<?php posix_kill(posix_getpid(), 11);\n");
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get("/crash.php"), 502);
    wait_for_line(&fpm.log, "exited on signal 11", FPM_LOG_WAIT);

    let (_, fix) = diagnosed(&lab, "backend-crashed", None);
    let keep = fix.step("Keep the crash lines");
    let printed = lab.run_printed(keep.command.as_deref().expect("a command"));
    assert!(printed.stdout.contains("exited on signal 11"), "{printed}");
    let dumpable = fix.step("leave a core dump");
    assert!(dumpable.text.contains(&fpm.conf.display().to_string()));

    let pattern = read_lossy(Path::new("/proc/sys/kernel/core_pattern"));
    let pattern = pattern.trim();
    let goes_to = if let Some(pipe) = pattern.strip_prefix('|') {
        let handler = pipe.split_whitespace().next().unwrap_or_default();
        assert!(
            fix.step("Core dumps go to the program")
                .text
                .contains(handler)
        );
        Path::new(handler).to_path_buf()
    } else if pattern.starts_with('/') {
        assert!(
            fix.step("The kernel writes core dumps as")
                .text
                .contains(pattern)
        );
        Path::new(pattern)
            .parent()
            .expect("a directory")
            .to_path_buf()
    } else {
        let redirect = fix.step("write them to /tmp instead");
        let argv = redirect.command.clone().unwrap_or_default();
        assert_eq!(
            argv,
            ["sysctl", "-w", "kernel.core_pattern=/tmp/core-%e.%p"]
        );
        Path::new("/tmp").to_path_buf()
    };
    assert!(goes_to.exists(), "{} does not exist", goes_to.display());
}
