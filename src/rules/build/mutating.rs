//! Probes look; they never change the host. A probe whose argv is a known
//! mutating command is a pack error: such a command belongs in a fix step,
//! which guided mode runs only after showing it and asking.

/// Whether `argv` is a command known only to look (`nginx -t`, `ss`,
/// `dmesg`, `systemctl status`): an allow-list, so an unknown program (a
/// daemon started by its path) is never called read-only.
pub(crate) fn only_looks(argv: &[String]) -> bool {
    let Some(program) = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or_default())
    else {
        return false;
    };
    let args: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    let has = |words: &[&str]| args.iter().any(|a| words.contains(a));
    let program = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    match program {
        "ss" | "dmesg" | "journalctl" | "getenforce" | "getsebool" | "ausearch" | "cat"
        | "tail" | "head" | "grep" | "ls" | "stat" | "namei" | "getent" | "dig" | "ps"
        | "pgrep" | "id" => true,
        "nginx" | "openresty" => has(&["-t", "-T", "-V", "-v"]) && !has(&["-s"]),
        "php-fpm" | "php-fpm-" => has(&["-t", "-tt", "-v", "-i"]),
        "systemctl" => has(&[
            "status",
            "show",
            "is-active",
            "is-failed",
            "cat",
            "list-units",
        ]),
        "nft" => has(&["list"]),
        "iptables" | "ip6tables" => has(&["-S", "-L", "--list", "--list-rules"]),
        "firewall-cmd" => {
            has(&["--state"])
                || args
                    .iter()
                    .any(|a| a.starts_with("--query-") || a.starts_with("--list-"))
        }
        "sysctl" => !args.iter().any(|a| a.contains('=') || *a == "-w"),
        _ => false,
    }
}

/// Why `argv` changes the host, if it is a command known to.
pub(super) fn mutation(argv: &[String]) -> Option<String> {
    let program = argv.first()?.rsplit('/').next().unwrap_or_default();
    let args: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    let has = |words: &[&str]| args.iter().any(|a| words.contains(a));
    let starts = |prefixes: &[&str]| {
        args.iter()
            .any(|a| prefixes.iter().any(|p| a.starts_with(p)))
    };
    let changes = match program {
        "rm" | "rmdir" | "mv" | "cp" | "dd" | "truncate" | "tee" | "chmod" | "chown" | "chgrp"
        | "kill" | "pkill" | "killall" | "reboot" | "shutdown" | "halt" | "setenforce"
        | "setsebool" | "semanage" | "restorecon" | "useradd" | "usermod" | "ln" | "mkdir"
        | "touch" | "install" => true,
        "systemctl" | "service" | "rc-service" => has(&[
            "start",
            "stop",
            "restart",
            "reload",
            "try-restart",
            "reload-or-restart",
            "enable",
            "disable",
            "mask",
            "unmask",
            "kill",
            "daemon-reload",
            "edit",
            "set-property",
        ]),
        "sed" | "perl" => starts(&["-i", "--in-place"]),
        "nginx" | "openresty" => has(&["-s"]),
        "firewall-cmd" => starts(&[
            "--add-",
            "--remove-",
            "--set-",
            "--new-",
            "--delete-",
            "--reload",
            "--complete-reload",
            "--runtime-to-permanent",
            "--panic-",
        ]),
        "iptables" | "ip6tables" | "iptables-legacy" | "iptables-nft" => starts(&[
            "-A", "-I", "-D", "-R", "-F", "-X", "-P", "-N", "-Z", "--append", "--insert",
            "--delete", "--flush",
        ]),
        "nft" => has(&[
            "add", "insert", "delete", "flush", "create", "replace", "destroy", "-f",
        ]),
        "ufw" => has(&[
            "allow", "deny", "reject", "limit", "delete", "enable", "disable", "reset", "insert",
        ]),
        "sysctl" => {
            starts(&["-w", "--write", "-p", "--load", "--system"])
                || args.iter().any(|a| a.contains('='))
        }
        "ip" => has(&["add", "del", "delete", "change", "replace", "flush", "set"]),
        "crontab" => has(&["-r", "-e"]),
        _ => false,
    };
    changes.then(|| format!("`{program}` with these arguments changes the host; a probe may only look (put it in a fix step)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looking_commands_are_known_and_starting_a_daemon_is_not_one() {
        assert!(only_looks(&argv(
            "/usr/sbin/nginx -t -c /etc/nginx/nginx.conf"
        )));
        assert!(only_looks(&argv(
            "/usr/sbin/php-fpm8.2 -t -y /etc/php.conf"
        )));
        assert!(only_looks(&argv("dmesg --ctime")));
        assert!(only_looks(&argv("systemctl status nginx")));
        assert!(!only_looks(&argv(
            "/usr/sbin/nginx -c /etc/nginx/nginx.conf"
        )));
        assert!(!only_looks(&argv("/usr/sbin/php-fpm8.2 -y /etc/php.conf")));
        assert!(!only_looks(&argv("systemctl restart php8.2-fpm")));
        assert!(!only_looks(&argv(
            "sysctl -w net.ipv4.ip_local_port_range=1024"
        )));
    }

    fn argv(words: &str) -> Vec<String> {
        words.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn looking_commands_pass() {
        for ok in [
            "systemctl status php8.2-fpm",
            "nginx -t",
            "nginx -T",
            "ss -Htlnp",
            "firewall-cmd --state",
            "firewall-cmd --query-port=9000/tcp",
            "iptables -S",
            "nft list ruleset",
            "getenforce",
            "sysctl net.ipv4.ip_local_port_range",
            "ip route get 127.0.0.1",
            "sed -n 1p /etc/hosts",
        ] {
            assert_eq!(mutation(&argv(ok)), None, "{ok}");
        }
    }

    #[test]
    fn changing_commands_are_named() {
        for bad in [
            "systemctl restart nginx",
            "/usr/bin/systemctl reload nginx",
            "nginx -s reload",
            "kill -USR2 1",
            "rm -f /run/x.sock",
            "sed -i s/a/b/ f",
            "setenforce 0",
            "firewall-cmd --add-port=9000/tcp",
            "firewall-cmd --reload",
            "iptables -A INPUT -j DROP",
            "nft flush ruleset",
            "sysctl -w net.core.somaxconn=4096",
            "sysctl net.core.somaxconn=4096",
            "ip route add prohibit 1.2.3.4",
        ] {
            assert!(mutation(&argv(bad)).is_some(), "{bad}");
        }
    }
}
