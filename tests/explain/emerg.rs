//! Configuration and start-up errors, explained by the binary from what a
//! real nginx printed: `nginx -t` on broken configurations (in both of its
//! forms), a start whose port was taken, and a reload that failed in a
//! running lab. Each is told apart as `config-invalid` (the running nginx
//! keeps its old configuration) or `nginx-down` (nginx could not start).

use std::net::{Ipv4Addr, TcpListener};
use std::sync::OnceLock;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use super::{Run, explain};
use crate::support::doctor::run_bounded;
use crate::support::lab::NGINX;
use crate::support::nginx::{Layout, NginxConf};
use crate::support::{Lab, Pass};

/// What nginx printed on stderr, run with `args` on a private directory
/// holding a configuration with `directive` (if any) in its http block,
/// listening on `port`; and where that configuration was. `-e stderr`
/// gives Debian's timestamped form, `-e DIR/error.log` the `nginx: [emerg]`
/// form.
struct Said {
    stderr: String,
    /// `path:line` of the directive in the configuration.
    at: String,
}

fn nginx_says(directive: &str, port: u16, args: &[&str]) -> Said {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("tmp")).expect("temp path dir");
    let layout = Layout {
        dir: dir.path(),
        port,
        worker: None,
    };
    let mut conf = NginxConf::default();
    if !directive.is_empty() {
        conf.http(directive);
    }
    conf.location("/", Pass::files());
    let text = conf.render(&layout);
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, &text).expect("write nginx.conf");
    let line = text
        .lines()
        .position(|l| !directive.is_empty() && l.contains(directive));
    let dir_name = dir.path().display().to_string();
    let mut all: Vec<String> = vec![
        "-p".into(),
        format!("{dir_name}/"),
        "-c".into(),
        path.display().to_string(),
    ];
    all.extend(args.iter().map(|a| a.replace("DIR", &dir_name)));
    let run = run_bounded(NGINX, &all, dir.path(), Duration::from_secs(30));
    assert_ne!(run.status, 0, "nginx accepted it:\n{}", run.stderr);
    Said {
        stderr: run.stderr,
        at: format!("{}:{}", path.display(), line.map_or(0, |l| l + 1)),
    }
}

/// `nginx -t` with `directive` in the http block, Debian's form.
fn nginx_t(directive: &str) -> Said {
    nginx_says(directive, 8080, &["-t", "-e", "stderr"])
}

fn json_of(input: &str) -> Value {
    let run = explain(&["--format", "json"], input.as_bytes());
    assert_eq!(
        run.status,
        0,
        "{}\n{}",
        input,
        String::from_utf8_lossy(&run.stderr)
    );
    run.json()
}

/// The explained `[emerg]` line of `input`.
fn emerg_of(input: &str) -> Value {
    let json = json_of(input);
    let lines = json["lines"].as_array().cloned().unwrap_or_default();
    lines
        .into_iter()
        .find(|l| !l["config_error"].is_null())
        .unwrap_or_else(|| panic!("no configuration error in {json:#}"))
}

fn causes(line: &Value) -> Vec<&str> {
    line["candidates"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["id"].as_str()).collect())
        .unwrap_or_default()
}

#[test]
fn unknown_directive_from_nginx_t_is_config_invalid_at_its_file_and_line() {
    let said = nginx_t("bogus_directive on");
    let line = emerg_of(&said.stderr);
    let config = &line["config_error"];
    assert_eq!(config["id"], "unknown-directive");
    assert_eq!(
        config["context"], "test",
        "`test failed` follows it: {}",
        said.stderr
    );
    assert_eq!(config["at"], said.at.as_str());
    assert_eq!(causes(&line)[0], "config-invalid");
    let next = config["next"].as_str().unwrap_or_default();
    assert!(
        next.contains(&said.at) && next.contains("sudo nginx -t"),
        "{next}"
    );
    let effect = config["effect"].as_str().unwrap_or_default();
    assert!(effect.contains("keep the old configuration"), "{effect}");
    let text = explain(&[], said.stderr.as_bytes()).text();
    assert!(text.contains(&format!("Config     {}", said.at)), "{text}");
}

#[test]
fn the_nginx_t_form_of_a_file_error_log_is_read_too() {
    let said = nginx_says("bogus_directive on", 8080, &["-t", "-e", "DIR/error.log"]);
    assert!(
        said.stderr.contains("nginx: [emerg] unknown directive"),
        "{}",
        said.stderr
    );
    let line = emerg_of(&said.stderr);
    assert_eq!(line["config_error"]["id"], "unknown-directive");
    assert_eq!(line["config_error"]["at"], said.at.as_str());
    assert_eq!(line["parsed"]["level"], "emerg");
}

#[test]
fn invalid_number_of_arguments_is_config_invalid() {
    let line = emerg_of(&nginx_t("keepalive_timeout 1 2 3").stderr);
    assert_eq!(line["config_error"]["id"], "invalid-arguments");
    assert!(
        line["summary"]
            .as_str()
            .is_some_and(|s| s.contains("\"keepalive_timeout\""))
    );
    assert_eq!(causes(&line)[0], "config-invalid");
}

#[test]
fn host_not_found_in_upstream_fills_the_name_into_its_check() {
    let line = emerg_of(&nginx_t("upstream app { server backend.invalid:80; }").stderr);
    assert_eq!(line["config_error"]["id"], "host-not-found");
    assert_eq!(line["signature"], "host-not-found-config");
    let checks = line["candidates"][0]["checks"].to_string();
    assert!(checks.contains("getent hosts backend.invalid"), "{checks}");
}

#[test]
fn the_line_named_is_shown_with_the_lines_before_it() {
    let said = nginx_t("bogus_directive on");
    let line = emerg_of(&said.stderr);
    let (file, number) = said.at.rsplit_once(':').expect("file:line");
    let checks = line["candidates"][0]["checks"].to_string();
    let want = format!("sudo awk 'NR >= {number} - 2 && NR <= {number}' {file}");
    assert!(checks.contains(&want), "{want} in {checks}");
}

#[test]
fn a_certificate_that_cannot_be_loaded_is_config_invalid() {
    let said = nginx_t(
        "server { listen 127.0.0.1:8443 ssl; ssl_certificate /nonexistent-nginx-doctor/missing.pem; \
         ssl_certificate_key /nonexistent-nginx-doctor/missing.key; }",
    );
    let line = emerg_of(&said.stderr);
    assert_eq!(line["config_error"]["id"], "certificate");
    assert!(
        line["parsed"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("/nonexistent-nginx-doctor/missing.pem"))
    );
    assert_eq!(causes(&line)[0], "config-invalid");
}

/// What nginx printed when it could not start because its port was taken.
fn port_taken() -> &'static str {
    static SAID: OnceLock<String> = OnceLock::new();
    SAID.get_or_init(|| {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a port");
        let port = taken.local_addr().expect("its address").port();
        nginx_says("", port, &["-e", "stderr"]).stderr
    })
}

#[test]
fn address_in_use_at_start_is_nginx_down() {
    let said = port_taken();
    let first_bind = said
        .lines()
        .find(|l| l.contains("bind() to"))
        .expect("a bind line");
    let line = emerg_of(first_bind);
    assert_eq!(line["config_error"]["id"], "address-in-use");
    assert_eq!(line["config_error"]["stage"], "start");
    assert_eq!(causes(&line), ["nginx-down"]);
    assert!(
        line["errno_meaning"].is_null(),
        "98 here is no proxy_bind: {line:#}"
    );
    assert!(
        line["config_error"]["effect"]
            .as_str()
            .is_some_and(|e| e.contains("could not start"))
    );
}

#[test]
fn still_could_not_bind_is_nginx_down() {
    let last = port_taken()
        .lines()
        .find(|l| l.contains("still could not bind()"))
        .expect("the last line");
    let line = emerg_of(last);
    assert_eq!(line["config_error"]["id"], "could-not-bind");
    assert_eq!(causes(&line), ["nginx-down"]);
}

#[test]
fn a_start_that_systemd_says_failed_puts_nginx_down_first() {
    let said = nginx_t("bogus_directive on");
    let emerg = said.stderr.lines().next().unwrap_or_default();
    let journal = format!(
        "Dec 01 10:00:01 web1 nginx[1234]: {emerg}\n\
         Dec 01 10:00:01 web1 systemd[1]: nginx.service: Control process exited, code=exited, status=1/FAILURE\n\
         Dec 01 10:00:01 web1 systemd[1]: Failed to start nginx.service - A high performance web server and a reverse proxy server.\n"
    );
    let line = emerg_of(&journal);
    assert_eq!(line["config_error"]["context"], "start-failed");
    assert_eq!(causes(&line)[0], "nginx-down");
    assert_eq!(line["paste"]["source"], "syslog");
}

#[test]
fn a_failed_reload_keeps_the_old_configuration() {
    let lab = Lab::new();
    let nginx = lab.nginx(|c| c.location("/", Pass::files()));
    lab.break_config("bogus_directive on;");
    let emerg = reload_until_logged(&lab, nginx.pid, "unknown directive \"bogus_directive\"");
    let log = lab.error_log();
    let from = log.find("signal 1 (SIGHUP)").expect("the reload is logged");
    let to = log.find(&emerg).expect("the emerg line") + emerg.len();
    let line = emerg_of(&log[from..to]);
    assert_eq!(line["config_error"]["context"], "reload");
    assert_eq!(causes(&line), ["config-invalid"]);
    assert!(
        line["config_error"]["effect"]
            .as_str()
            .is_some_and(|e| e.contains("kept its old configuration"))
    );
    assert_eq!(
        lab.get("/ok.php"),
        200,
        "the old configuration still serves"
    );
}

/// Sends the master SIGHUP until the error log has a line with `needle`
/// (a master still starting up takes the signal without reloading), and
/// returns that line.
fn reload_until_logged(lab: &Lab, master: i32, needle: &str) -> String {
    lab.error_log_line("start worker process");
    for _ in 0..5 {
        kill(Pid::from_raw(master), Signal::SIGHUP).expect("send SIGHUP");
        for _ in 0..20 {
            if let Some(line) = lab.error_log().lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("no {needle:?} after five reloads:\n{}", lab.error_log());
}

#[test]
fn nginx_t_summary_alone_says_what_to_paste() {
    let said = nginx_t("bogus_directive on");
    let last = said.stderr.lines().last().unwrap_or_default();
    assert!(last.contains("test failed"), "{}", said.stderr);
    let run: Run = explain(&[last], b"");
    assert_eq!(run.status, 2);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("the `[emerg]` line printed just before it names the error"),
        "{err}"
    );
}
