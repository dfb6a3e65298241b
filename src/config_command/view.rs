//! What `nginx-doctor config` shows, as one serialisable tree: where the
//! configuration came from, the worker user, the logs, the upstream groups,
//! and servers → locations (nested as written) → pass targets with their
//! endpoints, group and effective timeouts. Every setting carries the
//! `file` and `line` that set it, or `default: true` when nginx's built-in
//! default applies. The JSON output is this tree as is (`schema` 1); the
//! text output is rendered from it, so both always say the same.

use std::path::Path;

use serde::Serialize;

use crate::nginx::{
    Effective, Location, Model, Pass, Problem, Server, Severity, Sourced, Upstream,
};

/// The JSON layout's version; bumped when a field changes meaning or goes.
pub const SCHEMA: u32 = 1;

/// The whole output.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigView {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// Where the configuration came from.
    pub origin: Origin,
    /// Who the workers run as.
    pub user: UserView,
    /// Every `error_log` file.
    pub error_logs: Vec<Place>,
    /// Every `access_log` file.
    pub access_logs: Vec<Place>,
    /// Every `upstream {}` group of the http context.
    pub upstreams: Vec<UpstreamView>,
    /// Every `server {}` of the http context.
    pub servers: Vec<ServerView>,
    /// What `nginx -t` refuses (errors, the first is the one it prints) and
    /// what it accepts but does not do as written (warnings).
    pub problems: Vec<ProblemView>,
}

/// A problem of the configuration, where nginx names it.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemView {
    /// `error` (`nginx -t` fails) or `warning`.
    pub severity: Severity,
    /// The directive it is about.
    pub directive: String,
    /// nginx's words for an error; what nginx does instead for a warning.
    pub message: String,
    /// What to change.
    pub hint: String,
    /// File nginx names.
    pub file: String,
    /// Its line.
    pub line: usize,
}

/// How the configuration was found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Origin {
    /// `running master`, `given with --conf`, `from nginx -V (not running)`, ...
    pub how: String,
    /// The main configuration file.
    pub conf: Option<String>,
    /// The prefix relative paths resolve against.
    pub prefix: Option<String>,
    /// The nginx binary.
    pub binary: Option<String>,
    /// Its version (`nginx -V`).
    pub version: Option<String>,
    /// The master process read, when one runs this configuration.
    pub pid: Option<i32>,
    /// Its `-g` directives.
    pub globals: Option<String>,
    /// Other running masters (another configuration: pass its `--conf`).
    pub other_masters: Vec<OtherMaster>,
}

/// A running master that was not chosen.
#[derive(Debug, Clone, Serialize)]
pub struct OtherMaster {
    /// Its pid.
    pub pid: i32,
    /// Its `-c` file, when the title shows one.
    pub conf: Option<String>,
    /// Set when it runs in other namespaces (a container's): where, and how to see its
    /// configuration from inside (`--conf` here would read another file).
    pub elsewhere: Option<String>,
}

/// The worker user and what says so.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    /// The user name.
    pub name: String,
    /// `running workers`, `user directive`, `nginx -V` or `nginx's default`.
    pub from: &'static str,
    /// The `user` directive, when written (nginx ignores it unless started as root).
    pub directive: Option<SourcedText>,
}

/// A value with the directive that set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourcedText {
    /// The value as written.
    pub value: String,
    /// File of the directive.
    pub file: String,
    /// Its line.
    pub line: usize,
}

/// A log file and the directive naming it.
#[derive(Debug, Clone, Serialize)]
pub struct Place {
    /// The path, resolved against the prefix.
    pub path: String,
    /// File of the directive.
    pub file: String,
    /// Its line.
    pub line: usize,
}

/// An `upstream {}` group.
#[derive(Debug, Clone, Serialize)]
pub struct UpstreamView {
    /// Its name.
    pub name: String,
    /// File of the block.
    pub file: String,
    /// Its line.
    pub line: usize,
    /// `keepalive N`, if set.
    pub keepalive: Option<u32>,
    /// Its `server` lines.
    pub servers: Vec<PeerView>,
}

/// A `server` line of a group.
#[derive(Debug, Clone, Serialize)]
pub struct PeerView {
    /// The address as written.
    pub address: String,
    /// Where nginx connects (`127.0.0.1:80`, `unix:/run/x.sock`), if parsable.
    pub endpoint: Option<String>,
    /// `weight=5`, `max_fails=3`, `fail_timeout=10s`, `backup`, ...
    pub params: Vec<String>,
    /// File of the line.
    pub file: String,
    /// Its line.
    pub line: usize,
}

/// A `server {}` block.
#[derive(Debug, Clone, Serialize)]
pub struct ServerView {
    /// `server_name` arguments.
    pub names: Vec<String>,
    /// `listen` addresses as written (none: `*:80`).
    pub listen: Vec<String>,
    /// Those marked `default_server`.
    pub default_server: Vec<String>,
    /// File of the block.
    pub file: String,
    /// Its line.
    pub line: usize,
    /// Its top-level locations, nested ones inside them.
    pub locations: Vec<LocationView>,
}

/// A `location` block.
#[derive(Debug, Clone, Serialize)]
pub struct LocationView {
    /// As written: `= /x`, `~ \.php$`, `/static/`, `@php`.
    #[serde(rename = "match")]
    pub matches: String,
    /// `=`, `~`, `~*`, `^~`, or none.
    pub modifier: Option<String>,
    /// The URI, prefix, regex or name.
    pub path: String,
    /// File of the block.
    pub file: String,
    /// Its line.
    pub line: usize,
    /// The pass directives nginx uses: the direct one first, then those inside `if`/`limit_except`.
    pub passes: Vec<PassView>,
    /// Pass directives nginx accepts but never uses: a later content handler
    /// of the same block replaces them.
    pub unused_passes: Vec<PassView>,
    /// Locations nested in it.
    pub locations: Vec<LocationView>,
}

/// A `*_pass` directive and what is in effect for it.
#[derive(Debug, Clone, Serialize)]
pub struct PassView {
    /// `proxy`, `fastcgi`, `uwsgi`, `scgi`, `grpc`, `memcached`.
    pub kind: &'static str,
    /// The target as written.
    pub target: String,
    /// File of the directive.
    pub file: String,
    /// Its line.
    pub line: usize,
    /// Inside an `if` or `limit_except` block.
    pub conditional: bool,
    /// The target has variables: resolved per request.
    pub variables: bool,
    /// Where nginx connects: the target itself, or its group's servers.
    pub endpoints: Vec<String>,
    /// nginx's error about this directive, when `nginx -t` refuses it.
    pub error: Option<String>,
    /// The group the target names, with its servers.
    pub upstream: Option<UpstreamView>,
    /// The timeouts and header buffer in effect.
    pub timeouts: TimeoutsView,
}

/// The four settings a 502/504 diagnosis quotes.
#[derive(Debug, Clone, Serialize)]
pub struct TimeoutsView {
    /// `<kind>_connect_timeout`.
    pub connect: Setting,
    /// `<kind>_send_timeout`.
    pub send: Setting,
    /// `<kind>_read_timeout`.
    pub read: Setting,
    /// `<kind>_buffer_size`.
    pub buffer_size: Setting,
}

/// One effective setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The directive's name, e.g. `fastcgi_read_timeout`.
    pub directive: String,
    /// The value in effect.
    pub value: String,
    /// nginx's default applies (nothing sets it on the way from http to here).
    pub default: bool,
    /// File of the directive that set it.
    pub file: Option<String>,
    /// Its line.
    pub line: Option<usize>,
}

impl ConfigView {
    /// The view of `model`; `origin` and `user` come from discovery.
    pub fn new(model: &Model, origin: Origin, user: UserView) -> ConfigView {
        ConfigView {
            schema: SCHEMA,
            origin,
            user,
            error_logs: model.error_logs.iter().map(place).collect(),
            access_logs: model.access_logs.iter().map(place).collect(),
            upstreams: model.upstreams.iter().map(upstream).collect(),
            servers: model.servers.iter().map(|s| server(model, s)).collect(),
            problems: model.problems.iter().map(problem).collect(),
        }
    }
}

impl UserView {
    /// The user workers run as: seen running (not root), else the `user`
    /// directive, else the compiled `--user`, else nginx's `nobody`.
    pub fn new(model: &Model, running: &[String], compiled: Option<&str>) -> UserView {
        let directive = model.user.as_ref().map(text);
        let (name, from) = if let Some(u) = running.iter().find(|u| *u != "root") {
            (u.clone(), "running workers")
        } else if let Some(d) = &directive {
            (d.value.clone(), "user directive")
        } else if let Some(c) = compiled {
            (c.to_owned(), "nginx -V")
        } else {
            ("nobody".to_owned(), "nginx's default")
        };
        UserView {
            name,
            from,
            directive,
        }
    }
}

/// A path as text: JSON needs UTF-8, host paths need not be.
pub fn lossy(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn text(s: &Sourced<String>) -> SourcedText {
    SourcedText {
        value: s.value.clone(),
        file: lossy(&s.file),
        line: s.line,
    }
}

fn place(s: &Sourced<String>) -> Place {
    Place {
        path: s.value.clone(),
        file: lossy(&s.file),
        line: s.line,
    }
}

fn problem(p: &Problem) -> ProblemView {
    ProblemView {
        severity: p.severity,
        directive: p.directive.clone(),
        message: p.message.clone(),
        hint: p.hint.clone(),
        file: lossy(&p.file),
        line: p.line,
    }
}

fn upstream(u: &Upstream) -> UpstreamView {
    UpstreamView {
        name: u.name.clone(),
        file: lossy(&u.file),
        line: u.line,
        keepalive: u.keepalive,
        servers: u
            .servers
            .iter()
            .map(|s| PeerView {
                address: s.address.clone(),
                endpoint: s.parsed.as_ref().map(ToString::to_string),
                params: s.params.clone(),
                file: lossy(&s.file),
                line: s.line,
            })
            .collect(),
    }
}

fn server(model: &Model, s: &Server) -> ServerView {
    ServerView {
        names: s.names.clone(),
        listen: s.listen.clone(),
        default_server: s.default_listen.clone(),
        file: lossy(&s.file),
        line: s.line,
        locations: children(model, &s.locations, None),
    }
}

/// The locations whose parent is `parent`, each with its own children.
fn children(model: &Model, all: &[Location], parent: Option<usize>) -> Vec<LocationView> {
    (0..all.len())
        .filter(|&i| all[i].parent == parent)
        .map(|i| location(model, all, i))
        .collect()
}

fn location(model: &Model, all: &[Location], index: usize) -> LocationView {
    let l = &all[index];
    let matches = match &l.modifier {
        Some(m) => format!("{m} {}", l.path),
        None => l.path.clone(),
    };
    LocationView {
        matches,
        modifier: l.modifier.clone(),
        path: l.path.clone(),
        file: lossy(&l.file),
        line: l.line,
        passes: l.passes().map(|p| pass(model, p)).collect(),
        unused_passes: l.unused_passes.iter().map(|p| pass(model, p)).collect(),
        locations: children(model, all, Some(index)),
    }
}

fn pass(model: &Model, p: &Pass) -> PassView {
    let prefix = p.kind.prefix();
    let setting = |name: &str, e: &Effective| Setting {
        directive: format!("{prefix}_{name}"),
        value: e.value.clone(),
        default: e.source.is_none(),
        file: e.source.as_ref().map(|(f, _)| lossy(f)),
        line: e.source.as_ref().map(|(_, l)| *l),
    };
    let t = &p.timeouts;
    PassView {
        kind: prefix,
        target: p.target.clone(),
        file: lossy(&p.file),
        line: p.line,
        conditional: p.conditional,
        variables: p.has_variables,
        endpoints: model.endpoints(p).iter().map(ToString::to_string).collect(),
        error: model
            .errors()
            .find(|e| {
                e.file == p.file && e.line == p.line && e.directive == format!("{prefix}_pass")
            })
            .map(|e| e.message.clone()),
        upstream: p
            .upstream
            .as_deref()
            .and_then(|g| model.upstream(g))
            .map(upstream),
        timeouts: TimeoutsView {
            connect: setting("connect_timeout", &t.connect_timeout),
            send: setting("send_timeout", &t.send_timeout),
            read: setting("read_timeout", &t.read_timeout),
            buffer_size: setting("buffer_size", &t.buffer_size),
        },
    }
}

#[cfg(test)]
mod tests;
