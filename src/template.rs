//! Templates: rule text and probe arguments that quote facts as `{{name}}`.
//!
//! Messages render unknown facts as "(unknown)". Probe arguments are stricter:
//! a fact that reaches an argv element came from a log or a config, which an
//! attacker may have written, so it must look like a plain value (see
//! [`Template::render_arg`]) or the probe does not run.

use crate::value::{Facts, Value};

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    /// A fact, and whether it is optional (`{{name?}}`): a fact that only
    /// some paths produce, which reads as unknown on the others.
    Fact(String, bool),
    /// A fact that holds a command's words (`{{name*}}`, e.g. a firewall
    /// rule as `iptables -S` lists it): in a fix step's `run` it becomes
    /// one argument per word; elsewhere it reads as its text.
    Words(String),
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

impl Template {
    /// Parses `text`; `{{` opens a fact reference that `}}` closes.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or(TemplateError {
                message: "`{{` is not closed by `}}`".into(),
                offset: offset + open,
            })?;
            let name = after[..close].trim();
            let part = if let Some(n) = name.strip_suffix('?') {
                Part::Fact(n.trim_end().to_owned(), true)
            } else if let Some(n) = name.strip_suffix('*') {
                Part::Words(n.trim_end().to_owned())
            } else {
                Part::Fact(name.to_owned(), false)
            };
            let (Part::Fact(name, _) | Part::Words(name)) = &part else {
                unreachable!("a reference is a fact or a word list")
            };
            if name.is_empty() || !name.bytes().all(is_name_byte) {
                return Err(TemplateError {
                    message: format!("{name:?} is not a fact name"),
                    offset: offset + open + 2,
                });
            }
            parts.push(part);
            let consumed = open + 2 + close + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// The template as the pack writes it (`curl http://{{host}}/`): for
    /// messages, and for tests that tell which template a printed line came
    /// from.
    pub fn source(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Fact(n, false) => format!("{{{{{n}}}}}"),
                Part::Fact(n, true) => format!("{{{{{n}?}}}}"),
                Part::Words(n) => format!("{{{{{n}*}}}}"),
            })
            .collect()
    }

    /// Every fact the template quotes.
    pub fn facts(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Fact(n, _) | Part::Words(n) => Some(n.as_str()),
            Part::Text(_) => None,
        })
    }

    /// Whether it quotes a word list (`{{name*}}`) anywhere.
    pub fn has_words(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Words(_)))
    }

    /// Whether it is one word list and nothing else: `"{{name*}}"`, the
    /// only form a fix step's `run` element may splice words with.
    pub fn is_words_only(&self) -> bool {
        matches!(self.parts.as_slice(), [Part::Words(_)])
    }

    /// The facts the template quotes that every path to it must produce
    /// (all but the optional `{{name?}}` ones).
    pub fn required_facts(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Fact(n, false) | Part::Words(n) => Some(n.as_str()),
            _ => None,
        })
    }

    /// Renders for people: unknown facts read "(unknown)".
    pub fn render(&self, facts: &Facts) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Fact(n, _) | Part::Words(n) => out.push_str(&facts.get(n).to_string()),
            }
        }
        out
    }

    /// Whether every quoted fact is known, so a rendered line says something.
    pub fn all_known(&self, facts: &Facts) -> bool {
        self.facts().all(|n| !facts.get(n).is_null())
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
        for part in &self.parts {
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
            }
        }
        Some(out)
    }

    pub fn render_arg(&self, facts: &Facts) -> Result<String, UnsafeArg> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Fact(n, _) | Part::Words(n) => match facts.get(n) {
                    Value::Null => return Err(UnsafeArg::Unknown(n.clone())),
                    v => out.push_str(&v.to_string()),
                },
            }
        }
        let from_fact = self
            .parts
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

/// Characters a fact may hold to be pasted into a shell command as it is:
/// no quote, `$`, backtick, `;`, `|`, `&`, redirection or whitespace
/// (brackets stay, for IPv6 addresses: at worst they glob).
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
        None if v.chars().all(is_shell_plain) => Some(v.to_owned()),
        None => Some(crate::shell::quote(v)),
    }
}

fn is_shell_plain(c: char) -> bool {
    c.is_alphanumeric() || "_-./:=@%+,[]".contains(c)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        let mut f = Facts::new();
        f.set("log.port", 9000_i64);
        f.set("log.req", "-rf /");
        f.set("log.line", "a\nb");
        f
    }

    #[test]
    fn renders_facts_and_unknowns() {
        let t = Template::parse("port {{ log.port }} of {{log.host}}").unwrap();
        assert_eq!(t.render(&facts()), "port 9000 of (unknown)");
        assert_eq!(t.facts().collect::<Vec<_>>(), ["log.port", "log.host"]);
    }

    #[test]
    fn the_source_is_the_text_the_pack_wrote() {
        let text = "x {{a}} y {{b?}} {{c*}}";
        assert_eq!(Template::parse(text).unwrap().source(), text);
        let spaced = Template::parse("{{ log.port }}").unwrap();
        assert_eq!(spaced.source(), "{{log.port}}");
    }

    #[test]
    fn unclosed_reference_is_an_error() {
        let err = Template::parse("x {{log.port").unwrap_err();
        assert_eq!(err.offset, 2);
    }

    #[test]
    fn argument_from_fact_may_not_start_with_a_dash() {
        let t = Template::parse("{{log.req}}").unwrap();
        assert!(matches!(
            t.render_arg(&facts()),
            Err(UnsafeArg::LeadingDash(_))
        ));
    }

    #[test]
    fn argument_with_a_literal_prefix_may_hold_a_dash_later() {
        let t = Template::parse("sport = :{{log.port}}").unwrap();
        assert_eq!(t.render_arg(&facts()).unwrap(), "sport = :9000");
    }

    #[test]
    fn argument_with_a_newline_is_refused() {
        let t = Template::parse("{{log.line}}").unwrap();
        assert!(matches!(t.render_arg(&facts()), Err(UnsafeArg::Control(_))));
    }

    #[test]
    fn command_quoting_a_plain_fact_is_rendered() {
        let t = Template::parse("ss -Htlnp 'sport = :{{log.port}}'").unwrap();
        assert_eq!(
            t.render_command(&facts()).as_deref(),
            Some("ss -Htlnp 'sport = :9000'")
        );
    }

    #[test]
    fn command_quoting_shell_syntax_is_not_offered() {
        let mut f = facts();
        f.set("log.path", "/run/x'$(touch /tmp/p)'.sock");
        let t = Template::parse("ls -l '{{log.path}}'").unwrap();
        assert_eq!(t.render_command(&f), None);
    }

    #[test]
    fn a_uri_with_a_query_is_offered_quoted_as_the_shell_reads_it() {
        let mut f = facts();
        f.set("log.uri", "/sleep.php?s=3&t=1");
        let inside = Template::parse("curl 'http://h{{log.uri}}'").unwrap();
        assert_eq!(
            inside.render_command(&f).as_deref(),
            Some("curl 'http://h/sleep.php?s=3&t=1'")
        );
        let outside = Template::parse("curl http://h{{log.uri}}").unwrap();
        assert_eq!(
            outside.render_command(&f).as_deref(),
            Some("curl http://h'/sleep.php?s=3&t=1'")
        );
        let doubled = Template::parse("curl \"http://h{{log.uri}}\"").unwrap();
        assert!(doubled.render_command(&f).is_some());
        f.set("log.uri", "/a?$(reboot)");
        assert_eq!(doubled.render_command(&f), None);
    }

    #[test]
    fn command_quoting_an_option_is_not_offered() {
        let mut f = facts();
        f.set("log.host", "-oProxyCommand=x");
        let t = Template::parse("grep -F '{{log.host}}'").unwrap();
        assert_eq!(t.render_command(&f), None);
    }

    #[test]
    fn command_quoting_an_unknown_fact_is_not_offered() {
        let t = Template::parse("ls -l {{log.nope}}").unwrap();
        assert_eq!(t.render_command(&facts()), None);
    }

    #[test]
    fn a_word_list_becomes_one_argument_a_word() {
        let mut f = facts();
        f.set(
            "fw.rule",
            r#"-D INPUT -p tcp -m comment --comment "a \"b\" c" -j DROP"#,
        );
        let t = Template::parse("{{fw.rule*}}").unwrap();
        assert!(t.is_words_only());
        assert_eq!(
            t.render_argv(&f).unwrap(),
            [
                "-D",
                "INPUT",
                "-p",
                "tcp",
                "-m",
                "comment",
                "--comment",
                "a \"b\" c",
                "-j",
                "DROP"
            ]
        );
        assert_eq!(t.render(&f), f.get("fw.rule").to_string());
    }

    #[test]
    fn a_word_list_with_a_newline_is_refused() {
        let t = Template::parse("{{log.line*}}").unwrap();
        assert!(matches!(
            t.render_argv(&facts()),
            Err(UnsafeArg::Control(_))
        ));
    }

    #[test]
    fn a_plain_element_renders_as_one_argument() {
        let t = Template::parse("--dport={{log.port}}").unwrap();
        assert!(!t.is_words_only() && !t.has_words());
        assert_eq!(t.render_argv(&facts()).unwrap(), ["--dport=9000"]);
    }

    #[test]
    fn argument_from_an_unknown_fact_is_refused() {
        let t = Template::parse("{{log.nope}}").unwrap();
        assert_eq!(
            t.render_arg(&facts()),
            Err(UnsafeArg::Unknown("log.nope".into()))
        );
    }
}
