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

/// Splits a command line into words as a POSIX shell would, without
/// expanding anything: blanks separate words, single quotes keep
/// everything, double quotes keep all but `\"` and `\\`, and a backslash
/// outside quotes escapes the next character.
pub fn split(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') if matches!(chars.peek(), Some('"' | '\\')) => {
                word.get_or_insert_default().extend(chars.next());
            }
            (Some(_), c) => word.get_or_insert_default().push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_default();
            }
            (None, '\\') => word.get_or_insert_default().extend(chars.next()),
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_groups_quotes_and_escapes() {
        assert_eq!(
            split(r#"a 'b c' "d \"e\" \\" f\ g "" h"#),
            ["a", "b c", r#"d "e" \"#, "f g", "", "h"]
        );
        assert_eq!(split("  "), Vec::<String>::new());
    }

    #[test]
    fn split_reads_back_what_words_quotes() {
        let argv = ["-A".to_string(), "it's a b".into(), String::new()];
        assert_eq!(split(&words(&argv)), argv);
    }

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
