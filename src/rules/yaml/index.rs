//! The position index: where each node of a parsed rule file is, so
//! semantic checks can point at `file:line:column` after serde is done.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use std::fmt;

use super::{Pos, to_pos};

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

/// Indexes `text` by a second serde-saphyr pass under the same limits.
pub(super) fn build(
    text: &str,
    options: serde_saphyr::Options,
) -> Result<PosIndex, serde_saphyr::Error> {
    let root: Node = serde_saphyr::from_str_with_options(text, options)?;
    Ok(PosIndex { root })
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

    /// The first text in the file (a value or a key) holding a character
    /// that steers a terminal, and where it is. Plain YAML cannot hold one,
    /// but a double-quoted `"\e"` or `"\a"` can, and rule text is printed.
    pub fn first_control(&self) -> Option<(Option<Pos>, char)> {
        self.root.first_control()
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

    fn first_control(&self) -> Option<(Option<Pos>, char)> {
        match &self.kids {
            Kids::Leaf(text) => control_in(text.as_deref()?).map(|c| (self.pos, c)),
            Kids::Seq(items) => items.iter().find_map(Node::first_control),
            Kids::Map(entries) => entries.iter().find_map(|e| {
                let in_key = e.key.as_deref().and_then(control_in);
                in_key
                    .map(|c| (e.key_pos, c))
                    .or_else(|| e.value.first_control())
            }),
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

/// A control character other than tab and newline, a bidi embedding,
/// override or isolate, or a line/paragraph separator in `s`.
fn control_in(s: &str) -> Option<char> {
    s.chars().find(|&c| {
        (c.is_control() && c != '\n' && c != '\t')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
            || c == '\u{2028}'
            || c == '\u{2029}'
    })
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
