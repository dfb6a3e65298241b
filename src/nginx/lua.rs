//! Finding the end of a `*_by_lua_block { ... }`. Its body is Lua, read by
//! lua-nginx-module's own scanner, not by nginx's tokeniser: a `}` inside a
//! Lua string, long string (`[[ ]]`, `[==[ ]==]`) or comment (`--`, `--[[ ]]`)
//! does not close the block. We skip the same constructs and keep the body
//! opaque; Lua syntax errors are not detected.

/// Given the text just after the block's `{`, the length of the body up to
/// the `}` that closes it, or None when the text ends first.
pub(crate) fn block_len(src: &[u8]) -> Option<usize> {
    let mut depth = 1usize;
    let mut pos = 0;
    while let Some(&ch) = src.get(pos) {
        match ch {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(pos);
                }
            }
            b'"' | b'\'' => {
                pos = short_string_end(src, pos);
                continue;
            }
            b'-' if src.get(pos + 1) == Some(&b'-') => {
                pos = long_bracket_end(src, pos + 2).unwrap_or_else(|| line_end(src, pos));
                continue;
            }
            b'[' => {
                if let Some(end) = long_bracket_end(src, pos) {
                    pos = end;
                    continue;
                }
            }
            _ => {}
        }
        pos += 1;
    }
    None
}

/// From an opening quote, the index after the closing one (a newline also
/// ends it, as in Lua, where it is an error).
fn short_string_end(src: &[u8], open: usize) -> usize {
    let quote = src[open];
    let mut pos = open + 1;
    while let Some(&ch) = src.get(pos) {
        match ch {
            b'\\' => pos += 2,
            b'\n' => return pos + 1,
            c if c == quote => return pos + 1,
            _ => pos += 1,
        }
    }
    src.len()
}

fn line_end(src: &[u8], pos: usize) -> usize {
    memchr::memchr(b'\n', &src[pos.min(src.len())..]).map_or(src.len(), |n| pos + n)
}

/// If a long bracket `[[` or `[==[` opens at `pos`, the index after its
/// closing bracket (the end of the text when unterminated).
fn long_bracket_end(src: &[u8], pos: usize) -> Option<usize> {
    let rest = src.get(pos..)?;
    if rest.first() != Some(&b'[') {
        return None;
    }
    let level = rest[1..].iter().take_while(|&&c| c == b'=').count();
    if rest.get(1 + level) != Some(&b'[') {
        return None;
    }
    let mut close = vec![b']'];
    close.extend(std::iter::repeat_n(b'=', level));
    close.push(b']');
    let body = &rest[level + 2..];
    let end = memchr::memmem::find(body, &close).map_or(body.len(), |n| n + close.len());
    Some(pos + level + 2 + end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(src: &str) -> Option<&str> {
        block_len(src.as_bytes()).map(|n| &src[..n])
    }

    #[test]
    fn nested_tables_are_balanced() {
        assert_eq!(
            body(" local t = { a = {} } } rest"),
            Some(" local t = { a = {} } ")
        );
    }

    #[test]
    fn braces_in_strings_do_not_count() {
        assert_eq!(
            body(r#" s = "}" .. '}' .. "\"}" } x"#),
            Some(r#" s = "}" .. '}' .. "\"}" "#)
        );
    }

    #[test]
    fn braces_in_comments_do_not_count() {
        assert_eq!(
            body(" -- }\n --[[ } ]] x = 1 } y"),
            Some(" -- }\n --[[ } ]] x = 1 ")
        );
    }

    #[test]
    fn long_strings_with_levels_do_not_count() {
        assert_eq!(
            body(" s = [==[ ]] } ]==] } z"),
            Some(" s = [==[ ]] } ]==] ")
        );
    }

    #[test]
    fn index_brackets_are_not_long_strings() {
        assert_eq!(body(" t[1] = 2 } z"), Some(" t[1] = 2 "));
    }

    #[test]
    fn unterminated_block_is_none() {
        assert_eq!(body(" if x then { "), None);
        assert_eq!(body(" s = [[ } "), None);
        assert_eq!(body(" s = \"\\"), None);
    }
}
