//! The `packet-filter` built-in: which rule of this host's packet filter
//! stops nginx's connection to its backend, named the way the tool that
//! owns it removes it.
//!
//! A REJECT looks like "No route to host" (113) or even "Connection
//! refused" (111, a tcp-reset), a DROP like a timeout: the errno alone
//! names no rule, and a fix that opens a port with `firewall-cmd` on a host
//! without firewalld fixes nothing. So the listings are read as the kernel
//! applies them — `iptables -S` (or `ip6tables -S`) and `nft -a list
//! ruleset` — and the SYN nginx sends is walked through the chains it
//! crosses (output, and input when the backend is local). The first rule
//! that drops or rejects it, or the drop policy it ends at, is the finding,
//! with what removes exactly it: `iptables -D` with the rule's own words,
//! `nft delete rule ... handle N`, or firewalld's own command when the rule
//! is firewalld's.

mod iptables;
mod nft;
mod rules;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use super::Out;
use crate::probe::command::{self, CommandSpec, Outcome};
use rules::{Block, Packet, Ruleset};

/// Each listing's bound: they print what the kernel holds, at once.
const LIST_TIMEOUT: Duration = Duration::from_secs(5);
const LIST_MAX: usize = 4 << 20;

/// One listing read, walked as the tool that owns it.
struct Listing {
    set: Ruleset,
    /// `iptables`, `ip6tables` or `nft`.
    tool: &'static str,
    families: Vec<&'static str>,
}

pub fn run(params: &BTreeMap<String, String>, out: &mut Out) {
    let Some(syn) = packet(params) else {
        return out.fail("no TCP backend address (IP and port) to check the packet filter for");
    };
    let v4 = syn.dst.is_some_and(|d| d.is_ipv4());
    let (program, family) = if v4 {
        ("iptables", "ip")
    } else {
        ("ip6tables", "ip6")
    };
    out.shown_as = format!("{program} -S; nft -a list ruleset");
    out.set("local", syn.local);
    out.set("selector", family);
    out.set("firewalld", firewalld_state());
    let mut problems = Vec::new();
    let mut listings = Vec::new();
    if let Some(text) = listing(program, &["-S"], &mut problems) {
        let set = iptables::parse(&text, family);
        listings.push(Listing {
            set,
            tool: program,
            families: vec![family],
        });
    }
    if let Some(text) = listing("nft", &["-a", "list", "ruleset"], &mut problems) {
        let (mut set, managed) = nft::parse(&text);
        set.chains
            .retain(|c| !managed.contains(&format!("{} {}", c.family, c.table)));
        listings.push(Listing {
            set,
            tool: "nft",
            families: vec![family, "inet"],
        });
    }
    for p in &problems {
        out.note(p);
    }
    if listings.is_empty() {
        return out.fail(format!(
            "no packet filter listing could be read: {}",
            problems.join("; ")
        ));
    }
    let read: Vec<String> = listings
        .iter()
        .map(|l| match l.tool {
            "nft" => "nft -a list ruleset".to_owned(),
            p => format!("{p} -S"),
        })
        .collect();
    out.set("read", read.join(", "));
    let first = |p: &Packet| {
        listings
            .iter()
            .find_map(|l| l.set.first_block(p, &l.families).map(|b| (l, b)))
    };
    let (sent, answer) = (first(&syn), first(&syn.reply()));
    out.set("blocked", sent.is_some() || answer.is_some());
    let to = target(&syn);
    if sent.is_some() {
        out.set("stops", format!("nginx's connection to {to}"));
    } else if answer.is_some() {
        out.set("reply", true);
        out.set(
            "stops",
            format!("the backend's answers from {to}, not nginx's connection"),
        );
    }
    match (sent, answer) {
        (Some((l, b)), answer) => {
            describe(l, &b, program, out);
            // A drop policy that stops the SYN usually stops the answer
            // too: the fix must open both, or it ends in a timeout.
            if let Some((la, ba)) = answer.filter(|(_, ba)| b.rule.is_none() && ba.rule.is_none()) {
                let c = &la.set.chains[ba.chain];
                out.set("reply_chain", c.name.clone());
                out.set("reply_table", c.table.clone());
                out.set("reply_family", c.family.clone());
            }
        }
        (None, Some((l, b))) => describe(l, &b, program, out),
        (None, None) => out.note(&format!(
            "no rule in {} stops a TCP connection to {to} or its answer",
            read.join(" or ")
        )),
    }
}

fn target(p: &Packet) -> String {
    match (p.dst, p.dport) {
        (Some(ip), Some(port)) => SocketAddr::new(ip, port).to_string(),
        _ => "the backend".to_owned(),
    }
}

/// The SYN nginx sends to the backend the parameters name.
fn packet(params: &BTreeMap<String, String>) -> Option<Packet> {
    if params.get("transport").is_some_and(|t| t != "tcp") {
        return None;
    }
    let daddr: IpAddr = params.get("host")?.trim_matches(['[', ']']).parse().ok()?;
    let dport: u16 = params.get("port")?.parse().ok()?;
    // Binding to an address works only if it is this host's own.
    let local = UdpSocket::bind((daddr, 0)).is_ok();
    Some(Packet::syn(
        source_address(daddr, dport),
        daddr,
        dport,
        local,
    ))
}

/// The source address the kernel picks towards `daddr` (a UDP connect
/// sends nothing; it only routes).
fn source_address(daddr: IpAddr, port: u16) -> Option<IpAddr> {
    let any: IpAddr = if daddr.is_ipv4() {
        IpAddr::from([0u8; 4])
    } else {
        IpAddr::from([0u16; 8])
    };
    let s = UdpSocket::bind((any, 0)).ok()?;
    s.connect((daddr, port)).ok()?;
    Some(s.local_addr().ok()?.ip())
}

/// What `program args` prints, when it is installed and may read the
/// rules; why not goes to `problems`.
fn listing(program: &str, args: &[&str], problems: &mut Vec<String>) -> Option<String> {
    let argv = std::iter::once(program).chain(args.iter().copied());
    let out = command::run(&CommandSpec {
        argv: argv.map(str::to_owned).collect(),
        timeout: LIST_TIMEOUT,
        max_output: LIST_MAX,
    });
    let shown = format!("{program} {}", args.join(" "));
    match out.outcome {
        Outcome::Exited(0) => return Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Outcome::NotFound => problems.push(format!("{shown}: {program} is not installed")),
        // Its message on one line: nft prints a second one from netlink.
        Outcome::Exited(code) => problems.push(format!(
            "{shown} exited {code}: {} (it needs root)",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ")
        )),
        other => problems.push(format!("{shown}: {other}")),
    }
    None
}

/// `running`, `not running`, or null when firewall-cmd is not installed.
fn firewalld_state() -> Option<String> {
    command::locate("firewall-cmd")?;
    let out = command::run(&CommandSpec {
        argv: vec!["firewall-cmd".into(), "--state".into()],
        timeout: LIST_TIMEOUT,
        max_output: 4096,
    });
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Some(match out.outcome {
        Outcome::Exited(0) => said,
        _ => "not running".to_owned(),
    })
}

/// The facts of what blocks: the tool that owns it and what removes it.
fn describe(listing: &Listing, block: &Block, program: &str, out: &mut Out) {
    let tool = listing.tool;
    let chain = &listing.set.chains[block.chain];
    out.set("family", chain.family.clone());
    out.set("table", chain.table.clone());
    out.set("chain", chain.name.clone());
    out.set("unevaluated", block.unknown.join(", "));
    let owner = match tool {
        "nft" if chain.table == "firewalld" => "firewalld",
        "nft" => "nft",
        _ if chain.name.starts_with("ufw") => "ufw",
        _ => program,
    };
    out.set("tool", owner);
    out.set("program", if tool == "nft" { "nft" } else { program });
    if owner == "firewalld" {
        out.set("zone", firewalld_zone(&chain.name));
    }
    let Some(r) = block.rule else {
        out.set("policy", chain.policy.clone());
        out.note(&format!(
            "chain {} (table {} {}) ends in policy {} and no rule before accepts the connection",
            chain.name,
            chain.family,
            chain.table,
            chain.policy.as_deref().unwrap_or("drop")
        ));
        return;
    };
    let rule = &chain.rules[r];
    out.set("rule", rule.text.clone());
    out.set("handle", rule.handle.and_then(|h| i64::try_from(h).ok()));
    out.set(
        "verdict",
        match rule.verdict {
            rules::Verdict::Reject => "reject",
            _ => "drop",
        },
    );
    if tool != "nft" {
        out.set("delete", iptables::delete_words(&rule.text));
    }
    if let Some((file, line)) = saved_at(&rule.text, tool, &chain.family) {
        out.set("saved_file", file);
        out.set("saved_line", i64::try_from(line).unwrap_or(0));
    }
    out.note(&format!(
        "chain {} (table {} {}): {}",
        chain.name, chain.family, chain.table, rule.text
    ));
}

/// Where the rule is loaded from at boot: the file (of those the usual
/// packages load) and line that hold it, written as it is listed. nft
/// lists a counter with its counts; the file has the bare word.
fn saved_at(rule: &str, tool: &str, family: &str) -> Option<(String, usize)> {
    let files: &[&str] = match (tool, family) {
        ("nft", _) => &["/etc/nftables.conf", "/etc/sysconfig/nftables.conf"],
        (_, "ip6") => &["/etc/iptables/rules.v6", "/etc/sysconfig/ip6tables"],
        _ => &["/etc/iptables/rules.v4", "/etc/sysconfig/iptables"],
    };
    let want = bare_counters(rule);
    files.iter().find_map(|f| {
        let text = crate::host::read_capped(std::path::Path::new(f), LIST_MAX as u64).ok()?;
        let at = text.lines().position(|l| bare_counters(l.trim()) == want)?;
        Some(((*f).to_owned(), at + 1))
    })
}

/// `counter packets 2 bytes 120` as `counter`.
fn bare_counters(rule: &str) -> String {
    let words: Vec<&str> = rule.split_whitespace().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        out.push(words[i]);
        let counts = words.get(i + 1) == Some(&"packets") && words.get(i + 3) == Some(&"bytes");
        i += if words[i] == "counter" && counts {
            5
        } else {
            1
        };
    }
    out.join(" ")
}

/// firewalld names its nft chains after zones: `filter_IN_public_allow`.
fn firewalld_zone(chain: &str) -> Option<String> {
    let rest = chain.strip_prefix("filter_IN_")?;
    let zone = ["_allow", "_deny", "_pre", "_post", "_log"]
        .iter()
        .find_map(|s| rest.strip_suffix(s))
        .unwrap_or(rest);
    (!zone.is_empty() && zone != "ZONES").then(|| zone.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_compared_without_their_counts() {
        assert_eq!(
            bare_counters("tcp dport 9027 counter packets 2 bytes 120 reject with tcp reset"),
            "tcp dport 9027 counter reject with tcp reset"
        );
        assert_eq!(bare_counters("-A INPUT -j DROP"), "-A INPUT -j DROP");
    }

    #[test]
    fn firewalld_chains_name_their_zone() {
        assert_eq!(
            firewalld_zone("filter_IN_public_allow").as_deref(),
            Some("public")
        );
        assert_eq!(firewalld_zone("filter_IN_ZONES"), None);
        assert_eq!(firewalld_zone("filter_INPUT"), None);
    }

    #[test]
    fn a_loopback_backend_is_local_and_sent_from_loopback() {
        let params = BTreeMap::from([
            ("transport".to_owned(), "tcp".to_owned()),
            ("host".to_owned(), "127.0.0.1".to_owned()),
            ("port".to_owned(), "9".to_owned()),
        ]);
        let p = packet(&params).unwrap();
        assert!(p.local);
        assert_eq!(p.src, Some(IpAddr::from([127, 0, 0, 1])));
    }
}
