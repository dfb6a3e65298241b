//! The cheap test that lets the scan skip most entries of a log unparsed.
//!
//! Parsing and classifying a line costs about a microsecond; a busy log has
//! millions of lines and most are noise (notices, client errors, FastCGI
//! stderr). Two necessary conditions, each derived from what
//! [`classify`](crate::logs::classify::classify) requires, reject nearly all
//! of them for a few byte comparisons:
//!
//! * the head line: a known level at `error` or worse (below it only the
//!   "upstream server temporarily disabled" warning counts, which nginx logs
//!   at `warn`: a `notice`, `info` or `debug` line is rejected on its level
//!   before the rest of its head is split), a message not
//!   starting with `client ` nor with `FastCGI sent in stderr: ` (the
//!   application talking: the scan and the diagnosis both skip it here, so
//!   it is no upstream failure whatever status a pack gives it);
//! * the entry: the ` while ` before an upstream action somewhere, or else a
//!   message starting the way the action-less resolver and configuration
//!   failures do.
//!
//! Both only ever answer "no" when classify would find no failure (see
//! `SignatureBook::is_upstream_failure`); the tests check that on every
//! catalogue line and on many random ones. Text after the marker is
//! attacker-controlled (a Referer may say " while "), which costs a parse,
//! never a wrong count.

use memchr::memmem::Finder;

use crate::logs::Level;
use crate::logs::classify;
use crate::logs::nginx_line::HeadSpans;

/// The one message below `error` that classify accepts.
const DISABLED: Prefix = Prefix::new(classify::DISABLED.as_bytes());
const CLIENT: Prefix = Prefix::new(classify::CLIENT.as_bytes());
const STDERR: Prefix = Prefix::new(classify::STDERR.as_bytes());
const WHILE_WORD: Prefix = Prefix::new(b"while ");
/// What every action-based signature holds before its action.
const WHILE: &str = " while ";

/// The two tests, with their searcher built once.
pub struct Prefilter {
    action: Finder<'static>,
}

impl Default for Prefilter {
    fn default() -> Self {
        Prefilter {
            action: Finder::new(WHILE),
        }
    }
}

impl Prefilter {
    /// Where the message starts in an entry whose first line is `head` (a
    /// line with a valid timestamp), or `None` when the entry cannot be a
    /// counted failure: `None` is certain.
    #[inline]
    pub fn message_start(&self, head: &[u8]) -> Option<usize> {
        self.keep(head).map(|split| split.at)
    }

    /// How `head` splits, when [`Prefilter::message_start`] keeps it: the
    /// scan parses the entry from there, without splitting its head again.
    #[inline(always)]
    pub fn keep(&self, head: &[u8]) -> Option<Split> {
        let split = split_head(head)?;
        let body = &head[split.at..];
        if !split.level.at_least(Level::Error) && !DISABLED.starts(body) {
            return None;
        }
        (!(CLIENT.starts_message(body) || STDERR.starts_message(body))).then_some(split)
    }

    /// Whether `entry`, whose message starts at `at`, holds what every
    /// counted failure holds; `false` is certain.
    pub fn may_fail(&self, entry: &[u8], at: usize) -> bool {
        // The head's fixed fields before the message hold no ` while `.
        let message = entry.get(at..).unwrap_or_default();
        if self.action.find(message).is_some() {
            return true;
        }
        classify::ACTIONLESS
            .iter()
            .any(|p| message.starts_with(p.as_bytes()))
            || memchr::memchr(b' ', message).is_some_and(|sp| {
                sp > 0 && message[sp..].starts_with(classify::UNRESOLVED.as_bytes())
            })
    }
}

/// How a head line splits: its level, where its pid starts and how many
/// digits the pid, the tid and the connection number (after `*`) have, and
/// where the message starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    level: Level,
    ids: usize,
    pid: usize,
    tid: usize,
    conn: Option<usize>,
    /// Where the message starts.
    pub at: usize,
}

impl Split {
    /// Where the parts of the head lie, for the parser.
    pub fn spans(self) -> HeadSpans {
        let pid = self.ids..self.ids + self.pid;
        let tid = pid.end + 1..pid.end + 1 + self.tid;
        HeadSpans {
            level: self.level,
            conn: self.conn.map(|n| tid.end + 3..tid.end + 3 + n),
            pid,
            tid,
            body: self.at,
        }
    }
}

/// `YYYY/MM/DD HH:MM:SS [level] pid#tid: [*conn ]body`, split exactly as
/// `nginx_line::parse_line` splits it; `None` when it would not parse the
/// line at all, or when its level is below `warn` (no failure is). Byte by byte: this runs on every line of the log, so it
/// avoids the searches the parser makes.
#[inline(always)]
fn split_head(head: &[u8]) -> Option<Split> {
    let rest = head.get(19..)?.strip_prefix(b" [")?;
    // The parser ends the level at the first `] `; no level name holds a
    // `]`, so the first `] ` follows the name exactly when there is one.
    let (level, closed) = level_named(rest)?;
    if !level.at_least(Level::Warn) {
        return None;
    }
    let ids = 21 + closed;
    let after = &head[ids..];
    // `pid#tid: `: the parser splits at the first `: ` and then the first
    // `#`, and wants one to nine digits on each side: digits and `#` hold
    // no `: `, so that is this shape from the start.
    let (pid, tid) = match ids_in_words(after) {
        Some(ids) => ids,
        None => ids_of(after)?,
    };
    let body = ids + pid + 1 + tid + 2;
    // `*N ` before the message: the parser wants digits (maybe none) up to
    // the first space.
    let conn = head[body..]
        .strip_prefix(b"*")
        .map(digits_of)
        .filter(|&(b, n)| b.get(n) == Some(&b' '))
        .map(|(_, n)| n);
    let at = body + conn.map_or(0, |n| n + 2);
    Some(Split {
        level,
        ids,
        pid,
        tid,
        conn,
        at,
    })
}

/// The digits of the pid and the tid of `after` (`pid#tid: `), when it
/// starts that way; `None` when the parser would not split it.
fn ids_of(after: &[u8]) -> Option<(usize, usize)> {
    let pid = digits(after);
    let tid = digits(after.get(pid + 1..)?);
    let end = pid + 1 + tid;
    let shaped = (1..=9).contains(&pid)
        && after[pid] == b'#'
        && (1..=9).contains(&tid)
        && after[end..].starts_with(b": ");
    shaped.then_some((pid, tid))
}

/// [`ids_of`] for the usual head, pid and tid of fewer than eight digits,
/// from one word each; `None` for any other (which `ids_of` then decides).
#[inline(always)]
fn ids_in_words(after: &[u8]) -> Option<(usize, usize)> {
    let first = u64::from_le_bytes(*after.first_chunk::<8>()?);
    let pid = (non_digits(first).trailing_zeros() / 8) as usize;
    if !(1..8).contains(&pid) || (first >> (8 * pid)) as u8 != b'#' {
        return None;
    }
    let second = u64::from_le_bytes(*after.get(pid + 1..)?.first_chunk::<8>()?);
    let tid = (non_digits(second).trailing_zeros() / 8) as usize;
    let colon = after.get(pid + 1 + tid..)?.starts_with(b": ");
    ((1..8).contains(&tid) && colon).then_some((pid, tid))
}

#[inline(always)]
fn digits_of(bytes: &[u8]) -> (&[u8], usize) {
    (bytes, digits(bytes))
}

/// The level whose name (as `Level::from_nginx` knows it) and `] ` start
/// `text`, and their length. Each fits in a word, and a head that parses
/// has more bytes after them. The names' first two bytes differ, and a
/// multiplication by [`LEVEL_HASH`] sends each pair to its own slot of
/// [`LEVELS`]: one comparison per line, where trying the names in turn
/// was a branch nobody could predict.
#[inline(always)]
fn level_named(text: &[u8]) -> Option<(Level, usize)> {
    let word = u64::from_le_bytes(*text.first_chunk::<8>()?);
    let (level, name) = LEVELS[level_slot(word)]?;
    name.starts_word(word).then_some((level, name.bytes.len()))
}

const LEVEL_HASH: u64 = 181;

const fn level_slot(word: u64) -> usize {
    (((word & 0xffff).wrapping_mul(LEVEL_HASH) >> 6) & 7) as usize
}

/// The levels, each in the slot [`level_slot`] sends its name to (a test
/// checks every name lands in its own).
const LEVELS: [Option<(Level, Prefix)>; 8] = {
    const NAMES: [(Level, Prefix); 8] = [
        (Level::Error, Prefix::new(b"error] ")),
        (Level::Crit, Prefix::new(b"crit] ")),
        (Level::Alert, Prefix::new(b"alert] ")),
        (Level::Emerg, Prefix::new(b"emerg] ")),
        (Level::Warn, Prefix::new(b"warn] ")),
        (Level::Notice, Prefix::new(b"notice] ")),
        (Level::Info, Prefix::new(b"info] ")),
        (Level::Debug, Prefix::new(b"debug] ")),
    ];
    let mut slots = [None; 8];
    let mut i = 0;
    while i < NAMES.len() {
        let slot = level_slot(NAMES[i].1.word);
        assert!(slots[slot].is_none(), "two level names share a slot");
        slots[slot] = Some(NAMES[i]);
        i += 1;
    }
    slots
};

/// A fixed prefix, with its first eight bytes as a word: `starts_with` on
/// a line is then one comparison of words, where a slice comparison would
/// be a call to `memcmp` for every line.
#[derive(Clone, Copy)]
struct Prefix {
    bytes: &'static [u8],
    word: u64,
    mask: u64,
}

impl Prefix {
    const fn new(bytes: &'static [u8]) -> Prefix {
        let mut word = [0; 8];
        let mut i = 0;
        while i < bytes.len() && i < 8 {
            word[i] = bytes[i];
            i += 1;
        }
        let mask = if i == 8 { u64::MAX } else { (1 << (8 * i)) - 1 };
        Prefix {
            bytes,
            word: u64::from_le_bytes(word),
            mask,
        }
    }

    /// Whether the eight bytes read as `word` start with this prefix (for
    /// prefixes of eight bytes at most).
    fn starts_word(self, word: u64) -> bool {
        word & self.mask == self.word
    }

    /// Whether a message read from `body` starts with this prefix. The
    /// message is the body minus a final ` while ACTION`; when the body is
    /// `client while ...`, the message is just `client`, which classify
    /// does not set aside, hence the second test.
    #[inline(always)]
    fn starts_message(self, body: &[u8]) -> bool {
        self.starts(body) && !WHILE_WORD.starts(&body[self.bytes.len()..])
    }

    /// `text.starts_with(self.bytes)`, a word at a time: a call to
    /// `memcmp` per line (a fifth of the lines start `FastCGI sent in
    /// stderr: `) cost more than the test.
    #[inline(always)]
    fn starts(self, text: &[u8]) -> bool {
        let n = self.bytes.len();
        if text.len() < n.max(8) {
            return text.starts_with(self.bytes);
        }
        if !self.starts_word(word_at(text, 0)) {
            return false;
        }
        // The words at 8, 16, ... and the last eight bytes (overlapping).
        let mut i = 8;
        while i + 8 < n {
            if word_at(text, i) != word_at(self.bytes, i) {
                return false;
            }
            i += 8;
        }
        n <= 8 || word_at(text, n - 8) == word_at(self.bytes, n - 8)
    }
}

/// The eight bytes of `bytes` at `i` as a word (0 past its end).
#[inline(always)]
fn word_at(bytes: &[u8], i: usize) -> u64 {
    bytes
        .get(i..)
        .and_then(|b| b.first_chunk::<8>())
        .map_or(0, |w| u64::from_le_bytes(*w))
}

/// How many ASCII digits `bytes` starts with, eight bytes at a time: a byte
/// loop over the three numbers of every head line (pid, tid, connection)
/// was the hottest spot of a scan, its end a branch nobody could predict.
#[inline(always)]
fn digits(bytes: &[u8]) -> usize {
    let mut n = 0;
    while let Some(word) = bytes
        .get(n..n + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
    {
        let others = non_digits(u64::from_le_bytes(word));
        if others != 0 {
            // Little-endian: the first byte is the lowest.
            return n + (others.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + bytes[n..].iter().take_while(|b| b.is_ascii_digit()).count()
}

/// The high bit of every byte of `word` that is not an ASCII digit. Each
/// byte's low seven bits are compared by adding to them, which cannot carry
/// into the next byte (at most 0x7f + 0x50).
fn non_digits(word: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low = word & !HIGH;
    let from_0 = low + 0x5050_5050_5050_5050; // high bit: low >= 0x30
    let past_9 = low + 0x4646_4646_4646_4646; // high bit: low >= 0x3a
    let digit = from_0 & !past_9 & !word & HIGH;
    !digit & HIGH
}

#[cfg(test)]
mod tests;
