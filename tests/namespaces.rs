//! Processes that look like this host's nginx or php-fpm in `ps` but are not: a zombie
//! php-fpm master left by a parent that does not reap (a container whose PID 1 is not an
//! init), and nginx or php-fpm in another mount and network namespace (a container on the
//! same host). Each is made for real — a parent that never calls wait(), a process tree
//! under `unshare --mount --net --pid` — beside the lab's own daemons; the report must
//! diagnose the host's own, name the others, and say how to diagnose inside.

use crate::support::container::{self, Container};
use crate::support::doctor::{self, DoctorRun};
use crate::support::faults::PHP;
use crate::support::fpm::Fpm;
use crate::support::lab::{NGINX, fpm_binary, is_root};
use crate::support::nginx::Nginx;
use crate::support::{Lab, Pass, Pool, isolate, proc};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Where the official php-fpm container images keep php-fpm.conf; one of the doctor's
/// usual places, so a pool there is found without a running master.
const IMAGE_FPM_CONF: &str = "/usr/local/etc/php-fpm.conf";

/// Whether containers can be made here; says why not when they cannot.
fn containers_work() -> bool {
    let missing = container::missing();
    if let Some(why) = missing {
        eprintln!("skipped: {why}");
    }
    missing.is_none()
}

fn diagnose(lab: &Lab, exit: i32) -> DoctorRun {
    let run = lab.doctor(&["--auto", "--format", "json"]);
    assert_eq!(run.status, exit, "exit status\n{run}");
    crate::clean_words::assert_clean(lab, &run);
    run
}

/// No finding title says "(unknown)": what is known is said instead.
fn assert_titles_known(run: &DoctorRun) {
    for f in run.findings() {
        let title = f["title"].as_str().unwrap_or_default();
        assert!(!title.contains("(unknown)"), "title {title:?}\n{run}");
    }
    assert!(!run.stdout.contains("_pass (unknown)"), "{run}");
}

/// Runs `scenario` in a private mount namespace (see `support::isolate`): what it mounts
/// over the host's directories is its own, and gone when it ends.
fn with_private_mounts(test: &str, scenario: impl FnOnce()) {
    if isolate::inside() {
        return scenario();
    }
    if !is_root() {
        eprintln!("skipped {test}: needs root for a private mount namespace");
        return;
    }
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    isolate::rerun_under(&["--mount"], &format!("{module}::{test}"));
}

/// Hides `dir` behind an empty tmpfs: in the private mount namespace only.
fn hide(dir: &Path) {
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "mode=0755", "hidden"])
        .arg(dir)
        .status();
    assert!(
        mounted.is_ok_and(|s| s.success()),
        "mount a tmpfs on {dir:?}"
    );
}

#[test]
fn zombie_php_fpm_master_is_not_a_running_backend() {
    with_private_mounts(
        "zombie_php_fpm_master_is_not_a_running_backend",
        zombie_master,
    );
}

/// The pool's configuration at the image's path, php-fpm started by a parent that never
/// reaps it, then stopped.
fn zombie_master() {
    let lab = Lab::new();
    let etc = Path::new(IMAGE_FPM_CONF).parent().expect("a directory");
    if !etc.is_dir() {
        eprintln!("skipped: no {etc:?} to hold a private php-fpm.conf");
        return;
    }
    hide(etc);
    std::os::unix::fs::symlink(lab.path("php-fpm.conf"), IMAGE_FPM_CONF).expect("link conf");
    let noreap = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lab/noreap.py");
    let launcher = ["python3".to_string(), noreap.display().to_string()];
    let fpm = lab.php_fpm_under(&launcher, Pool::unix("www"));
    let master = fpm_master_under(&fpm);
    let quote = php_site_failing(&lab, &fpm, || {
        kill(Pid::from_raw(master), Signal::SIGTERM).expect("stop php-fpm");
        proc::wait_for_state(master, "Z", Duration::from_secs(10));
    });

    let run = diagnose(&lab, 1);
    run.assert_first("backend-down");
    run.assert_evidence_quotes("backend-down", &quote);
    let zombie = format!("a zombie php-fpm master (pid {master}, ");
    run.assert_evidence_quotes("backend-down", &zombie);
    run.assert_evidence_quotes("backend-down", "does not count as running");
    assert_titles_known(&run);
}

/// Serves PHP through `fpm` (the page answers 200), runs `stop`, and returns what nginx
/// logs for the 502 that follows: the socket is gone.
fn php_site_failing(lab: &Lab, fpm: &Fpm, stop: impl FnOnce()) -> String {
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(fpm)));
    assert_eq!(
        lab.get("/ok.php"),
        200,
        "the page works before php-fpm stops"
    );
    stop();
    assert_eq!(lab.get("/ok.php"), 502);
    let sock = fpm.socket_path().display();
    lab.error_log_message(&format!("connect() to unix:{sock} failed (2: No such file"))
}

/// The php-fpm master the launcher of `fpm` started.
fn fpm_master_under(fpm: &Fpm) -> i32 {
    let children = proc::children(fpm.pid);
    let comm = |pid: i32| fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let found = children.iter().find(|&&p| comm(p).starts_with("php-fpm"));
    *found.unwrap_or_else(|| panic!("no php-fpm among {children:?}"))
}

#[test]
fn php_fpm_in_a_container_is_not_the_running_backend() {
    if !containers_work() {
        return;
    }
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    let quote = php_site_failing(&lab, &fpm, || lab.stop(fpm.pid));
    // The container runs the same php-fpm.conf at the same path: inside, its socket and
    // its files are its own.
    let conf = fs::read_to_string(&fpm.conf).expect("read php-fpm.conf");
    let argv = [
        fpm_binary(),
        "-F".into(),
        "-y".into(),
        fpm.conf.display().to_string(),
        "-R".into(),
    ];
    let mut boxed = Container::start(lab.dir(), &[("php-fpm.conf", &conf)], &argv);
    let theirs = boxed.wait_for("php-fpm: master process");

    let run = diagnose(&lab, 1);
    run.assert_first("backend-down");
    run.assert_evidence_quotes("backend-down", &quote);
    let named = format!(
        "php-fpm master pid {theirs} (configuration {} inside it)",
        fpm.conf.display()
    );
    run.assert_evidence_quotes("backend-down", &named);
    run.assert_evidence_quotes("backend-down", "in another mount and network namespace");
    let nsenter = format!("nsenter -t {theirs} -m -n -p nginx-doctor --auto");
    run.assert_evidence_quotes("backend-down", &nsenter);
    assert_titles_known(&run);
}

/// An nginx.conf for a container's nginx in `dir`, unlike the lab's: it proxies to a port
/// nothing listens on.
fn container_nginx_conf(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "daemon off;\nworker_processes 1;\nerror_log {d}/error.log;\npid {d}/nginx.pid;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n    access_log off;\n    server {{\n        listen 127.0.0.1:8080;\n\
         \x20       location / {{ proxy_pass http://127.0.0.1:9; }}\n    }}\n}}\n"
    )
}

/// Starts nginx in a container with its own nginx.conf at the lab's path; its host pid.
fn nginx_in_a_container(lab: &Lab) -> (Container, i32) {
    let conf = container_nginx_conf(lab.dir());
    let prefix = format!("{}/", lab.dir().display());
    let path = lab.path("nginx.conf").display().to_string();
    let argv = [NGINX.to_string(), "-p".into(), prefix, "-c".into(), path];
    let mut boxed = Container::start(lab.dir(), &[("nginx.conf", &conf)], &argv);
    let pid = boxed.wait_for("nginx: master process");
    (boxed, pid)
}

/// The lab's nginx (a PHP site) stopped, and a container's nginx running with another
/// file at the same `-c` path: the lab's nginx, the container and its master's host pid.
fn stopped_beside_a_container(lab: &Lab) -> (Nginx, Container, i32) {
    let fpm = lab.php_fpm(Pool::unix("www"));
    let ours = lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    lab.stop(ours.pid);
    let (boxed, theirs) = nginx_in_a_container(lab);
    (ours, boxed, theirs)
}

#[test]
fn nginx_in_a_container_is_named_not_diagnosed() {
    if !containers_work() {
        return;
    }
    let lab = Lab::new();
    let (ours, _boxed, theirs) = stopped_beside_a_container(&lab);

    let run = diagnose(&lab, 1);
    run.assert_first("nginx-down");
    let conf = ours.conf.display();
    run.assert_evidence_quotes(
        "nginx-down",
        &format!("no nginx master process runs for {conf}"),
    );
    let named = format!(
        "nginx master pid {theirs} ({conf} inside it) runs in another mount and network namespace"
    );
    run.assert_evidence_quotes("nginx-down", &named);
    let nsenter = format!("nsenter -t {theirs} -m -n -p nginx-doctor --auto");
    run.assert_evidence_quotes("nginx-down", &nsenter);
    assert_titles_known(&run);
}

#[test]
fn printed_nsenter_command_diagnoses_the_container_s_nginx() {
    if !containers_work() {
        return;
    }
    let lab = Lab::new();
    // The host's own nginx serves files; the container's has another file at its path.
    lab.nginx(|c| c.location("/", Pass::files()));
    let (_boxed, theirs) = nginx_in_a_container(&lab);
    // A 502 inside: the container's nginx proxies to a port where nothing listens.
    let status = Command::new("nsenter")
        .args([
            "-t",
            &theirs.to_string(),
            "-n",
            "curl",
            "-s",
            "-o",
            "/dev/null",
        ])
        .args(["-w", "%{http_code}", "http://127.0.0.1:8080/"])
        .output()
        .expect("run curl in the container");
    assert_eq!(String::from_utf8_lossy(&status.stdout), "502", "{status:?}");
    let outside = lab.doctor(&["--auto", "--format", "json"]);
    let advice = format!("nsenter -t {theirs} -m -n -p nginx-doctor --auto");
    assert!(outside.stdout.contains(&advice), "{outside}");

    // The command as printed, with this build's binary for `nginx-doctor` (at the same
    // path inside: the container hides only the lab directory).
    let mut argv: Vec<String> = advice.split(' ').map(str::to_string).collect();
    let at = argv
        .iter()
        .position(|a| a == "nginx-doctor")
        .expect("the program");
    argv[at] = doctor::BINARY.to_string();
    argv.extend(["--format".to_string(), "json".to_string()]);
    let limit = doctor::DOCTOR_TIMEOUT;
    let inside = doctor::run_bounded(&argv[0], &argv[1..], Path::new("/"), limit);
    inside.assert_first("backend-down");
    inside.assert_evidence_quotes("backend-down", "127.0.0.1:9");
    let conf = lab.path("nginx.conf").display().to_string();
    let master = format!("master 1: nginx: master process {NGINX} -p ");
    let nginx = &inside.json["checks"][0];
    assert_eq!(nginx["probe"], "nginx", "{inside}");
    let excerpt = nginx["excerpt"].as_str().unwrap_or_default();
    assert!(
        excerpt.contains(&master) && excerpt.contains(&conf),
        "{inside}"
    );
}

#[test]
fn nginx_only_in_a_container_stops_and_says_where() {
    with_private_mounts(
        "nginx_only_in_a_container_stops_and_says_where",
        nginx_only_elsewhere,
    );
}

/// No configuration of this system's own (the usual places hidden), nginx running only in
/// a container: the doctor must not diagnose the container's `-c` path on our files.
fn nginx_only_elsewhere() {
    if !containers_work() {
        return;
    }
    let usual = ["/etc/nginx", "/usr/local/nginx", "/usr/local/openresty"];
    for dir in usual.iter().map(Path::new).filter(|d| d.is_dir()) {
        hide(dir);
    }
    let lab = Lab::new();
    let (_boxed, theirs) = nginx_in_a_container(&lab);
    let args = ["--auto".to_string(), "--format".into(), "json".into()];
    let run = doctor::run_bounded(doctor::BINARY, &args, lab.dir(), doctor::DOCTOR_TIMEOUT);

    assert_eq!(run.status, 3, "no diagnosis of this system's nginx\n{run}");
    assert_eq!(run.ids(), Vec::<String>::new(), "{run}");
    let stopped = run.json["stopped"].as_str().unwrap_or_default();
    let conf = lab.path("nginx.conf").display().to_string();
    let named = format!("nginx master pid {theirs} ({conf} inside it)");
    assert!(stopped.contains(&named), "{run}");
    let nsenter = format!("nsenter -t {theirs} -m -n -p nginx-doctor --auto");
    assert!(stopped.contains(&nsenter), "{run}");
}

#[test]
fn config_names_a_container_s_master_with_how_to_show_it() {
    if !containers_work() {
        return;
    }
    let lab = Lab::new();
    let (ours, _boxed, theirs) = stopped_beside_a_container(&lab);

    let run = lab.doctor(&["config"]);
    assert_eq!(run.status, 0, "{run}");
    let conf = ours.conf.display();
    let line = format!(
        "also running: master {theirs} with {conf} inside it, in another mount and network \
         namespace; show its configuration inside with \
         `nsenter -t {theirs} -m -n -p nginx-doctor config`"
    );
    assert!(run.stdout.contains(&line), "{run}");
}
