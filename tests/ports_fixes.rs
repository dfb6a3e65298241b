//! nginx out of local ports towards its backend, fixed by following the report. In a
//! network namespace of its own (the port range is per namespace), the range is
//! narrowed to two ports and the test holds both with connections to the backend:
//! nginx's connect() fails with 99 (Cannot assign requested address). The fix gives
//! the range the kernel's default back with the `sysctl -w` it prints, and names the
//! program holding the other connections; then the request succeeds with no new
//! failure logged.

use crate::support::Lab;
use crate::support::backend::Mode;
use crate::support::follow;
use crate::support::isolate::in_netns;
use std::net::TcpStream;

const ID: &str = "ephemeral-ports-exhausted";
const RANGE: &str = "/proc/sys/net/ipv4/ip_local_port_range";

#[test]
fn a_narrowed_port_range_gets_the_default_back_and_the_502_ends() {
    in_netns(
        "ports_fixes::a_narrowed_port_range_gets_the_default_back_and_the_502_ends",
        &[],
        &["sysctl"],
        || {
            let lab = Lab::new();
            let backend = lab.proxying_to(Mode::Ok);
            assert_eq!(lab.get("/app"), 200, "the backend answered before");
            std::fs::write(RANGE, "40000 40001").expect("narrow the port range");
            let held: Vec<TcpStream> = (0..2)
                .map(|_| TcpStream::connect(backend).expect("hold a local port"))
                .collect();
            assert_eq!(lab.get("/app"), 502);
            lab.error_log_line("(99: Cannot assign requested address)");

            let run = lab.doctor(&["--auto", "--format", "json"]);
            assert_eq!(run.status, 1, "a fault\n{run}");
            run.assert_first(ID);
            run.assert_evidence_quotes(ID, "= 40000 40001 (2 ports; the kernel's default is");
            run.assert_evidence_quotes(ID, "held by: integration");
            let mark = lab.error_log().len();
            let done = follow::follow(&lab, &run, ID);
            assert_eq!(done.ran.len(), 1, "the sysctl: {done:?}");
            assert_eq!(lab.get("/app"), 200, "after following the fix\n{run}");
            let new = follow::new_failures(&lab, mark, &backend.to_string());
            assert!(new.is_empty(), "new failures after the fix: {new:#?}");
            for (line, out) in follow::verify(&lab, &run, ID) {
                assert_eq!(out.status, 0, "verify {line:?}\n{out}");
            }
            drop(held);
        },
    );
}
