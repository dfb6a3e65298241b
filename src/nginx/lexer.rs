//! Tokeniser for nginx configuration text, following `ngx_conf_read_token()`
//! (`src/core/ngx_conf_file.c`) rule for rule, so that what nginx reads as one
//! argument we read as one argument: `#` starts a comment only where a word
//! could start, quotes are removed, the escapes `\" \' \\ \t \r \n` are applied
//! and any other backslash is kept, `$var` / `${var}` stay verbatim, and a quoted
//! word must be followed by a space, `;`, `{` or `)`. The bodies of
//! `*_by_lua_block { ... }` are Lua, not nginx syntax: like lua-nginx-module we
//! skip them as one opaque word (balanced braces, Lua strings and comments).
//!
//! Config files are host data: the lexer works on bytes, never panics, and
//! replaces invalid UTF-8 when it builds a word.

use super::lua;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A directive name or argument, unquoted and unescaped as nginx does.
    Word(String),
    /// `;`, the end of a simple directive.
    End,
    /// `{`, the start of a block.
    BlockStart,
    /// `}`, the end of a block.
    BlockEnd,
    /// The raw body of a `*_by_lua_block { ... }` without its outer braces; it
    /// also ends the directive, as lua-nginx-module turns it into the last argument.
    Opaque(String),
}

/// A token and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What was read.
    pub kind: TokenKind,
    /// Line where the token starts.
    pub line: usize,
}

/// A syntax error nginx itself would report, with the line it would name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LexError {
    /// 1-based line of the offending character.
    pub line: usize,
    /// nginx's wording, e.g. `unexpected "}"`.
    pub message: String,
}

/// Splits configuration text into tokens.
pub fn tokenize(src: &[u8]) -> Result<Vec<Token>, LexError> {
    Lexer {
        src,
        pos: 0,
        line: 1,
        tokens: Vec::new(),
        args: 0,
        first_word: None,
    }
    .run()
}

const LUA_BLOCK_SUFFIX: &str = "_by_lua_block";

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
    tokens: Vec<Token>,
    /// Words read since the last `;`, `{` or `}`.
    args: usize,
    first_word: Option<String>,
}

fn is_space(ch: u8) -> bool {
    matches!(ch, b' ' | b'\t' | b'\r' | b'\n')
}

impl Lexer<'_> {
    fn run(mut self) -> Result<Vec<Token>, LexError> {
        loop {
            self.skip_blanks();
            let Some(&ch) = self.src.get(self.pos) else {
                if self.args > 0 {
                    return Err(self.error("unexpected end of file, expecting \";\" or \"}\""));
                }
                return Ok(self.tokens);
            };
            match ch {
                b';' | b'{' => self.terminator(ch)?,
                b'}' => {
                    if self.args > 0 {
                        return Err(self.error("unexpected \"}\""));
                    }
                    self.pos += 1;
                    self.push(TokenKind::BlockEnd, self.line);
                }
                _ => self.word()?,
            }
        }
    }

    /// Skips white space and `#` comments between words.
    fn skip_blanks(&mut self) {
        while let Some(&ch) = self.src.get(self.pos) {
            if ch == b'#' {
                match memchr::memchr(b'\n', &self.src[self.pos..]) {
                    Some(n) => self.pos += n,
                    None => self.pos = self.src.len(),
                }
            } else if is_space(ch) {
                self.advance();
            } else {
                break;
            }
        }
    }

    /// Consumes one byte, counting lines.
    fn advance(&mut self) {
        if self.src.get(self.pos) == Some(&b'\n') {
            self.line += 1;
        }
        self.pos += 1;
    }

    fn push(&mut self, kind: TokenKind, line: usize) {
        self.tokens.push(Token { kind, line });
    }

    fn error(&self, message: impl Into<String>) -> LexError {
        LexError {
            line: self.line,
            message: message.into(),
        }
    }

    fn terminator(&mut self, ch: u8) -> Result<(), LexError> {
        if self.args == 0 {
            return Err(self.error(format!("unexpected \"{}\"", ch as char)));
        }
        let line = self.line;
        self.pos += 1;
        let lua = self
            .first_word
            .as_deref()
            .is_some_and(|w| w.ends_with(LUA_BLOCK_SUFFIX));
        self.args = 0;
        self.first_word = None;
        if ch == b';' {
            self.push(TokenKind::End, line);
        } else if lua {
            let body = self.lua_body()?;
            self.push(TokenKind::Opaque(body), line);
        } else {
            self.push(TokenKind::BlockStart, line);
        }
        Ok(())
    }

    /// Reads one word starting at the current byte, as nginx's token loop does
    /// from its `last_space` state.
    fn word(&mut self) -> Result<(), LexError> {
        let line = self.line;
        let first = self.src[self.pos];
        let quote = matches!(first, b'"' | b'\'').then_some(first);
        let mut escaped = first == b'\\';
        let mut variable = first == b'$';
        self.pos += 1;
        let start = if quote.is_some() {
            self.pos
        } else {
            self.pos - 1
        };
        loop {
            let Some(&ch) = self.src.get(self.pos) else {
                return Err(self.error("unexpected end of file, expecting \";\" or \"}\""));
            };
            if escaped {
                escaped = false;
                self.advance();
                continue;
            }
            if ch == b'{' && variable {
                self.pos += 1;
                continue;
            }
            variable = ch == b'$';
            if ch == b'\\' {
                escaped = true;
            } else if quote == Some(ch) {
                let raw = &self.src[start..self.pos];
                self.pos += 1;
                self.emit_word(raw, line);
                return self.after_quote();
            } else if quote.is_none() && (is_space(ch) || ch == b';' || ch == b'{') {
                let raw = &self.src[start..self.pos];
                self.emit_word(raw, line);
                return Ok(());
            }
            self.advance();
        }
    }

    fn emit_word(&mut self, raw: &[u8], line: usize) {
        let word = unescape(raw);
        if self.args == 0 {
            self.first_word = Some(word.clone());
        }
        self.args += 1;
        self.push(TokenKind::Word(word), line);
    }

    /// nginx's `need_space` state: a closing quote must be followed by a
    /// separator; `)` is allowed so that `if ($a = "b")` works.
    fn after_quote(&mut self) -> Result<(), LexError> {
        match self.src.get(self.pos) {
            None => Ok(()),
            Some(&ch) if is_space(ch) || matches!(ch, b';' | b'{' | b')') => Ok(()),
            Some(&ch) => Err(self.error(format!("unexpected \"{}\"", ch as char))),
        }
    }

    /// Takes the Lua chunk up to the `}` that closes the block, raw.
    fn lua_body(&mut self) -> Result<String, LexError> {
        let rest = &self.src[self.pos..];
        let Some(len) = lua::block_len(rest) else {
            self.line += memchr::memchr_iter(b'\n', rest).count();
            return Err(self.error("unexpected end of file in a *_by_lua_block, expecting \"}\""));
        };
        let body = &rest[..len];
        self.line += memchr::memchr_iter(b'\n', body).count();
        self.pos += len + 1;
        Ok(String::from_utf8_lossy(body).into_owned())
    }
}

/// Applies nginx's escapes to a word's raw bytes.
fn unescape(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            match raw.get(i + 1) {
                Some(&c @ (b'"' | b'\'' | b'\\')) => {
                    out.push(c);
                    i += 2;
                    continue;
                }
                Some(b't') => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                Some(b'r') => {
                    out.push(b'\r');
                    i += 2;
                    continue;
                }
                Some(b'n') => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn words(src: &str) -> Vec<String> {
        tokenize(src.as_bytes())
            .unwrap()
            .into_iter()
            .map(|t| match t.kind {
                TokenKind::Word(w) => w,
                TokenKind::End => ";".into(),
                TokenKind::BlockStart => "{".into(),
                TokenKind::BlockEnd => "}".into(),
                TokenKind::Opaque(b) => format!("<lua:{b}>"),
            })
            .collect()
    }

    #[test]
    fn simple_directive_splits_on_spaces() {
        assert_eq!(
            words("listen 80 default_server;"),
            ["listen", "80", "default_server", ";"]
        );
    }

    #[test]
    fn comments_run_to_end_of_line() {
        assert_eq!(words("# a { b\nuser x; # y;\n"), ["user", "x", ";"]);
    }

    #[test]
    fn hash_inside_word_or_quotes_is_not_a_comment() {
        assert_eq!(
            words("add_header X a#b \"c # d\";"),
            ["add_header", "X", "a#b", "c # d", ";"]
        );
    }

    #[test]
    fn quotes_are_removed_and_escapes_applied() {
        assert_eq!(
            words(r#"return 200 "a\"b\\c\td" 'it\'s';"#),
            ["return", "200", "a\"b\\c\td", "it's", ";"]
        );
    }

    #[test]
    fn unknown_escape_keeps_its_backslash() {
        assert_eq!(
            words(r"rewrite ^/a\.b$ /c;"),
            ["rewrite", r"^/a\.b$", "/c", ";"]
        );
    }

    #[test]
    fn escaped_space_joins_a_word_and_keeps_the_backslash() {
        assert_eq!(words(r"set $a b\ c;"), ["set", "$a", r"b\ c", ";"]);
    }

    #[test]
    fn braced_variables_stay_in_one_word() {
        assert_eq!(
            words("set $x ${host}_${uri};"),
            ["set", "$x", "${host}_${uri}", ";"]
        );
    }

    #[test]
    fn unquoted_brace_after_text_opens_a_block() {
        assert_eq!(words("a{b;}"), ["a", "{", "b", ";", "}"]);
    }

    #[test]
    fn closing_paren_may_follow_a_quote() {
        assert_eq!(
            words("if ($a = \"b\") { return 404; }"),
            ["if", "($a", "=", "b", ")", "{", "return", "404", ";", "}"]
        );
    }

    #[test]
    fn text_glued_to_a_closing_quote_is_an_error() {
        let err = tokenize(b"a \"b\"c;").unwrap_err();
        assert_eq!(err.message, "unexpected \"c\"");
    }

    #[test]
    fn semicolon_without_a_directive_is_an_error() {
        assert_eq!(tokenize(b"\n ;").unwrap_err().line, 2);
    }

    #[test]
    fn closing_brace_inside_a_directive_is_an_error() {
        assert_eq!(tokenize(b"a b }").unwrap_err().message, "unexpected \"}\"");
    }

    #[test]
    fn end_of_file_inside_a_directive_is_an_error() {
        assert!(tokenize(b"user nobody").is_err());
        assert!(tokenize(b"a \"open").is_err());
    }

    #[test]
    fn tokens_know_their_line() {
        let toks = tokenize(b"a\n\"multi\nline\" b;\nc;").unwrap();
        let lines: Vec<usize> = toks.iter().map(|t| t.line).collect();
        assert_eq!(lines, [1, 2, 3, 3, 4, 4]);
    }

    #[test]
    fn lua_block_body_is_one_opaque_token() {
        let src = "content_by_lua_block {\n  local t = { a = \"}\" } -- }\n  ngx.say([[}]])\n}\nb;";
        let w = words(src);
        assert_eq!(w.len(), 4, "{w:?}");
        assert_eq!(w[0], "content_by_lua_block");
        assert!(w[1].starts_with("<lua:\n  local t"), "{}", w[1]);
        assert_eq!(&w[2..], ["b", ";"]);
        let toks = tokenize(src.as_bytes()).unwrap();
        assert_eq!(toks[2].line, 5);
    }

    #[test]
    fn lua_block_with_arguments_keeps_them() {
        assert_eq!(
            words("set_by_lua_block $v { return 1 }"),
            ["set_by_lua_block", "$v", "<lua: return 1 >"]
        );
    }

    #[test]
    fn unterminated_lua_block_is_an_error() {
        assert!(tokenize(b"access_by_lua_block { if x then").is_err());
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        let toks = tokenize(b"server_name \xff\xfe;").unwrap();
        assert_eq!(toks[1].kind, TokenKind::Word("\u{fffd}\u{fffd}".into()));
    }

    /// A small xorshift generator: enough to throw garbage at the lexer
    /// without a fuzzing crate.
    pub(crate) fn garbage(seed: u64, count: usize) -> Vec<Vec<u8>> {
        const ALPHABET: &[u8] = b"{};\"'\\$#\n\t ab_lua_block()[]=-\r\xff";
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count)
            .map(|_| {
                let len = (next() % 64) as usize;
                (0..len)
                    .map(|_| {
                        let r = next();
                        if r % 5 == 0 {
                            (r >> 8) as u8
                        } else {
                            ALPHABET[(r >> 8) as usize % ALPHABET.len()]
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn random_bytes_never_panic() {
        for input in garbage(0x5eed, 20_000) {
            let _ = tokenize(&input);
        }
    }
}
