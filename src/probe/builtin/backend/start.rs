//! The command that starts this php-fpm again, for a fix that must stop it
//! and start it (a new socket owner, mode or listen queue is applied only
//! when php-fpm creates its socket, and a USR2 reload keeps the inherited
//! one). Where systemd runs, the unit does that; elsewhere a person types
//! the start command, so it must be the one that started this master: its
//! own command line when php-fpm kept it, else the binary it runs (from
//! /proc, not a guess from PATH), `-y` and the configuration its title
//! names, and `-R` when a pool runs as root (php-fpm refuses it without).

use std::fs;
use std::path::{Path, PathBuf};

use crate::host::fpm_conf::FpmConfig;
use crate::host::procs::FpmMaster;
use crate::shell;

/// The program a running master executes: /proc/PID/exe, unless that file
/// was replaced since it started (an upgrade: the link then ends in
/// " (deleted)", and the path names the new binary, which is what a start
/// would run anyway).
pub(super) fn running_binary(pid: i32) -> Option<PathBuf> {
    let exe = fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let text = exe.to_string_lossy();
    match text.strip_suffix(" (deleted)") {
        Some(path) => Some(PathBuf::from(path)),
        None => Some(exe),
    }
}

/// The start command as shell words (the `start` fact, spliced with
/// `{{backend.start*}}`); `None` when neither the master's command line nor
/// a binary and a configuration are known.
pub(super) fn command(
    config: &FpmConfig,
    master: Option<&FpmMaster>,
    binary: Option<&Path>,
) -> Option<String> {
    if let Some(argv) = master
        .and_then(|m| m.argv.as_ref())
        .filter(|a| !a.is_empty())
    {
        return Some(shell::words(argv));
    }
    let conf = master
        .and_then(|m| m.conf.clone())
        .or_else(|| config.files.first().cloned())?;
    let mut argv = vec![
        binary?.display().to_string(),
        "-y".to_owned(),
        conf.display().to_string(),
    ];
    let as_root = master.is_none_or(|m| m.uid == 0);
    if as_root && config.pools.iter().any(runs_as_root) {
        argv.push("-R".to_owned());
    }
    Some(shell::words(&argv))
}

/// A pool whose workers would run as root: `user = root` (or 0), or no
/// user at all under a root master (php-fpm then keeps root, with `-R`).
fn runs_as_root(pool: &crate::host::fpm_conf::Pool) -> bool {
    pool.get("user")
        .is_none_or(|u| matches!(u.value.trim(), "root" | "0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pool_user: Option<&str>) -> FpmConfig {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("php-fpm.conf");
        let user = pool_user.map_or(String::new(), |u| format!("user = {u}\n"));
        let text = format!("[global]\npid = /x.pid\n[www]\n{user}listen = /x.sock\n");
        fs::write(&conf, text).expect("write");
        let mut parsed = crate::host::fpm_conf::parse(&conf).expect("parses");
        parsed.files = vec![PathBuf::from("/etc/php/8.2/fpm/php-fpm.conf")];
        parsed
    }

    fn master(argv: Option<&[&str]>, uid: u32) -> FpmMaster {
        FpmMaster {
            pid: 10,
            uid,
            comm: "php-fpm8.2".into(),
            conf: Some(PathBuf::from("/etc/php/8.2/fpm/php-fpm.conf")),
            argv: argv.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
            workers: Vec::new(),
        }
    }

    #[test]
    fn a_master_that_kept_its_command_line_is_started_with_it() {
        let argv = [
            "/opt/php/sbin/php-fpm",
            "-c",
            "/opt/php.ini",
            "--fpm-config=/o.conf",
        ];
        let m = master(Some(&argv), 0);
        let cmd = command(&config(Some("www-data")), Some(&m), Some(Path::new("/x")));
        assert_eq!(
            cmd.as_deref(),
            Some("/opt/php/sbin/php-fpm -c /opt/php.ini --fpm-config=/o.conf")
        );
    }

    #[test]
    fn a_retitled_master_is_started_from_its_binary_and_configuration() {
        let m = master(None, 0);
        let bin = Path::new("/usr/sbin/php-fpm8.2");
        let cmd = command(&config(Some("www-data")), Some(&m), Some(bin));
        assert_eq!(
            cmd.as_deref(),
            Some("/usr/sbin/php-fpm8.2 -y /etc/php/8.2/fpm/php-fpm.conf")
        );
    }

    #[test]
    fn a_pool_running_as_root_needs_dash_r() {
        let bin = Path::new("/usr/sbin/php-fpm8.2");
        for user in [Some("root"), None] {
            let cmd = command(&config(user), Some(&master(None, 0)), Some(bin));
            assert!(cmd.is_some_and(|c| c.ends_with(" -R")), "{user:?}");
        }
        let cmd = command(&config(None), Some(&master(None, 1000)), Some(bin));
        assert!(cmd.is_some_and(|c| !c.contains("-R")), "not root: no -R");
    }
}
