//! A UDP DNS server that knows no name: every query gets its question back with
//! "no such name" (NXDOMAIN), what nginx's resolver logs as "(3: Host not found)".

use super::Backend;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

/// QR (a response), RD and RA set, rcode 3 (NXDOMAIN).
const NXDOMAIN_FLAGS: [u8; 2] = [0x81, 0x83];
/// A DNS header is 12 bytes: id, flags, then four 16-bit counts.
const HEADER: usize = 12;

pub(super) fn start(addr: SocketAddr) -> io::Result<Backend> {
    let socket = UdpSocket::bind(addr)?;
    // A read timeout rather than non-blocking reads, so the loop sees `stop` promptly.
    socket.set_read_timeout(Some(Duration::from_millis(50)))?;
    let addr = socket.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = thread::spawn(move || serve(&socket, &flag));
    Ok(Backend::threaded(addr, stop, thread))
}

fn serve(socket: &UdpSocket, stop: &AtomicBool) {
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, peer)) = socket.recv_from(&mut buf) else {
            continue;
        };
        if let Some(reply) = nxdomain(&buf[..n]) {
            let _ = socket.send_to(&reply, peer);
        }
    }
}

/// The NXDOMAIN answer to `query`: same id and question, no records. `None` for a
/// datagram too short to be a query.
fn nxdomain(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < HEADER {
        return None;
    }
    let mut reply = Vec::with_capacity(query.len());
    reply.extend_from_slice(&query[..2]);
    reply.extend_from_slice(&NXDOMAIN_FLAGS);
    reply.extend_from_slice(&query[4..6]);
    reply.extend_from_slice(&[0; 6]);
    reply.extend_from_slice(&query[HEADER..]);
    Some(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::backend::Mode;
    use std::net::Ipv4Addr;

    /// A query for `a.invalid` type A, id 0x1234, recursion desired.
    const QUERY: &[u8] = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\
                           \x01a\x07invalid\x00\x00\x01\x00\x01";

    #[test]
    fn every_query_is_answered_nxdomain_with_its_question() {
        let reply = nxdomain(QUERY).expect("a query");
        assert_eq!(&reply[..4], b"\x12\x34\x81\x83");
        assert_eq!(&reply[4..12], b"\x00\x01\x00\x00\x00\x00\x00\x00");
        assert_eq!(&reply[12..], &QUERY[12..]);
    }

    #[test]
    fn a_runt_datagram_gets_no_answer() {
        assert_eq!(nxdomain(b"\x12\x34"), None);
    }

    #[test]
    fn the_server_answers_over_udp() {
        let b = Backend::start(Mode::DnsNxdomain).expect("start DNS stub");
        let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind client");
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        client.send_to(QUERY, b.addr()).expect("send query");
        let mut buf = [0u8; 512];
        let (n, _) = client.recv_from(&mut buf).expect("an answer");
        assert_eq!(buf[3] & 0x0f, 3, "rcode");
        assert_eq!(n, QUERY.len());
    }
}
