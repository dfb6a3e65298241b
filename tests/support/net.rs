//! Loopback plumbing for the lab: free ports, waiting (with a deadline, never a fixed
//! sleep) until a server accepts, and a minimal HTTP/1.0 client that returns the status.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Where a server listens: what `fastcgi_pass`/`proxy_pass` points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addr {
    /// A loopback TCP address.
    Tcp(SocketAddr),
    /// A unix stream socket path.
    Unix(PathBuf),
}

impl Addr {
    /// The address as an nginx `*_pass` target: `127.0.0.1:PORT` or `unix:/path`.
    pub fn nginx_target(&self) -> String {
        match self {
            Addr::Tcp(a) => a.to_string(),
            Addr::Unix(p) => format!("unix:{}", p.display()),
        }
    }

    /// True when a connect() to it succeeds now.
    pub fn accepts(&self) -> bool {
        match self {
            Addr::Tcp(a) => TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok(),
            Addr::Unix(p) => UnixStream::connect(p).is_ok(),
        }
    }
}

/// A loopback address whose port was free a moment ago (bind :0, read, drop). Another
/// process may take it before we do: callers retry their start on a bind failure.
pub fn free_port() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("local_addr of a bound listener")
}

/// Why a server did not come up.
#[derive(Debug)]
pub enum NotUp {
    /// The process exited before it accepted.
    Exited,
    /// It still runs but did not accept before the deadline.
    Timeout,
}

/// Polls `addr` every 20 ms until it accepts, the process exits (`exited` returns true),
/// or `limit` passes.
pub fn wait_accepting(
    addr: &Addr,
    limit: Duration,
    mut exited: impl FnMut() -> bool,
) -> Result<(), NotUp> {
    let deadline = Instant::now() + limit;
    loop {
        if addr.accepts() {
            return Ok(());
        }
        if exited() {
            return Err(NotUp::Exited);
        }
        if Instant::now() >= deadline {
            return Err(NotUp::Timeout);
        }
        sleep(Duration::from_millis(20));
    }
}

/// One `GET path HTTP/1.0` to 127.0.0.1:`port`, every socket operation bounded by
/// `timeout`; returns the response status code.
pub fn http_get(port: u16, path: &str, timeout: Duration) -> io::Result<u16> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    parse_status(&response).ok_or_else(|| {
        let head = String::from_utf8_lossy(&response[..response.len().min(200)]).into_owned();
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no HTTP status line in {head:?}"),
        )
    })
}

/// The status code of `HTTP/1.x NNN ...`.
fn parse_status(response: &[u8]) -> Option<u16> {
    let line = response.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    if !words.next()?.starts_with("HTTP/") {
        return None;
    }
    words.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_read_from_the_status_line() {
        assert_eq!(
            parse_status(b"HTTP/1.1 502 Bad Gateway\r\nServer: x\r\n"),
            Some(502)
        );
    }

    #[test]
    fn a_reply_without_status_line_has_no_status() {
        assert_eq!(parse_status(b"garbage\r\n"), None);
        assert_eq!(parse_status(b""), None);
    }

    #[test]
    fn free_port_is_bindable_again() {
        let addr = free_port();
        assert!(TcpListener::bind(addr).is_ok());
    }
}
