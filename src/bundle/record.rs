//! Recording a run: catching every observation the report's checks were
//! made from, and the host facts a reader of the bundle wants first.
//!
//! With `--auto` every check that ran went through the prober, so
//! [`RecordingProber`] sees them all. In guided mode a check can be skipped
//! (the prober never sees it) and the user can go back (the engine forgets
//! the checks after that point), so there [`RecordingGuide`] keeps the
//! observations instead: the engine shows each one to the guide, and the
//! guide forgets on "back" exactly what the engine forgets. Either way
//! [`recordings`] pairs them with the report's checks.

use std::time::Duration;

use super::{Bundle, FORMAT, HostDetails, Recording};
use crate::guide::{Answer, CheckIntro, Choice, Guide, Interrupted, Question};
use crate::logs::Timestamp;
use crate::probe::command::{self, CommandSpec};
use crate::probe::{Invocation, Observation, Prober};
use crate::report::HostInfo;
use crate::rules::Probe;
use crate::value::Facts;
use crate::walk::{CheckRecord, Finding, FixRecord, FixText, StepText, Walk, millis};

/// Bytes of `nginx -V` output kept (its configure line is long, not huge).
const NGINX_V_MAX: usize = 16 * 1024;
const NGINX_V_TIMEOUT: Duration = Duration::from_secs(3);

/// Passes every probe to `inner` and keeps what it saw (`--auto`).
pub struct RecordingProber<'a> {
    inner: &'a mut dyn Prober,
    tape: Vec<Observation>,
}

impl<'a> RecordingProber<'a> {
    pub fn new(inner: &'a mut dyn Prober) -> Self {
        RecordingProber {
            inner,
            tape: Vec::new(),
        }
    }

    /// Every observation, in the order the probes ran.
    pub fn into_tape(self) -> Vec<Observation> {
        self.tape
    }
}

impl Prober for RecordingProber<'_> {
    fn preview(&mut self, invocation: &Invocation) -> String {
        self.inner.preview(invocation)
    }

    fn observe(&mut self, probe: &Probe, invocation: &Invocation) -> Observation {
        let observation = self.inner.observe(probe, invocation);
        self.tape.push(observation.clone());
        observation
    }
}

/// Passes every prompt to the person's guide and keeps each check's
/// observation as the engine keeps its check (guided mode).
pub struct RecordingGuide<'a> {
    inner: &'a mut dyn Guide,
    tape: Vec<Observation>,
    /// The tape's length at each step the user can go back to — what the
    /// engine's own snapshots hold as its count of checks.
    marks: Vec<usize>,
}

impl<'a> RecordingGuide<'a> {
    pub fn new(inner: &'a mut dyn Guide) -> Self {
        RecordingGuide {
            inner,
            tape: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// One observation per check the walk kept, in order.
    pub fn into_tape(self) -> Vec<Observation> {
        self.tape
    }

    /// Mirrors the engine's `back`: leave this step, return to the one before
    /// it (or stay here when there is none), forgetting what came after.
    fn back(&mut self) {
        let current = self.marks.pop();
        if let Some(to) = self.marks.pop().or(current) {
            self.tape.truncate(to);
        }
    }
}

impl Guide for RecordingGuide<'_> {
    fn before_check(&mut self, intro: &CheckIntro) -> Result<Choice, Interrupted> {
        self.marks.push(self.tape.len());
        let choice = self.inner.before_check(intro)?;
        if choice == Choice::Back {
            self.back();
        }
        Ok(choice)
    }

    fn after_check(
        &mut self,
        observation: &Observation,
        found: Option<&str>,
    ) -> Result<(), Interrupted> {
        self.tape.push(observation.clone());
        self.inner.after_check(observation, found)
    }

    fn ask(&mut self, question: &Question) -> Result<Answer, Interrupted> {
        self.marks.push(self.tape.len());
        let answer = self.inner.ask(question)?;
        if answer == Answer::Back {
            self.back();
        }
        Ok(answer)
    }

    fn concluded(&mut self, finding: &Finding) -> Result<(), Interrupted> {
        self.inner.concluded(finding)
    }

    fn offer_fix(&mut self, step: &StepText) -> Result<bool, Interrupted> {
        self.inner.offer_fix(step)
    }

    fn fix_ran(&mut self, record: &FixRecord) -> Result<(), Interrupted> {
        self.inner.fix_ran(record)
    }

    fn fix_offered(&mut self, fix: &FixText) -> Result<(), Interrupted> {
        self.inner.fix_offered(fix)
    }

    fn offer_recheck(&mut self, again: bool, unchanged: bool) -> bool {
        self.inner.offer_recheck(again, unchanged)
    }

    fn show_recheck(&mut self, check: &crate::recheck::Recheck) {
        self.inner.show_recheck(check);
    }

    fn save_report(&mut self) -> Option<std::path::PathBuf> {
        self.inner.save_report()
    }

    fn section(&mut self, title: &str, index: usize, count: usize) -> Result<(), Interrupted> {
        self.inner.section(title, index, count)
    }
}

impl Bundle {
    /// The bundle of a finished walk: `tape` is what a recorder kept,
    /// `context` the facts the walk started from.
    pub fn of_walk(
        walk: &Walk,
        tape: Vec<Observation>,
        mode: &str,
        info: &HostInfo,
        context: &Facts,
    ) -> Bundle {
        let observations = recordings(&walk.checks, tape);
        Bundle {
            format: FORMAT,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            recorded_at: Timestamp::now().to_string(),
            mode: mode.into(),
            host: host_details(info, &observations),
            context: context
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            answers: walk.answers.clone(),
            observations,
            fixes: walk.fixes.clone(),
        }
    }
}

/// One recording per check of the report. A tape entry belongs to the next
/// check of the same status; a check with no entry (the engine itself found
/// a value unsafe, so no prober saw it) is rebuilt from the check record,
/// which then holds all there is to know about it.
pub fn recordings(checks: &[CheckRecord], tape: Vec<Observation>) -> Vec<Recording> {
    let mut tape = tape.into_iter().peekable();
    checks
        .iter()
        .map(|check| {
            let observation = tape
                .next_if(|o| o.status == check.status)
                .unwrap_or_else(|| from_check(check));
            recording(check, observation)
        })
        .collect()
}

fn from_check(check: &CheckRecord) -> Observation {
    Observation {
        status: check.status,
        exit: check.exit,
        stdout: check.excerpt.clone(),
        stderr: String::new(),
        duration: Duration::from_millis(check.duration_ms),
        facts: Vec::new(),
        shown_as: check.shown_as.clone(),
        reason: check.reason.clone(),
    }
}

fn recording(check: &CheckRecord, o: Observation) -> Recording {
    Recording {
        probe: check.probe.clone(),
        node: check.node.clone(),
        invocation: check.invocation.clone(),
        status: o.status,
        exit: o.exit,
        stdout: o.stdout,
        stderr: o.stderr,
        duration_ms: millis(o.duration),
        facts: o.facts.into_iter().collect(),
        shown_as: o.shown_as,
        reason: o.reason,
    }
}

/// The host facts a bundle carries beyond what the report shows: kernel,
/// distribution and `nginx -V` of the binary the `nginx` built-in found.
pub fn host_details(info: &HostInfo, recorded: &[Recording]) -> HostDetails {
    HostDetails {
        hostname: info.hostname.clone(),
        euid: info.euid,
        root: info.root,
        systemd: info.systemd,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty()),
        distro: std::fs::read("/etc/os-release")
            .ok()
            .and_then(|text| pretty_name(&String::from_utf8_lossy(&text))),
        nginx_version: nginx_binary(recorded).and_then(nginx_version),
    }
}

/// PRETTY_NAME from os-release text, unquoted.
fn pretty_name(os_release: &str) -> Option<String> {
    os_release
        .lines()
        .find_map(|l| l.trim().strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches(['"', '\'']).to_owned())
        .filter(|v| !v.is_empty())
}

fn nginx_binary(recorded: &[Recording]) -> Option<String> {
    recorded
        .iter()
        .filter(|r| matches!(&r.invocation, Invocation::Builtin { name, .. } if name == "nginx"))
        .find_map(|r| match r.facts.get("binary") {
            Some(crate::value::Value::Str(path)) if path.starts_with('/') => Some(path.clone()),
            _ => None,
        })
}

/// `nginx -V` prints on stderr; whatever it printed, when it ran.
fn nginx_version(binary: String) -> Option<String> {
    let out = command::run(&CommandSpec {
        argv: vec![binary, "-V".into()],
        timeout: NGINX_V_TIMEOUT,
        max_output: NGINX_V_MAX,
    });
    if !matches!(out.outcome, command::Outcome::Exited(_)) {
        return None;
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guide::{Answer, Choice};
    use crate::probe::ProbeStatus;
    use std::collections::BTreeMap;

    fn check(probe: &str, status: ProbeStatus) -> CheckRecord {
        CheckRecord {
            probe: probe.into(),
            node: format!("node-{probe}"),
            upstream: None,
            invocation: Invocation::Command {
                argv: vec![probe.into()],
            },
            shown_as: probe.into(),
            status,
            exit: None,
            duration_ms: 0,
            excerpt: String::new(),
            reason: Some(format!("{probe} reason")),
            why: None,
            found: None,
        }
    }

    fn seen(status: ProbeStatus, stdout: &str) -> Observation {
        Observation {
            stdout: stdout.into(),
            ..Observation::not_run(status, "x", "r")
        }
    }

    #[test]
    fn each_check_gets_its_observation_in_order() {
        let checks = [check("a", ProbeStatus::Ok), check("b", ProbeStatus::Failed)];
        let tape = vec![
            seen(ProbeStatus::Ok, "one"),
            seen(ProbeStatus::Failed, "two"),
        ];
        let out = recordings(&checks, tape);
        assert_eq!(
            out.iter()
                .map(|r| (r.probe.as_str(), r.stdout.as_str()))
                .collect::<Vec<_>>(),
            [("a", "one"), ("b", "two")]
        );
    }

    #[test]
    fn a_check_the_prober_never_saw_is_rebuilt_from_its_record() {
        let checks = [
            check("a", ProbeStatus::UnsafeValue),
            check("b", ProbeStatus::Ok),
        ];
        let out = recordings(&checks, vec![seen(ProbeStatus::Ok, "two")]);
        assert_eq!(out[0].status, ProbeStatus::UnsafeValue);
        assert_eq!(out[0].reason.as_deref(), Some("a reason"));
        assert_eq!(out[1].stdout, "two");
    }

    #[test]
    fn built_in_facts_are_kept_by_name() {
        let mut o = seen(ProbeStatus::Ok, "");
        o.facts = vec![("count".into(), 3.into())];
        let out = recordings(&[check("error-log", ProbeStatus::Ok)], vec![o]);
        assert_eq!(
            out[0].facts.get("count"),
            Some(&crate::value::Value::Int(3))
        );
    }

    #[test]
    fn a_guided_walk_keeps_what_the_engine_keeps_after_going_back() {
        use crate::engine::Engine;
        use crate::guide::scripted::{Reply, Scripted};
        let rules = crate::rules::RuleSet::embedded().expect("the embedded pack loads");
        let mut nginx = seen(ProbeStatus::Ok, "");
        nginx.facts = vec![
            ("found".into(), true.into()),
            ("running".into(), true.into()),
            ("binary".into(), "/usr/sbin/nginx".into()),
            ("prefix".into(), "/etc/nginx/".into()),
            ("conf".into(), "/etc/nginx/nginx.conf".into()),
        ];
        let mut prober = crate::probe::Recorded::default();
        prober.observations.insert("nginx".into(), nginx);
        prober
            .observations
            .insert("nginx-test".into(), seen(ProbeStatus::Ok, "first run"));
        // Run nginx, run nginx -t, go back from the question, skip nginx -t.
        let mut person = Scripted::new([
            Reply::Choice(Choice::Run),
            Reply::Choice(Choice::Run),
            Reply::Answer(Answer::Back),
            Reply::Choice(Choice::Skip),
        ]);
        let mut recorder = RecordingGuide::new(&mut person);
        let walk = Engine::new(&rules, &mut prober, Some(&mut recorder), Facts::new())
            .run()
            .expect("not interrupted");
        let tape = recorder.into_tape();
        assert_eq!(
            tape.iter().map(|o| o.status).collect::<Vec<_>>(),
            walk.checks.iter().map(|c| c.status).collect::<Vec<_>>()
        );
        let kept = recordings(&walk.checks, tape);
        assert_eq!(kept[1].probe, "nginx-test");
        assert_eq!(kept[1].status, ProbeStatus::Skipped);
        assert!(kept.iter().all(|r| r.stdout != "first run"), "{kept:?}");
    }

    #[test]
    fn pretty_name_is_unquoted() {
        let text = "NAME=\"Rocky Linux\"\nPRETTY_NAME=\"Rocky Linux 9.4 (Blue Onyx)\"\nID=rocky";
        assert_eq!(
            pretty_name(text).as_deref(),
            Some("Rocky Linux 9.4 (Blue Onyx)")
        );
        assert_eq!(pretty_name("ID=debian"), None);
    }

    #[test]
    fn the_nginx_binary_comes_from_the_nginx_built_in() {
        let mut r = recordings(
            &[CheckRecord {
                invocation: Invocation::Builtin {
                    name: "nginx".into(),
                    params: BTreeMap::new(),
                },
                ..check("nginx", ProbeStatus::Ok)
            }],
            vec![seen(ProbeStatus::Ok, "")],
        );
        r[0].facts.insert("binary".into(), "/usr/sbin/nginx".into());
        assert_eq!(nginx_binary(&r).as_deref(), Some("/usr/sbin/nginx"));
    }
}
