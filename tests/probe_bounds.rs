//! Probes that misbehave cannot make a run hang, grow, or leave processes
//! behind: each is bounded in time (its process group killed), in output
//! (capped), and by the run's total budget.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn pack(name: &str) -> String {
    format!(
        "{}/tests/fixtures/packs-misbehaving/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Runs `--auto --format json` with the pack, recording the peak resident
/// memory the process reached (VmHWM, polled until it exits).
fn run(name: &str, extra: &[&str]) -> (Output, Value, u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nginx-doctor"))
        .args(["--auto", "--format", "json", "--rules", &pack(name)])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx-doctor");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("poll").is_none() {
        assert!(Instant::now() < deadline, "the run did not end");
        if let Some(kib) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| vm_hwm(&s))
        {
            peak_kib = peak_kib.max(kib);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().expect("collect output");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, json, peak_kib)
}

fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn check<'a>(json: &'a Value, probe: &str) -> &'a Value {
    json["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["probe"] == probe))
        .unwrap_or_else(|| panic!("no check {probe} in {json:#}"))
}

fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn probe_that_never_ends_is_killed_at_its_timeout() {
    let (out, json, _) = run("forever", &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let c = check(&json, "forever");
    assert_eq!(c["status"], "timed-out");
    let ms = c["duration_ms"].as_u64().expect("duration");
    assert!(
        (1000..1500).contains(&ms),
        "killed {ms} ms after start, timeout 1 s"
    );
    assert!(
        c["reason"]
            .as_str()
            .unwrap_or("")
            .contains("timed out after 1 s"),
        "{c:#}"
    );
}

#[test]
fn children_a_probe_leaves_running_are_killed() {
    let (_, json, _) = run("forker", &[]);
    let c = check(&json, "forker");
    assert_eq!(c["status"], "ok");
    let pids: Vec<u64> = c["excerpt"]
        .as_str()
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "{c:#}");
    for pid in pids {
        assert!(!alive(pid), "child {pid} survived the probe");
    }
}

#[test]
fn flood_of_output_is_capped_and_memory_stays_small() {
    let (out, json, peak_kib) = run("flood", &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let c = check(&json, "flood");
    assert_eq!(c["status"], "ok");
    let reason = c["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains(&format!("{} bytes dropped", (1u64 << 30) - (1 << 20))),
        "{reason}"
    );
    assert!(
        peak_kib > 0 && peak_kib < 64 * 1024,
        "peak RSS {peak_kib} KiB"
    );
}

#[test]
fn early_close_unexecutable_and_missing_programs_are_reported_not_fatal() {
    let (out, json, _) = run("misc", &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(check(&json, "closer")["status"], "ok");
    assert!(
        check(&json, "closer")["excerpt"]
            .as_str()
            .unwrap_or("")
            .contains("still-here")
    );
    assert_eq!(check(&json, "not-executable")["status"], "error");
    assert!(
        check(&json, "not-executable")["reason"]
            .as_str()
            .unwrap_or("")
            .contains("not executable")
    );
    assert_eq!(check(&json, "missing")["status"], "missing");
    assert!(
        check(&json, "missing")["reason"]
            .as_str()
            .unwrap_or("")
            .contains("not installed")
    );
}

#[test]
fn budget_stops_probes_that_would_run_past_it() {
    let (out, json, _) = run("budget", &["--budget", "1s"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let first = check(&json, "first");
    assert_eq!(
        first["status"], "timed-out",
        "cut to the budget, not its own 5 s"
    );
    assert!(
        first["duration_ms"].as_u64().unwrap_or(u64::MAX) < 1500,
        "{first:#}"
    );
    let second = check(&json, "second");
    assert_eq!(second["status"], "over-budget");
    assert!(
        second["reason"].as_str().unwrap_or("").contains("--budget"),
        "{second:#}"
    );
}
