//! Exit statuses: the contract scripts and pipelines rely on.

/// How a run ended. The numbers are documented in `--help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// No fault found.
    Healthy,
    /// One or more faults diagnosed.
    Faults,
    /// A usage error or an invalid rule pack.
    Usage,
    /// The diagnosis could not run or its report could not be written.
    CouldNotRun,
    /// The user quit a prompt (Ctrl-C, Esc): 128 + SIGINT.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Healthy => 0,
            ExitStatus::Faults => 1,
            ExitStatus::Usage => 2,
            ExitStatus::CouldNotRun => 3,
            ExitStatus::Interrupted => 130,
        }
    }
}
