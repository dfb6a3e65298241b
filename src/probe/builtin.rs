//! Built-in probes: host facts read directly instead of parsing command text.
//!
//! Parsing `ss` or `ps` output is fragile across versions and locales, so the
//! engine reads /proc, the logs and the configs itself. Each built-in
//! declares its parameters and the facts it produces here, which is what
//! `rules lint` checks a pack against; the implementations live beside.
//!
//! What a pack may ask of each built-in and what it gets back (names,
//! parameters, facts) is the pack's catalogue, [`crate::rules::builtins`]:
//! `rules lint` checks a pack against it without importing the probes.

mod access_log;
mod backend;
mod capacity;
mod conf_scope;
mod config_lines;
mod error_log;
mod fpm_log;
mod keepalive_reuse;
mod local_ports;
mod nginx_probe;
mod packet_filter;
mod pass_target;
mod preview;
mod protocol;
mod resolve;
mod sockets_probe;
mod tls_peer;
mod upstream_now;

pub use crate::rules::builtins::{BUILTINS, BuiltinInfo, COMMON_FACTS, CONTEXT_FACTS, info};
pub use error_log::recorded_items;
pub use nginx_probe::{Discover, build_info};
pub use preview::preview;

use crate::session::Session;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::probe::{Observation, ProbeStatus};
use crate::value::Value;

/// What a built-in is building up: its facts, how a person would see the
/// same thing, and whether it could do its job.
#[derive(Debug, Default)]
pub struct Out {
    facts: Vec<(String, Value)>,
    pub shown_as: String,
    failure: Option<String>,
    excerpt: String,
}

impl Out {
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        let value = match value.into() {
            Value::Str(s) if s.is_empty() => Value::Null,
            v => v,
        };
        self.facts.retain(|(n, _)| n != name);
        self.facts.push((name.to_owned(), value));
    }

    /// Whether fact `name` was set to a value.
    #[cfg(test)]
    pub fn has(&self, name: &str) -> bool {
        self.facts
            .iter()
            .any(|(n, v)| n == name && !matches!(v, Value::Null))
    }

    /// Says the built-in could not do its job, and why (with what to do).
    pub fn fail(&mut self, reason: impl Into<String>) {
        self.failure = Some(reason.into());
    }

    /// A few lines a person would want to see in the report.
    pub fn note(&mut self, line: &str) {
        if !self.excerpt.is_empty() {
            self.excerpt.push('\n');
        }
        self.excerpt.push_str(line);
    }

    fn finish(self) -> Observation {
        let (status, reason) = match self.failure {
            None => (ProbeStatus::Ok, None),
            Some(r) => (ProbeStatus::Error, Some(r)),
        };
        Observation {
            status,
            exit: None,
            stdout: self.excerpt,
            stderr: String::new(),
            duration: Duration::ZERO,
            facts: self.facts,
            shown_as: self.shown_as,
            reason,
        }
    }
}

/// Runs the built-in `name` with its parameters.
pub fn run(name: &str, params: &BTreeMap<String, String>, host: &mut Session) -> Observation {
    let mut out = Out::default();
    match name {
        "nginx" => nginx_probe::run(host, &mut out),
        "error-log" => error_log::run(host, &mut out),
        "pass-target" => pass_target::run(host, params, &mut out),
        "upstream-now" => upstream_now::run(host, params, &mut out),
        "protocol" => protocol::run(params, &mut out),
        "fpm-log" => fpm_log::run(host, params, &mut out),
        "backend" => backend::run(host, params, &mut out),
        "capacity" => capacity::run(params, &mut out),
        "config-lines" => config_lines::run(params, &mut out),
        "access-log" => access_log::run(host, &mut out),
        "resolve" => resolve::run(host, params, &mut out),
        "packet-filter" => packet_filter::run(params, &mut out),
        "keepalive-reuse" => keepalive_reuse::run(host, params, &mut out),
        "tls-peer" => tls_peer::run(host, params, &mut out),
        "local-ports" => local_ports::run(host, params, &mut out),
        "listeners" | "connect" | "fastcgi-ping" | "http-get" | "socket-file" => {
            sockets_probe::run(host, name, params, &mut out)
        }
        _ => out.fail(format!("built-in `{name}` is not available in this build")),
    }
    // A built-in that gave up before it knew its target still has a name
    // in the report's list of checks.
    if out.shown_as.is_empty() {
        out.shown_as = name.to_owned();
    }
    out.finish()
}
