//! Conditions: the small expression language of `when:` and `auto:`.
//!
//! Rules branch on facts with expressions such as
//! `error-log.errno == 111 and error-log.transport == "unix"`. The language is
//! deliberately tiny (comparisons, `=~` against a regex literal, `and`, `or`,
//! `not`, `exists(fact)`) so that `rules lint` can list every fact an
//! expression reads and compile every regex before anything runs.

mod compared;

use std::fmt;

use regex::Regex;

use crate::value::{Facts, Value};

pub use compared::{Against, Compared};

/// A parsed condition.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A literal, and the byte offset in the condition where it is
    /// written (so lint can point at it).
    Lit(Value, usize),
    Fact(String),
    Exists(String),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(Box<Expr>, CmpOp, Box<Expr>),
    /// `=~`: the regex, and the byte offset where its literal is written.
    Matches(Box<Expr>, Box<Regex>, usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Why an expression did not parse; `offset` is the byte offset in the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {})", offset + 1)]
pub struct ExprError {
    pub message: String,
    pub offset: usize,
}

/// Regexes in rules are bounded so a hostile or careless pack cannot make
/// the engine build a huge automaton.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a rule regex with the pack's size bound.
pub fn compile_regex(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// A regex error in one line, and where in the pattern it is (0-based
/// characters) when the `regex` crate says. Its own message is a drawing
/// over several lines (the pattern, a caret, `error: ...`), which would read
/// as separate problems in the one-problem-per-line output of `rules lint`.
pub fn regex_error(err: &regex::Error) -> (String, Option<usize>) {
    let regex::Error::Syntax(text) = err else {
        return (err.to_string(), None);
    };
    let lines: Vec<&str> = text.lines().collect();
    let what = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or(text);
    // A one-line pattern is drawn as: a header, the pattern indented by 4,
    // a caret line under it, the error.
    let at = match lines.as_slice() {
        [_, _, caret, _] => caret.find('^').and_then(|i| i.checked_sub(4)),
        _ => None,
    };
    (what.to_owned(), at)
}

impl Expr {
    /// Parses a condition.
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        let tokens = lex(text)?;
        let mut parser = Parser {
            tokens,
            pos: 0,
            end: text.len(),
        };
        let expr = parser.or()?;
        match parser.peek() {
            None => Ok(expr),
            Some((tok, at)) => Err(ExprError {
                message: format!("unexpected {tok}"),
                offset: at,
            }),
        }
    }

    /// Evaluates to a value (comparisons give booleans).
    pub fn eval(&self, facts: &Facts) -> Value {
        match self {
            Expr::Lit(v, _) => v.clone(),
            Expr::Fact(name) => facts.get(name).clone(),
            Expr::Exists(name) => Value::Bool(!facts.get(name).is_null()),
            Expr::Not(e) => Value::Bool(!e.eval(facts).truthy()),
            Expr::And(a, b) => Value::Bool(a.eval(facts).truthy() && b.eval(facts).truthy()),
            Expr::Or(a, b) => Value::Bool(a.eval(facts).truthy() || b.eval(facts).truthy()),
            Expr::Cmp(a, op, b) => Value::Bool(compare(&a.eval(facts), *op, &b.eval(facts))),
            Expr::Matches(a, re, _) => match a.eval(facts) {
                Value::Null => Value::Bool(false),
                v => Value::Bool(re.is_match(&v.to_string())),
            },
        }
    }

    /// Whether the condition holds.
    pub fn holds(&self, facts: &Facts) -> bool {
        self.eval(facts).truthy()
    }

    /// Every fact name the expression reads, for lint's data-flow check.
    pub fn facts(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::Lit(..) => {}
            Expr::Fact(n) | Expr::Exists(n) => out.push(n),
            Expr::Not(e) | Expr::Matches(e, ..) => e.collect(out),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(a, _, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }
}

fn compare(a: &Value, op: CmpOp, b: &Value) -> bool {
    match op {
        CmpOp::Eq => a.loosely_equals(b),
        CmpOp::Ne => !a.loosely_equals(b),
        _ => match (a.as_int(), b.as_int()) {
            (Some(x), Some(y)) => match op {
                CmpOp::Lt => x < y,
                CmpOp::Le => x <= y,
                CmpOp::Gt => x > y,
                _ => x >= y,
            },
            // Ordering needs two numbers; anything else (a Null above all) is false.
            _ => false,
        },
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Op(&'static str),
    LParen,
    RParen,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "`{s}`"),
            Tok::Str(s) => write!(f, "string {s:?}"),
            Tok::Int(i) => write!(f, "number {i}"),
            Tok::Op(o) => write!(f, "`{o}`"),
            Tok::LParen => f.write_str("`(`"),
            Tok::RParen => f.write_str("`)`"),
        }
    }
}

const OPS: [&str; 7] = ["==", "!=", "<=", ">=", "=~", "<", ">"];

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b'"' | b'\'' => {
                let (s, next) = lex_string(text, i)?;
                i = next;
                Tok::Str(s)
            }
            b'0'..=b'9' | b'-' if c != b'-' || bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                let n = text[start..i].parse().map_err(|_| ExprError {
                    message: "number out of range".into(),
                    offset: start,
                })?;
                Tok::Int(n)
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < bytes.len() && is_ident_byte(bytes[i]) {
                    i += 1;
                }
                Tok::Ident(text[start..i].to_owned())
            }
            _ => match OPS.iter().find(|op| text[i..].starts_with(**op)) {
                Some(op) => {
                    i += op.len();
                    Tok::Op(op)
                }
                None => {
                    let ch = text[i..].chars().next().unwrap_or('?');
                    return Err(ExprError {
                        message: format!("unexpected character {ch:?}"),
                        offset: i,
                    });
                }
            },
        };
        out.push((tok, start));
    }
    Ok(out)
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Reads a quoted string; a backslash escapes the quote or itself only, so
/// regex escapes such as `\d` pass through untouched.
fn lex_string(text: &str, start: usize) -> Result<(String, usize), ExprError> {
    let quote = text.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, n)) if n == quote || n == '\\' => out.push(n),
                Some((_, n)) => {
                    out.push('\\');
                    out.push(n);
                }
                None => break,
            },
            c if c == quote => return Ok((out, start + 1 + i + 1)),
            c => out.push(c),
        }
    }
    Err(ExprError {
        message: "unterminated string".into(),
        offset: start,
    })
}

struct Parser {
    tokens: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<(&Tok, usize)> {
        self.tokens.get(self.pos).map(|(t, at)| (t, *at))
    }

    fn next(&mut self) -> Result<(Tok, usize), ExprError> {
        let tok = self.tokens.get(self.pos).cloned().ok_or(ExprError {
            message: "unexpected end of condition".into(),
            offset: self.end,
        })?;
        self.pos += 1;
        Ok(tok)
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some((Tok::Ident(w), _)) if w == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.and()?;
        while self.eat_word("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.not()?;
        while self.eat_word("and") {
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ExprError> {
        if self.eat_word("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, ExprError> {
        let left = self.primary()?;
        let Some((Tok::Op(op), _)) = self.peek() else {
            return Ok(left);
        };
        let op = *op;
        self.pos += 1;
        if op == "=~" {
            return match self.next()? {
                (Tok::Str(pattern), at) => {
                    let re = compile_regex(&pattern).map_err(|e| ExprError {
                        message: format!("invalid regex: {}", regex_error(&e).0),
                        offset: at,
                    })?;
                    Ok(Expr::Matches(Box::new(left), Box::new(re), at))
                }
                (tok, at) => Err(ExprError {
                    message: format!("`=~` needs a quoted regex, found {tok}"),
                    offset: at,
                }),
            };
        }
        let op = match op {
            "==" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            _ => CmpOp::Ge,
        };
        Ok(Expr::Cmp(Box::new(left), op, Box::new(self.primary()?)))
    }

    fn primary(&mut self) -> Result<Expr, ExprError> {
        match self.next()? {
            (Tok::Int(i), at) => Ok(Expr::Lit(Value::Int(i), at)),
            (Tok::Str(s), at) => Ok(Expr::Lit(Value::Str(s), at)),
            (Tok::LParen, _) => {
                let e = self.or()?;
                self.expect_rparen()?;
                Ok(e)
            }
            (Tok::Ident(w), at) => self.word(w, at),
            (tok, at) => Err(ExprError {
                message: format!("expected a fact or a value, found {tok}"),
                offset: at,
            }),
        }
    }

    fn word(&mut self, w: String, at: usize) -> Result<Expr, ExprError> {
        match w.as_str() {
            "true" => Ok(Expr::Lit(Value::Bool(true), at)),
            "false" => Ok(Expr::Lit(Value::Bool(false), at)),
            "null" => Ok(Expr::Lit(Value::Null, at)),
            "and" | "or" | "not" => Err(ExprError {
                message: format!("`{w}` needs a condition before it"),
                offset: at,
            }),
            "exists" => {
                match self.next()? {
                    (Tok::LParen, _) => {}
                    (tok, at) => {
                        return Err(ExprError {
                            message: format!("`exists` needs `(fact)`, found {tok}"),
                            offset: at,
                        });
                    }
                }
                let name = match self.next()? {
                    (Tok::Ident(n), _) => n,
                    (tok, at) => {
                        return Err(ExprError {
                            message: format!("`exists` takes a fact name, found {tok}"),
                            offset: at,
                        });
                    }
                };
                self.expect_rparen()?;
                Ok(Expr::Exists(name))
            }
            _ => Ok(Expr::Fact(w)),
        }
    }

    fn expect_rparen(&mut self) -> Result<(), ExprError> {
        match self.next()? {
            (Tok::RParen, _) => Ok(()),
            (tok, at) => Err(ExprError {
                message: format!("expected `)`, found {tok}"),
                offset: at,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
