//! From parsed files to a checked [`RuleSet`]: resolve every reference,
//! parse every condition and template, compile every regex.
//!
//! Problems are collected, not returned at the first one, so `rules lint`
//! shows a pack author everything at once. Graph-wide soundness
//! (reachability, cycles, facts produced upstream) is `lint`'s job.

mod argv;
mod hint;
mod meaning;
pub(crate) mod mutating;
mod node;
mod probe;
mod signature;

use std::collections::{BTreeMap, BTreeSet};

use super::schema::{self, RuleFile};
use super::signatures::SignatureBook;
use super::yaml::{self, PathSeg, Pos, PosIndex};
use super::{CauseCheck, CauseDoc, Node, Origin, Probe, Problem, Problems, Role, RuleSet};
use crate::template::Template;
use hint::closest;
pub use probe::parse_duration;

/// A parsed file with what is needed to point into it.
struct Parsed {
    name: String,
    index: PosIndex,
    file: RuleFile,
    /// The file as written, to point inside a value (a literal in a condition).
    text: String,
    /// Where each line of `text` starts: positions are looked up for every
    /// quote of every template, so counting lines from the top each time
    /// made loading the pack quadratic in its size.
    line_starts: Vec<usize>,
}

impl Parsed {
    fn new(name: String, index: PosIndex, file: RuleFile, bytes: &[u8]) -> Parsed {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Parsed {
            name,
            index,
            file,
            text,
            line_starts,
        }
    }

    /// The byte offset of `pos` (1-based line and column, in characters).
    fn byte_at(&self, pos: Pos) -> Option<usize> {
        let line_start = *self.line_starts.get(pos.line.checked_sub(1)?)?;
        let line = self.text.get(line_start..)?;
        let column = line.char_indices().nth(pos.column.checked_sub(1)?)?.0;
        Some(line_start + column)
    }

    /// The position of byte `offset`.
    fn pos_of(&self, offset: usize) -> Pos {
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let line_start = self.line_starts[line - 1];
        Pos {
            line,
            column: self.text[line_start..offset].chars().count() + 1,
        }
    }
}

/// Why `argv` changes the host, when it is a command known to (`systemctl
/// restart`, `kill`, `nginx -s`, `sysctl -w`, ...): what lint refuses in
/// a probe, and what the test suite runs only on a lab's own processes.
pub fn changes_host(argv: &[String]) -> Option<String> {
    mutating::mutation(argv)
}

impl Builder {
    /// A problem unless `cause` is one of the pack's cause ids.
    fn known_cause(&mut self, cause: &str, at: &At) {
        if self.causes.contains_key(cause) {
            return;
        }
        let hint = closest(cause, self.causes.keys().map(String::as_str))
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        self.problem(
            at,
            format!("`{cause}` is not a cause id (a key of the pack's `causes:`){hint}"),
        );
    }
}

/// Builds a pack from its files, then lints it. A pack that says nothing
/// about signatures gets the default pack's `signatures:`, and one that
/// says nothing about causes its `causes:`.
pub fn build(source: &str, files: Vec<(String, Vec<u8>)>) -> Result<RuleSet, Problems> {
    let mut parsed = parse(files)?;
    complete(&mut parsed)?;
    let mut b = Builder::default();
    let set = b.pack(source, &parsed);
    let mut problems = b.problems;
    if let Some(set) = &set {
        problems.extend(super::lint::soundness(set));
    }
    match set {
        Some(set) if problems.is_empty() => Ok(set),
        _ => Err(Problems(problems)),
    }
}

/// Builds only the `signatures:` of a pack's files (the default pack's when
/// they have none), checked against its causes: what `scan` needs,
/// without the cost of the rest.
pub fn signatures_only(files: Vec<(String, Vec<u8>)>) -> Result<SignatureBook, Problems> {
    let mut parsed = parse(files)?;
    parsed.retain(|f| !f.file.signatures.is_empty() || !f.file.causes.is_empty());
    complete(&mut parsed)?;
    let mut b = Builder::default();
    b.cause_docs(&parsed);
    let book = b.signature_book(&parsed);
    match book {
        Some(book) if b.problems.is_empty() => Ok(book),
        _ => Err(Problems(b.problems)),
    }
}

/// Adds what a pack need not copy from the default pack: its
/// `signatures:` when the files have none, and each of its `causes:` the
/// files do not describe themselves. A pack's cause ids are the default
/// pack's and its own, so a pack adds a cause by describing it.
fn complete(parsed: &mut Vec<Parsed>) -> Result<(), Problems> {
    if parsed.iter().all(|f| f.file.signatures.is_empty()) {
        parsed.extend(parse(super::embedded::signature_files())?);
    }
    let own: BTreeSet<String> = parsed
        .iter()
        .flat_map(|f| f.file.causes.keys().cloned())
        .collect();
    for mut default in parse(super::embedded::cause_files())? {
        default.file.causes.retain(|id, _| !own.contains(id));
        parsed.push(default);
    }
    Ok(())
}

/// Each file parsed, or every file's syntax problem.
fn parse(files: Vec<(String, Vec<u8>)>) -> Result<Vec<Parsed>, Problems> {
    let mut problems = Vec::new();
    let mut parsed = Vec::new();
    for (name, bytes) in files {
        match yaml::from_bytes::<RuleFile>(&name, &bytes) {
            Ok((file, index)) => parsed.push(Parsed::new(name, index, file, &bytes)),
            Err(e) => problems.push(Problem {
                file: name,
                pos: e.pos(),
                message: e.message(),
            }),
        }
    }
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(Problems(problems))
    }
}

#[derive(Default)]
struct Builder {
    problems: Vec<Problem>,
    node_ids: BTreeMap<String, usize>,
    probe_ids: BTreeMap<String, usize>,
    /// The list facts probes produce (`error-log.upstreams`), with the
    /// names of an item's facts: what an `each` node may walk.
    lists: BTreeMap<String, Vec<String>>,
    /// The probes' facts that hold a signature id (`log.signature`).
    signature_facts: BTreeSet<String>,
    /// The pack's cause ids (its `causes:` keys), each with the role of a
    /// conclusion that does not say its own.
    causes: BTreeMap<String, Role>,
}

/// The spot a message points at: a file and a path inside it.
#[derive(Clone)]
struct At<'a> {
    file: &'a Parsed,
    path: Vec<PathSeg<'a>>,
}

impl<'a> At<'a> {
    fn new(file: &'a Parsed, path: Vec<PathSeg<'a>>) -> Self {
        At { file, path }
    }

    fn key(&self, key: &'a str) -> At<'a> {
        let mut path = self.path.clone();
        path.push(PathSeg::Key(key));
        At {
            file: self.file,
            path,
        }
    }

    fn index(&self, i: usize) -> At<'a> {
        let mut path = self.path.clone();
        path.push(PathSeg::Index(i));
        At {
            file: self.file,
            path,
        }
    }

    fn origin(&self) -> Origin {
        Origin {
            file: self.file.name.clone(),
            pos: self.file.index.nearest(&self.path),
        }
    }

    /// Where exactly this spot's value is written; `None` when the index
    /// has no such node.
    fn exact_pos(&self) -> Option<Pos> {
        self.file.index.get(&self.path)
    }

    /// Where `needle`, at byte `offset` of this spot's text `value`, is
    /// written: the same occurrence of it, counted from where the value
    /// starts in the file. The value's own place when the file spells it
    /// otherwise (an escape inside it).
    fn origin_of(&self, value: &str, offset: usize, needle: &str) -> Origin {
        let whole = self.origin();
        let nth = value.match_indices(needle).position(|(i, _)| i == offset);
        let file = self.file;
        let written = nth.filter(|_| !needle.is_empty()).and_then(|n| {
            let start = file.byte_at(whole.pos)?;
            let (i, _) = file.text[start..].match_indices(needle).nth(n)?;
            Some(file.pos_of(start + i))
        });
        Origin {
            pos: written.unwrap_or(whole.pos),
            file: whole.file,
        }
    }

    /// Where the key itself is written (`backend-down:`), for definitions.
    fn key_origin(&self) -> Origin {
        let pos = self
            .file
            .index
            .key(&self.path)
            .unwrap_or_else(|| self.file.index.nearest(&self.path));
        Origin {
            file: self.file.name.clone(),
            pos,
        }
    }
}

impl Builder {
    fn problem(&mut self, at: &At, message: impl Into<String>) {
        let origin = at.origin();
        self.problems.push(Problem {
            file: origin.file,
            pos: Some(origin.pos),
            message: message.into(),
        });
    }

    fn pack(&mut self, source: &str, files: &[Parsed]) -> Option<RuleSet> {
        let header = self.header(files)?;
        self.index_ids(files);
        let causes = self.cause_docs(files);
        let mut probes = Vec::new();
        for f in files {
            for (id, spec) in &f.file.probes {
                let at = At::new(f, vec![PathSeg::Key("probes"), PathSeg::Key(id)]);
                probes.push(self.probe(id, spec, &at));
            }
        }
        self.lists = probes.iter().flatten().flat_map(list_facts).collect();
        self.signature_facts = signature::signature_facts(&probes, files);
        let mut nodes = Vec::new();
        for f in files {
            for (id, spec) in &f.file.nodes {
                let at = At::new(f, vec![PathSeg::Key("nodes"), PathSeg::Key(id)]);
                nodes.push(self.node(id, spec, &at));
            }
        }
        let signatures = self.signature_book(files);
        let (header_file, spec) = header;
        let at = At::new(
            header_file,
            vec![PathSeg::Key("pack"), PathSeg::Key("start")],
        );
        let start = self.node_ref(&spec.start, &at);
        let probes: Option<Vec<Probe>> = probes.into_iter().collect();
        let nodes: Option<Vec<Node>> = nodes.into_iter().collect();
        let unguarded = spec
            .unguarded
            .iter()
            .flat_map(|(node, facts)| {
                let at = At::new(
                    header_file,
                    vec![
                        PathSeg::Key("pack"),
                        PathSeg::Key("unguarded"),
                        PathSeg::Key(node),
                    ],
                );
                facts
                    .iter()
                    .enumerate()
                    .map(move |(i, fact)| super::Unguarded {
                        node: node.clone(),
                        fact: fact.clone(),
                        origin: at.index(i).origin(),
                    })
            })
            .collect();
        Some(RuleSet {
            name: spec.name.clone(),
            description: spec.description.clone(),
            start: start?,
            nodes: nodes?,
            probes: probes?,
            source: source.to_owned(),
            causes,
            signatures: signatures?,
            unguarded,
        })
    }

    /// The pack's causes, which are also its cause ids: what a conclusion
    /// or a signature may name.
    fn cause_docs(&mut self, files: &[Parsed]) -> BTreeMap<String, CauseDoc> {
        let mut docs = BTreeMap::new();
        for f in files {
            for (id, spec) in &f.file.causes {
                let at = At::new(f, vec![PathSeg::Key("causes"), PathSeg::Key(id)]);
                if !valid_id(id) {
                    self.problem(&at, format!("`{id}` is no cause id: use a-z, 0-9, - and _"));
                }
                let role = spec.role.unwrap_or_default();
                if matches!(role, Role::Latent | Role::Resolved) {
                    self.problem(
                        &at.key("role"),
                        "a cause's role is `cause`, `consequence` or `healthy`; `latent` and `resolved` are said by a conclusion",
                    );
                }
                self.causes.insert(id.clone(), role);
                let doc = CauseDoc {
                    summary: spec.summary.clone(),
                    checks: spec
                        .checks
                        .iter()
                        .map(|c| CauseCheck {
                            say: c.say.clone(),
                            run: c.run.clone(),
                        })
                        .collect(),
                };
                if docs.insert(id.clone(), doc).is_some() {
                    self.problem(&at, format!("cause `{id}` is documented twice"));
                }
            }
        }
        docs
    }

    fn header<'a>(&mut self, files: &'a [Parsed]) -> Option<(&'a Parsed, &'a schema::PackSpec)> {
        let mut headers = files
            .iter()
            .filter_map(|f| f.file.pack.as_ref().map(|p| (f, p)));
        let Some(first) = headers.next() else {
            let file = files.first().map_or("rules".to_owned(), |f| f.name.clone());
            self.problems.push(Problem {
                file,
                pos: None,
                message: "no file has a `pack:` section; one file must name the pack and its `start` node".into(),
            });
            return None;
        };
        for (f, _) in headers {
            let origin = At::new(f, vec![PathSeg::Key("pack")]).key_origin();
            self.problems.push(Problem {
                file: origin.file,
                pos: Some(origin.pos),
                message: format!("a second `pack:` section; the first is in {}", first.0.name),
            });
        }
        Some(first)
    }

    fn index_ids(&mut self, files: &[Parsed]) {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for f in files {
            for id in f.file.probes.keys() {
                let at = At::new(f, vec![PathSeg::Key("probes"), PathSeg::Key(id)]);
                self.unique(&mut seen, "probe", id, &at);
                let n = self.probe_ids.len();
                self.probe_ids.entry(id.clone()).or_insert(n);
            }
        }
        seen.clear();
        for f in files {
            for id in f.file.nodes.keys() {
                let at = At::new(f, vec![PathSeg::Key("nodes"), PathSeg::Key(id)]);
                self.unique(&mut seen, "node", id, &at);
                let n = self.node_ids.len();
                self.node_ids.entry(id.clone()).or_insert(n);
            }
        }
    }

    fn unique(&mut self, seen: &mut BTreeMap<String, String>, what: &str, id: &str, at: &At) {
        if !valid_id(id) {
            self.problem(
                at,
                format!("{what} id `{id}` must be lower-case letters, digits and `-`"),
            );
        }
        let here = at.origin().to_string();
        if let Some(first) = seen.insert(id.to_owned(), here) {
            self.problem(
                at,
                format!("{what} `{id}` is defined twice; the first is at {first}"),
            );
        }
    }

    fn node_ref(&mut self, id: &str, at: &At) -> Option<usize> {
        let found = self.node_ids.get(id).copied();
        if found.is_none() {
            let hint = closest(id, self.node_ids.keys())
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            self.problem(at, format!("no node `{id}`{hint}"));
        }
        found
    }

    fn template(&mut self, text: &str, at: &At) -> Option<Template> {
        let mut t = Template::parse(text)
            .map_err(|e| self.problem(at, format!("template: {e}")))
            .ok()?;
        if t.has_words() {
            self.problem(
                at,
                "template: a word list `{{name*}}` may only be a whole element of a fix step's `run`",
            );
        }
        t.locate(|offset, written| at.origin_of(text, offset, written));
        Some(t)
    }

    /// A fix step's `run`: like [`Self::templates`], but an element may be a
    /// word list `"{{name*}}"`, spliced in as one argument a word.
    fn argv_templates(&mut self, texts: &[String], at: &At) -> Option<Vec<Template>> {
        let out: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| match Template::parse(text) {
                Ok(mut t) if t.is_words_only() => {
                    let at = at.index(i);
                    t.locate(|offset, written| at.origin_of(text, offset, written));
                    Some(t)
                }
                _ => self.template(text, &at.index(i)),
            })
            .collect();
        out.into_iter().collect()
    }

    fn templates(&mut self, texts: &[String], at: &At) -> Option<Vec<Template>> {
        let out: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| self.template(t, &at.index(i)))
            .collect();
        out.into_iter().collect()
    }
}

/// A built-in probe's list facts, by their full names.
fn list_facts(probe: &Probe) -> Vec<(String, Vec<String>)> {
    let super::Action::Builtin { name, .. } = &probe.action else {
        return Vec::new();
    };
    crate::rules::builtins::info(name)
        .into_iter()
        .flat_map(|b| b.lists)
        .map(|(list, facts)| {
            let names = facts.iter().map(|f| (*f).to_owned()).collect();
            (format!("{}.{list}", probe.id), names)
        })
        .collect()
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
