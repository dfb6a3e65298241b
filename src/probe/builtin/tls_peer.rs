//! The `tls-peer` built-in: the certificate an upstream presents, checked as
//! nginx checks it, so that a TLS failure gets a fix made of this host's
//! values instead of placeholders.
//!
//! nginx verifies an upstream's certificate only against
//! `proxy_ssl_trusted_certificate` (never the system's store by itself) and
//! for the name `proxy_ssl_name` gives (the pass's host by default), and
//! sends no SNI unless told to. So the certificate is fetched the same way
//! (`openssl s_client -noservername`), checked against this host's CA
//! bundle and that name, and each problem is named: a chain this host's
//! bundle trusts (nginx was just not pointed at it), a self-signed one (only
//! its owner can vouch for it), a name the certificate does not carry (and
//! whether its CN would verify instead).

use super::nginx_probe::Discover;
use crate::session::Session;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use super::Out;
use crate::probe::command::{self, CommandSpec, Outcome};

/// A handshake on loopback or a LAN takes milliseconds; this bounds a dead one.
const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_OUTPUT: usize = 256 * 1024;
/// The system CA bundles of Debian and of RHEL, in that order.
const BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];
/// OpenSSL's verify errors that are about the name, not the chain.
const NAME_ERRORS: &[u32] = &[62, 64];

/// What one `s_client` run saw.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    subject: Option<String>,
    issuer: Option<String>,
    not_after: Option<String>,
    pem: Option<String>,
    /// OpenSSL's verify errors, `(number, text)`, each once.
    errors: Vec<(u32, String)>,
}

pub fn run(host: &mut Session, params: &BTreeMap<String, String>, out: &mut Out) {
    written_here(host, params, out);
    fetch_and_check(params, out);
}

/// `proxy_ssl_trusted_certificate` and `proxy_ssl_name` as written in the
/// pass's own block (where a fix replaces them rather than adds a second,
/// which nginx refuses as a duplicate): `trusted_file`, `trusted_line`,
/// `trusted_text`, and `ssl_name_` the same.
fn written_here(host: &mut Session, params: &BTreeMap<String, String>, out: &mut Out) {
    let Some(cfg) = host.nginx().config.as_ref() else {
        return;
    };
    let Some(path) = super::conf_scope::pass_path(cfg, params) else {
        return;
    };
    let Some(block) = path.len().checked_sub(2).map(|i| path[i]) else {
        return;
    };
    for (fact, name) in [
        ("trusted", "proxy_ssl_trusted_certificate"),
        ("ssl_name", "proxy_ssl_name"),
    ] {
        if let Some(d) = block.children().iter().find(|d| d.name == name) {
            out.set(&format!("{fact}_file"), d.file.display().to_string());
            out.set(&format!("{fact}_line"), i64::try_from(d.line).unwrap_or(0));
            out.set(
                &format!("{fact}_text"),
                format!("{name} {}", d.args.join(" ")),
            );
        }
    }
}

fn fetch_and_check(params: &BTreeMap<String, String>, out: &mut Out) {
    let (Some(host), Some(port)) = (params.get("host"), params.get("port")) else {
        return out.fail("no TCP address (host and port) to fetch a certificate from");
    };
    let name = params.get("name").unwrap_or(host);
    let bundle = BUNDLES.iter().find(|b| Path::new(b).is_file()).copied();
    let target = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
        _ => format!("{host}:{port}"),
    };
    out.shown_as =
        format!("openssl s_client -connect {target} -noservername -showcerts </dev/null");
    let seen = match fetch(&target, bundle, name) {
        Ok(seen) => seen,
        Err(why) => return out.fail(why),
    };
    let Some(pem) = seen.pem.clone() else {
        out.set("presented", false);
        return out.note(&format!("{target} completed no TLS handshake"));
    };
    out.set("presented", true);
    out.set("ca_bundle", bundle);
    out.set("name_checked", name.clone());
    describe(&seen, out);
    out.set("pem", pem);
    let cn = seen.subject.as_deref().and_then(common_name);
    if let Some(cn) = &cn {
        // Whether the certificate's own CN passes nginx's name check.
        let matches = cn == name || fetch(&target, bundle, cn).is_ok_and(|s| names_ok(&s));
        out.set("cn", cn.clone());
        out.set("cn_matches", matches);
    }
    let conf_dir = params.get("conf").and_then(|c| Path::new(c).parent());
    let stem: String = format!("upstream-{host}-{port}.pem")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    out.set(
        "cert_file",
        conf_dir.map(|d| d.join(stem).display().to_string()),
    );
}

/// Sets what the certificate is and what OpenSSL found wrong with it.
fn describe(seen: &Seen, out: &mut Out) {
    let chain_ok = seen.errors.iter().all(|(n, _)| NAME_ERRORS.contains(n));
    let errors: Vec<&str> = seen.errors.iter().map(|(_, t)| t.as_str()).collect();
    out.set("subject", seen.subject.clone());
    out.set("issuer", seen.issuer.clone());
    out.set("not_after", seen.not_after.clone());
    out.set(
        "self_signed",
        seen.subject.is_some() && seen.subject == seen.issuer,
    );
    out.set("chain_trusted", chain_ok);
    out.set("name_matches", names_ok(seen));
    out.set("errors", errors.join("; "));
    out.note(&format!(
        "certificate {} issued by {}; {}",
        seen.subject.as_deref().unwrap_or("without a subject"),
        seen.issuer.as_deref().unwrap_or("no one named"),
        if errors.is_empty() {
            "verified".to_owned()
        } else {
            errors.join("; ")
        }
    ));
}

fn names_ok(seen: &Seen) -> bool {
    !seen.errors.iter().any(|(n, _)| NAME_ERRORS.contains(n))
}

/// One handshake as nginx makes it (no SNI), verified against `bundle` for `name`.
fn fetch(target: &str, bundle: Option<&str>, name: &str) -> Result<Seen, String> {
    let check = if name.parse::<IpAddr>().is_ok() {
        "-verify_ip"
    } else {
        "-verify_hostname"
    };
    let mut argv: Vec<String> = ["openssl", "s_client", "-connect", target, "-noservername"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    argv.push("-showcerts".to_owned());
    if let Some(b) = bundle {
        argv.extend(["-CAfile".to_owned(), b.to_owned()]);
    }
    argv.extend([check.to_owned(), name.to_owned()]);
    let ran = command::run(&CommandSpec {
        argv,
        timeout: TIMEOUT,
        max_output: MAX_OUTPUT,
    });
    match ran.outcome {
        Outcome::NotFound => {
            Err("openssl is not installed here, so the certificate could not be fetched".to_owned())
        }
        Outcome::Exited(_) => {
            let text = String::from_utf8_lossy(&ran.stdout).into_owned()
                + &String::from_utf8_lossy(&ran.stderr);
            Ok(parse(&text))
        }
        other => Err(format!(
            "openssl s_client -connect {target} did not finish: {other}"
        )),
    }
}

/// Reads `s_client -showcerts` output (stdout and stderr together).
fn parse(text: &str) -> Seen {
    let mut seen = Seen::default();
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_owned())
    };
    seen.subject = field(" 0 s:");
    seen.issuer = field("   i:");
    seen.not_after = field("   v:NotBefore:")
        .and_then(|v| v.split_once("NotAfter:").map(|(_, a)| a.trim().to_owned()));
    if let (Some(a), Some(b)) = (
        text.find("-----BEGIN CERTIFICATE-----"),
        text.find("-----END CERTIFICATE-----"),
    ) {
        seen.pem = (a < b).then(|| text[a..b + "-----END CERTIFICATE-----".len()].to_owned());
    }
    for rest in text
        .lines()
        .filter_map(|l| l.strip_prefix("verify error:num="))
    {
        let Some((n, what)) = rest.split_once(':') else {
            continue;
        };
        let Ok(n) = n.parse() else { continue };
        if !seen.errors.iter().any(|(m, _)| *m == n) {
            seen.errors.push((n, what.trim().to_owned()));
        }
    }
    seen
}

/// `backend.test` from `CN = backend.test` or `C = DE, O = X, CN = backend.test`.
fn common_name(subject: &str) -> Option<String> {
    subject
        .split(',')
        .find_map(|part| {
            part.trim()
                .strip_prefix("CN")?
                .trim_start()
                .strip_prefix('=')
        })
        .map(|cn| cn.trim().to_owned())
        .filter(|cn| {
            !cn.is_empty()
                && cn
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.*".contains(c))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SELF_SIGNED: &str = "\
depth=0 CN = backend.test
verify error:num=18:self-signed certificate
verify return:1
depth=0 CN = backend.test
verify error:num=64:IP address mismatch
verify return:1
CONNECTED(00000003)
---
Certificate chain
 0 s:CN = backend.test
   i:CN = backend.test
   a:PKEY: id-ecPublicKey, 256 (bit); sigalg: ecdsa-with-SHA256
   v:NotBefore: Dec  7 22:01:44 2026 GMT; NotAfter: Jan  6 22:01:44 2027 GMT
-----BEGIN CERTIFICATE-----
MIIB
-----END CERTIFICATE-----
---
Verify return code: 64 (IP address mismatch)
";

    #[test]
    fn a_self_signed_certificate_for_another_name_has_both_errors() {
        let seen = parse(SELF_SIGNED);
        assert_eq!(seen.subject.as_deref(), Some("CN = backend.test"));
        assert_eq!(seen.issuer, seen.subject);
        assert_eq!(seen.not_after.as_deref(), Some("Jan  6 22:01:44 2027 GMT"));
        assert_eq!(
            seen.pem.as_deref(),
            Some("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
        );
        assert_eq!(
            seen.errors,
            [
                (18, "self-signed certificate".to_owned()),
                (64, "IP address mismatch".to_owned())
            ]
        );
        assert!(!names_ok(&seen));
    }

    #[test]
    fn the_common_name_is_read_from_any_place_in_the_subject() {
        assert_eq!(
            common_name("CN = backend.test").as_deref(),
            Some("backend.test")
        );
        assert_eq!(
            common_name("C = DE, O = X, CN = *.example.org").as_deref(),
            Some("*.example.org")
        );
        assert_eq!(common_name("O = X"), None);
        assert_eq!(common_name("CN = a b"), None, "not a host name");
    }
}
