//! Following a report's fix the way the junior admin it is written for would: every
//! step in order, each command run exactly as printed (its argv, bounded, ending with an
//! exit status its step declares), each edit made at the file and line the step names, a
//! reload or restart waited for until the daemon answers again; then the verify lines,
//! pasted into a shell. A fix that only works when read generously fails here. This is
//! the one helper every "fix proven" test uses:
//!
//! ```text
//! let fix = Fix::of(&run, "firewall-blocked");        // or Fix::of_node(&run, node)
//! let mark = follow::mark(&lab);
//! let done = follow::follow_fix(&lab, &fix, Plan::new());   // .fpm(&fpm), .serves(addr)
//! let verified = follow::verify_fix(&lab, &fix);      // asserts each declared exit
//! assert!(follow::new_failures(&lab, mark, "upstream: ...").is_empty());
//! ```
//!
//! Where each part lives: `edit` puts a snippet where a step says, `command` runs a
//! printed command and plays init's part around it (a started daemon becomes one of the
//! lab's, a stopped one is reaped) and refuses one that would act on this host instead
//! of the lab. The older names (`follow::follow`, `follow::verify`, `Lab::follow_fix`,
//! `Lab::run_verify`, `Lab::errors_since`) are thin wrappers over these.

mod command;
mod edit;

use super::doctor::{self, DoctorRun};
use super::fpm::Fpm;
use super::lab::Lab;
use super::net::Addr;
use serde_json::Value;
use std::time::Duration;

/// Bound on one printed command or verify line (an `nft`, a reload, a `curl`).
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// One step of a fix, as the report prints it (JSON `fix.steps[i]`).
#[derive(Clone, Debug)]
pub struct Step {
    /// What to do, in words.
    pub text: String,
    /// The command to run, argv as printed.
    pub command: Option<Vec<String>>,
    /// The exit statuses of `command` that mean it worked (`[0]` unless declared).
    pub exit: Vec<i32>,
    /// The file to edit.
    pub file: Option<String>,
    /// The line of `file` the step names: JSON `line`, else `FILE:N` or `line N` in the
    /// text.
    pub line: Option<usize>,
    /// The last line of a cited range (JSON `last_line`).
    pub last_line: Option<usize>,
    /// What to put there.
    pub snippet: Option<String>,
}

/// One verify line and the exit statuses that mean the fix worked.
#[derive(Clone, Debug)]
pub struct Verify {
    pub line: String,
    pub exit: Vec<i32>,
}

/// A finding's fix: its steps (only those that apply to this host) and verify lines.
#[derive(Clone, Debug)]
pub struct Fix {
    /// The conclusion node that made the finding.
    pub node: String,
    pub steps: Vec<Step>,
    pub verify: Vec<Verify>,
}

impl Fix {
    /// The fix of finding `id`; panics (with the run) when there is none.
    pub fn of(run: &DoctorRun, id: &str) -> Fix {
        Fix::from_finding(run.finding(id))
    }

    /// The fix of the finding conclusion node `node` made (among findings and resolved
    /// upstreams); panics with the report when the walk did not reach it.
    pub fn of_node(run: &DoctorRun, node: &str) -> Fix {
        let all = ["findings", "resolved"]
            .iter()
            .filter_map(|k| run.json[k].as_array())
            .flatten();
        let mut all = all;
        let f = all
            .find(|f| f["node"] == node)
            .unwrap_or_else(|| panic!("the walk did not reach {node}\n{run}"));
        Fix::from_finding(f)
    }

    /// A finding's `fix`, read from its JSON.
    pub fn from_finding(finding: &Value) -> Fix {
        let fix = &finding["fix"];
        let steps = fix["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("the finding has no fix steps:\n{finding:#}"))
            .iter()
            .map(Step::from_json)
            .collect();
        let verify = fix["verify"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, l)| Verify {
                line: l.as_str().unwrap_or_default().to_owned(),
                exit: statuses(&fix["verify_exit"][i]),
            })
            .collect();
        Fix {
            node: finding["node"].as_str().unwrap_or_default().to_owned(),
            steps,
            verify,
        }
    }

    /// The first step whose text contains `says`; panics with every step's text.
    pub fn step(&self, says: &str) -> &Step {
        self.steps
            .iter()
            .find(|s| s.text.contains(says))
            .unwrap_or_else(|| panic!("no step saying {says:?} in {:#?}", self.steps))
    }

    /// Every command of the fix, in order.
    pub fn commands(&self) -> Vec<&Vec<String>> {
        self.steps
            .iter()
            .filter_map(|s| s.command.as_ref())
            .collect()
    }
}

impl Step {
    fn from_json(s: &Value) -> Step {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let number = |v: &Value| v.as_u64().and_then(|n| usize::try_from(n).ok());
        let mut step = Step {
            text: text(&s["text"]).unwrap_or_default(),
            command: s["command"]
                .as_array()
                .map(|a| a.iter().filter_map(text).collect()),
            exit: statuses(&s["exit"]),
            file: text(&s["file"]),
            line: number(&s["line"]),
            last_line: number(&s["last_line"]),
            snippet: text(&s["snippet"]),
        };
        if step.line.is_none() {
            step.line = edit::named_line(&step.text, step.file.as_deref());
        }
        step
    }

    /// The line the step names in its file; panics when it names none.
    pub fn line(&self) -> usize {
        self.line
            .unwrap_or_else(|| panic!("step names no line of {:?}: {:?}", self.file, self.text))
    }

    /// Applies the step's edit where it says; returns `FILE:LINE` (see `edit`).
    pub fn apply(&self) -> String {
        edit::apply(self).0
    }

    /// The step with its lines as they are after the edits `moved` (earlier steps'): a
    /// report numbers the lines of the file it read, and a line an earlier step inserted
    /// above moves the setting a later step names.
    fn after(&self, moved: &[edit::Moved]) -> Step {
        let mut step = self.clone();
        let file = step.file.clone().unwrap_or_default();
        for m in moved.iter().filter(|m| m.file == file) {
            let shift = |l: usize| match l > m.last {
                true => l.saturating_add_signed(m.delta),
                false => l,
            };
            step.line = step.line.map(shift);
            step.last_line = step.last_line.map(shift);
        }
        step
    }

    /// Whether the step asks for an edit: a snippet to put in its file, or a deletion.
    pub fn edits(&self) -> bool {
        self.file.is_some() && (self.snippet.is_some() || edit::deletes(&self.text))
    }
}

/// A step's `exit` (or a `verify_exit` entry): `[0]` when absent.
fn statuses(v: &Value) -> Vec<i32> {
    let listed: Vec<i32> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
        .filter_map(|n| i32::try_from(n).ok())
        .collect();
    if listed.is_empty() { vec![0] } else { listed }
}

/// What the scenario knows that the report leaves to the person.
pub struct Plan<'a> {
    /// The php-fpm the fix is about: its reload is waited for, its printed start runs as
    /// a lab daemon at its address.
    pub fpm: Option<Fpm>,
    /// Where a daemon the fix starts accepts, when it is neither `fpm` nor the nginx the
    /// lab started (a lab whose nginx never ran).
    pub serves: Option<Addr>,
    /// What the person does at a step besides its command or placed edit (all of a step
    /// of words only: "stop the other program"): the scenario's own way of doing it.
    pub by_hand: Box<dyn FnMut(&Step) + 'a>,
}

impl<'a> Plan<'a> {
    /// No php-fpm, nothing to do by hand.
    pub fn new() -> Plan<'a> {
        Plan {
            fpm: None,
            serves: None,
            by_hand: Box::new(|_| {}),
        }
    }

    /// The fix is about `fpm`.
    pub fn fpm(mut self, fpm: &Fpm) -> Plan<'a> {
        self.fpm = Some(fpm.clone());
        self
    }

    /// A daemon the fix starts accepts at `addr`.
    pub fn serves(mut self, addr: Addr) -> Plan<'a> {
        self.serves = Some(addr);
        self
    }

    /// What the person does at each step besides its command or placed edit.
    pub fn by_hand(mut self, f: impl FnMut(&Step) + 'a) -> Plan<'a> {
        self.by_hand = Box::new(f);
        self
    }
}

impl Default for Plan<'_> {
    fn default() -> Self {
        Plan::new()
    }
}

/// What following a fix did.
#[derive(Debug, Default)]
pub struct Followed {
    /// The commands run, as printed.
    pub ran: Vec<Vec<String>>,
    /// The edits made, `FILE:LINE`.
    pub edited: Vec<String>,
    /// Steps that are advice only (no command, no edit): their texts.
    pub advice: Vec<String>,
    /// The php-fpm the fix was about, as it runs afterwards (a new master after a
    /// printed restart).
    pub fpm: Option<Fpm>,
}

/// Follows every step of `fix` in order on `lab`; panics, with the step and what
/// happened, at the first one that cannot be done as written.
pub fn follow_fix(lab: &Lab, fix: &Fix, mut plan: Plan) -> Followed {
    let mut done = Followed::default();
    let mut moved = Vec::new();
    for step in &fix.steps {
        if step.edits() {
            command::allow_edit(lab, step.file.as_deref().unwrap_or_default());
            let (at, m) = edit::apply(&step.after(&moved));
            done.edited.push(at);
            moved.push(m);
        }
        if let Some(argv) = &step.command {
            command::follow(lab, argv, &step.exit, &mut plan);
            done.ran.push(argv.clone());
        }
        if step.command.is_none() && !step.edits() {
            done.advice.push(step.text.clone());
        }
        (plan.by_hand)(step);
    }
    done.fpm = plan.fpm;
    done
}

/// One verify line as pasted, and what it printed.
#[derive(Debug)]
pub struct Verified {
    pub line: String,
    pub exit: Vec<i32>,
    pub out: DoctorRun,
}

/// Runs each verify line of `fix` in bash, as pasted, and asserts it ends with an exit
/// status the pack declares for it; their runs, in order.
pub fn verify_fix(lab: &Lab, fix: &Fix) -> Vec<Verified> {
    assert!(!fix.verify.is_empty(), "{} has no verify line", fix.node);
    let verified = run_verify_lines(lab, fix);
    for v in &verified {
        assert!(
            v.exit.contains(&v.out.status),
            "the verify line of {} exited {} (the pack declares {:?}): {}\n{}",
            fix.node,
            v.out.status,
            v.exit,
            v.line,
            v.out
        );
    }
    verified
}

/// Runs each verify line of `fix` in bash without judging it; the scenario's own checks
/// of a line's words are its own.
pub fn run_verify_lines(lab: &Lab, fix: &Fix) -> Vec<Verified> {
    fix.verify
        .iter()
        .map(|v| {
            command::allow_shell_line(lab, &v.line);
            eprintln!("verifying {}: $ {}", fix.node, v.line);
            let args = vec!["-c".to_owned(), v.line.clone()];
            Verified {
                line: v.line.clone(),
                exit: v.exit.clone(),
                out: doctor::run_bounded("bash", &args, lab.dir(), COMMAND_LIMIT),
            }
        })
        .collect()
}

/// How much of nginx's error log exists now: pass it to `new_failures`.
pub fn mark(lab: &Lab) -> usize {
    lab.error_log().len()
}

/// The error-log lines written after `mark` that name `upstream` at level error or
/// worse: a failure the fix should have ended.
pub fn new_failures(lab: &Lab, mark: usize, upstream: &str) -> Vec<String> {
    let log = lab.error_log();
    let new = log.get(mark..).unwrap_or_default();
    let failure = ["[error]", "[crit]", "[alert]", "[emerg]"];
    new.lines()
        .filter(|l| l.contains(upstream) && failure.iter().any(|f| l.contains(f)))
        .map(str::to_owned)
        .collect()
}

// The names fix-network's tests use: thin wrappers.

/// The steps of finding `id`'s fix, as JSON.
pub fn steps(run: &DoctorRun, id: &str) -> Vec<Value> {
    run.finding(id)["fix"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Follows finding `id`'s fix on `lab` (`follow_fix` with nothing to plan).
pub fn follow(lab: &Lab, run: &DoctorRun, id: &str) -> Followed {
    follow_fix(lab, &Fix::of(run, id), Plan::new())
}

/// Runs finding `id`'s verify lines, each with what it printed (`run_verify_lines`).
pub fn verify(lab: &Lab, run: &DoctorRun, id: &str) -> Vec<(String, DoctorRun)> {
    let lines = run_verify_lines(lab, &Fix::of(run, id));
    lines.into_iter().map(|v| (v.line, v.out)).collect()
}
