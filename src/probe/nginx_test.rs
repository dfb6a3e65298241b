//! `nginx -t` as a probe. Testing a configuration writes to the host (the
//! pid file, logs, temp directories: [`crate::nginx::writes`]), and a
//! diagnosis must change nothing, so the test runs isolated
//! ([`super::isolate`]). Where that cannot be done (not root, no mount
//! namespaces), it runs only if it provably cannot write: every path it
//! would create or write is out of the user's reach. Otherwise it does not
//! run, and the report says so with the command to run by hand.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::unistd::{AccessFlags, Uid, eaccess};

use super::command::{self, CommandOutput, CommandSpec, Outcome};
use super::isolate::Plan;
use super::{Observation, ProbeStatus};
use crate::nginx::writes::{self, TestCommand, Writes};
use crate::nginx::{BuildInfo, parse_file};
use crate::probe::builtin::Discover;
use crate::session::Session;

/// Program names of nginx and its common builds.
const NGINX_NAMES: [&str; 3] = ["nginx", "openresty", "tengine"];

/// How a configuration test went, or why it did not run.
pub enum Guarded {
    /// It ran; `how` says how its writes were kept from the host.
    Ran {
        out: CommandOutput,
        how: String,
        isolated: bool,
    },
    /// It did not run: why, with what would have been written.
    Refused(String),
}

/// The options of `argv` when it is an nginx configuration test.
pub fn recognize(argv: &[String]) -> Option<TestCommand> {
    let name = Path::new(argv.first()?).file_name()?.to_str()?;
    if !NGINX_NAMES.iter().any(|n| name.starts_with(n)) {
        return None;
    }
    TestCommand::parse(&argv[1..])
}

/// Runs the test `spec` so that it changes nothing, or refuses to.
pub fn run(spec: &CommandSpec, test: &TestCommand, host: &mut Session) -> Guarded {
    let writes = writes_of(&spec.argv[0], test, host);
    let why = match isolated(spec, &writes, host.root) {
        Ok(ran) => return ran,
        Err(why) => why,
    };
    match cannot_write(&writes) {
        Ok(proof) => Guarded::Ran {
            out: command::run(spec),
            how: format!("not isolated ({why}); run anyway because {proof}"),
            isolated: false,
        },
        Err(path) => Guarded::Refused(format!(
            "not run: `nginx -t` creates and writes files as a side effect (pid file, logs, \
             temp directories), it could not be isolated here ({why}), and it could create or write {}",
            path.display()
        )),
    }
}

/// An isolated test that hit the isolation's limits (every mount read-only
/// but the covers, a small tmpfs) wanted to write something no list
/// foresaw. Failed, it says nothing about the configuration: it becomes an
/// error with the reason. Passed, the write was not needed for the verdict.
pub fn judge(obs: &mut Observation) {
    let limits = [
        "(30: Read-only file system)",
        "(28: No space left on device)",
    ];
    let Some(hit) = limits.iter().find(|l| obs.stderr.contains(**l)) else {
        return;
    };
    match obs.status {
        ProbeStatus::Failed => {
            obs.status = ProbeStatus::Error;
            obs.reason = Some(format!(
                "inconclusive: nginx -t wanted to write outside the directories the doctor \
                 isolates {hit}, which is not a verdict on the configuration; run it by hand: {}",
                obs.shown_as
            ));
        }
        ProbeStatus::Ok => {
            let note = format!(
                "nginx -t also wanted to write outside them {hit}: that write was refused, \
                 and the test passed without it"
            );
            obs.reason = Some(
                obs.reason
                    .take()
                    .map_or(note.clone(), |r| format!("{r}; {note}")),
            );
        }
        _ => {}
    }
}

fn isolated(spec: &CommandSpec, writes: &Writes, root: bool) -> Result<Guarded, String> {
    if !root {
        return Err("a private mount namespace needs root".into());
    }
    let plan = Arc::new(Plan::prepare(writes)?);
    let out = command::run_isolated(spec, &plan);
    match out.outcome {
        Outcome::NotIsolated(why) => Err(why),
        _ => Ok(Guarded::Ran {
            out,
            how: plan.describe(),
            isolated: true,
        }),
    }
}

/// What the test would write: the configuration it names, read as nginx
/// would, and the build's defaults.
fn writes_of(program: &str, test: &TestCommand, host: &mut Session) -> Writes {
    let build = build_of(program, host);
    let config = test.conf_path(&build).and_then(|conf| {
        let parsed = parse_file(&conf).ok()?;
        match &test.globals {
            Some(g) => parsed.with_globals(g).ok(),
            None => Some(parsed),
        }
    });
    writes::of_test(test, &build, config.as_ref())
}

/// The build facts of `program`: the diagnosed nginx's when it is that one.
fn build_of(program: &str, host: &mut Session) -> BuildInfo {
    let located = command::locate(program);
    let view = host.nginx();
    match (&located, &view.binary) {
        (Some(a), Some(b)) if a == b => view.build.clone(),
        _ => located
            .as_deref()
            .map(crate::probe::builtin::build_info)
            .unwrap_or_default(),
    }
}

/// Why the test cannot change anything when run as we are: it could create
/// or write none of `writes`. The error is the first path it could.
fn cannot_write(writes: &Writes) -> Result<String, PathBuf> {
    let may_write = |p: &Path| eaccess(p, AccessFlags::W_OK).is_ok();
    let may_create = |p: &Path| writes::parent(p).is_some_and(&may_write);
    let euid = Uid::effective();
    for path in &writes.files {
        let reachable = if path.exists() {
            may_write(path)
        } else {
            may_create(path)
        };
        if reachable {
            return Err(path.clone());
        }
    }
    for dir in &writes.dirs {
        // nginx chowns only as root, and adds u+rwx to a directory it owns.
        let changed = match std::fs::metadata(dir) {
            Ok(m) => euid.is_root() || (m.uid() == euid.as_raw() && m.mode() & 0o700 != 0o700),
            Err(_) => may_create(dir),
        };
        if changed {
            return Err(dir.clone());
        }
    }
    if let Some(socket) = writes.sockets.iter().find(|s| !s.exists() && may_create(s)) {
        return Err(socket.clone());
    }
    Ok(format!(
        "uid {euid} can create or write none of the {} paths it would",
        writes.all().count()
    ))
}
