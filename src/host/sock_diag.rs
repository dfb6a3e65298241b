//! The kernel's socket-diagnostics netlink interface (`NETLINK_SOCK_DIAG`, what `ss` uses),
//! queried for listening sockets only. `/proc/net/*` lacks three facts that matter for a 502:
//! the backlog limit of every listener, the accept-queue length of unix listeners (a full
//! queue is nginx's `(11: Resource temporarily unavailable)`), and whether an IPv6 wildcard
//! also accepts IPv4 (`IPV6_V6ONLY`). This module fetches them, keyed by socket inode.
//!
//! It talks to the kernel with raw `socket(2)`; the layouts are the stable uapi structs from
//! `<linux/sock_diag.h>`, `<linux/inet_diag.h>` and `<linux/unix_diag.h>`. Any failure (old
//! kernel, seccomp in a container) yields an error and the caller keeps the `/proc` facts.

use nix::libc;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_HDRLEN: usize = 16;
const TCP_LISTEN: u32 = 10;
const UDIAG_SHOW_RQLEN: u32 = 0x10;
const UNIX_DIAG_RQLEN: u16 = 4;
const INET_DIAG_SKV6ONLY: u16 = 11;
/// `struct unix_diag_msg`: family, type, state, pad, ino, cookie[2].
const UNIX_DIAG_MSG_LEN: usize = 16;
/// `struct inet_diag_msg`: 4 bytes, 48-byte sockid, expires, rqueue, wqueue, uid, inode.
const INET_DIAG_MSG_LEN: usize = 72;
/// Stop after this many reads: a dump of listeners is a few messages, never thousands.
const MAX_READS: usize = 4096;

/// What the kernel reports about one listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DiagListener {
    /// Socket inode, the key shared with `/proc/net/*` and `/proc/PID/fd`.
    pub inode: u64,
    /// Connections waiting in the accept queue.
    pub queue: u32,
    /// The backlog limit given to `listen()` (clamped by `net.core.somaxconn`).
    pub backlog: u32,
    /// `IPV6_V6ONLY` of an IPv6 socket; `None` for IPv4 and unix sockets.
    pub v6only: Option<bool>,
}

/// Listening TCP sockets of `family` (`AF_INET` or `AF_INET6`).
pub(super) fn tcp_listeners(family: u8) -> io::Result<Vec<DiagListener>> {
    let mut req = Vec::with_capacity(56);
    req.extend_from_slice(&[family, libc::IPPROTO_TCP as u8, 0, 0]);
    req.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    req.extend_from_slice(&[0u8; 48]); // inet_diag_sockid: match any
    let payloads = dump(&req)?;
    Ok(payloads.iter().filter_map(|p| parse_inet_msg(p)).collect())
}

/// Listening unix sockets (stream and seqpacket).
pub(super) fn unix_listeners() -> io::Result<Vec<DiagListener>> {
    let mut req = Vec::with_capacity(24);
    req.extend_from_slice(&[libc::AF_UNIX as u8, 0, 0, 0]);
    req.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes()); // udiag_ino: any
    req.extend_from_slice(&UDIAG_SHOW_RQLEN.to_ne_bytes());
    req.extend_from_slice(&[0u8; 8]); // cookie
    let payloads = dump(&req)?;
    Ok(payloads.iter().filter_map(|p| parse_unix_msg(p)).collect())
}

/// Sends one dump request and collects the payload of every answer message.
fn dump(request: &[u8]) -> io::Result<Vec<Vec<u8>>> {
    let mut sock = open_netlink()?;
    let len = u32::try_from(NLMSG_HDRLEN + request.len()).map_err(io::Error::other)?;
    let mut msg = Vec::with_capacity(len as usize);
    msg.extend_from_slice(&len.to_ne_bytes());
    msg.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
    msg.extend_from_slice(&0u32.to_ne_bytes()); // port id: let the kernel assign
    msg.extend_from_slice(request);
    sock.write_all(&msg)?;

    let mut payloads = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    for _ in 0..MAX_READS {
        let n = sock.read(&mut buf)?;
        if n == 0 || split_messages(&buf[..n], &mut payloads)? {
            return Ok(payloads);
        }
    }
    Err(io::Error::other("sock_diag dump did not end"))
}

/// Appends the `SOCK_DIAG_BY_FAMILY` payloads in `datagram`; true once `NLMSG_DONE` is seen.
fn split_messages(mut datagram: &[u8], payloads: &mut Vec<Vec<u8>>) -> io::Result<bool> {
    while datagram.len() >= NLMSG_HDRLEN {
        let len = u32_at(datagram, 0).unwrap_or(0) as usize;
        let kind = u16::from_ne_bytes([datagram[4], datagram[5]]);
        if len < NLMSG_HDRLEN || len > datagram.len() {
            return Err(io::Error::other("truncated netlink message"));
        }
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let errno = u32_at(datagram, NLMSG_HDRLEN).map_or(0, |e| e as i32);
                return Err(io::Error::from_raw_os_error(-errno));
            }
            SOCK_DIAG_BY_FAMILY => payloads.push(datagram[NLMSG_HDRLEN..len].to_vec()),
            _ => {}
        }
        datagram = datagram.get(align4(len)..).unwrap_or(&[]);
    }
    Ok(false)
}

fn parse_inet_msg(p: &[u8]) -> Option<DiagListener> {
    let family = *p.first()?;
    let queue = u32_at(p, 56)?;
    let backlog = u32_at(p, 60)?;
    let inode = u64::from(u32_at(p, 68)?);
    let v6only = match find_attr(p.get(INET_DIAG_MSG_LEN..)?, INET_DIAG_SKV6ONLY) {
        Some(data) if family == libc::AF_INET6 as u8 => data.first().map(|b| *b != 0),
        _ => None,
    };
    Some(DiagListener {
        inode,
        queue,
        backlog,
        v6only,
    })
}

fn parse_unix_msg(p: &[u8]) -> Option<DiagListener> {
    let inode = u64::from(u32_at(p, 4)?);
    let rqlen = find_attr(p.get(UNIX_DIAG_MSG_LEN..)?, UNIX_DIAG_RQLEN)?;
    Some(DiagListener {
        inode,
        queue: u32_at(rqlen, 0)?,
        backlog: u32_at(rqlen, 4)?,
        v6only: None,
    })
}

/// The data of the first route attribute of type `wanted` (`struct rtattr` list).
fn find_attr(mut attrs: &[u8], wanted: u16) -> Option<&[u8]> {
    while attrs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]);
        let data = attrs.get(4..len)?;
        if kind == wanted {
            return Some(data);
        }
        attrs = attrs.get(align4(len)..)?;
    }
    None
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// A non-blocking netlink socket wrapped in a `File` (read/write work on sockets), so the
/// only unsafe code is the `socket()` call. Non-blocking: a kernel that never answers must
/// not hang the diagnosis; dumps are produced synchronously within send and recv.
fn open_netlink() -> io::Result<File> {
    const NETLINK_SOCK_DIAG: libc::c_int = 4;
    let flags = libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: socket() takes no pointers; the returned descriptor is checked, then owned.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, flags, NETLINK_SOCK_DIAG) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::linux::fs::MetadataExt;
    use std::os::unix::net::UnixListener;

    fn inode_of(fd: &impl AsRawFd) -> u64 {
        let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
        std::fs::metadata(link).expect("fd stat").st_ino()
    }

    #[test]
    fn tcp_listener_reports_its_backlog_and_v6only() {
        let listener = std::net::TcpListener::bind("[::1]:0").expect("bind ::1");
        let inode = inode_of(&listener);
        let found = tcp_listeners(libc::AF_INET6 as u8).expect("sock_diag");
        let me = found
            .iter()
            .find(|l| l.inode == inode)
            .expect("own listener");
        // std listens with a backlog of 128 on Linux (clamped by somaxconn).
        assert_eq!(me.backlog, 128);
        assert_eq!(me.queue, 0);
        assert!(me.v6only.is_some());
    }

    #[test]
    fn unix_listener_counts_queued_connections() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("q.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        // SAFETY: listen() on a valid listening descriptor; sets a known backlog.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 7) }, 0);
        let _waiting = std::os::unix::net::UnixStream::connect(&path).expect("connect");
        let found = unix_listeners().expect("sock_diag");
        let me = found.iter().find(|l| l.inode == inode_of(&listener));
        let me = me.expect("own listener");
        assert_eq!((me.queue, me.backlog), (1, 7));
    }

    #[test]
    fn netlink_error_message_becomes_an_io_error() {
        let mut msg = Vec::new();
        msg.extend_from_slice(&20u32.to_ne_bytes());
        msg.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        msg.extend_from_slice(&[0u8; 10]);
        msg.extend_from_slice(&(-libc::EPERM).to_ne_bytes());
        let err = split_messages(&msg, &mut Vec::new()).expect_err("error message");
        assert_eq!(err.raw_os_error(), Some(libc::EPERM));
    }

    #[test]
    fn truncated_message_is_rejected() {
        let mut msg = Vec::new();
        msg.extend_from_slice(&400u32.to_ne_bytes());
        msg.extend_from_slice(&[0u8; 12]);
        assert!(split_messages(&msg, &mut Vec::new()).is_err());
    }

    #[test]
    fn attribute_walk_stops_at_a_bad_length() {
        let attrs = [200u8, 0, 11, 0, 1];
        assert_eq!(find_attr(&attrs, INET_DIAG_SKV6ONLY), None);
    }
}
