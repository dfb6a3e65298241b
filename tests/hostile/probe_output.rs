//! A probe whose output is made of escape sequences (the pack in
//! `tests/fixtures/hostile/escaping-probe`): every format of the report, the
//! text report in colour, and guided mode in a pseudo-terminal show them
//! escaped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{FORMATS, Run, assert_checks_table_holds, assert_terminal_safe, run, strings};
use crate::support::doctor::BINARY;

fn escaping_pack() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile/escaping-probe")
}

fn doctor_with_pack(extra: &[&str]) -> Run {
    let pack = escaping_pack().display().to_string();
    let mut args = vec!["--auto", "--rules", pack.as_str()];
    args.extend_from_slice(extra);
    run(&args, Path::new(env!("CARGO_MANIFEST_DIR")))
}

#[test]
fn escape_sequences_a_probe_prints_never_reach_the_output() {
    for format in FORMATS {
        let run = doctor_with_pack(&["--format", format]);
        assert_eq!(run.status, Some(1), "{run}");
        assert_terminal_safe(&run);
        let shown = match format {
            "json" => strings(&run.json()).join("\n"),
            _ => run.stdout(),
        };
        assert!(shown.contains(r"\x1b]0;probe-title\x07"), "{run}");
        if format == "markdown" {
            assert_checks_table_holds(&run.stdout());
        }
    }
}

#[test]
fn with_colour_on_only_colour_codes_are_printed() {
    let run = doctor_with_pack(&["--format", "text", "--color", "always"]);
    assert_eq!(run.status, Some(1), "{run}");
    let text = String::from_utf8_lossy(&run.stdout).into_owned();
    let sgr = regex::Regex::new(r"\x1b\[[0-9;]*m").expect("regex");
    let rest = sgr.replace_all(&text, "");
    assert!(
        text.len() > rest.len(),
        "--color always printed no colour\n{run}"
    );
    let run_without_colour = Run {
        status: run.status,
        stdout: rest.as_bytes().to_vec(),
        stderr: run.stderr.clone(),
    };
    assert_terminal_safe(&run_without_colour);
}

// --- guided mode -------------------------------------------------------------

/// Kills the guided run's process group if the test ends before it does.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.0),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Sequences of the escaping probe a terminal would obey, as raw bytes.
const RAW_SEQUENCES: &[&[u8]] = &[
    b"\x1b]0;probe-title",
    b"\x1b]0;stderr-title",
    b"\x1b]0;doc-title",
    b"\x1b]8;;http://evil.example/",
    b"\x1b[2J",
    b"\x1b[31mFAKE",
    b"\xc2\x9b",
    b"\xe2\x80\xae",
    b"\x07",
];

#[test]
fn guided_mode_shows_a_probes_escape_sequences_escaped() {
    use expectrl::{Expect, Session};

    let mut cmd = Command::new(BINARY);
    cmd.args(["--rules", &escaping_pack().display().to_string()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    let mut session = Session::spawn(cmd).expect("start the binary in a pseudo-terminal");
    let _kill = KillOnDrop(session.get_process().pid().as_raw());
    let mut raw = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    // Enter at every prompt: run each check, decline the fix and the save.
    loop {
        assert!(
            Instant::now() < deadline,
            "guided mode did not end\n{}",
            String::from_utf8_lossy(&raw).escape_debug()
        );
        session.set_expect_timeout(Some(Duration::from_millis(400)));
        match session.expect(expectrl::Regex(r"(?s).+")) {
            Ok(got) => raw.extend_from_slice(got.as_bytes()),
            Err(expectrl::Error::ExpectTimeout) => session.send("\r").expect("press Enter"),
            Err(expectrl::Error::Eof) => break,
            Err(e) => panic!("reading the terminal: {e}"),
        }
    }
    let shown = String::from_utf8_lossy(&raw).into_owned();
    assert!(
        shown.contains(r"\x1b]0;probe-title\x07"),
        "{}",
        shown.escape_debug()
    );
    for seq in RAW_SEQUENCES {
        assert!(
            !raw.windows(seq.len()).any(|w| w == *seq),
            "{:?} reached the terminal raw\n{}",
            String::from_utf8_lossy(seq),
            shown.escape_debug()
        );
    }
}
