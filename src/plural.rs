//! Counted nouns as a person writes them: "1 upstream", "2 upstreams".
//!
//! A report read by a junior admin or pasted into a ticket should not say
//! "1 upstream(s)". Every noun the tool counts is regular, so one rule does;
//! a translation (Chinese has no plural) replaces this one function.

/// `n` and `noun`, the noun plural unless `n` is 1.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular_and_every_other_number_plural() {
        assert_eq!(count(1, "upstream"), "1 upstream");
        assert_eq!(count(0, "fault"), "0 faults");
        assert_eq!(count(6, "failure"), "6 failures");
    }
}
