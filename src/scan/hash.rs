//! The hash of the scan's name tables (upstream rows, remembered IP peers).
//!
//! Every failure looks its upstream's name up twice; with the standard
//! library's SipHash, hashing a name of twenty bytes cost a third of naming
//! the failure. This hash folds eight bytes at a time into a 64-bit state
//! with one multiplication (the folded product, as `foldhash` does), keyed
//! per table with a random seed. It is weaker than SipHash against someone
//! who crafts colliding names, but the tables it serves hold at most a
//! thousand names, so the worst such a log can do is make each lookup
//! compare a thousand names: slower, never wrong.

use std::hash::{BuildHasher, Hasher, RandomState};

/// Builds [`Folded`] hashers, all with the seed drawn when it was made.
#[derive(Debug, Clone)]
pub struct Keyed {
    seed: u64,
}

impl Default for Keyed {
    fn default() -> Keyed {
        Keyed {
            seed: RandomState::new().hash_one(0x6e67_696e_785f_646f_u64),
        }
    }
}

impl BuildHasher for Keyed {
    type Hasher = Folded;

    fn build_hasher(&self) -> Folded {
        Folded { state: self.seed }
    }
}

/// The hasher [`Keyed`] builds.
pub struct Folded {
    state: u64,
}

/// An odd constant with no pattern in its bits (the golden ratio's).
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// The high and low halves of the 128-bit product, xored: every bit of
/// either factor reaches every bit of the result.
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

impl Hasher for Folded {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
            self.state = fold(self.state ^ word, MIX);
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            // The last byte of a partial word says how many it holds, so
            // that "ab" and "ab\0" differ.
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            word[7] = rest.len() as u8;
            self.state = fold(self.state ^ u64::from_le_bytes(word), MIX);
        }
    }

    fn finish(&self) -> u64 {
        fold(self.state, MIX.rotate_left(32))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn hash(keyed: &Keyed, text: &str) -> u64 {
        keyed.hash_one(text)
    }

    /// Distinct short names, as a table holds, do not collide, neither in
    /// the whole hash nor in the bits a table picks its bucket by.
    #[test]
    fn names_spread() {
        let keyed = Keyed::default();
        let names: Vec<String> = (0..1000)
            .map(|i| format!("127.0.{}.{}:{}", i / 256, i % 256, 8000 + i % 7))
            .chain(["ab".into(), "ab\0".into(), "".into(), "\0".into()])
            .collect();
        let whole: HashSet<u64> = names.iter().map(|n| hash(&keyed, n)).collect();
        assert_eq!(whole.len(), names.len());
        let low: HashSet<u64> = names.iter().map(|n| hash(&keyed, n) & 0xfff).collect();
        assert!(low.len() > 700, "{}", low.len());
    }

    #[test]
    fn seeds_differ_between_tables() {
        assert_ne!(hash(&Keyed::default(), "a"), hash(&Keyed::default(), "a"));
    }
}
