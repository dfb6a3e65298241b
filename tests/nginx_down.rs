//! nginx itself not running for the configuration asked about (`--auto --conf FILE`):
//! the diagnosis is `nginx-down`, with why (the configuration does not load, another
//! program holds the port, or nothing but a stop) and the exact start command, which
//! the test then runs as printed to prove it brings nginx back.

use crate::support::doctor::DoctorRun;
use crate::support::faults::PHP;
use crate::support::{Lab, Pass, Pool};
use serde_json::Value;
use std::net::{Ipv4Addr, TcpListener};

/// A lab whose nginx served once and was then stopped.
fn stopped_nginx(lab: &Lab) {
    let fpm = lab.php_fpm(Pool::unix("www"));
    let nginx = lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get("/ok.php"), 200);
    lab.stop(nginx.pid);
}

fn diagnose(lab: &Lab) -> DoctorRun {
    let run = crate::scenarios::diagnose(lab, 1);
    run.assert_first("nginx-down");
    run
}

/// The argv of the fix step whose text contains `say`.
fn step_command(run: &DoctorRun, say: &str) -> Vec<String> {
    let steps = run.finding("nginx-down")["fix"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let step = steps
        .iter()
        .find(|s| s["text"].as_str().is_some_and(|t| t.contains(say)))
        .unwrap_or_else(|| panic!("no fix step saying {say:?}\n{run}"));
    step["command"]
        .as_array()
        .unwrap_or_else(|| panic!("the step has no command\n{run}"))
        .iter()
        .map(|a| a.as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn stopped_nginx_is_nginx_down_and_the_printed_start_command_brings_it_back() {
    let lab = Lab::new();
    stopped_nginx(&lab);

    let run = diagnose(&lab);
    let conf = lab.path("nginx.conf").display().to_string();
    run.assert_evidence_quotes(
        "nginx-down",
        &format!("no nginx master process runs for {conf}"),
    );
    run.assert_evidence_quotes("nginx-down", "nginx -t: the configuration passes");
    let title = run.finding("nginx-down")["title"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(title, format!("nginx is not running for {conf}"), "{run}");

    let start = step_command(&run, "Start nginx");
    assert!(
        start.contains(&conf),
        "the start command names the configuration: {start:?}"
    );
    lab.follow_start_command(&start);
    assert_eq!(
        lab.get("/ok.php"),
        200,
        "nginx serves again after the printed fix"
    );
}

#[test]
fn stopped_nginx_with_a_broken_configuration_names_the_error_first() {
    let lab = Lab::new();
    stopped_nginx(&lab);
    lab.break_config("bogus_directive on;");

    let run = diagnose(&lab);
    let title = run.finding("nginx-down")["title"]
        .as_str()
        .unwrap_or_default();
    assert!(
        title.contains("its configuration does not load: unknown directive \"bogus_directive\""),
        "{run}"
    );
    run.assert_evidence_quotes(
        "nginx-down",
        &format!("at {}:", lab.path("nginx.conf").display()),
    );
    assert_eq!(
        run.ids(),
        ["nginx-down"],
        "one finding: the config is why nginx is down\n{run}"
    );
}

#[test]
fn stopped_nginx_whose_port_another_program_holds_names_that_program() {
    let lab = Lab::new();
    stopped_nginx(&lab);
    let port = lab.nginx_info().port;
    let squatter = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("take nginx's port");

    let run = diagnose(&lab);
    let title = run.finding("nginx-down")["title"]
        .as_str()
        .unwrap_or_default();
    assert!(
        title.contains(&format!("port {port} is held by another program")),
        "{run}"
    );
    assert!(
        title.contains(&format!("(pid {})", std::process::id())),
        "it names the holder: {title}"
    );
    drop(squatter);
}

#[test]
fn nginx_down_is_one_finding_with_no_upstream() {
    let lab = Lab::new();
    stopped_nginx(&lab);
    let run = diagnose(&lab);
    let f = run.finding("nginx-down");
    assert_eq!(f["upstream"], Value::Null, "{run}");
    assert_eq!(f["role"], "cause", "{run}");
    assert_eq!(f["primary"], true, "{run}");
}
