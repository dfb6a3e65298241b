//! The listening-socket table, the equivalent of `ss -tlnxp`: TCP listeners from
//! `/proc/net/tcp` and `/proc/net/tcp6`, unix listeners from `/proc/net/unix`, queue and
//! backlog from the kernel's sock_diag interface, owning processes from `/proc/PID/fd`.
//! It answers "does anything accept on the address nginx connects to?" without `ss`, whose
//! text differs across versions and which containers often lack.
//!
//! Everything is scoped to the caller's network namespace: nginx in another namespace (a
//! container) sees another table. Owners are found only for processes we may inspect, i.e.
//! all of them as root and our own otherwise.

use super::{Endpoint, sanitize, sock_diag};
use nix::libc;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// What a socket listens on: the same type as a connect target.
pub type ListenAddr = Endpoint;

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The bound address or path.
    pub addr: ListenAddr,
    /// Socket inode (`socket:[INODE]` in `/proc/PID/fd`).
    pub inode: u64,
    /// Connections waiting to be accepted (`ss` Recv-Q); `None` when unknown.
    pub queue: Option<u32>,
    /// The backlog limit (`ss` Send-Q); `queue > backlog` means the queue is full.
    pub backlog: Option<u32>,
    /// For IPv6 TCP listeners, whether IPv4 connections are refused (`IPV6_V6ONLY`);
    /// `None` when the kernel did not say (then `net.ipv6.bindv6only` is the best guess).
    pub v6only: Option<bool>,
    /// Pids holding the socket open (master and workers); empty when not visible to us.
    pub pids: Vec<i32>,
}

/// Every listening TCP and unix socket in our network namespace.
pub fn listeners() -> Vec<Listener> {
    let mut found = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        if let Ok(text) = fs::read(file) {
            found.extend(parse_proc_net_tcp(&String::from_utf8_lossy(&text), v6));
        }
    }
    if let Ok(text) = fs::read("/proc/net/unix") {
        found.extend(parse_proc_net_unix(&String::from_utf8_lossy(&text)));
    }
    enrich_from_sock_diag(&mut found);
    attach_owners(&mut found);
    found
}

/// A TCP connection of this network namespace (not a listener).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The kernel's state number: 1 established, 6 TIME_WAIT ...
    pub state: u8,
    /// 0 for a socket no process holds (TIME_WAIT).
    pub inode: u64,
}

/// Every TCP connection to `remote`, as /proc/net/tcp and tcp6 list them.
pub fn connections_to(remote: SocketAddr) -> Vec<Connection> {
    let mut found = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = fs::read(file) else { continue };
        let text = String::from_utf8_lossy(&text);
        found.extend(text.lines().skip(1).filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let c = Connection {
                local: parse_hex_socket_addr(f.get(1)?, v6)?,
                remote: parse_hex_socket_addr(f.get(2)?, v6)?,
                state: u8::from_str_radix(f.get(3)?, 16).ok()?,
                inode: f.get(9)?.parse().ok()?,
            };
            (c.remote == remote).then_some(c)
        }));
    }
    found
}

/// The processes holding each of `inodes` (sockets), by /proc/PID/fd.
pub fn holders(inodes: &HashSet<u64>) -> HashMap<u64, Vec<i32>> {
    let mut owners: HashMap<u64, Vec<i32>> = HashMap::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return owners;
    };
    for pid in procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
    {
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let found = fds.flatten().filter_map(|fd| socket_inode(&fd.path()));
        for inode in found.filter(|i| inodes.contains(i)) {
            let pids = owners.entry(inode).or_default();
            if !pids.contains(&pid) {
                pids.push(pid);
            }
        }
    }
    owners
}

/// TCP listeners bound to `port`, on any address.
pub fn listening_on_port(listeners: &[Listener], port: u16) -> Vec<&Listener> {
    listeners
        .iter()
        .filter(|l| matches!(l.addr, Endpoint::Tcp(a) if a.port() == port))
        .collect()
}

/// Whether a TCP connection to `addr` would reach one of `listeners`: a listener on that
/// port bound to that IP or to the wildcard of its family; an IPv6 wildcard `[::]` also
/// accepts IPv4 unless it is v6only (per socket when known, else `net.ipv6.bindv6only`).
///
/// Limits: says nothing about firewalls, SO_BINDTODEVICE/VRF, other network namespaces, or a
/// full accept queue; `127.0.0.2` is not `127.0.0.1`, just as for the kernel.
pub fn accepts(listeners: &[Listener], addr: &SocketAddr) -> bool {
    let target = unmap(addr.ip());
    listening_on_port(listeners, addr.port())
        .into_iter()
        .any(|l| match &l.addr {
            Endpoint::Tcp(bound) => binds(unmap(bound.ip()), l.v6only, target),
            Endpoint::Unix(_) => false,
        })
}

fn binds(bound: IpAddr, v6only: Option<bool>, target: IpAddr) -> bool {
    if bound == target {
        return true;
    }
    match (bound, target) {
        (IpAddr::V4(b), IpAddr::V4(_)) => b.is_unspecified(),
        (IpAddr::V6(b), IpAddr::V6(_)) => b.is_unspecified(),
        (IpAddr::V6(b), IpAddr::V4(_)) => {
            b.is_unspecified() && !v6only.unwrap_or_else(default_bindv6only)
        }
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

/// `::ffff:a.b.c.d` is the IPv4 address for routing purposes.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `net.ipv6.bindv6only`: the v6only default for sockets that do not set it (Linux: 0).
fn default_bindv6only() -> bool {
    fs::read_to_string("/proc/sys/net/ipv6/bindv6only").is_ok_and(|v| v.trim() == "1")
}

/// The unix listener bound to `path`, comparing resolved paths too (`/var/run` is a
/// symlink to `/run` on most distributions, and Debian's `/run/php/php-fpm.sock` is an
/// alternatives symlink to the versioned socket).
pub fn unix_listening<'a>(listeners: &'a [Listener], path: &Path) -> Option<&'a Listener> {
    let resolved = fs::canonicalize(path).ok();
    listeners.iter().find(|l| match &l.addr {
        Endpoint::Unix(bound) => {
            bound == path
                || resolved
                    .as_ref()
                    .is_some_and(|r| fs::canonicalize(bound).is_ok_and(|b| &b == r))
        }
        Endpoint::Tcp(_) => false,
    })
}

/// The `ss` command an administrator would run to see the same thing, for evidence and
/// "run this yourself" hints: `ss -Htlnp 'sport = :9000'`, `ss -Hxlp src /run/php.sock`.
pub fn ss_equivalent(addr: &ListenAddr) -> String {
    match addr {
        Endpoint::Tcp(a) => format!("ss -Htlnp 'sport = :{}'", a.port()),
        Endpoint::Unix(p) => format!("ss -Hxlp src {}", shell_quote(&p.to_string_lossy())),
    }
}

/// A path as the shell reads it, with what could steer a terminal replaced
/// first (see [`crate::shell::is_plain`] for what stays unquoted).
fn shell_quote(word: &str) -> String {
    crate::shell::quote(&sanitize(word))
}

/// LISTEN rows of `/proc/net/tcp{,6}`:
/// `sl local_address rem_address st tx_queue:rx_queue tr:when retrnsmt uid timeout inode ...`.
fn parse_proc_net_tcp(text: &str, v6: bool) -> Vec<Listener> {
    const TCP_LISTEN: &str = "0A";
    let row = |line: &str| -> Option<Listener> {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.get(3)? != &TCP_LISTEN {
            return None;
        }
        let addr = parse_hex_socket_addr(f.get(1)?, v6)?;
        let (_, rx) = f.get(4)?.split_once(':')?;
        Some(Listener {
            addr: Endpoint::Tcp(addr),
            inode: f.get(9)?.parse().ok()?,
            // For a listener, the kernel prints the accept-queue length as rx_queue.
            queue: u32::from_str_radix(rx, 16).ok(),
            backlog: None,
            v6only: None,
            pids: Vec::new(),
        })
    };
    text.lines().skip(1).filter_map(row).collect()
}

/// `0100007F:1F90` → 127.0.0.1:8080. The kernel prints each 32-bit word of the address as
/// a host-order integer (`%08X`), so the bytes come back with `to_ne_bytes`; the port is
/// already in host order.
fn parse_hex_socket_addr(field: &str, v6: bool) -> Option<SocketAddr> {
    let (ip_hex, port_hex) = field.split_once(':')?;
    let port = u16::from_str_radix(port_hex, 16).ok()?;
    let words = ip_hex.as_bytes().chunks(8).map(|w| {
        let w = std::str::from_utf8(w).ok()?;
        Some(u32::from_str_radix(w, 16).ok()?.to_ne_bytes())
    });
    let bytes: Vec<u8> = words.collect::<Option<Vec<_>>>()?.concat();
    let ip = match (v6, bytes.len()) {
        (false, 4) => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        (true, 16) => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Listening rows of `/proc/net/unix`: `Num RefCount Protocol Flags Type St Inode Path`.
/// The path is the rest of the line (it may contain spaces); unnamed sockets are skipped.
fn parse_proc_net_unix(text: &str) -> Vec<Listener> {
    const SO_ACCEPTCON: u32 = 0x10000;
    let row = |line: &str| -> Option<Listener> {
        let (fields, path) = split_fields(line, 7);
        let flags = u32::from_str_radix(fields.get(3)?, 16).ok()?;
        if flags & SO_ACCEPTCON == 0 || path.is_empty() {
            return None;
        }
        Some(Listener {
            addr: Endpoint::Unix(PathBuf::from(path)),
            inode: fields.get(6)?.parse().ok()?,
            queue: None,
            backlog: None,
            v6only: None,
            pids: Vec::new(),
        })
    };
    text.lines().skip(1).filter_map(row).collect()
}

/// The first `n` whitespace-separated fields and the remainder of `line`, trimmed.
fn split_fields(line: &str, n: usize) -> (Vec<&str>, &str) {
    let mut fields = Vec::with_capacity(n);
    let mut rest = line.trim_start();
    while fields.len() < n && !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        fields.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    (fields, rest.trim_end())
}

/// Fills queue, backlog and v6only from sock_diag; a failing query leaves `/proc` facts.
fn enrich_from_sock_diag(found: &mut [Listener]) {
    let mut by_inode = HashMap::new();
    let queries = [
        sock_diag::tcp_listeners(libc::AF_INET as u8),
        sock_diag::tcp_listeners(libc::AF_INET6 as u8),
        sock_diag::unix_listeners(),
    ];
    for diag in queries.into_iter().flatten().flatten() {
        by_inode.insert(diag.inode, diag);
    }
    for l in found.iter_mut() {
        if let Some(d) = by_inode.get(&l.inode) {
            l.queue = Some(d.queue);
            l.backlog = Some(d.backlog);
            l.v6only = d.v6only;
        }
    }
}

/// Finds the pids holding each listener's inode by reading `/proc/*/fd/*` links.
fn attach_owners(found: &mut [Listener]) {
    let wanted: HashSet<u64> = found.iter().map(|l| l.inode).collect();
    let mut owners = holders(&wanted);
    for l in found.iter_mut() {
        l.pids = owners.remove(&l.inode).unwrap_or_default();
    }
}

/// `socket:[12345]` → 12345.
fn socket_inode(fd_link: &Path) -> Option<u64> {
    let target = fs::read_link(fd_link).ok()?;
    let text = target.to_str()?;
    text.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::unix::net::UnixListener;

    fn tcp(addr: &str, v6only: Option<bool>) -> Listener {
        Listener {
            addr: Endpoint::Tcp(addr.parse().expect("socket addr literal")),
            inode: 1,
            queue: Some(0),
            backlog: Some(511),
            v6only,
            pids: Vec::new(),
        }
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().expect("socket addr literal")
    }

    #[test]
    fn ipv4_hex_address_is_little_endian_words() {
        assert_eq!(
            parse_hex_socket_addr("0100007F:1F90", false),
            Some(sa("127.0.0.1:8080"))
        );
    }

    #[test]
    fn ipv6_hex_address_is_four_host_order_words() {
        let loopback = "00000000000000000000000001000000:2328";
        assert_eq!(
            parse_hex_socket_addr(loopback, true),
            Some(sa("[::1]:9000"))
        );
        let doc = "B80D0120000000000000000001000000:0050";
        assert_eq!(
            parse_hex_socket_addr(doc, true),
            Some(sa("[2001:db8::1]:80"))
        );
    }

    #[test]
    fn malformed_hex_address_is_rejected() {
        assert_eq!(parse_hex_socket_addr("0100007G:1F90", false), None);
        assert_eq!(parse_hex_socket_addr("0100007F", false), None);
        assert_eq!(parse_hex_socket_addr("0100007F:1F90", true), None);
    }

    #[test]
    fn only_listen_rows_of_proc_net_tcp_are_kept() {
        let text = [
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid",
            "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0 0 4242",
            "   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000    33 0 4243",
        ]
        .join("\n");
        let rows = parse_proc_net_tcp(&text, false);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].addr, Endpoint::Tcp(sa("127.0.0.1:8080")));
        assert_eq!((rows[0].inode, rows[0].queue), (4242, Some(3)));
    }

    #[test]
    fn unix_rows_keep_paths_with_spaces_and_skip_unnamed() {
        let text = "Num       RefCount Protocol Flags    Type St Inode Path\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 30793 /srv/my dir/php.sock\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 30794\n\
            0000000000000000: 00000003 00000000 00000000 0001 03 30795 /run/client.sock\n";
        let rows = parse_proc_net_unix(text);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].addr,
            Endpoint::Unix(PathBuf::from("/srv/my dir/php.sock"))
        );
        assert_eq!(rows[0].inode, 30793);
    }

    #[test]
    fn real_ipv6_loopback_listener_is_listed_with_owner() {
        let listener = TcpListener::bind("[::1]:0").expect("bind ::1");
        let addr = listener.local_addr().expect("addr");
        let all = listeners();
        let found = listening_on_port(&all, addr.port());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].addr, Endpoint::Tcp(addr));
        assert_eq!(found[0].backlog, Some(128));
        assert!(found[0].pids.contains(&(std::process::id() as i32)));
    }

    #[test]
    fn real_ipv4_listener_accepts_its_address_only() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let all = listeners();
        assert!(accepts(&all, &sa(&format!("127.0.0.1:{port}"))));
        assert!(!accepts(&all, &sa(&format!("[::1]:{port}"))));
        assert!(!accepts(&all, &sa(&format!("127.0.0.2:{port}"))));
    }

    #[test]
    fn real_unix_listener_is_found_through_a_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("php8.2-fpm.sock");
        let _listener = UnixListener::bind(&path).expect("bind");
        let link = dir.path().join("php-fpm.sock");
        std::os::unix::fs::symlink(&path, &link).expect("symlink");
        let all = listeners();
        let found = unix_listening(&all, &link).expect("listener via symlink");
        assert_eq!(found.addr, Endpoint::Unix(path));
        assert_eq!(found.queue, Some(0));
        assert!(found.backlog.is_some_and(|b| b > 0));
        assert!(found.pids.contains(&(std::process::id() as i32)));
    }

    #[test]
    fn stale_unix_socket_file_is_not_listening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stale.sock");
        drop(UnixListener::bind(&path).expect("bind"));
        assert!(path.exists());
        assert!(unix_listening(&listeners(), &path).is_none());
    }

    #[test]
    fn dual_stack_wildcard_accepts_ipv4() {
        let l = [tcp("[::]:9000", Some(false))];
        assert!(accepts(&l, &sa("127.0.0.1:9000")));
        assert!(accepts(&l, &sa("[::1]:9000")));
        assert!(!accepts(&l, &sa("127.0.0.1:9001")));
    }

    #[test]
    fn v6only_wildcard_refuses_ipv4() {
        let l = [tcp("[::]:9000", Some(true))];
        assert!(!accepts(&l, &sa("127.0.0.1:9000")));
    }

    #[test]
    fn ipv4_wildcard_refuses_ipv6() {
        let l = [tcp("0.0.0.0:9000", None)];
        assert!(accepts(&l, &sa("10.1.2.3:9000")));
        assert!(!accepts(&l, &sa("[::1]:9000")));
    }

    #[test]
    fn mapped_ipv6_target_matches_ipv4_listener() {
        let l = [tcp("127.0.0.1:9000", None)];
        assert!(accepts(&l, &sa("[::ffff:127.0.0.1]:9000")));
    }

    #[test]
    fn ss_equivalent_quotes_odd_paths() {
        let tcp = Endpoint::Tcp(sa("127.0.0.1:9000"));
        assert_eq!(ss_equivalent(&tcp), "ss -Htlnp 'sport = :9000'");
        let unix = Endpoint::Unix(PathBuf::from("/run/php/php8.2-fpm.sock"));
        assert_eq!(
            ss_equivalent(&unix),
            "ss -Hxlp src /run/php/php8.2-fpm.sock"
        );
        let odd = Endpoint::Unix(PathBuf::from("/tmp/it's here;rm"));
        assert_eq!(ss_equivalent(&odd), r"ss -Hxlp src '/tmp/it'\''s here;rm'");
    }

    #[test]
    fn real_php_fpm_sockets_are_owned_by_its_processes() {
        let Some(fpm) = crate::host::testing::PhpFpm::start() else {
            return;
        };
        let all = listeners();
        let tcp = listening_on_port(&all, fpm.tcp_addr().port());
        assert_eq!(tcp.len(), 1);
        assert!(tcp[0].pids.contains(&fpm.pid()));
        assert!(
            tcp[0].pids.len() >= 2,
            "master and worker: {:?}",
            tcp[0].pids
        );
        let unix = unix_listening(&all, &fpm.unix_path()).expect("unix pool socket");
        assert!(unix.pids.contains(&fpm.pid()));
        assert!(accepts(&all, &fpm.tcp_addr()));
    }
}
