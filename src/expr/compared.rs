//! Which literals a condition compares its facts with, and where they are
//! written: what `rules lint` needs to check a literal against the values a
//! fact can hold (a signature id, say) and to point at the literal.

use regex::Regex;

use super::{CmpOp, Expr};
use crate::value::Value;

/// One fact compared with a literal: `fact == "x"`, `"x" != fact`, or
/// `fact =~ "re"`.
#[derive(Debug, Clone, Copy)]
pub struct Compared<'a> {
    pub fact: &'a str,
    pub with: Against<'a>,
    /// Byte offset in the condition text where the literal (its opening
    /// quote) is written.
    pub at: usize,
}

/// What a fact is compared with.
#[derive(Debug, Clone, Copy)]
pub enum Against<'a> {
    /// `==` or `!=` this value.
    Value(&'a Value),
    /// `=~` this regex.
    Regex(&'a Regex),
}

impl Expr {
    /// Every comparison of a fact with a literal, wherever it sits in the
    /// condition (under `not`, `and`, `or`), in the order written.
    pub fn compared(&self) -> Vec<Compared<'_>> {
        let mut out = Vec::new();
        self.collect_compared(&mut out);
        out
    }

    fn collect_compared<'a>(&'a self, out: &mut Vec<Compared<'a>>) {
        match self {
            Expr::Cmp(a, CmpOp::Eq | CmpOp::Ne, b) => out.extend(fact_and_literal(a, b)),
            Expr::Matches(a, re, at) => {
                if let Expr::Fact(fact) = a.as_ref() {
                    out.push(Compared {
                        fact,
                        with: Against::Regex(re),
                        at: *at,
                    });
                }
            }
            Expr::Not(e) => e.collect_compared(out),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect_compared(out);
                b.collect_compared(out);
            }
            Expr::Lit(..) | Expr::Fact(_) | Expr::Exists(_) | Expr::Cmp(..) => {}
        }
    }
}

/// The fact and the literal of `a == b`, in either order.
fn fact_and_literal<'a>(a: &'a Expr, b: &'a Expr) -> Option<Compared<'a>> {
    let (fact, value, at) = match (a, b) {
        (Expr::Fact(fact), Expr::Lit(value, at)) | (Expr::Lit(value, at), Expr::Fact(fact)) => {
            (fact, value, at)
        }
        _ => return None,
    };
    Some(Compared {
        fact,
        with: Against::Value(value),
        at: *at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (fact, literal as written, offset) of each comparison in `text`.
    fn compared(text: &str) -> Vec<(String, String, usize)> {
        let expr = Expr::parse(text).expect("a valid condition");
        expr.compared()
            .into_iter()
            .map(|c| {
                let with = match c.with {
                    Against::Value(v) => v.to_string(),
                    Against::Regex(re) => format!("/{}/", re.as_str()),
                };
                (c.fact.to_owned(), with, c.at)
            })
            .collect()
    }

    #[test]
    fn both_orders_of_equality_name_the_fact_and_the_literal() {
        assert_eq!(
            compared(r#"a.sig == "x" or "y" != a.sig"#),
            vec![
                ("a.sig".into(), "x".into(), 9),
                ("a.sig".into(), "y".into(), 16)
            ]
        );
    }

    #[test]
    fn a_regex_match_is_found_under_not_and_and() {
        assert_eq!(
            compared(r#"not (exists(a.b) and a.sig =~ "^(x|y)$")"#),
            vec![("a.sig".into(), "/^(x|y)$/".into(), 30)]
        );
    }

    #[test]
    fn ordering_and_fact_to_fact_comparisons_are_not_listed() {
        assert!(compared("a.n > 1 and a.sig == b.sig and 1 == 1").is_empty());
    }
}
