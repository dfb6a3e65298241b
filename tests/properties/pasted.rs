//! Properties of `explain` over lines as people paste them: the corpus's
//! nginx lines with a shipper's prefix, with their own prefix cut off at
//! one of its parts, cut short anywhere, wrapped at any terminal width,
//! with smart quotes and CRLF. Beyond "never panics, output clean": a
//! prefix changes no reading, and no pasted form names a backend the line
//! does not name.

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

use super::{config, embedded_pack, input, nginx_log_corpus, steers_a_terminal, strings};

/// Prefixes log shippers and viewers write before nginx's line.
const PREFIXES: &[&str] = &[
    "web-1  | ",
    "2026-12-01T10:00:01.123456789Z ",
    "[pod/web-7d9f8/nginx] ",
    "2026-12-01T10:00:01+0000 web1 nginx[1234]: ",
    "Dec 01 10:00:01 web1 nginx[1234]: ",
    "<187>Dec  7 18:19:28 vm nginx: ",
];

/// How one line was pasted.
#[derive(Debug, Clone)]
struct Paste {
    prefix: Option<&'static str>,
    /// Which of the line's own prefix parts to cut off (0: none).
    strip: Index,
    cut: Option<Index>,
    wrap: Option<usize>,
    smart_quotes: bool,
    crlf: bool,
}

fn paste(smart_quotes: bool) -> impl Strategy<Value = Paste> {
    (
        prop::option::of(prop::sample::select(PREFIXES)),
        any::<Index>(),
        prop::option::of(any::<Index>()),
        prop::option::of(40..200usize),
        if smart_quotes {
            any::<bool>().boxed()
        } else {
            Just(false).boxed()
        },
        any::<bool>(),
    )
        .prop_map(|(prefix, strip, cut, wrap, smart_quotes, crlf)| Paste {
            prefix,
            strip,
            cut,
            wrap,
            smart_quotes,
            crlf,
        })
}

/// Where the parts of nginx's prefix end in `line`: after the timestamp,
/// the `[level]`, the `pid#tid:` and the `*conn`.
fn prefix_ends(line: &str) -> Vec<usize> {
    let mut ends = vec![0];
    let mut at = 0;
    for sep in ["] ", ": ", " "] {
        match line[at..].find(sep) {
            Some(n) if at + n < 60 => {
                at += n + sep.len();
                ends.push(at);
            }
            _ => break,
        }
    }
    ends.push(20);
    ends.retain(|&end| line.is_char_boundary(end));
    ends
}

/// `line` as `how` pastes it.
fn pasted(line: &str, how: &Paste) -> String {
    let ends = prefix_ends(line);
    let mut text = line[ends[how.strip.index(ends.len())]..].to_owned();
    if let Some(cut) = &how.cut {
        let mut at = cut.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
    }
    if how.smart_quotes {
        text = text.replace('"', "\u{201d}");
    }
    let text = format!("{}{text}", how.prefix.unwrap_or(""));
    let text = match how.wrap {
        Some(width) => wrapped(&text, width),
        None => text,
    };
    if how.crlf {
        format!("{text}\r\n")
    } else {
        text
    }
}

fn wrapped(text: &str, width: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let pieces: Vec<String> = chars.chunks(width).map(|c| c.iter().collect()).collect();
    pieces.join("\n")
}

fn explained(text: &str) -> Value {
    let explanation = nginx_doctor::explain::explain(text, embedded_pack(), 0);
    serde_json::to_value(&explanation).expect("an explanation serialises")
}

/// Whole corpus lines that parse and name an upstream without a quote in
/// it (a quote inside a value can make a shorter cut read as closed).
fn lines_with_upstream() -> &'static [(String, String)] {
    static LINES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    LINES.get_or_init(|| {
        nginx_log_corpus()
            .iter()
            .filter_map(|bytes| {
                let line = String::from_utf8(bytes.clone()).ok()?;
                let json = explained(&line);
                let upstream = json["lines"][0]["parsed"]["upstream"].as_str()?.to_owned();
                (!upstream.contains('"') && json["lines"].as_array()?.len() == 1)
                    .then_some((line, upstream))
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn explain_never_panics_on_pasted_lines_and_its_output_is_clean(
        lines in prop::collection::vec((input(nginx_log_corpus(), 2), paste(true)), 1..6),
    ) {
        let text: Vec<String> = lines
            .iter()
            .map(|(bytes, how)| pasted(&String::from_utf8_lossy(bytes), how))
            .collect();
        let json = explained(&text.join("\n"));
        for s in strings(&json) {
            prop_assert!(!s.chars().any(steers_a_terminal), "{s:?}");
        }
    }

    #[test]
    fn a_pasted_line_names_no_backend_the_line_does_not_name(
        which in any::<Index>(),
        how in paste(false),
    ) {
        let lines = lines_with_upstream();
        prop_assume!(!lines.is_empty());
        let (line, upstream) = &lines[which.index(lines.len())];
        let json = explained(&pasted(line, &how));
        for explained in json["lines"].as_array().into_iter().flatten() {
            let got = &explained["parsed"]["upstream"];
            prop_assert!(got.is_null() || got == upstream.as_str(), "{got} for {upstream} from {how:?}");
        }
    }

    #[test]
    fn a_shipper_prefix_changes_nothing_but_the_prefix(
        which in any::<Index>(),
        prefix in prop::sample::select(PREFIXES),
    ) {
        let corpus = nginx_log_corpus();
        let line = String::from_utf8_lossy(&corpus[which.index(corpus.len())]).into_owned();
        let bare = explained(&line);
        prop_assume!(bare["lines"].as_array().is_some_and(|l| !l.is_empty()));
        let prefixed = explained(&format!("{prefix}{line}"));
        prop_assert_eq!(&bare["lines"][0]["parsed"], &prefixed["lines"][0]["parsed"]);
        prop_assert_eq!(&bare["lines"][0]["signature"], &prefixed["lines"][0]["signature"]);
        prop_assert_eq!(&bare["lines"][0]["candidates"], &prefixed["lines"][0]["candidates"]);
        prop_assert_eq!(
            prefixed["lines"][0]["paste"]["prefix"].as_str(),
            Some(prefix.trim())
        );
    }
}

#[test]
fn the_corpus_has_lines_with_a_backend_to_cut() {
    assert!(lines_with_upstream().len() >= 5);
}
