//! Greeting a server with one FastCGI record and judging what answered from the first bytes:
//! a php-fpm port answers FastCGI, a web server answers HTTP (or waits), a TLS port answers
//! with a TLS alert. That difference is what tells `fastcgi_pass` to an HTTP port, or
//! `proxy_pass` to php-fpm, apart from a backend that is merely down.

use super::{Conn, ConnectResult, Target, open};
use crate::sanitize::for_terminal;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// What answered a greeting, judged from the first bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A FastCGI record (php-fpm answers `FCGI_GET_VALUES` with `FCGI_GET_VALUES_RESULT`,
    /// type 10); `values` holds the name-value pairs of a type-10 record.
    Fastcgi {
        /// Record type of the first record.
        record_type: u8,
        /// `FCGI_MAX_CONNS`, `FCGI_MAX_REQS`, `FCGI_MPXS_CONNS` as the server gave them.
        values: Vec<(String, String)>,
    },
    /// An HTTP status line came back (`HTTP/1.1 400 Bad Request`), sanitised.
    Http {
        /// The first line, without line terminator.
        first_line: String,
    },
    /// A TLS record (handshake 0x16 or alert 0x15).
    Tls,
    /// An HTTP/2 frame (SETTINGS or GOAWAY): a server that speaks only HTTP/2, like gRPC.
    Http2,
    /// The peer closed without a byte.
    Closed,
    /// The peer reset the connection (ECONNRESET / EPIPE).
    Reset,
    /// Nothing arrived before the deadline.
    Silent,
    /// Something else; its first byte.
    Other(u8),
}

/// [`fastcgi_ping`]'s answer (the same classification as every greeting).
pub type FcgiReply = Reply;

/// How reading a reply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// Orderly close by the peer (EOF).
    Closed,
    /// Reset by the peer.
    Reset,
    /// The deadline passed first.
    TimedOut,
    /// As many bytes as wanted were read; the connection was still open.
    Enough,
}

/// Reads until `want` bytes, EOF, reset or `deadline`, never more than `want` bytes.
pub(super) fn read_until(conn: &mut Conn, deadline: Instant, want: usize) -> (Vec<u8>, StreamEnd) {
    read_while(conn, deadline, want, |_| true)
}

/// [`read_until`] that also stops (as `Enough`) once `more` says the bytes so far suffice.
fn read_while(
    conn: &mut Conn,
    deadline: Instant,
    want: usize,
    more: impl Fn(&[u8]) -> bool,
) -> (Vec<u8>, StreamEnd) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < want && more(&got) {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return (got, StreamEnd::TimedOut);
        };
        if conn.set_timeouts(left).is_err() {
            return (got, StreamEnd::Reset);
        }
        let room = (want - got.len()).min(buf.len());
        match conn.read(&mut buf[..room]) {
            Ok(0) => return (got, StreamEnd::Closed),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => return (got, StreamEnd::TimedOut),
            Err(_) => return (got, StreamEnd::Reset),
        }
    }
    (got, StreamEnd::Enough)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Sends `greeting` and reads until the first record or line can be judged.
pub(super) fn greet(
    target: &Target,
    timeout: Duration,
    greeting: &[u8],
) -> Result<Reply, ConnectResult> {
    let deadline = Instant::now() + timeout;
    let mut conn = open(target, timeout)?;
    if conn.set_timeouts(timeout).is_err() || conn.write_all(greeting).is_err() {
        // A peer that resets on connect makes the write fail (EPIPE/ECONNRESET).
        return Ok(Reply::Reset);
    }
    let (mut bytes, mut end) = read_until(&mut conn, deadline, FCGI_HEADER_LEN);
    if let Some(total) = fastcgi_record_len(&bytes) {
        let (rest, e) = read_until(&mut conn, deadline, total - bytes.len());
        bytes.extend_from_slice(&rest);
        end = e;
    } else if bytes.starts_with(b"HTTP/") && !bytes.contains(&b'\n') {
        // A server that keeps the connection open after its status line must not cost
        // the whole timeout: stop at the end of the line.
        let no_newline = |b: &[u8]| !b.contains(&b'\n');
        let (rest, e) = read_while(&mut conn, deadline, FIRST_LINE_MAX, no_newline);
        bytes.extend_from_slice(&rest);
        end = e;
    }
    Ok(classify(&bytes, end))
}

const FCGI_HEADER_LEN: usize = 8;
const FCGI_GET_VALUES: u8 = 9;
const FCGI_GET_VALUES_RESULT: u8 = 10;
pub(super) const FIRST_LINE_MAX: usize = 512;
const BLANK_LINE: &[u8] = b"\r\n\r\n";

/// Asks a FastCGI server for its limits (`FCGI_GET_VALUES`, request id 0) and says what
/// answered. php-fpm replies `Fastcgi`; an HTTP server typically `Http` 400, `Closed` or
/// `Silent`; a TLS server `Tls`.
pub fn fastcgi_ping(target: &Target, timeout: Duration) -> Result<FcgiReply, ConnectResult> {
    greet(target, timeout, &get_values_record())
}

fn get_values_record() -> Vec<u8> {
    let mut body = Vec::new();
    for name in ["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"] {
        body.extend_from_slice(&[name.len() as u8, 0]);
        body.extend_from_slice(name.as_bytes());
    }
    // The padding (which FastCGI ignores) ends in a blank line, so an HTTP
    // server reading a request line and headers rejects the record at once
    // instead of waiting for more.
    let mut padding = (8 - body.len() % 8) % 8;
    if padding < BLANK_LINE.len() {
        padding += 8;
    }
    let len = (body.len() as u16).to_be_bytes();
    let mut record = vec![1, FCGI_GET_VALUES, 0, 0, len[0], len[1], padding as u8, 0];
    record.extend_from_slice(&body);
    record.resize(record.len() + padding - BLANK_LINE.len(), 0);
    record.extend_from_slice(BLANK_LINE);
    record
}

/// The full length of a FastCGI record whose header starts `bytes`, if it is one.
fn fastcgi_record_len(bytes: &[u8]) -> Option<usize> {
    let header: &[u8; FCGI_HEADER_LEN] = bytes.get(..FCGI_HEADER_LEN)?.try_into().ok()?;
    let is_fcgi = header[0] == 1 && (1..=11).contains(&header[1]);
    let content = usize::from(u16::from_be_bytes([header[4], header[5]]));
    is_fcgi.then_some(FCGI_HEADER_LEN + content + usize::from(header[6]))
}

/// Judges a reply from its first bytes and how the read ended.
pub(super) fn classify(bytes: &[u8], end: StreamEnd) -> Reply {
    match bytes {
        [] => match end {
            StreamEnd::Reset => Reply::Reset,
            StreamEnd::TimedOut => Reply::Silent,
            StreamEnd::Closed | StreamEnd::Enough => Reply::Closed,
        },
        [1, kind, ..] if fastcgi_record_len(bytes).is_some() => Reply::Fastcgi {
            record_type: *kind,
            values: if *kind == FCGI_GET_VALUES_RESULT {
                name_values(fastcgi_content(bytes))
            } else {
                Vec::new()
            },
        },
        _ if bytes.starts_with(b"HTTP/") => Reply::Http {
            first_line: first_line(bytes),
        },
        [0x15 | 0x16, 0x03, ..] => Reply::Tls,
        _ if is_http2_frame(bytes) => Reply::Http2,
        [first, ..] => Reply::Other(*first),
    }
}

/// An HTTP/2 frame header: a 24-bit length within the default maximum frame size, then
/// the type SETTINGS (4) or GOAWAY (7), which a server sends first to a peer that did not
/// open with the HTTP/2 preface.
fn is_http2_frame(bytes: &[u8]) -> bool {
    let [a, b, c, kind, ..] = bytes else {
        return false;
    };
    let len = u32::from_be_bytes([0, *a, *b, *c]);
    bytes.len() >= 9 && len <= 16_384 && matches!(kind, 4 | 7)
}

fn fastcgi_content(record: &[u8]) -> &[u8] {
    let len = usize::from(u16::from_be_bytes([record[4], record[5]]));
    let end = (FCGI_HEADER_LEN + len).min(record.len());
    &record[FCGI_HEADER_LEN..end]
}

/// FastCGI name-value pairs: lengths of 1 byte, or 4 bytes with the top bit set.
fn name_values(mut body: &[u8]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    while let Some((name_len, rest)) = nv_len(body) {
        let Some((value_len, rest)) = nv_len(rest) else {
            break;
        };
        let (Some(name), Some(value)) = (
            rest.get(..name_len),
            rest.get(name_len..name_len + value_len),
        ) else {
            break;
        };
        pairs.push((lossy(name), lossy(value)));
        body = &rest[name_len + value_len..];
    }
    pairs
}

fn nv_len(b: &[u8]) -> Option<(usize, &[u8])> {
    match b {
        [short, rest @ ..] if short & 0x80 == 0 => Some((usize::from(*short), rest)),
        [a, b1, c, d, rest @ ..] => {
            let long = u32::from_be_bytes([a & 0x7f, *b1, *c, *d]);
            Some((usize::try_from(long).ok()?, rest))
        }
        _ => None,
    }
}

fn lossy(bytes: &[u8]) -> String {
    for_terminal(bytes)
}

/// The first line of `bytes` (without `\r\n`), sanitised and bounded.
pub(super) fn first_line(bytes: &[u8]) -> String {
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    lossy(&line[..line.len().min(FIRST_LINE_MAX)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Endpoint;
    use crate::host::testing::PhpFpm;
    use std::net::{SocketAddr, TcpListener};

    const T: Duration = Duration::from_secs(3);

    #[test]
    fn get_values_record_is_padded_to_eight_bytes() {
        let record = get_values_record();
        assert_eq!(&record[..4], &[1, FCGI_GET_VALUES, 0, 0]);
        assert_eq!(record.len() % 8, 0);
        assert_eq!(fastcgi_record_len(&record), Some(record.len()));
        let pairs = name_values(fastcgi_content(&record));
        let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"]
        );
    }

    #[test]
    fn long_name_value_lengths_use_four_bytes() {
        let mut body = vec![0x80, 0, 0, 3, 1];
        body.extend_from_slice(b"abcZ");
        assert_eq!(name_values(&body), [("abc".to_string(), "Z".to_string())]);
    }

    #[test]
    fn truncated_name_value_pair_is_dropped() {
        assert!(name_values(&[5, 1, b'a']).is_empty());
    }

    #[test]
    fn classify_tells_protocols_apart() {
        let http = classify(b"HTTP/1.1 400 Bad Request\r\n", StreamEnd::Closed);
        let first_line = "HTTP/1.1 400 Bad Request".to_string();
        assert_eq!(http, Reply::Http { first_line });
        assert_eq!(
            classify(&[0x15, 3, 3, 0, 2, 2, 40], StreamEnd::Closed),
            Reply::Tls
        );
        assert_eq!(classify(b"SSH-2.0", StreamEnd::Enough), Reply::Other(b'S'));
        assert_eq!(classify(&[], StreamEnd::Reset), Reply::Reset);
        assert_eq!(classify(&[], StreamEnd::TimedOut), Reply::Silent);
        assert_eq!(classify(&[], StreamEnd::Closed), Reply::Closed);
    }

    #[test]
    fn classify_keeps_control_characters_out_of_the_first_line() {
        let got = classify(b"HTTP/1.1 200 \x1b[2J\r\n", StreamEnd::Closed);
        let first_line = r"HTTP/1.1 200 \x1b[2J".to_string();
        assert_eq!(got, Reply::Http { first_line });
    }

    #[test]
    fn silent_server_is_reported_silent() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let target = Endpoint::Tcp(listener.local_addr().expect("addr"));
        let got = fastcgi_ping(&target, Duration::from_millis(200));
        assert_eq!(got, Ok(Reply::Silent));
    }

    #[test]
    fn http_status_line_is_enough_even_when_the_server_holds_on() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let target = Endpoint::Tcp(listener.local_addr().expect("addr"));
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: keep-alive\r\n");
            std::thread::sleep(Duration::from_secs(5));
        });
        let started = Instant::now();
        let got = fastcgi_ping(&target, T).expect("connected");
        assert!(matches!(got, Reply::Http { .. }), "{got:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn ping_to_closed_port_reports_the_connect_failure() {
        let addr = SocketAddr::from(([127, 0, 0, 1], crate::host::testing::free_port()));
        let got = fastcgi_ping(&Endpoint::Tcp(addr), T);
        assert_eq!(got, Err(ConnectResult::Refused));
    }

    #[test]
    fn php_fpm_answers_get_values_on_tcp() {
        let Some(fpm) = PhpFpm::start() else {
            return;
        };
        let got = fastcgi_ping(&Endpoint::Tcp(fpm.tcp_addr()), T).expect("connected");
        let Reply::Fastcgi {
            record_type,
            values,
        } = got
        else {
            panic!("not FastCGI: {got:?}");
        };
        assert_eq!(record_type, FCGI_GET_VALUES_RESULT);
        // php-fpm 8.2 answers only the value it knows: it does not multiplex.
        assert_eq!(values, [("FCGI_MPXS_CONNS".to_string(), "0".to_string())]);
    }

    #[test]
    fn php_fpm_answers_get_values_on_unix() {
        let Some(fpm) = PhpFpm::start() else {
            return;
        };
        let got = fastcgi_ping(&Endpoint::Unix(fpm.unix_path()), T).expect("connected");
        assert!(
            matches!(
                got,
                Reply::Fastcgi {
                    record_type: 10,
                    ..
                }
            ),
            "{got:?}"
        );
    }
}
