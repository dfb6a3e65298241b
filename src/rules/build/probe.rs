//! Building probes: a command's argv or a built-in with its parameters,
//! the timeout and output bounds, and the facts the probe will produce.

use std::collections::BTreeMap;
use std::time::Duration;

use super::hint::closest;
use super::{At, Builder};
use crate::builtin;
use crate::expr::compile_regex;
use crate::probe::command::{DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT};
use crate::rules::schema::ProbeSpec;
use crate::rules::{Action, Extract, Probe};

impl Builder {
    pub(super) fn probe(&mut self, id: &str, spec: &ProbeSpec, at: &At) -> Option<Probe> {
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
}

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
}
