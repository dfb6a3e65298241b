//! `nginx-doctor scan`: the upstream failures in nginx's error logs,
//! counted by signature, by upstream and over time ([`crate::scan`] does
//! the counting), printed as a table or JSON.

mod render;

use std::path::Path;

use crate::cli::{ListFormat, ScanArgs};
use crate::error::{Error, Result};
use crate::logs::time::local_utc_offset;
use crate::probe::builtin::Discover;
use crate::rules::signatures::SignatureBook;
use crate::scan::scan_logs;
use crate::session::Session;
use crate::{ExitStatus, print_stdout};

/// Runs `nginx-doctor scan`; see the module doc.
pub fn run(args: &ScanArgs, rules: Option<&Path>) -> Result<ExitStatus> {
    let mut session = Session::start(&args.request())?;
    let since = session.options.since;
    // The logs named (as arguments or with --error-log), else the
    // configuration's.
    let mut logs = args.logs.clone();
    logs.extend(session.options.error_logs.iter().cloned());
    if logs.is_empty() {
        logs = session.error_logs();
    }
    let book = SignatureBook::load(rules).map_err(Error::RulePack)?;
    let scan = scan_logs(&logs, since, local_utc_offset(), book.upstream_failures());
    let report = render::Report::new(&scan, &book);
    let printed = match args.format {
        ListFormat::Text => render::text(&report),
        ListFormat::Json => render::json(&report),
    };
    print_stdout(&printed).map_err(|e| Error::output("the output", e))?;
    if scan.read.is_empty() {
        Err(Error::CouldNotRun(
            "no log could be read; name one (nginx-doctor scan /var/log/nginx/error.log) or run as root".into(),
        ))
    } else if report.total > 0 {
        Ok(ExitStatus::Faults)
    } else {
        Ok(ExitStatus::Healthy)
    }
}
