//! "Did you mean": the known name nearest to a misspelt one.

/// The known name nearest to a misspelt one, when it is close enough to help.
pub(super) fn closest<'a>(
    wrong: &str,
    known: impl Iterator<Item = &'a (impl AsRef<str> + ?Sized + 'a)>,
) -> Option<String> {
    known
        .map(|k| (distance(wrong, k.as_ref()), k.as_ref()))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k.to_owned())
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
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
}
