//! Reading an entry as far as it goes: its fields, which failure or
//! configuration error it shows, and what it leaves unknown.
//!
//! A whole line is read as the log holds it. A fragment is read by what it
//! kept: a partial `upstream:` value is no address (it would point the
//! checks at the wrong socket), an errno cut short still has its number, a
//! message without its ` while ...` is read by the phases nginx logs it in
//! ([`super::cut`]), a message without its `[level]` by its words alone.
//! Each such step leaves a [`Gap`] for the explanation to say.

use super::cut;
use super::emerg::{self, Recognised};
use super::entries::{Entry, parse_unstamped};
use super::gaps::Gap;
use super::start::{self, Form};
use crate::logs::nginx_line::ContextEnd;
use crate::logs::{Action, ErrorLine, Level, Signature, classify};

/// Shown length of a cut `upstream:` value in a gap's sentence.
const CUT_VALUE_CHARS: usize = 80;

/// An entry, read.
#[derive(Debug, Clone)]
pub struct Reading {
    pub line: ErrorLine,
    /// Whether the `[level]` was pasted (else `line.level` is assumed).
    pub level_known: bool,
    pub signature: Option<Signature>,
    /// A configuration or start-up error.
    pub config: Option<Recognised>,
    /// For a message that lost its ` while ...` and means different
    /// failures in different phases: each phase with its failure.
    pub phases: Vec<(Action, Signature)>,
    /// What the line does not say.
    pub gaps: Vec<Gap>,
}

impl Reading {
    /// Whether the text reads as nginx's: a failure, a configuration error,
    /// a message of the phases, or nginx's action or request context.
    fn recognised(&self) -> bool {
        self.signature.is_some()
            || self.config.is_some()
            || !self.phases.is_empty()
            || self.line.action.is_some()
            || (self.line.client.is_some() && self.line.server.is_some())
    }
}

/// Whether `text`, a line with none of nginx's prefixes that
/// [`start::find_start`] knows, reads as an nginx message.
pub fn reads_as_nginx(text: &str) -> bool {
    let (line, end) = parse_unstamped(text);
    let form = start::unprefixed_form(text);
    interpret(line, end, form).recognised()
}

/// `entry` read, or `None` when it is no nginx line after all.
pub fn read(entry: &Entry, utc_offset_secs: i32) -> Option<Reading> {
    let (line, end) = entry.parse(utc_offset_secs)?;
    Some(interpret(line, end, entry.form))
}

fn interpret(mut line: ErrorLine, end: ContextEnd, form: Form) -> Reading {
    let mut gaps = prefix_gaps(form);
    gaps.extend(context_end(&mut line, end));
    let errno_cut = read_cut_errno(&mut line);
    if errno_cut {
        gaps.push(Gap::CutInErrno);
    }
    let level_known = form.has_level();
    let config = emerg::recognise(&line, level_known);
    if !level_known && (config.is_some() || line.config_location.is_some()) {
        line.level = Level::Emerg;
    }
    let mut reading = Reading {
        signature: classify(&line),
        line,
        level_known,
        config,
        phases: Vec::new(),
        gaps,
    };
    let fragment = !matches!(form, Form::Stamped | Form::NginxT | Form::NoStamp);
    let cut_short = errno_cut || (reading.line.conn.is_some() && reading.line.client.is_none());
    if reading.signature.is_none() && reading.config.is_none() && (fragment || cut_short) {
        read_phases(&mut reading);
    }
    reading.gaps.extend(request_gaps(&reading, end));
    reading
}

/// The parts of nginx's prefix `form` lacks.
fn prefix_gaps(form: Form) -> Vec<Gap> {
    let mut gaps = Vec::new();
    if !form.has_time() {
        gaps.push(Gap::NoTimestamp);
    }
    if !form.has_level() {
        gaps.push(Gap::NoLevel);
    }
    gaps
}

/// The gap a cut context leaves. A partial `upstream:` is dropped: a path
/// or address cut short would name the wrong peer.
fn context_end(line: &mut ErrorLine, end: ContextEnd) -> Option<Gap> {
    match end {
        ContextEnd::Whole => None,
        ContextEnd::OpenQuote("upstream") => {
            let partial = line.upstream.take().unwrap_or_default();
            Some(Gap::CutInUpstream(super::clean(&partial, CUT_VALUE_CHARS)))
        }
        ContextEnd::OpenQuote(field) => Some(Gap::CutInValue(field)),
        // Said with what it leaves unknown, once the phase is known.
        ContextEnd::InName => None,
    }
}

/// Reads an errno cut short (` (13: Permission den`) into the line; true
/// when there was one. Backend text quoted in the message has none.
fn read_cut_errno(line: &mut ErrorLine) -> bool {
    let quoting = line.message.starts_with("FastCGI sent in stderr: ")
        || line.message.starts_with("upstream sent ");
    if line.errno.is_some() || line.action.is_some() || quoting {
        return false;
    }
    let Some((errno, text)) = cut::cut_errno(&line.message) else {
        return false;
    };
    line.errno = Some(errno);
    line.errno_text = Some(text.to_owned());
    true
}

/// Reads a message that lost its ` while ...` by the phases nginx logs it
/// in: one failure in all of them is the reading, several are listed.
fn read_phases(reading: &mut Reading) {
    let open = cut::open_phases(&reading.line);
    let phases = cut::phases(&reading.line, &open);
    match cut::agreed(&phases) {
        Some((action, signature)) => {
            let message = cut::without_cut_action(&reading.line.message).to_owned();
            reading.line.message = message;
            reading.line.action = Some(action);
            reading.signature = Some(signature);
            reading.gaps.push(Gap::ActionAssumed(action));
        }
        None if phases.is_empty() => {}
        None => {
            reading.phases = phases;
            reading.gaps.push(Gap::NoAction);
        }
    }
}

/// What a line about a request lacks: its connection number, its request
/// context, the `upstream:` a failure in an upstream phase always has.
fn request_gaps(reading: &Reading, end: ContextEnd) -> Vec<Gap> {
    let line = &reading.line;
    // An error about a connection (`*42`) has the request context after it.
    let connection_error = line.conn.is_some() && line.level.at_least(Level::Error);
    let about_a_request = reading.config.is_none()
        && (reading.signature.is_some()
            || !reading.phases.is_empty()
            || line.client.is_some()
            || connection_error);
    let mut gaps = Vec::new();
    if about_a_request && line.conn.is_none() {
        gaps.push(Gap::NoConnection);
    }
    let upstream_cut = matches!(end, ContextEnd::OpenQuote("upstream"));
    let lacks_upstream = line.upstream.is_none() && in_upstream_phase(line.action);
    if about_a_request && line.client.is_none() {
        gaps.push(Gap::NoContext);
    } else if line.client.is_some() && lacks_upstream && !upstream_cut {
        gaps.push(Gap::CutBeforeUpstream);
    } else if end == ContextEnd::InName {
        gaps.push(Gap::CutAfterField);
    }
    gaps
}

/// Whether nginx had chosen a peer (so the line names it in `upstream:`).
fn in_upstream_phase(action: Option<Action>) -> bool {
    matches!(
        action,
        Some(
            Action::ConnectingToUpstream
                | Action::SslHandshaking
                | Action::SendingRequest
                | Action::ReadingResponseHeader
                | Action::ReadingUpstream
                | Action::ProxyingUpgraded
        )
    )
}

#[cfg(test)]
mod tests;
