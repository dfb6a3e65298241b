//! php-fpm's INI dialect, line by line, the way `fpm_conf_load_ini_file()` reads it: every
//! line is parsed on its own (no multi-line values), `;` starts a comment, values may be
//! double- or single-quoted, `[name]` opens a section, and `include = GLOB` pulls in more
//! files at that point. Relative include patterns are relative to php-fpm's prefix, not to
//! the including file (php-src `fpm_evaluate_full_path()`).

use super::FpmConfError;
use crate::host::Sourced;
use std::fs;
use std::path::{Path, PathBuf};

/// php-fpm refuses deeper include nesting ("You can include more than 5 files recusively").
const MAX_DEPTH: usize = 5;
/// php-fpm reads at most 1024 bytes per line; we accept longer lines but not absurd files.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// One meaningful line of configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
    /// `[name]`, as written (php-fpm compares names case-insensitively).
    Section(Sourced<String>),
    /// `key = value`, the key as written, the value unquoted.
    Entry { key: String, value: Sourced<String> },
    /// A line php-fpm would reject, or an include that matched nothing.
    Problem(Sourced<String>),
    /// `;key = value`: a setting commented out, as distributions ship
    /// their defaults (`;listen.mode = 0660`): where that setting goes.
    Commented { key: String, value: Sourced<String> },
}

/// Where the files live: `root` re-roots absolute paths (a fixture tree or a container's
/// `/proc/PID/root`); `prefix` is the base of relative include patterns.
pub(super) struct Reader<'a> {
    pub root: Option<&'a Path>,
    pub prefix: &'a Path,
    pub files: Vec<PathBuf>,
    pub items: Vec<Item>,
}

impl Reader<'_> {
    /// Reads `file` (a host path) and, recursively, what it includes.
    pub(super) fn read(&mut self, file: &Path, depth: usize) -> Result<(), FpmConfError> {
        let text = read_bounded(file)?;
        self.files.push(file.to_path_buf());
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            match parse_line(raw) {
                Line::Blank => {}
                Line::Section(name) => self
                    .items
                    .push(Item::Section(Sourced::new(name, file, line))),
                Line::Entry(key, value) if key == "include" => {
                    self.include(&value, file, line, depth)?;
                }
                Line::Entry(key, value) => self.items.push(Item::Entry {
                    key,
                    value: Sourced::new(value, file, line),
                }),
                Line::Bad(why) => self
                    .items
                    .push(Item::Problem(Sourced::new(why, file, line))),
                Line::Commented(key, value) => self.items.push(Item::Commented {
                    key,
                    value: Sourced::new(value, file, line),
                }),
            }
        }
        Ok(())
    }

    fn include(
        &mut self,
        pattern: &str,
        file: &Path,
        line: usize,
        depth: usize,
    ) -> Result<(), FpmConfError> {
        let at = || Sourced::new(pattern.to_string(), file, line);
        if depth >= MAX_DEPTH {
            return Err(FpmConfError::TooDeep {
                at: at(),
                max: MAX_DEPTH,
            });
        }
        let absolute = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            self.prefix.join(pattern)
        };
        let matches =
            glob::glob(&self.host_glob(&absolute)).map_err(|e| FpmConfError::BadInclude {
                at: at(),
                reason: e.msg.to_string(),
            })?;
        let mut found: Vec<PathBuf> = matches.flatten().filter(|p| !p.is_dir()).collect();
        found.sort();
        if found.is_empty() {
            let why = format!("include pattern {} matches no file", absolute.display());
            self.items
                .push(Item::Problem(Sourced::new(why, file, line)));
        }
        for path in found {
            self.read(&path, depth + 1)?;
        }
        Ok(())
    }

    /// An absolute glob of the configured system as a glob on this host; the root itself is
    /// escaped, since its name may contain `[`, `*` or `?`.
    fn host_glob(&self, pattern: &Path) -> String {
        let text = pattern.to_string_lossy();
        match self.root {
            Some(root) => {
                let base = glob::Pattern::escape(&root.to_string_lossy());
                format!(
                    "{}/{}",
                    base.trim_end_matches('/'),
                    text.trim_start_matches('/')
                )
            }
            None => text.into_owned(),
        }
    }

    /// Where an absolute path of the configured system is on this host.
    pub(super) fn host_path(&self, path: &Path) -> PathBuf {
        match (self.root, path.strip_prefix("/")) {
            (Some(root), Ok(rel)) => root.join(rel),
            _ => path.to_path_buf(),
        }
    }
}

fn read_bounded(file: &Path) -> Result<String, FpmConfError> {
    use std::io::Read;
    let read_err = |source| FpmConfError::Read {
        path: file.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    fs::File::open(file)
        .and_then(|f| f.take(MAX_FILE_BYTES).read_to_end(&mut bytes))
        .map_err(read_err)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[derive(Debug, PartialEq, Eq)]
enum Line {
    Blank,
    Section(String),
    Entry(String, String),
    Bad(String),
    Commented(String, String),
}

fn parse_line(raw: &str) -> Line {
    let line = raw.trim();
    if let Some(setting) = line.strip_prefix(';') {
        return commented(setting);
    }
    if line.is_empty() || line.starts_with('#') {
        return Line::Blank;
    }
    if let Some(rest) = line.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((name, _)) if !name.trim().is_empty() => Line::Section(name.trim().to_string()),
            _ => Line::Bad(format!("malformed section header {line:?}")),
        };
    }
    match line.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Line::Entry(key.trim().to_string(), parse_value(value))
        }
        _ => Line::Bad(format!("expected `key = value`, found {line:?}")),
    }
}

/// A comment that is a setting switched off (`;listen.mode = 0660`): the
/// key right after the `;`, as distributions write their defaults. Prose
/// (`; Default Value: 0`, `; Note: ...`) starts with a space and is none.
fn commented(setting: &str) -> Line {
    let Some((key, value)) = setting.split_once('=') else {
        return Line::Blank;
    };
    let key = key.trim_end();
    let is_key = |c: char| c.is_ascii_alphanumeric() || "_.[]".contains(c);
    if key.is_empty()
        || !key.starts_with(|c: char| c.is_ascii_alphabetic())
        || !key.chars().all(is_key)
    {
        return Line::Blank;
    }
    Line::Commented(key.to_string(), parse_value(value))
}

/// Unquotes a value: `"..."` (with `\"` and `\\` escapes), `'...'` (literal), or bare text
/// up to a `;` comment. Text after a closing quote is ignored.
fn parse_value(raw: &str) -> String {
    let v = raw.trim_start();
    if let Some(body) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return out,
                '\\' => match chars.next() {
                    Some(e @ ('"' | '\\')) => out.push(e),
                    Some(other) => out.extend(['\\', other]),
                    None => out.push('\\'),
                },
                _ => out.push(c),
            }
        }
        return out;
    }
    if let Some(body) = v.strip_prefix('\'') {
        return body.split('\'').next().unwrap_or_default().to_string();
    }
    v.split(';').next().unwrap_or_default().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(k: &str, v: &str) -> Line {
        Line::Entry(k.to_string(), v.to_string())
    }

    #[test]
    fn a_setting_commented_out_is_kept_as_such() {
        assert_eq!(
            parse_line(";listen.mode = 0660"),
            Line::Commented("listen.mode".into(), "0660".into())
        );
        assert_eq!(
            parse_line(";php_admin_value[memory_limit] = 32M"),
            Line::Commented("php_admin_value[memory_limit]".into(), "32M".into())
        );
        assert_eq!(
            parse_line(";listen.acl_users ="),
            Line::Commented("listen.acl_users".into(), String::new())
        );
        assert_eq!(parse_line("; Default Value: 0 = off"), Line::Blank);
        assert_eq!(parse_line(";   static  - a fixed number"), Line::Blank);
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        assert_eq!(parse_line("   ; listen = 9000"), Line::Blank);
        assert_eq!(parse_line("# old style"), Line::Blank);
        assert_eq!(parse_line("  \t "), Line::Blank);
    }

    #[test]
    fn bare_value_stops_at_a_semicolon() {
        assert_eq!(
            parse_line("pm.process_idle_timeout = 10s;"),
            entry("pm.process_idle_timeout", "10s")
        );
        assert_eq!(
            parse_line("listen=9000 ; all addresses"),
            entry("listen", "9000")
        );
    }

    #[test]
    fn double_quotes_keep_semicolons_and_unescape() {
        let got = parse_line(r#"ping.response = "po;ng \"x\" \\ \n" ; comment"#);
        assert_eq!(got, entry("ping.response", r#"po;ng "x" \ \n"#));
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(
            parse_line(r"listen = '/run/a\b.sock'"),
            entry("listen", r"/run/a\b.sock")
        );
    }

    #[test]
    fn array_keys_keep_their_brackets() {
        let got = parse_line("php_admin_value[error_log] = /var/log/x.log");
        assert_eq!(got, entry("php_admin_value[error_log]", "/var/log/x.log"));
    }

    #[test]
    fn section_header_allows_a_trailing_comment() {
        assert_eq!(
            parse_line("[www] ; main pool"),
            Line::Section("www".to_string())
        );
        assert!(matches!(parse_line("[www"), Line::Bad(_)));
        assert!(matches!(parse_line("[]"), Line::Bad(_)));
    }

    #[test]
    fn a_line_without_equals_is_a_problem() {
        assert!(matches!(parse_line("listen 9000"), Line::Bad(m) if m.contains("listen 9000")));
    }
}
