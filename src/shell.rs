//! Command lines as a person pastes them into a shell: how an argv is
//! quoted for display. Every command the tool shows (probes, fixes) goes
//! through here, so one rule decides what is quoted and how.

/// Quotes an argv for display so it can be pasted into a shell as is.
pub fn words(argv: &[String]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// One word, single-quoted unless it is plain.
pub fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=@%+,".contains(&b));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_unquoted() {
        assert_eq!(words(&["ss".into(), "-Htlnp".into()]), "ss -Htlnp");
    }

    #[test]
    fn words_with_spaces_or_quotes_are_single_quoted() {
        assert_eq!(words(&["sport = :9000".into()]), "'sport = :9000'");
        assert_eq!(words(&["it's".into()]), r"'it'\''s'");
        assert_eq!(words(&[String::new()]), "''");
    }
}
