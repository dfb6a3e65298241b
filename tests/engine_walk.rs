//! The engine on small inline packs: recorded probe results and a scripted
//! guide stand in for the host and the person, so each test is one walk.

use std::collections::BTreeMap;
use std::time::Duration;

use nginx_doctor::engine::{Engine, Walk};
use nginx_doctor::guide::scripted::{Reply, Scripted};
use nginx_doctor::guide::{Answer, Choice, Interrupted};
use nginx_doctor::probe::{Invocation, Observation, ProbeStatus, Recorded};
use nginx_doctor::rules::RuleSet;
use nginx_doctor::rules::build::build;
use nginx_doctor::value::{Facts, Value};

const PACK: &str = r#"
pack: { name: test, start: log }
probes:
  log:
    builtin: error-log
  sockets:
    builtin: listeners
    with: { port: "{{log.port}}", transport: tcp }
  ping:
    run: [ping-backend, "{{log.host}}"]
    extract:
      - regex: 'answer=(?P<answer>\w+)'
nodes:
  log:
    check: log
    branches:
      - when: log.count == 0
        next: healthy
      - next: listening
  listening:
    check: sockets
    branches:
      - when: sockets.listening
        next: ask-restarted
      - next: down
  ask-restarted:
    ask: "Was the backend restarted at {{log.time?}}?"
    fact: restarted
    auto: sockets.listening and log.count < 3
    default: false
    branches:
      - when: restarted
        next: transient
      - next: pinged
  pinged:
    check: ping
    branches:
      - when: ping.answer == "http"
        next: mismatch
      - next: transient
  down:
    conclude: backend-down
    confidence: high
    title: "nothing listens on {{log.port?}}"
    evidence: ["{{log.line}}", "never shown: {{log.request}}"]
    then: config
  config:
    check: ping
    next: invalid
  invalid:
    conclude: config-invalid
    confidence: medium
    title: config is broken
  transient:
    conclude: backend-crashed
    confidence: low
    title: it was a restart
  mismatch:
    conclude: pass-protocol-mismatch
    title: wrong protocol
  healthy:
    conclude: no-fault-found
    title: all good
"#;

fn pack() -> RuleSet {
    build("test", vec![("pack.yaml".into(), PACK.as_bytes().to_vec())])
        .unwrap_or_else(|p| panic!("{p}"))
}

fn obs(status: ProbeStatus, facts: &[(&str, Value)], stdout: &str) -> Observation {
    Observation {
        status,
        exit: Some(0),
        stdout: stdout.into(),
        stderr: String::new(),
        duration: Duration::from_millis(3),
        facts: facts
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        shown_as: "test".into(),
        reason: None,
    }
}

fn failing_log() -> Observation {
    obs(
        ProbeStatus::Ok,
        &[
            ("count", Value::Int(2)),
            ("port", Value::Int(9000)),
            ("host", "127.0.0.1".into()),
            ("line", "connect() failed (111: Connection refused)".into()),
            ("time", "10:30:02".into()),
        ],
        "",
    )
}

fn host(observations: &[(&str, Observation)]) -> Recorded {
    Recorded {
        observations: observations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
        asked: Vec::new(),
    }
}

fn auto(rules: &RuleSet, prober: &mut Recorded) -> Walk {
    Engine::new(rules, prober, None, Facts::new())
        .run()
        .expect("auto never asks, so it cannot be interrupted")
}

fn ids(walk: &Walk) -> Vec<&str> {
    walk.findings.iter().map(|f| f.id.as_str()).collect()
}

#[test]
fn nothing_listening_concludes_backend_down_then_keeps_walking() {
    let rules = pack();
    let mut prober = host(&[
        ("log", failing_log()),
        (
            "sockets",
            obs(ProbeStatus::Ok, &[("listening", false.into())], ""),
        ),
        ("ping", obs(ProbeStatus::Failed, &[], "")),
    ]);
    let walk = auto(&rules, &mut prober);
    assert_eq!(ids(&walk), ["backend-down", "config-invalid"]);
    assert!(walk.findings[0].primary);
    assert_eq!(walk.findings[0].title, "nothing listens on 9000");
    assert_eq!(walk.path, ["log", "listening", "down", "config", "invalid"]);
}

#[test]
fn evidence_quoting_an_unknown_fact_is_left_out() {
    let rules = pack();
    let mut prober = host(&[
        ("log", failing_log()),
        (
            "sockets",
            obs(ProbeStatus::Ok, &[("listening", false.into())], ""),
        ),
    ]);
    let walk = auto(&rules, &mut prober);
    assert_eq!(
        walk.findings[0].evidence,
        ["connect() failed (111: Connection refused)"]
    );
}

#[test]
fn builtin_parameters_are_filled_from_facts() {
    let rules = pack();
    let mut prober = host(&[
        ("log", failing_log()),
        (
            "sockets",
            obs(ProbeStatus::Ok, &[("listening", false.into())], ""),
        ),
    ]);
    auto(&rules, &mut prober);
    let (_, inv) = &prober.asked[1];
    let Invocation::Builtin { params, .. } = inv else {
        panic!("{inv:?}")
    };
    assert_eq!(params["port"], "9000");
}

#[test]
fn auto_answers_questions_from_facts_and_extracts_captures() {
    let rules = pack();
    let mut prober = host(&[
        ("log", failing_log()),
        (
            "sockets",
            obs(ProbeStatus::Ok, &[("listening", true.into())], ""),
        ),
        ("ping", obs(ProbeStatus::Ok, &[], "answer=http\n")),
    ]);
    let walk = auto(&rules, &mut prober);
    // listening and count < 3: auto says "restarted".
    assert_eq!(walk.answers["restarted"], Value::Bool(true));
    assert_eq!(ids(&walk), ["backend-crashed"]);
}

#[test]
fn guided_answer_overrides_the_automatic_one() {
    let rules = pack();
    let mut prober = host(&[
        ("log", failing_log()),
        (
            "sockets",
            obs(ProbeStatus::Ok, &[("listening", true.into())], ""),
        ),
        ("ping", obs(ProbeStatus::Ok, &[], "answer=http\n")),
    ]);
    let mut guide = Scripted::new([
        Reply::Choice(Choice::Run),
        Reply::Choice(Choice::Run),
        Reply::Answer(Answer::Value(Value::Bool(false))),
    ]);
    let walk = Engine::new(&rules, &mut prober, Some(&mut guide), Facts::new())
        .run()
        .unwrap();
    assert_eq!(ids(&walk), ["pass-protocol-mismatch"]);
    assert_eq!(
        guide.shown,
        [
            "check log",
            "check listening",
            "ask ask-restarted",
            "check pinged"
        ]
    );
}

#[test]
fn going_back_repeats_the_previous_step_and_forgets_its_result() {
    let rules = pack();
    let mut prober = host(&[
        ("log", failing_log()),
        (
            "sockets",
            obs(ProbeStatus::Ok, &[("listening", true.into())], ""),
        ),
        ("ping", obs(ProbeStatus::Ok, &[], "answer=http\n")),
    ]);
    let mut guide = Scripted::new([
        Reply::Choice(Choice::Run),
        Reply::Choice(Choice::Run),
        Reply::Answer(Answer::Back),
        Reply::Choice(Choice::Run),
        Reply::Answer(Answer::Value(Value::Bool(true))),
    ]);
    let walk = Engine::new(&rules, &mut prober, Some(&mut guide), Facts::new())
        .run()
        .unwrap();
    assert_eq!(
        guide.shown,
        [
            "check log",
            "check listening",
            "ask ask-restarted",
            "check listening",
            "ask ask-restarted"
        ]
    );
    assert_eq!(
        walk.path,
        ["log", "listening", "ask-restarted", "transient"]
    );
    assert_eq!(
        walk.checks.len(),
        2,
        "the undone check is not reported twice"
    );
    assert_eq!(ids(&walk), ["backend-crashed"]);
}

#[test]
fn skipped_check_is_recorded_and_branches_as_unknown() {
    let rules = pack();
    let mut prober = host(&[("log", failing_log())]);
    let mut guide = Scripted::new([
        Reply::Choice(Choice::Run),
        Reply::Choice(Choice::Skip),
        Reply::Choice(Choice::Skip),
    ]);
    let walk = Engine::new(&rules, &mut prober, Some(&mut guide), Facts::new())
        .run()
        .unwrap();
    assert_eq!(walk.checks[1].status, ProbeStatus::Skipped);
    assert_eq!(ids(&walk), ["backend-down", "config-invalid"]);
    assert_eq!(prober.asked.len(), 1, "skipped probes never reach the host");
}

#[test]
fn quitting_at_a_prompt_interrupts_the_walk() {
    let rules = pack();
    let mut prober = host(&[("log", failing_log())]);
    let mut guide = Scripted::new([Reply::Quit]);
    let result = Engine::new(&rules, &mut prober, Some(&mut guide), Facts::new()).run();
    assert!(matches!(result, Err(Interrupted)));
    assert!(prober.asked.is_empty());
}

#[test]
fn auto_mode_never_calls_the_guide() {
    // There is no guide to call: `None` is the whole of --auto. This proves
    // a walk with a question completes with no prompt at all.
    let rules = pack();
    let mut prober = host(&[
        ("log", failing_log()),
        (
            "sockets",
            obs(ProbeStatus::Ok, &[("listening", true.into())], ""),
        ),
        ("ping", obs(ProbeStatus::Ok, &[], "")),
    ]);
    let walk = auto(&rules, &mut prober);
    assert!(walk.answers.contains_key("restarted"));
}

#[test]
fn healthy_log_gives_exactly_no_fault_found() {
    let rules = pack();
    let mut prober = host(&[("log", obs(ProbeStatus::Ok, &[("count", Value::Int(0))], ""))]);
    let walk = auto(&rules, &mut prober);
    assert_eq!(ids(&walk), ["no-fault-found"]);
}

#[test]
fn unsafe_fact_in_an_argument_stops_the_probe_not_the_walk() {
    let rules = pack();
    let mut log = failing_log();
    log.facts.push(("host".into(), "-oProxyCommand=sh".into()));
    let mut prober = host(&[
        ("log", log),
        (
            "sockets",
            obs(ProbeStatus::Ok, &[("listening", true.into())], ""),
        ),
    ]);
    let mut guide = Scripted::new([
        Reply::Choice(Choice::Run),
        Reply::Choice(Choice::Run),
        Reply::Answer(Answer::Value(Value::Bool(false))),
    ]);
    let walk = Engine::new(&rules, &mut prober, Some(&mut guide), Facts::new())
        .run()
        .unwrap();
    let ping = walk.checks.iter().find(|c| c.probe == "ping").unwrap();
    assert_eq!(ping.status, ProbeStatus::UnsafeValue);
    assert!(
        prober.asked.iter().all(|(id, _)| id != "ping"),
        "the unsafe probe never ran"
    );
}

#[test]
fn going_back_to_a_question_offers_the_answer_given_before() {
    let rules = pack();
    let mut prober = host(&[
        ("log", failing_log()),
        (
            "sockets",
            obs(ProbeStatus::Ok, &[("listening", true.into())], ""),
        ),
        ("ping", obs(ProbeStatus::Ok, &[], "answer=http\n")),
    ]);
    // --auto would answer "restarted" (listening, few failures); the person
    // says no, goes back from the next check, and takes what is offered.
    let mut guide = Scripted::new([
        Reply::Choice(Choice::Run),
        Reply::Choice(Choice::Run),
        Reply::Answer(Answer::Value(Value::Bool(false))),
        Reply::Choice(Choice::Back),
    ]);
    let walk = Engine::new(&rules, &mut prober, Some(&mut guide), Facts::new())
        .run()
        .unwrap();
    assert_eq!(walk.answers["restarted"], Value::Bool(false));
    assert_eq!(ids(&walk), ["pass-protocol-mismatch"]);
}
