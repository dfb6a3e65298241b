//! The list of upstreams nginx builds while it reads the http block
//! (`ngx_http_upstream_add()`): every `upstream {}` block and every pass
//! target without variables is an entry, found again by its host name
//! (ignoring case) in the order nginx reads them. That order decides what a
//! bare name means, so the model follows it rather than guessing:
//!
//! - a pass to `backend` reaches the `upstream backend` block even when the
//!   block comes later in the file;
//! - `fastcgi_pass backend:9000` next to such a block is refused, whichever
//!   comes first ("upstream "backend" may not have port 9000");
//! - a pass without a port joins the entry of an earlier pass to the same
//!   host, port included (`proxy_pass http://localhost` then `fastcgi_pass
//!   localhost` connects to port 80);
//! - an entry still without a port once everything is read fails `nginx -t`
//!   with "no port in upstream", at the directive that created it.
//!
//! Host names are not resolved: "host not found in upstream" depends on DNS
//! at start time, which a model of the files cannot know.

use std::path::PathBuf;

use super::address::{Address, Written};
use super::model::{Problem, Severity};
use super::parse::Directive;

/// A pass target as `ngx_http_upstream_add()` receives it.
pub(crate) struct Url {
    /// The address as written, scheme removed.
    pub written: Written,
    /// The scheme's port when none is written (80 for `http://`).
    pub default_port: Option<u16>,
}

/// Where a pass connects, once the whole configuration is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reached {
    /// The `upstream {}` block of that name.
    Group(String),
    /// One endpoint.
    Endpoint(Address),
    /// Nothing: nginx refuses the configuration ("no port in upstream").
    Nowhere,
}

/// An entry of nginx's list (`ngx_http_upstream_srv_conf_t`).
struct Entry {
    /// A group's name, a host name, an IP literal (IPv6 in brackets, as
    /// nginx prints it) or a socket path.
    host: String,
    /// The port written, or the scheme's default; 0 for none.
    port: u16,
    /// No port was written (a scheme's default may still apply).
    no_port: bool,
    /// Made by an `upstream {}` block.
    group: bool,
    /// A unix socket, which needs no port.
    unix: bool,
    /// The directive that made the entry, and where.
    directive: String,
    file: PathBuf,
    line: usize,
}

/// Which entry a pass refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryId(usize);

/// The list, in the order nginx adds to it.
#[derive(Default)]
pub(crate) struct Registry {
    entries: Vec<Entry>,
}

impl Registry {
    /// An `upstream NAME {}` block as nginx meets it: a new group, an
    /// earlier pass's entry turned into the group, or nginx's refusal.
    pub(crate) fn add_group(&mut self, d: &Directive) -> Result<(), Problem> {
        let name = d.arg(0).unwrap_or_default();
        let Some(entry) = self.entries.iter_mut().find(|e| same(&e.host, name)) else {
            self.entries.push(Entry {
                host: name.to_owned(),
                port: 0,
                no_port: true,
                group: true,
                unix: false,
                directive: d.name.clone(),
                file: d.file.clone(),
                line: d.line,
            });
            return Ok(());
        };
        if entry.group {
            return Err(error(
                d,
                format!("duplicate upstream \"{name}\""),
                format!(
                    "rename or remove one of the upstream blocks named {name} (nginx compares names ignoring case)"
                ),
            ));
        }
        if !entry.no_port {
            // nginx names the pass that wrote the port, not the block.
            return Err(Problem {
                severity: Severity::Error,
                directive: entry.directive.clone(),
                message: format!("upstream \"{name}\" may not have port {}", entry.port),
                hint: format!(
                    "a pass to the upstream block {name} takes no port: write {} {}",
                    entry.directive, entry.host
                ),
                file: entry.file.clone(),
                line: entry.line,
            });
        }
        *entry = Entry {
            host: name.to_owned(),
            port: 0,
            group: true,
            directive: d.name.clone(),
            file: d.file.clone(),
            line: d.line,
            ..*entry
        };
        Ok(())
    }

    /// A pass target without variables as nginx meets it: the entry it
    /// joins or makes, or nginx's refusal.
    pub(crate) fn add_pass(&mut self, url: &Url, d: &Directive) -> Result<EntryId, Problem> {
        let (host, written_port, unix) = match &url.written {
            Written::Unix(path) => (path.to_string_lossy().into_owned(), None, true),
            Written::Inet { host, port } if host.contains(':') => {
                (format!("[{host}]"), *port, false)
            }
            Written::Inet { host, port } => (host.clone(), *port, false),
        };
        // A unix socket has no port, yet nginx does not count it as "no port".
        let no_port = written_port.is_none() && !unix;
        let port = written_port.or(url.default_port).unwrap_or(0);
        for (i, e) in self.entries.iter().enumerate() {
            if !same(&e.host, &host) {
                continue;
            }
            if e.group && !no_port {
                return Err(error(
                    d,
                    format!("upstream \"{host}\" may not have port {port}"),
                    format!(
                        "{host} is an upstream block, which takes no port: write {} {host}",
                        d.name
                    ),
                ));
            }
            if e.port != 0 && port != 0 && e.port != port {
                continue;
            }
            return Ok(EntryId(i));
        }
        self.entries.push(Entry {
            host,
            port,
            no_port,
            group: false,
            unix,
            directive: d.name.clone(),
            file: d.file.clone(),
            line: d.line,
        });
        Ok(EntryId(self.entries.len() - 1))
    }

    /// Where an entry leads once everything is read.
    pub(crate) fn reached(&self, id: EntryId) -> Reached {
        let e = &self.entries[id.0];
        if e.group {
            return Reached::Group(e.host.clone());
        }
        if e.unix {
            return Reached::Endpoint(Address::Unix(PathBuf::from(&e.host)));
        }
        if e.port == 0 {
            return Reached::Nowhere;
        }
        let host = e.host.trim_start_matches('[').trim_end_matches(']');
        Reached::Endpoint(Address::Tcp {
            host: host.to_owned(),
            port: e.port,
        })
    }

    /// The directive (name, file, line) that made an entry.
    pub(crate) fn maker(&self, id: EntryId) -> (&str, &PathBuf, usize) {
        let e = &self.entries[id.0];
        (&e.directive, &e.file, e.line)
    }

    /// What fails when nginx initialises the list after reading everything
    /// (`ngx_http_upstream_init_round_robin()`): entries without a port.
    pub(crate) fn init_errors(&self) -> impl Iterator<Item = Problem> + '_ {
        self.entries
            .iter()
            .filter(|e| !e.group && !e.unix && e.port == 0)
            .map(|e| Problem {
                severity: Severity::Error,
                directive: e.directive.clone(),
                message: format!("no port in upstream \"{}\"", e.host),
                hint: format!(
                    "write the port ({} {}:PORT), or define upstream {} {{ server ADDRESS:PORT; }}",
                    e.directive, e.host, e.host
                ),
                file: e.file.clone(),
                line: e.line,
            })
    }
}

/// nginx compares upstream names ignoring ASCII case.
fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// An error nginx reports at directive `d`.
pub(crate) fn error(d: &Directive, message: String, hint: String) -> Problem {
    Problem {
        severity: Severity::Error,
        directive: d.name.clone(),
        message,
        hint,
        file: d.file.clone(),
        line: d.line,
    }
}
