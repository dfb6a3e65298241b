//! Finding nginx, once per session: a flag wins (`--conf`); else the
//! running master's `-c` and `-p` from /proc (a master of this system's
//! namespaces: a container's is only named, with how to diagnose inside
//! it); else what `nginx -V` was built with; else the distributions' usual
//! paths. The parsed model is kept on the [`Session`](super::Session) so
//! every later probe (logs, pass targets) reads the same configuration.

use std::path::{Path, PathBuf};

use super::BuildProbe;
use crate::host::tools::locate;
use crate::nginx::{self, BuildInfo, Master, Model};

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

/// Finds nginx and reads its configuration; called once per run.
pub fn discover(conf_flag: Option<&Path>, build: BuildProbe) -> NginxView {
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
        .or_else(|| locate("nginx"));
    view.build = binary.as_deref().map(build).unwrap_or_default();
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
