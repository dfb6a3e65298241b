//! Degraded hosts: the diagnosis runs as far as it can and says what it
//! could not check, never fails for it.
//!
//! - Not root, logs root-only: the report names each file it could not
//!   read and the command to rerun (`sudo nginx-doctor --auto`), exit 3.
//! - No systemd as PID 1 (a container, this test machine): the service-state
//!   check is `no-systemd` with its reason, and the diagnosis still concludes.
//! - Missing tools (`ss`, `getenforce`, `firewall-cmd` not on `PATH`): those
//!   checks are `missing`, the built-ins that replace `ss` still work, and
//!   the exit status is a diagnosis, not an error.
//! - A full filesystem or an unwritable directory for `--output`/`--record`:
//!   a clear error, the report on stdout, exit 3 (the read-only `--output`
//!   case is in `cli.rs`).
//!
//! The tests that need root to drop privileges, or a host without systemd,
//! say so on stderr and pass without checking anything elsewhere.

use std::fs::{self, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::unistd::User;
use serde_json::Value;

use crate::fix_commands::network::append_error;
use crate::hostile::{Run, Scene, assert_terminal_safe, check};
use crate::support::backend::Mode;
use crate::support::doctor::{BINARY, DOCTOR_TIMEOUT, DoctorRun, run_bounded};
use crate::support::lab::is_root;
use crate::support::{Lab, Pass};

/// Runs the binary from the crate root with `args`.
fn doctor_at(args: &[&str]) -> DoctorRun {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    run_bounded(
        BINARY,
        &args,
        Path::new(env!("CARGO_MANIFEST_DIR")),
        DOCTOR_TIMEOUT,
    )
}

// --- not root ---------------------------------------------------------------

/// The program and arguments that run a command as `nobody`, when we are
/// root and `setpriv` (util-linux) or `runuser` is installed.
fn as_nobody() -> Option<Vec<String>> {
    if !is_root() {
        return None;
    }
    let nobody = User::from_name("nobody").ok().flatten()?;
    let found = |names: &[&str]| {
        names
            .iter()
            .find(|p| Path::new(p).exists())
            .map(|p| (*p).to_owned())
    };
    if let Some(setpriv) = found(&["/usr/bin/setpriv", "/bin/setpriv"]) {
        return Some(vec![
            setpriv,
            format!("--reuid={}", nobody.uid),
            format!("--regid={}", nobody.gid),
            "--clear-groups".into(),
        ]);
    }
    let runuser = found(&["/usr/sbin/runuser", "/sbin/runuser"])?;
    Some(vec![runuser, "-u".into(), "nobody".into(), "--".into()])
}

/// Runs the binary as `nobody` with `args`; `None` (and a note) when this
/// host cannot: not root, no tool to drop privileges, or the binary is not
/// reachable by `nobody` (a build tree under a private home).
pub(crate) fn doctor_as_nobody(args: &[&str], cwd: &Path) -> Option<DoctorRun> {
    let Some(prefix) = as_nobody() else {
        eprintln!("skipped: needs root and setpriv or runuser to run as nobody");
        return None;
    };
    let run = |extra: &[&str]| {
        let mut all: Vec<String> = prefix[1..].to_vec();
        all.push(BINARY.to_owned());
        all.extend(extra.iter().map(|a| (*a).to_owned()));
        run_bounded(&prefix[0], &all, cwd, DOCTOR_TIMEOUT)
    };
    let probe = run(&["--version"]);
    if probe.status != 0 {
        eprintln!("skipped: nobody cannot run {BINARY}: {probe}");
        return None;
    }
    Some(run(args))
}

#[test]
fn a_named_error_log_only_root_may_read_is_exit_3_with_what_to_do() {
    let lab = Lab::stopped_fpm_scenario().0;
    let log = lab.path("error.log");
    fs::set_permissions(&log, Permissions::from_mode(0o600)).expect("chmod 600");
    let path = log.display().to_string();
    let Some(run) = doctor_as_nobody(&["--auto", "--error-log", &path], lab.dir()) else {
        return;
    };
    assert_eq!(run.status, 3, "right argument, but unreadable\n{run}");
    assert_eq!(run.stdout, "", "{run}");
    assert!(
        run.stderr
            .contains(&format!("--error-log {path}: cannot read it")),
        "{run}"
    );
    assert!(
        run.stderr.contains("Run as root: sudo nginx-doctor"),
        "{run}"
    );
}

/// A refusal nginx logged while the backend listened, diagnosed without root: the
/// packet filter (`iptables -S`, `nft list ruleset`) is root's to read, so the finding
/// says to read it as root and why it could not be read here, in words, and quotes no
/// rule and no program it could not see.
#[test]
fn a_refusal_diagnosed_without_root_says_to_read_the_packet_filter_as_root() {
    let lab = Lab::new();
    let app = lab.backend(Mode::Ok);
    lab.nginx(|c| c.location("/", Pass::proxy_http(app)));
    assert_eq!(lab.get("/app"), 200);
    let upstream = format!("http://{app}/app");
    let refused = "connect() failed (111: Connection refused)";
    append_error(&lab, refused, "[error]", &upstream, "/app");
    let conf = lab.path("nginx.conf").display().to_string();
    let args = ["--auto", "--format", "json", "--conf", &conf];
    let Some(run) = doctor_as_nobody(&args, lab.dir()) else {
        return;
    };
    assert_eq!(run.status, 1, "a diagnosis, not an error\n{run}");
    let finding = run
        .findings()
        .iter()
        .find(|f| f["node"] == "refused-while-listening")
        .unwrap_or_else(|| panic!("refused-while-listening\n{run}"));
    let texts: Vec<&str> = finding["fix"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["text"].as_str())
        .collect();
    assert!(
        texts.iter().any(|t| t
            .starts_with("Read this host's packet filter as root (it could not be read: ")
            && t.contains("needs root")),
        "{texts:#?}"
    );
    let explain = finding["explanation"].as_str().unwrap_or_default();
    assert!(!explain.contains("(read: "), "nothing was read: {explain}");
    crate::clean_words::assert_clean(&lab, &run);
}

#[test]
fn root_only_logs_are_named_with_the_command_to_rerun_as_root() {
    let lab = Lab::stopped_fpm_scenario().0;
    let conf = lab.path("nginx.conf").display().to_string();
    let mut logs = Vec::new();
    for entry in fs::read_dir(lab.dir()).expect("lab dir").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "log") {
            fs::set_permissions(&path, Permissions::from_mode(0o600)).expect("chmod 600");
            logs.push(path);
        }
    }
    let error_log = lab.path("error.log").display().to_string();
    let Some(json) = doctor_as_nobody(&["--auto", "--format", "json", "--conf", &conf], lab.dir())
    else {
        return;
    };
    assert_eq!(
        json.status, 3,
        "nothing to go on is not a diagnosis\n{json}"
    );
    assert!(!json.stderr.contains("panicked"), "{json}");
    let stopped = json.json["stopped"].as_str().unwrap_or("");
    assert!(stopped.contains(&error_log), "names the log\n{json}");
    assert!(stopped.contains("sudo nginx-doctor --auto"), "{json}");
    let reading = json.json["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["probe"] == "error-log"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(reading["status"], "error", "{json}");
    assert!(
        reading["reason"]
            .as_str()
            .unwrap_or("")
            .contains("Permission denied"),
        "{json}"
    );

    let Some(text) = doctor_as_nobody(&["--auto", "--conf", &conf], lab.dir()) else {
        return;
    };
    assert_eq!(text.status, 3, "{text}");
    assert!(text.stdout.contains("diagnosis incomplete"), "{text}");
    assert!(text.stdout.contains(&error_log), "{text}");
    assert!(text.stdout.contains("sudo nginx-doctor --auto"), "{text}");
    assert!(!logs.is_empty());
}

// --- no systemd -------------------------------------------------------------

#[test]
fn without_systemd_a_probe_that_needs_it_says_why_and_the_diagnosis_concludes() {
    let pid1 = fs::read_to_string("/proc/1/comm").unwrap_or_default();
    if pid1.trim_end() == "systemd" {
        eprintln!("skipped: systemd is PID 1 on this host");
        return;
    }
    // A pack whose one check asks systemctl: with no systemd as PID 1 it is
    // not run, says why, and the walk still ends at its conclusion.
    let pack = tempfile::tempdir().expect("temp dir");
    fs::write(
        pack.path().join("00-pack.yaml"),
        "pack: { name: needs-systemd, start: ask }\n\
         probes:\n  unit:\n    run: [systemctl, status, --no-pager, nginx]\n    needs: [systemd]\n\
         nodes:\n  ask:\n    check: unit\n    next: down\n\
         \x20 down:\n    conclude: backend-down\n    title: the unit could not be asked\n",
    )
    .expect("write pack");
    let rules = pack.path().display().to_string();
    let run = doctor_at(&["--auto", "--format", "json", "--rules", &rules]);
    assert_eq!(run.status, 1, "{run}");
    run.assert_first("backend-down");
    assert_eq!(run.json["host"]["systemd"], false, "{run}");
    let unit = &run.json["checks"][0];
    assert_eq!(unit["status"], "no-systemd", "{run}");
    assert!(
        unit["reason"]
            .as_str()
            .unwrap_or("")
            .contains("systemd is not PID 1"),
        "{run}"
    );
    let text = doctor_at(&["--auto", "--rules", &rules]);
    assert_eq!(text.status, 1, "{text}");
    assert!(
        text.stdout.contains("(no-systemd): systemd is not PID 1"),
        "{text}"
    );
}

// --- missing tools ----------------------------------------------------------

/// Where the probe runner looks after `PATH` (see rules/README.md).
const SBIN: [&str; 3] = ["/usr/sbin", "/sbin", "/usr/local/sbin"];

fn in_sbin(tool: &str) -> bool {
    SBIN.iter().any(|d| Path::new(d).join(tool).exists())
}

/// A check of a program that is on neither `PATH` nor the sbin fallbacks
/// is `missing` ("not installed"); one found there ran. Never an `error`.
fn assert_missing_unless_in_sbin(report: &Value, probe: &str, tool: &str) {
    let c = check(report, probe);
    let status = c["status"].as_str().unwrap_or("");
    assert_ne!(status, "error", "{c:#}");
    if !in_sbin(tool) {
        assert_eq!(status, "missing", "{tool} is nowhere to be found\n{c:#}");
        assert!(
            c["reason"].as_str().unwrap_or("").contains("not installed"),
            "{c:#}"
        );
    }
}

#[test]
fn an_empty_path_makes_tools_missing_not_an_error() {
    let empty = tempfile::tempdir().expect("empty PATH dir");
    let path = empty.path().display().to_string();
    // Permission denied on connect() to TCP: the walk asks SELinux
    // (getenforce), then the packet filters (iptables, nft).
    let scene = Scene::new(&[
        b"[crit] 100#100: *1 connect() to 127.0.0.1:9 failed (13: Permission denied) \
        while connecting to upstream, client: 127.0.0.1, server: localhost, \
        request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:9/\", host: \"localhost\"",
    ]);
    for format in ["json", "text"] {
        let run = scene.doctor_with_env(format, &[], &[("PATH", &path)]);
        assert!(matches!(run.status, Some(0 | 1)), "{format}\n{run}");
        assert_terminal_safe(&run);
        assert!(
            !String::from_utf8_lossy(&run.stderr).contains("panicked"),
            "{run}"
        );
    }
    let run = scene.doctor_with_env("json", &[], &[("PATH", &path)]);
    let report = run.json();
    assert!(
        report["findings"].as_array().is_some_and(|f| !f.is_empty()),
        "{run}"
    );
    // nginx itself is found through the sbin fallback.
    assert_eq!(check(&report, "nginx-test")["status"], "ok", "{report:#}");
    assert_eq!(
        check(&report, "listeners")["status"],
        "ok",
        "the /proc built-in needs no ss"
    );
    assert_missing_unless_in_sbin(&report, "getenforce", "getenforce");
    // The packet filters are read by a built-in that finds iptables and nft
    // through the same fallbacks and says in its record what it could read.
    assert_eq!(
        check(&report, "packet-filter")["status"],
        "ok",
        "{report:#}"
    );
}

const TOOLS_PACK: &str = "\
pack:
  name: tools
  start: sockets
probes:
  ss:
    run: [ss, -Htln]
  getenforce:
    run: [getenforce]
  firewall-cmd:
    run: [firewall-cmd, --state]
nodes:
  sockets:
    check: ss
    next: selinux
  selinux:
    check: getenforce
    next: firewall
  firewall:
    check: firewall-cmd
    next: done
  done:
    conclude: no-fault-found
    confidence: low
    title: \"ss {{ss.status}}, getenforce {{getenforce.status}}, firewall-cmd {{firewall-cmd.status}}\"
";

#[test]
fn a_pack_running_ss_getenforce_and_firewall_cmd_off_path_reports_them_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pack = dir.path().join("pack");
    fs::create_dir(&pack).expect("pack dir");
    fs::write(pack.join("00-pack.yaml"), TOOLS_PACK).expect("write pack");
    let empty = dir.path().join("bin");
    fs::create_dir(&empty).expect("empty PATH dir");
    let path = empty.display().to_string();
    let out = std::process::Command::new(BINARY)
        .args(["--auto", "--format", "json", "--rules", "pack"])
        .current_dir(dir.path())
        .env("PATH", &path)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run nginx-doctor");
    let run = Run {
        status: out.status.code(),
        stdout: out.stdout,
        stderr: out.stderr,
    };
    assert_eq!(run.status, Some(0), "{run}");
    let report = run.json();
    assert_missing_unless_in_sbin(&report, "ss", "ss");
    assert_missing_unless_in_sbin(&report, "getenforce", "getenforce");
    assert_missing_unless_in_sbin(&report, "firewall-cmd", "firewall-cmd");
}

// --- output that cannot be written -------------------------------------------

fn scene_with_one_failure() -> Scene {
    Scene::new(&[
        b"[error] 100#100: *1 connect() failed (111: Connection refused) while connecting \
        to upstream, client: 127.0.0.1, server: localhost, request: \"GET / HTTP/1.1\", \
        upstream: \"http://127.0.0.1:9/\", host: \"localhost\"",
    ])
}

#[test]
fn a_full_filesystem_for_output_is_an_error_after_the_report() {
    let scene = scene_with_one_failure();
    let run = scene.doctor("json", &["--output", "/dev/full"]);
    assert_eq!(run.status, Some(3), "{run}");
    assert_eq!(run.json()["schema"], 1, "the report is on stdout\n{run}");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("cannot write the report to /dev/full") && stderr.contains("No space left"),
        "{run}"
    );
}

#[test]
fn an_unwritable_record_directory_is_an_error_after_the_report() {
    let scene = scene_with_one_failure();
    for target in ["/proc/nope/bundle", "/dev/full/bundle"] {
        let run = scene.doctor("text", &["--record", target]);
        assert_eq!(run.status, Some(3), "{run}");
        assert!(
            run.stdout().contains("nginx-doctor"),
            "the report is on stdout\n{run}"
        );
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr.contains(&format!("cannot write the bundle to {target}")),
            "{run}"
        );
        assert!(!stderr.contains("panicked"), "{run}");
    }
}
