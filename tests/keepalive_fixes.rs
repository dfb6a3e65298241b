//! The upstream keepalive race, fixed by following the report. nginx keeps idle
//! connections to an upstream group and reuses one the backend has dropped: a GET is
//! retried on a new connection, a POST gets 502. Each test reproduces that with a
//! backend whose idle behaviour is real (it loses a request sent on a connection idle
//! too long, or serves one request per connection), runs the diagnosis — which measures
//! the backend's idle time itself — then makes the edit the fix names at the file:line it
//! gives, runs its `nginx -t` and reload, and the same sequence of requests must then
//! succeed with no new failure logged.

use crate::support::backend::Mode;
use crate::support::doctor::DoctorRun;
use crate::support::follow::{self, Followed};
use crate::support::{Lab, Pass};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The idle time after which the test backend loses a request.
const BACKEND_IDLE: Duration = Duration::from_secs(1);

/// nginx with `upstream ka { server BACKEND; keepalive 4; }`, written over several
/// lines as configurations usually are, and HTTP/1.1 to it.
fn lab_with(mode: Mode) -> (Lab, SocketAddr) {
    let lab = Lab::new();
    let backend = lab.backend(mode);
    lab.nginx(|c| {
        c.http(&format!(
            "upstream ka {{\n        server {backend};\n        keepalive 4;\n    }}"
        ))
        .location(
            "/",
            Pass::proxy("http://ka")
                .with("proxy_http_version 1.1")
                .with("proxy_set_header Connection \"\""),
        )
    });
    (lab, backend)
}

/// Lets the connection nginx keeps after a request sit idle past the backend's idle
/// time. Time is the fault here: the backend measures idleness from its answer, which
/// came before the test saw it, so this much later it is surely past.
fn idle_past_backend_timeout(since: Instant) {
    let until = since + BACKEND_IDLE + Duration::from_millis(200);
    std::thread::sleep(until.saturating_duration_since(Instant::now()));
}

/// A GET that leaves a connection in nginx's cache, then a POST after it went stale:
/// the statuses of both.
fn get_then_stale_post(lab: &Lab) -> (u16, u16) {
    let get = lab.get("/ka");
    idle_past_backend_timeout(Instant::now());
    (get, lab.post("/ka"))
}

fn diagnose(lab: &Lab, node: &str) -> DoctorRun {
    let run = lab.doctor(&["--auto", "--format", "json"]);
    assert_eq!(run.status, 1, "a fault\n{run}");
    run.assert_first("upstream-keepalive-race");
    assert_eq!(
        run.finding("upstream-keepalive-race")["node"],
        node,
        "{run}"
    );
    run
}

/// Follows the fix; the same requests then succeed, and nothing new failed.
fn follow_and_check(lab: &Lab, run: &DoctorRun, backend: SocketAddr) -> Followed {
    let mark = lab.error_log().len();
    let done = follow::follow(lab, run, "upstream-keepalive-race");
    assert_eq!(get_then_stale_post(lab), (200, 200), "after the fix\n{run}");
    let new = follow::new_failures(lab, mark, &backend.to_string());
    assert!(new.is_empty(), "new failures after the fix: {new:#?}");
    for (line, out) in follow::verify(lab, run, "upstream-keepalive-race") {
        assert_eq!(out.status, 0, "verify {line:?}\n{out}");
    }
    done
}

#[test]
fn a_measured_idle_timeout_gives_keepalive_timeout_below_it_and_the_post_succeeds() {
    let (lab, backend) = lab_with(Mode::IdleTimeout(BACKEND_IDLE));
    assert_eq!(get_then_stale_post(&lab), (200, 502));
    lab.error_log_line("upstream prematurely closed connection");

    let run = diagnose(&lab, "keepalive-timeouts");
    // 750 ms to 1 s on a quiet machine; a loaded one may let the backend's
    // 1 s timer fire late, and the measure then says 1 s to 1.5 s.
    run.assert_evidence_quotes(
        "upstream-keepalive-race",
        "closes a connection idle for more than ",
    );
    let done = follow_and_check(&lab, &run, backend);
    assert_eq!(done.edited.len(), 1, "{done:?}");
    let conf = std::fs::read_to_string(lab.path("nginx.conf")).expect("nginx.conf");
    let set = conf
        .split("keepalive_timeout ")
        .nth(1)
        .and_then(|v| v.split_once("ms;"))
        .and_then(|(ms, _)| ms.parse::<u128>().ok());
    assert!(
        set.is_some_and(|ms| ms < BACKEND_IDLE.as_millis()),
        "nginx must drop idle connections before the backend's {BACKEND_IDLE:?}:\n{conf}"
    );
}

#[test]
fn a_backend_serving_one_request_per_connection_loses_the_keepalive_line() {
    let (lab, backend) = lab_with(Mode::KeepaliveClose);
    assert_eq!(lab.get("/ka"), 200);
    assert_eq!(lab.post("/ka"), 502);

    let run = diagnose(&lab, "keepalive-unsupported");
    run.assert_evidence_quotes(
        "upstream-keepalive-race",
        "serves one request per connection",
    );
    follow_and_check(&lab, &run, backend);
    let conf = std::fs::read_to_string(lab.path("nginx.conf")).expect("nginx.conf");
    assert!(!conf.contains("keepalive 4;"), "{conf}");
}
