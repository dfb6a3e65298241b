//! One walk of the engine, set up like a sentence: the pack, what each probe observes,
//! and the replies a person gives (none: `--auto`). Engine tests state only what differs
//! between them, and how the engine is built and run is written once here.
//!
//! ```ignore
//! let walked = Walker::new(pack())
//!     .observe("log", failing_log())
//!     .facts("sockets", &[("listening", false.into())])
//!     .answers([Reply::Choice(Choice::Run)])
//!     .walk();
//! assert_eq!(walked.ids(), ["backend-down"]);
//! ```

use std::time::Duration;

use nginx_doctor::engine::{Engine, Walk};
use nginx_doctor::guide::Interrupted;
use nginx_doctor::guide::scripted::{Reply, Scripted};
use nginx_doctor::probe::{Observation, ProbeStatus, Prober, Recorded};
use nginx_doctor::rules::RuleSet;
use nginx_doctor::rules::build::build;
use nginx_doctor::value::{Facts, Value};

/// Builds an inline pack (one file, `pack.yaml`); panics with its problems.
pub fn pack(yaml: &str) -> RuleSet {
    build("test", vec![("pack.yaml".into(), yaml.as_bytes().to_vec())])
        .unwrap_or_else(|p| panic!("{p}"))
}

/// A probe's result: its status, the facts it set and what it printed.
pub fn observation(status: ProbeStatus, facts: &[(&str, Value)], stdout: &str) -> Observation {
    Observation {
        status,
        exit: Some(0),
        stdout: stdout.into(),
        stderr: String::new(),
        duration: Duration::from_millis(3),
        facts: facts
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        shown_as: "test".into(),
        reason: None,
    }
}

/// A walk about to happen: the pack, the host (a prober) and the person (replies, or
/// none for `--auto`).
#[must_use]
pub struct Walker<P: Prober> {
    rules: RuleSet,
    prober: P,
    replies: Option<Vec<Reply>>,
}

impl Walker<Recorded> {
    /// A walk of `rules` on a host that answers each probe with what [`Walker::observe`]
    /// recorded for it (the same answer every time) and "not run" for any other.
    pub fn new(rules: RuleSet) -> Self {
        Walker::on(rules, Recorded::default())
    }

    /// Probe `probe` observes `observation`.
    pub fn observe(mut self, probe: &str, observation: Observation) -> Self {
        self.prober.observations.insert(probe.into(), observation);
        self
    }

    /// Probe `probe` succeeds and sets `facts`.
    pub fn facts(self, probe: &str, facts: &[(&str, Value)]) -> Self {
        self.observe(probe, observation(ProbeStatus::Ok, facts, ""))
    }

    /// Probe `probe` succeeds and prints `stdout` (for the pack's extractors).
    pub fn prints(self, probe: &str, stdout: &str) -> Self {
        self.observe(probe, observation(ProbeStatus::Ok, &[], stdout))
    }

    /// Probe `probe` runs and fails.
    pub fn fails(self, probe: &str) -> Self {
        self.observe(probe, observation(ProbeStatus::Failed, &[], ""))
    }
}

impl<P: Prober> Walker<P> {
    /// A walk of `rules` on a host of the test's own.
    pub fn on(rules: RuleSet, prober: P) -> Self {
        Walker {
            rules,
            prober,
            replies: None,
        }
    }

    /// Guided mode: the person gives these replies, in order (then ends each prompt
    /// with its default).
    pub fn answers(mut self, replies: impl IntoIterator<Item = Reply>) -> Self {
        self.replies = Some(replies.into_iter().collect());
        self
    }

    /// Walks to the end; panics when the person quit.
    pub fn walk(self) -> Walked<P> {
        let (result, prober, shown) = self.run();
        let walk = result.expect("the walk was interrupted: a reply quit");
        Walked {
            walk,
            prober,
            shown,
        }
    }

    /// Walks until the person quits; panics when the walk ended instead. The host, to
    /// see what it was asked.
    pub fn interrupted(self) -> P {
        let (result, prober, _) = self.run();
        assert!(
            matches!(result, Err(Interrupted)),
            "the walk was not interrupted"
        );
        prober
    }

    fn run(mut self) -> (Result<Walk, Interrupted>, P, Vec<String>) {
        let mut guide = self.replies.take().map(Scripted::new);
        let guide_ref = guide
            .as_mut()
            .map(|g| g as &mut dyn nginx_doctor::guide::Guide);
        let result = Engine::new(&self.rules, &mut self.prober, guide_ref, Facts::new()).run();
        let shown = guide.map(|g| g.shown).unwrap_or_default();
        (result, self.prober, shown)
    }
}

/// A finished walk, the host it asked, and the prompts the person saw.
pub struct Walked<P> {
    pub walk: Walk,
    pub prober: P,
    /// Every prompt shown ("check NODE", "ask NODE", "section …"); empty in `--auto`.
    pub shown: Vec<String>,
}

impl<P> Walked<P> {
    /// The finding ids, in report order.
    pub fn ids(&self) -> Vec<&str> {
        self.walk.findings.iter().map(|f| f.id.as_str()).collect()
    }
}
