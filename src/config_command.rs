//! `nginx-doctor config`: the model of nginx's configuration (being written).

use crate::ExitStatus;
use crate::cli::ConfigArgs;

/// Prints the model; see the module doc.
pub fn run(args: &ConfigArgs) -> ExitStatus {
    let _ = args;
    crate::print_error("config is not implemented yet");
    ExitStatus::CouldNotRun
}
