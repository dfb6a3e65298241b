//! Where a piece of rule text is written: file, line and column.
//!
//! A template remembers where each fact it quotes is written, so that lint
//! can point at it; the pack (`rules`) builds templates and hands them their
//! places. The types live here, below the pack, so that the template
//! language does not reach back up into the pack that uses it.

use std::fmt;

/// Where something is in a rule file: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Where a definition is: file and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub pos: Pos,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.pos.line, self.pos.column)
    }
}
