//! Building nodes: checks, questions, conclusions and stops, with their
//! branches, conditions and templates.

use super::hint::closest;
use super::{At, Builder, valid_id};
use crate::causes;
use crate::expr::Expr;
use crate::rules::schema::{self, NodeSpec};
use crate::rules::{Ask, Branch, Check, Conclusion, Fix, FixStep, Node, NodeKind};
use crate::value::Value;

impl Builder {
    pub(super) fn node(&mut self, id: &str, spec: &NodeSpec, at: &At) -> Option<Node> {
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

    fn branches(&mut self, spec: &NodeSpec, at: &At) -> Option<Vec<Branch>> {
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
