//! `nginx-doctor explain`: what one error-log line means (being written).

use std::path::Path;

use crate::ExitStatus;
use crate::cli::ExplainArgs;

/// Explains a line; see the module doc.
pub fn run(args: &ExplainArgs, rules: Option<&Path>) -> ExitStatus {
    let _ = (args, rules);
    crate::print_error("explain is not implemented yet");
    ExitStatus::CouldNotRun
}
