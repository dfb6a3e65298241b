//! Builds the pack's `signatures:` into a complete [`SignatureBook`]: every
//! signature the classifier emits has exactly one entry, every entry is one
//! it emits, and every cause is one of the pack's cause ids. A ranking
//! rule reads only the facts of the line (`upstream.port`), and puts first
//! one of the signature's own causes.

use std::collections::BTreeMap;

use super::hint::closest;
use super::{At, Builder, Parsed};
use crate::logs::facts::{LINE_FACTS, TEXT_FACTS};
use crate::logs::signature::Signature;
use crate::rules::schema::{LineRuleSpec, RankSpec};
use crate::rules::signatures::{LINE, LineRule, RankRule, SignatureBook, SignatureDoc};
use crate::rules::yaml::PathSeg;

impl Builder {
    /// The book of every file's `signatures:`; `None` (with problems) when
    /// an entry is wrong or a signature has none.
    pub(super) fn signature_book(&mut self, files: &[Parsed]) -> Option<SignatureBook> {
        let mut docs: BTreeMap<&'static str, SignatureDoc> = BTreeMap::new();
        let mut last = None;
        // Ranking rules compare it with signature ids, checked as such.
        self.signature_facts.insert(format!("{LINE}.signature"));
        for f in files {
            for (id, spec) in &f.file.signatures {
                let at = At::new(f, vec![PathSeg::Key("signatures"), PathSeg::Key(id)]);
                last = Some(at.clone());
                let Some(signature) = Signature::from_id(id) else {
                    let hint = closest(id, Signature::ALL.map(Signature::id).iter())
                        .map(|c| format!("; did you mean `{c}`?"))
                        .unwrap_or_default();
                    self.problem(
                        &at,
                        format!("`{id}` is no signature the log classifier emits{hint}"),
                    );
                    continue;
                };
                let doc = self.signature_doc(spec, &at);
                if docs.insert(signature.id(), doc).is_some() {
                    self.problem(&at, format!("signature `{id}` is described twice"));
                }
            }
        }
        let at = last?;
        let missing: Vec<&str> = Signature::ALL
            .iter()
            .map(|s| s.id())
            .filter(|id| !docs.contains_key(id))
            .collect();
        if !missing.is_empty() {
            let list = missing.join("`, `");
            self.problem(&at, format!("`signatures:` has no entry for `{list}`: say what each signature the log classifier emits means"));
        }
        let ordered = Signature::ALL.iter().filter_map(|s| docs.remove(s.id()));
        SignatureBook::new(ordered.collect())
    }

    fn signature_doc(
        &mut self,
        spec: &crate::rules::schema::SignatureSpec,
        at: &At,
    ) -> SignatureDoc {
        for (i, cause) in spec.causes.iter().enumerate() {
            self.known_cause(cause, &at.key("causes").index(i));
        }
        if let Some(status) = spec.status.filter(|s| !(100..=599).contains(s)) {
            self.problem(
                &at.key("status"),
                format!("status {status} is no HTTP status (100 to 599)"),
            );
        }
        let rank = spec.rank.iter().enumerate();
        let rank =
            rank.filter_map(|(i, r)| self.rank_rule(r, &spec.causes, &at.key("rank").index(i)));
        let rank = rank.collect();
        let client_got = self.line_rules(&spec.client_got, true, &at.key("client_got"));
        let notes = self.line_rules(&spec.notes, false, &at.key("notes"));
        SignatureDoc {
            status: spec.status,
            summary: spec.summary.clone(),
            causes: spec.causes.clone(),
            rank,
            client_got,
            notes,
        }
    }

    /// `client_got` (which may say a status) or `notes` rules.
    fn line_rules(&mut self, specs: &[LineRuleSpec], status: bool, at: &At) -> Vec<LineRule> {
        let rules = specs.iter().enumerate();
        rules
            .filter_map(|(i, spec)| self.line_rule(spec, status, &at.index(i)))
            .collect()
    }

    fn line_rule(&mut self, spec: &LineRuleSpec, status: bool, at: &At) -> Option<LineRule> {
        match spec.status {
            Some(s) if !status => {
                let message = format!(
                    "a note has no status ({s}); say what the client got under `client_got`"
                );
                self.problem(&at.key("status"), message);
            }
            Some(s) if !(100..=599).contains(&s) => {
                self.problem(
                    &at.key("status"),
                    format!("status {s} is no HTTP status (100 to 599)"),
                );
            }
            _ => {}
        }
        let when = match &spec.when {
            Some(text) => Some(self.line_condition(text, &at.key("when"))?),
            None => None,
        };
        let text = self.line_template(&spec.text, &at.key("text"))?;
        Some(LineRule {
            when,
            status: spec.status,
            text,
        })
    }

    /// A condition that reads only the line's facts.
    fn line_condition(&mut self, text: &str, at: &At) -> Option<crate::expr::Expr> {
        let when = self.condition(text, at)?;
        for fact in when.facts() {
            self.line_fact(fact, text, text.find(fact), at);
        }
        Some(when)
    }

    /// A template that quotes only the line's facts.
    fn line_template(&mut self, text: &str, at: &At) -> Option<crate::template::Template> {
        let template = self.template(text, at)?;
        for fact in template.facts() {
            let origin = template.origin_of(fact).cloned();
            self.line_fact_at(fact, origin, at);
        }
        Some(template)
    }

    /// A ranking rule: a condition and a sentence over the line's facts,
    /// and a cause the signature lists.
    fn rank_rule(&mut self, spec: &RankSpec, causes: &[String], at: &At) -> Option<RankRule> {
        let when = self.line_condition(&spec.when, &at.key("when"));
        let promote_at = at.key("promote");
        if !self.causes.contains_key(&spec.promote) {
            self.known_cause(&spec.promote, &promote_at);
        } else if !causes.contains(&spec.promote) {
            self.problem(&promote_at, format!("`{}` is no cause of this signature, so ranking it first changes nothing; add it to `causes`", spec.promote));
        }
        let why = self.line_template(&spec.why, &at.key("why"));
        Some(RankRule {
            when: when?,
            promote: spec.promote.clone(),
            why: why?,
        })
    }

    /// A problem unless `fact` (at `offset` of the condition `text`) is a
    /// fact of the explained line.
    fn line_fact(&mut self, fact: &str, text: &str, offset: Option<usize>, at: &At) {
        let origin = offset.map(|o| at.origin_of(text, o, fact));
        self.line_fact_at(fact, origin, at);
    }

    fn line_fact_at(&mut self, fact: &str, origin: Option<crate::rules::Origin>, at: &At) {
        let known = fact
            .strip_prefix(LINE)
            .and_then(|f| f.strip_prefix('.'))
            .is_some_and(|f| LINE_FACTS.contains(&f) || TEXT_FACTS.contains(&f));
        if known {
            return;
        }
        let all = || LINE_FACTS.iter().chain(TEXT_FACTS);
        let names: Vec<String> = all().map(|f| format!("{LINE}.{f}")).collect();
        let hint = closest(fact, names.iter().map(String::as_str))
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        let origin = origin.unwrap_or_else(|| at.origin());
        self.problems.push(crate::rules::Problem {
            file: origin.file,
            pos: Some(origin.pos),
            message: format!(
                "`{fact}` is no fact of the explained line: a signature's rules read only `{LINE}.<name>`, one of {}{hint}",
                all().copied().collect::<Vec<_>>().join(", ")
            ),
        });
    }
}
