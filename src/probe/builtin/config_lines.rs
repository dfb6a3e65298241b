//! The `config-lines` built-in: the lines of a configuration file around the
//! one `nginx -t` named, and where the mistake likely is.
//!
//! nginx names the line where it *noticed* an error. For a missing `;` that
//! is a later line: nginx reads the next line as more arguments of the
//! unterminated directive and stops where that goes wrong (`unexpected
//! "}"`, `invalid number of arguments`), often two lines or more below the
//! mistake. A person sent to "line 17" looks at a line that is fine. So the
//! built-in shows the lines around it, and names the last line before it
//! that ends without `;`, `{` or `}` as the likely place, with that line
//! terminated as the correction.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;

use super::Out;
use crate::sanitize;

/// A configuration file larger than this is not read for an excerpt.
const MAX_FILE_BYTES: u64 = 4 << 20;
/// Lines shown before the noticed line (more when the likely line is further).
const BEFORE: usize = 2;
/// Lines shown after it.
const AFTER: usize = 1;
/// At most this many lines in the excerpt; the gap is shown as `...`.
const MAX_SHOWN: usize = 8;
/// A line in the excerpt is cut to this many characters.
const LINE_CHARS: usize = 160;

pub fn run(params: &BTreeMap<String, String>, out: &mut Out) {
    let (Some(path), Some(line)) = (params.get("file"), params.get("line")) else {
        return out.fail("no file and line to show (nginx -t named none)");
    };
    let Ok(noticed) = line.parse::<usize>() else {
        return out.fail(format!("line {line:?} of {path} is not a line number"));
    };
    out.shown_as = format!(
        "sed -n '{},{}p' {path}",
        noticed.saturating_sub(BEFORE).max(1),
        noticed + AFTER
    );
    let text = match read_text(path) {
        Ok(t) => t,
        Err(why) => return out.fail(why),
    };
    let lines: Vec<&str> = text.lines().collect();
    if noticed == 0 || noticed > lines.len() + 1 {
        return out.fail(format!(
            "{path} has {} lines, not a line {noticed}: it changed since nginx -t read it; run nginx -t again",
            lines.len()
        ));
    }
    let likely = likely_line(&lines, noticed);
    out.set(
        "noticed_text",
        lines.get(noticed - 1).map(|l| shown(l.trim())),
    );
    if let Some(n) = likely {
        let written = lines[n - 1];
        out.set("likely_line", i64::try_from(n).unwrap_or(0));
        out.set("likely_text", shown(written.trim()));
        out.set("likely_at", format!("{path}:{n}"));
        out.set("corrected", shown(&terminated(written)));
    }
    out.set("excerpt", excerpt(&lines, noticed, likely));
}

/// The file as text, bounded; why not, with what to do.
fn read_text(path: &str) -> Result<String, String> {
    let file = File::open(path).map_err(|e| format!("cannot read {path}: {e}; run as root"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{path} is not a regular file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{path} is larger than {} MiB; open it at the line nginx -t named",
            MAX_FILE_BYTES >> 20
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The last line before `noticed` (1-based) that holds a directive and
/// does not end it, when that is the nearest line of configuration before
/// it: where a `;` is likely missing. `None` when that line is complete
/// (the error is where nginx says).
fn likely_line(lines: &[&str], noticed: usize) -> Option<usize> {
    let before = lines.get(..noticed.saturating_sub(1))?;
    let (i, code) = before
        .iter()
        .enumerate()
        .rev()
        .map(|(i, l)| (i, code_of(l)))
        .find(|(_, c)| !c.is_empty())?;
    let ends = code.ends_with(';') || code.ends_with('{') || code.ends_with('}');
    (!ends).then_some(i + 1)
}

/// A line without its comment and surrounding blanks: `#` starts a comment
/// outside quotes, as in nginx's lexer.
fn code_of(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            _ if escaped => escaped = false,
            (_, '\\') => escaped = true,
            (None, '#') => return line[..i].trim(),
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    line.trim()
}

/// `line` ended with `;`, before its comment if it has one.
fn terminated(line: &str) -> String {
    let code = code_of(line);
    let comment = line.trim()[code.len()..].trim();
    if comment.is_empty() {
        format!("{code};")
    } else {
        format!("{code}; {comment}")
    }
}

/// Numbered lines around `noticed`, from the likely line when there is one:
/// `>` marks where nginx noticed the error, `~` the likely mistake.
fn excerpt(lines: &[&str], noticed: usize, likely: Option<usize>) -> String {
    let first = noticed.saturating_sub(BEFORE).max(1);
    let last = (noticed + AFTER).min(lines.len());
    let mut shown_lines: Vec<usize> = Vec::new();
    if let Some(l) = likely.filter(|l| *l < first) {
        shown_lines.push(l);
        if l + 1 < first {
            shown_lines.push(0);
        }
    }
    shown_lines.extend(first..=last);
    shown_lines.truncate(MAX_SHOWN);
    let width = last.to_string().len();
    let rows: Vec<String> = shown_lines
        .iter()
        .map(|&n| match n {
            0 => format!("  {:>width$} |", "..."),
            n => {
                let mark = if n == noticed {
                    '>'
                } else if Some(n) == likely {
                    '~'
                } else {
                    ' '
                };
                let text = lines.get(n - 1).copied().unwrap_or_default();
                let row = format!("{mark} {n:>width$} | {}", shown(text.trim_end()));
                row.trim_end().to_owned()
            }
        })
        .collect();
    rows.join("\n")
}

/// A line as it may be printed: tabs as spaces, control characters
/// visible, cut to a screen line.
fn shown(text: &str) -> String {
    let spaced = text.replace('\t', "    ");
    sanitize::truncate(&sanitize::for_terminal(spaced.as_bytes()), LINE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "server {\n\
        \tlisten 80;\n\
        \n\
        \tlocation ~ \\.php$ {\n\
        \t\tfastcgi_pass unix:/run/php/php8.2-fpm.sock # the pool\n\
        \n\
        \t\tfastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n\
        \t}\n\
        }\n";

    fn lines() -> Vec<&'static str> {
        SITE.lines().collect()
    }

    #[test]
    fn a_missing_semicolon_is_found_above_where_nginx_noticed_it() {
        assert_eq!(likely_line(&lines(), 7), Some(5));
        assert_eq!(likely_line(&lines(), 8), None);
    }

    #[test]
    fn a_complete_line_above_means_the_error_is_where_nginx_says() {
        assert_eq!(likely_line(&lines(), 2), None);
        assert_eq!(likely_line(&lines(), 1), None);
    }

    #[test]
    fn the_correction_ends_the_directive_before_its_comment() {
        assert_eq!(
            terminated(lines()[4]),
            "fastcgi_pass unix:/run/php/php8.2-fpm.sock; # the pool"
        );
        assert_eq!(terminated("  root /srv"), "root /srv;");
    }

    #[test]
    fn a_hash_inside_quotes_is_no_comment() {
        assert_eq!(code_of("return 200 \"#1\""), "return 200 \"#1\"");
        assert_eq!(code_of("  # all comment"), "");
    }

    #[test]
    fn the_excerpt_marks_both_lines_and_numbers_them() {
        let shown = excerpt(&lines(), 7, Some(5));
        assert_eq!(
            shown,
            "~ 5 |         fastcgi_pass unix:/run/php/php8.2-fpm.sock # the pool\n  \
             6 |\n\
             > 7 |         fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n  \
             8 |     }"
        );
    }

    #[test]
    fn a_likely_line_far_above_is_shown_with_a_gap() {
        let mut far: Vec<&str> = vec!["root /srv"];
        far.extend(std::iter::repeat_n("", 6));
        far.push("}");
        let shown = excerpt(&far, 8, likely_line(&far, 8));
        assert!(shown.starts_with("~ 1 | root /srv\n  ... |\n"), "{shown}");
    }
}
