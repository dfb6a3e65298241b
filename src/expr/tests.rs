//! The condition language: parsing, evaluation, and the facts it reads.

use super::*;

fn facts() -> Facts {
    let mut f = Facts::new();
    f.set("log.errno", "111");
    f.set("log.transport", "unix");
    f.set("fpm.running", false);
    f.set("fpm.children", 5_i64);
    f
}

fn holds(text: &str) -> bool {
    Expr::parse(text).unwrap().holds(&facts())
}

#[test]
fn compares_captured_text_with_numbers() {
    assert!(holds("log.errno == 111"));
    assert!(holds("fpm.children >= 5 and fpm.children < 6"));
}

#[test]
fn and_binds_tighter_than_or() {
    assert!(holds("log.errno == 2 and false or log.transport == 'unix'"));
    assert!(!holds(
        "log.errno == 2 and (false or log.transport == 'unix')"
    ));
}

#[test]
fn not_negates_a_bare_fact() {
    assert!(holds("not fpm.running"));
}

#[test]
fn missing_fact_is_null_and_exists_says_so() {
    assert!(holds("not exists(log.missing)"));
    assert!(holds("exists(log.errno)"));
    assert!(!holds("log.missing > 0"));
    assert!(holds("log.missing == null"));
}

#[test]
fn regex_match_uses_the_literal() {
    assert!(holds(r#"log.transport =~ "^un\w+$""#));
}

#[test]
fn lists_every_fact_read() {
    let e = Expr::parse("a.b == 1 or not exists(c.d) and e =~ 'x'").unwrap();
    assert_eq!(e.facts(), vec!["a.b", "c.d", "e"]);
}

#[test]
fn invalid_regex_is_an_error_at_its_offset() {
    let err = Expr::parse("x =~ '('").unwrap_err();
    assert!(err.message.starts_with("invalid regex"), "{err}");
    assert_eq!(err.offset, 5);
}

#[test]
fn regex_errors_are_one_line_with_their_place() {
    let Err(err) = compile_regex("ab(c") else {
        panic!("`ab(c` compiled");
    };
    assert_eq!(regex_error(&err), ("unclosed group".to_owned(), Some(2)));
}

#[test]
fn dangling_operator_is_an_error() {
    let err = Expr::parse("x ==").unwrap_err();
    assert_eq!(err.message, "unexpected end of condition");
    let err = Expr::parse("x == 1 y").unwrap_err();
    assert_eq!(err.message, "unexpected `y`");
}

#[test]
fn negative_numbers_parse() {
    let e = Expr::parse("x == -1").unwrap();
    let mut f = Facts::new();
    f.set("x", -1_i64);
    assert!(e.holds(&f));
}
