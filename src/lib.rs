//! nginx-doctor: an expert system that takes an administrator from
//! "502 Bad Gateway" to the root cause and a safe fix.
//!
//! Data flows one way: the rule pack ([`rules`]) is loaded and proven sound;
//! the [`engine`] walks its decision tree, asking a [`probe::Prober`] to look
//! at the host (commands through a bounded runner, or [`probe::builtin`] probes that
//! read /proc, logs and configs) and a [`guide::Guide`] to talk to a person;
//! what it found becomes a [`report`]. Knowledge about nginx lives in the
//! YAML rules, not here.

pub mod bundle;
pub mod cli;
pub mod config_command;
pub mod engine;
pub mod exit;
pub mod explain;
pub mod expr;
pub mod guide;
pub mod host;
pub mod inputs;
pub(crate) mod interrupt;
pub mod logs;
pub mod nginx;
pub mod plural;
pub mod probe;
pub mod recheck;
pub mod report;
pub mod rules;
pub mod sanitize;
pub mod scan;
pub mod session;
pub mod shell;
pub mod template;
pub mod value;
pub mod walk;

mod diagnose;
mod rules_command;

use std::io::Write;

use cli::{Cli, ColorChoice, Command};
pub use exit::ExitStatus;

/// Runs the command line; every outcome is an exit status.
pub fn run(cli: Cli) -> ExitStatus {
    interrupt::install();
    set_color(cli.diagnose.color);
    let status = match cli.command {
        Some(Command::Rules(cmd)) => rules_command::run(cmd, cli.diagnose.rules.as_deref()),
        Some(Command::Explain(args)) => explain::run(&args, cli.diagnose.rules.as_deref()),
        Some(Command::Scan(args)) => scan::run(&args, cli.diagnose.rules.as_deref()),
        Some(Command::Config(args)) => config_command::run(&args),
        None => diagnose::run(&cli.diagnose),
    };
    // A run that printed nothing commits here: its status stands unless a
    // signal came first, and then this parks while the signal thread exits 130.
    interrupt::commit();
    status
}

fn set_color(choice: ColorChoice) {
    use std::io::IsTerminal;
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    };
    colored::control::set_override(on);
}

/// Writes to stdout, treating a closed pipe (`| head`) as a quiet success.
pub(crate) fn print_stdout(text: &str) -> std::io::Result<()> {
    interrupt::commit();
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Prints an error the one way every error is printed.
pub(crate) fn print_error(message: &str) {
    use colored::Colorize;
    let _ = writeln!(std::io::stderr(), "{} {message}", "error:".red().bold());
}
