//! Paths a person names on the command line, checked before anything runs.
//!
//! A wrong path must not become a confident wrong diagnosis: `--conf` naming
//! a file that does not exist once read as "the configuration is invalid",
//! and `--error-log /etc/shadow` as "the backend sent the 502s". Each path is
//! checked for what it must be — there, a file, readable, and the right kind
//! of file — and the error names the flag, the path, what was expected and
//! what to do. A wrong argument is exit 2; a right one we may not read is 3.

use std::fs;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::exit::ExitStatus;

/// How much of a file is read to tell what kind it is.
const SAMPLE: u64 = 64 << 10;

/// Words that begin nginx directives common in any main or included
/// configuration: a file with none of them at a line's start is not one.
const DIRECTIVES: &[&str] = &[
    "events",
    "http",
    "server",
    "location",
    "upstream",
    "stream",
    "mail",
    "include",
    "user",
    "worker_processes",
    "worker_connections",
    "pid",
    "error_log",
    "access_log",
    "load_module",
    "listen",
    "server_name",
    "root",
    "proxy_pass",
    "fastcgi_pass",
    "daemon",
    "env",
];

/// Why a named path cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{flag} {}: no such file. {hint}", path.display())]
    Missing {
        flag: &'static str,
        path: PathBuf,
        hint: &'static str,
    },
    #[error("{flag} {}: {what}, not a file. {hint}", path.display())]
    NotAFile {
        flag: &'static str,
        path: PathBuf,
        what: &'static str,
        hint: &'static str,
    },
    #[error("{flag} {}: {why}. {hint}", path.display())]
    WrongKind {
        flag: &'static str,
        path: PathBuf,
        why: String,
        hint: &'static str,
    },
    #[error("{flag} {}: cannot read it ({reason}).{}", path.display(), if *root { "" } else { " Run as root: sudo nginx-doctor ..." })]
    Unreadable {
        flag: &'static str,
        path: PathBuf,
        reason: String,
        root: bool,
    },
}

impl InputError {
    /// 2 for an argument that is wrong, 3 for one that is right but unreadable.
    pub fn status(&self) -> ExitStatus {
        match self {
            InputError::Unreadable { .. } => ExitStatus::CouldNotRun,
            _ => ExitStatus::Usage,
        }
    }
}

const CONF_HINT: &str = "Give the main configuration your nginx runs with: `ps -o args= -C nginx` shows the running master's -c, `nginx -V` the default";
const LOG_HINT: &str = "Give an nginx error log: the `error_log` path of your configuration (`nginx -T | grep error_log`), often /var/log/nginx/error.log";

/// Checks `--conf PATH`: an existing, readable file that reads as nginx configuration.
pub fn check_conf(path: &Path) -> Result<(), InputError> {
    let flag = "--conf";
    let sample = sample(flag, path, CONF_HINT)?;
    if sample.contains(&0) {
        return Err(wrong(flag, path, "a binary file, not text", CONF_HINT));
    }
    let text = String::from_utf8_lossy(&sample);
    if !text.trim().is_empty() && !text.lines().any(starts_with_directive) {
        let why = "not an nginx configuration (no line begins with a directive such as `http`, `server`, `events` or `include`)";
        return Err(wrong(flag, path, why, CONF_HINT));
    }
    Ok(())
}

/// Checks `--error-log PATH`: an existing, readable file whose lines are
/// nginx error-log lines (a compressed rotation is taken as it is).
pub fn check_error_log(path: &Path) -> Result<(), InputError> {
    let flag = "--error-log";
    let sample = sample(flag, path, LOG_HINT)?;
    if sample.starts_with(&[0x1f, 0x8b]) {
        return Ok(());
    }
    // The file's first line and the lines of its end: a sample that starts
    // inside a long line still has whole lines after it, or the first one.
    let head = first_line(path).unwrap_or_default();
    let offset = crate::logs::time::local_utc_offset();
    let parses = |l: &[u8]| crate::logs::nginx_line::line_time(l, offset).is_some();
    let empty = sample.iter().all(u8::is_ascii_whitespace);
    if !empty && !parses(&head) && !sample.split(|b| *b == b'\n').any(parses) {
        let why = "not an nginx error log (no line begins like `2026/12/01 10:00:00 [error]`)";
        return Err(wrong(flag, path, why, LOG_HINT));
    }
    Ok(())
}

/// The first bytes of a file (enough for a timestamp and a level).
fn first_line(path: &Path) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    fs::File::open(path)
        .ok()?
        .take(64)
        .read_to_end(&mut head)
        .ok()?;
    Some(head)
}

fn wrong(flag: &'static str, path: &Path, why: &str, hint: &'static str) -> InputError {
    InputError::WrongKind {
        flag,
        path: path.to_owned(),
        why: why.to_owned(),
        hint,
    }
}

/// The last [`SAMPLE`] bytes of a regular file, or why there are none.
fn sample(flag: &'static str, path: &Path, hint: &'static str) -> Result<Vec<u8>, InputError> {
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => InputError::Missing {
            flag,
            path: path.to_owned(),
            hint,
        },
        _ => unreadable(flag, path, &e),
    })?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "a device, socket or pipe"
        };
        return Err(InputError::NotAFile {
            flag,
            path: path.to_owned(),
            what,
            hint,
        });
    }
    let mut file = fs::File::open(path).map_err(|e| unreadable(flag, path, &e))?;
    let start = meta.len().saturating_sub(SAMPLE);
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.take(SAMPLE).read_to_end(&mut bytes))
        .map_err(|e| unreadable(flag, path, &e))?;
    Ok(bytes)
}

fn unreadable(flag: &'static str, path: &Path, e: &std::io::Error) -> InputError {
    InputError::Unreadable {
        flag,
        path: path.to_owned(),
        reason: e.to_string(),
        root: nix::unistd::geteuid().is_root(),
    }
}

/// Whether a line (of a configuration) begins with a known directive.
fn starts_with_directive(line: &str) -> bool {
    let line = line.trim_start();
    let word_end = line
        .find(|c: char| c.is_whitespace() || c == '{' || c == ';')
        .unwrap_or(line.len());
    let (word, rest) = line.split_at(word_end);
    DIRECTIVES.contains(&word) && (!rest.is_empty() || word == "events" || word == "http")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(body: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(body).expect("write");
        f
    }

    #[test]
    fn a_configuration_is_recognised_by_its_directives() {
        let f = file(
            b"# main\nuser www-data;\nevents {}\nhttp {\n  include /etc/nginx/conf.d/*.conf;\n}\n",
        );
        assert!(check_conf(f.path()).is_ok());
    }

    #[test]
    fn a_broken_configuration_is_still_a_configuration() {
        let f = file(b"http {\n  bogus_directive on;\n  server {\n");
        assert!(check_conf(f.path()).is_ok());
    }

    #[test]
    fn a_password_file_is_not_a_configuration() {
        let f = file(
            b"root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n",
        );
        let e = check_conf(f.path()).unwrap_err();
        assert_eq!(e.status(), ExitStatus::Usage);
        assert!(e.to_string().contains("not an nginx configuration"), "{e}");
    }

    #[test]
    fn a_missing_conf_names_the_flag_the_path_and_where_to_look() {
        let e = check_conf(Path::new("/nonexistent/nginx.conf")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("--conf /nonexistent/nginx.conf: no such file. {CONF_HINT}")
        );
        assert_eq!(e.status(), ExitStatus::Usage);
    }

    #[test]
    fn a_directory_is_not_a_configuration_file() {
        let e = check_conf(Path::new("/tmp")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--conf /tmp: a directory, not a file."),
            "{e}"
        );
    }

    #[test]
    fn an_error_log_is_recognised_by_its_timestamps() {
        let f = file(b"2026/12/01 10:00:00 [notice] 1#1: start worker processes\n");
        assert!(check_error_log(f.path()).is_ok());
    }

    #[test]
    fn an_empty_error_log_is_a_quiet_one() {
        let f = file(b"");
        assert!(check_error_log(f.path()).is_ok());
    }

    #[test]
    fn a_shadow_file_is_not_an_error_log() {
        let f = file(b"root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n");
        let e = check_error_log(f.path()).unwrap_err();
        assert!(e.to_string().contains("not an nginx error log"), "{e}");
        assert_eq!(e.status(), ExitStatus::Usage);
    }

    #[test]
    fn a_missing_error_log_is_a_usage_error_not_a_permission_problem() {
        let e = check_error_log(Path::new("/nonexistent.log")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--error-log /nonexistent.log: no such file."),
            "{e}"
        );
        assert!(!e.to_string().contains("root"), "{e}");
    }
}
