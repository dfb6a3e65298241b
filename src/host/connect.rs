//! Connecting to an upstream the way nginx does, and asking what speaks there. `connect`
//! reproduces nginx's `connect() ... failed (errno: ...)` with the same errno (it connects
//! non-blocking, so a full unix accept queue gives EAGAIN exactly as nginx logs it);
//! `fastcgi_ping`, `http_get` and `tls_sniff` send one harmless greeting and classify the
//! first bytes back, which tells a php-fpm port from an HTTP or TLS one (wrong `*_pass`).
//!
//! Every exchange is bounded by one deadline and a byte cap. The probe runs as its own user:
//! as root it passes socket permissions that stop nginx's workers (see `users`).

mod http;
mod reply;
mod speaks;

pub use http::{HttpError, HttpReply, http_get, tls_sniff};
pub use reply::{FcgiReply, Reply, StreamEnd, fastcgi_ping};
pub use speaks::{Speaks, speaks};

use super::Endpoint;
use crate::sanitize::for_terminal;
use nix::libc;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Where to connect: the same type as a listener's address, so a listener found in the
/// socket table can be connected to directly.
pub type Target = Endpoint;

/// How a connect attempt ended, with nginx's errno where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectResult {
    /// Connected.
    Ok,
    /// ECONNREFUSED (111): nothing listens (TCP) or a stale socket file (unix).
    Refused,
    /// ENOENT (2): the unix socket path does not exist.
    NoSuchFile,
    /// EACCES (13): socket or directory permissions (unix), SELinux (TCP).
    PermissionDenied,
    /// No answer within the timeout (SYN dropped): nginx's 504 "while connecting".
    TimedOut,
    /// EAGAIN (11): the unix socket's accept queue is full.
    WouldBlock,
    /// ENETUNREACH (101) or EHOSTUNREACH (113): routing or an ICMP reject.
    Unreachable(i32),
    /// Any other errno (0 when the OS gave none), with its description.
    Other(i32, String),
}

impl ConnectResult {
    /// The errno nginx would log for this outcome (`None` for `Ok`).
    pub fn errno(&self) -> Option<i32> {
        match self {
            ConnectResult::Ok => None,
            ConnectResult::Refused => Some(libc::ECONNREFUSED),
            ConnectResult::NoSuchFile => Some(libc::ENOENT),
            ConnectResult::PermissionDenied => Some(libc::EACCES),
            ConnectResult::TimedOut => Some(libc::ETIMEDOUT),
            ConnectResult::WouldBlock => Some(libc::EAGAIN),
            ConnectResult::Unreachable(e) | ConnectResult::Other(e, _) => Some(*e),
        }
    }

    fn from_io(err: &io::Error) -> ConnectResult {
        match err.raw_os_error() {
            Some(libc::ECONNREFUSED) => ConnectResult::Refused,
            Some(libc::ENOENT) => ConnectResult::NoSuchFile,
            Some(libc::EACCES) => ConnectResult::PermissionDenied,
            Some(libc::ETIMEDOUT) => ConnectResult::TimedOut,
            Some(libc::EAGAIN) => ConnectResult::WouldBlock,
            Some(e @ (libc::ENETUNREACH | libc::EHOSTUNREACH)) => ConnectResult::Unreachable(e),
            Some(e) => ConnectResult::Other(e, errno_text(e)),
            None if err.kind() == io::ErrorKind::TimedOut => ConnectResult::TimedOut,
            None => ConnectResult::Other(0, for_terminal(err.to_string().as_bytes())),
        }
    }
}

impl fmt::Display for ConnectResult {
    /// `connected`, or nginx's `(111: Connection refused)` form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errno() {
            None => write!(f, "connected"),
            Some(e) => write!(f, "({e}: {})", errno_text(e)),
        }
    }
}

/// The C library's `strerror()` text, which is what nginx prints after the errno.
fn errno_text(e: i32) -> String {
    let text = io::Error::from_raw_os_error(e).to_string();
    let suffix = format!(" (os error {e})");
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

/// Connects to `target` and closes again; TCP waits at most `timeout`, unix never waits.
pub fn connect(target: &Target, timeout: Duration) -> ConnectResult {
    match open(target, timeout) {
        Ok(_) => ConnectResult::Ok,
        Err(failed) => failed,
    }
}

/// An open stream of either kind, so the exchanges below are written once.
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn set_timeouts(&self, t: Duration) -> io::Result<()> {
        let t = Some(t.max(Duration::from_millis(1)));
        match self {
            Conn::Tcp(s) => s.set_read_timeout(t).and(s.set_write_timeout(t)),
            Conn::Unix(s) => s.set_read_timeout(t).and(s.set_write_timeout(t)),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Opens a stream to `target`, or says why not.
fn open(target: &Target, timeout: Duration) -> Result<Conn, ConnectResult> {
    let opened = match target {
        Endpoint::Tcp(addr) => {
            TcpStream::connect_timeout(addr, timeout.max(Duration::from_millis(1))).map(Conn::Tcp)
        }
        Endpoint::Unix(path) => connect_unix_nonblocking(path).map(Conn::Unix),
    };
    opened.map_err(|e| ConnectResult::from_io(&e))
}

/// A unix connect as nginx makes it: non-blocking, so a full accept queue fails at once with
/// EAGAIN instead of waiting for room (std's `UnixStream::connect` would block).
fn connect_unix_nonblocking(path: &Path) -> io::Result<UnixStream> {
    let (addr, len) = sockaddr_un(path)?;
    let kind = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: socket() takes no pointers; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_UNIX, kind, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor owned by nothing else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let addr_ptr = (&raw const addr).cast::<libc::sockaddr>();
    // SAFETY: addr_ptr points to a live sockaddr_un of which `len` bytes are initialised.
    if unsafe { libc::connect(sock.as_raw_fd(), addr_ptr, len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let stream = UnixStream::from(sock);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// `struct sockaddr_un` for `path`; a leading `@` names an abstract socket (as `ss` shows).
fn sockaddr_un(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    let mut addr = libc::sockaddr_un {
        sun_family: libc::AF_UNIX as libc::sa_family_t,
        sun_path: [0; 108],
    };
    let bytes = path.as_os_str().as_bytes();
    let (name, abstract_ns) = match bytes.strip_prefix(b"@") {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    if name.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    let start = usize::from(abstract_ns);
    // A pathname needs room for its NUL terminator; an abstract name does not.
    if start + name.len() + usize::from(!abstract_ns) > addr.sun_path.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    for (dst, src) in addr.sun_path[start..].iter_mut().zip(name) {
        *dst = *src as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + start + name.len();
    let len = libc::socklen_t::try_from(len).map_err(io::Error::other)?;
    Ok((addr, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::free_port;
    use std::net::{SocketAddr, TcpListener};
    use std::os::unix::net::UnixListener;
    use std::path::PathBuf;

    const T: Duration = Duration::from_secs(3);

    /// Shrinks a listener's backlog to 0 (a second `listen()` updates it), so one pending
    /// connection fills the queue.
    fn shrink_backlog(fd: &impl AsRawFd) {
        // SAFETY: listen() on a valid, already listening descriptor.
        assert_eq!(unsafe { libc::listen(fd.as_raw_fd(), 0) }, 0);
    }

    #[test]
    fn tcp_connect_to_a_listener_succeeds() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let target = Endpoint::Tcp(listener.local_addr().expect("addr"));
        assert_eq!(connect(&target, T), ConnectResult::Ok);
    }

    #[test]
    fn tcp_connect_to_a_closed_port_is_refused() {
        let target = Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], free_port())));
        let got = connect(&target, T);
        assert_eq!(got, ConnectResult::Refused);
        assert_eq!(got.to_string(), "(111: Connection refused)");
    }

    #[test]
    fn tcp_connect_to_a_full_accept_queue_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        shrink_backlog(&listener);
        let addr = listener.local_addr().expect("addr");
        let _queued = TcpStream::connect(addr).expect("first connection is queued");
        let got = connect(&Endpoint::Tcp(addr), Duration::from_millis(300));
        assert_eq!(got, ConnectResult::TimedOut);
        assert_eq!(got.errno(), Some(110));
    }

    #[test]
    fn unix_connect_to_a_listener_succeeds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ok.sock");
        let _listener = UnixListener::bind(&path).expect("bind");
        assert_eq!(connect(&Endpoint::Unix(path), T), ConnectResult::Ok);
    }

    #[test]
    fn unix_connect_to_a_missing_path_is_no_such_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let got = connect(&Endpoint::Unix(dir.path().join("missing.sock")), T);
        assert_eq!(got, ConnectResult::NoSuchFile);
        assert_eq!(got.to_string(), "(2: No such file or directory)");
    }

    #[test]
    fn unix_connect_to_a_stale_socket_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stale.sock");
        drop(UnixListener::bind(&path).expect("bind"));
        assert_eq!(connect(&Endpoint::Unix(path), T), ConnectResult::Refused);
    }

    #[test]
    fn unix_connect_to_a_full_queue_would_block() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("full.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        shrink_backlog(&listener);
        let target = Endpoint::Unix(path);
        assert_eq!(connect(&target, T), ConnectResult::Ok);
        let got = connect(&target, T);
        assert_eq!(got, ConnectResult::WouldBlock);
        assert_eq!(got.to_string(), "(11: Resource temporarily unavailable)");
    }

    #[test]
    fn abstract_unix_socket_is_reachable_by_at_name() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("nginx-doctor-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).expect("name");
        let _listener = UnixListener::bind_addr(&addr).expect("bind abstract");
        let target = Endpoint::Unix(PathBuf::from(format!("@{name}")));
        assert_eq!(connect(&target, T), ConnectResult::Ok);
    }

    #[test]
    fn overlong_unix_path_is_rejected_before_connecting() {
        let long = PathBuf::from(format!("/{}", "a".repeat(120)));
        let got = connect(&Endpoint::Unix(long), T);
        assert_eq!(got.errno(), Some(libc::ENAMETOOLONG));
    }

    #[test]
    fn errno_mapping_matches_nginx_log_numbers() {
        let of = |e| ConnectResult::from_io(&io::Error::from_raw_os_error(e));
        assert_eq!(of(libc::EACCES), ConnectResult::PermissionDenied);
        assert_eq!(of(libc::EHOSTUNREACH), ConnectResult::Unreachable(113));
        assert_eq!(
            of(libc::ENETUNREACH).to_string(),
            "(101: Network is unreachable)"
        );
        let ninety_nine = of(libc::EADDRNOTAVAIL);
        assert_eq!(
            ninety_nine.to_string(),
            "(99: Cannot assign requested address)"
        );
    }
}
