//! Finding the nginx that runs on this host: master processes from `/proc`
//! (their `-c`, `-p` and `-g` options) and the build facts of `nginx -V`
//! (compiled prefix, conf path, error log, user) that apply when an option
//! was not given. A master in another mount or network namespace (a
//! container's) is listed too, marked [`Master::elsewhere`]: its paths are
//! not ours to read.
//!
//! nginx rewrites its argv into one title string, `nginx: master process
//! /usr/sbin/nginx -c /etc/nginx/nginx.conf`, so the original word boundaries
//! are lost: options are recovered by splitting on spaces, which breaks paths
//! that contain spaces, and a `-g` value runs up to the next option.

use crate::host::namespaces::{self, Elsewhere};
use std::fs;
use std::path::{Path, PathBuf};

/// A running nginx master process.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Master {
    /// Its process id.
    pub pid: i32,
    /// `/proc/PID/exe` when readable (may end in " (deleted)" after an upgrade).
    pub exe: Option<PathBuf>,
    /// The `-c` file; relative only when neither it nor the prefix is absolute.
    /// None: the compiled `--conf-path` (see [`Master::conf_path`]).
    pub conf: Option<PathBuf>,
    /// The `-p` prefix, made absolute with the process's working directory.
    pub prefix: Option<PathBuf>,
    /// The `-g` directives, which nginx reads before the configuration file.
    pub globals: Option<String>,
    /// The process title as read.
    pub cmdline: String,
    /// Set when the master is not in our mount and network namespaces (a container's):
    /// its paths name files we do not see, so it is never the one diagnosed.
    pub elsewhere: Option<Elsewhere>,
}

/// Facts from `nginx -V` (printed on stderr).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BuildInfo {
    /// `1.22.1` from `nginx version: nginx/1.22.1`.
    pub version: Option<String>,
    /// `--prefix`, default `/usr/local/nginx`.
    pub prefix: Option<PathBuf>,
    /// `--conf-path` resolved against the prefix, default `conf/nginx.conf`.
    pub conf_path: Option<PathBuf>,
    /// `--error-log-path` (may be `stderr`), default `logs/error.log`.
    pub error_log_path: Option<String>,
    /// `--http-log-path`, default `logs/access.log`.
    pub http_log_path: Option<String>,
    /// `--user`, default `nobody`.
    pub user: Option<String>,
    /// Every configure argument.
    pub configure_args: Vec<String>,
}

impl Master {
    /// The prefix nginx uses: `-p`, else the compiled one.
    pub fn effective_prefix(&self, build: &BuildInfo) -> Option<PathBuf> {
        self.prefix.clone().or_else(|| build.prefix.clone())
    }

    /// The main configuration file: `-c` (relative to the prefix, as nginx
    /// resolves it), else the compiled `--conf-path`.
    pub fn conf_path(&self, build: &BuildInfo) -> Option<PathBuf> {
        match &self.conf {
            Some(c) if c.is_absolute() => Some(c.clone()),
            Some(c) => Some(self.effective_prefix(build)?.join(c)),
            None => build.conf_path.clone(),
        }
    }
}

const TITLE: &str = "nginx: master process ";

/// Lists nginx master processes; processes that vanish or cannot be read are skipped.
pub fn find_masters() -> Vec<Master> {
    find_masters_in(Path::new("/proc"))
}

/// [`find_masters`] over another procfs mount (for tests and containers).
pub fn find_masters_in(proc: &Path) -> Vec<Master> {
    let Ok(entries) = fs::read_dir(proc) else {
        return Vec::new();
    };
    let mut masters: Vec<Master> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let dir = proc.join(pid.to_string());
            let cmdline = fs::read(dir.join("cmdline")).ok()?;
            let mut master = parse_title(pid, &cmdline)?;
            master.exe = fs::read_link(dir.join("exe")).ok();
            master.elsewhere = namespaces::elsewhere(proc, pid);
            if let Some(prefix) = master.prefix.take() {
                let cwd = fs::read_link(dir.join("cwd")).ok();
                master.prefix = Some(cwd.map_or_else(|| prefix.clone(), |c| c.join(&prefix)));
            }
            if let (Some(conf), Some(prefix)) = (&master.conf, &master.prefix) {
                master.conf = Some(prefix.join(conf));
            }
            Some(master)
        })
        .collect();
    masters.sort_by_key(|m| m.pid);
    masters
}

/// Reads a master's options from its `/proc/PID/cmdline`. Paths are kept as
/// written; `find_masters` resolves them.
pub fn parse_title(pid: i32, cmdline: &[u8]) -> Option<Master> {
    // nginx pads the rewritten title with NULs; the title is the first string.
    let first = cmdline.split(|&b| b == 0).next().unwrap_or_default();
    let title = String::from_utf8_lossy(first).into_owned();
    let words: Vec<&str> = title.strip_prefix(TITLE)?.split_whitespace().collect();
    let mut master = Master {
        pid,
        exe: None,
        conf: None,
        prefix: None,
        globals: None,
        cmdline: title.clone(),
        elsewhere: None,
    };
    let mut i = 1;
    while i < words.len() {
        let word = words[i];
        i += 1;
        let Some(flags) = word.strip_prefix('-') else {
            continue;
        };
        for (at, flag) in flags.char_indices() {
            if !matches!(flag, 'p' | 'c' | 'e' | 'g' | 's') {
                continue;
            }
            let glued = &flags[at + flag.len_utf8()..];
            let value = if !glued.is_empty() {
                glued.to_owned()
            } else if flag == 'g' {
                let end = (i..words.len())
                    .find(|&j| is_option(words[j]))
                    .unwrap_or(words.len());
                let value = words[i..end].join(" ");
                i = end;
                value
            } else {
                let value = words.get(i).copied().unwrap_or_default().to_owned();
                i += 1;
                value
            };
            match flag {
                'p' => master.prefix = Some(PathBuf::from(value)),
                'c' => master.conf = Some(PathBuf::from(value)),
                'g' => master.globals = Some(value),
                _ => {}
            }
            break;
        }
    }
    Some(master)
}

/// An nginx command-line option such as `-c`, `-p`, `-t` or `-tq`.
fn is_option(word: &str) -> bool {
    word.strip_prefix('-')
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| "?hvVtTqpcegs".contains(c)))
}

/// Reads `nginx -V` output; nginx's compiled defaults fill what the configure
/// line does not set. Without a configure line only the version is known.
pub fn parse_build_info(nginx_v_stderr: &str) -> BuildInfo {
    let mut info = BuildInfo::default();
    for line in nginx_v_stderr.lines() {
        if let Some(v) = line.trim().strip_prefix("nginx version: ") {
            info.version = v.rsplit('/').next().map(str::to_owned);
        } else if let Some(args) = line.trim().strip_prefix("configure arguments:") {
            info.configure_args = crate::shell::split(args);
        }
    }
    if !nginx_v_stderr.contains("configure arguments:") {
        return info;
    }
    let option = |name: &str| {
        let key = format!("--{name}=");
        info.configure_args
            .iter()
            .find_map(|a| a.strip_prefix(&key))
            .map(str::to_owned)
    };
    let prefix = PathBuf::from(option("prefix").unwrap_or_else(|| "/usr/local/nginx".into()));
    let in_prefix = |value: String| {
        if value.starts_with('/') || value == "stderr" {
            value
        } else {
            prefix.join(value).to_string_lossy().into_owned()
        }
    };
    info.conf_path = Some(PathBuf::from(in_prefix(
        option("conf-path").unwrap_or_else(|| "conf/nginx.conf".into()),
    )));
    info.error_log_path = Some(in_prefix(
        option("error-log-path").unwrap_or_else(|| "logs/error.log".into()),
    ));
    info.http_log_path = Some(in_prefix(
        option("http-log-path").unwrap_or_else(|| "logs/access.log".into()),
    ));
    info.user = Some(option("user").unwrap_or_else(|| "nobody".into()));
    info.prefix = Some(prefix);
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn title(text: &str) -> Master {
        let mut bytes = text.as_bytes().to_vec();
        bytes.extend([0u8; 16]);
        parse_title(42, &bytes).unwrap()
    }

    #[test]
    fn debian_title_gives_the_conf() {
        let m = title("nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf");
        assert_eq!(m.conf, Some(PathBuf::from("/etc/nginx/nginx.conf")));
        assert_eq!((m.prefix, m.globals), (None, None));
    }

    #[test]
    fn globals_run_to_the_next_option() {
        let m =
            title("nginx: master process nginx -g daemon off; pid /x.pid; -p /tmp/x -c nginx.conf");
        assert_eq!(m.globals.as_deref(), Some("daemon off; pid /x.pid;"));
        assert_eq!(m.prefix, Some(PathBuf::from("/tmp/x")));
        assert_eq!(m.conf, Some(PathBuf::from("nginx.conf")));
    }

    #[test]
    fn glued_option_values_are_read() {
        let m = title("nginx: master process nginx -c/etc/n.conf -p/srv/");
        assert_eq!(m.conf, Some(PathBuf::from("/etc/n.conf")));
        assert_eq!(m.prefix, Some(PathBuf::from("/srv/")));
    }

    #[test]
    fn workers_and_other_processes_are_not_masters() {
        assert!(parse_title(1, b"nginx: worker process\0").is_none());
        assert!(parse_title(1, b"/usr/sbin/nginx\0-c\0/etc/nginx/nginx.conf\0").is_none());
        assert!(parse_title(1, b"").is_none());
    }

    #[test]
    fn option_without_value_is_harmless() {
        let m = title("nginx: master process nginx -c");
        assert_eq!(m.conf, Some(PathBuf::new()));
    }

    #[test]
    fn relative_conf_resolves_against_the_prefix() {
        let build = BuildInfo {
            prefix: Some("/usr/share/nginx".into()),
            conf_path: Some("/etc/nginx/nginx.conf".into()),
            ..BuildInfo::default()
        };
        let m = title("nginx: master process nginx -c conf/n.conf");
        assert_eq!(
            m.conf_path(&build),
            Some(PathBuf::from("/usr/share/nginx/conf/n.conf"))
        );
        let bare = title("nginx: master process nginx");
        assert_eq!(
            bare.conf_path(&build),
            Some(PathBuf::from("/etc/nginx/nginx.conf"))
        );
    }

    const DEBIAN_V: &str = "nginx version: nginx/1.22.1\n\
        built with OpenSSL 3.0.22 25 Aug 2026\n\
        TLS SNI support enabled\n\
        configure arguments: --with-cc-opt='-g -O2 -fPIC' --prefix=/usr/share/nginx \
        --conf-path=/etc/nginx/nginx.conf --http-log-path=/var/log/nginx/access.log \
        --error-log-path=stderr --with-debug\n";

    #[test]
    fn debian_build_info() {
        let b = parse_build_info(DEBIAN_V);
        assert_eq!(b.version.as_deref(), Some("1.22.1"));
        assert_eq!(b.prefix, Some(PathBuf::from("/usr/share/nginx")));
        assert_eq!(b.conf_path, Some(PathBuf::from("/etc/nginx/nginx.conf")));
        assert_eq!(b.error_log_path.as_deref(), Some("stderr"));
        assert_eq!(b.user.as_deref(), Some("nobody"));
        assert_eq!(b.configure_args[0], "--with-cc-opt=-g -O2 -fPIC");
    }

    #[test]
    fn default_build_paths_are_under_the_default_prefix() {
        let b = parse_build_info(
            "nginx version: nginx/1.25.0\nconfigure arguments: --with-http_ssl_module\n",
        );
        assert_eq!(
            b.conf_path,
            Some(PathBuf::from("/usr/local/nginx/conf/nginx.conf"))
        );
        assert_eq!(
            b.error_log_path.as_deref(),
            Some("/usr/local/nginx/logs/error.log")
        );
    }

    #[test]
    fn text_without_configure_line_gives_only_what_it_has() {
        let b = parse_build_info("nginx version: openresty/1.21.4.1\n");
        assert_eq!(b.version.as_deref(), Some("1.21.4.1"));
        assert_eq!(b.conf_path, None);
    }

    #[test]
    fn fake_procfs_resolves_relative_prefix_against_cwd() {
        let proc = tempfile::tempdir().unwrap();
        let master = proc.path().join("123");
        fs::create_dir_all(&master).unwrap();
        let title = b"nginx: master process /opt/nginx -p run/ -c conf/n.conf\0\0\0";
        fs::write(master.join("cmdline"), title).unwrap();
        std::os::unix::fs::symlink("/srv/site", master.join("cwd")).unwrap();
        std::os::unix::fs::symlink("/opt/nginx", master.join("exe")).unwrap();
        let worker = proc.path().join("124");
        fs::create_dir_all(&worker).unwrap();
        fs::write(worker.join("cmdline"), b"nginx: worker process\0").unwrap();
        fs::create_dir_all(proc.path().join("self")).unwrap();

        let found = find_masters_in(proc.path());
        assert_eq!(found.len(), 1);
        let m = &found[0];
        assert_eq!(m.pid, 123);
        assert_eq!(m.prefix, Some(PathBuf::from("/srv/site/run/")));
        assert_eq!(m.conf, Some(PathBuf::from("/srv/site/run/conf/n.conf")));
        assert_eq!(m.exe, Some(PathBuf::from("/opt/nginx")));
        assert_eq!(m.elsewhere, None, "no namespace links: taken as ours");
    }

    #[test]
    fn fake_procfs_marks_a_master_in_another_mount_namespace() {
        let proc = tempfile::tempdir().unwrap();
        for (who, mnt) in [("self", "mnt:[1]"), ("77", "mnt:[2]")] {
            let ns = proc.path().join(who).join("ns");
            fs::create_dir_all(&ns).unwrap();
            std::os::unix::fs::symlink(mnt, ns.join("mnt")).unwrap();
            std::os::unix::fs::symlink("net:[3]", ns.join("net")).unwrap();
        }
        let title = b"nginx: master process nginx -c /etc/nginx/nginx.conf\0";
        fs::write(proc.path().join("77/cmdline"), title).unwrap();

        let found = find_masters_in(proc.path());
        let elsewhere = found[0].elsewhere.as_ref().expect("marked");
        assert_eq!(
            elsewhere.differs,
            [crate::host::namespaces::Namespace::Mount]
        );
        assert_eq!(found[0].conf, Some(PathBuf::from("/etc/nginx/nginx.conf")));
    }
}
