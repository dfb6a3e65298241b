//! What `nginx -t` writes on the host, so that it can be run without
//! changing anything.
//!
//! Testing a configuration is not read-only in nginx: before it says "test
//! is successful", `ngx_init_cycle` opens (creating them if missing) the pid
//! file, every error and access log, and — up to nginx 1.25 — `mkdir`s every
//! temp and cache path and `chown`s it to the worker user; `listen unix:`
//! sockets are bound (created, then deleted). Before the configuration is
//! even read, the startup error log (`-e`, else the compiled
//! `--error-log-path`) is opened too, and nginx writes its `[emerg]` lines
//! there and in the configured error logs. This module lists those paths for
//! one `nginx -t` command line: from its options, the configuration it names
//! and nginx's compiled defaults (`nginx -V`).

use std::path::{Path, PathBuf};

use super::build::DATA_BLOCKS;
use super::discover::BuildInfo;
use super::parse::{Config, Directive};

/// An `nginx` command line that tests a configuration (`-t` or `-T`), with
/// the options that decide which files it touches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestCommand {
    /// `-p`: the prefix relative paths resolve against.
    pub prefix: Option<PathBuf>,
    /// `-c`: the configuration file.
    pub conf: Option<PathBuf>,
    /// `-e`: the startup error log (`stderr` for none).
    pub error_log: Option<String>,
    /// `-g`: directives read before the configuration file.
    pub globals: Option<String>,
}

impl TestCommand {
    /// Reads nginx's options the way `ngx_get_options` does (`-tq`, `-c F`,
    /// `-cF`); None when the command does not test a configuration, or has
    /// an option nginx rejects before touching any file.
    pub fn parse(args: &[String]) -> Option<TestCommand> {
        let mut cmd = TestCommand::default();
        let mut test = false;
        let mut words = args.iter();
        while let Some(word) = words.next() {
            let flags = word.strip_prefix('-')?;
            for (at, flag) in flags.char_indices() {
                match flag {
                    't' | 'T' => test = true,
                    '?' | 'h' | 'v' | 'V' | 'q' => {}
                    'p' | 'c' | 'e' | 'g' | 's' => {
                        let glued = &flags[at + 1..];
                        let value = if glued.is_empty() {
                            words.next()?.clone()
                        } else {
                            glued.to_owned()
                        };
                        cmd.set(flag, value);
                        break;
                    }
                    _ => return None,
                }
            }
        }
        test.then_some(cmd)
    }

    fn set(&mut self, flag: char, value: String) {
        match flag {
            'p' => self.prefix = Some(PathBuf::from(value)),
            'c' => self.conf = Some(PathBuf::from(value)),
            'e' => self.error_log = Some(value),
            'g' => self.globals = Some(value),
            _ => {}
        }
    }

    /// The prefix nginx uses: `-p`, else the compiled `--prefix`.
    pub fn effective_prefix(&self, build: &BuildInfo) -> PathBuf {
        self.prefix
            .clone()
            .or_else(|| build.prefix.clone())
            .unwrap_or_else(|| PathBuf::from("/usr/local/nginx"))
    }

    /// The configuration file nginx reads: `-c` (relative to the prefix),
    /// else the compiled `--conf-path`.
    pub fn conf_path(&self, build: &BuildInfo) -> Option<PathBuf> {
        match &self.conf {
            Some(c) => Some(self.effective_prefix(build).join(c)),
            None => build.conf_path.clone(),
        }
    }
}

/// The paths one `nginx -t` may create or write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writes {
    /// Opened for writing, created when missing: the pid file and the logs.
    pub files: Vec<PathBuf>,
    /// Created when missing, `chown`ed to the worker user and made `u+rwx`:
    /// temp and cache paths.
    pub dirs: Vec<PathBuf>,
    /// Unix sockets bound and deleted again: a missing one changes its directory.
    pub sockets: Vec<PathBuf>,
}

impl Writes {
    /// Every path, whatever nginx does to it.
    pub fn all(&self) -> impl Iterator<Item = &PathBuf> {
        self.files.iter().chain(&self.dirs).chain(&self.sockets)
    }
}

/// The temp paths of the http modules: directive and compiled default.
const TEMP_PATHS: [(&str, &str, &str); 5] = [
    (
        "client_body_temp_path",
        "http-client-body-temp-path",
        "client_body_temp",
    ),
    ("proxy_temp_path", "http-proxy-temp-path", "proxy_temp"),
    (
        "fastcgi_temp_path",
        "http-fastcgi-temp-path",
        "fastcgi_temp",
    ),
    ("uwsgi_temp_path", "http-uwsgi-temp-path", "uwsgi_temp"),
    ("scgi_temp_path", "http-scgi-temp-path", "scgi_temp"),
];

const CACHE_PATHS: [&str; 4] = [
    "proxy_cache_path",
    "fastcgi_cache_path",
    "uwsgi_cache_path",
    "scgi_cache_path",
];

/// What `cmd` writes. `config` is the configuration it tests, when it could
/// be read: without it only the startup log and the compiled defaults are
/// known, which is all nginx itself gets to before it rejects a
/// configuration it cannot parse.
pub fn of_test(cmd: &TestCommand, build: &BuildInfo, config: Option<&Config>) -> Writes {
    let prefix = cmd.effective_prefix(build);
    let full = |value: &str| prefix.join(value);
    let compiled = |option: &str, default: &str| {
        let value = configure_option(build, option).unwrap_or(default);
        (value != "stderr").then(|| full(value))
    };
    let mut w = Writes::default();
    w.files.extend(match cmd.error_log.as_deref() {
        Some("stderr") => None,
        Some(e) => Some(full(e)),
        None => compiled("error-log-path", "logs/error.log"),
    });
    let Some(config) = config else {
        return w;
    };
    let pid = config.directives.iter().rfind(|d| d.name == "pid");
    w.files.extend(match pid.and_then(|d| d.arg(0)) {
        Some(p) => Some(full(p)),
        None => compiled("pid-path", "logs/nginx.pid"),
    });
    let model = super::model(config, &prefix);
    let logs = model.error_logs.iter().chain(&model.access_logs);
    w.files.extend(
        logs.filter(|l| !l.value.contains('$'))
            .map(|l| full(&l.value)),
    );
    // A server or location without its own setting inherits the http
    // block's; only where that has none either does nginx use its default.
    let https: Vec<&Directive> = config
        .directives
        .iter()
        .filter(|d| d.name == "http")
        .collect();
    let http_sets = |name: &str| {
        https
            .iter()
            .any(|h| h.children().iter().any(|d| d.name == name))
    };
    if !https.is_empty() && !http_sets("access_log") {
        w.files.extend(compiled("http-log-path", "logs/access.log"));
    }
    for (directive, option, default) in TEMP_PATHS {
        if !https.is_empty() && !http_sets(directive) {
            w.dirs.extend(compiled(option, default));
        }
    }
    collect(&config.directives, &full, &mut w);
    for list in [&mut w.files, &mut w.dirs, &mut w.sockets] {
        list.sort();
        list.dedup();
    }
    w
}

/// The directives that name temp and cache paths and unix sockets, at any level.
fn collect(ds: &[Directive], full: &dyn Fn(&str) -> PathBuf, w: &mut Writes) {
    for d in ds {
        let name = d.name.as_str();
        let first = d.arg(0).unwrap_or_default();
        let is_path = TEMP_PATHS.iter().any(|(n, _, _)| *n == name) || CACHE_PATHS.contains(&name);
        if is_path && !first.is_empty() {
            w.dirs.push(full(first));
        } else if name == "listen"
            && let Some(socket) = first.strip_prefix("unix:")
        {
            w.sockets.push(full(socket));
        } else if !DATA_BLOCKS.contains(&name) {
            collect(d.children(), full, w);
        }
    }
}

/// The raw value of a `./configure` option (`--pid-path=...`), not yet
/// resolved against the prefix: nginx resolves it against `-p` when given.
fn configure_option<'a>(build: &'a BuildInfo, name: &str) -> Option<&'a str> {
    build
        .configure_args
        .iter()
        .find_map(|a| a.strip_prefix("--")?.strip_prefix(name)?.strip_prefix('='))
}

/// The directory a missing path would be created in: its parent.
pub fn parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|p| !p.as_os_str().is_empty())
}

#[cfg(test)]
mod tests;
