//! Guided mode on a terminal: inquire prompts, plain words, colour.
//!
//! Every step can go back one step, and Esc or Ctrl-C at a step or a
//! question ends the walk (exit 130). At a fix offer Esc means "no": the
//! diagnosis is made by then, and quitting would lose its report. Host text
//! (command output, log lines) is already sanitised by the engine; this
//! module only adds our own styling.

use std::io::{self, Write};
use std::path::PathBuf;

use colored::Colorize;
use inquire::{Confirm, InquireError, Select, Text};

use super::{Answer, CheckIntro, Choice, Guide, Interrupted, Question};
use crate::probe::{Observation, ProbeStatus};
use crate::recheck::Recheck;
use crate::rules::Input;
use crate::rules::build::mutating::only_looks;
use crate::sanitize;
use crate::shell::words as shell_words;
use crate::value::Value;
use crate::walk::{Finding, FixRecord, FixResult, FixText, StepText, exit_note};

const RUN: &str = "Run this check";
const SKIP: &str = "Skip it";
const BACK: &str = "Go back one step";
const TEXT_BACK: &str = "..";

/// Talks to a person on stderr; the report goes to stdout at the end.
#[derive(Debug, Default)]
pub struct Terminal {
    step: usize,
    /// An edit of the fix on show is not made yet: the commands after it
    /// are shown, not offered.
    edit_pending: bool,
}

fn quit(e: InquireError) -> Interrupted {
    // Esc, Ctrl-C and a vanished terminal all end the walk the same way.
    let _ = e;
    Interrupted
}

fn say(text: &str) {
    let _ = writeln!(io::stderr(), "{text}");
}

impl Guide for Terminal {
    fn before_check(&mut self, intro: &CheckIntro) -> Result<Choice, Interrupted> {
        self.step += 1;
        say("");
        say(&format!(
            "{} {}",
            format!("Step {}:", self.step).bold(),
            intro.node.bold()
        ));
        if let Some(why) = &intro.why {
            say(&format!("  {why}"));
        }
        say(&format!(
            "  {} {}",
            "command:".dimmed(),
            intro.command.cyan()
        ));
        let mut options = vec![RUN, SKIP];
        if intro.can_go_back {
            options.push(BACK);
        }
        let picked = Select::new("What now?", options)
            .with_help_message("↑↓ to move, Enter to choose, Esc to quit")
            .prompt()
            .map_err(quit)?;
        Ok(match picked {
            RUN => Choice::Run,
            SKIP => Choice::Skip,
            _ => {
                self.stepped_back();
                Choice::Back
            }
        })
    }

    fn after_check(&mut self, obs: &Observation, found: Option<&str>) -> Result<(), Interrupted> {
        let status = match obs.status {
            ProbeStatus::Ok => "ok".green(),
            ProbeStatus::Failed => format!("exited {}", obs.exit.unwrap_or(-1)).yellow(),
            other => other.as_str().yellow(),
        };
        say(&format!(
            "  {} {status} ({} ms)",
            "result:".dimmed(),
            obs.duration.as_millis()
        ));
        if let Some(reason) = &obs.reason {
            say(&format!("  {reason}"));
        }
        match found {
            Some(f) => say(&format!("  {} {f}", "found:".bold())),
            None => {
                let text = sanitize::for_terminal(obs.stdout.as_bytes());
                for line in text.lines().take(5) {
                    say(&format!("  | {line}"));
                }
            }
        }
        Ok(())
    }

    fn section(&mut self, title: &str, index: usize, count: usize) -> Result<(), Interrupted> {
        say("");
        let which = if count > 1 {
            format!("{index} of {count}: ")
        } else {
            String::new()
        };
        say(&format!(
            "{}",
            format!("━━ {which}{title}").bold().underline()
        ));
        Ok(())
    }

    fn ask(&mut self, q: &Question) -> Result<Answer, Interrupted> {
        self.step += 1;
        say("");
        say(&format!(
            "{} {}",
            format!("Step {}:", self.step).bold(),
            q.node.bold()
        ));
        let help = q.help.unwrap_or("Esc to quit");
        match q.input {
            Input::Confirm | Input::Select => self.select(q, help),
            Input::Text => {
                let default = if q.suggested.is_null() {
                    String::new()
                } else {
                    q.suggested.to_string()
                };
                let help = format!("{help}; type {TEXT_BACK} to go back");
                let text = Text::new(&q.text)
                    .with_default(&default)
                    .with_help_message(&help)
                    .prompt()
                    .map_err(quit)?;
                if text.trim() == TEXT_BACK && q.can_go_back {
                    self.stepped_back();
                    return Ok(Answer::Back);
                }
                Ok(Answer::Value(Value::text(text)))
            }
        }
    }

    fn concluded(&mut self, f: &Finding) -> Result<(), Interrupted> {
        say("");
        say(&format!(
            "{} {} ({})",
            "Diagnosis:".red().bold(),
            f.title.bold(),
            f.id
        ));
        if !f.explanation.is_empty() {
            say(&format!("  {}", f.explanation.trim()));
        }
        for e in &f.evidence {
            let mut lines = e.lines();
            let first = lines.next().unwrap_or_default();
            say(&format!("  {} {first}", "evidence:".dimmed()));
            for more in lines {
                say(&format!("            {more}"));
            }
        }
        self.edit_pending = false;
        Ok(())
    }

    fn offer_fix(&mut self, step: &StepText) -> Result<bool, Interrupted> {
        say(&format!("  {} {}", "fix:".green(), step.text));
        if let Some(place) = step.place() {
            say(&format!("    {place}"));
        }
        for line in step.snippet.iter().flat_map(|s| s.lines()) {
            say(&format!("      {line}"));
        }
        if step.file.is_some() || step.snippet.is_some() {
            self.edit_pending = !confirm_edit()?;
        }
        match &step.command {
            // A command that depends on an edit (a reload after a change)
            // is offered only once the person says the edit is made.
            Some(argv) if self.edit_pending => {
                say(&format!(
                    "    {} {}",
                    shell_words(argv).cyan(),
                    "(run it once the change above is made)".dimmed()
                ));
                Ok(false)
            }
            Some(argv) => offer_to_run(argv),
            None => Ok(false),
        }
    }

    fn fix_ran(&mut self, record: &FixRecord) -> Result<(), Interrupted> {
        let verdict = match record.result {
            FixResult::Done => record.outcome.green(),
            _ => record.outcome.red(),
        };
        say(&format!("    {verdict}"));
        for line in record.excerpt.lines().take(10) {
            say(&format!("    | {line}"));
        }
        Ok(())
    }

    fn fix_offered(&mut self, fix: &FixText) -> Result<(), Interrupted> {
        for (i, v) in fix.verify.iter().enumerate() {
            say(&format!("  {} {v}", "verify:".dimmed()));
            let exit = fix.verify_exit.get(i).map_or(&[0][..], Vec::as_slice);
            if let Some(note) = exit_note(exit) {
                say(&format!("    {}", note.dimmed()));
            }
        }
        Ok(())
    }

    /// After the diagnosis: asks whether to check the host again, once the
    /// person has made the fix. Esc or Ctrl-C means "finish": the report is
    /// still to come.
    /// After a check that found nothing changed, Enter means "finish", so a
    /// person pressing Enter through the prompts is not held in a loop.
    fn offer_recheck(&mut self, again: bool, unchanged: bool) -> bool {
        const NOW: &str = "Check again now";
        let question = if again {
            "Check again?"
        } else {
            "Once the fix is made, check whether it still fails?"
        };
        let picked = Select::new(question, vec![NOW, "Finish and show the report"])
            .with_starting_cursor(usize::from(unchanged))
            .with_help_message(
                "Checking again changes nothing: it repeats the diagnosis without questions.",
            )
            .prompt();
        matches!(picked, Ok(NOW))
    }

    /// What a check after the fix found.
    fn show_recheck(&mut self, check: &Recheck) {
        say("");
        say(&format!("{}", check.heading().bold()));
        for item in check.items() {
            say(&format!("  {item}"));
        }
        let verdict = check.verdict();
        say(&format!(
            "{}",
            if check.gone {
                verdict.green().bold()
            } else {
                verdict.yellow().bold()
            }
        ));
    }

    /// Asks whether to keep the report; the path is made absolute so the
    /// message says exactly where it went. Esc or Ctrl-C means no.
    fn save_report(&mut self) -> Option<PathBuf> {
        let save = Confirm::new("Save this report to a file?")
            .with_default(false)
            .prompt()
            .ok()?;
        if !save {
            return None;
        }
        let name = Text::new("File name:")
            .with_default("nginx-doctor-report.md")
            .with_help_message("ends in .md for Markdown, .json for JSON, anything else for text")
            .prompt()
            .ok()?;
        std::path::absolute(name.trim()).ok()
    }
}

impl Terminal {
    /// The step before this one is shown again, under its own number.
    fn stepped_back(&mut self) {
        self.step = self.step.saturating_sub(2);
    }

    fn select(&mut self, q: &Question, help: &str) -> Result<Answer, Interrupted> {
        let mut options: Vec<String> = if q.input == Input::Confirm {
            vec!["yes".into(), "no".into()]
        } else {
            q.choices.to_vec()
        };
        let suggested = match &q.suggested {
            Value::Bool(b) => Some(if *b {
                "yes".to_owned()
            } else {
                "no".to_owned()
            }),
            Value::Null => None,
            v => Some(v.to_string()),
        };
        let start = suggested
            .and_then(|s| options.iter().position(|o| *o == s))
            .unwrap_or(0);
        if q.can_go_back {
            options.push(BACK.into());
        }
        let picked = Select::new(&q.text, options)
            .with_starting_cursor(start)
            .with_help_message(help)
            .prompt()
            .map_err(quit)?;
        Ok(match picked.as_str() {
            BACK => {
                self.stepped_back();
                Answer::Back
            }
            "yes" if q.input == Input::Confirm => Answer::Value(Value::Bool(true)),
            "no" if q.input == Input::Confirm => Answer::Value(Value::Bool(false)),
            other => Answer::Value(Value::Str(other.to_owned())),
        })
    }
}

/// Asks whether the edit just shown is made; Esc or Enter means not yet.
fn confirm_edit() -> Result<bool, Interrupted> {
    let answer = Confirm::new("Have you made this change?")
        .with_default(false)
        .with_help_message("Commands that need it are offered only after it is made.")
        .prompt();
    declined_or(answer)
}

/// The answer to a yes/no at a fix: Esc declines this one step rather than
/// discarding the diagnosis, whose report is still to come.
fn declined_or(answer: Result<bool, InquireError>) -> Result<bool, Interrupted> {
    match answer {
        Ok(yes) => Ok(yes),
        Err(InquireError::OperationCanceled) => Ok(false),
        Err(e) => Err(quit(e)),
    }
}

/// Shows a fix command and asks whether to run it; only an explicit yes
/// runs it (the engine does, and records it).
fn offer_to_run(argv: &[String]) -> Result<bool, Interrupted> {
    let shown = shell_words(argv);
    say(&format!("    {}", shown.cyan()));
    let help = if only_looks(argv) {
        "Read-only: it changes nothing. No runs nothing; you can run it yourself later."
    } else {
        "This changes the host. No runs nothing; you can run it yourself later."
    };
    let answer = Confirm::new(&format!("Run `{shown}` now?"))
        .with_default(false)
        .with_help_message(help)
        .prompt();
    declined_or(answer)
}
