//! Where rule files come from: the pack compiled into the binary, or a
//! directory given with `--rules`.
//!
//! The default pack is embedded so the tool works on a host where only the
//! binary was copied. A test proves this list matches `rules/*.yaml`.

use std::path::Path;

use super::{Problem, Problems};

/// The default pack, in name order (the order files are read in).
const FILES: &[(&str, &[u8])] = &[
    ("00-pack.yaml", include_bytes!("../../rules/00-pack.yaml")),
    (
        "05-signatures.yaml",
        include_bytes!("../../rules/05-signatures.yaml"),
    ),
    (
        "10-config.yaml",
        include_bytes!("../../rules/10-config.yaml"),
    ),
    (
        "15-nginx-down.yaml",
        include_bytes!("../../rules/15-nginx-down.yaml"),
    ),
    (
        "20-errors.yaml",
        include_bytes!("../../rules/20-errors.yaml"),
    ),
    (
        "30-connect.yaml",
        include_bytes!("../../rules/30-connect.yaml"),
    ),
    (
        "40-response.yaml",
        include_bytes!("../../rules/40-response.yaml"),
    ),
    (
        "50-protocol.yaml",
        include_bytes!("../../rules/50-protocol.yaml"),
    ),
    (
        "60-network.yaml",
        include_bytes!("../../rules/60-network.yaml"),
    ),
    (
        "80-causes.yaml",
        include_bytes!("../../rules/80-causes.yaml"),
    ),
    (
        "90-healthy.yaml",
        include_bytes!("../../rules/90-healthy.yaml"),
    ),
];

/// The file of the default pack that holds its `signatures:` (a test
/// holds every other file to having none).
pub const SIGNATURES: &str = "05-signatures.yaml";

/// The file of the default pack that holds its `causes:`, the cause ids
/// and what each means (a test holds every other file to having none).
pub const CAUSES: &str = "80-causes.yaml";

/// The embedded files as (display name, bytes).
pub fn files() -> Vec<(String, Vec<u8>)> {
    FILES.iter().map(owned).collect()
}

/// The embedded file with the default pack's `signatures:`.
pub fn signature_files() -> Vec<(String, Vec<u8>)> {
    only(SIGNATURES)
}

/// The embedded file with the default pack's `causes:`.
pub fn cause_files() -> Vec<(String, Vec<u8>)> {
    only(CAUSES)
}

/// The embedded file `name` alone: `scan` reads the signatures before
/// every scan, and copies only what it needs.
fn only(name: &str) -> Vec<(String, Vec<u8>)> {
    FILES
        .iter()
        .filter(|(n, _)| *n == name)
        .map(owned)
        .collect()
}

/// An embedded file as (display name, bytes).
fn owned((name, bytes): &(&str, &[u8])) -> (String, Vec<u8>) {
    (format!("rules/{name}"), bytes.to_vec())
}

/// Rule files larger than this are refused unread: a pack is a few dozen KiB.
const MAX_FILE: u64 = 1 << 20;
/// A directory with more files than this is not a rule pack.
const MAX_FILES: usize = 256;

/// Reads every `*.yaml`/`*.yml` file of `dir`, in name order.
pub fn read_dir(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, Problems> {
    let fail = |message: String| {
        Problems(vec![Problem {
            file: display_name(dir),
            pos: None,
            message,
        }])
    };
    let entries = std::fs::read_dir(dir).map_err(|e| {
        fail(format!(
            "cannot read the rules directory: {e}; pass a directory of *.yaml files"
        ))
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(fail(
            "no *.yaml files here; a rule pack needs at least one".into(),
        ));
    }
    if paths.len() > MAX_FILES {
        return Err(fail(format!(
            "{} rule files; at most {MAX_FILES} are read",
            paths.len()
        )));
    }
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        let name = display_name(&path);
        match read_bounded(&path) {
            Ok(bytes) => files.push((name, bytes)),
            Err(message) => problems.push(Problem {
                file: name,
                pos: None,
                message,
            }),
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(Problems(problems))
    }
}

/// A path as messages show it. File names are host data: one holding an
/// escape sequence must not steer the terminal that prints the message.
pub fn display_name(path: &Path) -> String {
    crate::sanitize::for_terminal(path.as_os_str().as_encoded_bytes())
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{} bytes; rule files are limited to {MAX_FILE} bytes",
            meta.len()
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_with_an_escape_is_shown_escaped() {
        let name = display_name(Path::new("pack/00-\x1b]0;t\x07.yaml"));
        assert_eq!(name, "pack/00-\\x1b]0;t\\x07.yaml");
    }

    #[test]
    fn embedded_list_matches_the_rules_directory() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
        let on_disk: Vec<String> = read_dir(Path::new(dir))
            .unwrap()
            .into_iter()
            .map(|(name, _)| name.rsplit('/').next().unwrap_or_default().to_owned())
            .collect();
        let embedded: Vec<&str> = FILES.iter().map(|(n, _)| *n).collect();
        assert_eq!(on_disk, embedded, "update FILES in src/rules/embedded.rs");
    }

    #[test]
    fn only_the_causes_file_says_what_causes_mean() {
        let saying: Vec<&str> = FILES
            .iter()
            .filter(|(_, bytes)| bytes.split(|b| *b == b'\n').any(|l| l == b"causes:"))
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(saying, [CAUSES]);
    }

    #[test]
    fn the_default_causes_are_the_catalogues() {
        // The catalogue lives beside the checkout, not in it; a clone
        // without it still builds and tests everything else.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/CAUSES.md");
        let Ok(catalogue) = std::fs::read_to_string(path) else {
            eprintln!("skipped: {path} is not here");
            return;
        };
        let mut listed: Vec<&str> = catalogue
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        let set = crate::rules::RuleSet::embedded().expect("the default pack loads");
        let mut ids: Vec<&str> = set.causes.keys().map(String::as_str).collect();
        listed.sort_unstable();
        ids.sort_unstable();
        assert_eq!(ids, listed);
    }
}
