//! Reads `nft -a list ruleset` into chains and rules. Each rule keeps the
//! text nft printed and its handle, which is how `nft delete rule` names
//! it. Tables iptables-nft manages are left out (nft prints a warning
//! after each): their rules are read from `iptables -S`, and removed with
//! iptables, as nft itself asks.

use super::rules::{Chain, Cond, Rule, Ruleset, Verdict, parse_net, parse_port_range};

/// The chains of the listing, and the tables iptables-nft manages.
pub fn parse(text: &str) -> (Ruleset, Vec<String>) {
    let mut set = Ruleset::default();
    let mut managed = Vec::new();
    let mut table: Option<(String, String)> = None;
    let mut chain: Option<Chain> = None;
    // Blocks other than tables and chains (sets, maps) are skipped whole.
    let mut skipping = 0usize;
    for raw in text.lines() {
        let (line, handle) = split_handle(raw.trim());
        if let Some(rest) = line.strip_prefix("# Warning: table ") {
            managed.extend(rest.split(" is managed").next().map(str::to_owned));
            continue;
        }
        if skipping > 0 {
            skipping =
                (skipping + line.matches('{').count()).saturating_sub(line.matches('}').count());
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["table", family, name, "{", ..] => {
                table = Some(((*family).to_owned(), (*name).to_owned()));
            }
            ["chain", name, "{", ..] => {
                let (family, table) = table.clone().unwrap_or_default();
                chain = Some(Chain {
                    family,
                    table,
                    name: (*name).to_owned(),
                    ..Chain::default()
                });
            }
            ["}"] => match chain.take() {
                Some(c) => set.chains.push(c),
                None => table = None,
            },
            [] => {}
            ["type", ..] => {
                if let Some(c) = chain.as_mut() {
                    base_chain(c, line);
                }
            }
            _ if chain.is_none() => skipping = line.matches('{').count(),
            _ => {
                if let Some(c) = chain.as_mut() {
                    c.rules.push(rule(line, handle));
                }
            }
        }
    }
    (set, managed)
}

/// `... # handle 4` as the text before it and the handle.
fn split_handle(line: &str) -> (&str, Option<u64>) {
    match line.rsplit_once("# handle ") {
        Some((text, h)) => (text.trim_end(), h.trim().parse().ok()),
        None => (line, None),
    }
}

/// `type filter hook input priority filter + 10; policy drop;`
fn base_chain(chain: &mut Chain, line: &str) {
    for part in line.split(';').map(str::trim) {
        let words: Vec<&str> = part.split_whitespace().collect();
        if let Some(at) = words.iter().position(|w| *w == "hook") {
            chain.hook = words.get(at + 1).map(|h| (*h).to_owned());
        }
        if let Some(at) = words.iter().position(|w| *w == "priority") {
            chain.priority = priority(&words[at + 1..]);
        }
        if let ["policy", p] = words.as_slice() {
            chain.policy = Some((*p).to_owned());
        }
    }
}

/// `filter`, `filter + 10`, `-150`: nft's priority names and numbers.
fn priority(words: &[&str]) -> i64 {
    let named = |w: &str| match w {
        "raw" => Some(-300),
        "mangle" => Some(-150),
        "dstnat" => Some(-100),
        "filter" => Some(0),
        "security" => Some(50),
        "srcnat" => Some(100),
        n => n.parse().ok(),
    };
    let base = words.first().and_then(|w| named(w)).unwrap_or(0);
    match words.get(1..3) {
        Some(["+", n]) => base + n.parse::<i64>().unwrap_or(0),
        Some(["-", n]) => base - n.parse::<i64>().unwrap_or(0),
        _ => base,
    }
}

/// Words of a rule, with `{ ... }` sets and quoted names kept whole.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut depth = 0usize;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            '{' if !quoted => depth += 1,
            '}' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c.is_whitespace() && depth == 0 && !quoted {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The values of `tcp`, `{ 80, 443 }` or `"lo"`.
fn values(token: &str) -> Vec<String> {
    token
        .trim_matches(['{', '}'])
        .split(',')
        .map(|v| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// One rule line (without its handle).
fn rule(line: &str, handle: Option<u64>) -> Rule {
    let t = tokens(line);
    let mut conds = Vec::new();
    let mut verdict = Verdict::Continue;
    let mut i = 0;
    while i < t.len() {
        let (used, cond) = statement(&t, i, &mut verdict);
        conds.extend(cond);
        i += used.max(1);
    }
    Rule {
        text: line.to_owned(),
        handle,
        conds,
        verdict,
    }
}

/// Reads the statement at `t[i]`: how many tokens it took, and the
/// condition it is, if any (a verdict is stored in `verdict`).
fn statement(t: &[String], i: usize, verdict: &mut Verdict) -> (usize, Option<Cond>) {
    let word = |k: usize| t.get(i + k).map(String::as_str);
    // `!=` after a selector negates it.
    let (neg, at) = match word(2) {
        Some("!=") => (true, 3),
        Some("==") => (false, 3),
        _ => (false, 2),
    };
    let arg = word(at).map(values).unwrap_or_default();
    match (word(0), word(1)) {
        (Some("tcp" | "udp" | "sctp" | "th"), Some(dir @ ("dport" | "sport"))) => {
            let ranges: Option<Vec<_>> = arg.iter().map(|v| parse_port_range(v)).collect();
            let proto = t[i].as_str();
            let cond = match ranges {
                // `udp dport 53` never matches a TCP packet.
                _ if proto == "udp" || proto == "sctp" => Cond::Proto(vec![proto.into()], false),
                Some(r) => Cond::Port(dir == "dport", r, neg),
                None => Cond::Other(t[i..=i + at].join(" ")),
            };
            (at + 1, Some(cond))
        }
        (Some("ip" | "ip6"), Some(dir @ ("daddr" | "saddr"))) => {
            let nets: Option<Vec<_>> = arg.iter().map(|v| parse_net(v)).collect();
            let cond = match nets {
                Some(n) => Cond::Addr(dir == "daddr", n, neg),
                None => Cond::Other(t[i..=i + at].join(" ")),
            };
            (at + 1, Some(cond))
        }
        (Some("meta"), Some("l4proto")) | (Some("ip"), Some("protocol")) => {
            (at + 1, Some(Cond::Proto(arg, neg)))
        }
        (Some("iifname" | "iif" | "oifname" | "oif"), _) => {
            let (neg, at) = if word(1) == Some("!=") {
                (true, 2)
            } else {
                (false, 1)
            };
            let names = word(at).map(values).unwrap_or_default();
            (at + 1, Some(Cond::Iface(t[i].starts_with('i'), names, neg)))
        }
        (Some("ct"), Some("state")) => (at + 1, Some(Cond::State(arg, neg))),
        (Some("counter" | "comment" | "log"), _) => (unknown_len(t, i), None),
        (Some("accept"), _) => set(verdict, Verdict::Accept, 1),
        (Some("drop"), _) => set(verdict, Verdict::Drop, 1),
        (Some("reject"), _) => set(verdict, Verdict::Reject, t.len() - i),
        (Some("return"), _) => set(verdict, Verdict::Return, 1),
        (Some("jump"), Some(to)) => set(verdict, Verdict::Jump(to.into()), 2),
        (Some("goto"), Some(to)) => set(verdict, Verdict::Goto(to.into()), 2),
        (Some(_), _) => {
            let used = unknown_len(t, i);
            (used, Some(Cond::Other(t[i..i + used].join(" "))))
        }
        (None, _) => (1, None),
    }
}

fn set(verdict: &mut Verdict, v: Verdict, used: usize) -> (usize, Option<Cond>) {
    *verdict = v;
    (used, None)
}

/// Words that begin a statement this reader knows.
const STARTERS: &[&str] = &[
    "tcp", "udp", "sctp", "th", "ip", "ip6", "meta", "iifname", "iif", "oifname", "oif", "ct",
    "counter", "comment", "log", "limit", "accept", "drop", "reject", "return", "jump", "goto",
];

/// How many words the statement at `t[i]` takes: up to the next one that
/// begins a statement (`counter packets 2 bytes 120`, `meta skuid 33`).
fn unknown_len(t: &[String], i: usize) -> usize {
    1 + t[i + 1..]
        .iter()
        .take_while(|w| !STARTERS.contains(&w.as_str()))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "table inet lab { # handle 5
\tchain input { # handle 1
\t\ttype filter hook input priority filter + 10; policy accept;
\t\tiifname \"eth0\" ct state { established, related } accept # handle 3
\t\ttcp dport { 80, 9027 } counter packets 2 bytes 120 reject with tcp reset # handle 4
\t}
\tset blocked { # handle 6
\t\ttype ipv4_addr
\t\telements = { 10.0.0.1 }
\t}
}
table ip filter { # handle 7
\tchain INPUT { # handle 1
\t\ttype filter hook input priority filter; policy accept;
\t\tmeta l4proto tcp tcp dport 9027 counter packets 0 bytes 0 drop # handle 2
\t}
}
# Warning: table ip filter is managed by iptables-nft, do not touch!
";

    #[test]
    fn chains_rules_and_handles_are_read() {
        let (set, managed) = parse(LISTING);
        assert_eq!(managed, ["ip filter"]);
        assert_eq!(set.chains.len(), 2);
        let c = &set.chains[0];
        assert_eq!(
            (
                c.family.as_str(),
                c.table.as_str(),
                c.name.as_str(),
                c.priority
            ),
            ("inet", "lab", "input", 10)
        );
        assert_eq!(c.hook.as_deref(), Some("input"));
        let r = &c.rules[1];
        assert_eq!(r.handle, Some(4));
        assert_eq!(
            r.text,
            "tcp dport { 80, 9027 } counter packets 2 bytes 120 reject with tcp reset"
        );
        assert_eq!(r.verdict, Verdict::Reject);
        assert_eq!(
            r.conds,
            [Cond::Port(true, vec![(80, 80), (9027, 9027)], false)]
        );
    }

    #[test]
    fn interfaces_states_and_negations_are_conditions() {
        let r = rule(
            "iifname != \"lo\" ip daddr 10.0.0.0/8 ct state new tcp dport != 22 drop",
            None,
        );
        assert_eq!(
            r.conds,
            [
                Cond::Iface(true, vec!["lo".into()], true),
                Cond::Addr(true, vec![("10.0.0.0".parse().unwrap(), 8)], false),
                Cond::State(vec!["new".into()], false),
                Cond::Port(true, vec![(22, 22)], true),
            ]
        );
        assert_eq!(r.verdict, Verdict::Drop);
    }

    #[test]
    fn an_unknown_match_is_kept_as_written() {
        let r = rule("ip saddr @blocked drop", None);
        assert_eq!(r.conds, [Cond::Other("ip saddr @blocked".into())]);
        let r = rule("meta skuid 33 jump app", None);
        assert_eq!(r.verdict, Verdict::Jump("app".into()));
        assert!(matches!(r.conds[0], Cond::Other(_)));
    }
}
