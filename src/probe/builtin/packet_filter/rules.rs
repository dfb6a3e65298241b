//! A packet filter's rules as the kernel walks them, for one packet: the
//! SYN nginx sends to its backend. nftables and iptables differ in syntax,
//! not in what a rule means here — conditions on protocol, ports,
//! addresses, interfaces and connection state, then a verdict — so both
//! listings are read into this one model and walked the same way.
//!
//! A condition this model does not know (`-m owner`, `meta mark`, a named
//! set) is neither true nor false. A drop or reject behind one is still
//! reported, with the condition named, since it may be what blocks; an
//! accept behind one is not trusted to let the packet through.

use std::net::IpAddr;

/// A packet of nginx's connection to its backend: the SYN it sends, or
/// the backend's answer coming back. What is not known (nginx's source
/// port) stays `None`, and a condition on it is not evaluated.
#[derive(Debug, Clone)]
pub struct Packet {
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    /// Its connection-tracking state: `new` for the SYN, `established`
    /// for the answer.
    pub state: &'static str,
    /// Whether the backend's address is this host's own: then the packet
    /// leaves through `lo` and comes back in through it.
    pub local: bool,
}

impl Packet {
    /// The SYN nginx sends from `src` (when known) to the backend.
    pub fn syn(src: Option<IpAddr>, backend: IpAddr, port: u16, local: bool) -> Packet {
        Packet {
            src,
            dst: Some(backend),
            sport: None,
            dport: Some(port),
            state: "new",
            local,
        }
    }

    /// The backend's answer to it.
    pub fn reply(&self) -> Packet {
        Packet {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
            state: "established",
            local: self.local,
        }
    }

    /// The hooks it crosses on this host: a packet nginx sends leaves
    /// through output; one from a remote backend arrives through input;
    /// on a local backend both go out and in again.
    fn hooks(&self) -> &'static [Hook] {
        match (self.local, self.state) {
            (true, _) => &[Hook::Output, Hook::Input],
            (false, "new") => &[Hook::Output],
            (false, _) => &[Hook::Input],
        }
    }
}

/// Where a chain is hooked, as far as this packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Output,
    Input,
}

/// One condition of a rule, each negatable.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// `-p tcp`, `meta l4proto tcp`: protocol names or numbers.
    Proto(Vec<String>, bool),
    /// A destination (`true`) or source port in one of these ranges.
    Port(bool, Vec<(u16, u16)>, bool),
    /// A destination (`true`) or source address in one of these networks.
    Addr(bool, Vec<(IpAddr, u8)>, bool),
    /// The input (`true`) or output interface, `eth+`/`eth*` as a prefix.
    Iface(bool, Vec<String>, bool),
    /// Connection-tracking states (`NEW`, `established`).
    State(Vec<String>, bool),
    /// Anything else, as written: not evaluated.
    Other(String),
}

/// What a rule does when it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    Reject,
    Jump(String),
    Goto(String),
    Return,
    /// No verdict (`counter`, `log`): the walk goes on.
    Continue,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The rule as its listing shows it.
    pub text: String,
    /// nftables' handle (`# handle 4`).
    pub handle: Option<u64>,
    pub conds: Vec<Cond>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chain {
    /// `ip`, `ip6`, `inet` for nftables; `ip`/`ip6` for iptables.
    pub family: String,
    pub table: String,
    pub name: String,
    /// For a base chain: where it is hooked, and its priority.
    pub hook: Option<String>,
    pub priority: i64,
    /// `drop` or `accept`, for a base chain.
    pub policy: Option<String>,
    pub rules: Vec<Rule>,
}

/// What blocks the packet: a rule (its index) or a chain's policy (`None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub chain: usize,
    pub rule: Option<usize>,
    /// Conditions of that rule that were not evaluated.
    pub unknown: Vec<String>,
}

/// How a walk of one chain ended.
enum Flow {
    Accept,
    Block(Block),
    /// `return`, or the end of a chain that is not a base chain.
    Return,
}

/// Deep enough for any real ruleset; a loop of jumps ends here.
const MAX_DEPTH: usize = 32;

/// A listing's chains.
#[derive(Debug, Default)]
pub struct Ruleset {
    pub chains: Vec<Chain>,
}

impl Ruleset {
    /// What blocks `p` on its way: every base chain of the hooks it
    /// crosses, in priority order. An accept ends only its own base chain; a drop or a
    /// reject anywhere is final.
    pub fn first_block(&self, p: &Packet, families: &[&str]) -> Option<Block> {
        for &hook in p.hooks() {
            let mut bases: Vec<usize> = (0..self.chains.len())
                .filter(|&i| {
                    let c = &self.chains[i];
                    c.hook.as_deref() == Some(hook_name(hook))
                        && families.contains(&c.family.as_str())
                })
                .collect();
            bases.sort_by_key(|&i| self.chains[i].priority);
            for i in bases {
                match self.walk(i, p, hook, 0) {
                    Flow::Block(b) => return Some(b),
                    Flow::Accept => {}
                    Flow::Return if self.chains[i].policy.as_deref().is_some_and(is_drop) => {
                        return Some(Block {
                            chain: i,
                            rule: None,
                            unknown: Vec::new(),
                        });
                    }
                    Flow::Return => {}
                }
            }
        }
        None
    }

    fn walk(&self, at: usize, p: &Packet, hook: Hook, depth: usize) -> Flow {
        let chain = &self.chains[at];
        for (r, rule) in chain.rules.iter().enumerate() {
            let Some(unknown) = matches(rule, p, hook) else {
                continue;
            };
            let blocks = || Block {
                chain: at,
                rule: Some(r),
                unknown: unknown.clone(),
            };
            match &rule.verdict {
                Verdict::Drop | Verdict::Reject => return Flow::Block(blocks()),
                // An accept behind an unknown condition may not apply.
                Verdict::Accept if unknown.is_empty() => return Flow::Accept,
                Verdict::Return if unknown.is_empty() => return Flow::Return,
                Verdict::Jump(to) | Verdict::Goto(to) if depth < MAX_DEPTH => {
                    let Some(target) = self.find(chain, to) else {
                        continue;
                    };
                    match self.walk(target, p, hook, depth + 1) {
                        Flow::Return if matches!(rule.verdict, Verdict::Goto(_)) => {
                            return Flow::Return;
                        }
                        Flow::Return => {}
                        done => return done,
                    }
                }
                _ => {}
            }
        }
        Flow::Return
    }

    /// The chain `name` of `from`'s table.
    fn find(&self, from: &Chain, name: &str) -> Option<usize> {
        self.chains
            .iter()
            .position(|c| c.name == name && c.table == from.table && c.family == from.family)
    }
}

/// `drop`, `DROP`: the policy that stops what no rule accepted.
fn is_drop(policy: &str) -> bool {
    policy.eq_ignore_ascii_case("drop")
}

fn hook_name(hook: Hook) -> &'static str {
    match hook {
        Hook::Output => "output",
        Hook::Input => "input",
    }
}

/// `None` when a condition of `rule` is false for `p`; else the
/// conditions that were not evaluated (empty: the rule surely matches).
fn matches(rule: &Rule, p: &Packet, hook: Hook) -> Option<Vec<String>> {
    let mut unknown = Vec::new();
    for cond in &rule.conds {
        match eval(cond, p, hook) {
            Some(true) => {}
            Some(false) => return None,
            None => unknown.push(describe(cond)),
        }
    }
    Some(unknown)
}

fn eval(cond: &Cond, p: &Packet, hook: Hook) -> Option<bool> {
    let (hit, negated) = match cond {
        Cond::Proto(names, neg) => (
            names
                .iter()
                .any(|n| matches!(n.as_str(), "tcp" | "6" | "all" | "0")),
            *neg,
        ),
        Cond::Port(dest, ranges, neg) => {
            // nginx's own port is an ephemeral one: not known.
            let port = if *dest { p.dport } else { p.sport }?;
            (ranges.iter().any(|&(a, b)| (a..=b).contains(&port)), *neg)
        }
        Cond::Addr(dest, nets, neg) => {
            let ip = if *dest { p.dst } else { p.src }?;
            (nets.iter().any(|n| contains(*n, ip)), *neg)
        }
        Cond::Iface(input, names, neg) => {
            let here = match (hook, *input) {
                // A packet being sent has no input interface.
                (Hook::Output, true) => return Some(*neg),
                _ if !p.local => return None,
                _ => "lo",
            };
            (names.iter().any(|n| iface_matches(n, here)), *neg)
        }
        Cond::State(states, neg) => (states.iter().any(|s| s.eq_ignore_ascii_case(p.state)), *neg),
        Cond::Other(_) => return None,
    };
    Some(hit != negated)
}

fn iface_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix(['+', '*']) {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// Whether `net` (an address and a prefix length) holds `ip`.
fn contains((net, len): (IpAddr, u8), ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => prefix_eq(&n.octets(), &i.octets(), len),
        (IpAddr::V6(n), IpAddr::V6(i)) => prefix_eq(&n.octets(), &i.octets(), len),
        _ => false,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], len: u8) -> bool {
    let len = usize::from(len).min(a.len() * 8);
    let (whole, rest) = (len / 8, len % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

/// `10.0.0.0/8`, `127.0.0.1`, `::1/128` as an address and a prefix length.
pub fn parse_net(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        // iptables may print a netmask: 255.255.255.0.
        Some(l) => match l.parse::<u8>() {
            Ok(n) => n,
            Err(_) => mask_len(l.parse().ok()?)?,
        },
        None => max,
    };
    (len <= max).then_some((ip, len))
}

fn mask_len(mask: IpAddr) -> Option<u8> {
    let bits: u128 = match mask {
        IpAddr::V4(m) => u128::from(u32::from(m)) << 96,
        IpAddr::V6(m) => u128::from(m),
    };
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then(|| u8::try_from(ones).unwrap_or(128))
}

/// `80`, `9000-9100` (nft) or `9000:9100` (iptables) as a range.
pub fn parse_port_range(text: &str) -> Option<(u16, u16)> {
    match text.split_once(['-', ':']) {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => text.parse().ok().map(|p| (p, p)),
    }
}

/// A condition in words, for the list of those not evaluated.
fn describe(cond: &Cond) -> String {
    let not = |negated: &bool| if *negated { "not " } else { "" };
    let dir = |dst: &bool| if *dst { "destination" } else { "source" };
    match cond {
        Cond::Other(text) => text.clone(),
        Cond::Proto(p, n) => format!("protocol {}{}", not(n), p.join(",")),
        Cond::Port(d, ranges, n) => {
            let r: Vec<String> = ranges
                .iter()
                .map(|(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}-{b}")
                    }
                })
                .collect();
            format!("{} port {}{}", dir(d), not(n), r.join(","))
        }
        Cond::Addr(d, nets, n) => {
            let r: Vec<String> = nets.iter().map(|(ip, len)| format!("{ip}/{len}")).collect();
            format!("{} address {}{}", dir(d), not(n), r.join(","))
        }
        Cond::Iface(input, names, n) => {
            let way = if *input { "input" } else { "output" };
            format!("{way} interface {}{}", not(n), names.join(","))
        }
        Cond::State(states, n) => format!("connection state {}{}", not(n), states.join(",")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(local: bool) -> Packet {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        Packet::syn(Some(lo), lo, 9027, local)
    }

    fn rule(conds: Vec<Cond>, verdict: Verdict) -> Rule {
        Rule {
            text: String::new(),
            handle: None,
            conds,
            verdict,
        }
    }

    fn base(hook: &str, policy: &str, rules: Vec<Rule>) -> Chain {
        Chain {
            family: "ip".into(),
            table: "filter".into(),
            name: hook.to_uppercase(),
            hook: Some(hook.into()),
            policy: Some(policy.into()),
            rules,
            ..Chain::default()
        }
    }

    fn dport(p: u16) -> Cond {
        Cond::Port(true, vec![(p, p)], false)
    }

    #[test]
    fn a_drop_on_the_port_blocks_a_local_backend_at_input() {
        let set = Ruleset {
            chains: vec![base(
                "input",
                "accept",
                vec![rule(vec![dport(9027)], Verdict::Drop)],
            )],
        };
        let b = set.first_block(&packet(true), &["ip"]).unwrap();
        assert_eq!((b.chain, b.rule), (0, Some(0)));
        assert_eq!(set.first_block(&packet(false), &["ip"]), None);
    }

    #[test]
    fn an_earlier_accept_for_loopback_lets_it_through() {
        let lo = Cond::Iface(true, vec!["lo".into()], false);
        let set = Ruleset {
            chains: vec![base(
                "input",
                "drop",
                vec![
                    rule(vec![lo], Verdict::Accept),
                    rule(vec![dport(9027)], Verdict::Drop),
                ],
            )],
        };
        assert_eq!(set.first_block(&packet(true), &["ip"]), None);
    }

    #[test]
    fn a_drop_policy_blocks_what_no_rule_accepts() {
        let set = Ruleset {
            chains: vec![base(
                "input",
                "drop",
                vec![rule(vec![dport(22)], Verdict::Accept)],
            )],
        };
        let b = set.first_block(&packet(true), &["ip"]).unwrap();
        assert_eq!(b.rule, None);
    }

    #[test]
    fn a_jump_is_followed_and_an_unknown_condition_is_named() {
        let mut user = base(
            "input",
            "accept",
            vec![rule(
                vec![Cond::Other("-m owner --uid-owner 33".into()), dport(9027)],
                Verdict::Reject,
            )],
        );
        user.hook = None;
        user.name = "app".into();
        let set = Ruleset {
            chains: vec![
                base(
                    "input",
                    "accept",
                    vec![rule(vec![], Verdict::Jump("app".into()))],
                ),
                user,
            ],
        };
        let b = set.first_block(&packet(true), &["ip"]).unwrap();
        assert_eq!((b.chain, b.rule), (1, Some(0)));
        assert_eq!(b.unknown, ["-m owner --uid-owner 33"]);
    }

    #[test]
    fn the_answer_is_established_and_comes_from_the_backend_port() {
        let established = Cond::State(vec!["ESTABLISHED".into(), "RELATED".into()], false);
        let set = Ruleset {
            chains: vec![base(
                "input",
                "drop",
                vec![
                    rule(vec![established], Verdict::Accept),
                    rule(vec![dport(9027)], Verdict::Accept),
                ],
            )],
        };
        assert_eq!(set.first_block(&packet(true), &["ip"]), None);
        assert_eq!(set.first_block(&packet(true).reply(), &["ip"]), None);
        let strict = Ruleset {
            chains: vec![base(
                "input",
                "drop",
                vec![rule(vec![dport(9027)], Verdict::Accept)],
            )],
        };
        let reply = packet(false).reply();
        assert_eq!(
            strict.first_block(&reply, &["ip"]).map(|b| b.rule),
            Some(None)
        );
    }

    #[test]
    fn networks_and_masks_hold_their_addresses() {
        let net = parse_net("10.0.0.0/255.0.0.0").unwrap();
        assert_eq!(net.1, 8);
        assert!(contains(net, "10.1.2.3".parse().unwrap()));
        assert!(!contains(
            parse_net("127.0.0.2").unwrap(),
            "127.0.0.1".parse().unwrap()
        ));
        assert!(contains(parse_net("::/0").unwrap(), "::1".parse().unwrap()));
        assert_eq!(parse_port_range("9000:9100"), Some((9000, 9100)));
    }
}
