//! nginx's own faults, fixed as printed: a configuration that fails `nginx -t` (a missing
//! `;`, an unknown directive, an error only the doctor's reading finds) and an nginx that
//! is not running (stopped; its port held by another program; its configuration failing).
//! Each breaks a real lab, follows the printed fix literally, and the request succeeds.

use super::{diagnose, prove};
use crate::support::faults::PHP;
use crate::support::follow::{Fix, Plan, Step};
use crate::support::fpm::Fpm;
use crate::support::net::Addr;
use crate::support::{Lab, Pass, Pool};
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// Removes `text` from the lab's nginx.conf: what a person does for a step that leaves
/// the correction to them ("Fix what `nginx -t` names").
fn remove_from_conf(lab: &Lab, text: &str) {
    let path = lab.path("nginx.conf");
    let conf = fs::read_to_string(&path).expect("read nginx.conf");
    assert!(
        conf.contains(text),
        "{text:?} is not in nginx.conf:\n{conf}"
    );
    fs::write(&path, conf.replacen(text, "", 1)).expect("write nginx.conf");
}

/// Drops the `;` that ends `directive` in the lab's nginx.conf, on disk only.
fn drop_semicolon(lab: &Lab, directive: &str) {
    let path = lab.path("nginx.conf");
    let conf = fs::read_to_string(&path).expect("read nginx.conf");
    let at = conf
        .find(directive)
        .unwrap_or_else(|| panic!("{directive:?} is not in nginx.conf:\n{conf}"));
    let semicolon = at + conf[at..].find(';').expect("the directive ends");
    let mut broken = conf.clone();
    broken.remove(semicolon);
    fs::write(&path, broken).expect("write nginx.conf");
}

/// The 1-based line of the lab's nginx.conf that contains `needle`.
fn line_of(lab: &Lab, needle: &str) -> usize {
    let conf = fs::read_to_string(lab.path("nginx.conf")).expect("read nginx.conf");
    1 + conf
        .lines()
        .position(|l| l.contains(needle))
        .expect("the line")
}

/// A PHP site whose location has one more directive after `fastcgi_pass`, so that a
/// missing `;` after it is noticed a line later.
fn php_site(lab: &Lab) -> Fpm {
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm).with("fastcgi_read_timeout 30s")));
    assert_eq!(lab.get("/ok.php"), 200);
    fpm
}

/// The person's part at a step of words only that starts with `starts`.
fn by_hand_at<'a>(starts: &'a str, mut act: impl FnMut() + 'a) -> impl FnMut(&Step) + 'a {
    move |s: &Step| {
        if s.text.starts_with(starts) {
            act();
        }
    }
}

#[test]
fn a_missing_semicolon_is_fixed_at_the_line_it_is_missing_from() {
    let lab = Lab::new();
    php_site(&lab);
    drop_semicolon(&lab, "fastcgi_pass unix:");
    let missing = line_of(&lab, "fastcgi_pass unix:");
    let run = diagnose(&lab);
    let fix = Fix::of_node(&run, "config-invalid");
    assert_eq!(fix.step("End the directive").line, Some(missing), "{run}");
    run.assert_evidence_quotes("config-invalid", &format!("~ {missing} |"));
    let conf = lab.path("nginx.conf");
    let noticed = format!("noticed at {}:{}", conf.display(), missing + 1);
    run.assert_evidence_quotes("config-invalid", &noticed);

    prove(
        &lab,
        &run,
        "config-invalid",
        Plan::new(),
        "a_missing_semicolon_is_fixed_at_the_line_it_is_missing_from",
    );
    assert_eq!(
        lab.get("/ok.php"),
        200,
        "the corrected configuration serves"
    );
}

#[test]
fn an_unknown_directive_is_fixed_at_the_line_nginx_names() {
    let lab = Lab::new();
    php_site(&lab);
    lab.break_config("bogus_directive on;");
    let bogus = line_of(&lab, "bogus_directive");
    let run = diagnose(&lab);
    let fix = Fix::of_node(&run, "config-invalid");
    assert_eq!(
        fix.step("Fix what `nginx -t` names at line").line,
        Some(bogus),
        "{run}"
    );

    let fixed = by_hand_at("Fix what", || remove_from_conf(&lab, "bogus_directive on;"));
    let plan = Plan::new().by_hand(fixed);
    prove(
        &lab,
        &run,
        "config-invalid",
        plan,
        "an_unknown_directive_is_fixed_at_the_line_nginx_names",
    );
    assert_eq!(lab.get("/ok.php"), 200, "the reloaded configuration serves");
}

#[test]
fn a_config_error_only_the_doctor_read_is_fixed_as_printed() {
    let lab = Lab::new();
    lab.nginx(|c| c.location("/", Pass::files()));
    lab.error_log_line("client closed connection while waiting for request");
    lab.break_config(crate::unisolated::NO_PORT);
    let Some(run) = crate::unisolated::diagnose_without_cap_sys_admin(&lab) else {
        return;
    };
    let fixed = by_hand_at("Fix what", || {
        remove_from_conf(&lab, crate::unisolated::NO_PORT)
    });
    let plan = Plan::new().by_hand(fixed);
    prove(
        &lab,
        &run,
        "config-invalid-untested",
        plan,
        "a_config_error_only_the_doctor_read_is_fixed_as_printed",
    );
}

/// A lab whose nginx served once and was then stopped.
fn stopped_nginx(lab: &Lab) -> Fpm {
    let fpm = php_site(lab);
    lab.stop(lab.nginx_info().pid);
    fpm
}

#[test]
fn a_stopped_nginx_with_a_missing_semicolon_starts_once_it_is_added() {
    let lab = Lab::new();
    let _fpm = stopped_nginx(&lab);
    drop_semicolon(&lab, "fastcgi_pass unix:");
    let run = diagnose(&lab);
    prove(
        &lab,
        &run,
        "nginx-down-config",
        Plan::new(),
        "a_stopped_nginx_with_a_missing_semicolon_starts_once_it_is_added",
    );
    assert_eq!(lab.get("/ok.php"), 200);
}

#[test]
fn a_stopped_nginx_whose_port_is_taken_starts_once_it_is_free() {
    let lab = Lab::new();
    let _fpm = stopped_nginx(&lab);
    let port = lab.nginx_info().port;
    let mut squatter =
        Some(TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("take nginx's port"));
    let run = diagnose(&lab);
    // "See which program holds port N; stop it": the person stops it.
    let plan = Plan::new().by_hand(|s: &Step| {
        if s.text.contains("stop it") {
            squatter.take();
        }
    });
    prove(
        &lab,
        &run,
        "nginx-down-port",
        plan,
        "a_stopped_nginx_whose_port_is_taken_starts_once_it_is_free",
    );
    assert_eq!(lab.get("/ok.php"), 200);
}

#[test]
fn a_stopped_nginx_starts_with_the_printed_command() {
    let lab = Lab::new();
    let _fpm = stopped_nginx(&lab);
    let run = diagnose(&lab);
    prove(
        &lab,
        &run,
        "nginx-down",
        Plan::new(),
        "a_stopped_nginx_starts_with_the_printed_command",
    );
    assert_eq!(lab.get("/ok.php"), 200);
}

#[test]
fn a_stopped_nginx_whose_config_was_not_tested_starts_as_printed() {
    let lab = Lab::new();
    // nginx -t: `no port in upstream "127.0.0.1"`, which the doctor reads too.
    let no_port = "fastcgi_pass 127.0.0.1;";
    let conf = lab.nginx_stopped(|c| {
        c.location("/", Pass::files())
            .location("/app", Pass::directive(no_port))
    });
    let Some(run) = crate::unisolated::diagnose_without_cap_sys_admin(&lab) else {
        return;
    };
    let fixed = by_hand_at("Fix what", || {
        let text = fs::read_to_string(&conf).expect("read nginx.conf");
        let text = text.replacen(no_port, "fastcgi_pass 127.0.0.1:9;", 1);
        fs::write(&conf, text).expect("write nginx.conf");
    });
    let port = conf_port(&fs::read_to_string(&conf).expect("read nginx.conf"));
    let plan = Plan::new().serves(Addr::Tcp(port)).by_hand(fixed);
    prove(
        &lab,
        &run,
        "nginx-down-untested",
        plan,
        "a_stopped_nginx_whose_config_was_not_tested_starts_as_printed",
    );
}

#[test]
fn an_untested_configuration_is_tested_with_the_printed_command() {
    let lab = Lab::new();
    let _fpm = php_site(&lab);
    let conf = lab.path("nginx.conf").display().to_string();
    let args = ["--auto", "--format", "json", "--conf", conf.as_str()];
    let Some(run) = crate::degraded::doctor_as_nobody(&args, lab.dir()) else {
        return;
    };
    prove(
        &lab,
        &run,
        "healthy-untested",
        Plan::new(),
        "an_untested_configuration_is_tested_with_the_printed_command",
    );
}

/// Where a lab's nginx that never ran would listen.
fn conf_port(conf: &str) -> SocketAddr {
    let port = conf
        .split("listen 127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no listen port in nginx.conf:\n{conf}"));
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}
