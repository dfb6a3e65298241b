//! The configuration model against the real `nginx -t` (`/usr/sbin/nginx`):
//! each test writes a configuration into a fresh directory (pid, temp paths
//! and the listening socket inside it, errors to stderr), runs `nginx -t` on
//! it, and asserts that the model says what nginx says: the same error at the
//! same file:line, or no error and the pass nginx uses.

use std::path::PathBuf;
use std::process::Command;

use super::live_tests::{NGINX, nginx_available};
use super::*;

/// The first `[emerg]` of an `nginx -t` run: the message and where.
#[derive(Debug, PartialEq, Eq)]
struct Emerg {
    message: String,
    file: PathBuf,
    line: usize,
}

/// A directory holding a configuration, tested by nginx and read by us.
struct Tested {
    dir: tempfile::TempDir,
}

impl Tested {
    /// `files` (relative name, text) written into a fresh directory; the
    /// first is the main file. `DIR` in a text stands for the directory.
    fn new(files: &[(&str, &str)]) -> Tested {
        let dir = tempfile::Builder::new()
            .prefix("nginx-t-")
            .tempdir()
            .unwrap();
        for (name, text) in files {
            let text = text.replace("DIR", &dir.path().display().to_string());
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Tested { dir }
    }

    fn main(&self) -> PathBuf {
        self.dir.path().join("nginx.conf")
    }

    /// What `nginx -t` says: None when the test is successful.
    fn nginx_t(&self) -> Option<Emerg> {
        let out = Command::new(NGINX)
            .arg("-t")
            .arg("-p")
            .arg(format!("{}/", self.dir.path().display()))
            .args(["-e", "stderr", "-c"])
            .arg(self.main())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let emerg = stderr.lines().find_map(emerg);
        assert_eq!(out.status.success(), emerg.is_none(), "{stderr}");
        emerg
    }

    fn parsed(&self) -> Result<Config, ConfError> {
        parse_file(&self.main())
    }
}

/// `... [emerg] 123#123: MESSAGE in FILE:LINE`.
fn emerg(line: &str) -> Option<Emerg> {
    let (_, rest) = line.split_once("[emerg] ")?;
    let (_, rest) = rest.split_once(": ")?;
    let (message, place) = rest.rsplit_once(" in ")?;
    let (file, line) = place.rsplit_once(':')?;
    Some(Emerg {
        message: message.to_owned(),
        file: PathBuf::from(file),
        line: line.parse().ok()?,
    })
}

#[test]
fn unclosed_block_is_reported_at_the_end_of_the_file_naming_the_block_left_open() {
    if !nginx_available() {
        return;
    }
    // The server block is closed; the http block around it is not.
    let t = Tested::new(&[(
        "nginx.conf",
        "pid DIR/nginx.pid;\nevents {}\nhttp {\n    server {\n        \
         listen unix:DIR/ngx.sock;\n        location / {\n        }\n    }\n\n",
    )]);
    let nginx = t.nginx_t().unwrap();
    assert_eq!(nginx.message, "unexpected end of file, expecting \"}\"");
    let err = t.parsed().unwrap_err();
    let ConfError::Unclosed { file, line, open } = &err else {
        panic!("{err}");
    };
    assert_eq!((file, *line), (&nginx.file, nginx.line), "{err}");
    let open: Vec<(&str, usize)> = open
        .iter()
        .map(|b| (b.directive.as_str(), b.line))
        .collect();
    assert_eq!(open, [("http", 3)]);
    assert!(
        err.to_string()
            .ends_with(": \"http {\" opened at line 3 is never closed; add the missing \"}\" where the block should end"),
        "{err}"
    );
}

#[test]
fn unclosed_block_in_an_included_file_is_reported_in_that_file() {
    if !nginx_available() {
        return;
    }
    let t = Tested::new(&[
        (
            "nginx.conf",
            "pid DIR/nginx.pid;\nevents {}\nhttp {\n    include site.conf;\n}\n",
        ),
        (
            "site.conf",
            "server {\n    listen unix:DIR/ngx.sock;\n    location /api/ {\n}\n",
        ),
    ]);
    let nginx = t.nginx_t().unwrap();
    let err = t.parsed().unwrap_err();
    let ConfError::Unclosed { file, line, open } = &err else {
        panic!("{err}");
    };
    assert_eq!((file, *line), (&nginx.file, nginx.line), "{err}");
    assert_eq!(open[0].directive, "server", "{err}");
    assert_eq!(
        open.len(),
        1,
        "the http block of nginx.conf is not reported: {err}"
    );
}
