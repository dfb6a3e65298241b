//! The `local-ports` built-in: why nginx found no local port towards its
//! backend (connect() error 99), from what the kernel holds now.
//!
//! Each connection to one backend address needs a local port of its own
//! from `net.ipv4.ip_local_port_range`, and keeps it through TIME_WAIT
//! (60 s) after it closes. The range may have been narrowed (then the fix
//! is the kernel's default back, and the sysctl file that narrowed it), or
//! other programs hold connections to the same address, or nginx opens a
//! connection per request. This reads which: the range against the
//! kernel's default, the connections to the backend by state and by the
//! programs holding them, and the file that sets the range at boot.

use crate::session::Session;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use super::Out;
use crate::host::sockets::{self, Connection};

const RANGE: &str = "/proc/sys/net/ipv4/ip_local_port_range";
/// The kernel's default range, and its size.
const DEFAULT: (u16, u16) = (32768, 60999);
const TIME_WAIT: u8 = 6;
const ESTABLISHED: u8 = 1;
const SYSCTL_FILES: &[&str] = &[
    "/etc/sysctl.conf",
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/lib/sysctl.d",
];
const KEY: &str = "net.ipv4.ip_local_port_range";

pub fn run(host: &mut Session, params: &BTreeMap<String, String>, out: &mut Out) {
    let Some(backend) = address(params) else {
        return out.fail("no TCP backend address (IP and port) to count local ports for");
    };
    out.shown_as = format!("sysctl {KEY}; ss -Htan dst {backend}");
    let text = crate::host::read_capped(Path::new(RANGE), 256).unwrap_or_default();
    let Some((low, high)) = parse_range(&text) else {
        return out.fail(format!("{RANGE} could not be read"));
    };
    let size = i64::from(high) - i64::from(low) + 1;
    out.set("range", format!("{low} {high}"));
    out.set("range_size", size);
    out.set("default_range", format!("{} {}", DEFAULT.0, DEFAULT.1));
    out.set("narrow", size < i64::from(DEFAULT.1 - DEFAULT.0) + 1);
    let conns = sockets::connections_to(backend);
    let in_range = |c: &&Connection| (low..=high).contains(&c.local.port());
    let count = |state: u8| {
        conns
            .iter()
            .filter(in_range)
            .filter(|c| c.state == state)
            .count()
    };
    let as_int = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    out.set("time_wait", as_int(count(TIME_WAIT)));
    out.set("established", as_int(count(ESTABLISHED)));
    out.set("holders", holders(host, &conns));
    if let Some((file, line, text)) = set_in((low, high)) {
        out.set("set_file", file);
        out.set("set_line", i64::try_from(line).unwrap_or(0));
        out.set("set_text", text);
    }
    out.note(&format!(
        "{KEY} = {low} {high} ({size} ports); to {backend}: {} established, {} in TIME_WAIT",
        count(ESTABLISHED),
        count(TIME_WAIT)
    ));
}

fn address(params: &BTreeMap<String, String>) -> Option<SocketAddr> {
    let ip: IpAddr = params.get("host")?.trim_matches(['[', ']']).parse().ok()?;
    Some(SocketAddr::new(ip, params.get("port")?.parse().ok()?))
}

fn parse_range(text: &str) -> Option<(u16, u16)> {
    let mut words = text.split_whitespace().map(str::parse::<u16>);
    match (words.next()?, words.next()?) {
        (Ok(a), Ok(b)) if a <= b => Some((a, b)),
        _ => None,
    }
}

/// Which programs other than nginx hold connections to the backend:
/// `python3 (pid 12): 2`.
fn holders(host: &mut Session, conns: &[Connection]) -> Option<String> {
    let inodes: HashSet<u64> = conns.iter().map(|c| c.inode).filter(|&i| i != 0).collect();
    let mut per_pid: HashMap<i32, usize> = HashMap::new();
    for pids in sockets::holders(&inodes).values() {
        for &pid in pids {
            *per_pid.entry(pid).or_default() += 1;
        }
    }
    let procs = host.processes();
    let name = |pid: i32| procs.iter().find(|p| p.pid == pid).map(|p| p.comm.clone());
    // nginx's own connections are counted as established, not as others'.
    let mut rows: Vec<(usize, String)> = per_pid
        .into_iter()
        .filter_map(|(pid, n)| {
            let name = name(pid).unwrap_or_else(|| "?".to_owned());
            (name != "nginx").then(|| (n, format!("{name} (pid {pid}): {n}")))
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let shown: Vec<String> = rows.into_iter().take(5).map(|(_, r)| r).collect();
    (!shown.is_empty()).then(|| shown.join(", "))
}

/// The sysctl file and line that set the range now in force at boot (the
/// last one read wins, as `sysctl --system` reads them in name order); none
/// when no file sets it, or the last one sets another range (then it was
/// narrowed at run time, and no file is the one to edit).
fn set_in(range: (u16, u16)) -> Option<(String, usize, String)> {
    let mut files = Vec::new();
    for f in SYSCTL_FILES {
        let p = Path::new(f);
        if p.is_dir() {
            let mut conf: Vec<_> = std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            conf.sort();
            files.extend(conf);
        } else {
            files.push(p.to_path_buf());
        }
    }
    let mut found = None;
    for f in files {
        let Ok(text) = crate::host::read_capped(&f, 1 << 20) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            let bare = line.trim();
            if let Some((key, value)) = bare.split_once('=')
                && key.trim() == KEY
            {
                let at = (f.display().to_string(), i + 1, bare.to_owned());
                found = Some((at, parse_range(value)));
            }
        }
    }
    found
        .filter(|(_, set)| *set == Some(range))
        .map(|(at, _)| at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_two_numbers_in_order() {
        assert_eq!(parse_range("32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(parse_range("9 1"), None);
        assert_eq!(parse_range(""), None);
    }
}
