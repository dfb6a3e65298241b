//! Builds the pack's `signatures:` into a complete [`SignatureBook`]: every
//! signature the classifier emits has exactly one entry, every entry is one
//! it emits, and every cause is one of the pack's cause ids.

use std::collections::BTreeMap;

use super::hint::closest;
use super::{At, Builder, Parsed};
use crate::logs::signature::Signature;
use crate::rules::signatures::{SignatureBook, SignatureDoc};
use crate::rules::yaml::PathSeg;

impl Builder {
    /// The book of every file's `signatures:`; `None` (with problems) when
    /// an entry is wrong or a signature has none.
    pub(super) fn signature_book(&mut self, files: &[Parsed]) -> Option<SignatureBook> {
        let mut docs: BTreeMap<&'static str, SignatureDoc> = BTreeMap::new();
        let mut last = None;
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
        SignatureDoc {
            status: spec.status,
            summary: spec.summary.clone(),
            causes: spec.causes.clone(),
        }
    }
}
