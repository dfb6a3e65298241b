//! A minimal HTTP/1.0 GET and a TLS ClientHello, for asking a backend directly what it
//! answers (`backend-sent-502`, `https://` to a plain port, `proxy_pass` to php-fpm).
//! The GET is restricted to loopback and unix sockets by contract: the tool runs on the
//! nginx host and must not become a scanner of other machines. Request values come from
//! logs (attacker-influenced), so they are validated, never interpolated blindly.

use super::reply::{FIRST_LINE_MAX, StreamEnd, first_line, greet, read_until};
use super::{ConnectResult, Endpoint, Reply, Target, open};
use crate::sanitize::for_terminal;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// At most this many response headers are kept.
const MAX_HEADERS: usize = 64;

/// What came back from [`http_get`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// The status code, when the first line is an HTTP status line.
    pub status: Option<u16>,
    /// The first line (sanitised, at most 512 bytes); empty when nothing came back.
    pub first_line: String,
    /// Response headers (names as sent, values sanitised), when the header block arrived.
    pub headers: Vec<(String, String)>,
    /// Bytes received in total (bounded by `max_bytes`).
    pub received: usize,
    /// How the exchange ended.
    pub end: StreamEnd,
    /// The reply starts like a TLS record: the port speaks TLS, not plain HTTP.
    pub tls_like: bool,
}

impl HttpReply {
    /// The peer reset the connection (php-fpm does this to an HTTP request).
    pub fn reset(&self) -> bool {
        self.end == StreamEnd::Reset
    }
    /// The peer closed the connection.
    pub fn closed(&self) -> bool {
        self.end == StreamEnd::Closed
    }
    /// The deadline passed before the peer finished.
    pub fn timed_out(&self) -> bool {
        self.end == StreamEnd::TimedOut
    }
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.as_str())
    }
}

/// Why [`http_get`] sent nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The target is a TCP address off this host.
    #[error(
        "refusing an HTTP request to {0}: only loopback addresses and unix sockets are probed; \
         check that host with curl by hand"
    )]
    NotLoopback(SocketAddr),
    /// A request value would break the request line or headers.
    #[error(
        "refusing to send {what} {value:?}: it must be 1-4096 printable ASCII characters \
         without spaces"
    )]
    InvalidRequest {
        /// `Host header` or `path`.
        what: &'static str,
        /// The rejected value, sanitised.
        value: String,
    },
    /// The connection could not be made.
    #[error("connect() failed {0}")]
    Connect(ConnectResult),
}

/// Sends `GET path HTTP/1.0` with `Host: host_header` to a loopback or unix `target` and
/// reads at most `max_bytes` of the reply within `timeout` (connect included).
pub fn http_get(
    target: &Target,
    host_header: &str,
    path: &str,
    timeout: Duration,
    max_bytes: usize,
) -> Result<HttpReply, HttpError> {
    if let Endpoint::Tcp(addr) = target
        && !is_loopback(addr.ip())
    {
        return Err(HttpError::NotLoopback(*addr));
    }
    check_token("Host header", host_header)?;
    if !path.starts_with('/') {
        return Err(invalid("path", path));
    }
    check_token("path", path)?;
    let deadline = Instant::now() + timeout;
    let mut conn = open(target, timeout).map_err(HttpError::Connect)?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {host_header}\r\nUser-Agent: nginx-doctor\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    );
    let sent = conn.set_timeouts(timeout).is_ok() && conn.write_all(request.as_bytes()).is_ok();
    let (bytes, end) = if sent {
        read_until(&mut conn, deadline, max_bytes)
    } else {
        (Vec::new(), StreamEnd::Reset)
    };
    Ok(parse_reply(&bytes, end))
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn check_token(what: &'static str, value: &str) -> Result<(), HttpError> {
    let printable = value.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if printable && (1..=4096).contains(&value.len()) {
        Ok(())
    } else {
        Err(invalid(what, value))
    }
}

fn invalid(what: &'static str, value: &str) -> HttpError {
    let shown: String = value.chars().take(200).collect();
    HttpError::InvalidRequest {
        what,
        value: for_terminal(shown.as_bytes()),
    }
}

fn parse_reply(bytes: &[u8], end: StreamEnd) -> HttpReply {
    let first = first_line(bytes);
    let status = first
        .strip_prefix("HTTP/")
        .and_then(|rest| rest.split_whitespace().nth(1))
        .filter(|code| code.len() == 3)
        .and_then(|code| code.parse().ok());
    HttpReply {
        status,
        headers: if status.is_some() {
            headers(bytes)
        } else {
            Vec::new()
        },
        first_line: first,
        received: bytes.len(),
        end,
        tls_like: matches!(bytes, [0x15 | 0x16, 0x03, ..]),
    }
}

/// Header lines between the status line and the blank line; an incomplete last line is
/// dropped (the byte cap may cut it).
fn headers(bytes: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    lines.next(); // status line
    let mut found = Vec::new();
    let mut complete: Vec<&str> = lines.collect();
    if !text.contains("\n\r\n") && !text.contains("\n\n") {
        complete.pop();
    }
    for line in complete.into_iter().take_while(|l| !l.is_empty()) {
        if let Some((name, value)) = line.split_once(':') {
            let name: String = name.chars().take(FIRST_LINE_MAX).collect();
            let value: String = value.trim().chars().take(FIRST_LINE_MAX).collect();
            found.push((
                for_terminal(name.as_bytes()),
                for_terminal(value.as_bytes()),
            ));
        }
        if found.len() == MAX_HEADERS {
            break;
        }
    }
    found
}

/// Sends a TLS 1.2 ClientHello and says what answered: `Tls` for a TLS server (ServerHello
/// or an alert), `Http` for a plain web server that rejects it, `Closed`/`Reset`/`Silent`
/// otherwise. No handshake is completed and nothing is verified.
pub fn tls_sniff(target: &Target, timeout: Duration) -> Result<Reply, ConnectResult> {
    greet(target, timeout, &client_hello())
}

/// A minimal ClientHello that OpenSSL, BoringSSL and Go accept: ECDHE-GCM/ChaCha suites,
/// x25519/P-256/P-384, the common signature algorithms, no session, no SNI.
fn client_hello() -> Vec<u8> {
    let suites: &[u16] = &[
        0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009e, 0x009f,
    ];
    let groups: &[u16] = &[0x001d, 0x0017, 0x0018];
    let sigalgs: &[u16] = &[
        0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501,
    ];
    let mut ext = Vec::new();
    push_ext(&mut ext, 0x000a, &prefixed16(&words(groups)));
    push_ext(&mut ext, 0x000b, &[1, 0]);
    push_ext(&mut ext, 0x000d, &prefixed16(&words(sigalgs)));
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x5a; 32]); // client random: any value will do for a probe
    body.push(0); // no session id
    body.extend_from_slice(&prefixed16(&words(suites)));
    body.extend_from_slice(&[1, 0]); // compression: null only
    body.extend_from_slice(&prefixed16(&ext));
    let len = (body.len() as u32).to_be_bytes();
    let mut handshake = vec![1, len[1], len[2], len[3]];
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 3, 1];
    record.extend_from_slice(&prefixed16(&handshake));
    record
}

fn words(values: &[u16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

fn prefixed16(data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(data);
    out
}

fn push_ext(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&prefixed16(data));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::{PhpFpm, free_port};
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::thread::JoinHandle;

    const T: Duration = Duration::from_secs(3);

    /// A one-shot HTTP server: reads the request head, answers `response`, then closes
    /// (or resets, with SO_LINGER 0, when `reset`). Returns the request it saw.
    fn one_shot(response: &'static [u8], reset: bool) -> (SocketAddr, JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let request = read_head(&mut s);
            let _ = s.write_all(response);
            if reset {
                linger_zero(&s);
            }
            request
        });
        (addr, handle)
    }

    fn read_head(s: &mut TcpStream) -> String {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.ends_with(b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    fn linger_zero(s: &TcpStream) {
        use std::os::fd::AsRawFd;
        let linger = nix::libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        let len = std::mem::size_of::<nix::libc::linger>() as nix::libc::socklen_t;
        // SAFETY: valid fd, pointer to a live linger struct of `len` bytes.
        let rc = unsafe {
            nix::libc::setsockopt(
                s.as_raw_fd(),
                nix::libc::SOL_SOCKET,
                nix::libc::SO_LINGER,
                (&raw const linger).cast(),
                len,
            )
        };
        assert_eq!(rc, 0, "setsockopt SO_LINGER");
    }

    #[test]
    fn get_reads_status_and_headers() {
        let (addr, server) = one_shot(
            b"HTTP/1.1 502 Bad Gateway\r\nServer: gunicorn\r\n\r\nbody",
            false,
        );
        let reply = http_get(&Endpoint::Tcp(addr), "example.test", "/x?y=1", T, 4096).expect("get");
        assert_eq!(reply.status, Some(502));
        assert_eq!(reply.first_line, "HTTP/1.1 502 Bad Gateway");
        assert_eq!(reply.header("server"), Some("gunicorn"));
        assert!(reply.closed());
        let request = server.join().expect("server thread");
        assert!(request.starts_with("GET /x?y=1 HTTP/1.0\r\nHost: example.test\r\n"));
    }

    #[test]
    fn get_stops_at_max_bytes() {
        let (addr, _server) = one_shot(
            b"HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaa\r\n\r\n",
            false,
        );
        let reply = http_get(&Endpoint::Tcp(addr), "h", "/", T, 20).expect("get");
        assert_eq!((reply.received, reply.end), (20, StreamEnd::Enough));
        assert_eq!(reply.status, Some(200));
        assert!(reply.headers.is_empty());
    }

    #[test]
    fn get_sees_a_reset() {
        let (addr, _server) = one_shot(b"", true);
        let reply = http_get(&Endpoint::Tcp(addr), "h", "/", T, 4096).expect("get");
        assert!(reply.reset(), "{reply:?}");
        assert_eq!(reply.status, None);
    }

    #[test]
    fn get_refuses_non_loopback_addresses() {
        let addr: SocketAddr = "192.0.2.1:80".parse().expect("literal");
        let err = http_get(&Endpoint::Tcp(addr), "h", "/", T, 10).expect_err("refused");
        assert_eq!(err, HttpError::NotLoopback(addr));
    }

    #[test]
    fn get_refuses_header_injection() {
        let addr: SocketAddr = "127.0.0.1:9".parse().expect("literal");
        let err = http_get(&Endpoint::Tcp(addr), "h\r\nX: y", "/", T, 10).expect_err("refused");
        assert!(matches!(
            err,
            HttpError::InvalidRequest {
                what: "Host header",
                ..
            }
        ));
        let err = http_get(&Endpoint::Tcp(addr), "h", "/a b", T, 10).expect_err("refused");
        assert!(matches!(
            err,
            HttpError::InvalidRequest { what: "path", .. }
        ));
    }

    #[test]
    fn get_reports_a_refused_connect() {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let err = http_get(&Endpoint::Tcp(addr), "h", "/", T, 10).expect_err("refused");
        assert_eq!(err, HttpError::Connect(ConnectResult::Refused));
    }

    #[test]
    fn get_to_php_fpm_is_cut_off() {
        let Some(fpm) = PhpFpm::start() else {
            return;
        };
        let reply = http_get(&Endpoint::Tcp(fpm.tcp_addr()), "h", "/", T, 4096).expect("get");
        assert!(reply.reset() || reply.closed(), "{reply:?}");
        assert_eq!((reply.status, reply.received), (None, 0));
    }

    #[test]
    fn tls_sniff_sees_http_from_a_web_server() {
        // Like nginx on a plain port: answer the first bytes with 400, whatever they were.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let _ = s.read(&mut [0u8; 1024]);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        });
        let got = tls_sniff(&Endpoint::Tcp(addr), T).expect("connected");
        let first_line = "HTTP/1.1 400 Bad Request".to_string();
        assert_eq!(got, Reply::Http { first_line });
    }

    #[test]
    fn tls_sniff_recognises_openssl() {
        let Some(server) = OpensslServer::start() else {
            return;
        };
        assert_eq!(tls_sniff(&Endpoint::Tcp(server.addr), T), Ok(Reply::Tls));
    }

    #[test]
    fn client_hello_lengths_are_consistent() {
        let hello = client_hello();
        let record_len = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
        assert_eq!(record_len, hello.len() - 5);
        let handshake_len = u32::from_be_bytes([0, hello[6], hello[7], hello[8]]) as usize;
        assert_eq!(handshake_len, hello.len() - 9);
    }

    /// `openssl s_server` with a throw-away self-signed certificate.
    struct OpensslServer {
        child: std::process::Child,
        addr: SocketAddr,
        _dir: tempfile::TempDir,
    }

    impl OpensslServer {
        fn start() -> Option<OpensslServer> {
            use std::process::{Command, Stdio};
            let openssl = which_openssl()?;
            let dir = tempfile::tempdir().expect("tempdir");
            let (key, cert) = (dir.path().join("k.pem"), dir.path().join("c.pem"));
            let made = Command::new(&openssl)
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                ])
                .args([
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=backend.test",
                    "-keyout",
                ])
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .stderr(Stdio::null())
                .status()
                .expect("run openssl req");
            assert!(made.success(), "openssl req failed");
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let child = Command::new(&openssl)
                .args(["s_server", "-quiet", "-accept", &addr.to_string(), "-key"])
                .arg(&key)
                .arg("-cert")
                .arg(&cert)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn openssl s_server");
            let server = OpensslServer {
                child,
                addr,
                _dir: dir,
            };
            server.wait_listening();
            Some(server)
        }

        fn wait_listening(&self) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                let all = crate::host::sockets::listeners();
                if crate::host::sockets::accepts(&all, &self.addr) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!("openssl s_server did not listen on {}", self.addr);
        }
    }

    impl Drop for OpensslServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn which_openssl() -> Option<std::path::PathBuf> {
        let path = std::path::PathBuf::from("/usr/bin/openssl");
        if path.exists() {
            Some(path)
        } else {
            eprintln!("skipping: /usr/bin/openssl is not installed");
            None
        }
    }
}
