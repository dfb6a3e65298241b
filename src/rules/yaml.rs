//! The one place the project touches YAML: rule files are decoded, parsed
//! with `serde-saphyr` under tight limits, and indexed by position.
//!
//! Rule files come from administrators (`--rules DIR`), so they are treated as
//! hostile: size, encoding, nesting depth and alias expansion are bounded before
//! any rule is built, duplicate keys are errors rather than silently last-wins,
//! and every error says `file:line:column` and what to do. The [`PosIndex`]
//! returned next to the value lets later semantic checks (a dangling node
//! reference, a bad regex) point at the spot in the file as well.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::granit_parser::ErrorKind as ScanErrorKind;
use serde_saphyr::{Error as SaphyrError, ExternalMessageSource, Location, MessageFormatter};

/// Bigger files are rejected before parsing.
pub const MAX_RULE_FILE_BYTES: usize = 1 << 20;

/// Where something is in a rule file: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Why a rule file could not be loaded. Displays as `file:line:column: message`
/// when the position is known, else `file: message`.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// Over [`MAX_RULE_FILE_BYTES`]; not parsed at all.
    TooLarge { file: String, size: usize },
    /// UTF-16 or UTF-32, recognised by a byte-order mark or NUL bytes.
    WrongEncoding {
        file: String,
        encoding: &'static str,
    },
    /// Bytes that are not UTF-8; `byte` is the first bad one.
    InvalidUtf8 { file: String, pos: Pos, byte: u8 },
    /// Nothing but blank lines and comments.
    Empty { file: String },
    /// Not well-formed YAML (brackets, quotes, indentation, tabs, anchors).
    Syntax {
        file: String,
        pos: Option<Pos>,
        message: String,
    },
    /// The same key twice in one mapping.
    DuplicateKey {
        file: String,
        pos: Option<Pos>,
        key: String,
    },
    /// Nesting or alias expansion past the limits a rule file needs.
    TooComplex {
        file: String,
        pos: Option<Pos>,
        message: String,
    },
    /// Valid YAML of the wrong shape: an unknown or missing key, a wrong type.
    Schema {
        file: String,
        pos: Option<Pos>,
        message: String,
    },
}

impl YamlError {
    /// The file name the error was created with.
    pub fn file(&self) -> &str {
        match self {
            YamlError::TooLarge { file, .. }
            | YamlError::WrongEncoding { file, .. }
            | YamlError::InvalidUtf8 { file, .. }
            | YamlError::Empty { file }
            | YamlError::Syntax { file, .. }
            | YamlError::DuplicateKey { file, .. }
            | YamlError::TooComplex { file, .. }
            | YamlError::Schema { file, .. } => file,
        }
    }

    /// Where in the file, when known.
    pub fn pos(&self) -> Option<Pos> {
        match self {
            YamlError::TooLarge { .. }
            | YamlError::WrongEncoding { .. }
            | YamlError::Empty { .. } => None,
            YamlError::InvalidUtf8 { pos, .. } => Some(*pos),
            YamlError::Syntax { pos, .. }
            | YamlError::DuplicateKey { pos, .. }
            | YamlError::TooComplex { pos, .. }
            | YamlError::Schema { pos, .. } => *pos,
        }
    }

    /// The message alone, without the `file:line:column: ` prefix.
    pub fn message(&self) -> String {
        match self {
            YamlError::TooLarge { size, .. } => format!(
                "the file is {size} bytes, more than the {MAX_RULE_FILE_BYTES} a rule file may have; \
                 split it into several files"
            ),
            YamlError::WrongEncoding { encoding, .. } => format!(
                "the file is {encoding}, not UTF-8; convert it, e.g. `iconv -f {encoding} -t UTF-8`"
            ),
            YamlError::InvalidUtf8 { byte, .. } => {
                format!("byte 0x{byte:02x} is not valid UTF-8; save the file as UTF-8")
            }
            YamlError::Empty { .. } => {
                "the file has no content (only blank lines or comments); add rules or remove the file"
                    .to_string()
            }
            YamlError::DuplicateKey { key, .. } => format!(
                "key `{key}` appears twice in the same mapping; remove or rename one of them"
            ),
            YamlError::Syntax { message, .. }
            | YamlError::TooComplex { message, .. }
            | YamlError::Schema { message, .. } => message.clone(),
        }
    }
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos() {
            Some(p) => write!(
                f,
                "{}:{}:{}: {}",
                self.file(),
                p.line,
                p.column,
                self.message()
            ),
            None => write!(f, "{}: {}", self.file(), self.message()),
        }
    }
}

/// Parses a rule file read as bytes: checks size and encoding, then [`from_str`].
pub fn from_bytes<T: DeserializeOwned>(
    file: &str,
    bytes: &[u8],
) -> Result<(T, PosIndex), YamlError> {
    check_size(file, bytes.len())?;
    if let Some(encoding) = foreign_encoding(bytes) {
        return Err(YamlError::WrongEncoding {
            file: file.to_string(),
            encoding,
        });
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => from_str(file, text),
        Err(e) => Err(utf8_error(file, bytes, e.valid_up_to())),
    }
}

/// Parses a rule file into `T` (whose structs should `deny_unknown_fields`)
/// and indexes the position of every node for later messages.
pub fn from_str<T: DeserializeOwned>(file: &str, text: &str) -> Result<(T, PosIndex), YamlError> {
    check_size(file, text.len())?;
    // Editors on Windows add a BOM; columns on line 1 should not count it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(YamlError::Empty {
            file: file.to_string(),
        });
    }
    // The typed pass first: its errors (unknown key, wrong type) are the ones
    // an author needs; the index pass accepts any YAML the typed pass did.
    let value: T =
        serde_saphyr::from_str_with_options(text, options()).map_err(|e| convert(file, &e))?;
    let root: Node =
        serde_saphyr::from_str_with_options(text, options()).map_err(|e| convert(file, &e))?;
    Ok((value, PosIndex { root }))
}

fn check_size(file: &str, size: usize) -> Result<(), YamlError> {
    if size > MAX_RULE_FILE_BYTES {
        return Err(YamlError::TooLarge {
            file: file.to_string(),
            size,
        });
    }
    Ok(())
}

/// Parser limits. Rule files are small, hand-written trees that need no deep
/// nesting and hardly any aliases, so anything past these is an attack or a mistake.
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 64,
            max_nodes: 100_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
        },
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        // `!tag`s mean nothing in a rule file; silently ignoring one hides a typo.
        reject_unsupported_tags: true,
        with_snippet: false,
    }
}

/// UTF-16/32 files (Windows "Unicode" saves) would otherwise fail with a
/// confusing byte error; a BOM or a NUL in the first two bytes gives them away.
fn foreign_encoding(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xFE, 0, 0, ..] => Some("UTF-32LE"),
        [0, 0, 0xFE, 0xFF, ..] => Some("UTF-32BE"),
        [0xFF, 0xFE, ..] => Some("UTF-16LE"),
        [0xFE, 0xFF, ..] => Some("UTF-16BE"),
        [a, 0, ..] if *a != 0 => Some("UTF-16LE"),
        [0, b, ..] if *b != 0 => Some("UTF-16BE"),
        _ => None,
    }
}

fn utf8_error(file: &str, bytes: &[u8], valid_up_to: usize) -> YamlError {
    let valid = bytes.get(..valid_up_to).unwrap_or_default();
    let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let tail = valid.get(line_start..).unwrap_or_default();
    let column = std::str::from_utf8(tail).map_or(tail.len(), |s| s.chars().count()) + 1;
    let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
    let byte = bytes.get(valid_up_to).copied().unwrap_or_default();
    YamlError::InvalidUtf8 {
        file: file.to_string(),
        pos: Pos { line, column },
        byte,
    }
}

fn to_pos(loc: Location) -> Option<Pos> {
    let line = usize::try_from(loc.line()).ok()?;
    let column = usize::try_from(loc.column()).ok()?;
    (line > 0 && column > 0).then_some(Pos { line, column })
}

/// Sorts a serde-saphyr error into our variants, with a hint for the author.
fn convert(file: &str, err: &SaphyrError) -> YamlError {
    let pos = err.location().and_then(to_pos);
    let inner = original(err);
    let pos = pos.or_else(|| inner.location().and_then(to_pos));
    let file = file.to_string();
    let text = clean(&serde_saphyr::UserMessageFormatter.format_message(inner));
    match inner {
        SaphyrError::DuplicateMappingKey { key, .. } => {
            let key = clean(key.as_deref().unwrap_or("?"));
            YamlError::DuplicateKey { file, pos, key }
        }
        e if is_too_complex(e) => YamlError::TooComplex {
            file,
            pos,
            message: format!(
                "{text}; a rule file needs neither deep nesting nor many aliases, so flatten it"
            ),
        },
        e => match schema_message(e) {
            Some(message) => YamlError::Schema { file, pos, message },
            None => YamlError::Syntax {
                file,
                pos,
                message: syntax_message(e, &text),
            },
        },
    }
}

fn syntax_message(err: &SaphyrError, text: &str) -> String {
    match err {
        SaphyrError::MultipleDocuments { .. } => "a rule file holds one YAML document; \
            remove the `---` line or split the file"
            .to_string(),
        SaphyrError::UnknownAnchor { .. } => "this alias (`*name`) has no anchor (`&name`) \
            before it; define the anchor or write the value"
            .to_string(),
        SaphyrError::UnsupportedTag { .. } => format!(
            "{text}; rule files use no `!tags`: remove it, or quote the value if `!` is meant"
        ),
        _ => format!(
            "{text}; this is not valid YAML: check quotes, brackets and indentation \
             (spaces, not tabs) here"
        ),
    }
}

/// The error itself, out of the wrappers that only add snippets or alias sites.
fn original(err: &SaphyrError) -> &SaphyrError {
    match err {
        SaphyrError::WithSnippet { error, .. } | SaphyrError::AliasError { error, .. } => {
            original(error)
        }
        other => other,
    }
}

fn is_too_complex(err: &SaphyrError) -> bool {
    match err {
        SaphyrError::Budget { .. }
        | SaphyrError::AliasReplayCounterOverflow { .. }
        | SaphyrError::AliasReplayLimitExceeded { .. }
        | SaphyrError::AliasExpansionLimitExceeded { .. }
        | SaphyrError::AliasReplayStackDepthExceeded { .. } => true,
        SaphyrError::ExternalMessage { source, .. } => matches!(
            source.as_ref(),
            ExternalMessageSource::Parser(scan) if *scan.kind() == ScanErrorKind::RecursionLimitExceeded
        ),
        _ => false,
    }
}

/// The message for errors about the document's shape; `None` for syntax errors.
fn schema_message(err: &SaphyrError) -> Option<String> {
    let message = match err {
        SaphyrError::SerdeUnknownField {
            field, expected, ..
        } => format!(
            "unknown key `{}`; the keys allowed here are {}: fix the spelling or remove it",
            clean(field),
            expected.join(", ")
        ),
        SaphyrError::SerdeMissingField { field, .. } => {
            format!("required key `{field}` is missing from this mapping; add it")
        }
        SaphyrError::SerdeUnknownVariant {
            variant, expected, ..
        } => format!(
            "`{}` is not an allowed value; use one of {}",
            clean(variant),
            expected.join(", ")
        ),
        SaphyrError::Unexpected { expected, .. } => {
            format!("wrong kind of value: expected {}", describe(expected))
        }
        SaphyrError::SerdeInvalidType {
            unexpected,
            expected,
            ..
        }
        | SaphyrError::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => format!(
            "wrong value: found {}, expected {}",
            clean(unexpected),
            clean(expected)
        ),
        SaphyrError::NullIntoString { .. } => {
            "the value is missing (empty or null); write it, or `\"\"` for empty text".to_string()
        }
        SaphyrError::InvalidScalar { .. }
        | SaphyrError::InvalidBooleanStrict { .. }
        | SaphyrError::SerdeInvalidLength { .. }
        | SaphyrError::NonFiniteFloat { .. } => {
            let text = clean(&serde_saphyr::UserMessageFormatter.format_message(err));
            format!("{text}; correct the value")
        }
        _ => return None,
    };
    Some(message)
}

/// serde-saphyr names parser events; authors think in lists, mappings and text.
fn describe(expected: &str) -> String {
    match expected {
        "sequence start" => "a list (`[a, b]` or `- item` lines)".to_string(),
        "mapping start" => "a mapping (`key: value` lines)".to_string(),
        "string scalar" | "scalar" => "a single value, not a list or mapping".to_string(),
        other => clean(other),
    }
}

/// Messages quote the file's own text; keep its control characters off the terminal.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// One step of a path into a document: a mapping key or a list index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathSeg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Maps a path of keys/indices inside the document to the position of that
/// node (the value), so later semantic checks can point at file:line:column.
#[derive(Debug)]
pub struct PosIndex {
    root: Node,
}

impl PosIndex {
    /// The position of the value at `path`; `None` if there is no such node
    /// (or, rarely, serde-saphyr could not place it).
    pub fn get(&self, path: &[PathSeg]) -> Option<Pos> {
        self.find(path)?.pos
    }

    /// The position of the key of the mapping entry at `path` (its last
    /// segment must be a [`PathSeg::Key`]): where `name:` is written.
    pub fn key(&self, path: &[PathSeg]) -> Option<Pos> {
        let (PathSeg::Key(last), parent) = path.split_last()? else {
            return None;
        };
        self.find(parent)?.entry(last)?.key_pos
    }

    /// The position at `path`, or of its nearest ancestor that exists; the
    /// start of the file when not even the root is placed.
    pub fn nearest(&self, path: &[PathSeg]) -> Pos {
        let mut best = self.root.pos;
        let mut node = &self.root;
        for seg in path {
            let Some(child) = node.child(*seg) else { break };
            node = child;
            best = child.pos.or(best);
        }
        best.unwrap_or(Pos { line: 1, column: 1 })
    }

    fn find(&self, path: &[PathSeg]) -> Option<&Node> {
        path.iter()
            .try_fold(&self.root, |node, seg| node.child(*seg))
    }
}

/// One YAML node as the index keeps it: where it is and what is below it.
#[derive(Debug)]
struct Node {
    pos: Option<Pos>,
    kids: Kids,
}

#[derive(Debug)]
enum Kids {
    /// A scalar, with its text when it can name a mapping key.
    Leaf(Option<String>),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A mapping entry; `key` is `None` for a list or mapping used as a key.
#[derive(Debug)]
struct Entry {
    key: Option<String>,
    key_pos: Option<Pos>,
    value: Node,
}

impl Node {
    fn child(&self, seg: PathSeg) -> Option<&Node> {
        match (&self.kids, seg) {
            (Kids::Seq(items), PathSeg::Index(i)) => items.get(i),
            (Kids::Map(_), PathSeg::Key(k)) => self.entry(k).map(|e| &e.value),
            _ => None,
        }
    }

    fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.kids {
            // Duplicate keys were rejected before indexing, so the first match is the only one.
            Kids::Map(entries) => entries.iter().find(|e| e.key.as_deref() == Some(key)),
            _ => None,
        }
    }
}

// The index is built by a second serde-saphyr pass into `Spanned` nodes:
// `Spanned<T>` is the crate's span support, and the pass runs under the same
// budget, so its recursion never goes past `max_depth`.
impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<Kids>::deserialize(d)?;
        Ok(Node {
            pos: to_pos(s.referenced).or_else(|| to_pos(s.defined)),
            kids: s.value,
        })
    }
}

impl<'de> Deserialize<'de> for Kids {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KidsVisitor)
    }
}

struct KidsVisitor;

fn leaf<E>(text: impl ToString) -> Result<Kids, E> {
    Ok(Kids::Leaf(Some(text.to_string())))
}

impl<'de> Visitor<'de> for KidsVisitor {
    type Value = Kids;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kids, E> {
        leaf(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kids, E> {
        leaf(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kids, E> {
        leaf(v)
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Kids, E> {
        leaf(v)
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kids, E> {
        leaf(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kids, E> {
        leaf(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kids, E> {
        leaf(v)
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Kids, E> {
        Ok(Kids::Leaf(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kids, E> {
        Ok(Kids::Leaf(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Kids, E> {
        Ok(Kids::Leaf(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kids, D::Error> {
        Kids::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Kids, D::Error> {
        Kids::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kids, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Kids::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kids, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            let text = match key.kids {
                Kids::Leaf(text) => text,
                Kids::Seq(_) | Kids::Map(_) => None,
            };
            entries.push(Entry {
                key: text,
                key_pos: key.pos,
                value,
            });
        }
        Ok(Kids::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let (_, index) =
            from_bytes::<File>("r.yaml", b"\xEF\xBB\xBFnodes: {a: {check: x}}\n").unwrap();
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
}
