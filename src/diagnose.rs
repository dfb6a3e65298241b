//! The default command: diagnose this host, guided or `--auto`.

use std::io::IsTerminal;

use crate::builtin::{Host, HostOptions};
use crate::cli::DiagnoseArgs;
use crate::engine::Engine;
use crate::guide::terminal::Terminal;
use crate::guide::{Guide, Interrupted};
use crate::probe::command;
use crate::probe::system::SystemProber;
use crate::report::{HostInfo, Report, RulesInfo};
use crate::value::Facts;
use crate::{ExitStatus, print_error, print_stdout, rules_command};

pub fn run(args: &DiagnoseArgs) -> ExitStatus {
    let rules = match rules_command::load(args.rules.as_deref()) {
        Ok(r) => r,
        Err(status) => return status,
    };
    let options = match HostOptions::from_args(args) {
        Ok(o) => o,
        Err(message) => {
            print_error(&message);
            return ExitStatus::Usage;
        }
    };
    let host = Host::new(options);
    let info = host.info();
    let context = context_facts(&host, args);
    let guided = !args.auto && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut prober = SystemProber { host };
    let mut terminal = Terminal::default();
    let guide: Option<&mut dyn Guide> = if guided { Some(&mut terminal) } else { None };
    let walk = match Engine::new(&rules, &mut prober, guide, context).run() {
        Ok(w) => w,
        Err(Interrupted) => {
            command::kill_running();
            eprintln!("\ninterrupted; nothing was changed");
            return ExitStatus::Interrupted;
        }
    };
    let rules_info = RulesInfo {
        name: rules.name.clone(),
        source: rules.source.clone(),
    };
    let report = Report::new(
        walk,
        if guided { "guided" } else { "auto" },
        rules_info,
        info,
    );
    deliver(&report, args, guided)
}

fn context_facts(host: &Host, args: &DiagnoseArgs) -> Facts {
    let mut facts = Facts::new();
    facts.set("host.root", host.root);
    facts.set("host.systemd", host.systemd);
    facts.set("opts.url", args.url.clone());
    facts.set("opts.since", args.since.clone());
    facts
}

/// Prints the report, writes `--output`, and picks the exit status. A file
/// that cannot be written does not lose the report: it is still printed.
fn deliver(report: &Report, args: &DiagnoseArgs, guided: bool) -> ExitStatus {
    let text = report.render(args.format);
    let mut status = match (report.has_fault(), &report.stopped) {
        (true, _) => ExitStatus::Faults,
        (false, Some(_)) => ExitStatus::CouldNotRun,
        (false, None) => ExitStatus::Healthy,
    };
    if let Err(e) = print_stdout(&text) {
        print_error(&format!("cannot write the report to stdout: {e}"));
        status = ExitStatus::CouldNotRun;
    }
    let mut target = args.output.clone();
    if guided && target.is_none() {
        target = offer_to_save();
    }
    if let Some(path) = target {
        // The file gets the plain report: colour codes belong to terminals.
        colored::control::set_override(false);
        let plain = report.render(args.format);
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

fn offer_to_save() -> Option<std::path::PathBuf> {
    let save = inquire::Confirm::new("Save this report to a file?")
        .with_default(false)
        .prompt()
        .ok()?;
    if !save {
        return None;
    }
    let path = inquire::Text::new("File name:")
        .with_default("nginx-doctor-report.md")
        .prompt()
        .ok()?;
    Some(path.into())
}

impl Host {
    /// What the report says about the machine it ran on.
    pub fn info(&self) -> HostInfo {
        HostInfo {
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_default(),
            euid: nix::unistd::geteuid().as_raw(),
            root: self.root,
            systemd: self.systemd,
        }
    }
}
