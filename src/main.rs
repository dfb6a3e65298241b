//! The `nginx-doctor` binary: parses arguments and hands them to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = nginx_doctor::cli::Cli::parse();
    ExitCode::from(nginx_doctor::run(cli).code())
}
