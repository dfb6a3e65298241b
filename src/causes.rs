//! The cause ids a finding may carry: the report contract of `CAUSES.md`.
//!
//! A conclusion in a rule pack must name one of these, so a consumer of the
//! JSON report can rely on a closed vocabulary. Adding one is additive;
//! renaming one breaks every consumer and is not done.

use crate::rules::Role;

/// Every cause id, with the one-line description from the catalogue.
pub const CAUSES: &[(&str, &str)] = &[
    ("backend-down", "the upstream service is not running"),
    (
        "backend-wrong-address",
        "the backend runs, but nginx points at another address, port or socket",
    ),
    ("backend-pool-exhausted", "every backend worker is busy"),
    (
        "backend-request-killed",
        "the backend killed a long request itself",
    ),
    ("backend-crashed", "a backend worker died mid-request"),
    ("upstream-timeout", "the backend is slower than nginx waits"),
    (
        "config-invalid",
        "the nginx configuration on disk does not pass `nginx -t`",
    ),
    (
        "pass-protocol-mismatch",
        "nginx speaks the wrong protocol to the backend",
    ),
    (
        "socket-permission",
        "the nginx worker user may not open the backend's unix socket",
    ),
    ("selinux-denied", "SELinux stops nginx from connecting"),
    (
        "firewall-blocked",
        "a packet filter rejects or drops the connection",
    ),
    (
        "header-too-big",
        "the response headers exceed nginx's buffer",
    ),
    ("upstream-tls-failed", "TLS to the upstream fails"),
    (
        "upstream-dns-failed",
        "the upstream host name cannot be resolved",
    ),
    (
        "ephemeral-ports-exhausted",
        "nginx ran out of local ports towards the upstream",
    ),
    (
        "upstream-keepalive-race",
        "nginx reuses an idle keepalive connection as the backend closes it",
    ),
    (
        "invalid-upstream-response",
        "the backend answers, but not valid HTTP or FastCGI",
    ),
    (
        "upstream-stale-dns",
        "nginx still uses an address the upstream name no longer has",
    ),
    (
        "backend-sent-502",
        "the 502 comes from the backend itself, not from nginx",
    ),
    (
        "no-live-upstreams",
        "every server of an upstream group is marked failed",
    ),
    (
        "nginx-down",
        "nginx itself is not running for this configuration",
    ),
    ("no-fault-found", "nothing is wrong now"),
];

/// The role a conclusion of `cause` has when the pack does not say: the
/// healthy id is no fault, and "no live upstreams" is always the consequence
/// of the failures that marked the servers down (CAUSES.md).
pub fn default_role(cause: &str) -> Role {
    match cause {
        "no-fault-found" => Role::Healthy,
        "no-live-upstreams" => Role::Consequence,
        _ => Role::Cause,
    }
}

/// Whether `id` is a known cause.
pub fn is_known(id: &str) -> bool {
    CAUSES.iter().any(|(c, _)| *c == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_in_the_catalogue_is_known() {
        // The catalogue lives beside the checkout, not in it; a clone
        // without it still builds and tests everything else.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/CAUSES.md");
        let Ok(catalogue) = std::fs::read_to_string(path) else {
            eprintln!("skipped: {path} is not here");
            return;
        };
        let ids: Vec<&str> = catalogue
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        assert_eq!(ids.len(), CAUSES.len(), "{ids:?}");
        for id in ids {
            assert!(is_known(id), "{id} is missing");
        }
    }
}
