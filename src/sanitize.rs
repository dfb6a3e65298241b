//! Making host text safe to print on a terminal.
//!
//! Log lines, config values and probe output come from the host and are
//! partly written by strangers (request lines, Host and Referer headers,
//! whatever a backend prints). A terminal obeys escape sequences in what it
//! prints: CSI moves the cursor or recolours text, OSC sets the window title or
//! plants a hyperlink (OSC 8), a bare CR or bidi override makes one line look
//! like another. Everything here turns such characters into visible escapes,
//! so what the admin reads is what the host holds.
//!
//! The escapes are for reading, not for decoding: a backslash in the input is
//! left alone (nginx already writes `\x20`-style escapes of its own, and
//! doubling them would make its lines harder to compare with the file).

use std::fmt::Write as _;

/// Text from the host, decoded as UTF-8 (each invalid sequence becomes
/// U+FFFD) with every character that could steer a terminal made visible.
///
/// Escaped, and why:
/// * C0 controls (U+0000–U+001F), DEL (U+007F) and C1 controls
///   (U+0080–U+009F, which some terminals read as 8-bit CSI/OSC): `\t`, `\n`,
///   `\r` for the three common ones, `\xNN` for the other C0 and DEL (so ESC is
///   `\x1b`, BEL `\x07`, NUL `\x00`), `\u{NN}` for C1 (`\u{9b}` is 8-bit CSI).
///   Tab and newline are escaped too: one log entry stays on one screen line,
///   and a newline inside a request cannot forge a line of its own.
/// * Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069)
///   and the line/paragraph separators U+2028/U+2029, as `\u{NNNN}`: they
///   reorder or break what is displayed without being visible themselves.
///
/// Escaping the introducer (ESC, or 8-bit CSI/OSC) is enough to defuse a
/// whole sequence: what follows it is plain printable text.
pub fn for_terminal(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_visible(&mut out, c);
    }
    out
}

/// Appends `c`, or its visible escape when it could steer a terminal.
fn push_visible(out: &mut String, c: char) {
    match c {
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\0'..='\x1f' | '\x7f' => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        '\u{2028}' | '\u{2029}' => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        _ => out.push(c),
    }
}

/// `s` cut to at most `max_chars` characters; when it is cut, an ellipsis
/// and the number of characters left out follow, e.g. `GET /aaaa… [+4093 chars]`,
/// so a reader knows the value is longer than shown.
///
/// Counts characters, never splits one. Apply it after [`for_terminal`] so
/// the count matches what is printed; a cut may then fall inside an escape
/// (`\x1`), which is still harmless.
pub fn truncate(s: &str, max_chars: usize) -> String {
    let Some((cut_at, _)) = s.char_indices().nth(max_chars) else {
        return s.to_owned();
    };
    let left_out = s[cut_at..].chars().count();
    format!("{}… [+{left_out} chars]", &s[..cut_at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_passes_unchanged() {
        let line = "connect() failed (111: Connection refused), request: \"GET /é HTTP/1.1\"";
        assert_eq!(for_terminal(line.as_bytes()), line);
    }

    #[test]
    fn osc8_hyperlink_is_shown_not_obeyed() {
        let hostile = b"\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\";
        let shown = for_terminal(hostile);
        assert_eq!(
            shown,
            "\\x1b]8;;https://evil.example/\\x1b\\click\\x1b]8;;\\x1b\\"
        );
        assert!(!shown.contains('\x1b'));
    }

    #[test]
    fn csi_cursor_and_colour_sequences_are_escaped() {
        let shown = for_terminal(b"ok\x1b[2K\x1b[1A\x1b[31mfake\x1b[0m");
        assert_eq!(shown, "ok\\x1b[2K\\x1b[1A\\x1b[31mfake\\x1b[0m");
    }

    #[test]
    fn osc_title_terminated_by_bel_is_escaped() {
        let shown = for_terminal(b"\x1b]0;pwned\x07");
        assert_eq!(shown, "\\x1b]0;pwned\\x07");
    }

    #[test]
    fn eight_bit_csi_is_escaped() {
        let shown = for_terminal("a\u{9b}31mb\u{9d}0;t\u{9c}".as_bytes());
        assert_eq!(shown, "a\\u{9b}31mb\\u{9d}0;t\\u{9c}");
    }

    #[test]
    fn nul_del_and_other_c0_are_escaped() {
        assert_eq!(for_terminal(b"a\0b\x7fc\x08d"), "a\\x00b\\x7fc\\x08d");
    }

    #[test]
    fn tab_newline_and_carriage_return_use_short_escapes() {
        assert_eq!(for_terminal(b"a\tb\nc\rd"), "a\\tb\\nc\\rd");
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(for_terminal(b"ab\xff\xfecd"), "ab\u{fffd}\u{fffd}cd");
    }

    #[test]
    fn bidi_override_and_line_separator_are_escaped() {
        let shown = for_terminal("user\u{202e}gpj.exe\u{2028}x".as_bytes());
        assert_eq!(shown, "user\\u{202e}gpj.exe\\u{2028}x");
    }

    #[test]
    fn backslashes_are_left_as_they_are() {
        let nginx = r#"upstream sent invalid header: "Bad\x20...""#;
        assert_eq!(for_terminal(nginx.as_bytes()), nginx);
    }

    #[test]
    fn truncate_keeps_short_text_whole() {
        assert_eq!(truncate("short", 5), "short");
        assert_eq!(truncate("", 0), "");
    }

    #[test]
    fn truncate_says_how_many_chars_were_cut() {
        assert_eq!(truncate("abcdefghij", 4), "abcd… [+6 chars]");
    }

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("ééééé", 2), "éé… [+3 chars]");
    }

    #[test]
    fn truncate_to_zero_keeps_only_the_count() {
        assert_eq!(truncate("abc", 0), "… [+3 chars]");
    }
}
