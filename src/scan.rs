//! `nginx-doctor scan`: upstream failures counted over time (being written).

use crate::ExitStatus;
use crate::cli::ScanArgs;

/// Scans logs; see the module doc.
pub fn run(args: &ScanArgs) -> ExitStatus {
    let _ = args;
    crate::print_error("scan is not implemented yet");
    ExitStatus::CouldNotRun
}
