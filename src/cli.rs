//! The command line: flags and subcommands, parsed by clap.
//!
//! Only parsing lives here; [`crate::run`] decides what to do with it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::Format;
use crate::rules::graph::GraphFormat;
use crate::session::Request;

const EXIT_CODES: &str = "\
Exit status:
  0    no fault found
  1    one or more faults diagnosed
  2    usage error, or the rule pack is invalid
  3    the diagnosis could not run (e.g. the report could not be written)
  130  interrupted (Ctrl-C or Esc in guided mode)";

const EXPLAIN_EXIT: &str = "\
Takes a line as nginx writes it, with a log shipper's prefix (docker
compose, kubectl, journald, syslog), without its timestamp or prefix, the
message alone, cut short, wrapped by a terminal or with smart quotes; the
output says what the pasted text does not say. [emerg] lines of nginx -t, a
reload or a start are explained too.

Exit status:
  0  the input held an nginx error-log line and it was explained
     (also when it is no upstream failure: the output says so)
  2  no nginx error-log line in the input, or the rule pack is invalid
  3  the input could not be read or the output not written
Reads at most 1 MiB; explains up to 50 entries (a FastCGI stderr message
spanning lines is one entry).";

/// Takes you from "502 Bad Gateway" to the root cause and a safe fix.
///
/// On a terminal it guides you step by step; with --auto (or without a
/// terminal) it runs every check it can without asking and prints a report.
/// It changes nothing on the host unless you confirm a fix in guided mode.
#[derive(Debug, Parser)]
#[command(name = "nginx-doctor", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub diagnose: DiagnoseArgs,
}

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// Never ask: answer every question from what the probes found
    #[arg(long)]
    pub auto: bool,
    /// Report format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write the report to this file
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub nginx: NginxArgs,
    /// php-fpm's main configuration file, when it is not in a standard place
    /// (a stopped php-fpm is found through its configuration)
    #[arg(long = "fpm-conf", value_name = "PATH")]
    pub fpm_conf: Option<PathBuf>,
    /// The URL that fails, to request it on loopback
    #[arg(long)]
    pub url: Option<String>,
    /// How far back to read the logs: 15m, 2h, 1d or "2026-11-24 10:00"
    #[arg(long, default_value = "15m", value_name = "WHEN")]
    pub since: String,
    /// Total time the probes may take (90s, 2m); later probes are reported as not run
    #[arg(long, default_value = "60s", value_name = "TIME")]
    pub budget: String,
    /// Write a bundle of this run (every probe's output, files read, answers, the report) to DIR
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// Diagnose from a recorded bundle (a directory or .tar.gz) instead of this host
    #[arg(long, value_name = "BUNDLE", conflicts_with = "record")]
    pub replay: Option<PathBuf>,
    /// Use the rule pack in DIR instead of the embedded one
    #[arg(long, value_name = "DIR", global = true)]
    pub rules: Option<PathBuf>,
    /// When to colour the output
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

impl DiagnoseArgs {
    /// The flags a diagnosis session is started from.
    pub fn request(&self) -> Request<'_> {
        Request {
            fpm_conf: self.fpm_conf.as_deref(),
            url: self.url.as_deref(),
            since: &self.since,
            budget: &self.budget,
            ..self.nginx.request()
        }
    }
}

/// `--conf`, declared once for every command that finds nginx.
#[derive(Debug, Args)]
pub struct ConfArg {
    /// nginx's main configuration file (default: the running master's -c)
    #[arg(long, value_name = "PATH")]
    pub conf: Option<PathBuf>,
}

/// `--conf` and `--error-log`, declared once for every command that reads
/// nginx's error logs.
#[derive(Debug, Args)]
pub struct NginxArgs {
    #[command(flatten)]
    pub conf: ConfArg,
    /// An nginx error log to read (default: those the configuration names)
    #[arg(long = "error-log", value_name = "PATH")]
    pub error_logs: Vec<PathBuf>,
}

impl NginxArgs {
    /// These flags, with the defaults of a session that only finds nginx.
    fn request(&self) -> Request<'_> {
        Request {
            error_logs: &self.error_logs,
            ..self.conf.request()
        }
    }
}

impl ConfArg {
    /// This flag, with the defaults of a session that only finds nginx:
    /// the window ends now, and `nginx -V` has the usual 60 s budget.
    fn request(&self) -> Request<'_> {
        Request {
            conf: self.conf.as_deref(),
            fpm_conf: None,
            error_logs: &[],
            url: None,
            since: "0s",
            budget: "60s",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect a rule pack
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Explain an nginx error-log line: what it means, the causes it can
    /// have, and the checks that tell them apart (reads stdin without LINE)
    #[command(after_help = EXPLAIN_EXIT)]
    Explain(ExplainArgs),
    /// Count upstream failures in error logs by signature, upstream and time
    Scan(ScanArgs),
    /// Print the model of nginx's configuration: servers, locations, pass
    /// targets, effective timeouts and buffers with the file:line of each
    Config(ConfigArgs),
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub conf: ConfArg,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The log line, quoted; read from standard input when absent
    pub line: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Error logs to read (default: those the running nginx's configuration names)
    pub logs: Vec<PathBuf>,
    /// How far back to count: 15m, 2h, 1d or "2026-11-24 10:00"
    #[arg(long, default_value = "1d", value_name = "WHEN")]
    pub since: String,
    #[command(flatten)]
    pub nginx: NginxArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

impl ConfigArgs {
    /// The flags a `config` session is started from.
    pub fn request(&self) -> Request<'_> {
        self.conf.request()
    }
}

impl ScanArgs {
    /// The flags a `scan` session is started from: its window, and 30 s
    /// for finding nginx's logs (`nginx -V`).
    pub fn request(&self) -> Request<'_> {
        Request {
            since: &self.since,
            budget: "30s",
            ..self.nginx.request()
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Prove a pack sound: syntax, references, reachability, cycles, facts
    Lint {
        /// The pack's directory (default: the embedded pack)
        dir: Option<PathBuf>,
    },
    /// List the pack's nodes, probes and the causes it can conclude
    List {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Draw the decision tree
    Graph {
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}
