//! The HTTP-backend rows of the scenario table: nginx proxying to a small backend that
//! answers wrongly, speaks another protocol, is not where nginx looks (a name that does
//! not resolve, an address family it does not listen on, a packet filter in between).

use super::{Case, Fault, Log, Request, scenarios};
use crate::support::backend::{Backend, Mode, tls};
use crate::support::net::free_port;
use crate::support::{Lab, Pass};
use std::fs;
use std::net::{IpAddr, Ipv6Addr};
use std::process::Command;

/// A lab proxying `/` to a backend in `mode`; `{backend}` is its address.
fn proxied(mode: Mode) -> Fault {
    let lab = Lab::new();
    let backend = lab.backend(mode);
    lab.nginx(|c| c.location("/", Pass::proxy_http(backend)));
    Fault::new(lab).var("backend", backend)
}

/// A lab whose `/` passes with `pass(backend)` to a backend in `mode`.
fn passing(mode: Mode, pass: fn(std::net::SocketAddr) -> Pass) -> Fault {
    let lab = Lab::new();
    let backend = lab.backend(mode);
    lab.nginx(|c| c.location("/", pass(backend)));
    Fault::new(lab).var("backend", backend)
}

/// A location passing to a host name held in a variable: nginx resolves it per request.
fn variable_host(extra: &str) -> Pass {
    let pass = Pass::proxy("http://$h:80").with("set $h nonexistent.invalid");
    if extra.is_empty() {
        pass
    } else {
        pass.with(extra)
    }
}

/// A backend that answers, behind an nftables rule rejecting its port with a TCP reset:
/// nginx sees 111 as if nothing listened (catalogue §8.8). Only inside a private network
/// namespace: the rule is the namespace's own.
fn reject_with_tcp_reset() -> Fault {
    let lab = Lab::new();
    let backend = lab.backend(Mode::Ok);
    lab.nginx(|c| c.location("/", Pass::proxy_http(backend)));
    assert_eq!(lab.get("/app"), 200, "the backend answers before the rule");
    let rule = format!("tcp dport {} reject with tcp reset", backend.port());
    let script = [
        "add table inet lab".to_string(),
        "add chain inet lab input { type filter hook input priority 0; }".to_string(),
        format!("add rule inet lab input {rule}"),
    ]
    .join("\n");
    fs::write(lab.path("rules.nft"), script).expect("write nft script");
    let nft = Command::new("nft")
        .arg("-f")
        .arg(lab.path("rules.nft"))
        .status();
    assert!(nft.is_ok_and(|s| s.success()), "nft -f rules.nft");
    Fault::new(lab).var("rule", rule)
}

scenarios! {
    backend_answering_502_is_backend_sent_502: Case {
        setup: || Ok(proxied(Mode::Status502)),
        request: Request::Get("/app", 502),
        // nginx generated no 502 of its own: the backend's answer went through.
        log: Log::Without("upstream:"),
        cause: "backend-sent-502",
        quotes: &["\"GET /app HTTP/1.0\" 502"],
        ..Case::FAULT
    };

    header_name_with_a_space_is_invalid_upstream_response: Case {
        setup: || Ok(proxied(Mode::BadHeader)),
        request: Request::Get("/app", 502),
        log: Log::Quoted("upstream sent invalid header: \"Bad\\x20...\""),
        cause: "invalid-upstream-response",
        ..Case::FAULT
    };

    fastcgi_pass_to_an_http_server_is_protocol_mismatch: Case {
        setup: || Ok(passing(Mode::Strict, Pass::fastcgi_to)),
        request: Request::Get("/app", 502),
        log: Log::Quoted("upstream sent unsupported FastCGI protocol version: 72"),
        cause: "pass-protocol-mismatch",
        quotes: &["\"HTTP/1.1 400 Bad Request\""],
        also: |fault, seen| {
            let summary = &seen.run.finding("pass-protocol-mismatch")["fix"]["summary"];
            let want =
                fault.fill("Use the pass directive that speaks HTTP: proxy_pass http://{backend};");
            assert_eq!(summary.as_str(), Some(want.as_str()), "{}", seen.run);
        },
        ..Case::FAULT
    };

    https_to_a_plain_http_port_is_protocol_mismatch: Case {
        setup: || Ok(passing(Mode::Strict, |b| Pass::proxy(format!("https://{b}")))),
        request: Request::Get("/app", 502),
        log: Log::QuotedWith("SSL_do_handshake() failed", "wrong version number"),
        cause: "pass-protocol-mismatch",
        ..Case::FAULT
    };

    untrusted_backend_certificate_is_upstream_tls_failed: Case {
        setup: || {
            if !tls::available() {
                return Err("no openssl command to make certificates");
            }
            let lab = Lab::new();
            let other_ca = tls::self_signed(lab.dir(), "other-ca", "other.test").expect("make a CA");
            let backend = lab.backend(Mode::Tls);
            let trusted = format!("proxy_ssl_trusted_certificate {}", other_ca.display());
            let pass = Pass::proxy(format!("https://{backend}"))
                .with("proxy_ssl_verify on")
                .with(&trusted);
            lab.nginx(|c| c.location("/", pass));
            Ok(Fault::new(lab))
        },
        request: Request::Get("/app", 502),
        log: Log::Quoted("upstream SSL certificate verify error: (18:self"),
        cause: "upstream-tls-failed",
        ..Case::FAULT
    };

    nxdomain_from_the_resolver_is_upstream_dns_failed: Case {
        setup: || {
            let lab = Lab::new();
            let dns = lab.backend(Mode::DnsNxdomain);
            lab.nginx(|c| c.location("/", variable_host(&format!("resolver {dns}"))));
            Ok(Fault::new(lab))
        },
        request: Request::Get("/app", 502),
        log: Log::Quoted("nonexistent.invalid could not be resolved (3: Host not found)"),
        cause: "upstream-dns-failed",
        ..Case::FAULT
    };

    variable_upstream_without_resolver_is_upstream_dns_failed: Case {
        setup: || {
            let lab = Lab::new();
            lab.nginx(|c| c.location("/", variable_host("")));
            Ok(Fault::new(lab))
        },
        request: Request::Get("/app", 502),
        log: Log::Quoted("no resolver defined to resolve nonexistent.invalid"),
        cause: "upstream-dns-failed",
        ..Case::FAULT
    };

    dead_upstream_group_is_backend_down_then_no_live_upstreams: Case {
        setup: || {
            let lab = Lab::new();
            let (one, two) = (free_port(), free_port());
            lab.nginx(|c| {
                c.http(&format!("upstream dead2 {{ server {one}; server {two}; }}"))
                    .location("/", Pass::proxy("http://dead2"))
            });
            // The first request marks both servers failed, the row's second finds none left.
            assert_eq!(lab.get("/app"), 502);
            Ok(Fault::new(lab))
        },
        request: Request::Get("/app", 502),
        log: Log::Quoted("connect() failed (111: Connection refused)"),
        cause: "backend-down",
        also: |fault, seen| {
            let no_live = fault.lab.error_log_message("no live upstreams while connecting to upstream");
            let secondary = seen.run.finding("no-live-upstreams");
            assert_eq!(secondary["primary"], false, "{}", seen.run);
            seen.run.assert_evidence_quotes("no-live-upstreams", &no_live);
        },
        ..Case::FAULT
    };

    post_on_a_reused_keepalive_connection_is_keepalive_race: Case {
        setup: || {
            let lab = Lab::new();
            let backend = lab.backend(Mode::KeepaliveClose);
            let pass = Pass::proxy("http://ka")
                .with("proxy_http_version 1.1")
                .with("proxy_set_header Connection \"\"");
            lab.nginx(|c| {
                c.http(&format!("upstream ka {{ server {backend}; keepalive 4; }}"))
                    .location("/", pass)
            });
            // GET #2 reuses the connection GET #1 left idle, finds it closing, and nginx
            // retries it on a new one; a POST is not retried (catalogue G1).
            assert_eq!(lab.get("/ka"), 200);
            assert_eq!(lab.get("/ka"), 200);
            Ok(Fault::new(lab))
        },
        request: Request::Post("/ka", 502),
        log: Log::LineWith("\"POST /ka HTTP/1.0\"", "upstream prematurely closed connection"),
        cause: "upstream-keepalive-race",
        quotes: &["\"POST /ka HTTP/1.0\"", "keepalive 4"],
        ..Case::FAULT
    };

    backend_on_ipv6_loopback_only_is_wrong_address: Case {
        setup: || {
            let Ok(backend) = Backend::start_on(IpAddr::V6(Ipv6Addr::LOCALHOST), Mode::Ok) else {
                return Err("no IPv6 loopback on this host");
            };
            let port = backend.addr().port();
            let lab = Lab::new();
            lab.nginx(|c| c.location("/", Pass::proxy(format!("http://127.0.0.1:{port}"))));
            Ok(Fault::new(lab).var("port", port).hold(backend))
        },
        request: Request::Get("/app", 502),
        log: Log::Quoted("connect() failed (111: Connection refused)"),
        cause: "backend-wrong-address",
        quotes: &["[::1]:{port}"],
        ..Case::FAULT
    };

    reject_rule_on_a_listening_port_is_firewall_blocked: Case {
        setup: || Ok(reject_with_tcp_reset()),
        request: Request::Get("/app", 502),
        log: Log::Quoted("connect() failed (111: Connection refused)"),
        cause: "firewall-blocked",
        quotes: &["{rule}"],
        isolated: true,
        ..Case::FAULT
    };
}
