//! Tiny misbehaving backends (the Rust twin of the catalogue's `backend.py`): a thread with
//! a loopback listener answering every connection the way its mode says, so proxy faults
//! reproduce without python. Two modes are not plain HTTP: `Tls` runs `openssl s_server`
//! with a self-signed certificate (see `tls`), `DnsNxdomain` is a UDP DNS server (see
//! `dns`). Every backend stops when dropped.

pub mod dns;
pub mod tls;

use super::proc::Guard;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle, sleep};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long `KeepaliveClose` keeps an idle connection open for its second request.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(120);

/// How the backend answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `200 OK`, body `ok`.
    Ok,
    /// Waits this long before `200 OK` (longer than `proxy_read_timeout` gives a 504).
    Sleep(Duration),
    /// Reads the request, then closes without a byte (FIN): "prematurely closed".
    Close,
    /// Closes with the request unread, so the kernel sends RST: "Connection reset by peer".
    Reset,
    /// A 12 KB response header: "upstream sent too big header".
    BigHeader,
    /// The backend itself answers `502 Bad Gateway` (nginx logs nothing).
    Status502,
    /// A real HTTP server's parser (Node, gunicorn): an HTTP request gets `200 OK`, anything
    /// else (FastCGI records, a TLS ClientHello) `400 Bad Request` at once. That reply is
    /// what nginx reads as "FastCGI protocol version: 72" or a TLS "wrong version number".
    Strict,
    /// A space in a header name: "upstream sent invalid header".
    BadHeader,
    /// HTTP/1.1 keep-alive that answers the first request on a connection and closes the
    /// connection when the second arrives: the idle-timeout race of catalogue G1, on demand.
    /// Non-HTTP bytes get `400` at once, as with `Strict`.
    KeepaliveClose,
    /// HTTP/1.1 keep-alive whose connections go stale after this idle time: a request
    /// that arrives on a connection idle that long is lost (the connection closes
    /// unanswered), as when the backend's idle timer fires just as nginx reuses the
    /// connection (catalogue G1). Requests sooner than that are answered.
    IdleTimeout(Duration),
    /// HTTPS with a self-signed certificate for `backend.test` (`openssl s_server -www`).
    Tls,
    /// A UDP DNS server answering every query "no such name" (NXDOMAIN, rcode 3).
    DnsNxdomain,
}

/// A running backend; dropping it stops it.
pub struct Backend {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    process: Option<Guard>,
    _files: Option<TempDir>,
}

impl Backend {
    /// Serves `mode` on a free 127.0.0.1 port (no race: the listener is kept).
    pub fn start(mode: Mode) -> io::Result<Backend> {
        Backend::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST), mode)
    }

    /// Serves `mode` on a free port of `ip`, e.g. `::1` for a backend nginx cannot reach
    /// at 127.0.0.1. `Tls` always listens on 127.0.0.1.
    pub fn start_on(ip: IpAddr, mode: Mode) -> io::Result<Backend> {
        let any_port = SocketAddr::new(ip, 0);
        match mode {
            Mode::Tls => tls::start(),
            Mode::DnsNxdomain => dns::start(any_port),
            _ => Backend::http(any_port, mode),
        }
    }

    /// Serves an HTTP `mode` at exactly `addr` (a backend that moves keeps its port).
    pub fn start_at(addr: SocketAddr, mode: Mode) -> io::Result<Backend> {
        Backend::http(addr, mode)
    }

    fn http(addr: SocketAddr, mode: Mode) -> io::Result<Backend> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || accept_loop(&listener, mode, &flag));
        Ok(Backend::threaded(addr, stop, thread))
    }

    /// A backend served by `thread`, which returns once `stop` is set.
    fn threaded(addr: SocketAddr, stop: Arc<AtomicBool>, thread: JoinHandle<()>) -> Backend {
        Backend {
            addr,
            stop,
            thread: Some(thread),
            process: None,
            _files: None,
        }
    }

    /// A backend that is a process (killed on drop) using files in `files`.
    fn process(addr: SocketAddr, process: Guard, files: TempDir) -> Backend {
        Backend {
            addr,
            stop: Arc::new(AtomicBool::new(true)),
            thread: None,
            process: Some(process),
            _files: Some(files),
        }
    }

    /// Where it listens (a UDP address for `DnsNxdomain`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(mut p) = self.process.take() {
            p.stop();
        }
    }
}

fn accept_loop(listener: &TcpListener, mode: Mode, stop: &Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((conn, _)) => {
                let flag = Arc::clone(stop);
                thread::spawn(move || {
                    let _ = serve(conn, mode, &flag);
                });
            }
            Err(_) => sleep(Duration::from_millis(10)),
        }
    }
}

fn serve(mut conn: TcpStream, mode: Mode, stop: &AtomicBool) -> io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    match mode {
        Mode::Reset => {
            // Wait until the request is queued, then close with it unread: RST, not FIN.
            let mut probe = [0u8; 1];
            conn.peek(&mut probe)?;
            return Ok(());
        }
        Mode::Close => {
            read_head(&mut conn)?;
            return Ok(());
        }
        Mode::Strict => return serve_strict(conn),
        Mode::KeepaliveClose => return serve_keepalive_close(conn),
        Mode::IdleTimeout(limit) => return serve_idle_timeout(conn, limit),
        _ => {
            read_head(&mut conn)?;
        }
    }
    let reply = match mode {
        Mode::Sleep(d) => {
            pause(d, stop);
            response("200 OK", "", true)
        }
        Mode::BigHeader => response(
            "200 OK",
            &format!("X-Big: {}\r\n", "a".repeat(12_000)),
            true,
        ),
        Mode::Status502 => response("502 Bad Gateway", "", true),
        Mode::BadHeader => response("200 OK", "Bad Name: x\r\n", true),
        _ => response("200 OK", "", true),
    };
    conn.write_all(reply.as_bytes())
}

/// Answers like a real HTTP server: a request line gets 200, anything else 400 at once.
fn serve_strict(mut conn: TcpStream) -> io::Result<()> {
    if !is_http(&conn)? {
        return reject(conn);
    }
    read_head(&mut conn)?;
    conn.write_all(response("200 OK", "", true).as_bytes())
}

/// Whether the first bytes waiting on `conn` start an HTTP request.
fn is_http(conn: &TcpStream) -> io::Result<bool> {
    let mut first = [0u8; 16];
    let n = conn.peek(&mut first)?;
    Ok(looks_like_http(&first[..n]))
}

/// A real server's answer to bytes that are not HTTP: `400 Bad Request`, then close.
fn reject(mut conn: TcpStream) -> io::Result<()> {
    conn.write_all(response("400 Bad Request", "", true).as_bytes())?;
    // Read what the peer sent before closing: closing with unread data sends RST, which
    // could destroy the reply before nginx reads it.
    conn.shutdown(Shutdown::Write)?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut sink = [0u8; 4096];
    while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}

/// An HTTP request starts with an upper-case method and a space ("GET ", "POST ").
fn looks_like_http(start: &[u8]) -> bool {
    let method = start.iter().take_while(|b| b.is_ascii_uppercase()).count();
    method > 0 && start.get(method) == Some(&b' ')
}

/// Answers the connection's first request and keeps it open; the second one finds the
/// connection closing under it, exactly as when a backend's idle timeout fires. Like the
/// Node servers this race is known from, it rejects non-HTTP bytes at once.
fn serve_keepalive_close(mut conn: TcpStream) -> io::Result<()> {
    if !is_http(&conn)? {
        return reject(conn);
    }
    if read_head(&mut conn)?.is_empty() {
        return Ok(());
    }
    conn.write_all(response("200 OK", "", false).as_bytes())?;
    // Idle for as long as a test may take between requests: closing on a timer here
    // would let nginx notice the close and drop the connection before reusing it.
    conn.set_read_timeout(Some(KEEPALIVE_IDLE))?;
    read_head(&mut conn)?;
    Ok(())
}

/// Answers every request of a kept-alive connection until one arrives after `limit` of
/// idleness, which is lost: the connection closes with it unanswered.
fn serve_idle_timeout(mut conn: TcpStream, limit: Duration) -> io::Result<()> {
    if !is_http(&conn)? {
        return reject(conn);
    }
    conn.set_read_timeout(Some(KEEPALIVE_IDLE))?;
    let mut answered: Option<Instant> = None;
    loop {
        if read_head(&mut conn)?.is_empty() {
            return Ok(());
        }
        if answered.is_some_and(|t| t.elapsed() >= limit) {
            return Ok(());
        }
        conn.write_all(response("200 OK", "", false).as_bytes())?;
        answered = Some(Instant::now());
    }
}

/// Sleeps `d` in slices so a stopped backend does not hold its threads for long.
fn pause(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
        sleep(Duration::from_millis(20));
    }
}

/// Reads a request head (up to the blank line, at most 1 MiB); empty at end of stream.
fn read_head(conn: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 1 << 20 {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(head)
}

fn response(status: &str, extra_headers: &str, close: bool) -> String {
    let body = if status.starts_with("200") {
        "ok\n".to_string()
    } else {
        format!("backend says {status}\n")
    };
    let connection = if close { "Connection: close\r\n" } else { "" };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{extra_headers}{connection}\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::net::http_get;
    use std::net::Ipv6Addr;

    const T: Duration = Duration::from_secs(5);

    /// Sends raw bytes, half-closes, returns everything the backend answered.
    fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(T)).expect("timeout");
        s.write_all(request).expect("send");
        let mut reply = Vec::new();
        let _ = s.read_to_end(&mut reply);
        reply
    }

    #[test]
    fn ok_backend_answers_200() {
        let b = Backend::start(Mode::Ok).expect("start backend");
        assert_eq!(http_get(b.addr().port(), "/", T).expect("GET"), 200);
    }

    #[test]
    fn status502_backend_answers_502_itself() {
        let b = Backend::start(Mode::Status502).expect("start backend");
        assert_eq!(http_get(b.addr().port(), "/", T).expect("GET"), 502);
    }

    #[test]
    fn reset_backend_resets_the_connection() {
        let b = Backend::start(Mode::Reset).expect("start backend");
        let err = http_get(b.addr().port(), "/", T).expect_err("a reset is no response");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
    }

    #[test]
    fn close_backend_sends_nothing() {
        let b = Backend::start(Mode::Close).expect("start backend");
        let err = http_get(b.addr().port(), "/", T).expect_err("an empty reply has no status");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    }

    #[test]
    fn strict_backend_serves_http_and_rejects_anything_else() {
        let b = Backend::start(Mode::Strict).expect("start backend");
        assert_eq!(http_get(b.addr().port(), "/", T).expect("GET"), 200);
        let reply = exchange(b.addr(), b"\x01\x01\x00\x01\x00\x08\x00\x00");
        assert!(reply.starts_with(b"HTTP/1.1 400 "), "{reply:?}");
    }

    #[test]
    fn bad_header_backend_sends_a_space_in_a_header_name() {
        let b = Backend::start(Mode::BadHeader).expect("start backend");
        let reply = exchange(b.addr(), b"GET / HTTP/1.0\r\n\r\n");
        assert!(
            String::from_utf8_lossy(&reply).contains("\r\nBad Name: x\r\n"),
            "{reply:?}"
        );
    }

    #[test]
    fn keepalive_close_backend_answers_only_the_first_request() {
        let b = Backend::start(Mode::KeepaliveClose).expect("start backend");
        let two = b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n";
        let reply = String::from_utf8_lossy(&exchange(b.addr(), two)).into_owned();
        assert_eq!(reply.matches("HTTP/1.1 200 OK").count(), 1, "{reply}");
        assert!(!reply.contains("Connection: close"), "{reply}");
    }

    #[test]
    fn idle_timeout_backend_loses_a_request_after_its_idle_time() {
        let b = Backend::start(Mode::IdleTimeout(Duration::from_millis(200))).expect("start");
        let mut s = TcpStream::connect(b.addr()).expect("connect");
        s.set_read_timeout(Some(T)).expect("timeout");
        let mut buf = [0u8; 512];
        for _ in 0..2 {
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .expect("send");
            let n = s.read(&mut buf).expect("an answer");
            assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
        }
        // Idle for longer than the limit: the next request gets no answer.
        sleep(Duration::from_millis(300));
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("send");
        assert_eq!(s.read(&mut buf).expect("end of stream"), 0);
    }

    #[test]
    fn a_backend_can_listen_on_ipv6_loopback_only() {
        let Ok(b) = Backend::start_on(IpAddr::V6(Ipv6Addr::LOCALHOST), Mode::Ok) else {
            eprintln!("skipped: no IPv6 loopback here");
            return;
        };
        assert!(b.addr().is_ipv6());
        let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, b.addr().port()));
        assert!(TcpStream::connect_timeout(&v4, T).is_err(), "{v4} accepted");
    }

    #[test]
    fn http_looks_like_a_method_then_a_space() {
        assert!(looks_like_http(b"GET / HTTP/1.0"));
        assert!(looks_like_http(b"POST /x"));
        assert!(!looks_like_http(b"\x16\x03\x01\x02\x00"));
        assert!(!looks_like_http(b"GET"));
        assert!(!looks_like_http(b""));
    }
}
