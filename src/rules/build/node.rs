//! Building nodes: checks, questions, conclusions and stops, with their
//! branches, conditions and templates.

use super::hint::closest;
use super::{At, Builder, valid_id};
use crate::causes;
use crate::expr::Expr;
use crate::rules::schema::{self, NodeSpec};
use crate::rules::{Ask, Branch, Check, Conclusion, Fix, FixStep, Node, NodeKind};
use crate::value::Value;

/// The keys only some kinds of node have, besides their kind key and the
/// `next`/`branches` of checks and questions (checked with their own hints).
const KIND_KEYS: [&str; 14] = [
    "why",
    "found",
    "help",
    "input",
    "choices",
    "fact",
    "auto",
    "default",
    "confidence",
    "title",
    "explain",
    "evidence",
    "fix",
    "then",
];

impl Builder {
    pub(super) fn node(&mut self, id: &str, spec: &NodeSpec, at: &At) -> Option<Node> {
        let kinds = [
            spec.check.is_some(),
            spec.ask.is_some(),
            spec.conclude.is_some(),
            spec.stop.is_some(),
        ];
        let kind = match kinds {
            [true, false, false, false] => {
                self.only_for(spec, at, "a check", &["why", "found"]);
                NodeKind::Check(self.check(spec, at)?)
            }
            [false, true, false, false] => {
                let own = ["help", "input", "choices", "fact", "auto", "default"];
                self.only_for(spec, at, "a question", &own);
                NodeKind::Ask(self.ask(spec, at)?)
            }
            [false, false, true, false] => {
                let own = ["confidence", "title", "explain", "evidence", "fix", "then"];
                self.only_for(spec, at, "a conclusion", &own);
                NodeKind::Conclude(self.conclusion(spec, at)?)
            }
            [false, false, false, true] => {
                self.only_for(spec, at, "a stop", &[]);
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

    // Each kind checks every part before a failure returns, so one lint run
    // lists all of a node's problems.

    fn check(&mut self, spec: &NodeSpec, at: &At) -> Option<Check> {
        let name = spec.check.as_deref().unwrap_or_default();
        let probe = self.probe_ids.get(name).copied();
        if probe.is_none() {
            let hint = closest(name, self.probe_ids.keys())
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            self.problem(&at.key("check"), format!("no probe `{name}`{hint}"));
        }
        let why = spec.why.as_ref().map(|w| self.template(w, &at.key("why")));
        let found = spec
            .found
            .as_ref()
            .map(|w| self.template(w, &at.key("found")));
        let branches = self.branches(spec, at);
        Some(Check {
            probe: probe?,
            why: why.flatten(),
            found: found.flatten(),
            branches: branches?,
        })
    }

    fn ask(&mut self, spec: &NodeSpec, at: &At) -> Option<Ask> {
        let question = self.template(spec.ask.as_deref().unwrap_or_default(), &at.key("ask"));
        let input = spec.input.unwrap_or(if spec.choices.is_empty() {
            schema::Input::Confirm
        } else {
            schema::Input::Select
        });
        if input == schema::Input::Select && spec.choices.is_empty() {
            self.problem(&at.key("input"), "a `select` question needs `choices`");
        }
        match &spec.fact {
            None => self.problem(
                at,
                "a question needs `fact:`, the name its answer is stored under",
            ),
            Some(fact) if fact.contains('.') || !valid_id(fact) => {
                self.problem(&at.key("fact"), format!("answer fact `{fact}` must be a plain name (no dots): dotted names belong to probes"));
            }
            Some(_) => {}
        }
        let auto = spec
            .auto
            .as_ref()
            .and_then(|text| self.condition(text, &at.key("auto")));
        if spec.auto.is_none() && spec.default.is_none() {
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
        let branches = self.branches(spec, at);
        Some(Ask {
            question: question?,
            help: spec.help.clone(),
            input,
            choices: spec.choices.clone(),
            fact: spec.fact.clone()?,
            auto,
            default,
            branches: branches?,
        })
    }

    fn condition(&mut self, text: &str, at: &At) -> Option<Expr> {
        Expr::parse(text)
            .map_err(|e| self.problem(at, format!("condition: {e}")))
            .ok()
    }

    fn branches(&mut self, spec: &NodeSpec, at: &At) -> Option<Vec<Branch>> {
        let mut out = Vec::new();
        let mut sound = true;
        for (i, b) in spec.branches.iter().enumerate() {
            let bat = at.key("branches").index(i);
            let when = b
                .when
                .as_ref()
                .map(|text| self.condition(text, &bat.key("when")));
            match (when, self.node_ref(&b.next, &bat.key("next"))) {
                (Some(None), _) | (_, None) => sound = false,
                (when, Some(next)) => out.push(Branch {
                    when: when.flatten(),
                    when_text: b.when.clone(),
                    next,
                }),
            }
        }
        if let Some(next) = &spec.next {
            if !spec.branches.is_empty() {
                self.problem(&at.key("next"), "use `next` or `branches`, not both (a last branch without `when` is the otherwise)");
            }
            match self.node_ref(next, &at.key("next")) {
                Some(next) => out.push(Branch {
                    when: None,
                    when_text: None,
                    next,
                }),
                None => sound = false,
            }
        }
        match spec.branches.last() {
            None if spec.next.is_none() => {
                self.problem(at, "a check or question needs `next` or `branches`");
            }
            Some(last) if last.when.is_some() && spec.next.is_none() => {
                let i = spec.branches.len() - 1;
                self.problem(&at.key("branches").index(i).key("when"), "the last branch needs no `when`: it is taken when nothing else holds, so the walk never stalls");
            }
            _ => {}
        }
        sound.then_some(out)
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
        let title = match &spec.title {
            Some(title) => self.template(title, &at.key("title")),
            None => {
                self.problem(at, "a conclusion needs a `title`");
                None
            }
        };
        let explain = spec
            .explain
            .as_ref()
            .and_then(|e| self.template(e, &at.key("explain")));
        let evidence = self.templates(&spec.evidence, &at.key("evidence"));
        let fix = self.fix(spec.fix.as_ref(), &at.key("fix"));
        let then = match &spec.then {
            Some(t) => Some(self.node_ref(t, &at.key("then"))?),
            None => None,
        };
        let confidence = spec.confidence.unwrap_or(schema::Confidence::Medium);
        Some(Conclusion {
            cause,
            confidence,
            title: title?,
            explain,
            evidence: evidence?,
            fix: fix?,
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
        let steps: Vec<Option<FixStep>> = spec
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| self.step(s, &at.key("steps").index(i)))
            .collect();
        let verify = self.templates(&spec.verify, &at.key("verify"));
        Some(Fix {
            summary,
            steps: steps.into_iter().collect::<Option<_>>()?,
            verify: verify?,
        })
    }

    fn step(&mut self, s: &schema::StepSpec, at: &At) -> Option<FixStep> {
        let when = s.when.as_ref().map(|w| self.condition(w, &at.key("when")));
        let say = self.template(&s.say, &at.key("say"));
        let run = s
            .run
            .as_ref()
            .and_then(|argv| self.templates(argv, &at.key("run")));
        let file = s
            .file
            .as_ref()
            .and_then(|f| self.template(f, &at.key("file")));
        let snippet = s
            .snippet
            .as_ref()
            .and_then(|f| self.template(f, &at.key("snippet")));
        Some(FixStep {
            when: when.map(|w| w.ok_or(())).transpose().ok()?,
            say: say?,
            run,
            file,
            snippet,
        })
    }

    /// Reports keys that belong to other kinds of node: a `title` on a check
    /// would otherwise be ignored without a word.
    fn only_for(&mut self, spec: &NodeSpec, at: &At, what: &str, own: &[&str]) {
        let present = [
            spec.why.is_some(),
            spec.found.is_some(),
            spec.help.is_some(),
            spec.input.is_some(),
            !spec.choices.is_empty(),
            spec.fact.is_some(),
            spec.auto.is_some(),
            spec.default.is_some(),
            spec.confidence.is_some(),
            spec.title.is_some(),
            spec.explain.is_some(),
            !spec.evidence.is_empty(),
            spec.fix.is_some(),
            spec.then.is_some(),
        ];
        for (key, here) in KIND_KEYS.into_iter().zip(present) {
            if here && !own.contains(&key) {
                self.problem(&at.key(key), format!("`{key}` does not belong to {what}"));
            }
        }
    }
}
