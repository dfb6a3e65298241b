//! A fix on a host that lacks a tool it names: the walk knows which tools are installed
//! (`tool.` facts), and a step or verify line that runs a missing one comes after the
//! line that installs it, with this host's package manager. Each test runs the diagnosis
//! of a real lab with a `PATH` that holds only `apt-get`, so `curl` and `ss` (in
//! /usr/bin) are absent, while what the probes find in the sbin directories stays found.

use crate::support::backend::Mode;
use crate::support::doctor::{self, DoctorRun};
use crate::support::{Lab, Pass, Pool};
use serde_json::{Value, json};
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;

const APT_GET: &str = "/usr/bin/apt-get";

/// `nginx-doctor --auto --format json` on `lab` with only apt-get on `PATH`; none when
/// this host has no apt-get to offer.
fn diagnose_with_only_apt_get(lab: &Lab) -> Option<DoctorRun> {
    if !Path::new(APT_GET).exists() {
        eprintln!("skipped: no {APT_GET} to stand for this host's package manager");
        return None;
    }
    let bin = tempfile::tempdir().expect("a PATH directory");
    std::os::unix::fs::symlink(APT_GET, bin.path().join("apt-get")).expect("link apt-get");
    let conf = lab.path("nginx.conf").display().to_string();
    let args: Vec<String> = [
        &format!("PATH={}", bin.path().display()),
        doctor::BINARY,
        "--auto",
        "--format",
        "json",
        "--conf",
        &conf,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let run = doctor::run_bounded("/usr/bin/env", &args, lab.dir(), doctor::DOCTOR_TIMEOUT);
    assert_eq!(run.status, 1, "a fault\n{run}");
    Some(run)
}

/// The commands of finding `id`'s steps, in order (`null` for a step without one).
fn commands(run: &DoctorRun, id: &str) -> Vec<Value> {
    let steps = run.finding(id)["fix"]["steps"].as_array().cloned();
    steps
        .unwrap_or_default()
        .into_iter()
        .map(|s| s["command"].clone())
        .collect()
}

#[test]
fn a_verify_line_with_curl_comes_after_the_line_that_installs_curl() {
    let lab = Lab::new();
    let app = lab.backend(Mode::Strict);
    lab.nginx(|c| c.location("/", Pass::directive(&format!("grpc_pass grpc://{app}"))));
    assert_eq!(lab.get("/app"), 502);
    let Some(run) = diagnose_with_only_apt_get(&lab) else {
        return;
    };
    let id = "pass-protocol-mismatch";
    let verify = &run.finding(id)["fix"]["verify"][0];
    assert!(
        verify.as_str().is_some_and(|v| v.starts_with("curl ")),
        "{run}"
    );
    let commands = commands(&run, id);
    assert_eq!(
        commands.last(),
        Some(&json!(["apt-get", "install", "-y", "curl"])),
        "{run}"
    );
    let installs = commands.iter().filter(|c| c[0] == "apt-get").count();
    assert_eq!(installs, 1, "curl is installed once: {commands:#?}");
}

#[test]
fn a_step_running_ss_comes_after_the_line_that_installs_iproute2() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    let nginx = lab.nginx(|c| c.location("~ \\.php$", Pass::fastcgi(&fpm)));
    lab.stop(nginx.pid);
    let squatter = TcpListener::bind((Ipv4Addr::LOCALHOST, nginx.port)).expect("take the port");
    let Some(run) = diagnose_with_only_apt_get(&lab) else {
        return;
    };
    drop(squatter);
    let commands = commands(&run, "nginx-down");
    let ss = commands.iter().position(|c| c[0] == "ss");
    let ss = ss.unwrap_or_else(|| panic!("a step runs ss\n{run}"));
    assert!(ss > 0, "{run}");
    assert_eq!(
        commands[ss - 1],
        json!(["apt-get", "install", "-y", "iproute2"]),
        "{run}"
    );
}
