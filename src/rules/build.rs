//! From parsed files to a checked [`RuleSet`]: resolve every reference,
//! parse every condition and template, compile every regex.
//!
//! Problems are collected, not returned at the first one, so `rules lint`
//! shows a pack author everything at once. Graph-wide soundness
//! (reachability, cycles, facts produced upstream) is `lint`'s job.

use std::collections::BTreeMap;
use std::time::Duration;

use super::schema::{self, NodeSpec, ProbeSpec, RuleFile};
use super::yaml::{self, PathSeg, PosIndex};
use super::{
    Action, Ask, Branch, Check, Conclusion, Extract, Fix, FixStep, Node, NodeKind, Origin, Probe,
    Problem, Problems, RuleSet,
};
use crate::builtin;
use crate::causes;
use crate::expr::{Expr, compile_regex};
use crate::probe::command::{DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT};
use crate::template::Template;
use crate::value::Value;

/// A parsed file with what is needed to point into it.
struct Parsed {
    name: String,
    index: PosIndex,
    file: RuleFile,
}

/// Builds a pack from its files, then lints it.
pub fn build(source: &str, files: Vec<(String, Vec<u8>)>) -> Result<RuleSet, Problems> {
    let mut problems = Vec::new();
    let mut parsed = Vec::new();
    for (name, bytes) in files {
        match yaml::from_bytes::<RuleFile>(&name, &bytes) {
            Ok((file, index)) => parsed.push(Parsed { name, index, file }),
            Err(e) => problems.push(Problem {
                file: name,
                pos: e.pos(),
                message: e.message(),
            }),
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    let mut b = Builder {
        problems,
        node_ids: BTreeMap::new(),
        probe_ids: BTreeMap::new(),
    };
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

struct Builder {
    problems: Vec<Problem>,
    node_ids: BTreeMap<String, usize>,
    probe_ids: BTreeMap<String, usize>,
}

/// The spot a message points at: a file and a path inside it.
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
        let mut probes = Vec::new();
        for f in files {
            for (id, spec) in &f.file.probes {
                let at = At::new(f, vec![PathSeg::Key("probes"), PathSeg::Key(id)]);
                probes.push(self.probe(id, spec, &at));
            }
        }
        let mut nodes = Vec::new();
        for f in files {
            for (id, spec) in &f.file.nodes {
                let at = At::new(f, vec![PathSeg::Key("nodes"), PathSeg::Key(id)]);
                nodes.push(self.node(id, spec, &at));
            }
        }
        let (header_file, spec) = header;
        let at = At::new(
            header_file,
            vec![PathSeg::Key("pack"), PathSeg::Key("start")],
        );
        let start = self.node_ref(&spec.start, &at);
        let probes: Option<Vec<Probe>> = probes.into_iter().collect();
        let nodes: Option<Vec<Node>> = nodes.into_iter().collect();
        Some(RuleSet {
            name: spec.name.clone(),
            description: spec.description.clone(),
            start: start?,
            nodes: nodes?,
            probes: probes?,
            source: source.to_owned(),
        })
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
            let at = At::new(f, vec![PathSeg::Key("pack")]);
            self.problem(
                &at,
                format!("a second `pack:` section; the first is in {}", first.0.name),
            );
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
        Template::parse(text)
            .map_err(|e| self.problem(at, format!("template: {e}")))
            .ok()
    }

    fn templates(&mut self, texts: &[String], at: &At) -> Option<Vec<Template>> {
        let out: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| self.template(t, &at.index(i)))
            .collect();
        out.into_iter().collect()
    }

    fn probe(&mut self, id: &str, spec: &ProbeSpec, at: &At) -> Option<Probe> {
        let action = self.action(spec, at)?;
        let timeout = match &spec.timeout {
            None => DEFAULT_TIMEOUT,
            Some(t) => parse_duration(t).or_else(|| {
                self.problem(
                    &at.key("timeout"),
                    format!("timeout {t:?} is not a duration like `5s` or `500ms` (at most 60s)"),
                );
                None
            })?,
        };
        let mut extract = Vec::new();
        let mut facts: Vec<String> = builtin::COMMON_FACTS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        if let Action::Builtin { name, .. } = &action {
            facts.extend(
                builtin::info(name)
                    .into_iter()
                    .flat_map(|b| b.facts)
                    .map(|s| (*s).to_owned()),
            );
        }
        for (i, e) in spec.extract.iter().enumerate() {
            let at = at.key("extract").index(i).key("regex");
            match compile_regex(&e.regex) {
                Ok(regex) => {
                    facts.extend(regex.capture_names().flatten().map(str::to_owned));
                    extract.push(Extract {
                        from: e.from,
                        regex,
                    });
                }
                Err(err) => self.problem(&at, format!("invalid regex: {err}")),
            }
        }
        let doc = match &spec.doc {
            Some(d) => Some(self.template(d, &at.key("doc"))?),
            None => None,
        };
        let max_output = spec.max_output.map_or(DEFAULT_MAX_OUTPUT, |m| {
            usize::try_from(m).unwrap_or(usize::MAX)
        });
        Some(Probe {
            id: id.to_owned(),
            origin: at.key_origin(),
            doc,
            action,
            timeout,
            max_output,
            needs: spec.needs.clone(),
            extract,
            facts,
        })
    }

    fn action(&mut self, spec: &ProbeSpec, at: &At) -> Option<Action> {
        match (&spec.run, &spec.builtin) {
            (Some(argv), None) => {
                if argv.is_empty() {
                    self.problem(&at.key("run"), "`run` needs at least the program");
                    return None;
                }
                if !spec.with.is_empty() {
                    self.problem(
                        &at.key("with"),
                        "`with` is for built-in probes; put arguments in `run`",
                    );
                }
                Some(Action::Command(self.templates(argv, &at.key("run"))?))
            }
            (None, Some(name)) => {
                let Some(info) = builtin::info(name) else {
                    let names = builtin::BUILTINS.iter().map(|b| b.name);
                    let hint = closest(name, names)
                        .map(|c| format!("; did you mean `{c}`?"))
                        .unwrap_or_default();
                    self.problem(
                        &at.key("builtin"),
                        format!("no built-in probe `{name}`{hint}"),
                    );
                    return None;
                };
                let mut with = BTreeMap::new();
                for (k, v) in &spec.with {
                    if !info.params.contains(&k.as_str()) {
                        self.problem(
                            &at.key("with").key(k),
                            format!(
                                "`{name}` takes no parameter `{k}`; it takes {:?}",
                                info.params
                            ),
                        );
                    }
                    with.insert(k.clone(), self.template(v, &at.key("with").key(k))?);
                }
                if !spec.extract.is_empty() {
                    self.problem(
                        &at.key("extract"),
                        "`extract` reads command output; a built-in gives its facts directly",
                    );
                }
                Some(Action::Builtin {
                    name: name.clone(),
                    with,
                })
            }
            _ => {
                self.problem(
                    at,
                    "a probe needs exactly one of `run` (an argv list) or `builtin`",
                );
                None
            }
        }
    }

    fn node(&mut self, id: &str, spec: &NodeSpec, at: &At) -> Option<Node> {
        let kinds = [
            spec.check.is_some(),
            spec.ask.is_some(),
            spec.conclude.is_some(),
            spec.stop.is_some(),
        ];
        let kind = match kinds {
            [true, false, false, false] => NodeKind::Check(self.check(spec, at)?),
            [false, true, false, false] => NodeKind::Ask(self.ask(spec, at)?),
            [false, false, true, false] => NodeKind::Conclude(self.conclusion(spec, at)?),
            [false, false, false, true] => {
                self.only_for(spec, at, "a stop");
                if spec.next.is_some() || !spec.branches.is_empty() {
                    self.problem(at, "a stop ends the walk; it has no `next` or `branches`");
                }
                NodeKind::Stop(
                    self.template(spec.stop.as_deref().unwrap_or_default(), &at.key("stop"))?,
                )
            }
            _ => {
                self.problem(
                    at,
                    format!(
                        "node `{id}` needs exactly one of `check`, `ask`, `conclude` or `stop`"
                    ),
                );
                return None;
            }
        };
        Some(Node {
            id: id.to_owned(),
            origin: at.key_origin(),
            kind,
        })
    }

    fn check(&mut self, spec: &NodeSpec, at: &At) -> Option<Check> {
        let name = spec.check.as_deref().unwrap_or_default();
        let probe = self.probe_ids.get(name).copied();
        if probe.is_none() {
            let hint = closest(name, self.probe_ids.keys())
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            self.problem(&at.key("check"), format!("no probe `{name}`{hint}"));
        }
        self.only_for(spec, at, "a check");
        let why = spec.why.as_ref().map(|w| self.template(w, &at.key("why")));
        let found = spec
            .found
            .as_ref()
            .map(|w| self.template(w, &at.key("found")));
        let branches = self.branches(spec, at)?;
        Some(Check {
            probe: probe?,
            why: why.flatten(),
            found: found.flatten(),
            branches,
        })
    }

    fn ask(&mut self, spec: &NodeSpec, at: &At) -> Option<Ask> {
        let question = self.template(spec.ask.as_deref().unwrap_or_default(), &at.key("ask"))?;
        let input = spec.input.unwrap_or(if spec.choices.is_empty() {
            schema::Input::Confirm
        } else {
            schema::Input::Select
        });
        if input == schema::Input::Select && spec.choices.is_empty() {
            self.problem(&at.key("input"), "a `select` question needs `choices`");
        }
        let Some(fact) = spec.fact.clone() else {
            self.problem(
                at,
                "a question needs `fact:`, the name its answer is stored under",
            );
            return None;
        };
        if fact.contains('.') || !valid_id(&fact) {
            self.problem(&at.key("fact"), format!("answer fact `{fact}` must be a plain name (no dots): dotted names belong to probes"));
        }
        let auto = match &spec.auto {
            Some(text) => Some(
                Expr::parse(text)
                    .map_err(|e| self.problem(&at.key("auto"), format!("condition: {e}")))
                    .ok()?,
            ),
            None => None,
        };
        if auto.is_none() && spec.default.is_none() {
            self.problem(
                at,
                "a question needs `auto:` or `default:` so `--auto` can answer it",
            );
        }
        let default = spec.default.as_ref().map(|d| match d {
            schema::Scalar::Bool(b) => Value::Bool(*b),
            schema::Scalar::Int(i) => Value::Int(*i),
            schema::Scalar::Str(s) => Value::Str(s.clone()),
        });
        let branches = self.branches(spec, at)?;
        Some(Ask {
            question,
            help: spec.help.clone(),
            input,
            choices: spec.choices.clone(),
            fact,
            auto,
            default,
            branches,
        })
    }

    fn branches(&mut self, spec: &NodeSpec, at: &At) -> Option<Vec<super::Branch>> {
        let mut out = Vec::new();
        for (i, b) in spec.branches.iter().enumerate() {
            let bat = at.key("branches").index(i);
            let when = match &b.when {
                Some(text) => Some(
                    Expr::parse(text)
                        .map_err(|e| self.problem(&bat.key("when"), format!("condition: {e}")))
                        .ok()?,
                ),
                None => None,
            };
            let next = self.node_ref(&b.next, &bat.key("next"))?;
            out.push(Branch {
                when,
                when_text: b.when.clone(),
                next,
            });
        }
        if let Some(next) = &spec.next {
            if !spec.branches.is_empty() {
                self.problem(&at.key("next"), "use `next` or `branches`, not both (a last branch without `when` is the otherwise)");
            }
            let next = self.node_ref(next, &at.key("next"))?;
            out.push(Branch {
                when: None,
                when_text: None,
                next,
            });
        }
        match out.last() {
            None => self.problem(at, "a check or question needs `next` or `branches`"),
            Some(last) if last.when.is_some() => {
                self.problem(&at.key("branches"), "the last branch needs no `when`: it is taken when nothing else holds, so the walk never stalls");
            }
            Some(_) => {}
        }
        Some(out)
    }

    fn conclusion(&mut self, spec: &NodeSpec, at: &At) -> Option<Conclusion> {
        let cause = spec.conclude.clone().unwrap_or_default();
        if !causes::is_known(&cause) {
            let hint = closest(&cause, causes::CAUSES.iter().map(|(c, _)| *c))
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            self.problem(
                &at.key("conclude"),
                format!("`{cause}` is not a cause id of CAUSES.md{hint}"),
            );
        }
        if !spec.branches.is_empty() || spec.next.is_some() {
            self.problem(
                at,
                "a conclusion continues with `then:`, not `next`/`branches`",
            );
        }
        let Some(title) = &spec.title else {
            self.problem(at, "a conclusion needs a `title`");
            return None;
        };
        let title = self.template(title, &at.key("title"))?;
        let explain = spec
            .explain
            .as_ref()
            .and_then(|e| self.template(e, &at.key("explain")));
        let evidence = self.templates(&spec.evidence, &at.key("evidence"))?;
        let fix = self.fix(spec.fix.as_ref(), &at.key("fix"))?;
        let then = match &spec.then {
            Some(t) => Some(self.node_ref(t, &at.key("then"))?),
            None => None,
        };
        let confidence = spec.confidence.unwrap_or(schema::Confidence::Medium);
        Some(Conclusion {
            cause,
            confidence,
            title,
            explain,
            evidence,
            fix,
            then,
        })
    }

    fn fix(&mut self, spec: Option<&schema::FixSpec>, at: &At) -> Option<Fix> {
        let Some(spec) = spec else {
            return Some(Fix::default());
        };
        let summary = spec
            .summary
            .as_ref()
            .and_then(|s| self.template(s, &at.key("summary")));
        let mut steps = Vec::new();
        for (i, s) in spec.steps.iter().enumerate() {
            let sat = at.key("steps").index(i);
            let say = self.template(&s.say, &sat.key("say"))?;
            let run = match &s.run {
                Some(argv) => Some(self.templates(argv, &sat.key("run"))?),
                None => None,
            };
            let file = s
                .file
                .as_ref()
                .and_then(|f| self.template(f, &sat.key("file")));
            let snippet = s
                .snippet
                .as_ref()
                .and_then(|f| self.template(f, &sat.key("snippet")));
            steps.push(FixStep {
                say,
                run,
                file,
                snippet,
            });
        }
        let verify = self.templates(&spec.verify, &at.key("verify"))?;
        Some(Fix {
            summary,
            steps,
            verify,
        })
    }

    fn only_for(&mut self, spec: &NodeSpec, at: &At, what: &str) {
        let stray = [
            ("help", spec.help.is_some()),
            ("fact", spec.fact.is_some()),
            ("auto", spec.auto.is_some()),
            ("default", spec.default.is_some()),
            ("choices", !spec.choices.is_empty()),
            ("title", spec.title.is_some()),
            ("fix", spec.fix.is_some()),
            ("then", spec.then.is_some()),
        ];
        for (key, present) in stray {
            if present {
                self.problem(&at.key(key), format!("`{key}` does not belong to {what}"));
            }
        }
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// `5s`, `500ms`, `1m`; bounded to a minute so no rule can hang a run.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (num, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        _ => return None,
    };
    (d <= Duration::from_secs(60) && !d.is_zero()).then_some(d)
}

/// The known name nearest to a misspelt one, when it is close enough to help.
fn closest<'a>(
    wrong: &str,
    known: impl Iterator<Item = &'a (impl AsRef<str> + ?Sized + 'a)>,
) -> Option<String> {
    known
        .map(|k| (distance(wrong, k.as_ref()), k.as_ref()))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k.to_owned())
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_bounded() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), None);
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("fast"), None);
    }

    #[test]
    fn misspelling_suggests_the_near_name() {
        let known = ["backend-down", "config-invalid"];
        assert_eq!(
            closest("backend-dwn", known.iter()),
            Some("backend-down".into())
        );
        assert_eq!(closest("zzz", known.iter()), None);
    }
}
