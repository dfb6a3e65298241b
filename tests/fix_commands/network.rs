//! Network faults between nginx and a backend, each in network namespaces of its own so
//! that sysctls and firewall rules never touch this host: a refusal while the backend
//! listens, a backend that stopped accepting, no route. Each follows the printed fix
//! literally (`super::prove`). Exhausted local ports are `ports_fixes`'.

use super::{diagnose, prove};
use crate::support::backend::Mode;
use crate::support::follow::{Plan, Step};
use crate::support::isolate::in_netns;
use crate::support::net::free_port;
use crate::support::{Lab, Pass};
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Runs the test `name` of this module in a private network namespace.
fn isolated(name: &str, scenario: impl FnOnce()) {
    in_netns(
        &format!("fix_commands::network::{name}"),
        &[],
        &["sysctl", "iptables"],
        scenario,
    );
}

/// Runs `argv` (a scenario's own setup inside its namespace) and asserts it worked.
fn setup(argv: &[&str]) {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert!(out.status.success(), "{argv:?}: {out:?}");
}

/// Appends to the lab's error log a failure as nginx writes it, now: `message` at
/// `level` for `uri` sent to `upstream`.
pub(crate) fn append_error(lab: &Lab, message: &str, level: &str, upstream: &str, uri: &str) {
    lab.next_second();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let line = format!(
        "{} {level} 4242#4242: *9 {message} while connecting to upstream, client: 127.0.0.1, \
         server: , request: \"GET {uri} HTTP/1.0\", upstream: \"{upstream}\", host: \"localhost\"\n",
        crate::scenarios::nginx_time(now)
    );
    let log = lab.path("error.log");
    let mut text = fs::read_to_string(&log).expect("read error.log");
    text.push_str(&line);
    fs::write(&log, text).expect("append to error.log");
}

#[test]
fn a_refusal_by_a_listening_port_gets_the_rules_listed() {
    isolated(
        "a_refusal_by_a_listening_port_gets_the_rules_listed",
        || {
            let lab = Lab::new();
            let app = lab.proxying_to(Mode::Ok);
            assert_eq!(lab.get("/app"), 200);
            // A refusal nginx logged while the backend listened, as a tcp-reset reject rule
            // matching only nginx's traffic gives; the rule is gone now.
            let message = "connect() failed (111: Connection refused)";
            append_error(
                &lab,
                message,
                "[error]",
                &format!("http://{app}/app"),
                "/app",
            );
            let run = diagnose(&lab);
            prove(
                &lab,
                &run,
                "refused-while-listening",
                Plan::new(),
                "a_refusal_by_a_listening_port_gets_the_rules_listed",
            );
        },
    );
}

/// Waits (bounded) until `path` exists.
fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_backend_that_stopped_accepting_gets_its_queue_shown() {
    isolated(
        "a_backend_that_stopped_accepting_gets_its_queue_shown",
        || {
            let lab = Lab::new();
            // A listener that never accepts, its queue full: a SYN to it is dropped.
            let port = free_port().port();
            let ready = lab.path("full");
            let script = "import socket, sys, time\n\
            s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(0)\n\
            c = [socket.socket() for _ in range(2)]\n\
            for x in c: x.setblocking(False); x.connect_ex(('127.0.0.1', int(sys.argv[1])))\n\
            time.sleep(0.5); open(sys.argv[2], 'w').close(); time.sleep(120)\n";
            let mut stuck = Command::new("python3")
                .args([
                    "-c",
                    script,
                    &port.to_string(),
                    &ready.display().to_string(),
                ])
                .spawn()
                .expect("start python3");
            wait_for_file(&ready);
            lab.nginx(|c| {
                c.location(
                    "/",
                    Pass::proxy(format!("http://127.0.0.1:{port}"))
                        .with("proxy_connect_timeout 1s"),
                )
            });
            assert_eq!(lab.get("/app"), 504);
            lab.error_log_line("upstream timed out (110: Connection timed out) while connecting");
            let run = diagnose(&lab);
            // The queue the printed `ss` shows is full: the person restarts the backend
            // that stopped accepting, and it accepts again at its address.
            let plan = Plan::new().by_hand(|s: &Step| {
                if s.text.contains("accept queue is full") {
                    let _ = stuck.kill();
                    let _ = stuck.wait();
                    lab.backend_at(SocketAddr::from(([127, 0, 0, 1], port)), Mode::Ok);
                }
            });
            prove(
                &lab,
                &run,
                "connect-timeout",
                plan,
                "a_backend_that_stopped_accepting_gets_its_queue_shown",
            );
            assert_eq!(lab.get("/app"), 200, "the restarted backend accepts");
            let _ = stuck.wait();
        },
    );
}

#[test]
fn an_unroutable_backend_gets_its_route_shown() {
    isolated("an_unroutable_backend_gets_its_route_shown", || {
        let lab = Lab::new();
        lab.nginx(|c| c.location("/", Pass::proxy("http://192.0.2.1:80")));
        assert_eq!(lab.get("/app"), 502);
        lab.error_log_line("(101: Network is unreachable)");
        let run = diagnose(&lab);
        // The person gives this host its way to the backend's network; here the backend's
        // address comes up on this host, and the backend with it.
        let plan = Plan::new().by_hand(|s: &Step| {
            if s.text.starts_with("Show the route") {
                setup(&["ip", "addr", "add", "192.0.2.1/32", "dev", "lo"]);
                lab.backend_at(SocketAddr::from(([192, 0, 2, 1], 80)), Mode::Ok);
            }
        });
        prove(
            &lab,
            &run,
            "unreachable",
            plan,
            "an_unroutable_backend_gets_its_route_shown",
        );
        assert_eq!(lab.get("/app"), 200, "the backend is reachable now");
    });
}
