//! What the built-in probes share: the user's overrides (`--conf`,
//! `--error-log`, `--since`), who we are, and what was already learned about
//! nginx so later probes do not parse the configuration again.

use crate::rules::signatures::SignatureBook;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::nginx_probe::NginxView;
use crate::cli::DiagnoseArgs;
use crate::exit::ExitStatus;
use crate::host::procs::{self, Process};
use crate::host::sockets::{self, Listener};
use crate::inputs::{self, InputError};
use crate::logs::Timestamp;

/// The user's overrides, checked.
#[derive(Debug, Clone)]
pub struct HostOptions {
    pub conf: Option<PathBuf>,
    /// `--fpm-conf`: a php-fpm configuration outside the standard places.
    pub fpm_conf: Option<PathBuf>,
    pub error_logs: Vec<PathBuf>,
    /// Log lines older than this are history, not current faults.
    pub since: Timestamp,
    /// How the window reads in messages: "15m", "2h", "since 2026-11-24 10:00".
    pub window: String,
    pub url: Option<String>,
    /// Total time all probes together may take.
    pub budget: Duration,
}

impl HostOptions {
    /// Checks the flags; the error says what was wrong and what to write.
    pub fn from_args(args: &DiagnoseArgs) -> Result<HostOptions, OptionsError> {
        let now = Timestamp::now();
        let since = parse_since(&args.since, now).ok_or_else(|| {
            format!("--since {:?} is not a duration (15m, 2h, 1d) nor a local time (\"2026-11-24 10:00\")", args.since)
        })?;
        if let Some(conf) = &args.conf {
            inputs::check_conf(conf)?;
        }
        if let Some(fpm) = &args.fpm_conf {
            crate::host::fpm_conf::parse(fpm).map_err(|e| format!("--fpm-conf: {e}"))?;
        }
        for log in &args.error_logs {
            inputs::check_error_log(log)?;
        }
        if let Some(url) = &args.url {
            check_url(url)?;
        }
        let window = if args.since.contains(':') {
            format!("since {}", args.since)
        } else {
            args.since.clone()
        };
        let budget = parse_budget(&args.budget).ok_or_else(|| {
            format!(
                "--budget {:?} is not a time like 60s, 90s or 5m (at most 1h)",
                args.budget
            )
        })?;
        Ok(HostOptions {
            budget,
            // Relative to where the user stands: nginx -t would read a
            // relative -c against nginx's prefix instead.
            conf: args.conf.as_deref().map(absolute),
            fpm_conf: args.fpm_conf.as_deref().map(absolute),
            error_logs: args.error_logs.clone(),
            since,
            window,
            url: args.url.clone(),
        })
    }
}

/// Why the flags cannot be used: a value that does not parse, or a path
/// that is not what it must be.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("{0}")]
    Value(String),
    #[error(transparent)]
    Input(#[from] InputError),
}

impl From<String> for OptionsError {
    fn from(message: String) -> Self {
        OptionsError::Value(message)
    }
}

impl OptionsError {
    /// The exit status: a wrong argument is 2, a path we may not read 3.
    pub fn status(&self) -> ExitStatus {
        match self {
            OptionsError::Value(_) => ExitStatus::Usage,
            OptionsError::Input(e) => e.status(),
        }
    }
}

/// `--url`: a path (`/index.php`) or an http(s) URL of this host's nginx.
fn check_url(url: &str) -> Result<(), String> {
    let plain = url.starts_with('/') || url.starts_with("http://") || url.starts_with("https://");
    if plain && !url.chars().any(char::is_whitespace) {
        return Ok(());
    }
    Err(format!(
        "--url {url:?} is not a path nor an http(s) URL: write /index.php or http://your.site/index.php"
    ))
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// `90s`, `5m`, `1h`: the run's probe budget.
fn parse_budget(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (num, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    (1..=3600)
        .contains(&secs)
        .then(|| Duration::from_secs(secs))
}

/// `15m`, `2h`, `1d`, `90s` before `now`, or a local `YYYY-MM-DD HH:MM[:SS]`.
pub fn parse_since(text: &str, now: Timestamp) -> Option<Timestamp> {
    let text = text.trim();
    if let Some(split) = text.find(|c: char| !c.is_ascii_digit()) {
        let (num, unit) = text.split_at(split);
        if let Ok(n) = num.parse::<u64>() {
            let secs = match unit {
                "s" => Some(n),
                "m" => n.checked_mul(60),
                "h" => n.checked_mul(3600),
                "d" => n.checked_mul(86_400),
                _ => None,
            };
            if let Some(secs) = secs {
                return Some(now.minus_secs(secs));
            }
        }
    }
    parse_local(text)
}

/// `YYYY-MM-DD HH:MM[:SS]` (or with `/`) in the host's local time, read the
/// way nginx's own timestamps are.
fn parse_local(text: &str) -> Option<Timestamp> {
    let (date, time) = text.split_once(' ')?;
    let time = if time.len() == 5 {
        format!("{time}:00")
    } else {
        time.to_owned()
    };
    let stamp = format!("{} {time}", date.replace('-', "/"));
    crate::logs::nginx_line::line_time(stamp.as_bytes(), crate::logs::time::local_utc_offset())
}

/// The host as the built-ins see it.
#[derive(Debug)]
pub struct Host {
    pub options: HostOptions,
    pub root: bool,
    pub systemd: bool,
    started: Instant,
    nginx: Option<NginxView>,
    /// The process and socket tables, read once per run: every upstream's
    /// walk asks them again, and reading every process's descriptors for
    /// the socket owners is the costliest look at the host.
    processes: Option<Vec<Process>>,
    listeners: Option<Vec<Listener>>,
    /// What each signature means, from the pack the diagnosis runs: the
    /// error-log check needs it; finding nginx (`scan`, `config`) does not.
    signatures: Option<SignatureBook>,
}

impl Host {
    pub fn new(options: HostOptions) -> Host {
        Host {
            options,
            root: nix::unistd::geteuid().is_root(),
            systemd: crate::host::procs::pid1_is_systemd(),
            started: Instant::now(),
            nginx: None,
            processes: None,
            listeners: None,
            signatures: None,
        }
    }

    /// The host as a diagnosis with this pack's signatures sees it.
    pub fn with_signatures(mut self, book: SignatureBook) -> Host {
        self.signatures = Some(book);
        self
    }

    /// What each signature means, when the pack's were given.
    pub fn signatures(&self) -> Option<&SignatureBook> {
        self.signatures.as_ref()
    }

    /// What is left of the run's time budget; zero when it is used up.
    pub fn remaining(&self) -> Duration {
        self.options.budget.saturating_sub(self.started.elapsed())
    }

    /// What is known about nginx, discovered on first use.
    pub fn nginx(&mut self) -> &NginxView {
        let conf = self.options.conf.clone();
        self.nginx
            .get_or_insert_with(|| super::nginx_probe::discover(conf.as_deref()))
    }

    /// The process table, as first read in this run.
    pub fn processes(&mut self) -> &[Process] {
        self.processes.get_or_insert_with(procs::processes)
    }

    /// The listening sockets with their owners, as first read in this run.
    pub fn listeners(&mut self) -> &[Listener] {
        self.listeners.get_or_insert_with(sockets::listeners)
    }

    /// The nginx error logs this run reads.
    pub fn error_logs(&mut self) -> Vec<PathBuf> {
        let flag = self.options.error_logs.clone();
        super::nginx_probe::error_logs(&flag, self.nginx())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_count_back_from_now() {
        let now = Timestamp::from_unix(100_000);
        assert_eq!(
            parse_since("15m", now),
            Some(Timestamp::from_unix(100_000 - 900))
        );
        assert_eq!(
            parse_since("2h", now),
            Some(Timestamp::from_unix(100_000 - 7200))
        );
        assert_eq!(
            parse_since("1d", now),
            Some(Timestamp::from_unix(100_000 - 86_400))
        );
    }

    #[test]
    fn local_times_are_accepted_with_or_without_seconds() {
        let now = Timestamp::now();
        let a = parse_since("2026-11-24 10:00", now).unwrap();
        let b = parse_since("2026-11-24 10:00:30", now).unwrap();
        assert_eq!(b.unix() - a.unix(), 30);
    }

    #[test]
    fn budgets_are_bounded_times() {
        assert_eq!(parse_budget("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_budget("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_budget("0s"), None);
        assert_eq!(parse_budget("2h"), None);
        assert_eq!(parse_budget("soon"), None);
    }

    #[test]
    fn nonsense_is_refused() {
        assert_eq!(parse_since("soon", Timestamp::now()), None);
        assert_eq!(parse_since("5y", Timestamp::now()), None);
    }
}
