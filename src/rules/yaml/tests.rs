//! The loader against every way a rule file can be wrong.

use super::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A cut-down rule file: the same serde shape as `rules::schema`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    nodes: BTreeMap<String, Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    check: Option<String>,
    #[serde(default)]
    evidence: Vec<String>,
    #[serde(default)]
    branches: Vec<Branch>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Branch {
    when: Option<String>,
    next: String,
}

fn at(line: usize, column: usize) -> Pos {
    Pos { line, column }
}

fn err(text: &[u8]) -> YamlError {
    match from_bytes::<File>("r.yaml", text) {
        Ok((v, _)) => panic!("expected an error, parsed {v:?}"),
        Err(e) => e,
    }
}

/// For attacks that typed structs would stop early: any YAML is accepted.
fn err_untyped(text: &[u8]) -> YamlError {
    match from_bytes::<serde_json::Value>("r.yaml", text) {
        Ok((v, _)) => panic!("expected an error, parsed {v}"),
        Err(e) => e,
    }
}

fn alias_bomb() -> String {
    let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        s.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    s
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let e = err(b"nodes:\n  a:\n    check: \"unterminated\n");
    assert!(matches!(e, YamlError::Syntax { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "r.yaml:3:12: unclosed quote; this is not valid YAML: check quotes, brackets and \
             indentation (spaces, not tabs) here"
    );
}

#[test]
fn unknown_key_names_the_key_and_the_allowed_ones() {
    let e = err(b"nodes:\n  a:\n    chek: x\n");
    assert!(matches!(e, YamlError::Schema { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "r.yaml:3:5: unknown key `chek`; the keys allowed here are check, evidence, branches: \
             fix the spelling or remove it"
    );
}

#[test]
fn text_where_a_list_belongs_points_at_the_value() {
    let e = err(b"nodes:\n  a:\n    evidence: just-text\n");
    assert_eq!(
        e.to_string(),
        "r.yaml:3:15: wrong kind of value: expected a list (`[a, b]` or `- item` lines)"
    );
}

#[test]
fn missing_required_key_is_named() {
    let e = err(b"nodes:\n  a:\n    branches:\n      - when: x\n");
    assert_eq!(
        e.to_string(),
        "r.yaml:4:9: required key `next` is missing from this mapping; add it"
    );
}

#[test]
fn duplicate_map_key_is_rejected_at_its_second_occurrence() {
    let e = err(b"nodes:\n  a:\n    check: x\n  a:\n    check: y\n");
    assert!(
        matches!(&e, YamlError::DuplicateKey { key, .. } if key == "a"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "r.yaml:4:3: key `a` appears twice in the same mapping; remove or rename one of them"
    );
}

#[test]
fn duplicate_struct_field_is_rejected() {
    let e = err(b"nodes:\n  a:\n    check: x\n    check: y\n");
    assert_eq!(e.pos(), Some(at(4, 5)));
    assert!(e.message().starts_with("key `check` appears twice"), "{e}");
}

#[test]
fn alias_bomb_is_stopped_by_the_budget() {
    let started = Instant::now();
    let e = err_untyped(alias_bomb().as_bytes());
    assert!(matches!(e, YamlError::TooComplex { .. }), "{e:?}");
    assert!(e.to_string().starts_with("r.yaml:"), "{e}");
    assert!(e.message().contains("flatten it"), "{e}");
    // Bounded, not merely eventually rejected: the full expansion is 9^9 nodes.
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn hundred_thousand_open_brackets_give_an_error_not_a_stack_overflow() {
    let e = err_untyped("[".repeat(100_000).as_bytes());
    assert!(matches!(e, YamlError::TooComplex { .. }), "{e:?}");
    assert_eq!(e.pos(), Some(at(1, 256)));
    assert!(e.message().starts_with("recursion limit exceeded;"), "{e}");
}

#[test]
fn deep_but_well_formed_nesting_is_stopped_at_the_depth_limit() {
    let flow = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let block: String = (0..200).map(|i| format!("{}- \n", " ".repeat(i))).collect();
    for text in [flow, block] {
        let e = err_untyped(text.as_bytes());
        assert!(matches!(e, YamlError::TooComplex { .. }), "{e:?}");
    }
}

#[test]
fn invalid_utf8_names_the_byte_and_its_position() {
    let e = err(b"nodes:\n  a:\n    check: x\xff\n");
    assert_eq!(
        e.to_string(),
        "r.yaml:3:13: byte 0xff is not valid UTF-8; save the file as UTF-8"
    );
}

#[test]
fn utf16_file_is_named_as_such_with_or_without_bom() {
    let text = "nodes: {}\n";
    let mut le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let e = err(&le);
    assert_eq!(
        e.to_string(),
        "r.yaml: the file is UTF-16LE, not UTF-8; convert it, e.g. `iconv -f UTF-16LE -t UTF-8`"
    );
    le.splice(0..0, [0xFF, 0xFE]);
    assert!(matches!(
        err(&le),
        YamlError::WrongEncoding {
            encoding: "UTF-16LE",
            ..
        }
    ));
    let be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    assert!(matches!(
        err(&be),
        YamlError::WrongEncoding {
            encoding: "UTF-16BE",
            ..
        }
    ));
}

#[test]
fn utf8_bom_is_skipped_and_not_counted_in_columns() {
    let (_, index) = from_bytes::<File>("r.yaml", b"\xEF\xBB\xBFnodes: {a: {check: x}}\n").unwrap();
    let check = [
        PathSeg::Key("nodes"),
        PathSeg::Key("a"),
        PathSeg::Key("check"),
    ];
    assert_eq!(index.get(&check), Some(at(1, 20)));
}

#[test]
fn empty_or_comment_only_file_is_rejected() {
    for text in ["", "\n  \n", "# nothing yet\n   # still nothing\n"] {
        let e = err(text.as_bytes());
        assert_eq!(
            e.to_string(),
            "r.yaml: the file has no content (only blank lines or comments); add rules or \
                 remove the file"
        );
    }
}

#[test]
fn oversized_file_is_rejected_before_parsing() {
    // Not YAML at all: proves the limit comes before the parser.
    let big = vec![b'['; MAX_RULE_FILE_BYTES + 1];
    let e = err(&big);
    assert!(matches!(e, YamlError::TooLarge { size, .. } if size == MAX_RULE_FILE_BYTES + 1));
    assert!(
        e.to_string()
            .starts_with("r.yaml: the file is 1048577 bytes"),
        "{e}"
    );
}

#[test]
fn tab_indentation_is_a_syntax_error_at_the_tab() {
    let e = err(b"nodes:\n\ta:\n");
    assert_eq!(e.pos(), Some(at(2, 2)));
    assert!(e.message().starts_with("tabs disallowed"), "{e}");
}

#[test]
fn second_document_is_rejected() {
    let e = err(b"nodes: {}\n---\nnodes: {}\n");
    assert_eq!(
        e.to_string(),
        "r.yaml:3:1: a rule file holds one YAML document; remove the `---` line or split the file"
    );
}

#[test]
fn unknown_tag_is_rejected() {
    let e = err(b"nodes:\n  a:\n    check: !foo x\n");
    assert_eq!(e.pos(), Some(at(3, 17)));
    assert!(e.message().contains("rule files use no `!tags`"), "{e}");
}

#[test]
fn control_characters_from_the_file_are_escaped_in_messages() {
    let e = err(b"nodes:\n  a:\n    \"ch\\e[31mek\": x\n");
    assert!(e.message().contains("`ch\\u{1b}[31mek`"), "{e}");
}

const NESTED: &str = "\
nodes:
  start:
    check: probe-a
    branches:
      - when: x > 1
        next: done
      - next: other
  done: {check: probe-b, evidence: [one, two]}
";

#[test]
fn valid_file_fills_the_structs() {
    let (file, _) = from_str::<File>("r.yaml", NESTED).unwrap();
    let start = &file.nodes["start"];
    assert_eq!(start.check.as_deref(), Some("probe-a"));
    assert_eq!(start.branches[0].when.as_deref(), Some("x > 1"));
    assert_eq!(start.branches[1].next, "other");
    assert_eq!(file.nodes["done"].evidence, ["one", "two"]);
}

fn index() -> PosIndex {
    from_str::<File>("r.yaml", NESTED).unwrap().1
}

#[test]
fn index_finds_scalars_inside_lists_and_mappings() {
    use PathSeg::{Index, Key};
    let idx = index();
    let next = [
        Key("nodes"),
        Key("start"),
        Key("branches"),
        Index(1),
        Key("next"),
    ];
    assert_eq!(idx.get(&next), Some(at(7, 15)));
    let evidence = [Key("nodes"), Key("done"), Key("evidence"), Index(1)];
    assert_eq!(idx.get(&evidence), Some(at(8, 42)));
    assert_eq!(
        idx.get(&[Key("nodes"), Key("start"), Key("check")]),
        Some(at(3, 12))
    );
}

#[test]
fn index_places_a_collection_at_its_first_token() {
    use PathSeg::Key;
    let idx = index();
    assert_eq!(idx.get(&[Key("nodes"), Key("done")]), Some(at(8, 9)));
    assert_eq!(
        idx.get(&[Key("nodes"), Key("start"), Key("branches")]),
        Some(at(5, 7))
    );
}

#[test]
fn index_gives_key_positions() {
    use PathSeg::Key;
    let idx = index();
    assert_eq!(idx.key(&[Key("nodes"), Key("done")]), Some(at(8, 3)));
    assert_eq!(idx.key(&[Key("nodes"), Key("nope")]), None);
}

#[test]
fn missing_path_has_no_position_but_a_nearest_ancestor() {
    use PathSeg::{Index, Key};
    let idx = index();
    let missing = [
        Key("nodes"),
        Key("start"),
        Key("branches"),
        Index(5),
        Key("next"),
    ];
    assert_eq!(idx.get(&missing), None);
    assert_eq!(idx.nearest(&missing), at(5, 7));
    assert_eq!(idx.get(&[Key("nodes"), Index(0)]), None);
    // The root mapping starts at its first key.
    assert_eq!(idx.nearest(&[Key("elsewhere")]), at(1, 1));
}

#[test]
fn alias_is_placed_where_it_is_used() {
    let text = "nodes:\n  a: &shared {check: p}\n  b: *shared\n";
    let (_, idx) = from_str::<File>("r.yaml", text).unwrap();
    assert_eq!(
        idx.get(&[PathSeg::Key("nodes"), PathSeg::Key("b")]),
        Some(at(3, 6))
    );
}

#[test]
fn an_escape_sequence_written_as_a_yaml_escape_is_refused_where_it_is() {
    let e = err(b"nodes:\n  a:\n    check: \"x\\e]0;title\\a\"\n");
    assert_eq!(e.pos(), Some(at(3, 12)), "{e}");
    assert!(e.to_string().contains("control character U+001B"), "{e}");
}

#[test]
fn an_escape_in_a_key_is_refused_too() {
    let e = err_untyped(b"\"k\\e[2J\": 1\n");
    assert!(e.to_string().contains("control character U+001B"), "{e}");
}
