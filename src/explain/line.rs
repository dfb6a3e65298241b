//! One entry, explained: what it means, what the client got, the causes
//! it can have with their checks, and how the pasted text was read.
//!
//! Four kinds of line meet here: an upstream failure (a signature of
//! [`crate::logs`]), a configuration or start-up error ([`super::emerg`]),
//! a message cut before nginx said what it was doing (the phases it may
//! have been in, [`super::cut`]), and any other nginx line.

use std::collections::BTreeMap;

use super::entries::Entry;
use super::meaning::{self, ClientGot};
use super::reading::Reading;
use super::when::{self, Said};
use super::{
    Candidate, Check, ConfigError, FIELD_CHARS, Fields, LineExplanation, MESSAGE_CHARS, Note, Pack,
    Paste, clean, paste, rank, tokens,
};
use crate::logs::{self, ErrorLine, Signature};
use crate::rules::CauseDoc;
use crate::rules::signatures::SignatureBook;

/// What a line means, before its causes are looked up.
struct Meaning {
    got: ClientGot,
    summary: String,
    ids: Vec<String>,
    notes: Vec<String>,
    config: Option<ConfigError>,
}

/// Explains `entry`, read as `reading`; `said` are the input lines that say
/// when a configuration error was logged.
pub fn explain_line(
    entry: &Entry,
    reading: &Reading,
    pack: Pack,
    said: &[Said],
) -> LineExplanation {
    let line = &reading.line;
    let meaning = match (&reading.config, reading.signature) {
        (Some(_), _) => config_meaning(entry, reading, said),
        (None, Some(sig)) => failure_meaning(sig, line, pack.signatures),
        (None, None) if !reading.phases.is_empty() => phases_meaning(reading, pack.signatures),
        (None, None) => other_meaning(line),
    };
    let tokens = tokens::Tokens::of(line);
    LineExplanation {
        input_line: entry.first_line,
        parsed: fields(entry, reading),
        signature: reading.signature,
        status: meaning.got.status,
        client_got: meaning.got.text,
        summary: meaning.summary,
        phase: line.action.map(meaning::phase),
        // The errno words are about upstream connections; a start-up
        // error's own meaning says what its errno means there.
        errno_meaning: reading
            .config
            .is_none()
            .then(|| meaning::errno_meaning(line))
            .flatten(),
        notes: meaning.notes,
        candidates: meaning
            .ids
            .iter()
            .map(|id| candidate(id, pack.causes, &tokens))
            .collect(),
        paste: paste_notes(entry, reading),
        config_error: meaning.config,
        consequence_of: None,
    }
}

fn failure_meaning(sig: Signature, line: &ErrorLine, book: &SignatureBook) -> Meaning {
    let ranked = rank::rank(sig, line, book);
    let mut notes: Vec<String> = ranked.why.into_iter().collect();
    notes.extend(meaning::notes(sig, line, book));
    Meaning {
        got: meaning::client_got(sig, line, book),
        summary: book.of(sig).summary.clone(),
        ids: ranked.ids,
        notes,
        config: None,
    }
}

fn other_meaning(line: &ErrorLine) -> Meaning {
    Meaning {
        got: ClientGot {
            status: None,
            text: "no 502 or 504 from this line.".to_owned(),
        },
        summary: meaning::not_an_upstream_failure(line).to_owned(),
        ids: Vec::new(),
        notes: Vec::new(),
        config: None,
    }
}

/// A message without its ` while ...` that means a different failure in
/// each phase: each failure's reading is a note naming its phases, and the
/// causes are those of every reading, the ones more readings share first.
fn phases_meaning(reading: &Reading, book: &SignatureBook) -> Meaning {
    let mut readings: Vec<(Signature, Vec<&str>)> = Vec::new();
    for (action, sig) in &reading.phases {
        match readings.iter_mut().find(|(s, _)| s == sig) {
            Some((_, actions)) => actions.push(action.as_str()),
            None => readings.push((*sig, vec![action.as_str()])),
        }
    }
    let notes = readings
        .iter()
        .map(|(sig, actions)| {
            let doc = book.of(*sig);
            let status = (doc.status).map_or_else(|| "no 502 or 504".to_owned(), |s| s.to_string());
            format!(
                "While {}: {} ({status}). {}",
                actions.join(", or "),
                sig.id(),
                doc.summary
            )
        })
        .collect();
    let signatures: Vec<Signature> = readings.iter().map(|(sig, _)| *sig).collect();
    Meaning {
        got: ClientGot {
            status: None,
            text: "not known from this line: it depends on what nginx was doing (see the notes).".to_owned(),
        },
        summary: "nginx logs this message in several phases, and it means another failure in each; the line does not say which phase this was.".to_owned(),
        ids: shared_causes(&signatures, book),
        notes,
        config: None,
    }
}

/// The causes of `signatures`, those more of them list first, then by
/// their best rank in a list.
fn shared_causes(signatures: &[Signature], book: &SignatureBook) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for sig in signatures {
        for id in &book.of(*sig).causes {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
    }
    let lists = |id: &str| {
        let ranks = signatures
            .iter()
            .filter_map(|s| book.of(*s).causes.iter().position(|c| c == id));
        let (count, best) = ranks.fold((0, usize::MAX), |(n, b), r| (n + 1, b.min(r)));
        (std::cmp::Reverse(count), best)
    };
    ids.sort_by_key(|id| lists(id));
    ids
}

/// A configuration or start-up error: its meaning, and what follows from
/// when it was logged (the nearest input line that says).
fn config_meaning(entry: &Entry, reading: &Reading, said: &[Said]) -> Meaning {
    let Some(config) = &reading.config else {
        return other_meaning(&reading.line);
    };
    let context = when::nearest(said, entry.first_line);
    let (ids, effect) = when::outcome(config.stage, context.map(|s| s.context));
    let at = reading
        .line
        .config_location
        .as_ref()
        .map(|c| clean(&format!("{}:{}", c.file, c.line), FIELD_CHARS));
    let notes = context
        .map(|s| format!("Read with line {}: {}.", s.input_line, s.says))
        .into_iter()
        .collect();
    Meaning {
        got: ClientGot {
            status: None,
            text: "no response from this line: nginx logs it before any request, when it reads its configuration or starts.".to_owned(),
        },
        summary: clean(&config.meaning, MESSAGE_CHARS),
        ids: ids.iter().map(|id| (*id).to_owned()).collect(),
        notes,
        config: Some(ConfigError {
            id: config.id,
            stage: config.stage,
            next: config.next(at.as_deref()),
            at,
            context: context.map(|s| s.context),
            context_line: context.map(|s| s.input_line),
            effect: effect.to_owned(),
        }),
    }
}

/// How the pasted text was read: its prefix, what it lacks, what changed.
fn paste_notes(entry: &Entry, reading: &Reading) -> Paste {
    let note = |id: &'static str, text: String| Note { id, text };
    let mut repaired = Vec::new();
    if entry.smart_quotes {
        repaired.push(note("smart-quotes", paste::repair("smart-quotes", 1)));
    }
    if entry.pieces > 1 {
        repaired.push(note("wrapped", paste::repair("wrapped", entry.pieces)));
    }
    let prefix = (!entry.prefix.is_empty()).then(|| clean(&entry.prefix, FIELD_CHARS));
    Paste {
        source: paste::source_of(&entry.prefix).map(|(id, _)| id),
        prefix,
        missing: reading
            .gaps
            .iter()
            .map(|g| note(g.id(), g.text()))
            .collect(),
        repaired,
    }
}

fn fields(entry: &Entry, reading: &Reading) -> Fields {
    let line = &reading.line;
    let short = |v: &Option<String>| v.as_deref().map(|s| clean(s, FIELD_CHARS));
    Fields {
        time: line.time.map(|t| t.to_string()),
        local_time: entry.local_time().map(str::to_owned),
        level: reading.level_known.then(|| line.level.as_str()),
        pid: line.pid,
        tid: line.tid,
        connection: line.conn,
        message: clean(&line.message, MESSAGE_CHARS),
        errno: line.errno,
        errno_text: short(&line.errno_text),
        action: line.action.map(logs::Action::as_str),
        client: short(&line.client),
        server: short(&line.server),
        request: short(&line.request),
        subrequest: short(&line.subrequest),
        upstream: short(&line.upstream),
        host: short(&line.host),
        referrer: short(&line.referrer),
        config_file: line
            .config_location
            .as_ref()
            .map(|c| clean(&c.file, FIELD_CHARS)),
        config_line: line.config_location.as_ref().map(|c| c.line),
    }
}

/// A cause with the pack's doc.
fn candidate(id: &str, causes: &BTreeMap<String, CauseDoc>, tokens: &tokens::Tokens) -> Candidate {
    match causes.get(id) {
        Some(doc) => Candidate {
            id: id.to_owned(),
            summary: doc.summary.clone(),
            checks: doc
                .checks
                .iter()
                .filter(|c| c.run.as_deref().is_none_or(|r| tokens.fits(r)))
                .map(|c| Check {
                    say: c.say.clone(),
                    run: c.run.as_deref().map(|r| tokens.fill(r)),
                })
                .collect(),
        },
        // The pack's signatures name only its causes; a cause without
        // a doc is shown by its id alone.
        None => Candidate {
            id: id.to_owned(),
            summary: String::new(),
            checks: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::signatures::default_book;

    #[test]
    fn causes_more_readings_share_come_first() {
        let timeouts = [
            Signature::ConnectTimeout,
            Signature::SslHandshakeTimeout,
            Signature::SendTimeout,
            Signature::ReadHeaderTimeout,
        ];
        let ids = shared_causes(&timeouts, &default_book());
        assert_eq!(ids[..2], ["upstream-timeout", "backend-pool-exhausted"]);
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "each cause once: {ids:?}");
        assert!(ids.iter().any(|id| id == "firewall-blocked"));
    }

    #[test]
    fn one_reading_keeps_its_own_order() {
        let book = default_book();
        let ids = shared_causes(&[Signature::ConnRefusedTcp], &book);
        assert_eq!(ids, book.of(Signature::ConnRefusedTcp).causes);
    }
}
