//! What the diagnosis needs to know about a configuration: the worker user,
//! every error and access log, the `upstream {}` groups, and for every
//! `http` server and location the pass directive (kind, target, address,
//! group) with the timeouts and buffer size that are in effect for it,
//! inherited location → server → http as nginx merges them, or nginx's
//! default when nothing sets them. Every fact keeps its file:line.
//!
//! Only the `http` context is modelled for servers and upstreams; `stream`
//! and `mail` servers are not (their logs are collected).

use std::path::PathBuf;

use super::address::{Address, Written, parse_written, split_scheme};
use super::values::{parse_size, parse_time};

pub use super::build::model;

/// A value with the place it was configured.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// File of the directive.
    pub file: PathBuf,
    /// Line of the directive.
    pub line: usize,
}

/// The facts extracted from a configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Model {
    /// The `user` directive's user. None: nginx's compiled default (`nobody`
    /// unless built with `--user`); nginx ignores `user` when not started as root.
    pub user: Option<Sourced<String>>,
    /// The worker group: the `user` directive's second argument, or, as nginx
    /// does, a group named like the user when only the user is given.
    pub group: Option<Sourced<String>>,
    /// Every `error_log` file at any level, relative paths resolved against the
    /// prefix. `stderr`, `syslog:` and `memory:` are skipped. None at all means
    /// nginx's compiled `--error-log-path`.
    pub error_logs: Vec<Sourced<String>>,
    /// Every `access_log` file at any level (`off` and `syslog:` skipped);
    /// paths with variables are kept as written.
    pub access_logs: Vec<Sourced<String>>,
    /// The `upstream {}` groups of the http context.
    pub upstreams: Vec<Upstream>,
    /// The `server {}` blocks of the http context.
    pub servers: Vec<Server>,
    /// What `nginx -t` would refuse about the pass targets and upstream
    /// groups, in the order nginx meets them (so the first error is the one
    /// it prints, unless it first stops on something not modelled here), and
    /// what it accepts but does otherwise than written (warnings).
    pub problems: Vec<Problem>,
}

/// Something in the configuration nginx refuses, or accepts with a surprise.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Whether `nginx -t` fails on it.
    pub severity: Severity,
    /// The directive it is about, e.g. `fastcgi_pass` or `upstream`.
    pub directive: String,
    /// For an error, nginx's own words without its " in FILE:LINE" tail;
    /// for a warning, what nginx does instead of what is written.
    pub message: String,
    /// What to change.
    pub hint: String,
    /// The file nginx names.
    pub file: PathBuf,
    /// The line nginx names.
    pub line: usize,
}

/// How bad a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// `nginx -t` fails: a reload is refused, a start does not happen.
    Error,
    /// nginx accepts it, but does something else than it reads.
    Warning,
}

impl std::fmt::Display for Problem {
    /// `FILE:LINE: message; hint`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (file, line) = (self.file.display(), self.line);
        write!(f, "{file}:{line}: {}; {}", self.message, self.hint)
    }
}

/// An `upstream name { ... }` group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Upstream {
    /// The group name.
    pub name: String,
    /// Its `server` lines.
    pub servers: Vec<UpstreamServer>,
    /// `keepalive N` (idle connections kept to the group), if set.
    pub keepalive: Option<u32>,
    /// File of the `upstream` block.
    pub file: PathBuf,
    /// Line of the `upstream` block.
    pub line: usize,
}

/// A `server` line of an upstream group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UpstreamServer {
    /// The address as written.
    pub address: String,
    /// The address parsed (port 80 when none is written, as nginx does).
    pub parsed: Option<Address>,
    /// The parameters (`weight=5`, `backup`, `max_fails=3` ...).
    pub params: Vec<String>,
    /// File of the line.
    pub file: PathBuf,
    /// Line number.
    pub line: usize,
}

/// A `server {}` block of the http context.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Server {
    /// The address of each `listen` as written (`80`, `127.0.0.1:8080`,
    /// `[::]:443`). Empty: nginx listens on `*:80` (`*:8000` when not root).
    pub listen: Vec<String>,
    /// The subset of `listen` marked `default_server` (or the old `default`).
    pub default_listen: Vec<String>,
    /// All `server_name` arguments (none means the name `""`).
    pub names: Vec<String>,
    /// File of the `server` block.
    pub file: PathBuf,
    /// Line of the `server` block.
    pub line: usize,
    /// Every location, nested ones included, in configuration order.
    pub locations: Vec<Location>,
}

/// A `location` block (nested ones are flattened, see `parent`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    /// `=`, `~`, `~*` or `^~`; None for a prefix or named (`@name`) location.
    pub modifier: Option<String>,
    /// The prefix, exact URI, regex or `@name`.
    pub path: String,
    /// Index in `Server::locations` of the enclosing location, if nested.
    pub parent: Option<usize>,
    /// File of the `location` block.
    pub file: PathBuf,
    /// Line of the `location` block.
    pub line: usize,
    /// The pass directive nginx uses for the location: the last content
    /// handler written directly in it, if that is a pass.
    pub pass: Option<Pass>,
    /// The pass nginx uses in each of its `if` and `limit_except` blocks.
    pub if_passes: Vec<Pass>,
    /// Pass directives nginx accepts but never uses, because a later content
    /// handler of the same block (another `*_pass`, `stub_status` ...) replaces them.
    pub unused_passes: Vec<Pass>,
}

/// The module a pass directive hands the request to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum PassKind {
    /// `proxy_pass`.
    Proxy,
    /// `fastcgi_pass`.
    FastCgi,
    /// `uwsgi_pass`.
    Uwsgi,
    /// `scgi_pass`.
    Scgi,
    /// `grpc_pass`.
    Grpc,
    /// `memcached_pass`.
    Memcached,
}

/// A `*_pass` directive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pass {
    /// Which module.
    pub kind: PassKind,
    /// The target as written.
    pub target: String,
    /// The written scheme, lower-cased (`http`, `https`, `grpc`, `grpcs`, `uwsgi`, `suwsgi`).
    pub scheme: Option<String>,
    /// The endpoint, when the target names one directly (not a group, no variables).
    pub address: Option<Address>,
    /// The `upstream {}` group the target refers to.
    pub upstream: Option<String>,
    /// The target contains variables: it is only known per request.
    pub has_variables: bool,
    /// Written inside an `if` or `limit_except` block of the location.
    pub conditional: bool,
    /// File of the directive.
    pub file: PathBuf,
    /// Line of the directive.
    pub line: usize,
    /// Timeouts and buffer size in effect for this pass.
    pub timeouts: Timeouts,
}

/// The `<kind>_connect_timeout`, `_send_timeout`, `_read_timeout` and
/// `_buffer_size` in effect for a pass.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Timeouts {
    /// Time to establish the connection (default 60s).
    pub connect_timeout: Effective,
    /// Time between two writes to the backend (default 60s).
    pub send_timeout: Effective,
    /// Time between two reads from the backend (default 60s).
    pub read_timeout: Effective,
    /// Buffer for the response header (default one memory page: "4k" on
    /// x86-64 and most platforms, "8k" where pages are 8 KiB).
    pub buffer_size: Effective,
    /// `<kind>_buffers`: the number and size of the response buffers
    /// (default "8 4k"), which the header buffer must fit with.
    pub buffers: Effective,
    /// `<kind>_busy_buffers_size` (default "8k"), at least the header buffer.
    pub busy_buffers_size: Effective,
}

/// A setting's value in effect and where it was set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Effective {
    /// The value as written, or nginx's default.
    pub value: String,
    /// The directive that set it; None means nginx's default.
    pub source: Option<(PathBuf, usize)>,
    /// Set in the pass's own block (its location, or its `if`), not
    /// inherited from an enclosing one.
    pub here: bool,
}

impl Effective {
    /// The value as a duration, for time settings.
    pub fn duration(&self) -> Option<std::time::Duration> {
        parse_time(&self.value)
    }

    /// The value in bytes, for size settings.
    pub fn bytes(&self) -> Option<u64> {
        parse_size(&self.value)
    }
}

impl PassKind {
    /// The kind of a directive name, if it is a pass directive.
    pub fn of_directive(name: &str) -> Option<PassKind> {
        Some(match name {
            "proxy_pass" => PassKind::Proxy,
            "fastcgi_pass" => PassKind::FastCgi,
            "uwsgi_pass" => PassKind::Uwsgi,
            "scgi_pass" => PassKind::Scgi,
            "grpc_pass" => PassKind::Grpc,
            "memcached_pass" => PassKind::Memcached,
            _ => return None,
        })
    }

    /// Whether a `$` in the target is a variable; `memcached_pass` has none
    /// and reads it as part of the address.
    pub fn has_variables(self, target: &str) -> bool {
        self != PassKind::Memcached && target.contains('$')
    }

    /// The directive prefix: `proxy`, `fastcgi`, ...
    pub fn prefix(self) -> &'static str {
        match self {
            PassKind::Proxy => "proxy",
            PassKind::FastCgi => "fastcgi",
            PassKind::Uwsgi => "uwsgi",
            PassKind::Scgi => "scgi",
            PassKind::Grpc => "grpc",
            PassKind::Memcached => "memcached",
        }
    }
}

impl Location {
    /// A named location (`@name`), reachable only by internal redirect.
    pub fn is_named(&self) -> bool {
        self.modifier.is_none() && self.path.starts_with('@')
    }

    /// Every pass of the location: the direct one, then those in `if` blocks.
    pub fn passes(&self) -> impl Iterator<Item = &Pass> {
        self.pass.iter().chain(&self.if_passes)
    }
}

impl Model {
    /// The problems `nginx -t` fails on.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
    }

    /// Every pass directive nginx uses, with its server and location.
    pub fn pass_targets(&self) -> impl Iterator<Item = (&Server, &Location, &Pass)> {
        self.servers.iter().flat_map(|s| {
            s.locations
                .iter()
                .flat_map(move |l| l.passes().map(move |p| (s, l, p)))
        })
    }

    /// The upstream group of that name (nginx compares names case-insensitively).
    pub fn upstream(&self, name: &str) -> Option<&Upstream> {
        self.upstreams
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// The endpoints a pass can connect to: its address, or its group's servers.
    pub fn endpoints(&self, pass: &Pass) -> Vec<Address> {
        match (&pass.address, &pass.upstream) {
            (Some(addr), _) => vec![addr.clone()],
            (None, Some(group)) => self
                .upstream(group)
                .map(|u| u.servers.iter().filter_map(|s| s.parsed.clone()).collect())
                .unwrap_or_default(),
            (None, None) => Vec::new(),
        }
    }

    /// The passes that may have produced a connection to `addr`: directly, or
    /// through an upstream group listing it. Passes with variables are skipped
    /// (their target is only known per request).
    pub fn find_by_upstream(&self, addr: &Address) -> Vec<(&Server, &Location, &Pass)> {
        self.pass_targets()
            .filter(|(_, _, p)| self.endpoints(p).iter().any(|e| e.same_endpoint(addr)))
            .collect()
    }

    /// The passes behind an error-log `upstream: "..."` field, including the
    /// form naming a group (`http://backend/x`, logged for "no live upstreams").
    pub fn find_by_log_upstream(&self, field: &str) -> Vec<(&Server, &Location, &Pass)> {
        let (_, rest) = split_scheme(field);
        if let Some(Written::Inet { host, port: None }) = parse_written(rest, true)
            && self.upstream(&host).is_some()
        {
            return self
                .pass_targets()
                .filter(|(_, _, p)| {
                    p.upstream
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(&host))
                })
                .collect();
        }
        Address::from_log(field)
            .map(|addr| self.find_by_upstream(&addr))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
