//! `--auto` changes nothing: on real faults, every file under the lab (the
//! configs, sockets, logs, pid files) and every process of the lab are the
//! same after a diagnosis as before it. With nginx stopped, `nginx -t` would
//! create the pid file, temp directories and logs its configuration names:
//! the doctor still tests the configuration, and nothing under the lab,
//! /run, /var/lib/nginx, /var/cache/nginx or /var/log/nginx changes.

use serde_json::Value;

use crate::support::doctor::DoctorRun;
use crate::support::faults::PHP;
use crate::support::lab::is_root;
use crate::support::tree::{self, assert_unchanged};
use crate::support::{Lab, Pass, Pool};

fn processes() -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// Runs `--auto` on `lab` and proves it changed nothing there.
fn assert_read_only(lab: &Lab, expected: &str) {
    let lab_pids = lab.pids();
    let before = tree::snapshot(&[lab.dir()]);
    let procs_before = processes();
    let run = lab.doctor(&["--auto", "--format", "json"]);
    run.assert_first(expected);
    assert_unchanged(&before, &tree::snapshot(&[lab.dir()]), &run);
    let procs_after = processes();
    for pid in lab_pids {
        assert!(
            procs_after.contains(&pid),
            "lab process {pid} is gone after the diagnosis"
        );
    }
    let new_children: Vec<_> = procs_after
        .iter()
        .filter(|p| !procs_before.contains(p))
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.contains("ngxlab"))
        })
        .collect();
    assert!(
        new_children.is_empty(),
        "the diagnosis left processes behind: {new_children:?}"
    );
}

#[test]
fn diagnosing_a_stopped_backend_changes_nothing() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    lab.stop(fpm.pid);
    assert_eq!(lab.get("/ok.php"), 502);
    assert_read_only(&lab, "backend-down");
}

#[test]
fn diagnosing_a_full_pool_changes_nothing() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::tcp("www").max_children(1));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm).with("fastcgi_read_timeout 1s;")));
    let statuses = lab.get_many("/sleep.php?s=3", 3);
    assert!(statuses.contains(&504), "{statuses:?}");
    crate::support::logs::wait_for_line(
        &fpm.log,
        "max_children",
        std::time::Duration::from_secs(5),
    );
    assert_read_only(&lab, "backend-pool-exhausted");
}

#[test]
fn diagnosing_a_healthy_host_changes_nothing() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get("/ok.php"), 200);
    assert_read_only(&lab, "no-fault-found");
}

/// Writes a configuration for a stopped nginx whose pid file, logs, temp
/// and cache paths and unix socket are inside the lab and do not exist;
/// `server` adds directives to its server.
pub(crate) fn stopped_nginx(lab: &Lab, server: &[&str]) -> std::path::PathBuf {
    let cache = format!(
        "proxy_cache_path {} keys_zone=lab:1m",
        lab.path("cache").display()
    );
    let socket = format!("listen unix:{}", lab.path("nginx.sock").display());
    let conf = lab.nginx_stopped(|c| {
        for d in server {
            c.server(d);
        }
        c.http(&cache).server(&socket).location("/", Pass::files())
    });
    let created = [
        "nginx.pid",
        "error.log",
        "access.log",
        "tmp/proxy",
        "cache",
        "nginx.sock",
    ];
    for rel in created {
        assert!(!lab.path(rel).exists(), "{rel} exists before the run");
    }
    conf
}

/// The `nginx-test` check of a report.
pub(crate) fn config_test(run: &DoctorRun) -> &Value {
    let checks = run.json["checks"].as_array();
    let found = checks.and_then(|c| c.iter().find(|c| c["probe"] == "nginx-test"));
    found.unwrap_or_else(|| panic!("no nginx-test check\n{run}"))
}

/// Runs `--auto` on the lab with nginx stopped; proves nothing changed.
fn diagnose_stopped(lab: &Lab) -> DoctorRun {
    let before = tree::lab_and_host(lab.dir());
    let run = lab.doctor(&["--auto", "--format", "json"]);
    assert_unchanged(&before, &tree::lab_and_host(lab.dir()), &run);
    run
}

#[test]
fn testing_the_config_of_a_stopped_nginx_writes_nothing() {
    let lab = Lab::new();
    stopped_nginx(&lab, &[]);
    let run = diagnose_stopped(&lab);
    let test = config_test(&run);
    if !is_root() {
        assert_eq!(test["status"], "would-write", "{run}");
        return;
    }
    assert_eq!(test["status"], "ok", "{run}");
    let excerpt = test["excerpt"].as_str().unwrap_or_default();
    assert!(excerpt.contains("test is successful"), "{run}");
    let how = test["reason"].as_str().unwrap_or_default();
    assert!(how.starts_with("run in a private mount namespace"), "{run}");
}

#[test]
fn an_invalid_config_of_a_stopped_nginx_is_reported_and_nothing_written() {
    let lab = Lab::new();
    let conf = stopped_nginx(&lab, &[]);
    lab.break_config("bogus_directive on;");
    let text = std::fs::read_to_string(&conf).expect("read nginx.conf");
    let line = 1 + text
        .lines()
        .position(|l| l.contains("bogus_directive"))
        .expect("broken");
    let run = diagnose_stopped(&lab);
    if !is_root() {
        assert_eq!(config_test(&run)["status"], "would-write", "{run}");
        return;
    }
    // A stopped nginx whose configuration does not load is nginx-down, with
    // nginx's words and where.
    assert_eq!(run.status, 1, "{run}");
    run.assert_first("nginx-down");
    run.assert_evidence_quotes("nginx-down", "unknown directive \"bogus_directive\"");
    run.assert_evidence_quotes("nginx-down", &format!("at {}:{line}", conf.display()));
}

#[test]
fn a_config_that_fails_after_nginx_wrote_is_reported_and_nothing_written() {
    // nginx -t binds after it created the pid file, temp paths and logs,
    // and then writes the bind error into the error log it opened.
    let lab = Lab::new();
    stopped_nginx(&lab, &["listen 192.0.2.1:8080"]);
    let run = diagnose_stopped(&lab);
    if !is_root() {
        assert_eq!(config_test(&run)["status"], "would-write", "{run}");
        return;
    }
    assert_eq!(run.status, 1, "{run}");
    run.assert_first("nginx-down");
    run.assert_evidence_quotes(
        "nginx-down",
        "bind() to 192.0.2.1:8080 failed (99: Cannot assign requested address)",
    );
}

#[test]
fn a_write_nothing_foresaw_is_refused_and_the_config_test_still_passes() {
    // A geo range base of more than 100000 entries from one include makes
    // nginx -t write a compiled copy beside it (`geo.conf.bin`), in a
    // directory no pid file, log or temp path names: it stays read-only.
    let lab = Lab::new();
    let conf_d = lab.path("conf.d");
    std::fs::create_dir(&conf_d).expect("conf.d");
    let ranges: String = (0..=100_000u32)
        .map(|i| {
            let [_, a, b, c] = i.to_be_bytes();
            format!("10.{a}.{b}.{c}-10.{a}.{b}.{c} lab;\n")
        })
        .collect();
    std::fs::write(conf_d.join("geo.conf"), ranges).expect("geo.conf");
    let geo = format!(
        "geo $lab_range {{ ranges; include {}; }}",
        conf_d.join("geo.conf").display()
    );
    lab.nginx_stopped(|c| c.http(&geo).location("/", Pass::files()));
    let run = diagnose_stopped(&lab);
    if !is_root() {
        return;
    }
    let test = config_test(&run);
    assert_eq!(test["status"], "ok", "{run}");
    let excerpt = test["excerpt"].as_str().unwrap_or_default();
    assert!(
        excerpt.contains("geo.conf.bin\" failed (30: Read-only file system)"),
        "{run}"
    );
    let how = test["reason"].as_str().unwrap_or_default();
    assert!(how.contains("that write was refused"), "{run}");
    assert!(!conf_d.join("geo.conf.bin").exists());
}

#[test]
fn a_test_failing_on_a_write_nothing_foresaw_is_inconclusive_not_config_invalid() {
    // More includes than the doctor reads (1000): it cannot list what this
    // configuration writes, so the pid file's directory is not covered and
    // nginx -t fails to create it, read-only. That says nothing about the
    // configuration, which nginx itself would accept.
    let lab = Lab::new();
    let conf_d = lab.path("conf.d");
    std::fs::create_dir(&conf_d).expect("conf.d");
    for i in 0..=1000 {
        std::fs::write(conf_d.join(format!("{i}.conf")), "").expect("include");
    }
    let include = format!("include {}/*.conf", conf_d.display());
    lab.nginx_stopped(|c| c.http(&include).location("/", Pass::files()));
    let run = diagnose_stopped(&lab);
    if !is_root() {
        return;
    }
    let test = config_test(&run);
    assert_eq!(test["status"], "error", "{run}");
    let why = test["reason"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("inconclusive: nginx -t wanted to write outside"),
        "{run}"
    );
    assert!(why.contains("(30: Read-only file system)"), "{run}");
    assert!(!run.ids().contains(&"config-invalid".to_owned()), "{run}");
}
