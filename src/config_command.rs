//! `nginx-doctor config [--conf PATH] [--format text|json]`: the model of the
//! host's nginx configuration, as the diagnosis sees it — servers, their
//! locations, each pass target with the endpoints it reaches and the
//! timeouts and header buffer in effect with the file:line that set them
//! (or nginx's default), the logs and the worker user — where the
//! configuration was found (the running master, `--conf`, `nginx -V`), and
//! what `nginx -t` would refuse in it, with nginx's words and file:line.
//!
//! Discovery is the session's ([`crate::probe::builtin::Discover`]), so
//! this command shows exactly what a diagnosis would reason about. The tree
//! is built in [`view`] and rendered as text in [`text`] or as JSON.

mod text;
pub mod view;

use crate::cli::{ConfigArgs, ListFormat};
use crate::probe::builtin::Discover;
use crate::session::Session;
use crate::{ExitStatus, print_error, print_stdout};

use view::{ConfigView, Origin, OtherMaster, UserView, lossy};

/// Prints the model; exit 3 when no configuration can be found or read.
pub fn run(args: &ConfigArgs) -> ExitStatus {
    let mut session = match Session::start(&args.request()) {
        Ok(s) => s,
        Err(e) => {
            print_error(&e.to_string());
            return e.status();
        }
    };
    let view = match discover(&mut session) {
        Ok(v) => v,
        Err(message) => {
            print_error(&message);
            return ExitStatus::CouldNotRun;
        }
    };
    let out = match args.format {
        ListFormat::Json => match serde_json::to_string_pretty(&view) {
            Ok(json) => json + "\n",
            Err(e) => {
                print_error(&format!("cannot encode the configuration as JSON: {e}"));
                return ExitStatus::CouldNotRun;
            }
        },
        ListFormat::Text => text::render(&view),
    };
    match print_stdout(&out) {
        Ok(()) => ExitStatus::Healthy,
        Err(e) => {
            print_error(&format!("cannot write to stdout: {e}"));
            ExitStatus::CouldNotRun
        }
    }
}

/// Finds and reads the configuration as a diagnosis would; the error says
/// what was tried and what to pass.
pub fn discover(session: &mut Session) -> Result<ConfigView, String> {
    let found = session.nginx();
    let Some(path) = found.conf.clone() else {
        return Err(format!(
            "no nginx configuration found ({}): no nginx master is running, `nginx -V` names no \
             configuration file that exists, and none of the usual paths exists; \
             pass the main file with --conf PATH",
            found.source
        ));
    };
    let Some(model) = &found.model else {
        let why = found.parse_error.as_deref().unwrap_or("unknown error");
        return Err(format!(
            "cannot read the nginx configuration {} ({}): {why}; pass another main file with --conf PATH",
            path.display(),
            found.source
        ));
    };
    let chosen = found.master.as_ref().map(|m| m.pid);
    let origin = Origin {
        how: found.source.to_owned(),
        conf: Some(lossy(&path)),
        prefix: found.prefix.as_deref().map(lossy),
        binary: found.binary.as_deref().map(lossy),
        version: found.build.version.clone(),
        pid: chosen,
        globals: found.master.as_ref().and_then(|m| m.globals.clone()),
        other_masters: other_masters(chosen),
    };
    let user = UserView::new(model, &found.worker_users, found.build.user.as_deref());
    Ok(ConfigView::new(model, origin, user))
}

/// The running masters other than the one shown.
fn other_masters(shown: Option<i32>) -> Vec<OtherMaster> {
    crate::nginx::find_masters()
        .into_iter()
        .filter(|m| Some(m.pid) != shown)
        .map(|m| OtherMaster {
            pid: m.pid,
            conf: m.conf.as_deref().map(lossy),
            elsewhere: m.elsewhere.map(|e| {
                let command = e.nsenter("config");
                format!("{e}; show its configuration inside with `{command}`")
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Options, Request};
    use std::path::{Path, PathBuf};

    /// Discovery of `conf` as given, past the flag's check (which refuses
    /// a missing file before discovery would).
    fn discover_at(conf: &Path) -> Result<ConfigView, String> {
        let request = Request {
            conf: None,
            fpm_conf: None,
            error_logs: &[],
            url: None,
            since: "0s",
            budget: "60s",
        };
        let mut options = Options::check(&request).expect("no flags to refuse");
        options.conf = Some(conf.to_path_buf());
        discover(&mut Session::new(options))
    }

    fn fixture(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/nginx")
            .join(rel)
    }

    #[test]
    fn given_conf_is_read_and_said_so() {
        let view = discover_at(&fixture("debian/nginx.conf")).unwrap();
        assert_eq!(view.origin.how, "given with --conf");
        assert_eq!(view.origin.conf, Some(lossy(&fixture("debian/nginx.conf"))));
        assert_eq!(view.servers.len(), 2);
    }

    #[test]
    fn unreadable_conf_names_the_file_and_the_flag() {
        let missing = fixture("no-such/nginx.conf");
        let err = discover_at(&missing).unwrap_err();
        assert!(err.contains(&missing.display().to_string()), "{err}");
        assert!(err.contains("--conf PATH"), "{err}");
    }

    #[test]
    fn include_cycle_is_an_error_not_a_hang() {
        let err = discover_at(&fixture("cycle/a.conf")).unwrap_err();
        assert!(err.contains("include cycle"), "{err}");
    }
}
