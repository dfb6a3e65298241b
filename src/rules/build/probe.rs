//! Building probes: a command's argv or a built-in with its parameters,
//! the timeout and output bounds, and the facts the probe will produce.

use std::collections::BTreeMap;
use std::time::Duration;

use super::hint::closest;
use super::{At, Builder};
use crate::expr::{compile_regex, regex_error};
use crate::rules::builtins as builtin;
use crate::rules::schema::ProbeSpec;
use crate::rules::{Action, Extract, Probe};
use crate::rules::{DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT};

impl Builder {
    pub(super) fn probe(&mut self, id: &str, spec: &ProbeSpec, at: &At) -> Option<Probe> {
        // Every part is checked before any failure returns, so one lint
        // run lists all of a probe's problems.
        let action = self.action(spec, at);
        let timeout = match &spec.timeout {
            None => Some(DEFAULT_TIMEOUT),
            Some(t) => parse_duration(t).or_else(|| {
                self.problem(
                    &at.key("timeout"),
                    format!("timeout {t:?} is not a duration like `5s` or `500ms` (at most 60s)"),
                );
                None
            }),
        };
        let mut extract = Vec::new();
        let mut facts: Vec<String> = builtin::COMMON_FACTS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        if let Some(Action::Builtin { name, .. }) = &action {
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
                Err(err) => {
                    let message = match regex_error(&err) {
                        (what, Some(i)) => {
                            format!(
                                "invalid regex: {what} (at character {} of the regex)",
                                i + 1
                            )
                        }
                        (what, None) => format!("invalid regex: {what}"),
                    };
                    self.problem(&at, message);
                }
            }
        }
        let doc = spec
            .doc
            .as_ref()
            .and_then(|d| self.template(d, &at.key("doc")));
        let max_output = spec.max_output.map_or(DEFAULT_MAX_OUTPUT, |m| {
            usize::try_from(m).unwrap_or(usize::MAX)
        });
        Some(Probe {
            id: id.to_owned(),
            origin: at.key_origin(),
            doc,
            action: action?,
            timeout: timeout?,
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
                if let Some(why) = super::mutating::mutation(argv) {
                    self.problem(&at.key("run"), why);
                }
                self.argv_shape(argv, &at.key("run"));
                Some(Action::Command(self.templates(argv, &at.key("run"))?))
            }
            (None, Some(name)) => self.builtin(name, spec, at),
            _ => {
                self.problem(
                    at,
                    "a probe needs exactly one of `run` (an argv list) or `builtin`",
                );
                None
            }
        }
    }

    fn builtin(&mut self, name: &str, spec: &ProbeSpec, at: &At) -> Option<Action> {
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
        let mut with = Some(BTreeMap::new());
        for (k, v) in &spec.with {
            if !info.params.contains(&k.as_str()) {
                self.problem(&at.key("with").key(k), unknown_param(info, k));
            }
            match (self.template(v, &at.key("with").key(k)), with.as_mut()) {
                (Some(t), Some(with)) => {
                    with.insert(k.clone(), t);
                }
                _ => with = None,
            }
        }
        if !spec.extract.is_empty() {
            self.problem(
                &at.key("extract"),
                "`extract` reads command output; a built-in gives its facts directly",
            );
        }
        // These bound a command; a built-in would ignore them without a word.
        let command_only = [
            ("timeout", spec.timeout.is_some()),
            ("max_output", spec.max_output.is_some()),
            ("needs", !spec.needs.is_empty()),
        ];
        for (key, present) in command_only {
            if present {
                self.problem(
                    &at.key(key),
                    format!("`{key}` applies to `run` probes only; a built-in would ignore it"),
                );
            }
        }
        Some(Action::Builtin {
            name: name.to_owned(),
            with: with?,
        })
    }
}

/// Says what a built-in takes instead, with the nearest name.
fn unknown_param(info: &builtin::BuiltinInfo, key: &str) -> String {
    let name = info.name;
    if info.params.is_empty() {
        return format!("`{name}` takes no parameters; remove `with`");
    }
    let hint = closest(key, info.params.iter())
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default();
    let all: Vec<String> = info.params.iter().map(|p| format!("`{p}`")).collect();
    format!(
        "`{name}` takes no parameter `{key}`{hint}; it takes {}",
        all.join(", ")
    )
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
