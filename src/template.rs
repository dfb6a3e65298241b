//! Templates: rule text and probe arguments that quote facts as `{{name}}`.
//!
//! A text for people may say something only when a fact is known: a section
//! `{{#name}}...{{/name}}` is rendered only when `name` is known, and
//! `{{^name}}...{{/name}}` only when it is not, so a message never has to
//! print a placeholder. Probe arguments are stricter: a fact that reaches an
//! argv element came from a log or a config, which an attacker may have
//! written, so it must look like a plain value (see [`Template::render_arg`])
//! or the probe does not run.

use crate::value::{Facts, Value};

mod origin;

pub use origin::{Origin, Pos};

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    /// Each quoted fact (not a section's name) with where its `{{...}}`
    /// is in the text: byte offset and the reference as written.
    spans: Vec<(String, usize, String)>,
    /// Where each quoted fact is written in its file, once the pack's
    /// builder has said ([`Template::locate`]), for `rules lint`.
    origins: Vec<(String, Origin)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    /// A fact, and whether it is optional (`{{name?}}`): a fact that only
    /// some paths produce, which reads as nothing where it is unknown.
    Fact(String, bool),
    /// A fact that holds a command's words (`{{name*}}`, e.g. a firewall
    /// rule as `iptables -S` lists it): in a fix step's `run` it becomes
    /// one argument per word; elsewhere it reads as its text.
    Words(String),
    /// `{{#name}}...{{/name}}` (rendered when `name` is known) or, inverted,
    /// `{{^name}}...{{/name}}` (rendered when it is not).
    Section {
        name: String,
        inverted: bool,
        parts: Vec<Part>,
    },
}

/// Why a template did not parse; `offset` is the byte offset in the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {})", offset + 1)]
pub struct TemplateError {
    pub message: String,
    pub offset: usize,
}

/// Why a fact may not become a probe argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsafeArg {
    #[error("fact `{0}` is not known yet")]
    Unknown(String),
    #[error("value {0:?} starts with `-` and could be read as an option")]
    LeadingDash(String),
    #[error("value {0:?} contains control characters")]
    Control(String),
    #[error("value is {0} bytes long; arguments from facts are limited to 4096")]
    TooLong(usize),
}

const MAX_ARG: usize = 4096;

/// One `{{...}}` reference as written.
enum Tag {
    Part(Part),
    Open(String, bool),
    Close(String),
}

fn parse_tag(inner: &str, at: usize) -> Result<Tag, TemplateError> {
    let name = inner.trim();
    let (tag, n) = if let Some(n) = name.strip_prefix('#') {
        (Tag::Open(String::new(), false), n)
    } else if let Some(n) = name.strip_prefix('^') {
        (Tag::Open(String::new(), true), n)
    } else if let Some(n) = name.strip_prefix('/') {
        (Tag::Close(String::new()), n)
    } else if let Some(n) = name.strip_suffix('?') {
        (Tag::Part(Part::Fact(String::new(), true)), n)
    } else if let Some(n) = name.strip_suffix('*') {
        (Tag::Part(Part::Words(String::new())), n)
    } else {
        (Tag::Part(Part::Fact(String::new(), false)), name)
    };
    let n = n.trim().to_owned();
    if n.is_empty() || !n.bytes().all(is_name_byte) {
        return Err(TemplateError {
            message: format!("{n:?} is not a fact name"),
            offset: at,
        });
    }
    Ok(match tag {
        Tag::Open(_, inverted) => Tag::Open(n, inverted),
        Tag::Close(_) => Tag::Close(n),
        Tag::Part(Part::Fact(_, optional)) => Tag::Part(Part::Fact(n, optional)),
        Tag::Part(_) => Tag::Part(Part::Words(n)),
    })
}

impl Template {
    /// Parses `text`; `{{` opens a fact reference that `}}` closes, and a
    /// section opened by `{{#name}}` or `{{^name}}` is closed by `{{/name}}`.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        // The parts of each open section, innermost last, with its name,
        // whether inverted and where it opened.
        let mut open: Vec<(Vec<Part>, String, bool, usize)> =
            vec![(Vec::new(), String::new(), false, 0)];
        let mut spans = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(start) = rest.find("{{") {
            let parts = &mut open.last_mut().expect("the outermost level").0;
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let close = after.find("}}").ok_or(TemplateError {
                message: "`{{` is not closed by `}}`".into(),
                offset: offset + start,
            })?;
            match parse_tag(&after[..close], offset + start + 2)? {
                Tag::Part(p) => {
                    if let Part::Fact(n, _) | Part::Words(n) = &p {
                        let written = rest[start..start + 2 + close + 2].to_owned();
                        spans.push((n.clone(), offset + start, written));
                    }
                    parts.push(p)
                }
                Tag::Open(name, inverted) => {
                    open.push((Vec::new(), name, inverted, offset + start))
                }
                Tag::Close(name) => close_section(&mut open, name, offset + start)?,
            }
            let consumed = start + 2 + close + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if let Some((_, name, _, at)) = open.get(1) {
            return Err(TemplateError {
                message: format!("section `{name}` is not closed by `{{{{/{name}}}}}`"),
                offset: *at,
            });
        }
        let mut parts = open.pop().expect("the outermost level").0;
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template {
            parts,
            spans,
            origins: Vec::new(),
        })
    }

    /// Records where each quoted fact is written: `find` maps a byte offset
    /// in the text and the reference as written to its place in the file.
    pub fn locate(&mut self, mut find: impl FnMut(usize, &str) -> Origin) {
        self.origins = self
            .spans
            .iter()
            .map(|(name, offset, written)| (name.clone(), find(*offset, written)))
            .collect();
    }

    /// Where fact `name` is first quoted, when [`Template::locate`] said.
    pub fn origin_of(&self, name: &str) -> Option<&Origin> {
        self.origins.iter().find(|(n, _)| n == name).map(|(_, o)| o)
    }

    /// The template as the pack writes it (`curl http://{{host}}/`): for
    /// messages, and for tests that tell which template a printed line came
    /// from.
    pub fn source(&self) -> String {
        source_of(&self.parts)
    }

    /// Every fact the template quotes or tests, sections' names too.
    pub fn facts(&self) -> impl Iterator<Item = &str> {
        let mut out = Vec::new();
        walk(&self.parts, &mut |p, _| match p {
            Part::Fact(n, _) | Part::Words(n) | Part::Section { name: n, .. } => {
                out.push(n.as_str())
            }
            Part::Text(_) => {}
        });
        out.into_iter()
    }

    /// Whether it quotes a word list (`{{name*}}`) anywhere.
    pub fn has_words(&self) -> bool {
        let mut found = false;
        walk(&self.parts, &mut |p, _| {
            found |= matches!(p, Part::Words(_))
        });
        found
    }

    /// Whether it is one word list and nothing else: `"{{name*}}"`, the
    /// only form a fix step's `run` element may splice words with.
    pub fn is_words_only(&self) -> bool {
        matches!(self.parts.as_slice(), [Part::Words(_)])
    }

    /// The facts the template quotes that must be known wherever it is
    /// rendered: all but the optional `{{name?}}` ones, sections' names, and
    /// those inside a section that is rendered only when they are known.
    pub fn required_facts(&self) -> impl Iterator<Item = &str> {
        let mut out = Vec::new();
        walk(&self.parts, &mut |p, guards| match p {
            Part::Fact(n, false) | Part::Words(n) if !guards.contains(&n.as_str()) => {
                out.push(n.as_str())
            }
            _ => {}
        });
        out.into_iter()
    }

    /// Renders for people: a section is rendered only when its fact is known
    /// (or, inverted, unknown); an unknown optional fact reads as nothing;
    /// an unknown required fact (which `rules lint` rules out) as "(unknown)".
    pub fn render(&self, facts: &Facts) -> String {
        let mut out = String::new();
        for part in self.flat(facts) {
            match part {
                Part::Text(t) => out.push_str(&t),
                Part::Fact(n, true) if facts.get(&n).is_null() => {}
                Part::Fact(n, _) | Part::Words(n) => out.push_str(&facts.get(&n).to_string()),
                Part::Section { .. } => unreachable!("flattened"),
            }
        }
        out
    }

    /// Whether every fact it would quote is known (optional ones too, but
    /// not those of a section left out), so a rendered line says something.
    pub fn all_known(&self, facts: &Facts) -> bool {
        self.flat(facts).iter().all(|p| match p {
            Part::Fact(n, _) | Part::Words(n) => !facts.get(n).is_null(),
            _ => true,
        })
    }

    /// The template with its sections resolved for `facts`: the parts a
    /// rendering with them quotes, in order.
    fn flat(&self, facts: &Facts) -> Vec<Part> {
        let mut out = Vec::new();
        flatten(&self.parts, facts, &mut out);
        out
    }

    /// Renders a command line for a person to paste into a shell (a fix's
    /// `verify`). A fact's value goes in as the shell will read it where
    /// the template puts it: inside single quotes anything but a quote;
    /// inside double quotes nothing the shell expands there; outside
    /// quotes plain characters as they are, others quoted (a URI's `?` or
    /// `&`). `None` when that cannot be done safely — a value from a log or
    /// a config could otherwise close the template's quotes, run a command
    /// substitution — or when it begins with `-` (it would pass an option),
    /// holds a control character, or is unknown: "(unknown)" in a shell
    /// line is a syntax error, not a command a person can run.
    pub fn render_command(&self, facts: &Facts) -> Option<String> {
        let mut out = String::new();
        let mut quote: Option<char> = None;
        for part in &self.flat(facts) {
            match part {
                Part::Text(t) => {
                    quote = quote_after(quote, t);
                    out.push_str(t);
                }
                Part::Fact(n, _) | Part::Words(n) => {
                    let value = facts.get(n);
                    let v = value.to_string();
                    let bad =
                        value.is_null() || v.starts_with('-') || v.chars().any(char::is_control);
                    if bad {
                        return None;
                    }
                    out.push_str(&in_quote(quote, &v)?);
                }
                Part::Section { .. } => unreachable!("flattened"),
            }
        }
        Some(out)
    }

    pub fn render_arg(&self, facts: &Facts) -> Result<String, UnsafeArg> {
        let parts = self.flat(facts);
        let mut out = String::new();
        for part in &parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Fact(n, _) | Part::Words(n) => match facts.get(n) {
                    Value::Null => return Err(UnsafeArg::Unknown(n.clone())),
                    v => out.push_str(&v.to_string()),
                },
                Part::Section { .. } => unreachable!("flattened"),
            }
        }
        let from_fact = parts
            .first()
            .is_some_and(|p| matches!(p, Part::Fact(..) | Part::Words(_)));
        if from_fact && out.starts_with('-') {
            return Err(UnsafeArg::LeadingDash(out));
        }
        if out.chars().any(char::is_control) {
            return Err(UnsafeArg::Control(out));
        }
        if out.len() > MAX_ARG {
            return Err(UnsafeArg::TooLong(out.len()));
        }
        Ok(out)
    }

    /// Renders one element of a fix step's argv: one argument as
    /// [`Template::render_arg`] does, or, for `"{{name*}}"`, the fact's text
    /// split as a shell splits it (quotes group, backslashes escape), one
    /// argument a word. Those words are options by design (`-A INPUT -p tcp
    /// ...`), so only a text with a control character, or a word too long,
    /// is refused, and there must be at least one.
    pub fn render_argv(&self, facts: &Facts) -> Result<Vec<String>, UnsafeArg> {
        let [Part::Words(name)] = self.parts.as_slice() else {
            return self.render_arg(facts).map(|a| vec![a]);
        };
        let text = match facts.get(name) {
            Value::Null => return Err(UnsafeArg::Unknown(name.clone())),
            v => v.to_string(),
        };
        // One command line: a line break in it is no word separator.
        if text.chars().any(char::is_control) {
            return Err(UnsafeArg::Control(text));
        }
        let words = crate::shell::split(&text);
        if words.is_empty() {
            return Err(UnsafeArg::Unknown(name.clone()));
        }
        for w in &words {
            if w.len() > MAX_ARG {
                return Err(UnsafeArg::TooLong(w.len()));
            }
        }
        Ok(words)
    }
}

/// Ends the innermost open section, which must be the one `name` opened.
fn close_section(
    open: &mut Vec<(Vec<Part>, String, bool, usize)>,
    name: String,
    at: usize,
) -> Result<(), TemplateError> {
    if open.len() < 2 || open.last().is_some_and(|o| o.1 != name) {
        let expected = match open.get(1..).and_then(<[_]>::last) {
            Some((_, n, _, _)) => format!("; the section open here is `{n}`"),
            None => String::new(),
        };
        return Err(TemplateError {
            message: format!("`{{{{/{name}}}}}` closes no section `{name}`{expected}"),
            offset: at,
        });
    }
    let (parts, name, inverted, _) = open.pop().expect("checked above");
    open.last_mut()
        .expect("checked above")
        .0
        .push(Part::Section {
            name,
            inverted,
            parts,
        });
    Ok(())
}

/// Calls `f` on every part, with the names of the sections around it that
/// are rendered only when their fact is known.
fn walk<'a>(parts: &'a [Part], f: &mut impl FnMut(&'a Part, &[&'a str])) {
    fn go<'a>(
        parts: &'a [Part],
        guards: &mut Vec<&'a str>,
        f: &mut impl FnMut(&'a Part, &[&'a str]),
    ) {
        for p in parts {
            f(p, guards);
            if let Part::Section {
                name,
                inverted,
                parts,
            } = p
            {
                let pushed = !inverted;
                if pushed {
                    guards.push(name);
                }
                go(parts, guards, f);
                if pushed {
                    guards.pop();
                }
            }
        }
    }
    go(parts, &mut Vec::new(), f);
}

/// The parts as the pack writes them, sections included.
fn source_of(parts: &[Part]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => t.clone(),
            Part::Fact(n, false) => format!("{{{{{n}}}}}"),
            Part::Fact(n, true) => format!("{{{{{n}?}}}}"),
            Part::Words(n) => format!("{{{{{n}*}}}}"),
            Part::Section {
                name,
                inverted,
                parts,
            } => {
                let open = if *inverted { '^' } else { '#' };
                format!("{{{{{open}{name}}}}}{}{{{{/{name}}}}}", source_of(parts))
            }
        })
        .collect()
}

fn flatten(parts: &[Part], facts: &Facts, out: &mut Vec<Part>) {
    for p in parts {
        match p {
            Part::Section {
                name,
                inverted,
                parts,
            } => {
                if facts.get(name).is_null() == *inverted {
                    flatten(parts, facts, out);
                }
            }
            other => out.push(other.clone()),
        }
    }
}

/// The quote a shell is inside after reading `text` from inside `quote`.
fn quote_after(mut quote: Option<char>, text: &str) -> Option<char> {
    let mut escaped = false;
    for c in text.chars() {
        match (quote, c) {
            (_, _) if escaped => escaped = false,
            (Some('\''), '\'') => quote = None,
            (Some('"'), '"') => quote = None,
            (Some('"') | None, '\\') => escaped = true,
            (None, '\'' | '"') => quote = Some(c),
            _ => {}
        }
    }
    quote
}

/// `v` as it must be written inside `quote` to reach the command as is;
/// `None` when it cannot be there.
fn in_quote(quote: Option<char>, v: &str) -> Option<String> {
    match quote {
        Some('\'') => (!v.contains('\'')).then(|| v.to_owned()),
        Some(_) => (!v.contains(['"', '$', '`', '\\', '!'])).then(|| v.to_owned()),
        // An empty value adds nothing; anything else is quoted unless plain.
        None if v.is_empty() => Some(String::new()),
        None => Some(crate::shell::quote(v)),
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

#[cfg(test)]
mod tests;
