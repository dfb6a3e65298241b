//! Knowing the host's nginx and pools: `nginx-doctor config` on the fixture
//! corpus and on a real lab nginx (servers, locations, pass targets and
//! effective settings with the file:line each came from), the lab's
//! `nginx -T` read into the same model as its files, a failing request traced
//! to the location that served it (`pass-target`), and the `capacity`
//! built-in sizing a real php-fpm pool from its measured workers.
//!
//! `nginx -T` against the files for the debian fixture is tested in
//! `src/nginx/tests/live.rs`; here it is the lab's generated configuration.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nginx_doctor::config_command::view::{ConfigView, Origin, UserView};
use nginx_doctor::logs::Timestamp;
use nginx_doctor::nginx::{model, parse_dump, parse_file};
use nginx_doctor::probe::builtin;
use nginx_doctor::probe::{Observation, ProbeStatus};
use nginx_doctor::session::{Options, Session};
use nginx_doctor::value::Value;
use regex::Regex;
use serde_json::Value as Json;

use crate::support::doctor::{BINARY, DOCTOR_TIMEOUT, DoctorRun, run_bounded};
use crate::support::lab::NGINX;
use crate::support::net::free_port;
use crate::support::{Lab, Pass, Pool};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nginx")
}

/// `nginx-doctor config ARGS` from the crate root.
pub(crate) fn config(args: &[&str]) -> DoctorRun {
    let mut all = vec!["config".to_owned()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    run_bounded(
        BINARY,
        &all,
        Path::new(env!("CARGO_MANIFEST_DIR")),
        DOCTOR_TIMEOUT,
    )
}

pub(crate) fn config_json(conf: &Path) -> Json {
    let run = config(&["--conf", &conf.display().to_string(), "--format", "json"]);
    assert_eq!(run.status, 0, "{run}");
    assert_eq!(run.json["schema"], 1, "{run}");
    run.json
}

fn text(v: &Json) -> &str {
    v.as_str().unwrap_or("")
}

/// `value (file:line)` with the file relative to `base`, or `value (default)`.
fn setting(s: &Json, base: &Path) -> String {
    if s["default"] == true {
        return format!("{} (default)", text(&s["value"]));
    }
    let file = Path::new(text(&s["file"]));
    let rel = file.strip_prefix(base).unwrap_or(file).display();
    format!("{} ({rel}:{})", text(&s["value"]), s["line"])
}

/// One row per location (nested ones as `parent > child`) and per pass:
/// what a reader checks in the output, in configuration order.
fn digest(json: &Json, base: &Path) -> Vec<String> {
    fn walk(locs: &Json, server: &str, outer: &str, base: &Path, rows: &mut Vec<String>) {
        for l in locs.as_array().into_iter().flatten() {
            let name = format!("{outer}{}", text(&l["match"]));
            rows.push(format!("{server} | {name}"));
            for p in l["passes"].as_array().into_iter().flatten() {
                let t = &p["timeouts"];
                let endpoints: Vec<&str> = p["endpoints"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(text)
                    .collect();
                let rel = Path::new(text(&p["file"]));
                let rel = rel.strip_prefix(base).unwrap_or(rel).display();
                let cond = if p["conditional"] == true { " if" } else { "" };
                rows.push(format!(
                    "  {}_pass {} @{rel}:{}{cond} → {} | connect {} | read {} | buffer {}",
                    text(&p["kind"]),
                    text(&p["target"]),
                    p["line"],
                    endpoints.join(" "),
                    setting(&t["connect"], base),
                    setting(&t["read"], base),
                    setting(&t["buffer_size"], base),
                ));
            }
            walk(&l["locations"], server, &format!("{name} > "), base, rows);
        }
    }
    let mut rows = Vec::new();
    for s in json["servers"].as_array().into_iter().flatten() {
        let server = s["names"].get(0).map_or("\"\"", text);
        walk(&s["locations"], server, "", base, &mut rows);
    }
    rows
}

#[test]
fn debian_fixture_model_has_every_pass_with_its_settings() {
    let dir = fixtures().join("debian");
    let json = config_json(&dir.join("nginx.conf"));
    let expected = [
        "app.example.com | /",
        "  proxy_pass http://app @sites-enabled/app.conf:8 → 127.0.0.1:3000 [::1]:3000 | connect 3s (sites-enabled/app.conf:5) | read 90s (nginx.conf:32) | buffer 4k (default)",
        "app.example.com | / > /static/",
        "app.example.com | ^~ /api/",
        "  proxy_pass http://127.0.0.1:9100/v1/ @sites-enabled/app.conf:20 → 127.0.0.1:9100 | connect 3s (sites-enabled/app.conf:5) | read 5s (sites-enabled/app.conf:21) | buffer 4k (default)",
        "  proxy_pass http://127.0.0.1:9101 @sites-enabled/app.conf:23 if → 127.0.0.1:9101 | connect 3s (sites-enabled/app.conf:5) | read 5s (sites-enabled/app.conf:21) | buffer 4k (default)",
        "app.example.com | @php",
        "  fastcgi_pass php @sites-enabled/app.conf:28 → unix:/run/php/php8.2-fpm.sock 127.0.0.1:9000 | connect 60s (default) | read 60s (default) | buffer 4k (default)",
        "app.example.com | = /quoted",
        "app.example.com | /grpc",
        "  grpc_pass grpc://127.0.0.1:50051 @sites-enabled/app.conf:38 → 127.0.0.1:50051 | connect 60s (default) | read 60s (default) | buffer 4k (default)",
        "app.example.com | /uwsgi",
        "  uwsgi_pass unix:/run/uwsgi/app.sock @sites-enabled/app.conf:43 → unix:/run/uwsgi/app.sock | connect 60s (default) | read 60s (default) | buffer 4k (default)",
        "_ | /",
        "_ | ~ \\.php$",
        "  fastcgi_pass unix:/run/php/php8.2-fpm.sock @sites-enabled/default:22 → unix:/run/php/php8.2-fpm.sock | connect 60s (default) | read 300 (sites-enabled/default:23) | buffer 4k (default)",
        "_ | ~ /\\.ht",
    ];
    assert_eq!(digest(&json, &dir), expected);
}

#[test]
fn debian_fixture_groups_logs_and_user_keep_their_lines() {
    let dir = fixtures().join("debian");
    let json = config_json(&dir.join("nginx.conf"));
    let upstreams = &json["upstreams"];
    assert_eq!(upstreams[0]["name"], "php");
    assert_eq!(upstreams[0]["servers"][1]["params"][0], "backup");
    assert_eq!(upstreams[1]["name"], "app");
    assert_eq!(upstreams[1]["keepalive"], 8);
    assert_eq!(upstreams[1]["servers"][0]["params"][0], "max_fails=2");
    assert_eq!(upstreams[1]["servers"][1]["endpoint"], "[::1]:3000");
    let app_pass = &json["servers"][0]["locations"][0]["passes"][0];
    assert_eq!(app_pass["upstream"]["name"], "app", "the group is inlined");
    let logs: Vec<(&str, u64)> = json["error_logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (text(&l["path"]), l["line"].as_u64().unwrap()))
        .collect();
    assert!(
        logs[0].0.ends_with("/logs/error.log") && logs[0].1 == 4,
        "{logs:?}"
    );
    assert!(logs[1].0.ends_with("/logs/app.error.log"), "{logs:?}");
    assert_eq!(json["user"]["directive"]["value"], "www-data");
    assert_eq!(json["user"]["directive"]["line"], 1);
    assert_eq!(json["origin"]["how"], "given with --conf");
    assert_eq!(json["servers"][1]["default_server"][1], "[::]:8081");
}

#[test]
fn tricky_fixture_passes_survive_lua_quotes_and_if() {
    let dir = fixtures().join("tricky");
    let json = config_json(&dir.join("nginx.conf"));
    assert_eq!(
        json["servers"][0]["names"][0],
        "~^(?<sub>.+)\\.example\\.com$"
    );
    let expected = [
        "~^(?<sub>.+)\\.example\\.com$ | ~ ^/(a|b){2}$",
        "~^(?<sub>.+)\\.example\\.com$ | /lua",
        "~^(?<sub>.+)\\.example\\.com$ | /multi",
        "  proxy_pass http://127.0.0.1:7000 @nginx.conf:34 → 127.0.0.1:7000 | connect 60s (default) | read 60s (default) | buffer 4k (default)",
        "~^(?<sub>.+)\\.example\\.com$ | /if",
        "  proxy_pass http://127.0.0.1:7001 @nginx.conf:40 if → 127.0.0.1:7001 | connect 60s (default) | read 60s (default) | buffer 4k (default)",
    ];
    assert_eq!(digest(&json, &dir), expected);
}

#[test]
fn text_output_cites_file_and_line_relative_to_the_conf() {
    let dir = fixtures().join("debian");
    let run = config(&["--conf", &dir.join("nginx.conf").display().to_string()]);
    assert_eq!(run.status, 0, "{run}");
    let out = &run.stdout;
    assert!(
        out.contains(&format!("files below are relative to {}/", dir.display())),
        "{run}"
    );
    assert!(
        out.contains("    fastcgi_pass unix:/run/php/php8.2-fpm.sock  sites-enabled/default:22\n"),
        "{run}"
    );
    assert!(
        out.contains("connect 60s (default), send 60s (default), read 300 (sites-enabled/default:23), buffer 4k (default)"),
        "{run}"
    );
    assert!(
        out.ends_with("2 servers, 10 locations, 7 pass directives\n"),
        "{run}"
    );
}

/// `--conf` is checked as every command checks it: a file that is not
/// there is a wrong argument (exit 2) named with what to give instead.
#[test]
fn a_missing_configuration_is_a_usage_error_that_says_what_to_pass() {
    let run = config(&["--conf", "/nonexistent/nginx.conf"]);
    assert_eq!(run.status, 2, "{run}");
    assert_eq!(run.stdout, "", "{run}");
    assert!(
        run.stderr
            .contains("--conf /nonexistent/nginx.conf: no such file."),
        "{run}"
    );
    assert!(run.stderr.contains("ps -o args= -C nginx"), "{run}");
}

#[test]
fn unreadable_configuration_exits_3_and_says_what_to_pass() {
    let cycle = config(&[
        "--conf",
        &fixtures().join("cycle/a.conf").display().to_string(),
    ]);
    assert_eq!(cycle.status, 3, "{cycle}");
    assert!(cycle.stderr.contains("include cycle"), "{cycle}");
}

/// The 1-based line of the first line of `file` containing `needle`.
fn line_of(file: &Path, needle: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap();
    let at = text.lines().position(|l| l.contains(needle));
    at.unwrap_or_else(|| panic!("{needle:?} not in {}:\n{text}", file.display())) as u64 + 1
}

/// A lab nginx with an upstream group and a direct pass to one php-fpm pool.
fn lab_with_group(lab: &Lab) -> crate::support::fpm::Fpm {
    let fpm = lab.php_fpm(Pool::unix("www"));
    let group = format!(
        "upstream php {{ server {} max_fails=3; keepalive 2; }}",
        fpm.target()
    );
    lab.nginx(|c| {
        c.http(&group)
            .server("server_name lab.test")
            .server("fastcgi_read_timeout 7s")
            .location(
                "~ \\.php$",
                Pass::fastcgi_to("php").with("fastcgi_buffer_size 8k"),
            )
            .location("/direct/", Pass::fastcgi(&fpm))
    });
    fpm
}

#[test]
fn real_nginx_is_shown_as_its_master_runs_it() {
    let lab = Lab::new();
    let fpm = lab_with_group(&lab);
    let nginx = lab.nginx_info();
    let run = lab.doctor(&["config", "--format", "json"]);
    assert_eq!(run.status, 0, "{run}");
    let json = &run.json;
    assert_eq!(json["origin"]["pid"], nginx.pid, "{run}");
    assert_eq!(json["origin"]["binary"], NGINX, "{run}");
    assert_eq!(json["user"]["from"], "running workers", "{run}");
    let prefix = text(&json["origin"]["prefix"]).trim_end_matches('/');
    assert_eq!(Path::new(prefix), lab.dir(), "{run}");
    assert_eq!(
        json["error_logs"][0]["path"],
        lab.path("error.log").display().to_string()
    );

    let conf = nginx.conf.as_path();
    let server = &json["servers"][0];
    assert_eq!(server["listen"][0], format!("127.0.0.1:{}", nginx.port));
    let php = &server["locations"][0]["passes"][0];
    assert_eq!(php["target"], "php");
    assert_eq!(php["endpoints"][0], fpm.target());
    assert_eq!(php["upstream"]["keepalive"], 2);
    assert_eq!(php["upstream"]["servers"][0]["params"][0], "max_fails=3");
    let read = &php["timeouts"]["read"];
    assert_eq!(
        (read["value"].as_str(), read["default"].as_bool()),
        (Some("7s"), Some(false))
    );
    assert_eq!(read["line"], line_of(conf, "fastcgi_read_timeout 7s"));
    assert_eq!(
        php["timeouts"]["buffer_size"]["line"],
        line_of(conf, "fastcgi_buffer_size 8k")
    );
    let direct = &server["locations"][1]["passes"][0];
    assert_eq!(direct["endpoints"][0], fpm.target());
    assert_eq!(direct["timeouts"]["read"]["value"], "7s");
    assert_eq!(direct["timeouts"]["buffer_size"]["default"], true);
    assert_eq!(direct["timeouts"]["connect"]["default"], true);
}

#[test]
fn real_nginx_dump_gives_the_model_config_prints() {
    let lab = Lab::new();
    lab_with_group(&lab);
    let conf = lab.path("nginx.conf");
    let prefix = format!("{}/", lab.dir().display());
    let args: Vec<String> = [
        "-T",
        "-p",
        &prefix,
        "-e",
        "stderr",
        "-c",
        &conf.display().to_string(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let dump = run_bounded(NGINX, &args, lab.dir(), Duration::from_secs(30));
    assert_eq!(dump.status, 0, "{dump}");
    let from_dump = model(&parse_dump(&dump.stdout).unwrap(), lab.dir());
    let from_files = model(&parse_file(&conf).unwrap(), lab.dir());
    assert_eq!(from_dump, from_files);

    let user = UserView::new(&from_dump, &[], None);
    let view = ConfigView::new(&from_dump, Origin::default(), user);
    let printed = lab.doctor(&["config", "--format", "json"]);
    assert_eq!(printed.status, 0, "{printed}");
    assert_eq!(
        serde_json::to_value(&view).unwrap()["servers"],
        printed.json["servers"]
    );
}

pub(crate) fn host(conf: &Path) -> Session {
    Session::new(Options {
        conf: Some(conf.to_path_buf()),
        fpm_conf: None,
        error_logs: Vec::new(),
        since: Timestamp::now(),
        window: String::new(),
        url: None,
        budget: Duration::from_secs(60),
    })
}

pub(crate) fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub(crate) fn fact<'a>(obs: &'a Observation, name: &str) -> &'a Value {
    obs.facts
        .iter()
        .find(|(n, _)| n == name)
        .map_or(&Value::Null, |(_, v)| v)
}

#[test]
fn failing_request_is_traced_to_the_location_that_served_it() {
    let lab = Lab::new();
    let dead = free_port();
    lab.nginx(|c| {
        c.server("server_name shop.test")
            .location("/first/", Pass::fastcgi_to(dead))
            .location(
                "~ \\.php$",
                Pass::fastcgi_to(dead).with("fastcgi_read_timeout 9s"),
            )
    });
    assert_eq!(lab.get("/shop/cart.php?id=1"), 502);
    let line = lab.error_log_line("connect() failed");
    let fields = Regex::new(r#"server: ([^,]*), request: "([^"]*)", upstream: "([^"]*)""#).unwrap();
    let caps = fields
        .captures(&line)
        .unwrap_or_else(|| panic!("fields in {line}"));
    assert_eq!(&caps[1], "shop.test");
    let conf = lab.path("nginx.conf");
    let mut host = host(&conf);

    let traced = params(&[
        ("upstream", &caps[3]),
        ("server", &caps[1]),
        ("request", &caps[2]),
    ]);
    let obs = builtin::run("pass-target", &traced, &mut host);
    assert_eq!(obs.status, ProbeStatus::Ok, "{obs:?}");
    assert_eq!(fact(&obs, "candidates"), &Value::Int(2));
    assert_eq!(fact(&obs, "matched_by"), &Value::text("request"));
    assert_eq!(fact(&obs, "location"), &Value::text("~ \\.php$"));
    let at = format!(
        "{}:{}",
        conf.display(),
        line_of(&conf, "fastcgi_read_timeout 9s")
    );
    assert_eq!(
        fact(&obs, "effective"),
        &Value::text(format!("fastcgi_read_timeout 9s ({at})"))
    );
    assert_eq!(fact(&obs, "read_timeout_default"), &Value::Bool(false));
    assert_eq!(fact(&obs, "buffer_size_default"), &Value::Bool(true));

    let untraced = params(&[("upstream", &caps[3])]);
    let first = builtin::run("pass-target", &untraced, &mut host);
    assert_eq!(fact(&first, "location"), &Value::text("/first/"));
    assert_eq!(fact(&first, "matched_by"), &Value::text("first"));
    assert_eq!(
        fact(&first, "effective"),
        &Value::text("fastcgi_read_timeout 60s (nginx's default)")
    );
}

/// Runs `capacity` until it sees `workers` workers (a fresh pool's children
/// retitle themselves a moment after the master accepts).
fn capacity(host: &mut Session, conf: &Path, workers: i64) -> Observation {
    let p = params(&[("pool", "www"), ("conf", &conf.display().to_string())]);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let obs = builtin::run("capacity", &p, host);
        if fact(&obs, "workers") == &Value::Int(workers) || Instant::now() > deadline {
            return obs;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn int(obs: &Observation, name: &str) -> i64 {
    fact(obs, name)
        .as_int()
        .unwrap_or_else(|| panic!("{name} is not a number: {obs:?}"))
}

#[test]
fn capacity_of_real_workers_is_measured_and_its_arithmetic_holds() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www").max_children(3).pm_static());
    let mut host = host(&lab.path("nginx.conf"));
    let obs = capacity(&mut host, &fpm.conf, 3);
    assert_eq!(obs.status, ProbeStatus::Ok, "{obs:?}");
    assert_eq!(int(&obs, "workers"), 3, "{obs:?}");
    assert_eq!(
        fact(&obs, "measured_with"),
        &Value::text("pss"),
        "as root or owner, PSS is readable"
    );
    let (avg, max) = (int(&obs, "pss_avg_mib"), int(&obs, "pss_max_mib"));
    assert!(avg > 0 && max >= avg, "{obs:?}");
    let (available, total) = (int(&obs, "mem_available_mib"), int(&obs, "mem_total_mib"));
    assert!(available > 0 && total >= available, "{obs:?}");
    assert_eq!(int(&obs, "current_max_children"), 3);
    let at = format!(
        "{}:{}",
        fpm.conf.display(),
        line_of(&fpm.conf, "pm.max_children = 3")
    );
    assert_eq!(fact(&obs, "current_max_children_at"), &Value::text(at));

    let arithmetic = fact(&obs, "arithmetic").to_string();
    let shape = Regex::new(
        r"^memory: \((\d+) MiB available[a-z ]* \+ (\d+) × (\d+) MiB in use\) × 0\.8 ÷ (\d+) MiB per worker = (\d+); CPU: (\d+) CPUs? × (\d+) per CPU = (\d+); pm\.max_children = the lower, (\d+)$",
    )
    .unwrap();
    let c = shape
        .captures(&arithmetic)
        .unwrap_or_else(|| panic!("arithmetic {arithmetic:?}"));
    let n = |i: usize| c[i].parse::<i64>().unwrap();
    assert!(n(1) <= available, "{arithmetic}");
    assert_eq!((n(2), n(3)), (3, avg), "{arithmetic}");
    // Three idle workers are too idle to price a busy one: the floor (100 MiB,
    // less only for a small memory_limit), unless a worker is bigger.
    assert_eq!(n(4), int(&obs, "per_worker_mib"), "{arithmetic}");
    assert!(max <= n(4) && n(4) <= max.max(100), "{arithmetic}");
    assert_eq!((n(1) + n(2) * n(3)) * 8 / (10 * n(4)), n(5), "{arithmetic}");
    assert_eq!(n(6), int(&obs, "cpus"), "{arithmetic}");
    assert_eq!(n(6) * n(7), n(8), "{arithmetic}");
    let recommended = int(&obs, "recommended_max_children");
    assert_eq!(n(5).min(n(8)), recommended, "{arithmetic}");
    assert_eq!(n(9), recommended);
    assert!(recommended > 0);
    assert_eq!(fact(&obs, "affordable"), &Value::Bool(recommended > 3));
    let (start, min, spare) = (
        int(&obs, "start_servers"),
        int(&obs, "min_spare"),
        int(&obs, "max_spare"),
    );
    assert!(
        1 <= min && min <= start && start <= spare && spare <= recommended,
        "{obs:?}"
    );
}

#[test]
fn capacity_of_a_pool_that_does_not_run_says_which_do() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www").max_children(2).pm_static());
    let mut host = host(&lab.path("nginx.conf"));
    capacity(&mut host, &fpm.conf, 2);
    let p = params(&[("pool", "shop"), ("conf", &fpm.conf.display().to_string())]);
    let obs = builtin::run("capacity", &p, &mut host);
    assert_eq!(obs.status, ProbeStatus::Error, "{obs:?}");
    let reason = obs.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("pool shop has no running worker"),
        "{reason}"
    );
    assert!(reason.contains("www"), "{reason}");
}
