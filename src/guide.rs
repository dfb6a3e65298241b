//! Guided mode: the seam between the engine and a person.
//!
//! The engine calls a [`Guide`] before and after each probe, for each
//! question and at each conclusion. [`terminal::Terminal`] talks to a person
//! with inquire prompts; [`scripted::Scripted`] replays answers for tests.
//! `--auto` has no guide at all, which is how it never asks anything, and
//! so never offers a fix: a fix runs only on a person's yes at
//! [`Guide::offer_fix`], through the engine's [`fixer::Fixer`].

pub mod fixer;
pub mod scripted;
pub mod terminal;

use crate::probe::Observation;
use crate::rules::Input;
use crate::value::Value;
use crate::walk::{Finding, FixRecord, FixText, StepText};

/// The user quit (Ctrl-C or Esc); the run ends with exit status 130.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// What the engine is about to run, and why.
#[derive(Debug)]
pub struct CheckIntro<'a> {
    pub node: &'a str,
    pub why: Option<String>,
    /// The exact command (or the built-in and its parameters).
    pub command: String,
    pub can_go_back: bool,
}

/// What the user decided before a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Run,
    Skip,
    Back,
}

/// A question from the rules.
#[derive(Debug)]
pub struct Question<'a> {
    pub node: &'a str,
    pub text: String,
    pub help: Option<&'a str>,
    pub input: Input,
    pub choices: &'a [String],
    /// What `--auto` would answer; offered as the default.
    pub suggested: Value,
    pub can_go_back: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Value(Value),
    Back,
}

/// A person (or a script standing in for one) stepping through a diagnosis.
pub trait Guide {
    fn before_check(&mut self, intro: &CheckIntro) -> Result<Choice, Interrupted>;
    /// `found` is the rule's plain-words reading of the result, when it has one.
    fn after_check(
        &mut self,
        observation: &Observation,
        found: Option<&str>,
    ) -> Result<(), Interrupted>;
    fn ask(&mut self, question: &Question) -> Result<Answer, Interrupted>;
    /// A conclusion: what is wrong and the evidence. Its fix follows, one
    /// [`Guide::offer_fix`] a step, then [`Guide::fix_offered`].
    fn concluded(&mut self, finding: &Finding) -> Result<(), Interrupted>;
    /// Shows one step of the fix; `true` when the person wants its command
    /// run now (the engine then runs it and calls [`Guide::fix_ran`]).
    fn offer_fix(&mut self, step: &StepText) -> Result<bool, Interrupted> {
        let _ = step;
        Ok(false)
    }
    /// What an accepted fix command did.
    fn fix_ran(&mut self, record: &FixRecord) -> Result<(), Interrupted> {
        let _ = record;
        Ok(())
    }
    /// Every step was shown: how to see that the fix worked.
    fn fix_offered(&mut self, fix: &FixText) -> Result<(), Interrupted> {
        let _ = fix;
        Ok(())
    }
    /// After a diagnosis with a fault: whether to walk the host again now
    /// (the person made the fix); `again` after a first check, `unchanged`
    /// when that check found nothing changed.
    fn offer_recheck(&mut self, again: bool, unchanged: bool) -> bool {
        let _ = (again, unchanged);
        false
    }
    /// What a walk after the fix found.
    fn show_recheck(&mut self, check: &crate::recheck::Recheck) {
        let _ = check;
    }
    /// At the end, once the report is printed: where to keep a copy, if
    /// the person wants one.
    fn save_report(&mut self) -> Option<std::path::PathBuf> {
        None
    }
    /// A part of the walk begins: item `index` of `count` (one failing
    /// upstream of several), with a title saying which.
    fn section(&mut self, title: &str, index: usize, count: usize) -> Result<(), Interrupted> {
        let _ = (title, index, count);
        Ok(())
    }
}
