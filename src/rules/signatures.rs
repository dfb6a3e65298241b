//! What each signature means, as the pack says: the status the client got,
//! a sentence, and the causes it can mean.
//!
//! The log classifier owns the vocabulary (which line is which
//! [`Signature`]); its meaning is pack knowledge, so that the diagnosis,
//! `explain` and `scan` read one text and `--rules DIR` changes all three.
//! A pack that has no `signatures:` section gets the default pack's.

use std::path::Path;

use crate::expr::Expr;
use crate::logs::facts::{line_facts, text_facts};
use crate::logs::nginx_line::ErrorLine;
use crate::logs::signature::{Signature, SignatureSet};
use crate::template::Template;
use crate::value::Facts;

use super::{Problems, build, embedded};

/// What a ranking rule calls the facts of the line it reads: the name the
/// default pack gives each failing upstream it walks (`upstream.port`), so
/// that one vocabulary serves the diagnosis and `explain`.
pub const LINE: &str = "upstream";

/// What one signature means.
#[derive(Debug, Clone)]
pub struct SignatureDoc {
    /// What the client got: 502, 504 or 500; `None` when nginx chose no
    /// status (a configuration error, the body phase, FastCGI stderr).
    pub status: Option<u16>,
    /// One plain sentence: what happened.
    pub summary: String,
    /// The cause ids it can mean, most likely first.
    pub causes: Vec<String>,
    /// What puts another of `causes` first when a line shows more.
    pub rank: Vec<RankRule>,
    /// What the client got: the first rule that holds decides.
    pub client_got: Vec<LineRule>,
    /// Facts that change how to read such a line: each rule that holds.
    pub notes: Vec<LineRule>,
}

/// A sentence of the pack for a line, when its condition holds on the
/// line's facts.
#[derive(Debug, Clone)]
pub struct LineRule {
    /// `None`: always.
    pub when: Option<Expr>,
    /// The status the client got (`client_got` only).
    pub status: Option<u16>,
    pub text: Template,
}

impl LineRule {
    fn holds(&self, facts: &Facts) -> bool {
        self.when.as_ref().is_none_or(|w| w.holds(facts))
    }
}

/// A rule of the pack that ranks one cause first for a line that shows
/// more than its signature (an `http://` upstream on php-fpm's port).
#[derive(Debug, Clone)]
pub struct RankRule {
    /// Over the line's facts ([`LINE`]`.port`, ...).
    pub when: Expr,
    /// One of the signature's causes.
    pub promote: String,
    /// Why it was put first: a sentence over the line's facts.
    pub why: Template,
}

/// The causes a line can mean, in the order the pack's rules give them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    pub ids: Vec<String>,
    /// Why the order differs from the signature's, in a sentence.
    pub why: Option<String>,
}

/// The meaning of every signature, complete: built only from a pack whose
/// `signatures:` section has an entry for each one.
#[derive(Debug, Clone)]
pub struct SignatureBook {
    /// In the order of [`Signature::ALL`].
    docs: Vec<SignatureDoc>,
}

impl SignatureBook {
    /// `docs` in the order of [`Signature::ALL`]; `None` unless complete.
    pub(super) fn new(docs: Vec<SignatureDoc>) -> Option<SignatureBook> {
        (docs.len() == Signature::ALL.len()).then_some(SignatureBook { docs })
    }

    /// What `signature` means.
    pub fn of(&self, signature: Signature) -> &SignatureDoc {
        // `new` holds one entry per signature, in `ALL`'s order.
        &self.docs[index(signature)]
    }

    /// The causes `line` (which shows `signature`) can mean, most likely
    /// first: the signature's order, unless the first of its ranking rules
    /// whose condition holds on the line's facts puts one cause first.
    pub fn ranked(&self, signature: Signature, line: &ErrorLine) -> Ranked {
        let doc = self.of(signature);
        let mut ranked = Ranked {
            ids: doc.causes.clone(),
            why: None,
        };
        let facts = facts_of(line, signature);
        if let Some(rule) = doc.rank.iter().find(|r| r.when.holds(&facts)) {
            promote(&mut ranked.ids, &rule.promote);
            // A sentence that would show an unknown fact is left out.
            ranked.why = rule.why.all_known(&facts).then(|| rule.why.render(&facts));
        }
        ranked
    }

    /// What the client got for `line` (which shows `signature`), as the
    /// pack says: the status and sentence of the first `client_got` rule
    /// that holds; `None` when none does (the status then says it).
    pub fn client_got(
        &self,
        signature: Signature,
        line: &ErrorLine,
    ) -> Option<(Option<u16>, String)> {
        let facts = facts_of(line, signature);
        let rules = self.of(signature).client_got.iter();
        let rule = rules
            .filter(|r| r.text.all_known(&facts))
            .find(|r| r.holds(&facts))?;
        Some((rule.status, rule.text.render(&facts)))
    }

    /// The pack's notes on `line` (which shows `signature`): the sentence
    /// of each `notes` rule that holds.
    pub fn notes(&self, signature: Signature, line: &ErrorLine) -> Vec<String> {
        let facts = facts_of(line, signature);
        let notes = self.of(signature).notes.iter();
        notes
            .filter(|r| r.holds(&facts) && r.text.all_known(&facts))
            .map(|r| r.text.render(&facts))
            .collect()
    }

    /// Whether a line showing `signature` is an upstream failure: a
    /// request the client got 502 or 504 for, as the pack's `status` says.
    /// The one definition: the diagnosis walks these and `scan` counts
    /// these, so both say "failure" of the same lines. Not failures: a 500
    /// nginx made itself, a configuration error, the body phase (the client
    /// already had the backend's status), HTTP/0.9, FastCGI stderr and the
    /// "temporarily disabled" warning, which the pack gives no 502 or 504.
    pub fn is_upstream_failure(&self, signature: Signature) -> bool {
        matches!(self.of(signature).status, Some(502 | 504))
    }

    /// Every signature that [is an upstream failure](Self::is_upstream_failure).
    pub fn upstream_failures(&self) -> SignatureSet {
        Signature::ALL
            .into_iter()
            .filter(|s| self.is_upstream_failure(*s))
            .collect()
    }

    /// The signatures of the pack in `dir` (the default pack's without
    /// one), without building the rest of the pack: for `scan`, which
    /// needs nothing else and reads the signatures before a 1 GiB log.
    pub fn load(dir: Option<&Path>) -> Result<SignatureBook, Problems> {
        let files = match dir {
            Some(d) => embedded::read_dir(d)?,
            None => embedded::signature_files(),
        };
        build::signatures_only(files)
    }
}

/// The facts of `line` as a ranking rule reads them (`upstream.port`).
fn facts_of(line: &ErrorLine, signature: Signature) -> Facts {
    let mut facts = Facts::new();
    for (name, value) in line_facts(line, signature)
        .into_iter()
        .chain(text_facts(line))
    {
        facts.set(format!("{LINE}.{name}"), value);
    }
    facts
}

/// Moves `id` to the front (the pack's lint holds it to be a candidate).
fn promote(ids: &mut Vec<String>, id: &str) {
    if let Some(at) = ids.iter().position(|c| c == id) {
        let moved = ids.remove(at);
        ids.insert(0, moved);
    }
}

/// Where `signature` is in [`Signature::ALL`], which lists the variants in
/// the order they are declared (a test holds it to that).
fn index(signature: Signature) -> usize {
    signature as usize
}

/// The default pack's book, for unit tests of its readers (read once:
/// property tests ask for it thousands of times).
#[cfg(test)]
pub(crate) fn default_book() -> SignatureBook {
    static BOOK: std::sync::OnceLock<SignatureBook> = std::sync::OnceLock::new();
    BOOK.get_or_init(|| SignatureBook::load(None).expect("the default signatures load"))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signature_is_at_its_own_place_in_the_list_of_all() {
        for (i, s) in Signature::ALL.into_iter().enumerate() {
            assert_eq!(index(s), i, "{}", s.id());
        }
    }

    fn book() -> SignatureBook {
        default_book()
    }

    #[test]
    fn only_timer_expiries_are_504() {
        let timeouts = [
            Signature::ConnectTimeout,
            Signature::SendTimeout,
            Signature::ReadHeaderTimeout,
            Signature::SslHandshakeTimeout,
        ];
        let book = book();
        for sig in Signature::ALL {
            let is_504 = book.of(sig).status == Some(504);
            assert_eq!(is_504, timeouts.contains(&sig), "{}", sig.id());
        }
    }

    #[test]
    fn a_dns_timeout_is_502_since_only_upstream_timers_give_504() {
        assert_eq!(book().of(Signature::ResolveFailed).status, Some(502));
    }

    #[test]
    fn informational_signatures_have_no_status() {
        let book = book();
        for sig in [
            Signature::BodyPhase,
            Signature::NoValidHttp,
            Signature::FastcgiStderr,
        ] {
            assert_eq!(book.of(sig).status, None, "{}", sig.id());
        }
    }

    #[test]
    fn summaries_are_single_sentences() {
        let book = book();
        for sig in Signature::ALL {
            let s = &book.of(sig).summary;
            assert!(s.ends_with('.') && !s.contains('\n'), "{}", sig.id());
        }
    }

    #[test]
    fn upstream_failures_are_what_the_client_got_502_or_504_for() {
        let book = book();
        let failures = book.upstream_failures();
        for sig in Signature::ALL {
            let gateway = matches!(book.of(sig).status, Some(502 | 504));
            assert_eq!(failures.contains(sig), gateway, "{}", sig.id());
        }
        for context in [
            Signature::BodyPhase,
            Signature::FastcgiStderr,
            Signature::UpstreamDisabledWarn,
            Signature::Internal500,
        ] {
            assert!(!book.is_upstream_failure(context), "{}", context.id());
        }
    }

    #[test]
    fn the_default_pack_gives_every_signature_a_meaning() {
        let book = book();
        let refused = book.of(Signature::ConnRefusedTcp);
        assert_eq!(refused.status, Some(502));
        assert_eq!(refused.causes[0], "backend-down");
        assert_eq!(book.of(Signature::BodyPhase).status, None);
        assert!(book.of(Signature::FastcgiStderr).causes.is_empty());
    }
}
