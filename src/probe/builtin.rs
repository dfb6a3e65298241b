//! Built-in probes: host facts read directly instead of parsing command text.
//!
//! Parsing `ss` or `ps` output is fragile across versions and locales, so the
//! engine reads /proc, the logs and the configs itself. Each built-in is a
//! [`Builtin`] implemented in its own file and registered once, in
//! [`REGISTRY`]: that is what runs it and what shows, before it runs, the
//! command a person would type to look at the same thing.
//!
//! What a pack may ask of each built-in and what it gets back (names,
//! parameters, facts) is the pack's catalogue, [`crate::rules::builtins`]:
//! `rules lint` checks a pack against it without importing the probes, and a
//! test here keeps the registry and the catalogue the same list.

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
mod protocol;
mod resolve;
mod sockets_probe;
mod tls_peer;
mod upstream_now;

pub use crate::rules::builtins::{BUILTINS, BuiltinInfo, COMMON_FACTS, CONTEXT_FACTS, info};
pub use error_log::recorded_items;
pub use nginx_probe::{Discover, build_info};

use crate::session::Session;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::probe::{Observation, ProbeStatus};
use crate::value::Value;

/// The parameters a probe passes in `with:`, rendered.
pub type Params = BTreeMap<String, String>;

/// One built-in probe, as the engine runs it.
pub trait Builtin: Sync {
    /// Its name in a pack (`builtin: NAME`); its entry in the catalogue.
    fn name(&self) -> &'static str;
    /// Looks at the host and sets its facts on `out`.
    fn run(&self, session: &mut Session, params: &Params, out: &mut Out);
    /// The command a person could type to see the same thing, shown before
    /// it runs in guided mode (`ss -Hxlp src /run/php.sock`), when there is one.
    fn preview(&self, _session: &mut Session, _params: &Params) -> Option<String> {
        None
    }
}

/// Every built-in, registered once, in the catalogue's order.
pub const REGISTRY: &[&dyn Builtin] = &[
    &nginx_probe::NGINX,
    &config_lines::CONFIG_LINES,
    &error_log::ERROR_LOG,
    &pass_target::PASS_TARGET,
    &upstream_now::UPSTREAM_NOW,
    &sockets_probe::LISTENERS,
    &backend::BACKEND,
    &fpm_log::FPM_LOG,
    &sockets_probe::CONNECT,
    &sockets_probe::FASTCGI_PING,
    &protocol::PROTOCOL,
    &sockets_probe::HTTP_GET,
    &sockets_probe::SOCKET_FILE,
    &access_log::ACCESS_LOG,
    &capacity::CAPACITY,
    &packet_filter::PACKET_FILTER,
    &keepalive_reuse::KEEPALIVE_REUSE,
    &tls_peer::TLS_PEER,
    &local_ports::LOCAL_PORTS,
    &resolve::RESOLVE,
];

/// A built-in as its own file registers it: its name in a pack, how it
/// looks, and the command a person could type to see the same thing.
pub struct Entry {
    pub name: &'static str,
    pub run: fn(&mut Session, &Params, &mut Out),
    pub preview: fn(&mut Session, &Params) -> Option<String>,
}

impl Builtin for Entry {
    fn name(&self) -> &'static str {
        self.name
    }

    fn run(&self, session: &mut Session, params: &Params, out: &mut Out) {
        (self.run)(session, params, out);
    }

    fn preview(&self, session: &mut Session, params: &Params) -> Option<String> {
        (self.preview)(session, params)
    }
}

/// The preview of a built-in that no one command shows.
fn no_preview(_: &mut Session, _: &Params) -> Option<String> {
    None
}

/// The registered built-in called `name`.
fn registered(name: &str) -> Option<&'static dyn Builtin> {
    REGISTRY.iter().copied().find(|b| b.name() == name)
}

/// What a built-in is building up: its facts, how a person would see the
/// same thing, and whether it could do its job.
#[derive(Debug, Default)]
pub struct Out {
    facts: Vec<(String, Value)>,
    pub shown_as: String,
    failure: Option<String>,
    excerpt: String,
    /// The facts its built-in declares in the catalogue (empty: unchecked).
    declared: &'static [&'static str],
}

impl Out {
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        debug_assert!(
            self.declared.is_empty() || self.declared.contains(&name),
            "fact `{name}` is not declared in its built-in's catalogue entry (rules/builtins.rs)"
        );
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
pub fn run(name: &str, params: &Params, session: &mut Session) -> Observation {
    let mut out = Out {
        declared: info(name).map_or(&[], |i| i.facts),
        ..Out::default()
    };
    match registered(name) {
        Some(builtin) => builtin.run(session, params, &mut out),
        None => out.fail(format!("built-in `{name}` is not available in this build")),
    }
    // A built-in that gave up before it knew its target still has a name
    // in the report's list of checks.
    if out.shown_as.is_empty() {
        out.shown_as = name.to_owned();
    }
    out.finish()
}

/// The command for built-in `name` with `params`, when there is one (see
/// [`Builtin::preview`]); each built-in uses the same words for its
/// `shown_as` once it ran.
pub fn preview(name: &str, params: &Params, session: &mut Session) -> Option<String> {
    registered(name)?.preview(session, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogued_built_in_is_registered_once_in_the_same_order() {
        let registered: Vec<&str> = REGISTRY.iter().map(|b| b.name()).collect();
        let catalogued: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
        assert_eq!(registered, catalogued);
    }

    #[test]
    fn an_unknown_built_in_fails_and_says_so() {
        let mut session = crate::session::Session::new(
            crate::session::Options::check(&crate::session::Request::finding_nginx(None))
                .expect("no flags to refuse"),
        );
        let obs = run("no-such", &Params::new(), &mut session);
        assert_eq!(obs.status, ProbeStatus::Error);
        assert_eq!(obs.shown_as, "no-such");
        assert!(preview("no-such", &Params::new(), &mut session).is_none());
    }
}
