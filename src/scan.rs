//! `nginx-doctor scan`: the upstream failures in nginx's error logs, counted
//! by signature, by upstream and over time.
//!
//! Where `--auto` looks at the last minutes, `scan` answers "what has been
//! failing, since when, how often" over hours or days of possibly huge
//! logs, so it is built for throughput with bounded memory:
//!
//! * `seek` finds the window's first line by bisection, so `--since 15m`
//!   on a 10 GiB log reads megabytes, not gigabytes;
//! * the rotated copies the window reaches are read too
//!   (`logs::rotated`), compressed ones as a stream;
//! * `read` reads plain files forward in parts, a few per CPU, whose
//!   counts merge into exactly what one pass would count, each part seen
//!   through 4 MiB windows `mapped` in turn (no copy from the page cache,
//!   safe against the file shrinking meanwhile); `lines` reads what cannot
//!   be mapped in 256 KiB chunks, handing out lines without copying them;
//! * [`crate::logs::prefilter`] rejects nearly every line that cannot be a failure with a
//!   few word comparisons, and `clock` times a new timestamp from its
//!   date's midnight; only the rest is parsed without copying
//!   (`nginx_line::parse_line_ref`), classified (`count`) and named
//!   (`upstream`) into a `tally` whose size does not depend on the log's;
//! * `render` prints the result, every host string sanitized.

mod clock;
mod count;
mod hash;
mod lines;
mod mapped;
#[cfg(test)]
mod oracle;
mod read;
mod render;
mod seek;
mod tally;
mod upstream;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::cli::{ListFormat, ScanArgs};
use crate::logs::Timestamp;
use crate::logs::nginx_line::line_time;
use crate::logs::rotated::{Source, window_sources};
use crate::logs::signature::SignatureSet;
use crate::logs::time::local_utc_offset;
use crate::probe::builtin::Discover;
use crate::rules::signatures::SignatureBook;
use crate::session::Session;
use crate::{ExitStatus, print_error, print_stdout};
use count::Window;
pub use tally::{Histogram, SignatureCount, Tally};

/// What a scan found.
#[derive(Debug)]
pub struct Scan {
    pub tally: Tally,
    pub since: Timestamp,
    /// Where histograms start: `since`, or the first line read when later.
    pub origin: Timestamp,
    /// The latest line or failure read (the histograms' end).
    pub end: Timestamp,
    /// The files read, oldest first per log.
    pub read: Vec<PathBuf>,
    /// The files that could not be read, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Runs `nginx-doctor scan`; see the module doc.
pub fn run(args: &ScanArgs, rules: Option<&Path>) -> ExitStatus {
    let mut session = match Session::start(&args.request()) {
        Ok(s) => s,
        Err(e) => {
            print_error(&e.to_string());
            return e.status();
        }
    };
    let since = session.options.since;
    // The logs named (as arguments or with --error-log), else the
    // configuration's.
    let mut logs = args.logs.clone();
    logs.extend(session.options.error_logs.iter().cloned());
    if logs.is_empty() {
        logs = session.error_logs();
    }
    let book = match SignatureBook::load(rules) {
        Ok(book) => book,
        Err(problems) => return crate::rules_command::refuse(problems),
    };
    let scan = scan_logs(&logs, since, local_utc_offset(), book.upstream_failures());
    let report = render::Report::new(&scan, &book);
    let printed = match args.format {
        ListFormat::Text => render::text(&report),
        ListFormat::Json => render::json(&report),
    };
    if let Err(e) = print_stdout(&printed) {
        print_error(&format!("could not write the output: {e}"));
        return ExitStatus::CouldNotRun;
    }
    if scan.read.is_empty() {
        print_error(
            "no log could be read; name one (nginx-doctor scan /var/log/nginx/error.log) or run as root",
        );
        ExitStatus::CouldNotRun
    } else if report.total > 0 {
        ExitStatus::Faults
    } else {
        ExitStatus::Healthy
    }
}

/// Counts the upstream failures (the signatures of `failures`) logged at or
/// after `since` in `logs` and the rotated copies the window reaches into.
pub fn scan_logs(
    logs: &[PathBuf],
    since: Timestamp,
    utc_offset: i32,
    failures: SignatureSet,
) -> Scan {
    let time_of = |line: &[u8]| line_time(line, utc_offset);
    let mut unreadable = Vec::new();
    let mut planned = Vec::new();
    for log in logs {
        for source in window_sources(log, since, time_of) {
            match plan(&source, since, time_of) {
                Ok(p) => planned.push(p),
                Err(e) => unreadable.push((source.path.clone(), reason(&source.path, &e))),
            }
        }
    }
    let first = planned.iter().filter_map(|p| p.first).min();
    let origin = first.map_or(since, |f| f.max(since));
    let window = Window {
        since,
        origin,
        utc_offset,
        failures,
    };
    let mut tally = Tally::new(origin);
    let mut read = Vec::new();
    let parts = read::Parts::for_this_machine();
    for p in planned {
        let path = p.source.path.clone();
        match p.count(window, &tally, parts) {
            Ok(t) => {
                tally.merge(t);
                read.push(path);
            }
            Err(e) => unreadable.push((path.clone(), reason(&path, &e))),
        }
    }
    let end = tally
        .last_line
        .max(tally.last_failure())
        .map_or(origin, |e| e.max(origin));
    Scan {
        tally,
        since,
        origin,
        end,
        read,
        unreadable,
    }
}

/// One file, opened and positioned at the window's start.
struct Planned {
    source: Source,
    from: Opened,
    /// The time of its first line in the window (or just before it).
    first: Option<Timestamp>,
}

enum Opened {
    /// A plain file, read from `from` (a line start) to `len`.
    Plain { file: File, from: u64, len: u64 },
    /// A compressed copy, read whole.
    Stream(Box<dyn Read + Send>),
}

fn plan<F>(source: &Source, since: Timestamp, mut time_of: F) -> io::Result<Planned>
where
    F: FnMut(&[u8]) -> Option<Timestamp>,
{
    if source.compressed {
        return Ok(Planned {
            first: source.first_time(&mut time_of)?,
            from: Opened::Stream(source.open()?),
            source: source.clone(),
        });
    }
    let file = File::open(&source.path)?;
    let len = file.metadata()?.len();
    let from = seek::seek_since(&file, len, since, &mut time_of)?;
    let first = seek::first_line_after(&file, from, len, &mut time_of)?.map(|(_, t)| t);
    Ok(Planned {
        source: source.clone(),
        from: Opened::Plain { file, from, len },
        first,
    })
}

impl Planned {
    /// Its failures, counted after those of `before` (the files before it).
    fn count(self, window: Window, before: &Tally, parts: read::Parts) -> io::Result<Tally> {
        match self.from {
            Opened::Plain { file, from, len } => {
                read::count_plain(&file, (from, len), window, before, parts)
            }
            Opened::Stream(reader) => read::count_stream(reader, window, before),
        }
    }
}

/// Why `path` could not be read, and what to do about it.
fn reason(path: &Path, e: &io::Error) -> String {
    let name = path.to_string_lossy();
    let hint = match e.kind() {
        io::ErrorKind::PermissionDenied => "; run as root: sudo nginx-doctor scan",
        io::ErrorKind::NotFound if name == "stderr" || name.contains(':') => {
            "; nginx writes this log to stderr, syslog or memory, not to a file"
        }
        _ => "",
    };
    format!("{e}{hint}")
}
