//! Rule packs made from the default one for a test: a copy of `rules/`
//! (plus a fixture's files) in a temp dir, edited in place, so a test
//! states only what it changes and follows the default pack as it moves.

use std::fs;
use std::path::{Path, PathBuf};

/// The default pack copied into `dir/rules`, with every `*.yaml` of each
/// of `extra` (folders under the crate root) added.
pub fn default_copy(dir: &Path, extra: &[&str]) -> PathBuf {
    let rules = dir.join("rules");
    fs::create_dir_all(&rules).expect("mkdir rules");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = std::iter::once(root.join("rules")).chain(extra.iter().map(|e| root.join(e)));
    for source in sources {
        for entry in fs::read_dir(&source).expect("read a pack") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let name = path.file_name().expect("a name");
                fs::copy(&path, rules.join(name)).expect("copy a rule file");
            }
        }
    }
    rules
}

/// Replaces the one `old` in `file` with `new`; returns the 1-based line
/// `new` starts on.
pub fn edit(file: &Path, old: &str, new: &str) -> usize {
    let text = fs::read_to_string(file).expect("read a rule file");
    assert_eq!(
        text.matches(old).count(),
        1,
        "{old:?} in {}",
        file.display()
    );
    let at = text.find(old).expect("found once");
    fs::write(file, text.replacen(old, new, 1)).expect("write a rule file");
    text[..at].matches('\n').count() + 1
}

/// `nginx-doctor --rules RULES scan --format json` over a log holding
/// `lines`, written in `dir`, counting everything since 2000.
pub fn scan_lines(rules: &Path, dir: &Path, lines: &str) -> super::doctor::DoctorRun {
    use super::doctor::{BINARY, DOCTOR_TIMEOUT, run_bounded};
    let log = dir.join("error.log");
    fs::write(&log, format!("{lines}\n")).expect("write log");
    let args = [
        "--rules",
        rules.to_str().expect("utf-8"),
        "scan",
        "--format",
        "json",
        "--since",
        "2000-01-01 00:00",
        log.to_str().expect("utf-8"),
    ];
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    run_bounded(BINARY, &args, Path::new("/"), DOCTOR_TIMEOUT)
}
