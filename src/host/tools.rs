//! Which programs a fix may name are installed here, and the line that
//! installs one that is not.
//!
//! A junior admin pastes what the report prints. On a host without the
//! program (`curl` in a slim container, `semanage` on a minimal RHEL, `nft`
//! where only iptables is installed) that is "command not found", and the
//! fix does nothing. So the walk knows, before it starts, which of these
//! programs exist (`tool.curl`, `tool.nft` ... as facts, which a pack's
//! `when:` may test), and a finding whose step or verify line names a
//! missing one gets the install line for this host's package manager right
//! before it (see `engine::conclude`).

use std::ffi::OsStr;
use std::path::PathBuf;

use crate::value::Facts;

/// Where an admin's root shell finds programs that a non-root `PATH` often lacks.
pub const SBIN_DIRS: [&str; 3] = ["/usr/sbin", "/sbin", "/usr/local/sbin"];

/// Finds a program the way an admin's root shell would: PATH, then the sbin dirs (a non-root PATH often lacks them).
pub fn locate(program: &str) -> Option<PathBuf> {
    locate_with_path(program, std::env::var_os("PATH").as_deref())
}

fn locate_with_path(program: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        return which::which(program).ok();
    }
    path.and_then(|dirs| which::which_in(program, Some(dirs), "/").ok())
        .or_else(|| which::which_in(program, Some(SBIN_DIRS.join(":")), "/").ok())
}

/// A program a fix may name, and the package that installs it on Debian
/// and Ubuntu (`apt`) and on RHEL and Fedora (`dnf`).
pub struct Tool {
    pub program: &'static str,
    pub apt: &'static str,
    pub dnf: &'static str,
}

const fn tool(program: &'static str, apt: &'static str, dnf: &'static str) -> Tool {
    Tool { program, apt, dnf }
}

/// Every program the default pack's fixes and verify lines name, beyond
/// the nginx and php-fpm binaries they found (a test keeps this complete).
pub const TOOLS: &[Tool] = &[
    tool("curl", "curl", "curl"),
    tool("ss", "iproute2", "iproute"),
    tool("ip", "iproute2", "iproute"),
    tool("nft", "nftables", "nftables"),
    tool("iptables", "iptables", "iptables-nft"),
    tool("ip6tables", "iptables", "iptables-nft"),
    tool("firewall-cmd", "firewalld", "firewalld"),
    tool("ufw", "ufw", "ufw"),
    tool("setsebool", "policycoreutils", "policycoreutils"),
    tool("getsebool", "selinux-utils", "libselinux-utils"),
    tool(
        "semanage",
        "policycoreutils-python-utils",
        "policycoreutils-python-utils",
    ),
    tool("ausearch", "auditd", "audit"),
    tool("dig", "bind9-dnsutils", "bind-utils"),
    tool("getent", "libc-bin", "glibc-common"),
    tool("openssl", "openssl", "openssl"),
    tool("dmesg", "util-linux", "util-linux"),
    tool("namei", "util-linux", "util-linux"),
    tool("kill", "procps", "procps-ng"),
    tool("ps", "procps", "procps-ng"),
    tool("sysctl", "procps", "procps-ng"),
    tool("systemctl", "systemd", "systemd"),
    tool("grep", "grep", "grep"),
    tool("tail", "coreutils", "coreutils"),
    tool("ls", "coreutils", "coreutils"),
    tool("wc", "coreutils", "coreutils"),
    tool("timeout", "coreutils", "coreutils"),
    tool("seq", "coreutils", "coreutils"),
    tool("xargs", "findutils", "findutils"),
];

/// Package managers, most specific first, and how each installs a package.
const INSTALLERS: &[(&str, bool)] = &[("apt-get", true), ("dnf", false), ("yum", false)];

/// The fact that says whether `program` is installed here.
pub fn fact(program: &str) -> String {
    format!("tool.{program}")
}

/// Every `tool.` fact name: the tools and the package managers.
pub fn fact_names() -> impl Iterator<Item = String> {
    let programs = TOOLS.iter().map(|t| t.program);
    programs.chain(INSTALLERS.iter().map(|i| i.0)).map(fact)
}

/// Looks each tool and package manager up as the probes do (PATH, then
/// the sbin directories) and sets its `tool.` fact.
pub fn set_presence(facts: &mut Facts) {
    let programs = TOOLS.iter().map(|t| t.program);
    for program in programs.chain(INSTALLERS.iter().map(|i| i.0)) {
        facts.set(fact(program), locate(program).is_some());
    }
}

/// Whether the walk knows `program` is missing here: a tool whose fact is
/// false (unknown, as in an old bundle, is not missing).
pub fn missing(facts: &Facts, program: &str) -> Option<&'static Tool> {
    let t = TOOLS.iter().find(|t| t.program == program)?;
    (facts.get(&fact(program)) == &crate::value::Value::Bool(false)).then_some(t)
}

/// The command that installs `tool` with this host's package manager, if
/// it has one the walk knows.
pub fn install_command(facts: &Facts, tool: &Tool) -> Option<Vec<String>> {
    let present = |p: &str| facts.get(&fact(p)) == &crate::value::Value::Bool(true);
    let (manager, apt) = INSTALLERS.iter().find(|(p, _)| present(p))?;
    let package = if *apt { tool.apt } else { tool.dnf };
    let argv = [manager, "install", "-y", package];
    Some(argv.iter().map(|s| (*s).to_owned()).collect())
}

/// The programs a shell line runs: the first word of each command of its
/// pipelines and lists (`a | b && c`), past `time` and `sudo`.
pub fn programs_of_line(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut at_start = true;
    for word in crate::shell::split(line) {
        if matches!(word.as_str(), "|" | "||" | "&&" | ";") {
            at_start = true;
        } else if at_start && matches!(word.as_str(), "time" | "sudo") {
            // The program comes next.
        } else if at_start {
            found.push(word.trim_end_matches(';').to_owned());
            at_start = word.ends_with(';');
        } else {
            // `ss -Htln; ip r`: a `;` ends the command it is glued to.
            at_start = word.ends_with(';');
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_falls_back_to_sbin_dirs() {
        let found = locate_with_path("nologin", Some(OsStr::new("/nonexistent")));
        assert!(found.is_some_and(|p| SBIN_DIRS.iter().any(|d| p.starts_with(d))));
        assert!(locate_with_path("sh", None).is_none_or(|p| p.ends_with("sh")));
        assert_eq!(locate(""), None);
    }

    #[test]
    fn a_line_runs_the_first_word_of_each_command() {
        assert_eq!(
            programs_of_line("time curl -sS 'http://a/ | b' | wc -l && ss -Htln; ip r"),
            ["curl", "wc", "ss", "ip"]
        );
    }

    #[test]
    fn the_install_line_follows_the_package_manager_found() {
        let mut facts = Facts::new();
        facts.set("tool.dnf", true);
        facts.set("tool.dig", false);
        let dig = missing(&facts, "dig").expect("dig is missing");
        assert_eq!(
            install_command(&facts, dig).unwrap(),
            ["dnf", "install", "-y", "bind-utils"]
        );
        facts.set("tool.apt-get", true);
        assert_eq!(
            install_command(&facts, dig).unwrap(),
            ["apt-get", "install", "-y", "bind9-dnsutils"]
        );
    }

    #[test]
    fn an_unknown_presence_is_not_missing() {
        assert!(missing(&Facts::new(), "curl").is_none());
    }
}
