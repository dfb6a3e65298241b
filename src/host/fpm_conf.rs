//! The php-fpm configuration as php-fpm itself would load it: the main file, its `include`
//! globs, the `[global]` section and every pool, with each value's `file:line`. It tells
//! where php-fpm listens (to compare with nginx's `fastcgi_pass`), who may open its socket,
//! and its limits and timeouts (`pm.max_children`, `request_terminate_timeout`).
//!
//! Settings repeated later override earlier ones, and a pool section opened twice is the same
//! pool, as in php-fpm. `$pool` is expanded in pool values; `${ENV}` references are kept as
//! written (php-fpm's environment is not ours).

mod ini;
mod php_ini;
mod pool;

use super::Sourced;
use ini::{Item, Reader};
pub use php_ini::{MemoryLimit, memory_limit};
pub use pool::{ListenSpec, Pool, Span, fpm_duration_secs};
use std::io;
use std::path::{Path, PathBuf};

/// Why a configuration could not be loaded (php-fpm would refuse to start as well).
#[derive(Debug, thiserror::Error)]
pub enum FpmConfError {
    /// A file (the main one or an included one) could not be read.
    #[error(
        "cannot read php-fpm configuration {}: {source}; check the path and run as root",
        path.display()
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Includes nest deeper than php-fpm allows.
    #[error(
        "{}: include {:?} nests deeper than {max} files, which php-fpm refuses; \
         look for an include loop",
        at.location(),
        at.value
    )]
    TooDeep {
        /// The include pattern and where it is.
        at: Sourced<String>,
        /// The limit.
        max: usize,
    },
    /// An include pattern is not a valid glob.
    #[error("{}: include pattern {:?} is not a valid glob: {reason}", at.location(), at.value)]
    BadInclude {
        /// The include pattern and where it is.
        at: Sourced<String>,
        /// What is wrong with it.
        reason: String,
    },
}

/// Where to find the files and how to resolve relative paths.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// php-fpm's `--prefix`; default: guessed from the main file's location (`/usr/local`
    /// for `/usr/local/etc/php-fpm.conf` as in the official Docker image, else `/usr`).
    pub prefix: Option<PathBuf>,
    /// Read the configured system under this directory (a container's `/proc/PID/root`, a
    /// test fixture); `main` is then also taken relative to it.
    pub root: Option<PathBuf>,
}

/// A loaded php-fpm configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FpmConfig {
    /// Every file read, main first, in reading order.
    pub files: Vec<PathBuf>,
    /// `[global] error_log` as written (see [`FpmConfig::error_log_target`]).
    pub error_log: Option<Sourced<String>>,
    /// `[global] pid`.
    pub pid: Option<Sourced<String>>,
    /// Every `[global]` setting in order (keys as written).
    pub global: Vec<(String, Sourced<String>)>,
    /// Pools in the order they were first opened.
    pub pools: Vec<Pool>,
    /// Lines php-fpm would reject and includes that matched nothing.
    pub problems: Vec<Sourced<String>>,
    localstatedir: PathBuf,
}

/// Where php-fpm writes its own log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorLog {
    /// A file on the configured system.
    File(PathBuf),
    /// `error_log = syslog`: the journal or `/var/log/syslog`.
    Syslog,
    /// `/proc/self/fd/2` or `/dev/stderr`, as in the official Docker image: `docker logs`.
    Stderr,
}

impl FpmConfig {
    /// The effective error log: `error_log` resolved like php-fpm does (relative paths against
    /// the local state directory), or its default `log/php-fpm.log` there.
    pub fn error_log_target(&self) -> ErrorLog {
        let value = self
            .error_log
            .as_ref()
            .map_or("log/php-fpm.log", |s| s.value.as_str());
        match value {
            "syslog" => ErrorLog::Syslog,
            "/proc/self/fd/2" | "/dev/stderr" | "/proc/self/fd/1" | "/dev/stdout" => {
                ErrorLog::Stderr
            }
            v if Path::new(v).is_absolute() => ErrorLog::File(PathBuf::from(v)),
            v => ErrorLog::File(self.localstatedir.join(v)),
        }
    }

    /// The pool called `name` (case-insensitive, as php-fpm matches sections).
    pub fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// Loads the configuration starting at `main` (the file php-fpm was started with).
pub fn parse(main: &Path) -> Result<FpmConfig, FpmConfError> {
    parse_with(main, &ParseOptions::default())
}

/// [`parse`] with an explicit prefix and/or filesystem root.
pub fn parse_with(main: &Path, opts: &ParseOptions) -> Result<FpmConfig, FpmConfError> {
    let prefix = opts.prefix.clone().unwrap_or_else(|| guess_prefix(main));
    let localstatedir = opts
        .prefix
        .clone()
        .unwrap_or_else(|| guess_localstatedir(&prefix));
    let mut reader = Reader {
        root: opts.root.as_deref(),
        prefix: &prefix,
        files: Vec::new(),
        items: Vec::new(),
    };
    let main_on_host = reader.host_path(main);
    reader.read(&main_on_host, 0)?;
    let mut config = FpmConfig {
        files: reader.files,
        error_log: None,
        pid: None,
        global: Vec::new(),
        pools: Vec::new(),
        problems: Vec::new(),
        localstatedir,
    };
    assemble(&mut config, reader.items);
    Ok(config)
}

/// Sorts items into `[global]` and pools (settings before any section are global).
fn assemble(config: &mut FpmConfig, items: Vec<Item>) {
    let mut current: Option<usize> = None;
    for item in items {
        match item {
            Item::Problem(p) => config.problems.push(p),
            Item::Section(s) if s.value.eq_ignore_ascii_case("global") => current = None,
            Item::Section(s) => {
                let existing = config
                    .pools
                    .iter()
                    .position(|p| p.name.eq_ignore_ascii_case(&s.value));
                current = Some(existing.unwrap_or_else(|| {
                    config.pools.push(Pool::new(&s.value, &s));
                    config.pools.len() - 1
                }));
            }
            Item::Commented { key, value } => {
                if let Some(i) = current {
                    config.pools[i].commented.push((key, value));
                }
            }
            Item::Entry { key, value } => match current {
                Some(i) => {
                    let expanded = value.map(|v| v.replace("$pool", &config.pools[i].name));
                    config.pools[i].settings.push((key, expanded));
                }
                None => config.global.push((key, value)),
            },
        }
    }
    let global = |key: &str| {
        let hit = config
            .global
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key));
        hit.map(|(_, v)| v.clone())
    };
    config.error_log = global("error_log");
    config.pid = global("pid");
    for pool in &mut config.pools {
        pool.resolve(&mut config.problems);
    }
}

/// `/usr/local` for `/usr/local/etc/php-fpm.conf` (official Docker image, FreeBSD): the
/// `PREFIX/etc/php-fpm.conf` layout php-fpm itself uses; `/usr` (distribution builds) else.
fn guess_prefix(main: &Path) -> PathBuf {
    let etc = main
        .parent()
        .filter(|d| d.file_name().is_some_and(|n| n == "etc"));
    match etc.and_then(Path::parent) {
        Some(p) if p != Path::new("/") && p.is_absolute() => p.to_path_buf(),
        _ => PathBuf::from("/usr"),
    }
}

/// `PHP_LOCALSTATEDIR`: `/var` for distribution builds, `PREFIX/var` for source builds.
fn guess_localstatedir(prefix: &Path) -> PathBuf {
    if prefix == Path::new("/usr") {
        PathBuf::from("/var")
    } else {
        prefix.join("var")
    }
}

/// Main configuration files present on this host, for when no php-fpm master is running:
/// Debian/Ubuntu `/etc/php/*/fpm/php-fpm.conf`, RHEL/Fedora `/etc/php-fpm.conf`, Alpine
/// `/etc/php*/php-fpm.conf`, SUSE `/etc/php*/fpm/php-fpm.conf`, Arch `/etc/php/php-fpm.conf`,
/// Remi `/etc/opt/remi/php*/php-fpm.conf`, official Docker image and FreeBSD
/// `/usr/local/etc/php-fpm.conf`.
pub fn default_config_paths() -> Vec<PathBuf> {
    default_config_paths_under(Path::new("/"))
}

/// [`default_config_paths`] on a filesystem mounted at `root`; the paths returned are the
/// configured system's (without `root`), ready for [`ParseOptions::root`].
pub fn default_config_paths_under(root: &Path) -> Vec<PathBuf> {
    const PATTERNS: [&str; 7] = [
        "etc/php/*/fpm/php-fpm.conf",
        "etc/php-fpm.conf",
        "etc/php*/php-fpm.conf",
        "etc/php*/fpm/php-fpm.conf",
        "etc/php/php-fpm.conf",
        "etc/opt/remi/php*/php-fpm.conf",
        "usr/local/etc/php-fpm.conf",
    ];
    let base = glob::Pattern::escape(&root.to_string_lossy());
    let mut found: Vec<PathBuf> = PATTERNS
        .iter()
        .filter_map(|p| glob::glob(&format!("{}/{p}", base.trim_end_matches('/'))).ok())
        .flat_map(|paths| paths.flatten())
        .filter(|p| p.is_file())
        .filter_map(|p| {
            p.strip_prefix(root)
                .ok()
                .map(|rel| Path::new("/").join(rel))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fixture(layout: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/php-fpm")
            .join(layout)
    }

    fn load(layout: &str, main: &str) -> FpmConfig {
        let opts = ParseOptions {
            prefix: None,
            root: Some(fixture(layout)),
        };
        parse_with(Path::new(main), &opts).expect("fixture parses")
    }

    fn value<T: Clone>(s: &Option<Sourced<T>>) -> Option<T> {
        s.as_ref().map(|s| s.value.clone())
    }

    #[test]
    fn debian_layout_reads_pools_from_pool_d() {
        let conf = load("debian", "/etc/php/8.2/fpm/php-fpm.conf");
        assert_eq!(conf.files.len(), 3);
        assert_eq!(
            conf.error_log_target(),
            ErrorLog::File("/var/log/php8.2-fpm.log".into())
        );
        let names: Vec<&str> = conf.pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["api", "www"]);
        let www = conf.pool("www").expect("www");
        let sock = ListenSpec::Unix("/run/php/php8.2-fpm.sock".into());
        assert_eq!(www.listen_addr, Some(sock));
        assert_eq!(value(&www.listen_owner).as_deref(), Some("www-data"));
        assert_eq!(value(&www.pm_max_children), Some(5));
        assert!(www.file.ends_with("pool.d/www.conf"));
    }

    #[test]
    fn debian_pool_values_are_unquoted_and_expand_pool_name() {
        let conf = load("debian", "/etc/php/8.2/fpm/php-fpm.conf");
        let api = conf.pool("api").expect("api");
        let listen = api.listen.as_ref().expect("listen");
        assert_eq!(listen.value, "/run/php/php8.2-fpm-api.sock");
        assert_eq!(listen.line, 5);
        assert_eq!(
            value(&api.slowlog).as_deref(),
            Some("/var/log/php-fpm/api.slow.log")
        );
        let php_log = api
            .get("php_admin_value[error_log]")
            .map(|s| s.value.as_str());
        assert_eq!(php_log, Some("/var/log/php-fpm/api-php.log"));
        assert_eq!(value(&api.listen_backlog).as_deref(), Some("1"));
        let timeout = value(&api.request_terminate_timeout).expect("set");
        assert_eq!(fpm_duration_secs(&timeout), Some(30));
    }

    #[test]
    fn rhel_layout_has_acl_and_ignores_php_error_log() {
        let conf = load("rhel", "/etc/php-fpm.conf");
        assert_eq!(
            conf.error_log_target(),
            ErrorLog::File("/var/log/php-fpm/error.log".into())
        );
        let www = conf.pool("www").expect("www");
        assert!(www.uses_acl());
        assert_eq!(value(&www.user).as_deref(), Some("apache"));
        assert_eq!(www.listen_owner, None);
        assert_eq!(www.listen_mode_bits(), Some(0o660));
        assert_eq!(value(&www.pm_max_children), Some(50));
        assert!(conf.problems.is_empty(), "{:?}", conf.problems);
    }

    #[test]
    fn alpine_layout_listens_on_loopback_tcp() {
        let conf = load("alpine", "/etc/php82/php-fpm.conf");
        let www = conf.pool("www").expect("www");
        let spec = ListenSpec::Tcp {
            host: Some("127.0.0.1".into()),
            port: 9000,
        };
        assert_eq!(www.listen_addr, Some(spec));
        assert_eq!(value(&www.pm).as_deref(), Some("ondemand"));
        assert_eq!(
            www.get("pm.process_idle_timeout").map(|s| s.value.as_str()),
            Some("10s")
        );
        // No error_log: php-fpm's default under the local state directory.
        assert_eq!(
            conf.error_log_target(),
            ErrorLog::File("/var/log/php-fpm.log".into())
        );
    }

    #[test]
    fn docker_layout_resolves_relative_include_against_prefix() {
        let conf = load("docker", "/usr/local/etc/php-fpm.conf");
        assert_eq!(conf.files.len(), 4);
        assert_eq!(conf.error_log_target(), ErrorLog::Stderr);
        let www = conf.pool("www").expect("www");
        // zz-docker.conf is read last and overrides www.conf's 127.0.0.1:9000.
        assert_eq!(
            www.listen_addr,
            Some(ListenSpec::Tcp {
                host: None,
                port: 9000
            })
        );
        assert!(
            www.listen
                .as_ref()
                .is_some_and(|l| l.file.ends_with("zz-docker.conf"))
        );
        assert_eq!(value(&www.catch_workers_output).as_deref(), Some("yes"));
    }

    #[test]
    fn default_paths_find_each_layout() {
        let found = |layout| default_config_paths_under(&fixture(layout));
        assert_eq!(
            found("debian"),
            [PathBuf::from("/etc/php/8.2/fpm/php-fpm.conf")]
        );
        assert_eq!(found("rhel"), [PathBuf::from("/etc/php-fpm.conf")]);
        assert_eq!(found("alpine"), [PathBuf::from("/etc/php82/php-fpm.conf")]);
        assert_eq!(
            found("docker"),
            [PathBuf::from("/usr/local/etc/php-fpm.conf")]
        );
    }

    #[test]
    fn missing_main_file_is_a_read_error_naming_it() {
        let err = parse(Path::new("/nonexistent/php-fpm.conf")).expect_err("missing");
        assert!(
            err.to_string().contains("/nonexistent/php-fpm.conf"),
            "{err}"
        );
    }

    #[test]
    fn include_loop_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("loop.conf");
        fs::write(&main, format!("include = {}\n", main.display())).expect("write");
        let err = parse(&main).expect_err("loop");
        assert!(matches!(err, FpmConfError::TooDeep { .. }), "{err}");
    }

    #[test]
    fn include_matching_nothing_is_a_problem_not_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("php-fpm.conf");
        let text = format!(
            "[global]\ninclude={}/none/*.conf\n[www]\nlisten 9000\n",
            dir.path().display()
        );
        fs::write(&main, text).expect("write");
        let conf = parse(&main).expect("parses");
        let lines: Vec<usize> = conf.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 4]);
    }

    #[test]
    fn root_with_glob_characters_still_finds_includes() {
        let root = tempfile::Builder::new()
            .prefix("ctr[1]*")
            .tempdir()
            .expect("tempdir");
        let pool_d = root.path().join("etc/fpm.d");
        fs::create_dir_all(&pool_d).expect("mkdir");
        fs::write(
            root.path().join("etc/fpm.conf"),
            "include=/etc/fpm.d/*.conf\n",
        )
        .expect("write");
        fs::write(pool_d.join("a.conf"), "[a]\nlisten = 9000\n").expect("write");
        let opts = ParseOptions {
            prefix: None,
            root: Some(root.path().to_path_buf()),
        };
        let conf = parse_with(Path::new("/etc/fpm.conf"), &opts).expect("parses");
        assert_eq!(conf.pools.len(), 1, "{:?}", conf.problems);
    }

    #[test]
    fn sections_reopen_the_same_pool_case_insensitively() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("php-fpm.conf");
        fs::write(
            &main,
            "[www]\nuser = a\n[Global]\npid = /run/x.pid\n[WWW]\nuser = b\n",
        )
        .expect("write");
        let conf = parse(&main).expect("parses");
        assert_eq!(conf.pools.len(), 1);
        assert_eq!(value(&conf.pools[0].user).as_deref(), Some("b"));
        assert_eq!(value(&conf.pid).as_deref(), Some("/run/x.pid"));
    }

    #[test]
    fn parser_agrees_with_php_fpm_dump() {
        let Some(fpm) = crate::host::testing::PhpFpm::start() else {
            return;
        };
        let conf = parse(fpm.conf_path()).expect("parses");
        let dump = php_fpm_tt(fpm.conf_path());
        for pool in &conf.pools {
            let listen = value(&pool.listen).expect("listen");
            assert!(dump.contains(&format!("[{}]", pool.name)), "{dump}");
            assert!(
                dump.contains(&format!("\tlisten = {listen}\n")),
                "{listen} not in {dump}"
            );
        }
        let unix = conf.pool("unix").expect("unix pool");
        assert_eq!(unix.listen_addr, Some(ListenSpec::Unix(fpm.unix_path())));
        assert_eq!(unix.listen_mode_bits(), Some(0o666));
    }

    /// `php-fpm -tt` prints every setting as `NOTICE: \tkey = value` on stderr.
    fn php_fpm_tt(conf: &Path) -> String {
        let out = std::process::Command::new("/usr/sbin/php-fpm8.2")
            .args(["-tt", "-R", "-y"])
            .arg(conf)
            .output()
            .expect("run php-fpm -tt");
        let text = String::from_utf8_lossy(&out.stderr);
        text.lines()
            .filter_map(|l| {
                l.split_once("] NOTICE: ")
                    .map(|(_, rest)| format!("{rest}\n"))
            })
            .collect()
    }
}
