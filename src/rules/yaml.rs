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

use serde::de::DeserializeOwned;
use serde_saphyr::granit_parser::ErrorKind as ScanErrorKind;
use serde_saphyr::{Error as SaphyrError, ExternalMessageSource, Location, MessageFormatter};

mod index;
#[cfg(test)]
mod tests;

pub use index::{PathSeg, PosIndex};

/// Bigger files are rejected before parsing.
pub const MAX_RULE_FILE_BYTES: usize = 1 << 20;

pub use crate::template::Pos;

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
    let index = index::build(text, options()).map_err(|e| convert(file, &e))?;
    if let Some((pos, c)) = index.first_control() {
        return Err(YamlError::Schema {
            file: file.to_string(),
            pos,
            message: format!(
                "this text holds the control character U+{:04X} (from an escape such as `\\e`); \
                 rule text is shown on terminals, so remove it",
                u32::from(c)
            ),
        });
    }
    Ok((value, index))
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
