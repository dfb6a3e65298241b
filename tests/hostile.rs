//! Hostile host text: error-log lines whose request, upstream, host and
//! server fields carry shell syntax (`$(...)`, backticks, `;`, quotes),
//! option injection (a leading `-`), `../`, terminal escape sequences (OSC 8
//! hyperlinks, OSC 0 titles, CSI, 8-bit CSI, BEL, NUL, bidi overrides),
//! raw and nginx-escaped newlines, invalid UTF-8 and very long values; and
//! a probe whose output is made of escape sequences.
//!
//! Proven for `--auto` in every format: no command ran with such a value
//! (a value that fails the argument rules makes its probe `unsafe-value`),
//! no file appeared, the commands the report offers to paste run nothing
//! they quote, and no control character reaches stdout or stderr. The
//! Markdown report's structure is in `hostile/markdown.rs`, a probe's own
//! output (also in guided mode) in `hostile/probe_output.rs`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::doctor::{BINARY, DOCTOR_TIMEOUT, strings};

use markdown::{assert_checks_table_holds, assert_evidence_fenced, markdown_fences};

mod markdown;
mod pasted;
mod probe_output;

const FORMATS: [&str; 3] = ["json", "text", "markdown"];

/// A private directory with a plain nginx.conf (never started: `nginx -t`
/// only) and an error log of given lines stamped with the current time.
/// `degraded.rs` uses it too.
/// The finding about the upstream of the scene's log line. (A scene's nginx never
/// runs, so `nginx-down` comes first; what the log line says comes after it.)
fn about_the_log(report: &Value) -> &Value {
    report["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| !f["upstream"].is_null()))
        .unwrap_or_else(|| panic!("no finding about an upstream\n{report:#}"))
}

pub(crate) struct Scene {
    dir: tempfile::TempDir,
}

/// One finished run, its output as bytes.
pub(crate) struct Run {
    pub(crate) status: Option<i32>,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            String::from_utf8_lossy(&self.stdout).escape_debug(),
            String::from_utf8_lossy(&self.stderr).escape_debug()
        )
    }
}

impl Run {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{self}"))
    }

    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl Scene {
    /// `lines` are error-log lines without their `YYYY/MM/DD HH:MM:SS `
    /// prefix; `MARK` in them becomes [`Scene::mark`].
    pub(crate) fn new(lines: &[&[u8]]) -> Scene {
        let dir = tempfile::tempdir().expect("temp dir");
        let scene = Scene { dir };
        std::fs::create_dir(scene.path("tmp")).expect("temp path dir");
        std::fs::write(scene.path("nginx.conf"), scene.conf()).expect("write nginx.conf");
        let now = now_stamp();
        let mark = scene.mark().display().to_string();
        let mut log = Vec::new();
        for line in lines {
            log.extend_from_slice(now.as_bytes());
            log.push(b' ');
            log.extend_from_slice(&replace(line, b"MARK", mark.as_bytes()));
            log.push(b'\n');
        }
        std::fs::write(scene.path("error.log"), log).expect("write error.log");
        scene
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The file a command substitution in the log would create.
    fn mark(&self) -> PathBuf {
        self.path("pwned")
    }

    fn conf(&self) -> String {
        let d = self.dir.path().display();
        format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n    access_log off;\n    \
             client_body_temp_path {d}/tmp/client_body;\n    proxy_temp_path {d}/tmp/proxy;\n    \
             fastcgi_temp_path {d}/tmp/fastcgi;\n    uwsgi_temp_path {d}/tmp/uwsgi;\n    \
             scgi_temp_path {d}/tmp/scgi;\n    server {{\n        listen 127.0.0.1:9;\n        \
             location / {{ proxy_pass http://127.0.0.1:9; }}\n    }}\n}}\n"
        )
    }

    /// `--auto --format FORMAT` on this scene, plus `extra`.
    pub(crate) fn doctor(&self, format: &str, extra: &[&str]) -> Run {
        self.doctor_with_env(format, extra, &[])
    }

    /// The same, with `env` set for the binary.
    pub(crate) fn doctor_with_env(
        &self,
        format: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Run {
        let conf = self.path("nginx.conf").display().to_string();
        let log = self.path("error.log").display().to_string();
        let mut args = vec![
            "--auto",
            "--format",
            format,
            "--conf",
            &conf,
            "--error-log",
            &log,
        ];
        args.extend_from_slice(extra);
        run_with_env(&args, self.dir.path(), env)
    }

    /// Every format; asserts the properties every run must have.
    fn doctor_all_formats(&self) -> Vec<(&'static str, Run)> {
        FORMATS
            .iter()
            .map(|f| {
                let run = self.doctor(f, &[]);
                assert!(matches!(run.status, Some(0 | 1)), "{f}\n{run}");
                assert_terminal_safe(&run);
                assert!(!self.mark().exists(), "a command from the log ran\n{run}");
                (*f, run)
            })
            .collect()
    }
}

/// Runs the binary with `NO_COLOR=1`, stdin null, killed after the suite's bound.
fn run(args: &[&str], cwd: &Path) -> Run {
    run_with_env(args, cwd, &[])
}

fn run_with_env(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Run {
    let started = Instant::now();
    let mut child = Command::new(BINARY)
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx-doctor");
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = loop {
        if let Some(s) = child.try_wait().expect("poll") {
            break s;
        }
        if started.elapsed() > DOCTOR_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("nginx-doctor {args:?} still ran after {DOCTOR_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Run {
        status: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// The local time as nginx stamps its lines, from `date` (the test has no
/// time-zone code of its own).
fn now_stamp() -> String {
    let out = Command::new("date")
        .arg("+%Y/%m/%d %H:%M:%S")
        .output()
        .expect("run date");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// What a terminal would obey: C0 (but the newline), DEL, C1, bidi
/// embeddings, overrides and isolates, and the line/paragraph separators.
fn steers_a_terminal(c: char) -> bool {
    (c.is_control() && c != '\n')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
        || c == '\u{2028}'
        || c == '\u{2029}'
}

/// No byte of stdout or stderr could steer a terminal; both are UTF-8.
pub(crate) fn assert_terminal_safe(run: &Run) {
    for (name, bytes) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        let text = std::str::from_utf8(bytes)
            .unwrap_or_else(|e| panic!("{name} is not UTF-8 ({e})\n{run}"));
        if let Some((at, c)) = text.char_indices().find(|(_, c)| steers_a_terminal(*c)) {
            panic!("{name} holds {c:?} at byte {at}\n{run}");
        }
    }
}

/// The check records whose program ran (a command, not a built-in).
fn commands_run(report: &Value) -> Vec<&Value> {
    report["checks"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter(|c| c["argv"].is_array())
                .filter(|c| {
                    ["ok", "failed", "timed-out"].contains(&c["status"].as_str().unwrap_or(""))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// No command that ran had an argument holding any of `needles`.
fn assert_no_command_ran_with(report: &Value, needles: &[&str]) {
    for check in commands_run(report) {
        for arg in strings(&check["argv"]) {
            for needle in needles {
                assert!(
                    !arg.contains(needle),
                    "{} ran with {arg:?}\n{report:#}",
                    check["probe"]
                );
            }
        }
    }
}

pub(crate) fn check<'a>(report: &'a Value, probe: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["probe"] == probe))
        .unwrap_or_else(|| panic!("no check {probe}\n{report:#}"))
}

/// Where `line`, pasted into a POSIX shell, would run or expand something:
/// a backtick or `$(` outside single quotes, `;` or `&` outside any quotes,
/// or a quote left open (a value closed the template's quote).
fn shell_hazard(line: &str) -> Option<usize> {
    let (mut single, mut double) = (false, false);
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '\\' if !single => {
                chars.next();
            }
            '`' if !single => return Some(i),
            '$' if !single && chars.peek().is_some_and(|(_, n)| *n == '(') => return Some(i),
            ';' | '&' if !single && !double => return Some(i),
            _ => {}
        }
    }
    (single || double).then_some(line.len())
}

/// The command lines each format offers a person to paste.
fn pasteable(format: &str, run: &Run) -> Vec<String> {
    match format {
        "json" => run.json()["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|f| strings(&f["fix"]["verify"]))
            .map(str::to_owned)
            .collect(),
        "text" => run
            .stdout()
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("$ ").map(str::to_owned))
            .collect(),
        _ => markdown_fences(&run.stdout())
            .into_iter()
            .filter(|(info, _)| info == "sh")
            .flat_map(|(_, body)| body)
            .collect(),
    }
}

fn assert_pasteable_commands_are_inert(runs: &[(&str, Run)]) {
    for (format, run) in runs {
        for line in pasteable(format, run) {
            if let Some(at) = shell_hazard(&line) {
                panic!(
                    "{format}: pasting {line:?} runs or expands host text (at byte {at})\n{run}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------

#[test]
fn an_upstream_name_that_is_an_option_is_refused_not_run() {
    let scene = Scene::new(&[
        b"[error] 100#100: *1 connect() failed (111: Connection refused) while connecting to upstream, \
          client: 127.0.0.1, server: localhost, request: \"GET / HTTP/1.1\", \
          upstream: \"http://-oProxyCommand=touch MARK:80/\", host: \"localhost\"",
    ]);
    let runs = scene.doctor_all_formats();
    let report = runs[0].1.json();
    assert_eq!(
        about_the_log(&report)["id"].as_str().map(str::is_empty),
        Some(false)
    );
    let mut refused = 0;
    for c in report["checks"].as_array().into_iter().flatten() {
        let reason = c["reason"].as_str().unwrap_or("");
        if reason.contains("could be read as an option") {
            assert_eq!(c["status"], "unsafe-value", "{c:#}");
            refused += 1;
        }
    }
    assert!(refused > 0, "no probe refused the value\n{report:#}");
    assert_eq!(check(&report, "listeners")["status"], "unsafe-value");
    assert_no_command_ran_with(&report, &["-oProxyCommand", "touch"]);
    assert_pasteable_commands_are_inert(&runs);
    for (format, run) in &runs {
        for line in pasteable(format, run) {
            assert!(
                !line.contains("-oProxyCommand"),
                "{format}: {line:?} hands the value to a program as an option"
            );
        }
    }
}

const SHELL_PATH: &str = "/tmp/../x;$(touch MARK);`touch MARK`'$(touch MARK)'.sock";

#[test]
fn shell_syntax_in_a_socket_path_runs_nothing() {
    let line = format!(
        "[crit] 100#100: *2 connect() to unix:{SHELL_PATH} failed (2: No such file or directory) \
         while connecting to upstream, client: 127.0.0.1, server: $(touch MARK), \
         request: \"GET /$(touch MARK);`touch MARK`;rm -rf / HTTP/1.1\", \
         upstream: \"fastcgi://unix:{SHELL_PATH}:\", host: \"`touch MARK`;$(touch MARK)\""
    );
    let scene = Scene::new(&[line.as_bytes()]);
    let runs = scene.doctor_all_formats();
    let report = runs[0].1.json();
    assert_eq!(about_the_log(&report)["id"], "backend-down", "{report:#}");
    assert_no_command_ran_with(&report, &["touch", "$(", "`", "../"]);
    // Built-ins take the path as a path: they read /proc and connect, no shell.
    let listeners = check(&report, "listeners");
    assert_eq!(listeners["status"], "ok", "{listeners:#}");
    assert!(
        strings(&listeners["params"])
            .iter()
            .any(|p| p.contains("touch"))
    );
    assert_pasteable_commands_are_inert(&runs);
}

#[test]
fn a_quote_in_a_socket_path_cannot_close_the_quotes_of_an_offered_command() {
    let path = "/run/php/x'$(touch MARK)'.sock";
    let line = format!(
        "[crit] 100#100: *2 connect() to unix:{path} failed (2: No such file or directory) \
         while connecting to upstream, client: 127.0.0.1, server: x, request: \"GET / HTTP/1.1\", \
         upstream: \"fastcgi://unix:{path}:\", host: \"x\""
    );
    let scene = Scene::new(&[line.as_bytes()]);
    let runs = scene.doctor_all_formats();
    assert_pasteable_commands_are_inert(&runs);
}

/// Escape sequences a terminal obeys: OSC 8 hyperlink, OSC 0 title with
/// BEL, clear screen and colour (CSI), 8-bit CSI, a bidi override, NUL,
/// DEL, a bare CR and invalid UTF-8; then nginx's own `\x0A` escape.
const ESCAPES: &[u8] = b"\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\ \
    \x1b]0;pwned-title\x07\x1b[2J\x1b[31mFAKE\x1b[0m\xc2\x9b1A\xe2\x80\xaeRTL\x00NUL\x7f\rCR\xff\xfe\\x0A";

fn escape_lines() -> Vec<Vec<u8>> {
    let mut line =
        b"[error] 100#100: *3 connect() failed (111: Connection refused) while connecting \
        to upstream, client: 127.0.0.1, server: "
            .to_vec();
    line.extend_from_slice(ESCAPES);
    line.extend_from_slice(b", request: \"GET /");
    line.extend_from_slice(ESCAPES);
    line.extend_from_slice(b" HTTP/1.1\", upstream: \"http://127.0.0.1:9/");
    line.extend_from_slice(ESCAPES);
    line.extend_from_slice(b"\", host: \"");
    line.extend_from_slice(ESCAPES);
    line.extend_from_slice(b"\", referrer: \"");
    line.extend_from_slice(ESCAPES);
    line.push(b'"');
    // A raw newline: the next physical line is only escapes.
    let mut continuation = b"\x1b]0;second-line\x07\x1b[1A\x1b[2K".to_vec();
    continuation.extend_from_slice(ESCAPES);
    vec![line, continuation]
}

#[test]
fn escape_sequences_in_a_log_line_never_reach_the_output() {
    let lines = escape_lines();
    let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    let scene = Scene::new(&refs);
    let runs = scene.doctor_all_formats();
    let report = runs[0].1.json();
    let evidence = strings(&report["findings"]).join("\n");
    assert!(
        evidence.contains(r"\x1b]0;pwned-title\x07"),
        "the title sequence is shown, escaped\n{report:#}"
    );
    assert!(evidence.contains(r"\u{9b}1A"), "{report:#}");
    assert!(evidence.contains(r"\u{202e}RTL"), "{report:#}");
    let (_, md) = &runs[2];
    assert_evidence_fenced(&md.stdout(), r"\x1b]8;;http://evil.example/");
    assert_checks_table_holds(&md.stdout());
}

#[test]
fn explain_shows_escape_sequences_escaped() {
    let lines = escape_lines();
    let mut input = now_stamp().into_bytes();
    input.push(b' ');
    input.extend(lines.join(&b"\n"[..]));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("line.log");
    std::fs::write(&file, &input).expect("write");
    for format in ["text", "json"] {
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg("exec \"$0\" explain --format \"$1\" < \"$2\"")
            .arg(BINARY)
            .arg(format)
            .arg(&file)
            .env("NO_COLOR", "1")
            .output()
            .expect("run explain");
        let run = Run {
            status: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        };
        assert_eq!(run.status, Some(0), "{run}");
        assert_terminal_safe(&run);
        assert!(run.stdout().contains("pwned-title"), "{run}");
    }
}

#[test]
fn a_log_path_with_shell_syntax_is_quoted_where_it_is_shown() {
    let scene = Scene::new(&[
        b"[error] 100#100: *1 connect() failed (111: Connection refused) \
        while connecting to upstream, client: 127.0.0.1, server: x, request: \"GET / HTTP/1.1\", \
        upstream: \"http://127.0.0.1:9/\", host: \"x\"",
    ]);
    // Relative to the run's directory, the scene's: `touch pwned` makes the mark.
    let log = scene.path("error $(touch pwned);`touch pwned`.log");
    std::fs::copy(scene.path("error.log"), &log).expect("copy the log");
    let conf = scene.path("nginx.conf").display().to_string();
    let log = log.display().to_string();
    let run = run(
        &[
            "--auto",
            "--format",
            "json",
            "--conf",
            &conf,
            "--error-log",
            &log,
        ],
        scene.path("").as_path(),
    );
    assert!(matches!(run.status, Some(0 | 1)), "{run}");
    let reading = check(&run.json(), "error-log").clone();
    assert_eq!(reading["status"], "ok", "{reading:#}");
    let shown = reading["shown_as"].as_str().unwrap_or("");
    assert_eq!(shell_hazard(shown), None, "{shown:?}");
    assert!(!scene.mark().exists());
}

#[test]
fn very_long_values_are_cut_in_the_report_and_refused_as_arguments() {
    let long_path = format!("/tmp/{}.sock", "p".repeat(8192));
    let line = format!(
        "[crit] 100#100: *2 connect() to unix:{long_path} failed (2: No such file or directory) \
         while connecting to upstream, client: 127.0.0.1, server: {}, request: \"GET /{} HTTP/1.1\", \
         upstream: \"fastcgi://unix:{long_path}:\", host: \"{}\"",
        "s".repeat(10_000),
        "r".repeat(65_536),
        "h".repeat(10_000),
    );
    let scene = Scene::new(&[line.as_bytes()]);
    let runs = scene.doctor_all_formats();
    let report = runs[0].1.json();
    let listeners = check(&report, "listeners");
    assert_eq!(listeners["status"], "unsafe-value", "{listeners:#}");
    assert!(
        listeners["reason"]
            .as_str()
            .unwrap_or("")
            .contains("limited to 4096"),
        "{listeners:#}"
    );
    assert_no_command_ran_with(&report, &["ppppppppppppppppppppppppppppppppppppp"]);
    for (format, run) in &runs {
        assert!(
            run.stdout.len() < 256 * 1024,
            "{format}: {} bytes of report for one log line",
            run.stdout.len()
        );
    }
    let evidence = strings(&about_the_log(&report)["evidence"]).join("\n");
    assert!(
        evidence.contains("… [+"),
        "the line is cut, and says so\n{evidence}"
    );
}
