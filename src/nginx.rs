//! A model of the host's nginx, so that findings can name the location, the
//! pass directive, its file:line and its effective timeouts.
//!
//! - [`lexer`] and [`parse`]: nginx's own tokenising rules and `include`
//!   handling, from disk ([`parse_file`]) or from `nginx -T` ([`parse_dump`]);
//! - [`mod@model`]: what the diagnosis needs from the tree (worker user, logs,
//!   upstream groups, servers, locations, pass targets, effective timeouts),
//!   with [`address`] parsing pass targets and error-log `upstream:` fields
//!   and [`locate`] choosing the server and location for a request as nginx does;
//! - `resolve` and `registry`: which pass of a block nginx uses, what each
//!   target refers to in nginx's list of upstreams, and what `nginx -t`
//!   would refuse about them ([`Model::problems`]);
//! - [`discover`]: running nginx masters from `/proc` and `nginx -V` build facts;
//! - [`writes`]: the files and directories `nginx -t` creates or writes.

pub mod address;
mod build;
pub mod discover;
pub mod lexer;
pub mod locate;
mod lua;
pub mod model;
pub mod parse;
mod registry;
mod resolve;
mod source;
pub mod values;
pub mod writes;

pub use address::Address;
pub use discover::{BuildInfo, Master, find_masters, parse_build_info};
pub use model::{
    Effective, Location, Model, Pass, PassKind, Problem, Server, Severity, Sourced, Timeouts,
    Upstream, UpstreamServer, model,
};
pub use parse::{ConfError, Config, Directive, OpenBlock, parse_dump, parse_file, parse_str};

#[cfg(test)]
mod tests;
