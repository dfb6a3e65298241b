//! The `keepalive-reuse` built-in: how long the backend keeps an idle
//! connection open, measured the way nginx uses one, and where nginx's own
//! idle limit for the upstream group is written.
//!
//! The race behind "prematurely closed" on a reused connection is two idle
//! timers: nginx keeps an upstream connection `keepalive_timeout` (60 s by
//! default), the backend its own (Node 5 s, gunicorn 2 s). The fix is
//! nginx's below the backend's, so the backend's must be known, not
//! guessed. Connections are opened as nginx opens them (HTTP/1.1, one
//! `GET /` each, answer read whole); then each is reused after a longer
//! idle time than the one before, until the backend no longer answers on
//! it. That brackets its idle timeout, from 0 s (it serves one request per
//! connection) to more than [`LONGEST`]. Only a backend nginx itself talks
//! to is asked: loopback, or a server of the upstream group.

use super::nginx_probe::Discover;
use crate::session::Session;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::Out;

/// The idle times tried, in milliseconds; the probe stops at the first
/// the backend does not survive.
const WAITS_MS: [u64; 13] = [
    0, 100, 250, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 6500, 8000,
];
/// The longest idle time measured.
const LONGEST: Duration = Duration::from_millis(8000);
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// A response larger than this is not read to its end.
const MAX_RESPONSE: usize = 1 << 20;

pub fn run(host: &mut Session, params: &BTreeMap<String, String>, out: &mut Out) {
    let block = params.get("block").cloned();
    config_facts(host, block.as_deref(), out);
    let Some(addr) = address(params) else {
        return out.fail("no TCP backend address (IP and port) to measure");
    };
    let allowed = addr.ip().is_loopback() || group_serves(host, block.as_deref(), addr);
    if !allowed {
        return out.fail(format!(
            "{addr} is not on loopback nor a server of upstream {}: not asked",
            block.as_deref().unwrap_or("(none)")
        ));
    }
    out.shown_as =
        format!("(GET / on kept-alive HTTP/1.1 connections to {addr}, reused after 0 to 8 s)");
    match measure(addr) {
        Err(why) => out.fail(why),
        Ok(m) => describe(&m, out),
    }
}

fn address(params: &BTreeMap<String, String>) -> Option<SocketAddr> {
    if params.get("transport").is_some_and(|t| t != "tcp") {
        return None;
    }
    let ip: IpAddr = params.get("host")?.trim_matches(['[', ']']).parse().ok()?;
    Some(SocketAddr::new(ip, params.get("port")?.parse().ok()?))
}

/// Whether `addr` is a server of upstream `block` as the model parsed it.
fn group_serves(host: &mut Session, block: Option<&str>, addr: SocketAddr) -> bool {
    let view = host.nginx();
    let group = block.and_then(|b| view.model.as_ref()?.upstream(b));
    group.is_some_and(|g| {
        g.servers.iter().any(|s| match &s.parsed {
            Some(crate::nginx::Address::Tcp { host, port }) => {
                *port == addr.port() && host.trim_matches(['[', ']']).parse() == Ok(addr.ip())
            }
            _ => false,
        })
    })
}

/// Where the group's `keepalive` and `keepalive_timeout` are written.
fn config_facts(host: &mut Session, block: Option<&str>, out: &mut Out) {
    let Some(block) = block else { return };
    let Some(cfg) = host.nginx().config.as_ref() else {
        return;
    };
    let Some(group) = super::conf_scope::upstream(cfg, block) else {
        return;
    };
    out.set(
        "block_at",
        format!("{}:{}", group.file.display(), group.line),
    );
    let find = |name: &str| group.children().iter().find(|d| d.name == name);
    if let Some(k) = find("keepalive") {
        out.set("keepalive", format!("keepalive {};", k.args.join(" ")));
        out.set("keepalive_file", k.file.display().to_string());
        out.set("keepalive_line", i64::try_from(k.line).unwrap_or(0));
    }
    match find("keepalive_timeout") {
        Some(t) => {
            out.set("timeout", t.args.join(" "));
            out.set(
                "timeout_directive",
                format!("keepalive_timeout {};", t.args.join(" ")),
            );
            out.set("timeout_file", t.file.display().to_string());
            out.set("timeout_line", i64::try_from(t.line).unwrap_or(0));
        }
        None => out.set("timeout", "60s (nginx's default)"),
    }
}

/// What the reuses found.
struct Measured {
    /// The longest idle time after which a reused connection still answered.
    lasts: Option<Duration>,
    /// The shortest after which it did not.
    closed_by: Option<Duration>,
    /// The first answer said it would close the connection.
    refuses_keepalive: bool,
}

fn measure(addr: SocketAddr) -> Result<Measured, String> {
    let mut conns = Vec::new();
    for _ in WAITS_MS {
        let mut c = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .map_err(|e| format!("{addr} takes no connection: {e}"))?;
        c.set_read_timeout(Some(IO_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let keep = exchange(&mut c, addr).map_err(|e| format!("GET / to {addr}: {e}"))?;
        if !keep {
            return Ok(Measured {
                lasts: None,
                closed_by: Some(Duration::ZERO),
                refuses_keepalive: true,
            });
        }
        conns.push((c, Instant::now()));
    }
    let mut lasts = None;
    for ((mut c, since), wait) in conns.into_iter().zip(WAITS_MS.map(Duration::from_millis)) {
        std::thread::sleep((since + wait).saturating_duration_since(Instant::now()));
        match exchange(&mut c, addr) {
            Ok(_) => lasts = Some(wait),
            Err(_) => {
                return Ok(Measured {
                    lasts,
                    closed_by: Some(wait),
                    refuses_keepalive: false,
                });
            }
        }
    }
    Ok(Measured {
        lasts,
        closed_by: None,
        refuses_keepalive: false,
    })
}

/// One `GET /` on `c`, its answer read to the end; whether the backend
/// keeps the connection open after it.
fn exchange(c: &mut TcpStream, addr: SocketAddr) -> Result<bool, String> {
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nUser-Agent: nginx-doctor\r\n\r\n",
        match addr.ip() {
            IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
            IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
        }
    );
    c.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if read_more(c, &mut buf)? == 0 {
            return Err("the connection closed before an answer".to_owned());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::trim))
    };
    let status_ok = head.starts_with("http/1.1 ");
    let close = header("connection").is_some_and(|v| v.contains("close"));
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        read_chunked(c, buf.split_off(head_end))?;
    } else {
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or("an answer without Content-Length")?;
        if length > MAX_RESPONSE {
            return Err(format!("an answer of {length} bytes"));
        }
        while buf.len() < head_end + length {
            if read_more(c, &mut buf)? == 0 {
                return Err("the connection closed inside the answer".to_owned());
            }
        }
    }
    Ok(status_ok && !close)
}

fn read_more(c: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize, String> {
    if buf.len() > MAX_RESPONSE {
        return Err("an answer too large to measure with".to_owned());
    }
    let mut chunk = [0u8; 8192];
    let n = c.read(&mut chunk).map_err(|e| e.to_string())?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Reads a chunked body (`rest` holds what came after the header) to its end.
fn read_chunked(c: &mut TcpStream, mut rest: Vec<u8>) -> Result<(), String> {
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            if read_more(c, &mut rest)? == 0 {
                return Err("the connection closed inside the answer".to_owned());
            }
            continue;
        };
        let size_text = String::from_utf8_lossy(&rest[..eol]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "a malformed chunked answer".to_owned())?;
        let need = eol + 2 + size + 2;
        while rest.len() < need {
            if read_more(c, &mut rest)? == 0 {
                return Err("the connection closed inside the answer".to_owned());
            }
        }
        if size == 0 {
            return Ok(());
        }
        rest.drain(..need);
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// As a person reads it: `750 ms`, `1.5 s`.
fn shown(d: Duration) -> String {
    match d.as_millis() {
        m if m < 1000 => format!("{m} ms"),
        m if m % 1000 == 0 => format!("{} s", m / 1000),
        m => format!("{:.1} s", m as f64 / 1000.0),
    }
}

fn describe(m: &Measured, out: &mut Out) {
    out.set("lasts_ms", m.lasts.map(ms));
    out.set("closed_by_ms", m.closed_by.map(ms));
    let once = m.refuses_keepalive || m.closed_by == Some(Duration::ZERO);
    out.set("keeps_alive", !once);
    let idle = match (m.lasts, m.closed_by) {
        _ if m.refuses_keepalive => {
            "answers `Connection: close`: one request per connection".to_owned()
        }
        (_, Some(Duration::ZERO)) => {
            "serves one request per connection: a reused one gets no answer".to_owned()
        }
        (Some(a), Some(b)) => format!(
            "closes a connection idle for more than {} (and at most {})",
            shown(a),
            shown(b)
        ),
        (None, Some(b)) => format!("closes a connection idle for {} or less", shown(b)),
        (_, None) => format!(
            "kept idle connections open for the {} measured",
            shown(LONGEST)
        ),
    };
    out.set("idle", idle.clone());
    out.note(&format!("the backend {idle}"));
    // Below the longest idle time it survived, with a fifth to spare for
    // the request on its way: 750 ms gives 600ms, 4 s gives 3200ms.
    if let (Some(a), Some(_)) = (m.lasts, m.closed_by)
        && a >= Duration::from_millis(250)
    {
        let value = (a.as_millis() * 4 / 5) / 100 * 100;
        out.set("suggested", format!("{value}ms"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(m: Measured) -> Vec<(String, String)> {
        let mut out = Out::default();
        describe(&m, &mut out);
        out.facts
            .into_iter()
            .map(|(n, v)| (n, v.to_string()))
            .collect()
    }

    fn fact(f: &[(String, String)], name: &str) -> Option<String> {
        f.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_suggestion_stays_below_the_longest_idle_time_survived() {
        let f = facts(Measured {
            lasts: Some(Duration::from_millis(750)),
            closed_by: Some(Duration::from_millis(1000)),
            refuses_keepalive: false,
        });
        assert_eq!(fact(&f, "suggested").as_deref(), Some("600ms"));
        assert_eq!(
            fact(&f, "idle").as_deref(),
            Some("closes a connection idle for more than 750 ms (and at most 1 s)")
        );
        let node = facts(Measured {
            lasts: Some(Duration::from_secs(4)),
            closed_by: Some(Duration::from_secs(5)),
            refuses_keepalive: false,
        });
        assert_eq!(fact(&node, "suggested").as_deref(), Some("3200ms"));
    }

    #[test]
    fn a_backend_serving_one_request_per_connection_gets_no_timeout() {
        let f = facts(Measured {
            lasts: None,
            closed_by: Some(Duration::ZERO),
            refuses_keepalive: false,
        });
        assert_eq!(fact(&f, "keeps_alive").as_deref(), Some("no"));
        assert_eq!(fact(&f, "suggested"), None);
    }

    #[test]
    fn a_patient_backend_is_measured_no_further_than_the_window() {
        let f = facts(Measured {
            lasts: Some(LONGEST),
            closed_by: None,
            refuses_keepalive: false,
        });
        assert_eq!(fact(&f, "suggested"), None);
        assert!(fact(&f, "idle").unwrap().contains("8 s measured"));
    }
}
