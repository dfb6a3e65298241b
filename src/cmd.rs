//! The subcommands, one thin module each: the parsed arguments in, the
//! session and the pack they need built, one call into the layers below,
//! the result rendered and printed, and an exit status or an
//! [`crate::error::Error`] out. No subcommand imports another.

pub mod config;
pub mod diagnose;
pub mod explain;
pub mod rules;
pub mod scan;
