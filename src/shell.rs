//! Command lines as a person pastes them into a shell: how an argv is
//! quoted for display, and which values may stand in a pasted command as
//! they are. Every command the tool shows (probes, fixes, verify lines, the
//! commands `explain` fills in) goes through here, so one rule decides what
//! is plain, what is quoted, and how.

/// The characters a word may hold besides ASCII letters and digits and
/// still mean to a shell exactly what it says: nothing a shell expands,
/// splits on, globs with (`*?[]`, which zsh refuses when nothing matches)
/// or redirects. Anything else (a quote, `$`, a blank, a non-ASCII letter
/// that looks like an ASCII one) is quoted, or not pasted at all.
const PLAIN: &[u8] = b"_-./:=@%+,";

/// Longest value read from the host that [`Paste::Value`] lets stand as it is.
pub const MAX_VALUE: usize = 255;

/// What a word is, for [`is_plain`]: the one variant a caller chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paste {
    /// A word of a command the tool or the pack wrote: an option
    /// (`-Htlnp`) is meant, and its length is the author's.
    Word,
    /// A value read from the host (a log line, a config) put where a
    /// command takes an operand: it may not be an option (a leading `-`)
    /// either, and is at most [`MAX_VALUE`] bytes.
    Value,
}

/// Whether `word` can be pasted into a shell as it is, unquoted: not
/// empty, only ASCII letters, digits and `_-./:=@%+,`, and, for a
/// [`Paste::Value`], not an option and not longer than [`MAX_VALUE`].
pub fn is_plain(word: &str, paste: Paste) -> bool {
    let chars = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || PLAIN.contains(&b));
    match paste {
        Paste::Word => chars,
        Paste::Value => chars && !word.starts_with('-') && word.len() <= MAX_VALUE,
    }
}

/// Quotes an argv for display so it can be pasted into a shell as is.
pub fn words(argv: &[String]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// One word, single-quoted unless it is plain.
pub fn quote(arg: &str) -> String {
    if is_plain(arg, Paste::Word) {
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
    fn hostile_values_are_not_plain() {
        let hostile = [
            "",
            "a b",
            "it's",
            "$(reboot)",
            "`id`",
            "a;b",
            "a|b",
            "a&b",
            "a>b",
            "*",
            "[::1]",
            "~root",
            "a\nb",
            "a\tb",
            "a\x1b[31m",
            "a\u{202e}b",
            // Cyrillic `а` and a fullwidth solidus: they look like `a` and `/`.
            "\u{430}dmin",
            "\u{ff0f}etc",
        ];
        for v in hostile {
            assert!(!is_plain(v, Paste::Word), "{v:?} passed as a word");
            assert!(!is_plain(v, Paste::Value), "{v:?} passed as a value");
        }
    }

    #[test]
    fn an_option_is_a_plain_word_but_not_a_plain_value() {
        assert!(is_plain("-Htlnp", Paste::Word));
        assert!(!is_plain("-Htlnp", Paste::Value));
        assert!(!is_plain("--delete", Paste::Value));
        assert!(is_plain("/run/php/php8.2-fpm.sock", Paste::Value));
        assert!(is_plain("127.0.0.1:9000", Paste::Value));
    }

    #[test]
    fn a_long_value_is_not_plain_but_a_long_word_is() {
        let long = "a".repeat(MAX_VALUE + 1);
        assert!(is_plain(&long, Paste::Word));
        assert!(!is_plain(&long, Paste::Value));
        assert!(is_plain(&long[..MAX_VALUE], Paste::Value));
    }

    #[test]
    fn look_alikes_and_controls_are_quoted_for_display() {
        assert_eq!(quote("\u{430}dmin"), "'\u{430}dmin'");
        assert_eq!(quote("[::1]:80"), "'[::1]:80'");
        assert_eq!(quote("a\nb"), "'a\nb'");
    }

    #[test]
    fn words_with_spaces_or_quotes_are_single_quoted() {
        assert_eq!(words(&["sport = :9000".into()]), "'sport = :9000'");
        assert_eq!(words(&["it's".into()]), r"'it'\''s'");
        assert_eq!(words(&[String::new()]), "''");
    }
}
