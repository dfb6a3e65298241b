//! The `nginx` built-in: which nginx, which configuration, which logs.
//!
//! A flag wins (`--conf`); else the running master's `-c` and `-p` from
//! /proc (a master of this system's namespaces: a container's is only
//! named, with how to diagnose inside it); else what `nginx -V` was built
//! with; else the distributions' usual paths. The parsed model is kept on
//! the [`Host`] so every later probe (logs, pass targets) reads the same
//! configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Host, Out};
use crate::nginx::{self, BuildInfo, Master, Model, Severity};
use crate::probe::command::{self, CommandSpec, Outcome};

/// What was learned about nginx, shared by the built-ins.
#[derive(Debug, Default)]
pub struct NginxView {
    pub master: Option<Master>,
    pub binary: Option<PathBuf>,
    pub conf: Option<PathBuf>,
    pub prefix: Option<PathBuf>,
    pub build: BuildInfo,
    pub model: Option<Model>,
    /// The directive tree the model was built from, for a probe that
    /// needs a directive the model leaves out (`resolver`).
    pub config: Option<nginx::Config>,
    pub parse_error: Option<String>,
    pub source: &'static str,
    pub worker_users: Vec<String>,
    /// Masters running besides the one diagnosed: another instance of
    /// ours (`--conf` picks one), or a container's (never diagnosed here).
    pub other_masters: Vec<Master>,
}

/// Where configurations live when nothing else says: Debian/RHEL/Alpine
/// packages, nginx.org's, a source build, OpenResty.
const USUAL_CONFS: [&str; 3] = [
    "/etc/nginx/nginx.conf",
    "/usr/local/nginx/conf/nginx.conf",
    "/usr/local/openresty/nginx/conf/nginx.conf",
];

pub fn run(host: &mut Host, out: &mut Out) {
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

/// Finds nginx and reads its configuration; called once per run.
pub fn discover(conf_flag: Option<&Path>) -> NginxView {
    // A container's master is never the one diagnosed: its `-c` names a file in its own
    // mount namespace, which the same path here is not.
    let (masters, elsewhere): (Vec<Master>, Vec<Master>) = nginx::find_masters()
        .into_iter()
        .partition(|m| m.elsewhere.is_none());
    let mut view = NginxView::default();
    let pick = match conf_flag {
        Some(flag) => masters
            .iter()
            .position(|m| m.conf.as_deref().is_some_and(|c| same_file(c, flag))),
        None => (!masters.is_empty()).then_some(0),
    };
    let mut masters = masters;
    let chosen = pick.map(|i| masters.remove(i));
    masters.extend(elsewhere);
    view.other_masters = masters;
    let binary = chosen
        .as_ref()
        .and_then(|m| m.exe.clone())
        .filter(|p| p.exists())
        .or_else(|| command::locate("nginx"));
    view.build = binary.as_deref().map(build_info).unwrap_or_default();
    view.binary = binary;
    (view.conf, view.source) = match (conf_flag, &chosen) {
        (Some(flag), _) => (Some(flag.to_path_buf()), "given with --conf"),
        (None, Some(m)) => (m.conf_path(&view.build), "running master"),
        (None, None) => match view.build.conf_path.clone().filter(|p| p.exists()) {
            Some(p) => (Some(p), "from nginx -V (not running)"),
            None => (
                USUAL_CONFS.iter().map(PathBuf::from).find(|p| p.exists()),
                "usual path (not running)",
            ),
        },
    };
    view.prefix = chosen
        .as_ref()
        .and_then(|m| m.effective_prefix(&view.build))
        .or_else(|| view.build.prefix.clone())
        .or_else(|| {
            view.conf
                .as_deref()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
        });
    if let Some(m) = &chosen {
        view.worker_users = crate::host::procs::nginx_worker_users(m.pid);
    }
    if let Some(conf) = view.conf.clone() {
        let globals = chosen.as_ref().and_then(|m| m.globals.clone());
        match nginx::parse_file(&conf).and_then(|c| match globals {
            Some(g) => c.with_globals(&g),
            None => Ok(c),
        }) {
            Ok(cfg) => {
                view.model = Some(nginx::model(
                    &cfg,
                    view.prefix.as_deref().unwrap_or(Path::new("/")),
                ));
                view.config = Some(cfg);
            }
            Err(e) => view.parse_error = Some(e.to_string()),
        }
    }
    view.master = chosen;
    view
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
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

/// The error logs to read: `--error-log`, else every file the configuration
/// names, else the compiled default, else the usual one.
pub fn error_logs(flag: &[PathBuf], view: &NginxView) -> Vec<PathBuf> {
    if !flag.is_empty() {
        return flag.to_vec();
    }
    let mut logs: Vec<PathBuf> = view
        .model
        .iter()
        .flat_map(|m| &m.error_logs)
        .map(|s| PathBuf::from(&s.value))
        .collect();
    logs.sort();
    logs.dedup();
    if logs.is_empty() {
        let compiled = view
            .build
            .error_log_path
            .clone()
            .filter(|p| p != "stderr")
            .map(PathBuf::from);
        logs.push(compiled.unwrap_or_else(|| PathBuf::from("/var/log/nginx/error.log")));
    }
    logs
}
