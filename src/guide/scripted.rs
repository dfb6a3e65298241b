//! A guide that answers from a script: the unit tests' stand-in for a person.

use std::collections::VecDeque;

use super::{Answer, CheckIntro, Choice, Guide, Interrupted, Question};
use crate::probe::Observation;
use crate::walk::{Finding, StepText};

/// One scripted reply, consumed in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Choice(Choice),
    Answer(Answer),
    /// The user presses Ctrl-C at this prompt.
    Quit,
    /// Yes or no to running the next fix step that has a command; a step
    /// with no such reply next in the script is declined.
    Fix(bool),
}

/// Replays replies; once they run out every check runs and every question
/// takes its suggested answer.
#[derive(Debug, Default)]
pub struct Scripted {
    pub replies: VecDeque<Reply>,
    /// Every prompt shown, as "check NODE" or "ask NODE", for assertions.
    pub shown: Vec<String>,
    pub findings: Vec<String>,
}

impl Scripted {
    pub fn new(replies: impl IntoIterator<Item = Reply>) -> Self {
        Scripted {
            replies: replies.into_iter().collect(),
            ..Scripted::default()
        }
    }
}

impl Guide for Scripted {
    fn before_check(&mut self, intro: &CheckIntro) -> Result<Choice, Interrupted> {
        self.shown.push(format!("check {}", intro.node));
        match self.replies.pop_front() {
            None => Ok(Choice::Run),
            Some(Reply::Choice(c)) => Ok(c),
            Some(Reply::Quit) => Err(Interrupted),
            Some(other) => panic!("script expected a choice at {}, has {other:?}", intro.node),
        }
    }

    fn after_check(&mut self, _: &Observation, _: Option<&str>) -> Result<(), Interrupted> {
        Ok(())
    }

    fn ask(&mut self, q: &Question) -> Result<Answer, Interrupted> {
        self.shown.push(format!("ask {}", q.node));
        match self.replies.pop_front() {
            None => Ok(Answer::Value(q.suggested.clone())),
            Some(Reply::Answer(a)) => Ok(a),
            Some(Reply::Quit) => Err(Interrupted),
            Some(other) => panic!("script expected an answer at {}, has {other:?}", q.node),
        }
    }

    fn concluded(&mut self, finding: &Finding) -> Result<(), Interrupted> {
        self.findings.push(finding.id.clone());
        Ok(())
    }

    fn offer_fix(&mut self, step: &StepText) -> Result<bool, Interrupted> {
        if step.command.is_none() {
            return Ok(false);
        }
        match self.replies.front() {
            Some(Reply::Fix(yes)) => {
                let yes = *yes;
                self.replies.pop_front();
                Ok(yes)
            }
            _ => Ok(false),
        }
    }

    fn section(&mut self, title: &str, index: usize, count: usize) -> Result<(), Interrupted> {
        self.shown.push(format!("section {index}/{count} {title}"));
        Ok(())
    }
}
