//! The pass nginx really uses, and what `nginx -t` refuses, as
//! `nginx-doctor config`, the `pass-target` built-in and the `nginx` check
//! show them — checked against what a real nginx does: a lab nginx serving a
//! request (its error log's `upstream:` field names the peer it connected
//! to), or the real `nginx -t` on a configuration nginx will not start with.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nginx_doctor::probe::builtin;
use nginx_doctor::value::Value;
use regex::Regex;
use serde_json::Value as Json;

use crate::config::{config, fact, host, params};
use crate::support::doctor::run_bounded;
use crate::support::lab::NGINX;
use crate::support::net::free_port;
use crate::support::{Lab, Pass};

/// The `upstream: "..."` field of the first error-log line holding `needle`.
fn logged_upstream(lab: &Lab, needle: &str) -> String {
    let line = lab.error_log_line(needle);
    let field = Regex::new(r#"upstream: "([^"]*)""#).unwrap();
    let caps = field
        .captures(&line)
        .unwrap_or_else(|| panic!("no upstream field in {line}"));
    caps[1].to_owned()
}

/// `nginx-doctor config --format json` on the lab: its only server's locations.
fn locations(lab: &Lab) -> Json {
    let run = lab.doctor(&["config", "--format", "json"]);
    assert_eq!(run.status, 0, "{run}");
    run.json["servers"][0]["locations"].clone()
}

#[test]
fn the_last_pass_of_a_location_is_the_one_nginx_connects_to() {
    let lab = Lab::new();
    let (proxy_to, grpc_to) = (free_port(), free_port());
    lab.nginx(|c| {
        c.location(
            "/",
            Pass::proxy_http(proxy_to).with(&format!("grpc_pass grpc://{grpc_to}")),
        )
    });
    assert_eq!(lab.get("/x"), 502);
    let field = logged_upstream(&lab, "connect() failed");
    assert_eq!(field, format!("grpc://{grpc_to}"));

    let location = &locations(&lab)[0];
    assert_eq!(location["passes"][0]["kind"], "grpc");
    assert_eq!(location["passes"][0]["endpoints"][0], grpc_to.to_string());
    assert_eq!(location["unused_passes"][0]["kind"], "proxy");
    let traced = builtin::run(
        "pass-target",
        &params(&[("upstream", &field)]),
        &mut host(&lab.path("nginx.conf")),
    );
    assert_eq!(fact(&traced, "kind"), &Value::text("grpc"), "{traced:?}");
}

#[test]
fn a_later_stub_status_answers_instead_of_the_pass() {
    let lab = Lab::new();
    lab.nginx(|c| c.location("/", Pass::proxy_http(free_port()).with("stub_status")));
    assert_eq!(
        lab.get("/"),
        200,
        "stub_status answers, the dead proxy is never tried"
    );
    let location = &locations(&lab)[0];
    assert_eq!(location["passes"], Json::Array(Vec::new()));
    assert_eq!(location["unused_passes"][0]["kind"], "proxy");
}

#[test]
fn a_pass_without_port_connects_to_the_port_of_an_earlier_pass_to_its_host() {
    let lab = Lab::new();
    let dead = free_port();
    lab.nginx(|c| {
        c.server("server_name shop.test")
            .location("/a/", Pass::proxy_http(dead))
            .location("/b/", Pass::fastcgi_to("127.0.0.1"))
    });
    assert_eq!(lab.get("/b/x.php"), 502);
    let field = logged_upstream(&lab, "fastcgi://");
    assert_eq!(field, format!("fastcgi://{dead}"));

    let b = &locations(&lab)[1];
    assert_eq!(b["passes"][0]["endpoints"][0], dead.to_string());
    let traced = params(&[
        ("upstream", &field),
        ("server", "shop.test"),
        ("request", "GET /b/x.php HTTP/1.0"),
    ]);
    let obs = builtin::run("pass-target", &traced, &mut host(&lab.path("nginx.conf")));
    assert_eq!(fact(&obs, "location"), &Value::text("/b/"), "{obs:?}");
    assert_eq!(fact(&obs, "kind"), &Value::text("fastcgi"), "{obs:?}");
}

/// A configuration nginx refuses, in a directory of its own.
struct Refused {
    dir: tempfile::TempDir,
}

impl Refused {
    /// `nginx.conf` from `text`, `DIR` standing for the directory (keep
    /// what nginx writes, and the socket it binds, inside it).
    fn new(text: &str) -> Refused {
        let dir = tempfile::Builder::new()
            .prefix("refused-")
            .tempdir()
            .unwrap();
        let text = text.replace("DIR", &dir.path().display().to_string());
        std::fs::write(dir.path().join("nginx.conf"), text).unwrap();
        Refused { dir }
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("nginx.conf")
    }

    /// The real `nginx -t`'s error: `MESSAGE in FILE:LINE`.
    fn nginx_t(&self) -> String {
        let args: Vec<String> = [
            "-t".to_owned(),
            "-p".to_owned(),
            format!("{}/", self.dir.path().display()),
            "-e".to_owned(),
            "stderr".to_owned(),
            "-c".to_owned(),
            self.conf().display().to_string(),
        ]
        .to_vec();
        let run = run_bounded(NGINX, &args, self.dir.path(), Duration::from_secs(30));
        assert_eq!(run.status, 1, "{run}");
        let emerg = Regex::new(r"\[emerg\] \d+#\d+: (.*)").unwrap();
        let caps = emerg
            .captures(&run.stderr)
            .unwrap_or_else(|| panic!("{run}"));
        caps[1].to_owned()
    }
}

const NO_PORT: &str = "pid DIR/nginx.pid;\nevents {}\nhttp {\n    access_log off;\n    \
    fastcgi_temp_path DIR/fastcgi;\n    server {\n        listen unix:DIR/ngx.sock;\n        \
    location / {\n            fastcgi_pass backend;\n        }\n    }\n}\n";

/// `MESSAGE in FILE:LINE` split at its last " in ".
fn split_place(said: &str) -> (&str, &str) {
    said.rsplit_once(" in ").unwrap_or((said, ""))
}

#[test]
fn config_prints_the_error_nginx_t_prints_at_the_same_line() {
    let refused = Refused::new(NO_PORT);
    let said = refused.nginx_t();
    let (message, place) = split_place(&said);
    assert_eq!(message, "no port in upstream \"backend\"");
    let run = config(&["--conf", &refused.conf().display().to_string()]);
    assert_eq!(run.status, 0, "{run}");
    let line = place.rsplit(':').next().unwrap();
    let shown = format!("  error   nginx.conf:{line}: {message}\n");
    assert!(run.stdout.contains(&shown), "{run}");
}

#[test]
fn nginx_check_states_the_first_error_nginx_t_prints() {
    let refused = Refused::new(NO_PORT);
    let said = refused.nginx_t();
    let (message, place) = split_place(&said);
    let obs = builtin::run("nginx", &params(&[]), &mut host(&refused.conf()));
    assert_eq!(fact(&obs, "config_errors"), &Value::Int(1), "{obs:?}");
    let first = fact(&obs, "config_error").to_string();
    assert!(
        first.starts_with(&format!("{place}: {message}; ")),
        "{first}"
    );
}

#[test]
fn config_names_the_block_left_open_where_nginx_t_names_the_end_of_the_file() {
    let refused = Refused::new(
        "pid DIR/nginx.pid;\nevents {}\nhttp {\n    server {\n        \
         listen unix:DIR/ngx.sock;\n    }\n\n",
    );
    let said = refused.nginx_t();
    let (message, place) = split_place(&said);
    assert_eq!(message, "unexpected end of file, expecting \"}\"");
    let run = config(&["--conf", &refused.conf().display().to_string()]);
    assert_eq!(run.status, 3, "{run}");
    let named = format!("{place}: {message}: \"http {{\" opened at line 3 is never closed");
    assert!(run.stderr.contains(&named), "{run}");
    assert!(Path::new(place.rsplit_once(':').unwrap().0).exists());
}
