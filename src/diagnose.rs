//! The default command: diagnose this host, guided or `--auto`; record the
//! run as a bundle (`--record DIR`), or diagnose a recorded bundle instead
//! of this host (`--replay BUNDLE`).

use std::io::IsTerminal;
use std::path::Path;

use crate::cli::DiagnoseArgs;
use crate::engine::{Engine, Walk};
use crate::guide::fixer::{Fixer, SystemFixer};
use crate::guide::terminal::Terminal;
use crate::guide::{Guide, Interrupted};
use crate::interrupt::groups::RUNNING;
use crate::logs::time::{Timestamp, local_utc_offset};
use crate::probe::system::SystemProber;
use crate::probe::{Observation, Prober};
use crate::recheck::Recheck;
use crate::report::{Format, Report, RulesInfo};
use crate::rules::RuleSet;
use crate::session::{Options, Session};
use crate::value::Facts;
use crate::walk::Finding;
use crate::{ExitStatus, interrupt, print_error, print_stdout, rules_command};

use crate::bundle::{
    self, Bundle, RecordingGuide, RecordingProber, ReplayFixer, ReplayGuide, Replayer,
};

pub fn run(args: &DiagnoseArgs) -> ExitStatus {
    let rules = match rules_command::load(args.rules.as_deref()) {
        Ok(r) => r,
        Err(status) => return status,
    };
    if let Some(path) = &args.replay {
        return replay(&rules, path, args);
    }
    let options = match Options::check(&args.request()) {
        Ok(o) => o,
        Err(e) => {
            print_error(&e.to_string());
            return e.status();
        }
    };
    let host = Session::new(options.clone()).with_signatures(rules.signatures.clone());
    let info = host.info();
    let context = context_facts(&host, args);
    let guided = !args.auto && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut prober = SystemProber { host };
    let mut terminal = Terminal::default();
    let guide: Option<&mut dyn Guide> = if guided { Some(&mut terminal) } else { None };
    let mut fixer = SystemFixer;
    let walked = if args.record.is_some() {
        walk_recording(&rules, &mut prober, guide, &mut fixer, context.clone())
    } else {
        Engine::new(&rules, &mut prober, guide, context.clone())
            .with_fixer(&mut fixer)
            .run()
            .map(|walk| (walk, Vec::new()))
    };
    let (walk, tape) = match walked {
        Ok(w) => w,
        Err(Interrupted) => {
            RUNNING.kill_all();
            eprintln!("\ninterrupted; {}", interrupt::what_changed());
            return ExitStatus::Interrupted;
        }
    };
    let mode = if guided { "guided" } else { "auto" };
    let recorded = args
        .record
        .as_ref()
        .map(|_| Bundle::of_walk(&walk, tape, mode, &info, &context));
    let mut report = Report::new(walk, mode, rules_info(&rules), info);
    if guided && report.has_fault() {
        match recheck(&rules, &options, &context, &report.findings, &mut terminal) {
            Ok(checks) => report.rechecks = checks,
            Err(Interrupted) => {
                RUNNING.kill_all();
                eprintln!("\ninterrupted; {}", interrupt::what_changed());
                return ExitStatus::Interrupted;
            }
        }
    }
    let saver: Option<&mut dyn Guide> = if guided { Some(&mut terminal) } else { None };
    let status = deliver(&report, args, saver);
    match (&args.record, recorded) {
        (Some(dir), Some(b)) => match write_bundle(dir, &b, &report) {
            Ok(()) => status,
            Err(()) => ExitStatus::CouldNotRun,
        },
        _ => status,
    }
}

/// Guided mode, after the diagnosis: while the person asks for it, walks the
/// host again without questions and says, upstream by upstream, whether the
/// faults found `before` are gone. Stops once nothing fails.
fn recheck(
    rules: &RuleSet,
    options: &Options,
    context: &Facts,
    before: &[Finding],
    guide: &mut dyn Guide,
) -> Result<Vec<Recheck>, Interrupted> {
    let mut checks: Vec<Recheck> = Vec::new();
    loop {
        let last = checks.last();
        if last.is_some_and(|c| c.gone)
            || !guide.offer_recheck(last.is_some(), last.is_some_and(Recheck::unchanged))
        {
            break;
        }
        let mut prober = SystemProber {
            host: Session::new(options.clone()).with_signatures(rules.signatures.clone()),
        };
        let after = Engine::new(rules, &mut prober, None, context.clone()).run()?;
        let at = Timestamp::now().clock(Timestamp::now(), local_utc_offset());
        let check = Recheck::compare(before, &after, at);
        guide.show_recheck(&check);
        checks.push(check);
    }
    Ok(checks)
}

/// Walks the host while keeping every observation the report's checks are
/// made from: through the person's guide in guided mode (which also sees
/// skipped checks and steps taken back), through the prober with `--auto`.
fn walk_recording(
    rules: &RuleSet,
    prober: &mut dyn Prober,
    guide: Option<&mut dyn Guide>,
    fixer: &mut dyn Fixer,
    context: Facts,
) -> Result<(Walk, Vec<Observation>), Interrupted> {
    match guide {
        Some(person) => {
            let mut recorder = RecordingGuide::new(person);
            let walk = Engine::new(rules, prober, Some(&mut recorder), context)
                .with_fixer(fixer)
                .run()?;
            Ok((walk, recorder.into_tape()))
        }
        None => {
            let mut recorder = RecordingProber::new(prober);
            let walk = Engine::new(rules, &mut recorder, None, context).run()?;
            Ok((walk, recorder.into_tape()))
        }
    }
}

/// Writes the bundle after the report was printed, so a bundle that cannot
/// be written never costs the user the report.
fn write_bundle(dir: &Path, b: &Bundle, report: &Report) -> Result<(), ()> {
    let written = serde_json::to_value(report)
        .map_err(|e| format!("cannot write the bundle to {}: {e}", dir.display()))
        .and_then(|json| bundle::save(dir, b, &json).map_err(|e| e.to_string()));
    match written {
        Ok(()) => {
            eprintln!("bundle written to {}", dir.display());
            Ok(())
        }
        Err(message) => {
            print_error(&format!("{message}; the report was printed above"));
            Err(())
        }
    }
}

/// Diagnoses a recorded bundle: the same engine and rules, but every probe
/// answered from the recording and every question as the user answered it.
fn replay(rules: &RuleSet, path: &Path, args: &DiagnoseArgs) -> ExitStatus {
    let loaded = match bundle::load(path) {
        Ok(l) => l,
        Err(e) => {
            print_error(&e.to_string());
            return ExitStatus::Usage;
        }
    };
    let recorded = &loaded.bundle;
    let mut prober = Replayer::new(&recorded.observations);
    let mut guide = ReplayGuide::new(rules, &recorded.answers).with_fixes(&recorded.fixes);
    let mut fixer = ReplayFixer::new(&recorded.fixes);
    let context = recorded.context_facts();
    let engine = Engine::new(rules, &mut prober, Some(&mut guide), context).with_fixer(&mut fixer);
    let walk = match engine.run() {
        Ok(w) => w,
        Err(Interrupted) => return ExitStatus::Interrupted,
    };
    let report = Report::new(walk, "replay", rules_info(rules), recorded.host.info());
    let status = deliver(&report, args, None);
    if let Some(before) = &loaded.report {
        compare(before, &report);
    }
    status
}

/// Tells whether the replay reproduced the recorded report.
fn compare(before: &serde_json::Value, report: &Report) {
    let Ok(now) = serde_json::to_value(report) else {
        return;
    };
    let differs = bundle::differences(before, &now);
    if differs.is_empty() {
        eprintln!("replay: the same diagnosis as the recorded report");
    } else {
        eprintln!(
            "replay: differs from the recorded report in {} (this rule pack reads the recorded evidence differently)",
            differs.join(", ")
        );
    }
}

fn rules_info(rules: &RuleSet) -> RulesInfo {
    RulesInfo {
        name: rules.name.clone(),
        source: rules.source.clone(),
    }
}

fn context_facts(host: &Session, args: &DiagnoseArgs) -> Facts {
    let mut facts = Facts::new();
    facts.set("host.root", host.root);
    facts.set("host.systemd", host.systemd);
    crate::host::tools::set_presence(&mut facts);
    facts.set("opts.url", args.url.clone());
    facts.set("opts.since", args.since.clone());
    facts
}

/// Prints the report, writes `--output` (or, in guided mode, where the
/// person asks to keep it), and picks the exit status. A file that cannot
/// be written does not lose the report: it is still printed.
fn deliver(report: &Report, args: &DiagnoseArgs, guide: Option<&mut dyn Guide>) -> ExitStatus {
    // Nothing reaches stdout, `--output` or the bundle of a run a signal
    // interrupted; from here on, a signal no longer discards this report.
    interrupt::commit();
    let text = report.render(args.format);
    // A fault checked again and found gone no longer fails the host.
    let fixed = report.rechecks.last().is_some_and(|c| c.gone);
    let mut status = match (report.has_fault() && !fixed, &report.stopped) {
        (true, _) => ExitStatus::Faults,
        (false, Some(_)) => ExitStatus::CouldNotRun,
        (false, None) => ExitStatus::Healthy,
    };
    if let Err(e) = print_stdout(&text) {
        print_error(&format!("cannot write the report to stdout: {e}"));
        status = ExitStatus::CouldNotRun;
    }
    let mut target = args.output.clone().map(|p| (p, args.format));
    // Offered only where the report went to the terminal: with stdout piped
    // (`| tee report.txt`) it is being kept already, and a prompt would
    // write over it on the terminal.
    if let Some(guide) = guide
        && target.is_none()
        && std::io::stdout().is_terminal()
    {
        target = guide.save_report().map(|path| {
            let format = format_for(&path);
            (path, format)
        });
    }
    if let Some((path, format)) = target {
        // The file gets the plain report: colour codes belong to terminals.
        colored::control::set_override(false);
        let plain = report.render(format);
        match std::fs::write(&path, plain) {
            Ok(()) => eprintln!("report written to {}", path.display()),
            Err(e) => {
                print_error(&format!(
                    "cannot write the report to {}: {e}; it was printed above",
                    path.display()
                ));
                status = ExitStatus::CouldNotRun;
            }
        }
    }
    status
}

/// The report format a file name asks for: `.md` Markdown, `.json` JSON,
/// anything else text.
fn format_for(path: &Path) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("md" | "markdown") => Format::Markdown,
        Some("json") => Format::Json,
        _ => Format::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_report_takes_the_format_its_name_asks_for() {
        assert_eq!(format_for(Path::new("/tmp/r.md")), Format::Markdown);
        assert_eq!(format_for(Path::new("/tmp/r.json")), Format::Json);
        assert_eq!(format_for(Path::new("/tmp/r.txt")), Format::Text);
        assert_eq!(format_for(Path::new("/tmp/report")), Format::Text);
    }
}
