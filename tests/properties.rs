//! Property tests for the code that reads what a host or a pack author
//! wrote: nginx and php-fpm log lines, `explain`'s input, nginx
//! configuration text, rule packs, conditions, templates and the terminal
//! sanitiser. Inputs are arbitrary bytes and mutations of a corpus seeded
//! from the fixtures (`tests/fixtures/nginx`, `tests/fixtures/hostile/corpus`,
//! `rules/`, `tests/fixtures/packs*`); every property includes "does not panic".
//!
//! Case counts are modest so `cargo test` stays fast; set `PROPTEST_CASES`
//! (e.g. `PROPTEST_CASES=200000 cargo test --release --test integration
//! properties::`) for a long fuzzing run. Failures are not persisted to
//! files: proptest prints the shrunk input, and a fixed bug gets a unit test.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nginx_doctor::expr::Expr;
use nginx_doctor::logs::{classify::classify, fpm_line, nginx_line};
use nginx_doctor::rules::RuleSet;
use nginx_doctor::sanitize;
use nginx_doctor::template::Template;
use nginx_doctor::value::Facts;
use proptest::prelude::*;
use proptest::sample::Index;

mod pasted;

/// Cases per property: `PROPTEST_CASES`, else `default`.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every regular file under `dir`, recursively, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn lines_of(rel: &str) -> Vec<Vec<u8>> {
    read(&root().join(rel))
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn nginx_log_corpus() -> &'static Vec<Vec<u8>> {
    static C: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    C.get_or_init(|| lines_of("tests/fixtures/hostile/corpus/nginx-error.log"))
}

fn fpm_log_corpus() -> &'static Vec<Vec<u8>> {
    static C: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    C.get_or_init(|| lines_of("tests/fixtures/hostile/corpus/php-fpm.log"))
}

/// nginx configurations: the fixtures and the lab's own.
fn config_corpus() -> &'static Vec<Vec<u8>> {
    static C: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    C.get_or_init(|| {
        let mut files = files_under(&root().join("tests/fixtures/nginx"));
        files.retain(|p| p.extension().is_none_or(|x| x != "md"));
        files.extend(
            files_under(&root().join("tests/fixtures/hostile/corpus"))
                .into_iter()
                .filter(|p| p.extension().is_some_and(|x| x == "conf")),
        );
        files.iter().map(|p| read(p)).collect()
    })
}

/// Rule files: the default pack, and the good and broken fixture packs.
fn rule_corpus() -> &'static Vec<Vec<u8>> {
    static C: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    C.get_or_init(|| {
        let mut files = Vec::new();
        for dir in [
            "rules",
            "tests/fixtures/packs",
            "tests/fixtures/packs-misbehaving",
            "tests/fixtures/malformed",
        ] {
            files.extend(files_under(&root().join(dir)));
        }
        files.retain(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"));
        files.iter().map(|p| read(p)).collect()
    })
}

/// The default pack's files, as `build` takes them.
fn default_pack() -> &'static Vec<(String, Vec<u8>)> {
    static C: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    C.get_or_init(|| {
        files_under(&root().join("rules"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .map(|p| (p.display().to_string(), read(&p)))
            .collect()
    })
}

/// The default pack's cause docs, built once: a build costs tenths of a
/// second in a debug build.
fn embedded_pack() -> nginx_doctor::explain::Pack<'static> {
    static P: OnceLock<RuleSet> = OnceLock::new();
    nginx_doctor::explain::Pack::of(
        P.get_or_init(|| RuleSet::embedded().expect("the embedded pack loads")),
    )
}

/// Byte strings that mean something to one of the parsers: quotes, escapes,
/// brackets, YAML anchors and flow syntax, nginx log fields and addresses,
/// template and condition syntax, terminal escapes and broken UTF-8.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"'",
    b"\\",
    b"\\\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b"(",
    b")",
    b";",
    b"#",
    b"$",
    b"${",
    b"\n",
    b"\r",
    b"\t",
    b" ",
    b"\0",
    b"\x1b[31m",
    b"\x1b]0;t\x07",
    b"\xc2\x9b",
    b"\xff",
    b"\xe2\x80",
    b"&a ",
    b"*a",
    b"- ",
    b": ",
    b"? ",
    b"!tag ",
    b"---\n",
    b"|\n",
    b">-\n",
    b"{{",
    b"}}",
    b"{{error-log.host}}",
    b" == ",
    b" =~ ",
    b" and ",
    b"not ",
    b"exists(",
    b"(?P<x>",
    b".*",
    b"upstream: \"",
    b"request: \"",
    b"host: \"",
    b"unix:",
    b"http://",
    b"fastcgi://",
    b"[::1]",
    b":65536",
    b":0",
    b"127.0.0.1:",
    b" while connecting to upstream",
    b" (111: ",
    b"*1 ",
    b"include ",
    b"_by_lua_block {",
    b"--[[",
    b"]]",
    b"location ~ ",
    b"server {",
    b"2026/11/24 21:18:00 [error] 1#1: ",
    b"[24-Nov-2026 21:18:00] WARNING: [pool www] ",
];

/// One edit of a seed input.
#[derive(Debug, Clone)]
enum Mutation {
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    Duplicate(Index, usize),
    Replace(Index, u8),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), prop::sample::select(TOKENS))
            .prop_map(|(i, t)| Mutation::Insert(i, t.to_vec())),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<Index>(), 1..64usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), 1..512usize).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(seed: &[u8], edits: &[Mutation]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for m in edits {
        let at = |i: &Index| i.index(out.len() + 1);
        match m {
            Mutation::Insert(i, bytes) => {
                let p = at(i);
                out.splice(p..p, bytes.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let p = at(i);
                out.drain(p..(p + n).min(out.len()));
            }
            Mutation::Duplicate(i, n) => {
                let p = at(i);
                let copy = out[p..(p + n).min(out.len())].to_vec();
                out.splice(p..p, copy);
            }
            Mutation::Replace(i, b) => {
                let p = at(i);
                if p < out.len() {
                    out[p] = *b;
                }
            }
            Mutation::Truncate(i) => {
                let p = at(i);
                out.truncate(p);
            }
        }
    }
    out
}

/// A seed from `corpus`, mutated 0 to `max_edits` times; or random bytes.
fn input(corpus: &'static [Vec<u8>], max_edits: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => (
            prop::sample::select(corpus),
            prop::collection::vec(mutation(), 0..=max_edits)
        )
            .prop_map(|(seed, edits)| apply(&seed, &edits)),
        1 => prop::collection::vec(any::<u8>(), 0..512),
    ]
}

/// Several lines of the corpus, mutated, as one text (for `explain`).
fn log_text() -> impl Strategy<Value = String> {
    prop::collection::vec(input(nginx_log_corpus(), 4), 1..12).prop_map(|lines| {
        let text = lines.join(&b"\n"[..]);
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// UTC offsets of real time zones (and a little beyond).
fn utc_offset() -> impl Strategy<Value = i32> {
    -15 * 3600..=15 * 3600
}

/// What a terminal would obey: what `sanitize::for_terminal` must escape.
fn steers_a_terminal(c: char) -> bool {
    c.is_control()
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
        || c == '\u{2028}'
        || c == '\u{2029}'
}

fn facts() -> Facts {
    let mut f = Facts::new();
    f.set("error-log.host", "127.0.0.1");
    f.set("error-log.port", 9000_i64);
    f.set("error-log.count", 3_i64);
    f.set("error-log.transport", "unix");
    f.set("listeners.listening", false);
    f.set("log.req", "-rf /");
    f
}

#[test]
fn every_corpus_line_parses_as_what_it_is() {
    for line in nginx_log_corpus() {
        let text = String::from_utf8_lossy(line);
        assert!(nginx_line::parse_line(&text, 0).is_some(), "{text}");
    }
    for line in fpm_log_corpus() {
        let text = String::from_utf8_lossy(line);
        assert!(fpm_line::parse_line(&text, 0).is_some(), "{text}");
    }
    for (name, bytes) in default_pack() {
        assert!(!bytes.is_empty(), "{name}");
    }
    assert!(
        RuleSet::embedded().is_ok(),
        "the seed pack must build for the mutations of it to mean something"
    );
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn nginx_error_lines_never_panic(bytes in input(nginx_log_corpus(), 6), offset in utc_offset()) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = nginx_line::line_time(&bytes, offset);
        if let Some(line) = nginx_line::parse_line(&text, offset) {
            let _ = classify(&line);
            if let Some(up) = line.upstream_ref() {
                // What the diagnosis probes is typed: an IP and port, a path or a name.
                let shown = up.address.to_string();
                prop_assert!(!shown.is_empty());
            }
        }
    }

    #[test]
    fn php_fpm_lines_never_panic(bytes in input(fpm_log_corpus(), 6), offset in utc_offset()) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = fpm_line::line_time(&bytes, offset);
        let _ = fpm_line::parse_line(&text, offset);
    }

    #[test]
    fn explain_never_panics_and_its_output_is_clean(text in log_text(), offset in utc_offset()) {
        let explanation = nginx_doctor::explain::explain(&text, embedded_pack(), offset);
        let json = serde_json::to_string(&explanation).expect("explanation serialises");
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        for s in strings(&value) {
            prop_assert!(!s.chars().any(steers_a_terminal), "{s:?}");
        }
    }

    #[test]
    fn nginx_config_tokenizer_never_panics(bytes in input(config_corpus(), 8)) {
        if let Ok(tokens) = nginx_doctor::nginx::lexer::tokenize(&bytes) {
            let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
            let mut last = 1;
            for t in &tokens {
                prop_assert!(t.line >= last && t.line <= lines, "line {} of {lines}", t.line);
                last = t.line;
            }
        }
    }

    #[test]
    fn nginx_config_parser_and_model_never_panic(bytes in input(config_corpus(), 8)) {
        let text = String::from_utf8_lossy(&bytes);
        let name = Path::new("/etc/nginx/nginx.conf");
        if let Ok(cfg) = nginx_doctor::nginx::parse_str(&text, name) {
            let _ = nginx_doctor::nginx::model(&cfg, Path::new("/etc/nginx/"));
        }
    }

    #[test]
    fn terminal_text_never_holds_a_control_and_is_stable(bytes in input(nginx_log_corpus(), 6), max in 0..3000usize) {
        let shown = sanitize::for_terminal(&bytes);
        prop_assert!(!shown.chars().any(steers_a_terminal), "{shown:?}");
        prop_assert_eq!(sanitize::for_terminal(shown.as_bytes()), shown.clone());
        let cut = sanitize::truncate(&shown, max);
        prop_assert!(cut.chars().count() <= max + " [+ chars]".len() + 21);
        prop_assert!(!cut.chars().any(steers_a_terminal));
    }

    #[test]
    fn conditions_never_panic(text in condition_text()) {
        if let Ok(e) = Expr::parse(&text) {
            let _ = e.eval(&facts());
            let _ = e.holds(&Facts::new());
            let _ = e.facts();
        }
    }

    #[test]
    fn templates_never_render_an_unsafe_argument(text in template_text()) {
        if let Ok(t) = Template::parse(&text) {
            let facts = facts();
            let _ = t.render(&facts);
            if let Ok(arg) = t.render_arg(&facts) {
                prop_assert!(!arg.chars().any(char::is_control), "{arg:?}");
                prop_assert!(arg.len() <= 4096);
                if text.starts_with("{{") {
                    prop_assert!(!arg.starts_with('-'), "{arg:?} from {text:?}");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn a_rule_file_never_panics_the_loader(bytes in input(rule_corpus(), 8)) {
        let name = "fuzz/00-pack.yaml".to_string();
        if let Err(problems) = nginx_doctor::rules::build::build("fuzz", vec![(name.clone(), bytes)]) {
            prop_assert!(!problems.0.is_empty());
            for p in &problems.0 {
                prop_assert!(p.file == name || p.file == "fuzz", "{p}");
                prop_assert!(!p.to_string().chars().any(steers_a_terminal), "{p}");
            }
        }
    }

}

proptest! {
    // Each case builds the whole default pack (a fifth of a second in a
    // debug build), so the default count is small; long runs set
    // PROPTEST_CASES and use --release.
    #![proptest_config(config(24))]

    #[test]
    fn a_mutated_default_pack_never_panics_the_loader(
        which in any::<Index>(),
        edits in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut files = default_pack().clone();
        let i = which.index(files.len());
        files[i].1 = apply(&files[i].1, &edits);
        let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
        if let Err(problems) = nginx_doctor::rules::build::build("fuzz", files) {
            prop_assert!(!problems.0.is_empty());
            for p in &problems.0 {
                prop_assert!(names.contains(&p.file) || p.file == "fuzz", "{p}");
                prop_assert!(!p.to_string().chars().any(steers_a_terminal), "{p}");
            }
        }
    }
}

/// Conditions as the packs write them, mutated, or arbitrary text.
fn condition_text() -> impl Strategy<Value = String> {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let seeds = SEEDS.get_or_init(|| {
        let mut out: Vec<Vec<u8>> = rule_corpus()
            .iter()
            .flat_map(|f| {
                String::from_utf8_lossy(f)
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("- when: ")
                    .map(|w| w.as_bytes().to_vec())
            })
            .collect();
        out.push(b"exists(a.b) and not a.c == \"x\" or a.d > 3".to_vec());
        out
    });
    input(seeds, 6).prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Templates as the packs write them, mutated, or arbitrary text.
fn template_text() -> impl Strategy<Value = String> {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let seeds = SEEDS.get_or_init(|| {
        let mut out: Vec<Vec<u8>> = rule_corpus()
            .iter()
            .flat_map(|f| {
                String::from_utf8_lossy(f)
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|l| l.contains("{{"))
            .map(|l| l.trim().trim_matches('"').as_bytes().to_vec())
            .collect();
        out.push(b"{{log.req}}".to_vec());
        out
    });
    input(seeds, 6).prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Every string inside a JSON value.
fn strings(v: &serde_json::Value) -> Vec<&str> {
    match v {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(a) => a.iter().flat_map(strings).collect(),
        serde_json::Value::Object(o) => o.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}
