//! A tiny misbehaving HTTP backend (the Rust twin of the catalogue's `backend.py`): a
//! thread with a loopback listener, answering every connection the way its mode says,
//! so proxy faults reproduce without python. It stops when dropped.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle, sleep};
use std::time::{Duration, Instant};

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
}

/// A running backend; dropping it stops the accept loop.
pub struct Backend {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Backend {
    /// Binds a free 127.0.0.1 port (no race: the listener is kept) and serves `mode`.
    pub fn start(mode: Mode) -> io::Result<Backend> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || accept_loop(&listener, mode, &flag));
        Ok(Backend {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// Where it listens.
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
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => sleep(Duration::from_millis(10)),
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
        _ => read_head(&mut conn)?,
    }
    let reply = match mode {
        Mode::Sleep(d) => {
            pause(d, stop);
            response("200 OK", "")
        }
        Mode::BigHeader => response("200 OK", &format!("X-Big: {}\r\n", "a".repeat(12_000))),
        Mode::Status502 => response("502 Bad Gateway", ""),
        _ => response("200 OK", ""),
    };
    conn.write_all(reply.as_bytes())
}

/// Sleeps `d` in slices so a stopped backend does not hold its threads for long.
fn pause(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
        sleep(Duration::from_millis(20));
    }
}

fn read_head(conn: &mut TcpStream) -> io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 1 << 20 {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

fn response(status: &str, extra_headers: &str) -> String {
    let body = if status.starts_with("200") {
        "ok\n"
    } else {
        "backend says 502\n"
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::net::http_get;

    const T: Duration = Duration::from_secs(5);

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
}
