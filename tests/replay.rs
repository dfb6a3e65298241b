//! Record and replay: a diagnosis recorded with `--record` on a real lab
//! replays to the same report after the lab is gone (so no probe ran on
//! replay), from a directory or a `.tar.gz`; secrets never reach the bundle
//! on disk; and hand-written bundles of hosts this machine cannot be (RHEL
//! with SELinux, firewalld, systemd; a non-root run) replay through the
//! default pack to the cause they show.

use crate::support::doctor::{self, DoctorRun};
use crate::support::faults::PHP;
use crate::support::{Lab, Pass, Pool};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

/// The hand-written bundles.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bundles")
        .join(name)
}

/// Runs the binary under test with `args` (no `--conf`: nothing of a lab).
fn doctor(args: &[&str]) -> DoctorRun {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    doctor::run_bounded(
        doctor::BINARY,
        &args,
        Path::new("/"),
        doctor::DOCTOR_TIMEOUT,
    )
}

fn replay(bundle: &Path) -> DoctorRun {
    doctor(&[
        "--replay",
        &bundle.display().to_string(),
        "--format",
        "json",
    ])
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (probe, status) of every check of a report.
fn checks(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| (text(&c["probe"]), text(&c["status"])))
                .collect()
        })
        .unwrap_or_default()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Records php-fpm stopped behind nginx (backend-down on a unix socket)
/// into `dir`; the lab is gone when this returns.
fn record_backend_down(dir: &Path) -> DoctorRun {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    lab.stop(fpm.pid);
    assert_eq!(lab.get("/ok.php"), 502);
    let dir = dir.display().to_string();
    let run = lab.doctor(&["--auto", "--format", "json", "--record", &dir]);
    assert_eq!(run.status, 1, "recording run\n{run}");
    run.assert_first("backend-down");
    run
}

/// A tiny pack whose one probe prints `file` (a stand-in for `nginx -T`).
fn cat_pack(dir: &Path, file: &Path) -> PathBuf {
    let pack = dir.join("pack");
    fs::create_dir_all(&pack).expect("create pack dir");
    let yaml = format!(
        "pack:\n  name: cat\n  start: look\nprobes:\n  conf:\n    run: [cat, \"{}\"]\nnodes:\n  look:\n    check: conf\n    next: fine\n  fine:\n    conclude: no-fault-found\n    title: ok\n",
        file.display()
    );
    fs::write(pack.join("00-pack.yaml"), yaml).expect("write pack");
    pack
}

#[test]
fn a_recorded_lab_diagnosis_replays_to_the_same_report() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("bundle");
    let recorded = record_backend_down(&dir);

    let bundle = read_json(&dir.join("bundle.json"));
    assert_eq!(bundle["format"], 1);
    assert_eq!(bundle["mode"], "auto");
    let probes: Vec<String> = bundle["observations"]
        .as_array()
        .expect("observations")
        .iter()
        .map(|o| text(&o["probe"]))
        .collect();
    let recorded_checks = checks(&recorded.json);
    let recorded_probes: Vec<String> = recorded_checks.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(probes, recorded_probes, "one observation per check");
    assert_eq!(
        read_json(&dir.join("report.json"))["findings"],
        recorded.json["findings"]
    );

    let replayed = replay(&dir);
    assert_eq!(replayed.status, 1, "{replayed}");
    assert_eq!(replayed.json["mode"], "replay", "{replayed}");
    assert_eq!(
        replayed.json["findings"], recorded.json["findings"],
        "{replayed}"
    );
    assert_eq!(checks(&replayed.json), recorded_checks, "{replayed}");
    assert_eq!(
        replayed.json["checks"], recorded.json["checks"],
        "{replayed}"
    );
    assert_eq!(replayed.json["path"], recorded.json["path"], "{replayed}");
    assert_eq!(replayed.json["host"], recorded.json["host"], "{replayed}");
    assert!(
        replayed
            .stderr
            .contains("the same diagnosis as the recorded report"),
        "{replayed}"
    );
}

#[test]
fn a_tar_gz_of_a_bundle_replays() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("bundle");
    let recorded = record_backend_down(&dir);

    let archive = tmp.path().join("bundle.tar.gz");
    let file = fs::File::create(&archive).expect("create archive");
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all("nginx-doctor-bundle", &dir)
        .expect("archive the bundle");
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .expect("finish the archive");
    fs::remove_dir_all(&dir).expect("remove the directory");

    let replayed = replay(&archive);
    assert_eq!(replayed.status, 1, "{replayed}");
    assert_eq!(
        replayed.json["findings"], recorded.json["findings"],
        "{replayed}"
    );
    assert_eq!(checks(&replayed.json), checks(&recorded.json), "{replayed}");
}

#[test]
fn secrets_in_an_observation_are_redacted_on_disk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dump = tmp.path().join("nginx-T.txt");
    fs::write(
        &dump,
        "# configuration file /etc/nginx/conf.d/app.conf:\n\
         server {\n\
         \x20   ssl_password_file /etc/keys/global.pass;\n\
         \x20   fastcgi_param DB_PASSWORD \"hunter2\";\n\
         \x20   proxy_set_header Authorization \"Basic YWRtaW46aHVudGVyMg==\";\n\
         }\n\
         # configuration file /etc/nginx/inline.key:\n\
         -----BEGIN PRIVATE KEY-----\n\
         MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n\
         -----END PRIVATE KEY-----\n",
    )
    .expect("write the fake nginx -T");
    let pack = cat_pack(tmp.path(), &dump);
    let dir = tmp.path().join("bundle");
    let (pack_arg, dir_arg) = (pack.display().to_string(), dir.display().to_string());
    let run = doctor(&[
        "--auto", "--format", "json", "--rules", &pack_arg, "--record", &dir_arg,
    ]);
    assert_eq!(run.status, 0, "{run}");

    for name in ["bundle.json", "report.json"] {
        let on_disk = fs::read_to_string(dir.join(name)).expect("read the bundle");
        for secret in [
            "hunter2",
            "YWRtaW46aHVudGVyMg",
            "MIIEvQIBADAN",
            "/etc/keys/global.pass",
        ] {
            assert!(
                !on_disk.contains(secret),
                "{name} holds {secret:?}:\n{on_disk}"
            );
        }
        assert!(
            on_disk.contains("fastcgi_param DB_PASSWORD [redacted];"),
            "{name}:\n{on_disk}"
        );
        assert!(
            on_disk.contains("-----BEGIN PRIVATE KEY-----"),
            "{name}:\n{on_disk}"
        );
    }
    let bundle = read_json(&dir.join("bundle.json"));
    assert_eq!(bundle["observations"][0]["probe"], "conf");
    assert!(text(&bundle["observations"][0]["stdout"]).contains("Authorization [redacted]"));

    let replayed = doctor(&[
        "--replay", &dir_arg, "--rules", &pack_arg, "--format", "json",
    ]);
    assert_eq!(replayed.status, 0, "{replayed}");
    assert!(
        replayed
            .stderr
            .contains("the same diagnosis as the recorded report"),
        "{replayed}"
    );
}

#[test]
fn a_bundle_that_cannot_be_written_still_prints_the_report() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dump = tmp.path().join("plain.txt");
    fs::write(&dump, "nothing secret\n").expect("write");
    let pack = cat_pack(tmp.path(), &dump);
    let blocked = dump.join("bundle");
    let run = doctor(&[
        "--auto",
        "--format",
        "json",
        "--rules",
        &pack.display().to_string(),
        "--record",
        &blocked.display().to_string(),
    ]);
    assert_eq!(run.status, 3, "{run}");
    assert_eq!(
        run.ids(),
        ["no-fault-found"],
        "the report is still printed\n{run}"
    );
    assert!(
        run.stderr
            .contains(&format!("cannot write the bundle to {}", blocked.display())),
        "{run}"
    );
}

#[test]
fn a_missing_bundle_is_a_usage_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = replay(tmp.path());
    assert_eq!(run.status, 2, "{run}");
    assert!(run.stderr.contains("holds no bundle.json"), "{run}");
}

#[test]
fn a_probe_the_bundle_lacks_is_reported_as_not_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("bundle.json");
    fs::write(
        &path,
        r#"{"format": 1, "observations": [{"probe": "nginx",
            "invocation": {"kind": "builtin", "name": "nginx", "params": {}},
            "status": "ok", "facts": {"found": true, "binary": "/usr/sbin/nginx",
            "conf": "/etc/nginx/nginx.conf", "prefix": "/etc/nginx/"}}]}"#,
    )
    .expect("write bundle");
    let run = replay(&path);
    let second = &run.json["checks"][1];
    assert_eq!(second["probe"], "nginx-test", "{run}");
    assert_eq!(second["status"], "error", "{run}");
    assert_eq!(second["reason"], "not run: not in the bundle", "{run}");
}

/// Replays a fixture through the default pack and checks its diagnosis.
fn replay_fixture(name: &str, exit: i32) -> DoctorRun {
    let run = replay(&fixture(name));
    assert_eq!(run.status, exit, "{run}");
    assert_eq!(run.json["mode"], "replay", "{run}");
    run
}

#[test]
fn selinux_blocking_nginx_is_selinux_denied() {
    let run = replay_fixture("selinux-denied", 1);
    run.assert_first("selinux-denied");
    run.assert_evidence_quotes(
        "selinux-denied",
        "connect() to 127.0.0.1:3000 failed (13: Permission denied) while connecting to upstream",
    );
    run.assert_evidence_quotes("selinux-denied", "getenforce: Enforcing");
    run.assert_evidence_quotes("selinux-denied", "httpd_can_network_connect --> off");
    run.assert_evidence_quotes("selinux-denied", "avc:  denied  { name_connect }");
}

/// SELinux runs only in the recorded bundle, so its fix is checked for what it prints:
/// the boolean nginx needs, as a command, and the narrower relabel with `-m`, since the
/// audit line shows port 3000 labelled `ntop_port_t` already (`-a` would fail there).
#[test]
fn selinux_denied_fix_sets_the_boolean_and_names_the_relabel_the_port_needs() {
    let run = replay_fixture("selinux-denied", 1);
    let fix = &run.finding("selinux-denied")["fix"];
    let steps = fix["steps"].as_array().expect("steps");
    assert_eq!(
        steps[0]["command"],
        serde_json::json!(["setsebool", "-P", "httpd_can_network_connect", "1"]),
        "{fix:#}"
    );
    let texts: Vec<&str> = steps.iter().filter_map(|s| s["text"].as_str()).collect();
    assert!(
        texts.iter().any(|t| t.contains("labelled ntop_port_t")
            && t.contains("`semanage port -m -t http_port_t -p tcp 3000`")),
        "{texts:#?}"
    );
    // The failing request, first where the recording names nginx's port, proves the
    // fix; the boolean is the line after it.
    let verify: Vec<&str> = fix["verify"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        verify.last(),
        Some(&"getsebool httpd_can_network_connect | grep -F -- '--> on'"),
        "{fix:#}"
    );
}

/// A backend on another host whose firewalld rejects the port: nginx logs 113, and this
/// host's own filter (firewalld runs here too) lets the connection out. The report says so
/// and points at the backend's host; it does not tell the admin to open a port here.
#[test]
fn a_reject_from_the_backend_host_points_at_its_firewall() {
    let run = replay_fixture("firewall-blocked", 1);
    run.assert_first("firewall-blocked");
    run.assert_evidence_quotes(
        "firewall-blocked",
        "connect() failed (113: No route to host) while connecting to upstream",
    );
    let finding = run.finding("firewall-blocked");
    assert_eq!(finding["node"], "unreachable", "{run}");
    let steps = finding["fix"]["steps"].to_string();
    assert!(
        steps.contains(r#"["ip","route","get","10.0.0.12"]"#),
        "{steps}"
    );
    assert!(
        steps.contains("10.0.0.12 is another host: on it")
            && steps.contains("firewall-cmd --query-port=8080/tcp"),
        "{steps}"
    );
    assert!(
        !steps.contains(r#""firewall-cmd""#),
        "no firewall-cmd to run on this host: {steps}"
    );
}

#[test]
fn php_fpm_failed_under_systemd_is_backend_down() {
    let run = replay_fixture("backend-down-systemd", 1);
    run.assert_first("backend-down");
    run.assert_evidence_quotes(
        "backend-down",
        "connect() to unix:/run/php-fpm/www.sock failed (2: No such file or directory)",
    );
    run.assert_evidence_quotes(
        "backend-down",
        "service manager: php-fpm is failed (Result: oom-kill)",
    );
    run.assert_evidence_quotes("backend-down", "(/etc/php-fpm.d/www.conf:");
}

#[test]
fn unreadable_logs_without_root_say_what_to_run() {
    let run = replay_fixture("non-root-logs-unreadable", 3);
    assert_eq!(run.ids(), Vec::<String>::new(), "{run}");
    let stopped = text(&run.json["stopped"]);
    assert!(
        stopped.contains("/var/log/nginx/error.log (Permission denied)"),
        "{run}"
    );
    assert!(stopped.contains("sudo nginx-doctor --auto"), "{run}");
    assert_eq!(run.json["host"]["root"], false, "{run}");
}

#[test]
fn a_recorded_diagnosis_of_two_upstreams_and_a_recovered_one_replays_the_same() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("bundle");
    let recorded = {
        let lab = Lab::new();
        let fpm = lab.php_fpm(Pool::unix("www"));
        let dead = crate::support::net::free_port();
        lab.nginx(|c| {
            c.location(PHP, Pass::fastcgi(&fpm))
                .location("/api/", Pass::proxy_http(dead))
        });
        lab.stop(fpm.pid);
        assert_eq!(lab.get("/ok.php"), 502);
        assert_eq!(lab.get("/api/x"), 502);
        lab.next_second();
        lab.restart_fpm(&fpm);
        let dir = dir.display().to_string();
        let run = lab.doctor(&["--auto", "--format", "json", "--record", &dir]);
        assert_eq!(run.status, 1, "recording run\n{run}");
        assert_eq!(
            run.json["resolved"].as_array().map(Vec::len),
            Some(1),
            "{run}"
        );
        run
    };

    let replayed = replay(&dir);
    assert_eq!(replayed.status, 1, "{replayed}");
    for part in ["findings", "resolved", "checks"] {
        assert_eq!(
            replayed.json[part], recorded.json[part],
            "{part}\n{replayed}"
        );
    }
}
