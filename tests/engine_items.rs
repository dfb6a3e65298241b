//! The engine walking every item of a list (every failing upstream), on a
//! small inline pack: a prober answers each probe from a queue, so every
//! item's walk can see a host of its own.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use nginx_doctor::engine::{Engine, Walk};
use nginx_doctor::guide::scripted::Reply;
use nginx_doctor::guide::{Answer, Choice};
use nginx_doctor::probe::{Invocation, Observation, ProbeStatus, Prober};
use nginx_doctor::rules::build::build;
use nginx_doctor::rules::{Confidence, Probe, Role, RuleSet};
use nginx_doctor::value::{Facts, Value};

use crate::support::walker::Walker;

const PACK: &str = r#"
pack: { name: items, start: log }
probes:
  log:
    builtin: error-log
  sockets:
    builtin: listeners
    with: { port: "{{upstream.port}}", transport: tcp }
  now:
    builtin: connect
    with: { port: "{{upstream.port}}", transport: tcp }
nodes:
  log:
    check: log
    next: each-upstream
  each-upstream:
    each: log.upstreams
    as: upstream
    label: "{{upstream.key}}"
    title: "{{upstream.key}} failed {{upstream.count}} time(s)"
    evidence: ["earlier: {{upstream.earlier}}"]
    do: still
    then: after
  still:
    check: now
    branches:
      - when: now.result == "ok"
        next: recovered
      - next: listening
  listening:
    check: sockets
    branches:
      - when: sockets.listening
        next: crashed
      - next: down
  down:
    conclude: backend-down
    confidence: high
    title: "nothing listens on {{upstream.port?}}"
    evidence: ["port {{upstream.port}}"]
  crashed:
    conclude: backend-crashed
    confidence: high
    title: "{{upstream.key}} hung up"
  recovered:
    conclude: no-fault-found
    role: resolved
    confidence: high
    title: "{{upstream.key}} recovered"
  after:
    decide:
      - when: walk.faults == 0
        next: all-good
  all-good:
    conclude: no-fault-found
    title: "{{walk.resolved}} upstream(s) recovered"
"#;

fn pack() -> RuleSet {
    build("test", vec![("pack.yaml".into(), PACK.as_bytes().to_vec())])
        .unwrap_or_else(|p| panic!("{p}"))
}

/// Answers each probe with the next observation queued for its id.
#[derive(Default)]
struct Host {
    queues: BTreeMap<String, VecDeque<Observation>>,
    asked: Vec<(String, Invocation)>,
}

impl Host {
    fn with(mut self, probe: &str, facts: &[(&str, Value)]) -> Host {
        let obs = Observation {
            status: ProbeStatus::Ok,
            exit: None,
            stdout: String::new(),
            stderr: String::new(),
            duration: Duration::from_millis(1),
            facts: facts
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            shown_as: probe.into(),
            reason: None,
        };
        self.queues.entry(probe.into()).or_default().push_back(obs);
        self
    }
}

impl Prober for Host {
    fn observe(&mut self, probe: &Probe, invocation: &Invocation) -> Observation {
        self.asked.push((probe.id.clone(), invocation.clone()));
        self.queues
            .get_mut(&probe.id)
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| Observation::not_run(ProbeStatus::Error, "x", "none queued"))
    }
}

fn item(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// A log with two failing upstreams: port 9000 (busiest) and 8000.
fn two_upstreams() -> Host {
    let first = item(&[
        ("key", "fastcgi://127.0.0.1:9000".into()),
        ("port", Value::Int(9000)),
        ("count", Value::Int(7)),
        (
            "earlier",
            "3 × permission denied, the last at 10:41:02".into(),
        ),
    ]);
    let second = item(&[
        ("key", "http://127.0.0.1:8000".into()),
        ("port", Value::Int(8000)),
        ("count", Value::Int(2)),
    ]);
    Host::default().with("log", &[("upstreams", Value::List(vec![first, second]))])
}

fn auto(rules: &RuleSet, host: &mut Host) -> Walk {
    Engine::new(rules, host, None, Facts::new())
        .run()
        .expect("auto cannot be interrupted")
}

fn about(walk: &Walk) -> Vec<(&str, Option<&str>)> {
    walk.findings
        .iter()
        .map(|f| (f.id.as_str(), f.upstream.as_deref()))
        .collect()
}

#[test]
fn every_item_gets_a_walk_of_its_own_and_labels_its_findings() {
    let rules = pack();
    let mut host = two_upstreams()
        .with("now", &[("result", "refused".into())])
        .with("now", &[("result", "refused".into())])
        .with("sockets", &[("listening", false.into())])
        .with("sockets", &[("listening", true.into())]);
    let walk = auto(&rules, &mut host);
    assert_eq!(
        about(&walk),
        [
            ("backend-down", Some("fastcgi://127.0.0.1:9000")),
            ("backend-crashed", Some("http://127.0.0.1:8000")),
        ]
    );
    assert!(walk.findings[0].primary && !walk.findings[1].primary);
}

#[test]
fn probes_of_an_item_get_that_items_facts() {
    let rules = pack();
    let mut host = two_upstreams();
    auto(&rules, &mut host);
    let ports: Vec<&str> = host
        .asked
        .iter()
        .filter_map(|(id, inv)| match inv {
            Invocation::Builtin { params, .. } if id == "now" => Some(params["port"].as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ports, ["9000", "8000"]);
}

#[test]
fn checks_say_which_upstream_they_were_for() {
    let rules = pack();
    let mut host = two_upstreams();
    let walk = auto(&rules, &mut host);
    let upstreams: Vec<Option<&str>> = walk.checks.iter().map(|c| c.upstream.as_deref()).collect();
    assert_eq!(upstreams[0], None, "the log is read for the whole host");
    assert!(upstreams[1..].iter().all(Option::is_some), "{upstreams:?}");
}

#[test]
fn an_items_facts_are_gone_when_the_next_item_starts() {
    let rules = pack();
    let first = item(&[("key", "a".into()), ("port", Value::Int(9000))]);
    let second = item(&[("key", "b".into())]);
    let mut host = Host::default()
        .with("log", &[("upstreams", Value::List(vec![first, second]))])
        .with("sockets", &[("listening", false.into())])
        .with("sockets", &[("listening", false.into())]);
    let walk = auto(&rules, &mut host);
    assert_eq!(walk.findings[0].evidence, ["port 9000"]);
    assert_eq!(
        walk.findings[1].evidence,
        Vec::<String>::new(),
        "the second item has no port, and does not borrow the first's"
    );
}

#[test]
fn the_each_nodes_evidence_joins_every_finding_of_the_item() {
    let rules = pack();
    let mut host = two_upstreams().with("sockets", &[("listening", false.into())]);
    let walk = auto(&rules, &mut host);
    assert!(
        walk.findings[0]
            .evidence
            .contains(&"earlier: 3 × permission denied, the last at 10:41:02".to_owned()),
        "{:?}",
        walk.findings[0].evidence
    );
}

#[test]
fn a_resolved_item_is_kept_apart_from_the_findings() {
    let rules = pack();
    let mut host = two_upstreams()
        .with("now", &[("result", "ok".into())])
        .with("now", &[("result", "refused".into())])
        .with("sockets", &[("listening", false.into())]);
    let walk = auto(&rules, &mut host);
    assert_eq!(
        about(&walk),
        [("backend-down", Some("http://127.0.0.1:8000"))]
    );
    assert_eq!(walk.resolved.len(), 1);
    assert_eq!(walk.resolved[0].role, Role::Resolved);
    assert_eq!(walk.resolved[0].title, "fastcgi://127.0.0.1:9000 recovered");
}

#[test]
fn when_every_item_recovered_the_walk_says_no_fault_and_how_many_recovered() {
    let rules = pack();
    let mut host = two_upstreams()
        .with("now", &[("result", "ok".into())])
        .with("now", &[("result", "ok".into())]);
    let walk = auto(&rules, &mut host);
    assert_eq!(about(&walk), [("no-fault-found", None)]);
    assert_eq!(walk.findings[0].title, "2 upstream(s) recovered");
    assert_eq!(walk.resolved.len(), 2);
}

#[test]
fn a_decide_with_no_branch_that_holds_ends_the_walk() {
    let rules = pack();
    let mut host = two_upstreams();
    let walk = auto(&rules, &mut host);
    assert_eq!(walk.path.last().map(String::as_str), Some("after"));
    assert!(walk.findings.iter().all(|f| f.id != "no-fault-found"));
}

#[test]
fn an_empty_list_goes_straight_on_at_then() {
    let rules = pack();
    let mut host = Host::default().with("log", &[("upstreams", Value::List(Vec::new()))]);
    let walk = auto(&rules, &mut host);
    assert_eq!(walk.path, ["log", "each-upstream", "after", "all-good"]);
    assert_eq!(about(&walk), [("no-fault-found", None)]);
}

#[test]
fn guided_mode_announces_each_item_with_its_number() {
    let rules = pack();
    let host = two_upstreams();
    let walked = Walker::on(rules, host).answers([]).walk();
    let sections: Vec<&String> = walked
        .shown
        .iter()
        .filter(|s| s.starts_with("section"))
        .collect();
    assert_eq!(
        sections,
        [
            "section 1/2 fastcgi://127.0.0.1:9000 failed 7 time(s)",
            "section 2/2 http://127.0.0.1:8000 failed 2 time(s)"
        ]
    );
}

#[test]
fn going_back_from_the_second_item_returns_to_the_first() {
    let rules = pack();
    let host = two_upstreams()
        .with("now", &[("result", "refused".into())])
        .with("sockets", &[("listening", false.into())])
        .with("now", &[("result", "refused".into())])
        .with("now", &[("result", "refused".into())])
        .with("sockets", &[("listening", false.into())])
        .with("now", &[("result", "refused".into())])
        .with("sockets", &[("listening", true.into())]);
    let walked = Walker::on(rules, host)
        .answers([
            Reply::Choice(Choice::Run),  // log
            Reply::Choice(Choice::Run),  // still, item 1
            Reply::Choice(Choice::Run),  // listening, item 1
            Reply::Choice(Choice::Back), // still, item 2: back to listening, item 1
            Reply::Choice(Choice::Run),  // listening, item 1 again
        ])
        .walk();
    let walk = &walked.walk;
    assert_eq!(
        about(walk),
        [
            ("backend-down", Some("fastcgi://127.0.0.1:9000")),
            ("backend-crashed", Some("http://127.0.0.1:8000")),
        ],
        "{:?}",
        walked.shown
    );
}

#[test]
fn a_conclusion_reached_through_a_skipped_check_is_lowered_and_says_so() {
    let rules = pack();
    let host = two_upstreams()
        .with("now", &[("result", "refused".into())])
        .with("now", &[("result", "refused".into())])
        .with("sockets", &[("listening", true.into())]);
    let walked = Walker::on(rules, host)
        .answers([
            Reply::Choice(Choice::Run),  // log
            Reply::Choice(Choice::Run),  // still, item 1
            Reply::Choice(Choice::Skip), // listening, item 1
            Reply::Choice(Choice::Run),  // still, item 2
            Reply::Choice(Choice::Run),  // listening, item 2
        ])
        .walk();
    let walk = &walked.walk;
    let first = &walk.findings[0];
    assert_eq!(first.id, "backend-down");
    assert_eq!(first.confidence, Confidence::Low);
    assert_eq!(first.unchecked, ["sockets"]);
    let second = &walk.findings[1];
    assert_eq!(
        (second.confidence, second.unchecked.len()),
        (Confidence::High, 0),
        "the second item's walk ran its own check"
    );
}

#[test]
fn an_answer_is_still_an_answer_inside_an_item() {
    // Questions are rare inside items; the engine treats them as anywhere else.
    let pack = PACK.replace(
        "  still:\n    check: now\n",
        "  still:\n    ask: \"still failing?\"\n    fact: failing\n    default: true\n    branches:\n      - when: not failing\n        next: recovered\n      - next: probe-now\n  probe-now:\n    check: now\n",
    );
    let rules = build("test", vec![("p.yaml".into(), pack.into_bytes())]).unwrap();
    let host = two_upstreams();
    let walked = Walker::on(rules, host)
        .answers([
            Reply::Choice(Choice::Run),
            Reply::Answer(Answer::Value(Value::Bool(false))),
            Reply::Answer(Answer::Value(Value::Bool(false))),
        ])
        .walk();
    let walk = &walked.walk;
    assert_eq!(walk.resolved.len(), 2);
}

fn problems(pack: &str) -> String {
    match build("p", vec![("p.yaml".into(), pack.as_bytes().to_vec())]) {
        Ok(_) => String::new(),
        Err(p) => p.to_string(),
    }
}

#[test]
fn an_item_walk_that_reaches_the_node_after_the_list_is_refused() {
    let pack = PACK.replace(
        "  crashed:\n    conclude: backend-crashed\n    confidence: high\n    title: \"{{upstream.key}} hung up\"\n",
        "  crashed:\n    conclude: backend-crashed\n    confidence: high\n    title: \"hung up\"\n    then: after\n",
    );
    assert!(
        problems(&pack).contains(
            "the walk of an item of `each-upstream` reaches `after`, the node the walk goes on at after every item; it must end by itself"
        ),
        "{}",
        problems(&pack)
    );
}

#[test]
fn an_each_over_a_fact_that_is_no_list_is_refused_with_a_hint() {
    let pack = PACK.replace("each: log.upstreams", "each: log.upstream");
    assert!(
        problems(&pack)
            .contains("`log.upstream` is no list fact of a probe; did you mean `log.upstreams`?"),
        "{}",
        problems(&pack)
    );
}

#[test]
fn item_facts_are_unknown_after_the_list() {
    let pack = PACK.replace(
        "    title: \"{{walk.resolved}} upstream(s) recovered\"",
        "    title: \"{{upstream.key}}\"",
    );
    assert!(
        problems(&pack).contains("uses fact `upstream.key`, which is not produced on every path"),
        "{}",
        problems(&pack)
    );
}

#[test]
fn a_fault_cause_cannot_be_resolved() {
    let pack = PACK.replace(
        "    conclude: backend-crashed\n",
        "    conclude: backend-crashed\n    role: resolved\n",
    );
    assert!(
        problems(&pack).contains(
            "a conclusion of `backend-crashed` takes role `cause`, `latent` or `consequence`"
        ),
        "{}",
        problems(&pack)
    );
}

/// The default pack, guided, with the error log skipped: whatever it concludes
/// rests on a check that never ran, and says so.
#[test]
fn skipping_the_error_log_never_gives_a_high_confidence_cause() {
    let rules = RuleSet::embedded().expect("the embedded pack");
    let host = Host::default()
        .with(
            "nginx",
            &[
                ("found", true.into()),
                ("running", true.into()),
                ("conf", "/etc/nginx/nginx.conf".into()),
                ("binary", "/usr/sbin/nginx".into()),
                ("prefix", "/etc/nginx/".into()),
            ],
        )
        .with("nginx-test", &[])
        .with("access-log", &[("count", Value::Int(3))]);
    let walked = Walker::on(rules, host)
        .answers([
            Reply::Choice(Choice::Run),                              // find nginx
            Reply::Choice(Choice::Run),                              // nginx -t
            Reply::Answer(Answer::Value(Value::Str(String::new()))), // no URL
            Reply::Choice(Choice::Skip),                             // the error log
            Reply::Choice(Choice::Run),                              // the access log
        ])
        .walk();
    let walk = &walked.walk;
    let f = &walk.findings[0];
    assert_eq!(f.id, "backend-sent-502", "{:?}", walk.path);
    assert_eq!(f.confidence, Confidence::Low);
    assert_eq!(f.unchecked, ["error-log"]);
}
