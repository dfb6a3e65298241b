//! The README is a contract too: its diagram is the pack's, and the flags
//! and exit codes it documents are the binary's.

use std::process::{Command, Stdio};

fn doctor(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nginx-doctor"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run nginx-doctor");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}

#[test]
fn readme_diagram_is_the_embedded_pack() {
    let readme = readme();
    let start = readme.find("```mermaid\n").expect("a mermaid block") + "```mermaid\n".len();
    let end = start + readme[start..].find("```").expect("closed block");
    assert_eq!(
        &readme[start..end],
        doctor(&["rules", "graph", "--format", "mermaid"]),
        "regenerate the README's diagram with `nginx-doctor rules graph`"
    );
}

#[test]
fn readme_exit_codes_match_help() {
    let readme = readme();
    let help = doctor(&["--help"]);
    for code in ["0", "1", "2", "3", "130"] {
        assert!(
            readme.contains(&format!("| {code} |")),
            "README lacks exit status {code}"
        );
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(code)),
            "--help lacks exit status {code}"
        );
    }
}
