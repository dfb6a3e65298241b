//! `nginx-doctor explain`: what an nginx error-log line means, offline
//! ([`crate::explain`] reads it with the rule pack). The line comes as an
//! argument or on standard input, read up to [`MAX_INPUT`].

use std::io::{IsTerminal, Read};
use std::path::Path;

use crate::cli::{ExplainArgs, ListFormat};
use crate::error::Error;
use crate::explain::{self, MAX_INPUT, Pack};
use crate::logs;
use crate::rules::RuleSet;
use crate::{ExitStatus, print_stdout};

/// The input and whether it was cut at [`MAX_INPUT`].
struct Input {
    text: String,
    truncated: bool,
}

fn read_input(line: Option<&str>) -> std::io::Result<Input> {
    let owned;
    let bytes = match line {
        Some(l) => l.as_bytes(),
        None => {
            owned = read_stdin()?;
            &owned[..]
        }
    };
    let kept = &bytes[..bytes.len().min(MAX_INPUT)];
    Ok(Input {
        text: String::from_utf8_lossy(kept).into_owned(),
        truncated: bytes.len() > MAX_INPUT,
    })
}

/// Standard input up to one byte past [`MAX_INPUT`], so a longer input is
/// noticed without being read.
fn read_stdin() -> std::io::Result<Vec<u8>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Paste the nginx error-log line(s), then press Ctrl-D:");
    }
    let mut buf = Vec::new();
    stdin
        .lock()
        .take(MAX_INPUT as u64 + 1)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// Explains the line given, or standard input; see the module doc. Exit 0
/// when the input held an nginx error-log line, 2 when it held none (or the
/// rule pack is invalid), 3 when input or output failed.
pub fn run(args: &ExplainArgs, rules: Option<&Path>) -> Result<ExitStatus, Error> {
    let input = read_input(args.line.as_deref()).map_err(|source| Error::Input {
        what: "standard input".into(),
        source,
    })?;
    let set = RuleSet::load(rules).map_err(Error::RulePack)?;
    let mut explanation = explain::explain(&input.text, Pack::of(&set), logs::local_utc_offset());
    explanation.input_truncated = input.truncated;
    let text = match args.format {
        ListFormat::Json => explain::json(&explanation),
        ListFormat::Text if explanation.lines.is_empty() => String::new(),
        ListFormat::Text => explain::text(&explanation),
    };
    print_stdout(&text).map_err(|e| Error::output("to stdout", e))?;
    if explanation.lines.is_empty() {
        return Err(Error::Usage(explain::not_nginx(&input.text)));
    }
    Ok(ExitStatus::Healthy)
}
