//! Processes that look like this host's php-fpm in `ps` but are not: a zombie php-fpm
//! master left by a parent that does not reap (a container whose PID 1 is not an init),
//! and php-fpm in another mount and network namespace (a container on the same host).
//! Each is made for real — a parent that never calls wait(), a process tree under
//! `unshare --mount --net --pid` — beside the lab's own daemons; the report must diagnose
//! the host's own, name the others, and say how to diagnose inside.

use crate::support::container::{self, Container};
use crate::support::doctor::DoctorRun;
use crate::support::fpm::Fpm;
use crate::support::lab::{fpm_binary, is_root};
use crate::support::{Lab, Pass, Pool, isolate, proc};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The location every PHP scenario passes through.
const PHP: &str = "~ \\.php$";
/// Where the official php-fpm container images keep php-fpm.conf; one of the doctor's
/// usual places, so a pool there is found without a running master.
const IMAGE_FPM_CONF: &str = "/usr/local/etc/php-fpm.conf";

fn diagnose(lab: &Lab, exit: i32) -> DoctorRun {
    let run = lab.doctor(&["--auto", "--format", "json"]);
    assert_eq!(run.status, exit, "exit status\n{run}");
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

#[test]
fn zombie_php_fpm_master_is_not_a_running_backend() {
    let test = "zombie_php_fpm_master_is_not_a_running_backend";
    if isolate::inside() {
        return zombie_master();
    }
    if !is_root() || !Path::new(IMAGE_FPM_CONF).parent().is_some_and(Path::is_dir) {
        eprintln!("skipped {test}: needs root and /usr/local/etc for a private php-fpm.conf");
        return;
    }
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    isolate::rerun_under(&["--mount"], &format!("{module}::{test}"));
}

/// In a private mount namespace (the container): the pool's configuration at the image's
/// path, php-fpm started by a parent that never reaps it, then stopped.
fn zombie_master() {
    let lab = Lab::new();
    let etc = Path::new(IMAGE_FPM_CONF).parent().expect("a directory");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "mode=0755", "lab-etc"])
        .arg(etc)
        .status();
    assert!(
        mounted.is_ok_and(|s| s.success()),
        "mount a tmpfs on {etc:?}"
    );
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
    if let Some(why) = container::missing() {
        eprintln!("skipped: {why}");
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
