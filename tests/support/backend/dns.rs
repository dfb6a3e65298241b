//! A UDP DNS server that knows the names of its [`Zone`] (none for
//! `Mode::DnsNxdomain`): an A query for one of them gets its IPv4 address, any other
//! question about it an empty answer, and a name it does not know "no such name"
//! (NXDOMAIN), what nginx's resolver logs as "(3: Host not found)". A test changes the
//! zone while the server runs, as a service moving to a new address.

use super::Backend;
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

/// QR (a response), RD and RA set, rcode 3 (NXDOMAIN).
const NXDOMAIN_FLAGS: [u8; 2] = [0x81, 0x83];
/// QR, RD and RA set, no error.
const ANSWER_FLAGS: [u8; 2] = [0x81, 0x80];
/// A DNS header is 12 bytes: id, flags, then four 16-bit counts.
const HEADER: usize = 12;

/// The names a DNS server started with [`start_zone`] knows, changeable while it runs,
/// and how many questions it was asked about each.
#[derive(Clone, Default)]
pub struct Zone {
    names: Arc<Mutex<HashMap<String, Ipv4Addr>>>,
    asked: Arc<AtomicUsize>,
}

impl Zone {
    /// Makes `name` resolve to `ip` from now on.
    pub fn set(&self, name: &str, ip: Ipv4Addr) {
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        names.insert(name.to_ascii_lowercase(), ip);
    }

    /// How many questions about names of the zone were answered so far.
    pub fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }

    fn lookup(&self, name: &str) -> Option<Ipv4Addr> {
        let names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        names.get(&name.to_ascii_lowercase()).copied()
    }
}

pub(super) fn start(addr: SocketAddr) -> io::Result<Backend> {
    start_zone(addr, Zone::default())
}

/// Serves `zone` on UDP `addr` (port 53 of a namespace's loopback, for a test that
/// names it in its own /etc/resolv.conf).
pub fn start_zone(addr: SocketAddr, zone: Zone) -> io::Result<Backend> {
    let socket = UdpSocket::bind(addr)?;
    // A read timeout rather than non-blocking reads, so the loop sees `stop` promptly.
    socket.set_read_timeout(Some(Duration::from_millis(50)))?;
    let addr = socket.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = thread::spawn(move || serve(&socket, &zone, &flag));
    Ok(Backend::threaded(addr, stop, thread))
}

fn serve(socket: &UdpSocket, zone: &Zone, stop: &AtomicBool) {
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, peer)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let query = &buf[..n];
        let known = question(query).and_then(|(name, qtype)| Some((zone.lookup(&name)?, qtype)));
        let reply = match known {
            Some((ip, qtype)) => {
                zone.asked.fetch_add(1, Ordering::SeqCst);
                answer(query, ip, qtype)
            }
            None => nxdomain(query),
        };
        if let Some(reply) = reply {
            let _ = socket.send_to(&reply, peer);
        }
    }
}

/// The name and type a query asks about (uncompressed, as clients send them).
fn question(query: &[u8]) -> Option<(String, u16)> {
    let mut labels = Vec::new();
    let mut at = HEADER;
    loop {
        let len = usize::from(*query.get(at)?);
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at + 1..at + 1 + len)?).into_owned());
        at += 1 + len;
    }
    let qtype = u16::from_be_bytes([*query.get(at + 1)?, *query.get(at + 2)?]);
    Some((labels.join("."), qtype))
}

/// The answer to `query` about a known name: its address for an A question (TTL 1 s,
/// so a moved name is seen again at once), no record for any other type.
fn answer(query: &[u8], ip: Ipv4Addr, qtype: u16) -> Option<Vec<u8>> {
    let end = HEADER + query.get(HEADER..)?.iter().position(|&b| b == 0)? + 5;
    let mut reply = Vec::with_capacity(end + 16);
    reply.extend_from_slice(&query[..2]);
    reply.extend_from_slice(&ANSWER_FLAGS);
    let count = u8::from(qtype == 1);
    reply.extend_from_slice(&[0, 1, 0, count, 0, 0, 0, 0]);
    reply.extend_from_slice(query.get(HEADER..end)?);
    if qtype == 1 {
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4]);
        reply.extend_from_slice(&ip.octets());
    }
    Some(reply)
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
    fn a_known_name_gets_its_address_and_other_types_nothing() {
        let zone = Zone::default();
        zone.set("a.invalid", Ipv4Addr::new(127, 0, 0, 3));
        assert_eq!(question(QUERY), Some(("a.invalid".into(), 1)));
        let reply = answer(QUERY, Ipv4Addr::new(127, 0, 0, 3), 1).expect("an answer");
        assert_eq!(&reply[2..8], b"\x81\x80\x00\x01\x00\x01");
        assert_eq!(&reply[reply.len() - 4..], &[127, 0, 0, 3]);
        let none = answer(QUERY, Ipv4Addr::new(127, 0, 0, 3), 28).expect("an answer");
        assert_eq!(none.len(), QUERY.len());
        assert_eq!(zone.lookup("A.invalid"), Some(Ipv4Addr::new(127, 0, 0, 3)));
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
