//! Broken rule packs (`tests/fixtures/malformed/`, plus the big and binary
//! ones generated here) never crash, hang or bloat the tool: `rules lint DIR`
//! and `--rules DIR --auto` both exit 2 with a message naming the file (and
//! `line:column` where the YAML has one), print no panic, finish within
//! seconds and stay far below 256 MiB of memory.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::doctor::BINARY;

/// A broken pack is refused at once; this is generous for a loaded CI machine.
const TIME_LIMIT: Duration = Duration::from_secs(10);
/// Peak resident memory a refused pack may cost (alias expansion is bounded).
const MEMORY_LIMIT_KIB: u64 = 256 * 1024;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/malformed")
}

/// One finished run, with the peak resident memory seen while it ran.
struct Measured {
    status: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    peak_kib: u64,
}

impl std::fmt::Display for Measured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- exit {:?} after {:?}, peak {} KiB\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.elapsed, self.peak_kib, self.stdout, self.stderr
        )
    }
}

/// Runs the binary in `cwd`, polling its VmHWM until it exits; kills it
/// and fails the test when it outlives three times the time limit.
fn run(args: &[&str], cwd: &Path) -> Measured {
    let started = Instant::now();
    let mut child = Command::new(BINARY)
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx-doctor");
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let status = loop {
        if let Some(s) = child.try_wait().expect("poll nginx-doctor") {
            break s;
        }
        if let Some(kib) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| vm_hwm(&s))
        {
            peak_kib = peak_kib.max(kib);
        }
        if started.elapsed() > TIME_LIMIT * 3 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("nginx-doctor {args:?} still ran after {:?}", TIME_LIMIT * 3);
        }
        thread::sleep(Duration::from_millis(2));
    };
    Measured {
        status: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: started.elapsed(),
        peak_kib,
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// What the message for a broken pack must say.
struct Expect<'a> {
    /// The file as the message names it, relative to the run's directory.
    file: &'a str,
    /// Whether the message carries `line:column`.
    positioned: bool,
    /// Words the message must hold.
    says: &'a str,
}

/// Asserts the refusal: exit 2, nothing on stdout, the file (and position)
/// named with `says`, no panic, no raw control character, bounded cost.
fn assert_refused(run: &Measured, e: &Expect) {
    assert_eq!(run.status, Some(2), "{run}");
    assert_eq!(run.stdout, "", "a refused pack runs nothing\n{run}");
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with(e.file) && l.contains(e.says))
        .unwrap_or_else(|| panic!("no message on {} saying {:?}\n{run}", e.file, e.says));
    let after = &line[e.file.len()..];
    let positioned = after
        .strip_prefix(':')
        .and_then(|rest| rest.split_once(": "))
        .is_some_and(|(pos, _)| {
            pos.split(':').count() == 2
                && pos
                    .split(':')
                    .all(|n| n.parse::<usize>().is_ok_and(|n| n > 0))
        });
    assert_eq!(positioned, e.positioned, "line:column in {line:?}\n{run}");
    assert!(
        run.stderr.contains("problem; nothing was run")
            || run.stderr.contains("problems; nothing was run"),
        "{run}"
    );
    assert_quiet_and_bounded(run);
}

fn assert_quiet_and_bounded(run: &Measured) {
    for marker in [
        "panicked",
        "RUST_BACKTRACE",
        "stack overflow",
        "memory allocation",
    ] {
        assert!(!run.stderr.contains(marker), "{marker}\n{run}");
    }
    let raw = run.stderr.chars().find(|c| c.is_control() && *c != '\n');
    assert_eq!(raw, None, "a raw control character on stderr\n{run}");
    assert!(run.elapsed < TIME_LIMIT, "too slow\n{run}");
    assert!(run.peak_kib < MEMORY_LIMIT_KIB, "too much memory\n{run}");
}

/// Refused by `rules lint DIR` and by `--rules DIR --auto`, alike.
fn refused_both_ways(cwd: &Path, dir: &str, e: &Expect) {
    assert_refused(&run(&["rules", "lint", dir], cwd), e);
    assert_refused(
        &run(&["--auto", "--format", "json", "--rules", dir], cwd),
        e,
    );
}

fn committed(case: &str, positioned: bool, says: &str) {
    let file = format!("{case}/00-pack.yaml");
    refused_both_ways(
        &fixtures(),
        case,
        &Expect {
            file: &file,
            positioned,
            says,
        },
    );
}

/// A temporary pack directory `DIR/pack` holding `00-pack.yaml` = `bytes`.
fn generated(bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("pack")).expect("pack dir");
    std::fs::write(dir.path().join("pack/00-pack.yaml"), bytes).expect("write pack");
    dir
}

fn generated_refused(bytes: &[u8], positioned: bool, says: &str) {
    let dir = generated(bytes);
    refused_both_ways(
        dir.path(),
        "pack",
        &Expect {
            file: "pack/00-pack.yaml",
            positioned,
            says,
        },
    );
}

const HEAD: &str = "pack:\n  name: generated\n  start: done\n";

#[test]
fn invalid_yaml_is_refused_at_the_unclosed_quote() {
    committed("invalid-yaml", true, "unclosed quote");
}

#[test]
fn tab_indentation_is_refused_where_the_tab_is() {
    committed("tabs", true, "tabs");
}

#[test]
fn an_empty_file_is_refused() {
    committed("empty", false, "no content");
}

#[test]
fn a_file_of_comments_only_is_refused() {
    committed("comments-only", false, "no content");
}

#[test]
fn a_key_written_twice_is_refused_at_the_second() {
    committed("duplicate-keys", true, "key `stop` appears twice");
}

#[test]
fn a_value_of_the_wrong_type_is_refused() {
    committed("wrong-types", true, "wrong kind of value");
}

#[test]
fn an_anchor_whose_value_holds_its_own_alias_is_refused() {
    committed("recursive-anchor", true, "Recursive reference");
}

#[test]
fn a_mapping_that_aliases_itself_is_refused() {
    committed("self-mapping-anchor", true, "Recursive reference");
}

#[test]
fn a_node_that_leads_to_itself_is_a_cycle() {
    committed("self-cycle", true, "cycle: again -> again");
}

#[test]
fn a_regex_too_big_to_compile_is_refused_by_the_size_limit() {
    committed("huge-regex", true, "exceeds size limit");
}

#[test]
fn a_binary_file_is_refused_as_not_utf8() {
    // An ELF header, then bytes from a fixed linear congruential sequence.
    let mut bytes = b"\x7fELF\x02\x01\x01\0".to_vec();
    let mut x: u32 = 2_463_534_242;
    for _ in 0..64 * 1024 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        bytes.push(x.to_be_bytes()[0]);
    }
    generated_refused(&bytes, true, "is not valid UTF-8");
}

#[test]
fn invalid_utf8_is_refused_at_its_byte() {
    let bytes = format!("{HEAD}nodes:\n  done:\n    stop: caf").into_bytes();
    let bytes = [bytes.as_slice(), b"\xe9 \xff\n"].concat();
    generated_refused(&bytes, true, "byte 0xe9 is not valid UTF-8");
}

fn utf16le(text: &str, bom: bool) -> Vec<u8> {
    let mut out = if bom { vec![0xff, 0xfe] } else { Vec::new() };
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

#[test]
fn utf16_with_a_bom_is_named_as_such() {
    let text = format!("{HEAD}nodes:\n  done:\n    stop: x\n");
    generated_refused(&utf16le(&text, true), false, "UTF-16LE, not UTF-8");
}

#[test]
fn utf16_without_a_bom_is_named_as_such() {
    let text = format!("{HEAD}nodes:\n  done:\n    stop: x\n");
    generated_refused(&utf16le(&text, false), false, "UTF-16LE, not UTF-8");
}

#[test]
fn a_two_mib_file_is_refused_unread() {
    let mut text = format!("{HEAD}nodes:\n  done:\n    stop: x\n");
    while text.len() < 2 << 20 {
        text.push_str("# padding padding padding padding padding padding padding\n");
    }
    generated_refused(
        text.as_bytes(),
        false,
        "rule files are limited to 1048576 bytes",
    );
}

#[test]
fn a_hundred_thousand_open_brackets_are_refused_without_overflowing() {
    let text = format!("{HEAD}nodes:\n  done:\n    stop: {}\n", "[".repeat(100_000));
    generated_refused(text.as_bytes(), true, "wrong kind of value");
}

#[test]
fn a_hundred_thousand_open_brackets_at_the_root_are_refused() {
    generated_refused("[".repeat(100_000).as_bytes(), true, "");
}

/// A schema-valid alias bomb: 400 nodes, each an alias of one conclusion
/// holding 1000 evidence lines, i.e. 400 000 values once expanded.
fn alias_bomb() -> String {
    let evidence = vec!["e"; 1000].join(", ");
    let mut text = format!(
        "pack:\n  name: bomb\n  start: n0\nnodes:\n  n0: &big\n    conclude: backend-down\n    \
         confidence: high\n    title: t\n    evidence: [{evidence}]\n"
    );
    for i in 1..400 {
        let _ = writeln!(text, "  n{i}: *big");
    }
    text
}

#[test]
fn an_alias_bomb_is_stopped_by_the_expansion_budget() {
    generated_refused(alias_bomb().as_bytes(), true, "flatten it");
}

#[test]
fn three_hundred_files_are_refused_unread() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pack = dir.path().join("pack");
    std::fs::create_dir(&pack).expect("pack dir");
    for i in 0..300 {
        std::fs::write(pack.join(format!("{i:03}.yaml")), "x: 1\n").expect("write");
    }
    refused_both_ways(
        dir.path(),
        "pack",
        &Expect {
            file: "pack",
            positioned: false,
            says: "300 rule files; at most 256 are read",
        },
    );
}

#[test]
fn a_fifo_and_a_link_to_dev_zero_are_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pack = dir.path().join("pack");
    std::fs::create_dir(&pack).expect("pack dir");
    nix::unistd::mkfifo(&pack.join("00-pack.yaml"), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    std::os::unix::fs::symlink("/dev/zero", pack.join("01-zero.yaml")).expect("symlink");
    for file in ["pack/00-pack.yaml", "pack/01-zero.yaml"] {
        refused_both_ways(
            dir.path(),
            "pack",
            &Expect {
                file,
                positioned: false,
                says: "not a regular file",
            },
        );
    }
}

#[test]
fn a_file_name_with_escape_sequences_is_shown_escaped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pack = dir.path().join("pack");
    std::fs::create_dir(&pack).expect("pack dir");
    let name = "00-\x1b]0;owned\x07\x1b[31m\u{9b}2J.yaml";
    std::fs::write(pack.join(name), "pack: [\n").expect("write");
    for args in [
        vec!["rules", "lint", "pack"],
        vec!["--auto", "--rules", "pack"],
    ] {
        let run = run(&args, dir.path());
        assert_eq!(run.status, Some(2), "{run}");
        assert!(
            run.stderr
                .contains(r"pack/00-\x1b]0;owned\x07\x1b[31m\u{9b}2J.yaml"),
            "the name is shown, escaped\n{run}"
        );
        assert_quiet_and_bounded(&run);
    }
}

#[test]
fn ids_made_of_escape_sequences_are_refused_without_printing_them() {
    // Refused at the first escape, or for the ids it makes: either way
    // positioned, and (asserted for every case) nothing raw on stderr.
    refused_both_ways(
        &fixtures(),
        "escapes-in-ids",
        &Expect {
            file: "escapes-in-ids/00-pack.yaml",
            positioned: true,
            says: "",
        },
    );
}

#[test]
fn rule_text_holding_escape_sequences_is_refused() {
    committed("escapes-in-text", true, "control character U+001B");
}

#[test]
fn catastrophic_regexes_are_accepted_and_match_in_linear_time() {
    let lint = run(&["rules", "lint", "catastrophic-regex"], &fixtures());
    assert_eq!(lint.status, Some(0), "{lint}");
    let walk = run(
        &[
            "--auto",
            "--format",
            "json",
            "--rules",
            "catastrophic-regex",
        ],
        &fixtures(),
    );
    assert_eq!(walk.status, Some(0), "{walk}");
    assert_quiet_and_bounded(&walk);
    let report: serde_json::Value = serde_json::from_str(&walk.stdout).expect("JSON report");
    let check = &report["checks"][0];
    assert_eq!(check["status"], "ok", "{walk}");
    assert!(
        check["duration_ms"].as_u64().is_some_and(|ms| ms < 5000),
        "{walk}"
    );
    // `(a|a?)+!` matched the whole 200 000 `a`s and the `!` (cut for the fact).
    assert_eq!(
        report["path"],
        serde_json::json!(["look", "done"]),
        "{walk}"
    );
    let title = report["findings"][0]["title"].as_str().unwrap_or("");
    assert!(title.contains("[+"), "the matched group is cut: {title}");
}
