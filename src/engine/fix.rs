//! Fixes in guided mode: each step of a finding's fix is offered to the
//! person, and a command they accept runs through the engine's
//! [`crate::guide::fixer::Fixer`] and is recorded in the walk. The record is
//! kept even if the person later goes back: the host was changed.

use super::Engine;
use crate::guide::Interrupted;
use crate::guide::fixer::FixRun;
use crate::shell;
use crate::walk::{Finding, FixRecord, FixResult, StepText};

impl Engine<'_> {
    /// Offers every step of `finding`'s fix, runs what is accepted, and
    /// then lets the guide say how to verify it.
    pub(super) fn offer_fixes(&mut self, finding: &Finding) -> Result<(), Interrupted> {
        let Some(guide) = self.guide.as_deref_mut() else {
            return Ok(());
        };
        for step in &finding.fix.steps {
            if !guide.offer_fix(step)? {
                continue;
            }
            let (Some(argv), Some(fixer)) = (&step.command, self.fixer.as_deref_mut()) else {
                continue;
            };
            let record = record(finding, step, argv, fixer.run(argv));
            guide.fix_ran(&record)?;
            self.walk.fixes.push(record);
        }
        guide.fix_offered(&finding.fix)
    }
}

/// The walk's record of `argv`, a command of `step`, run as `run` says.
fn record(finding: &Finding, step: &StepText, argv: &[String], run: FixRun) -> FixRecord {
    let (result, outcome) = match run.exit {
        _ if !run.started => (FixResult::NotRun, run.outcome),
        Some(0) => (FixResult::Done, run.outcome),
        // The runner says "failed" for any status but 0; the step knows
        // better (a grep that found nothing), and the record says so.
        Some(code) if step.success().contains(&code) => (
            FixResult::Done,
            format!("done (exit status {code}, which means it worked)"),
        ),
        _ => (FixResult::Failed, run.outcome),
    };
    FixRecord {
        finding: finding.id.clone(),
        upstream: finding.upstream.clone(),
        step: step.text.clone(),
        argv: argv.to_vec(),
        shown_as: shell::words(argv),
        at: run.at,
        result,
        exit: run.exit,
        outcome,
        duration_ms: run.duration_ms,
        excerpt: run.excerpt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;
    use crate::guide::fixer::ScriptedFixer;
    use crate::guide::scripted::{Reply, Scripted};
    use crate::probe::Recorded;
    use crate::report::{Format, HostInfo, Report, RulesInfo};
    use crate::rules::RuleSet;
    use crate::rules::build::build;
    use crate::value::Facts;
    use crate::walk::Walk;

    const PACK: &str = r#"
pack: { name: test, start: down }
probes: {}
nodes:
  down:
    conclude: backend-down
    confidence: high
    title: nothing listens
    fix:
      summary: Start it.
      steps:
        - say: Edit the pool.
        - say: Start the backend.
          run: [start-backend, --now]
        - say: Look for it.
          run: [grep, -rn, backend, /etc]
          exit: [0, 1]
"#;

    fn pack() -> RuleSet {
        build("test", vec![("pack.yaml".into(), PACK.as_bytes().to_vec())])
            .unwrap_or_else(|p| panic!("{p}"))
    }

    /// A guided walk of the pack with `replies`, fixes run by `fixer`.
    fn walk(replies: Vec<Reply>, fixer: &mut ScriptedFixer) -> Walk {
        let rules = pack();
        let mut prober = Recorded::default();
        let mut guide = Scripted::new(replies);
        Engine::new(&rules, &mut prober, Some(&mut guide), Facts::new())
            .with_fixer(fixer)
            .run()
            .expect("the script never quits")
    }

    fn report(walk: Walk, format: Format) -> String {
        colored::control::set_override(false);
        let rules = RulesInfo {
            name: "test".into(),
            source: "test".into(),
        };
        let host = HostInfo {
            hostname: "h".into(),
            euid: 0,
            root: true,
            systemd: false,
        };
        Report::new(walk, "guided", rules, host).render(format)
    }

    #[test]
    fn an_accepted_fix_runs_once_and_is_recorded_in_the_walk() {
        let mut fixer = ScriptedFixer::default();
        let walk = walk(vec![Reply::Fix(true), Reply::Fix(false)], &mut fixer);

        assert_eq!(fixer.ran, [["start-backend", "--now"]]);
        let [fix] = walk.fixes.as_slice() else {
            panic!("one fix recorded: {:?}", walk.fixes)
        };
        assert_eq!(fix.finding, "backend-down");
        assert_eq!(fix.step, "Start the backend.");
        assert_eq!(fix.shown_as, "start-backend --now");
        assert_eq!(fix.result, FixResult::Done);
    }

    #[test]
    fn a_declined_fix_runs_nothing_and_records_nothing() {
        let mut fixer = ScriptedFixer::default();
        let walk = walk(vec![Reply::Fix(false), Reply::Fix(false)], &mut fixer);

        assert!(fixer.ran.is_empty());
        assert!(walk.fixes.is_empty());
        let json = report(walk, Format::Json);
        assert!(!json.contains("\"fixes\""), "{json}");
    }

    #[test]
    fn an_exit_status_the_step_counts_as_success_is_done_and_another_failed() {
        let mut fixer = ScriptedFixer::default();
        fixer.answer.exit = Some(1);
        fixer.answer.outcome = "failed with exit status 1".into();
        let walk = walk(vec![Reply::Fix(true), Reply::Fix(true)], &mut fixer);

        let results: Vec<_> = walk.fixes.iter().map(|f| f.result).collect();
        assert_eq!(results, [FixResult::Failed, FixResult::Done]);
    }

    #[test]
    fn a_success_status_other_than_0_is_said_as_success_not_as_failure() {
        let mut fixer = ScriptedFixer::default();
        fixer.answer.exit = Some(1);
        fixer.answer.outcome = "failed with exit status 1".into();
        let walk = walk(vec![Reply::Fix(true), Reply::Fix(true)], &mut fixer);

        let outcomes: Vec<_> = walk.fixes.iter().map(|f| f.outcome.as_str()).collect();
        assert_eq!(
            outcomes,
            [
                "failed with exit status 1",
                "done (exit status 1, which means it worked)"
            ]
        );
    }

    #[test]
    fn auto_offers_no_fix() {
        let rules = pack();
        let mut prober = Recorded::default();
        let mut fixer = ScriptedFixer::default();
        let walk = Engine::new(&rules, &mut prober, None, Facts::new())
            .with_fixer(&mut fixer)
            .run()
            .expect("auto never asks");

        assert!(fixer.ran.is_empty());
        assert!(walk.fixes.is_empty());
    }

    #[test]
    fn every_report_shows_what_was_run_after_the_findings() {
        let mut fixer = ScriptedFixer::default();
        fixer.answer.excerpt = "started".into();
        let ran = || walk(vec![Reply::Fix(true)], &mut fixer.clone());

        let text = report(ran(), Format::Text);
        let at = text
            .find("What was run")
            .expect("a section in the text report");
        assert!(
            at > text.find("nothing listens").expect("the finding"),
            "{text}"
        );
        assert!(text.contains("  $ start-backend --now\n    fix for backend-down, started 2026-01-01T00:00:00Z: done (exit status 0)\n    | started\n"), "{text}");

        let markdown = report(ran(), Format::Markdown);
        assert!(
            markdown.contains("## What was run\n\n```sh\nstart-backend --now\n```\n"),
            "{markdown}"
        );

        let json: serde_json::Value =
            serde_json::from_str(&report(ran(), Format::Json)).expect("JSON");
        assert_eq!(json["fixes"][0]["argv"][0], "start-backend");
        assert_eq!(json["fixes"][0]["result"], "done");
        assert_eq!(json["fixes"][0]["exit"], 0);
    }
}
