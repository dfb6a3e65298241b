//! The php-fpm connect-phase fixes, proven by doing them: each test breaks a real lab,
//! runs `nginx-doctor --auto --format json`, follows the finding's fix literally (its edits
//! at the file:line it names, its commands as printed: without systemd here, the direct
//! ones), then the request that failed must succeed, nginx must log no new failure of that
//! upstream, and the fix's own verify lines must show it.

use crate::support::doctor::DoctorRun;
use crate::support::faults::PHP;
use crate::support::fix::Fix;
use crate::support::lab::is_root;
use crate::support::net::free_port;
use crate::support::{Lab, Pass, Pool};
use std::path::Path;

/// The doctor's report, whose first finding must be `id`, and whose words are clean in
/// every format; `fpm_conf` names a php-fpm configuration outside the standard places (a
/// stopped php-fpm is found only so).
pub fn diagnosed(lab: &Lab, id: &str, fpm_conf: Option<&Path>) -> (DoctorRun, Fix) {
    let conf = fpm_conf.map(|p| p.display().to_string());
    let mut args = vec!["--auto", "--format", "json"];
    if let Some(c) = &conf {
        args.extend(["--fpm-conf", c.as_str()]);
    }
    let run = lab.doctor(&args);
    assert_eq!(run.status, 1, "a fault\n{run}");
    run.assert_first(id);
    // What the admin reads before following the fix: every format, clean (the text and
    // Markdown runs take no --fpm-conf, so they would diagnose another host).
    if fpm_conf.is_none() {
        crate::clean_words::assert_clean(lab, &run);
    }
    let fix = Fix::of(&run, id);
    (run, fix)
}

/// After the fix: `path` answers 200, nginx logged nothing new about `upstream`, and
/// every verify line ran and printed what it should (`expect` in each, in order).
pub fn assert_fixed(
    lab: &Lab,
    fix: &Fix,
    mark: usize,
    upstream: &str,
    path: &str,
    expect: &[&str],
) {
    assert_eq!(lab.get(path), 200, "{path} answers after the fix");
    let runs = lab.run_verify(fix);
    assert_eq!(runs.len(), expect.len(), "verify lines: {:?}", fix.verify);
    for ((line, run), want) in fix.verify.iter().zip(&runs).zip(expect) {
        assert_eq!(run.status, 0, "verify line {line:?} failed\n{run}");
        assert!(
            run.stdout.contains(want),
            "verify line {line:?} printed no {want:?}\n{run}"
        );
    }
    let new = lab.errors_since(mark, upstream);
    assert!(new.is_empty(), "nginx still fails on {upstream}: {new:#?}");
}

#[test]
fn stopped_php_fpm_is_started_by_the_printed_command_and_the_page_answers() {
    let lab = Lab::new();
    let fpm = lab.with_stopped_fpm(Pool::unix("www"));
    let (_, fix) = diagnosed(&lab, "backend-down", Some(&fpm.conf));
    let start = fix.step("start the php-fpm master directly");
    assert_eq!(
        start.command.as_deref().map(|c| c[1..].to_vec()),
        Some(vec!["-y".to_owned(), fpm.conf.display().to_string()]),
        "{start:?}"
    );

    let mark = lab.error_log_mark();
    lab.follow_fix(&fix, Some(&fpm));
    let sock = fpm.socket_path().display().to_string();
    assert_fixed(&lab, &fix, mark, &sock, "/ok.php", &["200", &sock]);
}

#[test]
fn stopped_tcp_pool_is_started_by_the_printed_command_and_the_page_answers() {
    let lab = Lab::new();
    let fpm = lab.with_stopped_fpm(Pool::tcp("www"));
    let (_, fix) = diagnosed(&lab, "backend-down", Some(&fpm.conf));

    let mark = lab.error_log_mark();
    lab.follow_fix(&fix, Some(&fpm));
    let addr = fpm.tcp_addr().to_string();
    assert_fixed(&lab, &fix, mark, &addr, "/ok.php", &["200", &addr]);
}

#[test]
fn a_running_pool_whose_socket_was_removed_is_stopped_and_started() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get("/ok.php"), 200);
    std::fs::remove_file(fpm.socket_path()).expect("remove the socket file");
    assert_eq!(lab.get("/ok.php"), 502);

    let (run, fix) = diagnosed(&lab, "backend-down", None);
    assert_eq!(run.findings()[0]["node"], "pool-not-listening", "{run}");
    let mark = lab.error_log_mark();
    let now = lab
        .follow_fix(&fix, Some(&fpm))
        .expect("php-fpm runs again");
    assert_ne!(now.pid, fpm.pid, "a new master, not a reload");
    let sock = fpm.socket_path().display().to_string();
    assert_fixed(&lab, &fix, mark, &sock, "/ok.php", &["200", &sock]);
}

#[test]
fn php_fpm_on_another_port_gets_nginx_pointed_at_it_and_the_page_answers() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::tcp("www"));
    let elsewhere = free_port();
    lab.nginx(|c| c.location(PHP, Pass::fastcgi_to(elsewhere)));
    assert_eq!(lab.get("/ok.php"), 502);

    let (_, fix) = diagnosed(&lab, "backend-wrong-address", None);
    let edit = fix.step("replace the pass directive");
    assert_eq!(
        edit.snippet.as_deref(),
        Some(format!("fastcgi_pass {};", fpm.tcp_addr()).as_str())
    );
    let mark = lab.error_log_mark();
    lab.follow_fix(&fix, Some(&fpm));
    assert_fixed(
        &lab,
        &fix,
        mark,
        &elsewhere.to_string(),
        "/ok.php",
        &["200"],
    );
}

#[test]
fn php_fpm_on_another_socket_gets_nginx_pointed_at_it_and_the_page_answers() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    let elsewhere = lab.path("php8.1-fpm.sock").display().to_string();
    lab.nginx(|c| c.location(PHP, Pass::fastcgi_to(format!("unix:{elsewhere}"))));
    assert_eq!(lab.get("/ok.php"), 502);

    let (_, fix) = diagnosed(&lab, "backend-wrong-address", None);
    let mark = lab.error_log_mark();
    lab.follow_fix(&fix, Some(&fpm));
    let pass = std::fs::read_to_string(lab.path("nginx.conf")).unwrap_or_default();
    assert!(
        pass.contains(&format!("fastcgi_pass {};", fpm.target())),
        "{pass}"
    );
    assert_fixed(&lab, &fix, mark, &elsewhere, "/ok.php", &["200"]);
}

#[test]
fn socket_permission_is_fixed_by_a_stop_and_start_not_a_reload() {
    if !is_root() {
        eprintln!("skipped: only root can give the socket to root:root");
        return;
    }
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www").owner("root", "root").mode("0660"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get("/ok.php"), 502);

    let (_, fix) = diagnosed(&lab, "socket-permission", None);
    let commands: Vec<String> = fix.commands().iter().map(|c| c.join(" ")).collect();
    assert!(
        !commands.iter().any(|c| c.contains("-USR2")),
        "a reload keeps the inherited socket: {commands:?}"
    );
    let pid = fpm.pid.to_string();
    assert!(
        commands.contains(&format!("kill -QUIT {pid}")),
        "{commands:?}"
    );
    assert!(
        commands.contains(&format!("timeout 60 tail --pid={pid} -f /dev/null")),
        "{commands:?}"
    );
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("the master's binary");
    let start = format!("{} -y {}", exe.display(), fpm.conf.display());
    assert!(
        commands.contains(&start),
        "started as it was, from its own binary: {commands:?}"
    );

    let mark = lab.error_log_mark();
    let now = lab
        .follow_fix(&fix, Some(&fpm))
        .expect("php-fpm runs again");
    assert_ne!(now.pid, fpm.pid, "a new master, not a reload");
    let worker = lab.worker().map_or(String::new(), |w| w.user.clone());
    let sock = fpm.socket_path().display().to_string();
    assert_fixed(
        &lab,
        &fix,
        mark,
        &sock,
        "/ok.php",
        &["200", &format!("{worker} {worker}")],
    );
}

#[test]
fn a_group_whose_servers_all_failed_answers_once_its_backend_runs_and_nginx_reloads() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::tcp("www"));
    let addr = fpm.tcp_addr();
    // nginx marks servers failed only in a group of two or more: the same php-fpm twice.
    let group = format!("upstream php {{ server {addr}; server {addr}; }}");
    lab.nginx(|c| c.http(&group).location(PHP, Pass::fastcgi_to("php")));
    assert_eq!(lab.get("/ok.php"), 200);
    lab.stop(fpm.pid);
    for _ in 0..4 {
        assert_eq!(lab.get("/ok.php"), 502);
    }
    lab.error_log_line("no live upstreams");

    let conf = fpm.conf.display().to_string();
    let run = lab.doctor(&["--auto", "--format", "json", "--fpm-conf", &conf]);
    assert_eq!(run.status, 1, "a fault\n{run}");
    let (down, group) = (
        Fix::of(&run, "backend-down"),
        Fix::of(&run, "no-live-upstreams"),
    );
    let mark = lab.error_log_mark();
    let fpm = lab
        .follow_fix(&down, Some(&fpm))
        .expect("php-fpm runs again");
    lab.follow_fix(&group, Some(&fpm));
    assert_fixed(&lab, &group, mark, "fastcgi://php", "/ok.php", &["200"]);
    assert!(lab.errors_since(mark, &addr.to_string()).is_empty());
}
