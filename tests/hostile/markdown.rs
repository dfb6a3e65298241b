//! The Markdown report against host text made of Markdown: backtick runs,
//! fences, pipes, HTML and links in a socket path stay inside the code span,
//! fence or escaped prose they are quoted in. The checks here read the
//! report as a CommonMark renderer would.

use super::{Scene, assert_terminal_safe};

/// The fenced blocks of a Markdown text as CommonMark reads them: (info
/// string, body lines). A fence closes only on a line of the same character,
/// at least as long, and nothing else.
pub(super) fn markdown_fences(md: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut open: Option<(char, usize, String, Vec<String>)> = None;
    for line in md.lines() {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        let fence_char = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = fence_char.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
        match &mut open {
            Some((c, len, _, body)) => {
                let closes = indent < 4
                    && fence_char == Some(*c)
                    && run >= *len
                    && trimmed[run..].trim().is_empty();
                if closes {
                    if let Some((_, _, info, body)) = open.take() {
                        blocks.push((info, body));
                    }
                } else {
                    body.push(line.to_owned());
                }
            }
            None => {
                if indent < 4 && run >= 3 {
                    let c = fence_char.unwrap_or('`');
                    let info = trimmed[run..].trim().to_owned();
                    if c == '~' || !info.contains('`') {
                        open = Some((c, run, info, Vec::new()));
                    }
                }
            }
        }
    }
    assert!(open.is_none(), "a fence was left open:\n{md}");
    blocks
}

/// Whether `cell` is one whole code span: a backtick run, text without a
/// run of that length, and the same run.
fn is_one_code_span(cell: &str) -> bool {
    let n = cell.chars().take_while(|c| *c == '`').count();
    if n == 0 || cell.len() < 2 * n || !cell.ends_with(&"`".repeat(n)) {
        return false;
    }
    let inner = &cell[n..cell.len() - n];
    let closing_before_end = inner.split(|c| c != '`').any(|ticks| ticks.len() == n);
    !inner.starts_with('`') && !inner.ends_with('`') && !closing_before_end
}

/// Every command in the Markdown checks table is one code span, whatever
/// backticks, pipes or HTML the host put in it.
pub(super) fn assert_checks_table_holds(md: &str) {
    let rows = md
        .lines()
        .skip_while(|l| !l.starts_with("| probe | command |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'));
    for row in rows {
        // Cells split on pipes the table sees: `\|` is a pipe inside a cell.
        let cells: Vec<&str> = split_cells(row);
        assert_eq!(cells.len(), 4, "row {row:?} has {} cells", cells.len());
        assert!(
            is_one_code_span(cells[1].trim()),
            "the command escapes its code span: {row:?}"
        );
    }
}

fn split_cells(row: &str) -> Vec<&str> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let (mut start, mut prev) = (0, ' ');
    for (i, c) in inner.char_indices() {
        if c == '|' && prev != '\\' {
            cells.push(&inner[start..i]);
            start = i + 1;
        }
        prev = c;
    }
    cells.push(&inner[start..]);
    cells
}

/// The Markdown a renderer reads as markup: lines outside fences, with
/// code spans (CommonMark: a backtick run closed by one as long) removed.
fn markup_outside_code(md: &str) -> Vec<String> {
    let fenced: std::collections::HashSet<String> = markdown_fences(md)
        .into_iter()
        .flat_map(|(_, body)| body)
        .collect();
    let mut out = Vec::new();
    for line in md.lines().filter(|l| !fenced.contains(*l)) {
        let mut kept = String::new();
        let mut rest = line;
        while let Some(open) = rest.find('`') {
            kept.push_str(&rest[..open]);
            let n = rest[open..].len() - rest[open..].trim_start_matches('`').len();
            let after = &rest[open + n..];
            let close = after.match_indices('`').map(|(i, _)| i).find(|&i| {
                let run = after[i..].len() - after[i..].trim_start_matches('`').len();
                run == n && (i == 0 || !after[..i].ends_with('`'))
            });
            match close {
                Some(c) => rest = &after[c + n..],
                None => {
                    kept.push_str(&rest[open..open + n]);
                    rest = after;
                }
            }
        }
        kept.push_str(rest);
        out.push(kept);
    }
    out
}

/// Host text quoted in titles and explanations makes no link, image or
/// HTML tag: outside code, `<` and `[` reach the renderer escaped.
fn assert_no_markup_from_the_host(md: &str) {
    let markup = regex::Regex::new(r"(^|[^\\])(<[A-Za-z/!?]|\]\()").expect("regex");
    for line in markup_outside_code(md) {
        assert!(
            !markup.is_match(&line),
            "host text became Markdown markup: {line:?}\n{md}"
        );
    }
}

/// Host text of the evidence is inside a fence, never loose in the Markdown.
pub(super) fn assert_evidence_fenced(md: &str, needle: &str) {
    let fenced: Vec<String> = markdown_fences(md)
        .into_iter()
        .flat_map(|(_, body)| body)
        .collect();
    assert!(
        fenced.iter().any(|l| l.contains(needle)),
        "the evidence quoting {needle:?} is not fenced:\n{md}"
    );
}

// ---------------------------------------------------------------------------

#[test]
fn backticks_and_html_in_a_path_stay_inside_markdown_code() {
    let path = "/tmp/a``<img src=x onerror=alert(1)>``|```~~~~.sock";
    let line = format!(
        "[crit] 100#100: *2 connect() to unix:{path} failed (2: No such file or directory) \
         while connecting to upstream, client: 127.0.0.1, server: x, request: \"GET / HTTP/1.1\", \
         upstream: \"fastcgi://unix:{path}:\", host: \"x\""
    );
    let scene = Scene::new(&[line.as_bytes()]);
    let md = scene.doctor("markdown", &[]);
    assert_terminal_safe(&md);
    assert_checks_table_holds(&md.stdout());
    assert_evidence_fenced(&md.stdout(), "<img src=x");
}

#[test]
fn html_and_links_in_a_path_stay_text_in_markdown_titles_and_prose() {
    let path = "/run/[click](http://evil.example/)<img src=x onerror=alert(1)>`.sock";
    let line = format!(
        "[crit] 100#100: *2 connect() to unix:{path} failed (2: No such file or directory) \
         while connecting to upstream, client: 127.0.0.1, server: x, request: \"GET / HTTP/1.1\", \
         upstream: \"fastcgi://unix:{path}:\", host: \"x\""
    );
    let scene = Scene::new(&[line.as_bytes()]);
    let md = scene.doctor("markdown", &[]);
    assert!(
        md.stdout().contains("img src=x"),
        "the path is quoted\n{md}"
    );
    assert_no_markup_from_the_host(&md.stdout());
}
