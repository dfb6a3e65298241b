//! The person's flags, checked once for every command: `--conf`,
//! `--error-log`, `--fpm-conf`, `--url`, `--since` and `--budget` mean the
//! same in `diagnose`, `scan` and `config`, and their error sentences are
//! written here alone.
//!
//! The flags arrive as a [`Request`] of plain values, not as clap's structs,
//! so nothing below the commands depends on the command line's shape.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::exit::ExitStatus;
use crate::inputs::{self, InputError};
use crate::logs::Timestamp;

/// The flags as written, before any is checked.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub conf: Option<&'a Path>,
    pub fpm_conf: Option<&'a Path>,
    pub error_logs: &'a [PathBuf],
    pub url: Option<&'a str>,
    pub since: &'a str,
    pub budget: &'a str,
}

/// The user's overrides, checked.
#[derive(Debug, Clone)]
pub struct Options {
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

impl Options {
    /// Checks the flags; the error says what was wrong and what to write.
    pub fn check(args: &Request<'_>) -> Result<Options, OptionsError> {
        let since = since_or_error(args.since, Timestamp::now())?;
        if let Some(conf) = args.conf {
            inputs::check_conf(conf)?;
        }
        if let Some(fpm) = args.fpm_conf {
            crate::host::fpm_conf::parse(fpm).map_err(|e| format!("--fpm-conf: {e}"))?;
        }
        for log in args.error_logs {
            inputs::check_error_log(log)?;
        }
        if let Some(url) = args.url {
            check_url(url)?;
        }
        let window = if args.since.contains(':') {
            format!("since {}", args.since)
        } else {
            args.since.to_owned()
        };
        let budget = parse_budget(args.budget).ok_or_else(|| {
            format!(
                "--budget {:?} is not a time like 60s, 90s or 5m (at most 1h)",
                args.budget
            )
        })?;
        Ok(Options {
            budget,
            // Relative to where the user stands: nginx -t would read a
            // relative -c against nginx's prefix instead, and a citation
            // of file:line must name the file wherever it is pasted.
            conf: args.conf.map(absolute),
            fpm_conf: args.fpm_conf.map(absolute),
            error_logs: args.error_logs.iter().map(|p| absolute(p)).collect(),
            since,
            window,
            url: args.url.map(str::to_owned),
        })
    }
}

/// `--since` read against `now`, or the sentence that says what to write.
pub fn since_or_error(text: &str, now: Timestamp) -> Result<Timestamp, OptionsError> {
    parse_since(text, now).ok_or_else(|| {
        OptionsError::Value(format!(
            "--since {text:?} is not a duration (15m, 2h, 1d) nor a local time (\"2026-11-24 10:00\")"
        ))
    })
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

fn absolute(path: &Path) -> PathBuf {
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
