//! Guided mode: the seam between the engine and a person.
//!
//! The engine calls a [`Guide`] before and after each probe, for each
//! question and at each conclusion. [`terminal::Terminal`] talks to a person
//! with inquire prompts; [`scripted::Scripted`] replays answers for tests.
//! `--auto` has no guide at all, which is how it never asks anything.

pub mod scripted;
pub mod terminal;

use crate::probe::Observation;
use crate::rules::Input;
use crate::value::Value;
use crate::walk::Finding;

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
    fn concluded(&mut self, finding: &Finding) -> Result<(), Interrupted>;
    /// A part of the walk begins: item `index` of `count` (one failing
    /// upstream of several), with a title saying which.
    fn section(&mut self, title: &str, index: usize, count: usize) -> Result<(), Interrupted> {
        let _ = (title, index, count);
        Ok(())
    }
}
