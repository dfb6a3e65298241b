//! The `nginx` built-in: which nginx, which configuration, which logs.
//!
//! How nginx is found is the session's ([`crate::session::discover`]); the
//! one look it needs from the probe layer, `nginx -V` within bounds, is
//! [`build_info`], which [`Discover`] hands it. The built-ins and the
//! commands ask a session through [`Discover`], so every one of them finds
//! the same nginx the same way.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Out;
use crate::nginx::{self, BuildInfo, Master, Model, Severity};
use crate::probe::command::{self, CommandSpec, Outcome};
use crate::session::{NginxView, Session};

/// A session's nginx, found with this layer's bounded `nginx -V`.
pub trait Discover {
    /// What is known about nginx, discovered on first use.
    fn nginx(&mut self) -> &NginxView;
    /// The nginx error logs this run reads.
    fn error_logs(&mut self) -> Vec<PathBuf>;
}

impl Discover for Session {
    fn nginx(&mut self) -> &NginxView {
        self.nginx_found_by(build_info)
    }

    fn error_logs(&mut self) -> Vec<PathBuf> {
        self.error_logs_found_by(build_info)
    }
}

pub fn run(host: &mut Session, out: &mut Out) {
    let view = host.nginx();
    out.set("found", view.conf.is_some());
    out.set("running", view.master.is_some());
    out.set("pid", view.master.as_ref().map(|m| i64::from(m.pid)));
    out.set("conf", view.conf.as_ref().map(|p| p.display().to_string()));
    out.set(
        "prefix",
        view.prefix.as_ref().map(|p| p.display().to_string()),
    );
    out.set(
        "binary",
        view.binary
            .as_ref()
            .map_or("nginx".to_owned(), |b| b.display().to_string()),
    );
    out.set("user", worker_user(view));
    out.set("source", view.source);
    let port = view
        .model
        .iter()
        .flat_map(|m| &m.servers)
        .flat_map(|s| &s.listen)
        .find_map(|l| crate::nginx::locate::listen_port(l));
    out.set("listen_port", port.map(i64::from));
    out.set("parse_error", view.parse_error.clone());
    out.set(
        "passes",
        view.model
            .as_ref()
            .map(|m| i64::try_from(m.pass_targets().count()).unwrap_or(0)),
    );
    let logs = host.error_logs();
    out.set(
        "error_logs",
        logs.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    );
    let view = host.nginx();
    out.shown_as = match &view.master {
        Some(m) => format!("ps -o pid=,args= -p {}", m.pid),
        None => "nginx -V".into(),
    };
    if let Some(m) = &view.master {
        out.note(&format!("master {}: {}", m.pid, m.cmdline));
    }
    other_masters(&view.other_masters, out);
    if let Some(e) = &view.parse_error {
        out.note(&format!("configuration not fully read: {e}"));
    }
    problems(view.model.as_ref(), out);
}

/// Names the masters not diagnosed: ours (another configuration: `--conf` picks one) and
/// those in other namespaces (a container's: only a run inside it can diagnose them).
fn other_masters(others: &[Master], out: &mut Out) {
    let ours: Vec<String> = others
        .iter()
        .filter(|m| m.elsewhere.is_none())
        .map(|m| format!("pid {} ({})", m.pid, conf_of(m)))
        .collect();
    let elsewhere: Vec<String> = others.iter().filter_map(elsewhere_line).collect();
    if !ours.is_empty() {
        out.note(&format!(
            "other nginx masters run: {}; diagnose one with --conf",
            ours.join(", ")
        ));
    }
    for line in &elsewhere {
        out.note(line);
    }
    let all: Vec<String> = [ours.join(", "), elsewhere.join("; ")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    out.set("other_masters", all.join("; "));
    out.set("elsewhere", elsewhere.join("; "));
}

/// A master's `-c` as its title shows it.
fn conf_of(m: &Master) -> String {
    m.conf
        .as_ref()
        .map_or("compiled-in configuration".into(), |c| {
            c.display().to_string()
        })
}

/// `nginx master pid N (CONF inside it) runs in another ... namespace ...; diagnose it
/// inside with ...`, for a master in other namespaces.
fn elsewhere_line(m: &Master) -> Option<String> {
    let e = m.elsewhere.as_ref()?;
    Some(format!(
        "nginx master pid {} ({} inside it) runs {e}, so it is not this system's; {}",
        m.pid,
        conf_of(m),
        e.advice()
    ))
}

/// What `nginx -t` would refuse in the configuration, and what nginx does
/// otherwise than written: a note each, and the first error as a fact.
fn problems(model: Option<&Model>, out: &mut Out) {
    let Some(model) = model else {
        return;
    };
    out.set(
        "config_errors",
        i64::try_from(model.errors().count()).unwrap_or(i64::MAX),
    );
    out.set(
        "config_error",
        model.errors().next().map(ToString::to_string),
    );
    for p in &model.problems {
        let what = match p.severity {
            Severity::Error => "nginx -t fails",
            Severity::Warning => "warning",
        };
        out.note(&format!("{what}: {p}"));
    }
}

/// The user nginx's workers run as: seen in /proc when running, else the
/// `user` directive, else the compiled default.
fn worker_user(view: &NginxView) -> String {
    if let Some(u) = view.worker_users.iter().find(|u| *u != "root") {
        return u.clone();
    }
    view.model
        .as_ref()
        .and_then(|m| m.user.as_ref().map(|u| u.value.clone()))
        .or_else(|| view.build.user.clone())
        .unwrap_or_else(|| "nobody".into())
}

/// `nginx -V`, bounded like any probe; its facts fill what /proc cannot say.
/// (`-V` alone exits before nginx opens any file.)
pub fn build_info(binary: &Path) -> BuildInfo {
    let out = command::run(&CommandSpec {
        argv: vec![binary.display().to_string(), "-V".into()],
        timeout: Duration::from_secs(5),
        max_output: 64 * 1024,
    });
    match out.outcome {
        Outcome::Exited(0) => nginx::parse_build_info(&String::from_utf8_lossy(&out.stderr)),
        _ => BuildInfo::default(),
    }
}
