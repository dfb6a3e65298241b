//! Running the binary under test with a hard timeout, and reading its JSON report
//! (`{"schema":1,"findings":[{"id",...,"evidence":[...]}],"checks":[...]}`).

use super::proc::Guard;
use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_nginx-doctor");

/// A doctor run that takes longer than this is killed and the test fails.
pub const DOCTOR_TIMEOUT: Duration = Duration::from_secs(60);

/// One finished run of a program.
#[derive(Debug)]
pub struct DoctorRun {
    /// Exit status (-1 when killed by a signal).
    pub status: i32,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
    /// stdout parsed as JSON; `Value::Null` when it is not JSON.
    pub json: Value,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

impl DoctorRun {
    /// The report's findings; panics (with the whole run) when there are none to read.
    pub fn findings(&self) -> &Vec<Value> {
        match self.json.get("findings").and_then(Value::as_array) {
            Some(f) => f,
            None => panic!("doctor printed no findings array\n{self}"),
        }
    }

    /// The finding ids, in report order.
    pub fn ids(&self) -> Vec<String> {
        self.findings()
            .iter()
            .map(|f| {
                f.get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("<no id>")
                    .to_string()
            })
            .collect()
    }

    /// The finding with this id; panics (with the whole run) when absent.
    pub fn finding(&self, id: &str) -> &Value {
        let found = self
            .findings()
            .iter()
            .find(|f| f.get("id").and_then(Value::as_str) == Some(id));
        match found {
            Some(f) => f,
            None => panic!("no finding {id:?} among {:?}\n{self}", self.ids()),
        }
    }

    /// What check `node` found, in the words guided mode shows (its first
    /// run); panics (with the whole run) when it did not run or found nothing.
    pub fn found(&self, node: &str) -> &str {
        let checks = self.json.get("checks").and_then(Value::as_array);
        let found = checks
            .into_iter()
            .flatten()
            .find(|c| c.get("node").and_then(Value::as_str) == Some(node))
            .and_then(|c| c.get("found"))
            .and_then(Value::as_str);
        match found {
            Some(f) => f,
            None => panic!("check {node:?} found nothing\n{self}"),
        }
    }

    /// Asserts that the first (most likely) finding is `id`.
    pub fn assert_first(&self, id: &str) {
        assert_eq!(
            self.ids().first().map(String::as_str),
            Some(id),
            "first finding\n{self}"
        );
    }

    /// Asserts that finding `id` has evidence quoting `needle` (anywhere in its evidence,
    /// whatever shape the evidence items take).
    pub fn assert_evidence_quotes(&self, id: &str, needle: &str) {
        let evidence = self
            .finding(id)
            .get("evidence")
            .cloned()
            .unwrap_or(Value::Null);
        assert!(
            strings(&evidence).iter().any(|s| s.contains(needle)),
            "evidence of {id} does not quote {needle:?}\n{self}"
        );
    }
}

impl std::fmt::Display for DoctorRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- exit {} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// The crate's root, where tests that need no lab run the binary from.
pub fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary under test in `cwd` with `args`, bounded by [`DOCTOR_TIMEOUT`] (see
/// [`run_bounded`]: stdin null, `NO_COLOR=1`).
pub fn doctor_in(cwd: &Path, args: &[&str]) -> DoctorRun {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    run_bounded(BINARY, &args, cwd, DOCTOR_TIMEOUT)
}

/// Every string inside a JSON value.
pub fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        Value::Object(o) => o.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// Runs `program args` with stdin null and `NO_COLOR=1`, capturing both streams; kills its
/// process group and panics when it outlives `timeout`. `cwd` is its working directory.
pub fn run_bounded(program: &str, args: &[String], cwd: &Path, timeout: Duration) -> DoctorRun {
    let started = Instant::now();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut guard =
        Guard::spawn(program, &mut cmd).unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let out = drain(guard.take_stdout());
    let err = drain(guard.take_stderr());
    let status = loop {
        if let Some(s) = guard.exited() {
            break s;
        }
        if started.elapsed() > timeout {
            guard.stop();
            panic!("{program} {args:?} still ran after {timeout:?}: killed");
        }
        sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    DoctorRun {
        status: status.code().unwrap_or(-1),
        json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stdout,
        stderr,
        elapsed: started.elapsed(),
    }
}

/// Reads a pipe to its end on a thread, so neither pipe can fill and block the child.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run_with(json: Value) -> DoctorRun {
        DoctorRun {
            status: 1,
            stdout: json.to_string(),
            stderr: String::new(),
            json,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn evidence_is_found_in_any_shape() {
        let run = run_with(json!({"findings": [{"id": "backend-down",
            "evidence": [{"source": "error.log", "line": "connect() failed (111: x)"}]}]}));
        run.assert_evidence_quotes("backend-down", "(111: x)");
        run.assert_first("backend-down");
    }

    #[test]
    #[should_panic(expected = "does not quote")]
    fn missing_evidence_fails_the_assertion() {
        let run = run_with(json!({"findings": [{"id": "backend-down", "evidence": ["other"]}]}));
        run.assert_evidence_quotes("backend-down", "(111: x)");
    }

    #[test]
    fn a_program_is_run_with_its_output() {
        let args = vec![
            "-c".to_string(),
            "echo '{\"a\":1}'; echo e >&2; exit 3".to_string(),
        ];
        let run = run_bounded("/bin/sh", &args, Path::new("/"), Duration::from_secs(10));
        assert_eq!(
            (run.status, run.json["a"].as_i64(), run.stderr.trim()),
            (3, Some(1), "e")
        );
    }

    #[test]
    #[should_panic(expected = "killed")]
    fn a_hung_program_is_killed_at_the_timeout() {
        let args = vec!["5".to_string()];
        run_bounded(
            "/bin/sleep",
            &args,
            Path::new("/"),
            Duration::from_millis(300),
        );
    }
}
