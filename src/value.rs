//! Facts: the typed values probes find and rules branch on.
//!
//! A fact is a named [`Value`]. Names are dotted (`error-log.errno`): the
//! probe id, then the fact. A declared fact that a probe could not establish
//! is [`Value::Null`], so a rule can always name it and test `exists(...)`
//! instead of the engine failing half-way through a walk.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One fact's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// Not established: the probe did not run, did not match, or had nothing to say.
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    /// Items, each with facts of its own (every failing upstream): what an
    /// `each` node walks one by one.
    List(Vec<BTreeMap<String, Value>>),
}

impl Value {
    /// Whether a bare value counts as "yes" in a condition.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Str(s) => !s.is_empty(),
            Value::List(items) => !items.is_empty(),
        }
    }

    /// The value as an integer, reading numeric strings too: regex captures
    /// are text, and `errno == 111` should not need a conversion step.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Bool(_) | Value::Null | Value::List(_) => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A value from text that may be empty: empty means "not established".
    pub fn text(s: impl Into<String>) -> Value {
        let s = s.into();
        if s.is_empty() {
            Value::Null
        } else {
            Value::Str(s)
        }
    }

    /// Loose equality: numbers compare numerically across text and integers.
    pub fn loosely_equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Null, _) | (_, Value::Null) => false,
            (Value::Int(_), _) | (_, Value::Int(_)) => match (self.as_int(), other.as_int()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("(unknown)"),
            Value::Bool(b) => write!(f, "{}", if *b { "yes" } else { "no" }),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => f.write_str(s),
            Value::List(items) => write!(f, "{} item(s)", items.len()),
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Every fact known at one point of a walk, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Facts(BTreeMap<String, Value>);

impl Facts {
    pub fn new() -> Self {
        Self::default()
    }

    /// The fact's value; an unknown name reads as `Null` (lint proves names exist).
    pub fn get(&self, name: &str) -> &Value {
        self.0.get(name).unwrap_or(&Value::Null)
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.0.insert(name.into(), value.into());
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_text_equals_integer() {
        assert!(Value::from("111").loosely_equals(&Value::Int(111)));
        assert!(!Value::from("abc").loosely_equals(&Value::Int(111)));
    }

    #[test]
    fn null_equals_only_null() {
        assert!(Value::Null.loosely_equals(&Value::Null));
        assert!(!Value::Null.loosely_equals(&Value::from("")));
    }

    #[test]
    fn empty_text_is_not_established() {
        assert_eq!(Value::text(""), Value::Null);
        assert_eq!(Value::text("x"), Value::from("x"));
    }

    #[test]
    fn unknown_fact_reads_as_null() {
        assert_eq!(Facts::new().get("nope"), &Value::Null);
    }
}
