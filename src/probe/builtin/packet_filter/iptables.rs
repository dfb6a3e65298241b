//! Reads `iptables -S` (or `ip6tables -S`) into chains and rules. Each rule
//! keeps the line as listed (`-A INPUT -p tcp -m tcp --dport 9027 -j
//! REJECT ...`): `iptables -D` with the same words removes exactly it.

use super::rules::{Chain, Cond, Rule, Ruleset, Verdict, parse_net, parse_port_range};

/// The filter table's chains as `iptables -S` lists them; `family` is
/// `ip` or `ip6`. INPUT and OUTPUT are the base chains this packet meets.
pub fn parse(text: &str, family: &str) -> Ruleset {
    let mut set = Ruleset::default();
    for line in text.lines().map(str::trim) {
        let words = crate::shell::split(line);
        match words
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["-P", name, policy] => {
                chain(&mut set, family, name).policy = Some((*policy).to_owned())
            }
            ["-N", name] => {
                chain(&mut set, family, name);
            }
            ["-A", name, rest @ ..] => {
                let r = rule(line, rest);
                chain(&mut set, family, name).rules.push(r);
            }
            _ => {}
        }
    }
    set
}

/// The chain `name`, made on first sight; INPUT and OUTPUT are hooked.
fn chain<'a>(set: &'a mut Ruleset, family: &str, name: &str) -> &'a mut Chain {
    if let Some(i) = set.chains.iter().position(|c| c.name == name) {
        return &mut set.chains[i];
    }
    set.chains.push(Chain {
        family: family.to_owned(),
        table: "filter".to_owned(),
        name: name.to_owned(),
        hook: match name {
            "INPUT" => Some("input".to_owned()),
            "OUTPUT" => Some("output".to_owned()),
            _ => None,
        },
        ..Chain::default()
    });
    let last = set.chains.len() - 1;
    &mut set.chains[last]
}

/// One `-A` line: `words` are those after the chain name.
fn rule(line: &str, words: &[&str]) -> Rule {
    let mut conds = Vec::new();
    let mut verdict = Verdict::Continue;
    let mut neg = false;
    let mut i = 0;
    while i < words.len() {
        let opt = words[i];
        let args: Vec<&str> = words[i + 1..]
            .iter()
            .take_while(|w| !w.starts_with('-') && **w != "!")
            .copied()
            .collect();
        let value = args.first().copied().unwrap_or_default();
        match opt {
            "!" => {
                neg = true;
                i += 1;
                continue;
            }
            "-j" | "-g" => verdict = target(opt, value),
            // Loading a match module is no condition by itself.
            "-m" | "--comment" | "--reject-with" => {}
            _ => conds.push(condition(opt, value, neg, &args)),
        }
        neg = false;
        i += 1 + args.len();
    }
    Rule {
        text: line.to_owned(),
        handle: None,
        conds,
        verdict,
    }
}

fn target(opt: &str, name: &str) -> Verdict {
    match (opt, name) {
        (_, "ACCEPT") => Verdict::Accept,
        (_, "DROP") => Verdict::Drop,
        (_, "REJECT") => Verdict::Reject,
        (_, "RETURN") => Verdict::Return,
        // Targets that do not decide (LOG, MARK) let the walk go on.
        (_, n) if n.chars().all(|c| c.is_ascii_uppercase()) => Verdict::Continue,
        ("-g", n) => Verdict::Goto(n.to_owned()),
        (_, n) => Verdict::Jump(n.to_owned()),
    }
}

fn condition(opt: &str, value: &str, neg: bool, args: &[&str]) -> Cond {
    let ports =
        |list: &str| -> Option<Vec<(u16, u16)>> { list.split(',').map(parse_port_range).collect() };
    let known = match opt {
        "-p" | "--protocol" => Some(Cond::Proto(vec![value.to_lowercase()], neg)),
        "--dport" | "--destination-port" | "--dports" | "--destination-ports" => {
            ports(value).map(|r| Cond::Port(true, r, neg))
        }
        "--sport" | "--source-port" | "--sports" | "--source-ports" => {
            ports(value).map(|r| Cond::Port(false, r, neg))
        }
        "-d" | "--destination" => parse_net(value).map(|n| Cond::Addr(true, vec![n], neg)),
        "-s" | "--source" => parse_net(value).map(|n| Cond::Addr(false, vec![n], neg)),
        "-i" | "--in-interface" => Some(Cond::Iface(true, vec![value.to_owned()], neg)),
        "-o" | "--out-interface" => Some(Cond::Iface(false, vec![value.to_owned()], neg)),
        "--state" | "--ctstate" => Some(Cond::State(
            value.split(',').map(str::to_owned).collect(),
            neg,
        )),
        _ => None,
    };
    known.unwrap_or_else(|| {
        let bang = if neg { "! " } else { "" };
        Cond::Other(
            format!("{bang}{opt} {}", args.join(" "))
                .trim_end()
                .to_owned(),
        )
    })
}

/// The words that remove `rule` (an `-A CHAIN ...` line): `-t filter -D
/// CHAIN ...`, as `iptables` takes them.
pub fn delete_words(rule: &str) -> Option<String> {
    let rest = rule.strip_prefix("-A ")?;
    Some(format!("-t filter -D {rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = r#"-P INPUT ACCEPT
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-N app
-A INPUT -i lo -m comment --comment "local \"ok\"" -j app
-A INPUT -p tcp -m tcp --dport 9027 -j REJECT --reject-with icmp-host-prohibited
-A app -s 10.0.0.0/8 -p tcp -m multiport ! --dports 22,9000:9100 -m owner --uid-owner 33 -j DROP
"#;

    #[test]
    fn policies_chains_and_rules_are_read() {
        let set = parse(LISTING, "ip");
        let names: Vec<&str> = set.chains.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["INPUT", "FORWARD", "OUTPUT", "app"]);
        let input = &set.chains[0];
        assert_eq!(input.policy.as_deref(), Some("ACCEPT"));
        assert_eq!(input.hook.as_deref(), Some("input"));
        assert_eq!(input.rules[0].verdict, Verdict::Jump("app".into()));
        assert_eq!(
            input.rules[0].conds,
            [Cond::Iface(true, vec!["lo".into()], false)]
        );
        let reject = &input.rules[1];
        assert_eq!(reject.verdict, Verdict::Reject);
        assert_eq!(
            reject.conds,
            [
                Cond::Proto(vec!["tcp".into()], false),
                Cond::Port(true, vec![(9027, 9027)], false)
            ]
        );
    }

    #[test]
    fn negations_ranges_and_unknown_matches_are_kept() {
        let set = parse(LISTING, "ip");
        let app = &set.chains[3].rules[0];
        assert_eq!(app.verdict, Verdict::Drop);
        assert_eq!(
            app.conds[2],
            Cond::Port(true, vec![(22, 22), (9000, 9100)], true)
        );
        assert_eq!(app.conds[3], Cond::Other("--uid-owner 33".into()));
    }

    #[test]
    fn a_rule_is_deleted_by_its_own_words() {
        assert_eq!(
            delete_words("-A INPUT -p tcp --dport 9027 -j DROP").as_deref(),
            Some("-t filter -D INPUT -p tcp --dport 9027 -j DROP")
        );
        assert_eq!(delete_words("-P INPUT DROP"), None);
    }
}
