//! "Did you mean": the known name nearest to a misspelt one.

/// The known name nearest to a misspelt one, when it is close enough to help.
pub(super) fn closest<'a>(
    wrong: &str,
    known: impl Iterator<Item = &'a (impl AsRef<str> + ?Sized + 'a)>,
) -> Option<String> {
    known
        .map(AsRef::as_ref)
        .filter_map(|k| {
            // One slip, or one per four characters: two turn `gone` into
            // `fine`. A longer length gap is too far already, and skipping it
            // keeps a hostile megabyte-long name cheap.
            let limit = 1.max(k.len() / 4);
            if wrong.len().abs_diff(k.len()) > limit {
                return None;
            }
            let d = distance(wrong, k);
            (d <= limit).then_some((d, k))
        })
        .min()
        .map(|(_, k)| k.to_owned())
}

/// Edits from `a` to `b`: insertions, deletions, substitutions, and swaps
/// of neighbours (`prot` for `port` is one slip, not two).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelling_suggests_the_near_name() {
        let known = ["backend-down", "config-invalid"];
        assert_eq!(
            closest("backend-dwn", known.iter()),
            Some("backend-down".into())
        );
        assert_eq!(closest("zzz", known.iter()), None);
    }

    #[test]
    fn swapped_neighbours_are_one_slip() {
        assert_eq!(distance("prot", "port"), 1);
        assert_eq!(
            closest("prot", ["port", "path"].iter()),
            Some("port".into())
        );
    }

    #[test]
    fn short_names_two_edits_apart_are_not_suggested() {
        assert_eq!(closest("gone", ["fine"].iter()), None);
    }
}
