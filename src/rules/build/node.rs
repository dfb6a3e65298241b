//! Building nodes: checks, questions, conclusions and stops, with their
//! branches, conditions and templates.

use super::hint::closest;
use super::{At, Builder, valid_id};
use crate::expr::Expr;
use crate::rules::schema::{self, NodeSpec};
use crate::rules::{
    Ask, Branch, Check, Conclusion, Each, Fix, FixStep, Node, NodeKind, Role, Verify,
};
use crate::template::Template;
use crate::value::Value;

/// The keys only some kinds of node have, besides their kind key and the
/// `next`/`branches` of checks and questions (checked with their own hints).
const KIND_KEYS: [&str; 18] = [
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
    "role",
    "as",
    "label",
    "do",
];

impl Builder {
    pub(super) fn node(&mut self, id: &str, spec: &NodeSpec, at: &At) -> Option<Node> {
        let kinds = [
            spec.check.is_some(),
            spec.ask.is_some(),
            spec.conclude.is_some(),
            spec.stop.is_some(),
            spec.each.is_some(),
            spec.decide.is_some(),
        ];
        let kind = match kinds {
            [false, false, false, false, false, true] => {
                self.only_for(spec, at, "a `decide`", &[]);
                NodeKind::Decide(self.decisions(spec, at)?)
            }
            [false, false, false, false, true, false] => {
                let own = ["as", "label", "do", "title", "evidence", "then"];
                self.only_for(spec, at, "an `each`", &own);
                NodeKind::Each(self.each(spec, at)?)
            }
            [true, false, false, false, false, false] => {
                self.only_for(spec, at, "a check", &["why", "found"]);
                NodeKind::Check(self.check(spec, at)?)
            }
            [false, true, false, false, false, false] => {
                let own = ["help", "input", "choices", "fact", "auto", "default"];
                self.only_for(spec, at, "a question", &own);
                NodeKind::Ask(self.ask(spec, at)?)
            }
            [false, false, true, false, false, false] => {
                let own = [
                    "confidence",
                    "title",
                    "explain",
                    "evidence",
                    "fix",
                    "then",
                    "role",
                ];
                self.only_for(spec, at, "a conclusion", &own);
                NodeKind::Conclude(self.conclusion(spec, at)?)
            }
            [false, false, false, true, false, false] => {
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
                        "node `{id}` needs exactly one of `check`, `ask`, `conclude`, `stop`, `each` or `decide`"
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

    pub(super) fn condition(&mut self, text: &str, at: &At) -> Option<Expr> {
        let expr = Expr::parse(text)
            .map_err(|e| self.problem(at, format!("condition: {e}")))
            .ok()?;
        self.signature_literals(&expr, text, at);
        Some(expr)
    }

    fn branches(&mut self, spec: &NodeSpec, at: &At) -> Option<Vec<Branch>> {
        let listed = self.branch_list(&spec.branches, &at.key("branches"));
        let mut sound = listed.is_some();
        let mut out = listed.unwrap_or_default();
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

    /// A `decide` node's branches: any may have a condition, the last too.
    fn decisions(&mut self, spec: &NodeSpec, at: &At) -> Option<Vec<Branch>> {
        if !spec.branches.is_empty() || spec.next.is_some() {
            self.problem(at, "a `decide` lists its branches under `decide:` itself");
        }
        let specs = spec.decide.as_deref().unwrap_or_default();
        self.branch_list(specs, &at.key("decide"))
    }

    /// Branches as written, each condition parsed and target resolved;
    /// `None` when any is unsound (every one is still checked).
    fn branch_list(&mut self, specs: &[schema::BranchSpec], at: &At) -> Option<Vec<Branch>> {
        let mut out = Some(Vec::new());
        for (i, b) in specs.iter().enumerate() {
            let bat = at.index(i);
            let when = b
                .when
                .as_ref()
                .map(|text| self.condition(text, &bat.key("when")));
            match (when, self.node_ref(&b.next, &bat.key("next"))) {
                (Some(None), _) | (_, None) => out = None,
                (when, Some(next)) => {
                    if let Some(list) = out.as_mut() {
                        list.push(Branch {
                            when: when.flatten(),
                            when_text: b.when.clone(),
                            next,
                        });
                    }
                }
            }
        }
        out
    }

    fn conclusion(&mut self, spec: &NodeSpec, at: &At) -> Option<Conclusion> {
        let cause = spec.conclude.clone().unwrap_or_default();
        self.known_cause(&cause, &at.key("conclude"));
        if !spec.branches.is_empty() || spec.next.is_some() {
            self.problem(
                at,
                "a conclusion continues with `then:`, not `next`/`branches`",
            );
        }
        let title = self.required(
            spec.title.as_deref(),
            at,
            "title",
            "a conclusion needs a `title`",
        );
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
        let role = self.role(&cause, spec.role, at);
        Some(Conclusion {
            cause,
            confidence,
            role,
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
        let verify: Vec<Option<Verify>> = spec
            .verify
            .iter()
            .enumerate()
            .map(|(i, v)| self.verify(v, &at.key("verify").index(i)))
            .collect();
        let verify: Option<Vec<Verify>> = verify.into_iter().collect();
        Some(Fix {
            summary,
            steps: steps.into_iter().collect::<Option<_>>()?,
            verify: verify?,
        })
    }

    fn step(&mut self, s: &schema::StepSpec, at: &At) -> Option<FixStep> {
        let when = s.when.as_ref().map(|w| self.condition(w, &at.key("when")));
        let say = self.template(&s.say, &at.key("say"));
        if let Some(argv) = &s.run {
            self.argv_shape(argv, &at.key("run"));
        }
        if s.exit.is_some() && s.run.is_none() {
            self.problem(
                &at.key("exit"),
                "`exit` names the statuses of the step's `run` command that mean it worked; this step has no `run`",
            );
        }
        let exit = self.exit_statuses(s.exit.as_ref(), &at.key("exit"));
        let run = s
            .run
            .as_ref()
            .and_then(|argv| self.argv_templates(argv, &at.key("run")));
        let file = s
            .file
            .as_ref()
            .and_then(|f| self.template(f, &at.key("file")));
        let snippet = s
            .snippet
            .as_ref()
            .and_then(|f| self.template(f, &at.key("snippet")));
        if s.line.is_some() && s.file.is_none() {
            self.problem(
                &at.key("line"),
                "`line` says where in the step's `file` the edit goes; this step has no `file`",
            );
        }
        let line = s
            .line
            .as_ref()
            .and_then(|l| self.template(l, &at.key("line")));
        Some(FixStep {
            when: when.map(|w| w.ok_or(())).transpose().ok()?,
            say: say?,
            run,
            exit,
            file,
            line,
            snippet,
        })
    }

    /// A verify line: its text, and the exit statuses that mean the fix
    /// worked (0 for a plain line).
    fn verify(&mut self, v: &schema::VerifySpec, at: &At) -> Option<Verify> {
        let (text, exit, text_at) = match v {
            schema::VerifySpec::Line(text) => (text, None, at.clone()),
            schema::VerifySpec::Expect(e) => (&e.run, Some(&e.exit), at.key("run")),
        };
        let exit = self.exit_statuses(exit, &at.key("exit"));
        let line = self.template(text, &text_at)?;
        Some(Verify { line, exit })
    }

    /// The conclusion's role: as written, or its cause's (the `role` of its
    /// entry in `causes:`). A healthy cause cannot be a fault, and a fault
    /// cannot be healthy.
    fn role(&mut self, cause: &str, written: Option<Role>, at: &At) -> Role {
        // An unknown cause was reported where it is concluded.
        let default = self.causes.get(cause).copied().unwrap_or_default();
        let Some(role) = written else {
            return default;
        };
        let no_fault = matches!(default, Role::Healthy);
        if role.is_fault() == no_fault {
            let want = if no_fault {
                "`healthy` or `resolved`"
            } else {
                "`cause`, `latent` or `consequence`"
            };
            self.problem(
                &at.key("role"),
                format!("a conclusion of `{cause}` takes role {want}"),
            );
        }
        role
    }

    fn each(&mut self, spec: &NodeSpec, at: &At) -> Option<Each> {
        let list = spec.each.clone().unwrap_or_default();
        let item_facts = self.lists.get(&list).cloned();
        if item_facts.is_none() {
            let hint = closest(&list, self.lists.keys())
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            self.problem(
                &at.key("each"),
                format!("`{list}` is no list fact of a probe{hint}"),
            );
        }
        let prefix = spec.as_.clone();
        match &prefix {
            None => self.problem(
                at,
                "an `each` needs `as:`, the name its items' facts are known by",
            ),
            Some(p) if p.contains('.') || !valid_id(p) => self.problem(
                &at.key("as"),
                format!("`as: {p}` must be a plain name (no dots)"),
            ),
            Some(p) if self.probe_ids.contains_key(p) => self.problem(
                &at.key("as"),
                format!("`as: {p}` is also a probe id; its facts would be mixed up"),
            ),
            Some(_) => {}
        }
        let label = self.required(
            spec.label.as_deref(),
            at,
            "label",
            "an `each` needs `label:`, what its findings are about",
        );
        let title = spec
            .title
            .as_ref()
            .and_then(|t| self.template(t, &at.key("title")));
        let evidence = self.templates(&spec.evidence, &at.key("evidence"));
        let start = match &spec.do_ {
            Some(d) => self.node_ref(d, &at.key("do")),
            None => {
                self.problem(
                    at,
                    "an `each` needs `do:`, the node each item's walk starts at",
                );
                None
            }
        };
        let then = match &spec.then {
            Some(t) => Some(self.node_ref(t, &at.key("then"))?),
            None => None,
        };
        if !spec.branches.is_empty() || spec.next.is_some() {
            self.problem(
                at,
                "an `each` continues with `then:`, not `next`/`branches`",
            );
        }
        Some(Each {
            list,
            prefix: prefix?,
            item_facts: item_facts?,
            label: label?,
            title,
            evidence: evidence?,
            start: start?,
            then,
        })
    }

    /// A template the node must have: parsed, or `missing` said at the node.
    fn required(
        &mut self,
        text: Option<&str>,
        at: &At,
        key: &'static str,
        missing: &str,
    ) -> Option<Template> {
        match text {
            Some(t) => self.template(t, &at.key(key)),
            None => {
                self.problem(at, missing);
                None
            }
        }
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
            spec.role.is_some(),
            spec.as_.is_some(),
            spec.label.is_some(),
            spec.do_.is_some(),
        ];
        for (key, here) in KIND_KEYS.into_iter().zip(present) {
            if here && !own.contains(&key) {
                self.problem(&at.key(key), format!("`{key}` does not belong to {what}"));
            }
        }
    }
}
