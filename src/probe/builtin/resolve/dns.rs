//! One DNS question to one server over UDP, bounded: what nginx's own
//! `resolver` would hear for a name. nginx's resolver speaks plain DNS to
//! the addresses it is given and never reads /etc/hosts, so asking the same
//! server the same question is the only way to know whether a `resolver`
//! line can work before an admin writes it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the server said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Addresses(Vec<IpAddr>),
    /// NXDOMAIN: the server knows of no such name.
    NoSuchName,
    /// The name exists but has no address of the type asked for.
    NoAddress,
    /// No usable answer: a timeout, a refusal, a server failure.
    Failed(String),
}

impl Answer {
    /// As a report says it.
    pub fn describe(&self) -> String {
        match self {
            Answer::Addresses(a) => a
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            Answer::NoSuchName => "no such name (NXDOMAIN)".to_owned(),
            Answer::NoAddress => "no address for the name".to_owned(),
            Answer::Failed(why) => why.clone(),
        }
    }
}

const A: u16 = 1;
const AAAA: u16 = 28;

/// Asks `server` for `name`'s IPv4 (or, with `v6`, IPv6) addresses.
pub fn ask(server: SocketAddr, name: &str, v6: bool, timeout: Duration) -> Answer {
    let qtype = if v6 { AAAA } else { A };
    let id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0x5a5a, |d| (d.subsec_nanos() & 0xffff) as u16);
    let Some(query) = query(id, name, qtype) else {
        return Answer::Failed(format!("{name:?} is not a name DNS can carry"));
    };
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let exchange = || -> std::io::Result<Vec<u8>> {
        let socket = UdpSocket::bind(local)?;
        socket.set_read_timeout(Some(timeout))?;
        socket.connect(server)?;
        socket.send(&query)?;
        let mut buf = vec![0u8; 4096];
        let n = socket.recv(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    };
    match exchange() {
        Ok(reply) => parse(&reply, id, qtype),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Answer::Failed(format!("no answer from {server} within {timeout:?}"))
        }
        Err(e) => Answer::Failed(format!("{server}: {e}")),
    }
}

/// A recursive query for `name`, or `None` for a name no DNS label holds.
fn query(id: u16, name: &str, qtype: u16) -> Option<Vec<u8>> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..64).contains(l))?;
        q.push(len);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    Some(q)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The offset after the (possibly compressed) name at `at`.
fn skip_name(b: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *b.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

fn parse(b: &[u8], id: u16, qtype: u16) -> Answer {
    let bad = || Answer::Failed("a malformed DNS answer".to_owned());
    let (Some(got), Some(flags)) = (u16_at(b, 0), u16_at(b, 2)) else {
        return bad();
    };
    if got != id || flags & 0x8000 == 0 {
        return bad();
    }
    match flags & 0x000f {
        0 => {}
        3 => return Answer::NoSuchName,
        2 => return Answer::Failed("server failure (SERVFAIL)".to_owned()),
        5 => return Answer::Failed("the server refused the query (REFUSED)".to_owned()),
        rcode => return Answer::Failed(format!("DNS error {rcode}")),
    }
    let (Some(questions), Some(answers)) = (u16_at(b, 4), u16_at(b, 6)) else {
        return bad();
    };
    let mut at = 12;
    for _ in 0..questions {
        let Some(next) = skip_name(b, at) else {
            return bad();
        };
        at = next + 4;
    }
    let mut found = Vec::new();
    for _ in 0..answers {
        let Some(next) = skip_name(b, at) else {
            return bad();
        };
        let (Some(rtype), Some(len)) = (u16_at(b, next), u16_at(b, next + 8)) else {
            return bad();
        };
        let data = next + 10;
        let Some(rdata) = b.get(data..data + usize::from(len)) else {
            return bad();
        };
        match (rtype, rdata.len()) {
            (A, 4) if qtype == A => {
                found.push(IpAddr::from(<[u8; 4]>::try_from(rdata).unwrap_or_default()))
            }
            (AAAA, 16) if qtype == AAAA => {
                found.push(IpAddr::from(
                    <[u8; 16]>::try_from(rdata).unwrap_or_default(),
                ));
            }
            _ => {}
        }
        at = data + usize::from(len);
    }
    if found.is_empty() {
        Answer::NoAddress
    } else {
        Answer::Addresses(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_carries_the_name_as_labels() {
        let q = query(0x1234, "app.test", A).unwrap();
        assert_eq!(&q[..4], b"\x12\x34\x01\x00");
        assert_eq!(&q[12..], b"\x03app\x04test\x00\x00\x01\x00\x01");
        assert!(query(1, "a..b", A).is_none());
    }

    #[test]
    fn an_answer_with_a_compressed_name_gives_its_address() {
        let q = query(7, "app.test", A).unwrap();
        let mut r = q.clone();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1;
        r.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x03");
        assert_eq!(
            parse(&r, 7, A),
            Answer::Addresses(vec!["127.0.0.3".parse().unwrap()])
        );
        r[3] = 0x83;
        assert_eq!(parse(&r, 7, A), Answer::NoSuchName);
        assert!(matches!(parse(&r, 8, A), Answer::Failed(_)));
    }
}
