//! The `protocol` built-in: what the upstream's port really speaks, against what
//! nginx speaks to it, and the pass directive that would match.
//!
//! A TLS-only app behind `proxy_pass http://`, php-fpm behind `proxy_pass`, an HTTP
//! app behind `fastcgi_pass` or `grpc_pass`: nginx logs a reset, a premature close or
//! a garbled header, words that also mean a crash. Greeting the port (see
//! `host::connect::speaks`) settles it; the scheme nginx logged says what it spoke.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Out;
use super::sockets_probe::endpoint;
use crate::host::connect::{self, Speaks};

/// Each greeting's bound: a port that answers, answers at once on loopback.
const GREETING_TIMEOUT: Duration = Duration::from_millis(300);

pub fn run(params: &BTreeMap<String, String>, out: &mut Out) {
    let target = match endpoint(params) {
        Ok(t) => t,
        Err(e) => return out.fail(e),
    };
    let scheme = params.get("scheme").map(String::as_str);
    let expects = scheme.and_then(expects);
    out.set("expects", expects);
    out.set("expects_name", expects.map(name));
    out.shown_as = shown(&target);
    let (speaks, heard) = match connect::speaks(&target, GREETING_TIMEOUT) {
        Ok(found) => found,
        Err(e) => return out.fail(format!("{target} takes no connection now ({e})")),
    };
    out.set("speaks", speaks.as_str());
    out.set("speaks_name", name(speaks.as_str()));
    out.set("heard", heard.join("; "));
    let known = !matches!(speaks, Speaks::Silent | Speaks::Unknown);
    let mismatch = known && expects.is_some_and(|e| e != speaks.as_str());
    out.set("mismatch", expects.map(|_| mismatch));
    if mismatch {
        let kind = params.get("kind").map(String::as_str);
        let written = params.get("target").map(String::as_str);
        if let (Some(kind), Some(written)) = (kind, written) {
            out.set("corrected", corrected(kind, written, speaks));
        }
    }
}

/// A protocol as a person names it.
fn name(protocol: &str) -> &str {
    match protocol {
        "fastcgi" => "FastCGI",
        "http" => "HTTP",
        "http2" => "HTTP/2 (gRPC)",
        "tls" => "TLS",
        "scgi" => "SCGI",
        other => other,
    }
}

/// The commands a person would type to ask the same: TLS, then HTTP.
pub(super) fn shown(target: &crate::host::Endpoint) -> String {
    match target {
        crate::host::Endpoint::Tcp(a) => format!(
            "openssl s_client -connect {a} -brief </dev/null; curl -sv --max-time 1 http://{a}/"
        ),
        crate::host::Endpoint::Unix(p) => format!(
            "curl -sv --max-time 1 --unix-socket {} http://localhost/",
            crate::shell::quote(&p.display().to_string())
        ),
    }
}

/// What nginx speaks to an upstream it logged with `scheme`.
fn expects(scheme: &str) -> Option<&'static str> {
    Some(match scheme {
        "http" => "http",
        "https" | "grpcs" | "suwsgi" => "tls",
        "fastcgi" => "fastcgi",
        "grpc" => "http2",
        "uwsgi" => "uwsgi",
        "scgi" => "scgi",
        _ => return None,
    })
}

/// The pass directive that speaks what the port speaks, keeping the address
/// (and, for `proxy_pass`, the URI) as written: `proxy_pass https://127.0.0.1:8443;`.
fn corrected(kind: &str, written: &str, speaks: Speaks) -> Option<String> {
    let (address, uri) = split_target(written);
    let keep_uri = if kind == "proxy" { uri } else { "" };
    let unix = address.starts_with("unix:");
    let line = match speaks {
        Speaks::Http => format!("proxy_pass http://{address}{keep_uri};"),
        Speaks::Tls => match kind {
            "grpc" => format!("grpc_pass grpcs://{address};"),
            "uwsgi" => format!("uwsgi_pass suwsgi://{address};"),
            // FastCGI and SCGI have no TLS: whatever listens is an HTTPS server.
            _ => format!("proxy_pass https://{address}{keep_uri};"),
        },
        Speaks::Fastcgi => format!("fastcgi_pass {address};"),
        Speaks::Http2 if unix => format!("grpc_pass {address};"),
        Speaks::Http2 => format!("grpc_pass grpc://{address};"),
        Speaks::Silent | Speaks::Unknown => return None,
    };
    Some(line)
}

/// `http://127.0.0.1:8443/app` → (`127.0.0.1:8443`, `/app`); `unix:/run/a.sock` and
/// `127.0.0.1:9000` stay whole; `http://unix:/run/a.sock:/app` → (`unix:/run/a.sock:`, `/app`).
fn split_target(written: &str) -> (&str, &str) {
    let rest = written.split_once("://").map_or(written, |(_, r)| r);
    if let Some(path) = rest.strip_prefix("unix:") {
        return match path.find(':') {
            Some(i) => (&rest[.."unix:".len() + i + 1], &path[i + 1..]),
            None => (rest, ""),
        };
    }
    match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_port_behind_plain_proxy_pass_gets_https_with_its_uri() {
        assert_eq!(
            corrected("proxy", "http://127.0.0.1:8443/app", Speaks::Tls).as_deref(),
            Some("proxy_pass https://127.0.0.1:8443/app;")
        );
    }

    #[test]
    fn an_http_port_behind_fastcgi_pass_gets_proxy_pass() {
        assert_eq!(
            corrected("fastcgi", "127.0.0.1:8000", Speaks::Http).as_deref(),
            Some("proxy_pass http://127.0.0.1:8000;")
        );
    }

    #[test]
    fn php_fpm_behind_proxy_pass_gets_fastcgi_pass_without_the_uri() {
        assert_eq!(
            corrected("proxy", "http://127.0.0.1:9000/index.php", Speaks::Fastcgi).as_deref(),
            Some("fastcgi_pass 127.0.0.1:9000;")
        );
    }

    #[test]
    fn an_http2_port_behind_proxy_pass_gets_grpc_pass() {
        assert_eq!(
            corrected("proxy", "http://127.0.0.1:50051", Speaks::Http2).as_deref(),
            Some("grpc_pass grpc://127.0.0.1:50051;")
        );
    }

    #[test]
    fn a_unix_socket_target_keeps_its_path() {
        assert_eq!(
            split_target("http://unix:/run/app.sock:/api"),
            ("unix:/run/app.sock:", "/api")
        );
        assert_eq!(
            split_target("unix:/run/php.sock"),
            ("unix:/run/php.sock", "")
        );
    }

    #[test]
    fn what_nginx_speaks_follows_the_logged_scheme() {
        assert_eq!(expects("https"), Some("tls"));
        assert_eq!(expects("grpc"), Some("http2"));
        assert_eq!(expects("fastcgi"), Some("fastcgi"));
        assert_eq!(expects("gopher"), None);
    }
}
