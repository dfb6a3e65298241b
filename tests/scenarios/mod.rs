//! Real-fault scenarios as a table: one row per cause (or variant of one) that the
//! catalogue's §6 reproduces on loopback. A row names the lab setup that breaks the host,
//! the request that shows the fault and the status the client must get, the error-log
//! line nginx must write, and the cause `nginx-doctor --auto --format json` must name
//! first with the evidence it must quote. [`run`] proves the fault is real (the status,
//! the log line) before it diagnoses, so a row cannot pass on a fault that did not happen.
//!
//! Each row is its own `#[test]`, named for its behaviour (the [`scenarios!`] macro), so a
//! failure names the scenario. Rows live by backend: [`php`] (php-fpm) and [`proxy`] (HTTP
//! backends, DNS, TLS, the packet filter). A row whose fault needs root, IPv6 or openssl
//! says so on stderr and passes without checking anything; the packet-filter row runs in
//! a private network namespace (`isolated: true`), so the host's filter never changes.
//!
//! With `DOCTOR_TIMING=1` every scenario also prints the median wall time of five more
//! doctor runs ([`time_doctor`]), which `bench/scenarios.sh` collects.

use crate::support::Lab;
use crate::support::doctor::{DOCTOR_TIMEOUT, DoctorRun};
use crate::support::isolate::in_netns;
use crate::support::logs::wait_for_line;
use std::process::Command;
use std::time::Duration;

mod php;
mod proxy;

pub(crate) use php::{healthy_lab, socket_nginx_may_not_open};

/// Set to print each scenario's median `--auto` time.
const TIMING: &str = "DOCTOR_TIMING";
/// Doctor runs per timing; the median is printed.
const TIMING_RUNS: usize = 5;
/// How long php-fpm may take to write what it saw (its maintenance ticks once a second).
const FPM_LOG_WAIT: Duration = Duration::from_secs(5);

/// A broken host, ready for the row's request: the lab, and the values the row's texts
/// quote as `{name}` (a socket path, an address), known only once the lab runs.
pub(crate) struct Fault {
    pub lab: Lab,
    /// `{name}` → value, filled into the row's log needle, quotes and check texts.
    pub vars: Vec<(&'static str, String)>,
    /// php-fpm's own log, when the row waits for a line there.
    pub fpm_log: Option<std::path::PathBuf>,
    /// What must live as long as the lab (a backend the lab did not start).
    held: Vec<Box<dyn std::any::Any>>,
}

impl Fault {
    /// A fault whose texts quote nothing that varies.
    pub fn new(lab: Lab) -> Fault {
        Fault {
            lab,
            vars: Vec::new(),
            fpm_log: None,
            held: Vec::new(),
        }
    }

    /// Keeps `thing` alive until the scenario ends (after the lab stops).
    pub fn hold(mut self, thing: impl std::any::Any) -> Fault {
        self.held.push(Box::new(thing));
        self
    }

    /// Adds a `{name}` the row's texts may quote.
    pub fn var(mut self, name: &'static str, value: impl ToString) -> Fault {
        self.vars.push((name, value.to_string()));
        self
    }

    /// Notes php-fpm's log, for a row that waits for a line in it.
    pub fn fpm_log(mut self, path: &std::path::Path) -> Fault {
        self.fpm_log = Some(path.to_path_buf());
        self
    }

    /// `text` with every `{name}` replaced by its value; panics on a name left unfilled,
    /// so a row cannot quietly compare against a literal `{socket}`.
    pub fn fill(&self, text: &str) -> String {
        let filled = self.vars.iter().fold(text.to_string(), |t, (name, value)| {
            t.replace(&format!("{{{name}}}"), value)
        });
        let placeholder = regex::Regex::new(r"\{[a-z_]+\}").expect("placeholder pattern");
        assert!(
            !placeholder.is_match(&filled),
            "unfilled placeholder in {filled:?} (vars {:?})",
            self.vars
        );
        filled
    }
}

/// Why a row cannot run on this host (it passes, saying so on stderr).
pub(crate) type Skip = &'static str;

/// The request that shows the fault, and what the client must get.
pub(crate) enum Request {
    /// One GET that must answer this status.
    Get(&'static str, u16),
    /// One POST that must answer this status.
    Post(&'static str, u16),
    /// N concurrent GETs, of which at least one must answer this status.
    Burst(&'static str, usize, u16),
}

/// What nginx must have written to its error log once the request failed.
pub(crate) enum Log {
    /// A line with this text; the diagnosis quotes that line's message as evidence.
    Quoted(&'static str),
    /// A line with the first text that also has the second; its message is quoted.
    QuotedWith(&'static str, &'static str),
    /// A line with the first text that also has the second; the row says what is quoted.
    LineWith(&'static str, &'static str),
    /// No line with this text: the failure was not nginx's own.
    Without(&'static str),
    /// Nothing: the host is healthy, or the fault is not a failed request.
    Nothing,
}

/// One scenario: the table's row.
pub(crate) struct Case {
    /// Breaks the host (or says why it cannot here).
    pub setup: fn() -> Result<Fault, Skip>,
    /// The request that shows the fault, and the status the client must get.
    pub request: Request,
    /// The line nginx must write.
    pub log: Log,
    /// A line php-fpm must write to its own log before the diagnosis.
    pub fpm_says: Option<&'static str>,
    /// The cause the diagnosis must name first.
    pub cause: &'static str,
    /// More texts (with `{name}`s) that the first cause's evidence must quote.
    pub quotes: &'static [&'static str],
    /// The doctor's exit status: 1 for a fault found, 0 for a healthy host.
    pub exit: i32,
    /// Runs the lab inside a private network namespace (it changes the packet filter).
    pub isolated: bool,
    /// The row's own assertion, after the common ones.
    pub also: fn(&Fault, &Seen),
}

impl Case {
    /// The defaults of a fault row; a row sets what differs.
    pub const FAULT: Case = Case {
        setup: || Err("a row without a setup"),
        request: Request::Get("/", 502),
        log: Log::Nothing,
        fpm_says: None,
        cause: "",
        quotes: &[],
        exit: 1,
        isolated: false,
        also: |_, _| {},
    };
}

/// What a row's own assertion sees.
pub(crate) struct Seen {
    /// The statuses the request got (one, or one per request of a burst).
    pub statuses: Vec<u16>,
    pub run: DoctorRun,
}

/// One `#[test]` per row: `name: Case { .. }`, the test named for the behaviour.
macro_rules! scenarios {
    ($($(#[$meta:meta])* $name:ident: $case:expr;)*) => {
        $(
            $(#[$meta])*
            #[test]
            fn $name() {
                let path = format!(
                    "{}::{}",
                    module_path!().split_once("::").map_or("", |(_, m)| m),
                    stringify!($name)
                );
                $crate::scenarios::run(&path, &$case);
            }
        )*
    };
}
pub(crate) use scenarios;

/// Runs one row: builds the fault, proves it, diagnoses it, checks the diagnosis.
pub(crate) fn run(path: &str, case: &Case) {
    if case.isolated {
        return in_netns(path, &[], &["nft"], || run_here(path, case));
    }
    run_here(path, case);
}

fn run_here(path: &str, case: &Case) {
    let fault = match (case.setup)() {
        Ok(fault) => fault,
        Err(why) => return eprintln!("skipped {path}: {why}"),
    };
    let statuses = request(&fault.lab, &case.request);
    let quote = log_quote(&fault, &case.log);
    if let (Some(says), Some(log)) = (case.fpm_says, &fault.fpm_log) {
        wait_for_line(log, says, FPM_LOG_WAIT);
    }

    let run = diagnose(&fault.lab, case.exit);
    run.assert_first(case.cause);
    let quotes = quote
        .into_iter()
        .chain(case.quotes.iter().map(|q| fault.fill(q)));
    for q in quotes {
        run.assert_evidence_quotes(case.cause, &q);
    }
    (case.also)(&fault, &Seen { statuses, run });
}

/// Sends the row's request and asserts the status the client got.
fn request(lab: &Lab, request: &Request) -> Vec<u16> {
    match *request {
        Request::Get(path, want) => {
            assert_eq!(lab.get(path), want, "GET {path}");
            vec![want]
        }
        Request::Post(path, want) => {
            assert_eq!(lab.post(path), want, "POST {path}");
            vec![want]
        }
        Request::Burst(path, n, want) => {
            let statuses = lab.get_many(path, n);
            assert!(statuses.contains(&want), "statuses {statuses:?}");
            statuses
        }
    }
}

/// Checks the error log as the row says; the message the diagnosis must quote, if any.
fn log_quote(fault: &Fault, log: &Log) -> Option<String> {
    let lab = &fault.lab;
    match *log {
        Log::Quoted(needle) => Some(lab.error_log_message(&fault.fill(needle))),
        Log::QuotedWith(needle, with) => {
            line_with(fault, needle, with);
            Some(lab.error_log_message(&fault.fill(needle)))
        }
        Log::LineWith(needle, with) => {
            line_with(fault, needle, with);
            None
        }
        Log::Without(text) => {
            let log = lab.error_log();
            assert!(!log.contains(text), "nginx wrote {text:?}:\n{log}");
            None
        }
        Log::Nothing => None,
    }
}

/// Asserts that the error-log line with `needle` also has `with`.
fn line_with(fault: &Fault, needle: &str, with: &str) {
    let line = fault.lab.error_log_line(&fault.fill(needle));
    let with = fault.fill(with);
    assert!(line.contains(&with), "{with:?} not in {line}");
}

/// Runs the doctor in automation mode and checks what every report must satisfy.
pub(crate) fn diagnose(lab: &Lab, exit: i32) -> DoctorRun {
    let run = lab.doctor(&["--auto", "--format", "json"]);
    assert!(
        run.elapsed < DOCTOR_TIMEOUT,
        "doctor took {:?}",
        run.elapsed
    );
    assert_eq!(run.status, exit, "exit status\n{run}");
    assert_eq!(run.json["schema"], 1, "schema\n{run}");
    time_doctor(lab);
    crate::clean_words::assert_clean(lab, &run);
    run
}

/// With `DOCTOR_TIMING` set, runs `--auto` five more times on the lab as it is and prints
/// `timing: <test> median_ms=<n>` (the test's name is its thread's). Never asserted.
/// Public so that every lab scenario (`messy_host` too) can be timed the same way.
pub fn time_doctor(lab: &Lab) {
    if std::env::var_os(TIMING).is_none() {
        return;
    }
    let mut ms: Vec<u128> = (0..TIMING_RUNS)
        .map(|_| {
            lab.doctor(&["--auto", "--format", "json"])
                .elapsed
                .as_millis()
        })
        .collect();
    ms.sort_unstable();
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("unnamed");
    println!("timing: {name} median_ms={}", ms[TIMING_RUNS / 2]);
}

/// `secs` (Unix time) as nginx writes it, in local time: `2026/11/22 14:03:07`.
pub(crate) fn nginx_time(secs: u64) -> String {
    let out = Command::new("date")
        .args(["-d", &format!("@{secs}"), "+%Y/%m/%d %H:%M:%S"])
        .output()
        .expect("run date");
    assert!(out.status.success(), "date failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn url_flag_reproduces_the_failure_before_reading_the_log() {
    let lab = Lab::new();
    let fpm = lab.serving_php(crate::support::Pool::unix("www"));
    lab.stop(fpm.pid);
    assert!(
        !lab.error_log().contains("connect() to unix:"),
        "no request has failed yet"
    );

    let run = lab.doctor(&["--auto", "--format", "json", "--url", "/ok.php"]);
    assert_eq!(run.status, 1, "{run}");
    run.assert_first("backend-down");
    let reproduce = run.json["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["probe"] == "reproduce"))
        .unwrap_or_else(|| panic!("no reproduce check\n{run}"));
    assert_eq!(reproduce["status"], "ok", "{run}");
    assert_eq!(run.json["answers"]["url"], "/ok.php", "{run}");
}
