//! What nginx decides about the pass directives of the http block while it
//! reads it, walked in the order it reads them, so the model shows the pass
//! nginx uses and says what `nginx -t` would refuse:
//!
//! - a block (location, `if`, `limit_except`) has one content handler: each
//!   `*_pass`, `stub_status`, `empty_gif`, `flv` or `mp4` replaces the one
//!   before, so the last one written is used (`proxy_pass` then `grpc_pass`
//!   is gRPC); a second pass of the same module is refused ("is duplicate");
//! - each module reads its target its own way: `proxy_pass` needs `http://`
//!   or `https://` (which give ports 80 and 443), `grpc_pass` and
//!   `uwsgi_pass` may have their scheme, the others have none; a target
//!   with `$` is read per request (except by `memcached_pass`, which has no
//!   variables);
//! - what the target then refers to is the [`Registry`]'s business.

use std::collections::HashMap;
use std::ptr;

use super::address::{Address, Written, parse_url, strip_prefix_ignore_case};
use super::model::{PassKind, Problem, Severity};
use super::parse::Directive;
use super::registry::{EntryId, Reached, Registry, Url, error};

/// Content handlers that are not passes (`clcf->handler` in nginx's own modules).
const OTHER_HANDLERS: &[&str] = &["stub_status", "empty_gif", "flv", "mp4"];

/// Blocks whose content handler is their own.
const HANDLER_BLOCKS: &[&str] = &["location", "if", "limit_except"];

/// The content handlers of one block as nginx keeps them.
pub(crate) struct Handlers<'a> {
    /// The pass directives nginx accepts, in order.
    pub(crate) passes: Vec<&'a Directive>,
    /// Pass directives refused as a second one of their module.
    pub(crate) duplicates: Vec<&'a Directive>,
    /// The handler nginx uses: the last one accepted.
    pub(crate) used: Option<&'a Directive>,
}

impl<'a> Handlers<'a> {
    /// The content handlers among a block's directives.
    pub(crate) fn of(children: &'a [Directive]) -> Handlers<'a> {
        let mut h = Handlers {
            passes: Vec::new(),
            duplicates: Vec::new(),
            used: None,
        };
        for c in children {
            if PassKind::of_directive(&c.name).is_some() {
                if h.passes.iter().any(|p| p.name == c.name) {
                    h.duplicates.push(c);
                    continue;
                }
                h.passes.push(c);
                h.used = Some(c);
            } else if OTHER_HANDLERS.contains(&c.name.as_str()) {
                h.used = Some(c);
            }
        }
        h
    }

    /// The pass nginx uses, if the block's handler is a pass.
    pub(crate) fn used_pass(&self) -> Option<&'a Directive> {
        self.used
            .filter(|d| PassKind::of_directive(&d.name).is_some())
    }

    /// The accepted passes nginx does not use.
    pub(crate) fn unused(&self) -> impl Iterator<Item = &'a Directive> + '_ {
        self.passes
            .iter()
            .copied()
            .filter(|p| !self.used.is_some_and(|u| ptr::eq(*p, u)))
    }
}

/// Where each pass target leads, and the problems met on the way.
pub(crate) struct Resolved {
    /// By the identity of the pass directive in the tree walked.
    reached: HashMap<*const Directive, Reached>,
    /// In the order nginx meets them; see [`super::Model::problems`].
    pub(crate) problems: Vec<Problem>,
}

impl Resolved {
    /// Where a pass directive of the walked tree leads: None when its target
    /// has variables or nginx refuses it.
    pub(crate) fn of(&self, d: &Directive) -> Option<&Reached> {
        self.reached.get(&ptr::from_ref(d))
    }
}

/// Walks the http blocks as nginx reads them.
pub(crate) fn resolve(https: &[&Directive]) -> Resolved {
    let mut walk = Walk::default();
    for http in https {
        for d in http.children() {
            match d.name.as_str() {
                "upstream" => {
                    if let Err(p) = walk.registry.add_group(d) {
                        walk.problems.push(p);
                    }
                }
                "server" => walk.server(d),
                _ => {}
            }
        }
    }
    walk.finish()
}

/// A pass whose target is in the registry.
struct Added<'a> {
    directive: &'a Directive,
    entry: EntryId,
    /// It wrote no port and its scheme gives none.
    portless: bool,
}

#[derive(Default)]
struct Walk<'a> {
    registry: Registry,
    problems: Vec<Problem>,
    added: Vec<Added<'a>>,
}

impl<'a> Walk<'a> {
    /// The locations of a server, in order (nginx refuses a pass written
    /// anywhere else in it, even in a server-level `if`).
    fn server(&mut self, server: &'a Directive) {
        for c in server.children().iter().filter(|c| c.name == "location") {
            self.handler_block(c);
        }
    }

    fn handler_block(&mut self, block: &'a Directive) {
        let h = Handlers::of(block.children());
        for c in block.children() {
            let Some(kind) = PassKind::of_directive(&c.name) else {
                if HANDLER_BLOCKS.contains(&c.name.as_str()) {
                    self.handler_block(c);
                }
                continue;
            };
            if h.duplicates.iter().any(|d| ptr::eq(*d, c)) {
                self.problems.push(error(
                    c,
                    format!("\"{}\" directive is duplicate", c.name),
                    format!("keep one {} in this block", c.name),
                ));
            } else {
                self.pass(c, kind);
            }
        }
        if let Some(used) = h.used {
            for unused in h.unused() {
                self.problems.push(replaced(unused, used));
            }
        }
    }

    fn pass(&mut self, d: &'a Directive, kind: PassKind) {
        let target = d.arg(0).unwrap_or_default();
        if kind.has_variables(target) {
            return;
        }
        let added = url(kind, target)
            .map_err(|message| error(d, message, address_hint(kind)))
            .and_then(|u| {
                let portless = matches!(&u.written, Written::Inet { port: None, .. })
                    && u.default_port.is_none();
                Ok((self.registry.add_pass(&u, d)?, portless))
            });
        match added {
            Ok((entry, portless)) => self.added.push(Added {
                directive: d,
                entry,
                portless,
            }),
            Err(p) => self.problems.push(p),
        }
    }

    fn finish(mut self) -> Resolved {
        self.problems.extend(self.registry.init_errors());
        let mut reached = HashMap::new();
        for a in &self.added {
            let to = self.registry.reached(a.entry);
            if a.portless
                && let Reached::Endpoint(Address::Tcp { port, .. }) = &to
            {
                self.problems.push(borrowed_port(
                    a.directive,
                    *port,
                    self.registry.maker(a.entry),
                ));
            }
            reached.insert(ptr::from_ref(a.directive), to);
        }
        Resolved {
            reached,
            problems: self.problems,
        }
    }
}

/// Reads a target as the module does: its scheme, then `ngx_parse_url()`.
fn url(kind: PassKind, target: &str) -> Result<Url, String> {
    let schemes: &[(&str, Option<u16>)] = match kind {
        PassKind::Proxy => &[("http://", Some(80)), ("https://", Some(443))],
        PassKind::Grpc => &[("grpc://", None), ("grpcs://", None)],
        PassKind::Uwsgi => &[("uwsgi://", None), ("suwsgi://", None)],
        _ => &[],
    };
    let scheme = schemes
        .iter()
        .find_map(|(s, port)| Some((strip_prefix_ignore_case(target, s)?, *port)));
    let (rest, default_port) = match scheme {
        Some(found) => found,
        None if kind == PassKind::Proxy => return Err("invalid URL prefix".to_owned()),
        None => (target, None),
    };
    let written = parse_url(rest, kind == PassKind::Proxy)
        .map_err(|reason| format!("{reason} in upstream \"{rest}\""))?;
    Ok(Url {
        written,
        default_port,
    })
}

fn address_hint(kind: PassKind) -> String {
    match kind {
        PassKind::Proxy => {
            "write the target as http://HOST:PORT, https://HOST:PORT or http://unix:/PATH:".into()
        }
        _ => format!(
            "write the target as HOST:PORT, [IPv6]:PORT or unix:/PATH ({}_pass 127.0.0.1:9000)",
            kind.prefix()
        ),
    }
}

/// A pass nginx accepts and never uses.
fn replaced(unused: &Directive, used: &Directive) -> Problem {
    Problem {
        severity: Severity::Warning,
        directive: unused.name.clone(),
        message: format!(
            "{} is not used: {} at {}:{} comes later in the same block, and nginx uses the last content handler",
            unused.name,
            used.name,
            used.file.display(),
            used.line
        ),
        hint: format!(
            "remove the {} nginx does not use, or give it its own location",
            unused.name
        ),
        file: unused.file.clone(),
        line: unused.line,
    }
}

/// A pass without a port that connects with the port of an earlier pass.
fn borrowed_port(d: &Directive, port: u16, maker: (&str, &std::path::PathBuf, usize)) -> Problem {
    let (other, file, line) = maker;
    let target = d.arg(0).unwrap_or_default();
    Problem {
        severity: Severity::Warning,
        directive: d.name.clone(),
        message: format!(
            "{} {target} has no port: nginx connects to port {port}, taken from {other} at {}:{line} (the same host)",
            d.name,
            file.display()
        ),
        hint: format!("write the port meant: {} {target}:PORT", d.name),
        file: d.file.clone(),
        line: d.line,
    }
}
