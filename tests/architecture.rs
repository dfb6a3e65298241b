//! The README's map of the code is a contract: its table of layers names
//! every top-level module of `src/`, and the code's `crate::` paths only
//! ever point down that table or across a row, never up, and never in a
//! circle. A new module must take its place in the table; an import that
//! runs upwards names the file that wrote it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The layers of the README's "The code" table, top row first.
fn layers() -> Vec<(String, Vec<String>)> {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).expect("README.md");
    let section = readme
        .split("\n### The code\n")
        .nth(1)
        .expect("README has a `### The code` section");
    section
        .lines()
        .skip_while(|l| !l.starts_with("| layer |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let modules = cells[2]
                .split(',')
                .map(|m| m.trim().trim_matches('`').to_owned())
                .collect();
            (cells[1].to_owned(), modules)
        })
        .collect()
}

/// Each top-level module of `src/` and the files that make it up.
fn modules() -> BTreeMap<String, Vec<PathBuf>> {
    let src = Path::new(ROOT).join("src");
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("src/") {
        let path = entry.expect("a src/ entry").path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if stem == "lib" || stem == "main" {
            continue;
        }
        let files: &mut Vec<PathBuf> = found.entry(stem).or_default();
        if path.is_dir() {
            rust_files(&path, files);
        } else {
            files.push(path);
        }
    }
    found
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// Unit-test files may reach anywhere; they are not part of the build.
fn is_test_file(path: &Path, test_only: &BTreeSet<PathBuf>) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    name == "tests.rs"
        || path.components().any(|c| c.as_os_str() == "tests")
        || test_only.contains(path)
}

/// The files of modules declared `#[cfg(test)] mod name;` (test fixtures
/// such as an oracle), which are not part of the build either.
fn test_only_files(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("a source file");
        let children = file.with_extension("");
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.trim() != "#[cfg(test)]" {
                continue;
            }
            let next = lines.next().unwrap_or("").trim();
            if let Some(name) = next.strip_prefix("mod ").and_then(|n| n.strip_suffix(';')) {
                found.insert(children.join(format!("{name}.rs")));
            }
        }
    }
    found
}

/// The top-level modules a file's code (not its comments, not its
/// `#[cfg(test)]` module) names through `crate::`.
fn imports(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).expect("a source file");
    let mut names = BTreeSet::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        if code == "#[cfg(test)]" {
            match lines.peek() {
                Some(next) if next.trim_end().ends_with('{') => break,
                _ => {
                    lines.next();
                    continue;
                }
            }
        }
        let code = code.split(" //").next().unwrap_or(code);
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end > 0 {
                names.insert(rest[..end].to_owned());
            }
        }
    }
    names
}

/// Every import between two top-level modules, with the files behind it.
fn edges() -> BTreeMap<(String, String), Vec<String>> {
    let mut edges: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let modules = modules();
    let all: Vec<PathBuf> = modules.values().flatten().cloned().collect();
    let test_only = test_only_files(&all);
    for (module, files) in modules {
        for file in files.iter().filter(|f| !is_test_file(f, &test_only)) {
            for target in imports(file) {
                if target != module {
                    let shown = file.strip_prefix(ROOT).unwrap().display().to_string();
                    edges
                        .entry((module.clone(), target))
                        .or_default()
                        .push(shown);
                }
            }
        }
    }
    edges
}

fn layer_of(layers: &[(String, Vec<String>)]) -> BTreeMap<String, usize> {
    let mut of = BTreeMap::new();
    for (rank, (_, modules)) in layers.iter().rev().enumerate() {
        for module in modules {
            of.insert(module.clone(), rank);
        }
    }
    of
}

#[test]
fn readme_layers_name_every_module_once() {
    let layers = layers();
    let named: Vec<&String> = layers.iter().flat_map(|(_, m)| m).collect();
    let unique: BTreeSet<&String> = named.iter().copied().collect();
    assert_eq!(named.len(), unique.len(), "a module in two rows: {named:?}");
    let actual: BTreeSet<String> = modules().into_keys().collect();
    let listed: BTreeSet<String> = unique.into_iter().cloned().collect();
    assert_eq!(
        listed, actual,
        "the README's `### The code` table and src/ disagree"
    );
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let layers = layers();
    let of = layer_of(&layers);
    let upward: Vec<String> = edges()
        .into_iter()
        .filter(|((from, to), _)| of.get(to) > of.get(from))
        .map(|((from, to), files)| format!("{from} imports {to} (a layer above) in {files:?}"))
        .collect();
    assert!(upward.is_empty(), "{}", upward.join("\n"));
}

#[test]
fn no_two_modules_import_each_other_even_indirectly() {
    let edges = edges();
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
    }
    let reaches = |start: &str, goal: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start];
        while let Some(at) = todo.pop() {
            for &to in next.get(at).into_iter().flatten() {
                if to == goal {
                    return true;
                }
                if seen.insert(to) {
                    todo.push(to);
                }
            }
        }
        false
    };
    let circles: Vec<String> = edges
        .iter()
        .filter(|((from, to), _)| reaches(to, from))
        .map(|((from, to), files)| format!("{from} -> {to} closes a circle ({files:?})"))
        .collect();
    assert!(circles.is_empty(), "{}", circles.join("\n"));
}
