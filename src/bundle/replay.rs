//! Replaying a bundle: the engine walks the rules as usual, but every probe
//! is answered from the recording and every question from the recorded
//! answers, so nothing runs on this host.

use std::collections::{BTreeMap, VecDeque};

use super::Recording;
use super::redact::Redactor;
use crate::guide::fixer::{FixRun, Fixer};
use crate::guide::{Answer, CheckIntro, Choice, Guide, Interrupted, Question};
use crate::probe::{Invocation, Observation, ProbeStatus, Prober};
use crate::rules::{NodeKind, Probe, RuleSet};
use crate::value::Value;
use crate::walk::{Finding, FixRecord, FixResult, StepText};

/// What a probe the bundle has no recording for reports.
pub const NOT_IN_BUNDLE: &str = "not run: not in the bundle";

/// The parts of a report that a replay with the same rule pack reproduces;
/// `mode`, `tool`, `rules` and `host` say how and where it was made.
pub const COMPARED: &[&str] = &["findings", "checks", "path", "answers", "stopped", "fixes"];

/// Answers each probe with the next recording of its id: the n-th use of a
/// probe gets its n-th recording, whatever its arguments are now.
#[derive(Debug, Default)]
pub struct Replayer {
    queues: BTreeMap<String, VecDeque<Observation>>,
}

impl Replayer {
    pub fn new(recordings: &[Recording]) -> Self {
        let mut queues: BTreeMap<String, VecDeque<Observation>> = BTreeMap::new();
        // An unsafe value is found by the engine before any prober is
        // asked; a replay finds it again from the same facts.
        for r in recordings
            .iter()
            .filter(|r| r.status != ProbeStatus::UnsafeValue)
        {
            queues
                .entry(r.probe.clone())
                .or_default()
                .push_back(upgraded(r));
        }
        Replayer { queues }
    }
}

/// A recording as this version's rules read it: an error-log recording's
/// failing upstreams as the items the rules now walk (see
/// [`crate::probe::builtin::recorded_items`]).
fn upgraded(r: &Recording) -> Observation {
    let mut observation = r.observation();
    let is_error_log =
        matches!(&r.invocation, Invocation::Builtin { name, .. } if name == "error-log");
    if is_error_log && let Some(items) = crate::probe::builtin::recorded_items(&r.facts) {
        observation.facts.retain(|(name, _)| name != "upstreams");
        observation.facts.push(("upstreams".into(), items));
    }
    observation
}

impl Prober for Replayer {
    fn observe(&mut self, probe: &Probe, invocation: &Invocation) -> Observation {
        self.queues
            .get_mut(&probe.id)
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| {
                Observation::not_run(ProbeStatus::Error, invocation.shown(), NOT_IN_BUNDLE)
            })
    }
}

/// Runs every check and answers every question as the recorded user did;
/// a question the recording never reached gets what `--auto` would answer.
#[derive(Debug, Default)]
pub struct ReplayGuide {
    /// The recorded answer, by the id of the node that asks for it.
    by_node: BTreeMap<String, Value>,
    /// The argv of each fix the recorded person accepted, in order.
    accepted: VecDeque<Vec<String>>,
}

impl ReplayGuide {
    /// `answers` are by fact, as the report and the bundle keep them.
    pub fn new(rules: &RuleSet, answers: &BTreeMap<String, Value>) -> Self {
        let by_node = rules
            .nodes
            .iter()
            .filter_map(|node| match &node.kind {
                NodeKind::Ask(ask) => answers
                    .get(&ask.fact)
                    .map(|value| (node.id.clone(), value.clone())),
                _ => None,
            })
            .collect();
        ReplayGuide {
            by_node,
            accepted: VecDeque::new(),
        }
    }

    /// Accepts again the fixes the recorded person accepted, in order.
    #[must_use]
    pub fn with_fixes(mut self, fixes: &[FixRecord]) -> Self {
        self.accepted = fixes.iter().map(|f| f.argv.clone()).collect();
        self
    }
}

/// Answers each accepted fix with its record from the bundle: nothing runs.
#[derive(Debug, Default)]
pub struct ReplayFixer {
    recorded: VecDeque<FixRecord>,
}

impl ReplayFixer {
    pub fn new(fixes: &[FixRecord]) -> Self {
        ReplayFixer {
            recorded: fixes.iter().cloned().collect(),
        }
    }
}

impl Fixer for ReplayFixer {
    fn run(&mut self, argv: &[String]) -> FixRun {
        match self.recorded.pop_front() {
            Some(fix) if fix.argv == argv => FixRun {
                at: fix.at,
                started: fix.result != FixResult::NotRun,
                exit: fix.exit,
                outcome: fix.outcome,
                duration_ms: fix.duration_ms,
                excerpt: fix.excerpt,
            },
            _ => FixRun {
                at: String::new(),
                started: false,
                exit: None,
                outcome: NOT_IN_BUNDLE.into(),
                duration_ms: 0,
                excerpt: String::new(),
            },
        }
    }
}

impl Guide for ReplayGuide {
    fn before_check(&mut self, _: &CheckIntro) -> Result<Choice, Interrupted> {
        Ok(Choice::Run)
    }

    fn after_check(&mut self, _: &Observation, _: Option<&str>) -> Result<(), Interrupted> {
        Ok(())
    }

    fn ask(&mut self, question: &Question) -> Result<Answer, Interrupted> {
        let value = self
            .by_node
            .get(question.node)
            .unwrap_or(&question.suggested);
        Ok(Answer::Value(value.clone()))
    }

    fn concluded(&mut self, _: &Finding) -> Result<(), Interrupted> {
        Ok(())
    }

    fn offer_fix(&mut self, step: &StepText) -> Result<bool, Interrupted> {
        let recorded = step
            .command
            .as_ref()
            .is_some_and(|argv| self.accepted.front() == Some(argv));
        if recorded {
            self.accepted.pop_front();
        }
        Ok(recorded)
    }
}

/// The [`COMPARED`] parts in which a replayed report differs from the
/// recorded one (both JSON). The recorded report was redacted when it was
/// written, so the replayed one is redacted the same way before comparing.
pub fn differences(
    recorded: &serde_json::Value,
    replayed: &serde_json::Value,
) -> Vec<&'static str> {
    let replayed = Redactor::new().redact_json(replayed.clone());
    COMPARED
        .iter()
        .copied()
        .filter(|key| recorded.get(key) != replayed.get(key))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn recording(probe: &str, stdout: &str, status: ProbeStatus) -> Recording {
        Recording {
            probe: probe.into(),
            node: String::new(),
            invocation: Invocation::Command {
                argv: vec![probe.into()],
            },
            status,
            exit: Some(0),
            stdout: stdout.into(),
            stderr: String::new(),
            duration_ms: 7,
            facts: BTreeMap::new(),
            shown_as: probe.into(),
            reason: None,
        }
    }

    fn probe(id: &str) -> Probe {
        let rules = crate::rules::RuleSet::embedded().expect("the embedded pack loads");
        let mut p = rules
            .probes
            .into_iter()
            .next()
            .expect("the pack has probes");
        p.id = id.into();
        p
    }

    fn ask(replayer: &mut Replayer, id: &str) -> Observation {
        let inv = Invocation::Command {
            argv: vec![id.into()],
        };
        replayer.observe(&probe(id), &inv)
    }

    /// A pack that concludes at once, with one fix command.
    const FIX_PACK: &str = r#"
pack: { name: test, start: down }
probes: {}
nodes:
  down:
    conclude: backend-down
    title: nothing listens
    fix:
      steps:
        - say: Start the backend.
          run: [start-backend, --now]
"#;

    #[test]
    fn a_recorded_fix_is_in_the_bundle_and_a_replay_shows_it_without_running_it() {
        use crate::engine::Engine;
        use crate::guide::fixer::ScriptedFixer;
        use crate::guide::scripted::{Reply, Scripted};
        use crate::report::HostInfo;
        use crate::value::Facts;

        let rules = crate::rules::build::build(
            "test",
            vec![("pack.yaml".into(), FIX_PACK.as_bytes().to_vec())],
        )
        .unwrap_or_else(|p| panic!("{p}"));
        let mut person = Scripted::new([Reply::Fix(true)]);
        let mut recorder = super::super::RecordingGuide::new(&mut person);
        let mut fixer = ScriptedFixer::default();
        fixer.answer.excerpt = "started".into();
        let mut prober = crate::probe::Recorded::default();
        let walk = Engine::new(&rules, &mut prober, Some(&mut recorder), Facts::new())
            .with_fixer(&mut fixer)
            .run()
            .expect("the script never quits");
        let info = HostInfo {
            hostname: "h".into(),
            euid: 0,
            root: true,
            systemd: false,
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let bundle =
            crate::bundle::Bundle::of_walk(&walk, Vec::new(), "guided", &info, &Facts::new());
        crate::bundle::save(dir.path(), &bundle, &serde_json::json!({})).expect("saved");
        let loaded = crate::bundle::load(dir.path()).expect("loaded").bundle;
        assert_eq!(
            loaded.fixes, walk.fixes,
            "the bundle keeps the fix as it ran"
        );

        let mut guide = ReplayGuide::new(&rules, &loaded.answers).with_fixes(&loaded.fixes);
        let mut replayer = ReplayFixer::new(&loaded.fixes);
        let mut prober = Replayer::new(&loaded.observations);
        let replayed = Engine::new(&rules, &mut prober, Some(&mut guide), Facts::new())
            .with_fixer(&mut replayer)
            .run()
            .expect("a replay never quits");
        assert_eq!(replayed.fixes, walk.fixes);
        assert_eq!(fixer.ran.len(), 1, "only the recorded run ran it");
    }

    #[test]
    fn the_nth_use_of_a_probe_gets_its_nth_recording() {
        let mut r = Replayer::new(&[
            recording("backend", "first", ProbeStatus::Ok),
            recording("getenforce", "Enforcing", ProbeStatus::Ok),
            recording("backend", "second", ProbeStatus::Ok),
        ]);
        assert_eq!(ask(&mut r, "backend").stdout, "first");
        assert_eq!(ask(&mut r, "backend").stdout, "second");
        assert_eq!(ask(&mut r, "getenforce").stdout, "Enforcing");
    }

    #[test]
    fn a_probe_the_bundle_lacks_is_not_run() {
        let mut r = Replayer::new(&[recording("backend", "once", ProbeStatus::Ok)]);
        ask(&mut r, "backend");
        let again = ask(&mut r, "backend");
        assert_eq!(again.status, ProbeStatus::Error);
        assert_eq!(again.reason.as_deref(), Some(NOT_IN_BUNDLE));
        assert_eq!(again.shown_as, "backend");
    }

    #[test]
    fn recorded_durations_are_replayed() {
        let mut r = Replayer::new(&[recording("nft", "", ProbeStatus::Ok)]);
        assert_eq!(ask(&mut r, "nft").duration.as_millis(), 7);
    }

    #[test]
    fn unsafe_value_recordings_are_left_to_the_engine() {
        let mut r = Replayer::new(&[
            recording("resolve", "", ProbeStatus::UnsafeValue),
            recording("resolve", "later", ProbeStatus::Ok),
        ]);
        assert_eq!(ask(&mut r, "resolve").stdout, "later");
    }

    #[test]
    fn recorded_answers_are_given_by_the_asking_node() {
        let rules = crate::rules::RuleSet::embedded().expect("the embedded pack loads");
        let answers = BTreeMap::from([("url".to_string(), Value::from("/index.php"))]);
        let guide = ReplayGuide::new(&rules, &answers);
        assert_eq!(
            guide.by_node.get("ask-reproduce"),
            Some(&Value::from("/index.php"))
        );
    }

    #[test]
    fn reports_differing_only_in_mode_and_host_have_no_differences() {
        let a = json!({"mode": "auto", "host": {"hostname": "a"}, "findings": [{"id": "x"}], "checks": [], "path": ["n"], "answers": {}});
        let b = json!({"mode": "replay", "host": {"hostname": "b"}, "findings": [{"id": "x"}], "checks": [], "path": ["n"], "answers": {}});
        assert!(differences(&a, &b).is_empty());
    }

    #[test]
    fn other_findings_are_a_different_diagnosis() {
        let a = json!({"findings": [{"id": "x"}], "path": ["n"]});
        let b = json!({"findings": [{"id": "y"}], "path": ["n"]});
        assert_eq!(differences(&a, &b), ["findings"]);
    }

    #[test]
    fn the_replayed_report_is_redacted_before_comparing() {
        let a = json!({"findings": [{"evidence": ["Cookie: [redacted]"]}]});
        let b = json!({"findings": [{"evidence": ["Cookie: sid=1"]}]});
        assert!(differences(&a, &b).is_empty());
    }
}
