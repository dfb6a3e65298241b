//! The engine on small inline packs: recorded probe results and a scripted
//! guide stand in for the host and the person, so each test is one walk
//! (a [`Walker`] sentence: what each probe observes, what the person answers).

use nginx_doctor::guide::scripted::Reply;
use nginx_doctor::guide::{Answer, Choice};
use nginx_doctor::probe::{Invocation, Observation, ProbeStatus};
use nginx_doctor::value::Value;

use crate::support::walker::{Walker, observation, pack};

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

/// The log probe's facts for two refused connections to 127.0.0.1:9000.
fn failing_log() -> Observation {
    observation(
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

/// The pack on a host whose log shows failures.
fn failing() -> Walker<nginx_doctor::probe::Recorded> {
    Walker::new(pack(PACK)).observe("log", failing_log())
}

/// [`failing`], where nothing listens on the failing port.
fn nothing_listening() -> Walker<nginx_doctor::probe::Recorded> {
    failing().facts("sockets", &[("listening", false.into())])
}

/// [`failing`], where the backend listens and answers the ping with HTTP.
fn listening_speaks_http() -> Walker<nginx_doctor::probe::Recorded> {
    failing()
        .facts("sockets", &[("listening", true.into())])
        .prints("ping", "answer=http\n")
}

/// The person runs the first two checks and answers the question with `answer`.
fn run_run_answer(answer: bool) -> [Reply; 3] {
    [
        Reply::Choice(Choice::Run),
        Reply::Choice(Choice::Run),
        Reply::Answer(Answer::Value(Value::Bool(answer))),
    ]
}

#[test]
fn nothing_listening_concludes_backend_down_then_keeps_walking() {
    let walked = nothing_listening().fails("ping").walk();
    let walk = &walked.walk;
    assert_eq!(walked.ids(), ["backend-down", "config-invalid"]);
    assert!(walk.findings[0].primary);
    assert_eq!(walk.findings[0].title, "nothing listens on 9000");
    assert_eq!(walk.path, ["log", "listening", "down", "config", "invalid"]);
}

#[test]
fn evidence_quoting_an_unknown_fact_is_left_out() {
    let walked = nothing_listening().walk();
    assert_eq!(
        walked.walk.findings[0].evidence,
        ["connect() failed (111: Connection refused)"]
    );
}

#[test]
fn builtin_parameters_are_filled_from_facts() {
    let walked = nothing_listening().walk();
    let (_, inv) = &walked.prober.asked[1];
    let Invocation::Builtin { params, .. } = inv else {
        panic!("{inv:?}")
    };
    assert_eq!(params["port"], "9000");
}

#[test]
fn auto_answers_questions_from_facts_and_extracts_captures() {
    let walked = listening_speaks_http().walk();
    // listening and count < 3: auto says "restarted".
    assert_eq!(walked.walk.answers["restarted"], Value::Bool(true));
    assert_eq!(walked.ids(), ["backend-crashed"]);
}

#[test]
fn guided_answer_overrides_the_automatic_one() {
    let walked = listening_speaks_http()
        .answers(run_run_answer(false))
        .walk();
    assert_eq!(walked.ids(), ["pass-protocol-mismatch"]);
    assert_eq!(
        walked.shown,
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
    let walked = listening_speaks_http()
        .answers([
            Reply::Choice(Choice::Run),
            Reply::Choice(Choice::Run),
            Reply::Answer(Answer::Back),
            Reply::Choice(Choice::Run),
            Reply::Answer(Answer::Value(Value::Bool(true))),
        ])
        .walk();
    assert_eq!(
        walked.shown,
        [
            "check log",
            "check listening",
            "ask ask-restarted",
            "check listening",
            "ask ask-restarted"
        ]
    );
    let walk = &walked.walk;
    assert_eq!(
        walk.path,
        ["log", "listening", "ask-restarted", "transient"]
    );
    assert_eq!(
        walk.checks.len(),
        2,
        "the undone check is not reported twice"
    );
    assert_eq!(walked.ids(), ["backend-crashed"]);
}

#[test]
fn skipped_check_is_recorded_and_branches_as_unknown() {
    let walked = failing()
        .answers([
            Reply::Choice(Choice::Run),
            Reply::Choice(Choice::Skip),
            Reply::Choice(Choice::Skip),
        ])
        .walk();
    assert_eq!(walked.walk.checks[1].status, ProbeStatus::Skipped);
    assert_eq!(walked.ids(), ["backend-down", "config-invalid"]);
    assert_eq!(
        walked.prober.asked.len(),
        1,
        "skipped probes never reach the host"
    );
}

#[test]
fn quitting_at_a_prompt_interrupts_the_walk() {
    let prober = failing().answers([Reply::Quit]).interrupted();
    assert!(prober.asked.is_empty());
}

#[test]
fn auto_mode_never_calls_the_guide() {
    // There is no guide to call: no replies is the whole of --auto. This proves
    // a walk with a question completes with no prompt at all.
    let walked = failing()
        .facts("sockets", &[("listening", true.into())])
        .prints("ping", "")
        .walk();
    assert!(walked.walk.answers.contains_key("restarted"));
}

#[test]
fn healthy_log_gives_exactly_no_fault_found() {
    let walked = Walker::new(pack(PACK))
        .facts("log", &[("count", Value::Int(0))])
        .walk();
    assert_eq!(walked.ids(), ["no-fault-found"]);
}

#[test]
fn unsafe_fact_in_an_argument_stops_the_probe_not_the_walk() {
    let mut log = failing_log();
    log.facts.push(("host".into(), "-oProxyCommand=sh".into()));
    let walked = Walker::new(pack(PACK))
        .observe("log", log)
        .facts("sockets", &[("listening", true.into())])
        .answers(run_run_answer(false))
        .walk();
    let ping = walked.walk.checks.iter().find(|c| c.probe == "ping");
    assert_eq!(ping.map(|c| c.status), Some(ProbeStatus::UnsafeValue));
    assert!(
        walked.prober.asked.iter().all(|(id, _)| id != "ping"),
        "the unsafe probe never ran"
    );
}

#[test]
fn going_back_to_a_question_offers_the_answer_given_before() {
    // --auto would answer "restarted" (listening, few failures); the person
    // says no, goes back from the next check, and takes what is offered.
    let [run, run_again, no] = run_run_answer(false);
    let walked = listening_speaks_http()
        .answers([run, run_again, no, Reply::Choice(Choice::Back)])
        .walk();
    assert_eq!(walked.walk.answers["restarted"], Value::Bool(false));
    assert_eq!(walked.ids(), ["pass-protocol-mismatch"]);
}
