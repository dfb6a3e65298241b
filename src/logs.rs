//! Reading the logs that explain a 502/504: nginx's error log and php-fpm's log.
//!
//! The text of an nginx error line says *what* failed (connect refused, read
//! timed out, invalid header) but not *why*; [`signature`] names the failure
//! and lists the causes it can mean, and the rules then probe the host to pick
//! one. Everything here treats log text as hostile: requests, headers and
//! backend output are written by strangers, lines can be huge, binary or cut.
//!
//! * [`time`] — timestamps (log lines carry local time without a zone);
//! * [`nginx_line`] — one nginx error-log line into fields;
//! * [`fragment`] — the parts of a line people paste (no timestamp, no
//!   prefix, cut short), into the same fields;
//! * [`upstream_ref`] — the `upstream: "..."` field into scheme and address;
//! * [`signature`] — the known failures, each with its status and causes;
//! * [`classify`] — which signature a parsed line shows;
//! * [`fpm_line`] — one php-fpm log line into an event;
//! * [`rotated`] — a log's rotated copies, and which of them a time window reaches into;
//! * [`window`] — the recent part of a log, read backwards from the end.

pub mod classify;
pub mod facts;
pub mod fpm_line;
pub mod fragment;
pub mod nginx_line;
pub(crate) mod prefilter;
pub mod rotated;
pub mod signature;
pub mod time;
pub mod upstream_ref;
pub mod window;

pub use classify::classify;
pub use fpm_line::{FpmEvent, FpmLine};
pub use nginx_line::{Action, ErrorLine};
pub use signature::Signature;
pub use time::{Timestamp, local_utc_offset};
pub use upstream_ref::{UpstreamAddr, UpstreamRef};
pub use window::{Tail, TailError, tail_since};

use serde::Serialize;

/// Severity of a log line. nginx's eight levels; php-fpm's five map onto
/// them (`WARNING` → `Warn`, `ERROR` → `Error`, `ALERT` → `Alert`,
/// `NOTICE` → `Notice`, `DEBUG` → `Debug`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Emerg,
    Alert,
    Crit,
    Error,
    Warn,
    Notice,
    Info,
    Debug,
}

impl Level {
    /// The name nginx writes between brackets (`crit`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Emerg => "emerg",
            Level::Alert => "alert",
            Level::Crit => "crit",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Notice => "notice",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    /// The level nginx names `name` (`error`, `crit`, ...), if any.
    pub fn from_nginx(name: &str) -> Option<Level> {
        Some(match name {
            "emerg" => Level::Emerg,
            "alert" => Level::Alert,
            "crit" => Level::Crit,
            "error" => Level::Error,
            "warn" => Level::Warn,
            "notice" => Level::Notice,
            "info" => Level::Info,
            "debug" => Level::Debug,
            _ => return None,
        })
    }

    /// Syslog severity number: 0 (`emerg`) to 7 (`debug`); smaller is worse.
    pub fn severity(self) -> u8 {
        self as u8
    }

    /// Whether this level is `other` or more severe, e.g.
    /// `Level::Crit.at_least(Level::Error)` — note that nginx logs several
    /// connect failures at `crit`, so a filter on `error` alone misses them.
    pub fn at_least(self, other: Level) -> bool {
        self.severity() <= other.severity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crit_counts_as_at_least_error() {
        assert!(Level::Crit.at_least(Level::Error));
        assert!(Level::Error.at_least(Level::Error));
        assert!(!Level::Warn.at_least(Level::Error));
    }

    #[test]
    fn nginx_level_names_round_trip() {
        for name in [
            "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
        ] {
            assert_eq!(Level::from_nginx(name).map(Level::as_str), Some(name));
        }
        assert_eq!(Level::from_nginx("ERROR"), None);
    }
}
