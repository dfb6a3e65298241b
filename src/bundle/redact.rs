//! Keeping secrets out of bundles.
//!
//! A bundle is made to be sent to someone else, yet probes quote host text:
//! `nginx -T` prints every `fastcgi_param DB_PASSWORD`, a configuration can
//! hold an inline key, an error-log line can carry a cookie. Every string is
//! passed through [`Redactor::redact`] before it is written. It removes
//! values, never whole lines, so what is left still says which setting or
//! header was there. It errs on the side of removing too much: a bundle
//! that lost a harmless word still diagnoses, a leaked password cannot be
//! taken back.

use std::borrow::Cow;

use regex::Regex;

/// The compiled redaction rules; build one and reuse it for a whole bundle.
#[derive(Debug)]
pub struct Redactor {
    rules: Vec<(Regex, &'static str)>,
}

/// A key naming a secret: `ssl_password_file`, `DB_PASSWORD`,
/// `env[APP_SECRET]`, `--passphrase`.
const SECRET_KEY: &str =
    r"[A-Za-z0-9_.\[\]-]*(?i:password|passwd|passphrase|secret)[A-Za-z0-9_.\[\]-]*";

/// Each rule: the pattern, and its replacement (`$key` keeps what names the secret).
const RULES: &[(&str, &str)] = &[
    // A PEM private key (what `ssl_certificate_key` points at), also one
    // cut off by the output cap: the body goes, the armour lines stay.
    (
        r"(?s)(?P<key>-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----).*?(?P<end>-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
        "$key\n[redacted]\n$end",
    ),
    // An inline key: `ssl_certificate_key data:...`.
    (
        r"(?P<key>ssl_certificate_key\s+)data:[^;\n]*",
        "${key}[redacted]",
    ),
    // ini and env style, the whole value: `env[DB_PASSWORD] = two words`.
    (
        concat!(
            r"(?m)(?P<key>^[ \t]*",
            r"[A-Za-z0-9_.\[\]-]*(?i:password|passwd|passphrase|secret)[A-Za-z0-9_.\[\]-]*",
            r"[ \t]*=[ \t]*)\S.*$"
        ),
        "${key}[redacted]",
    ),
    // A raw header line: the value runs to the end of the line (or quote).
    (
        r#"(?i)(?P<key>\b(?:proxy-)?authorization|\b(?:set-)?cookie)(?P<sep>[ \t]*:[ \t]*)[^"\r\n]+"#,
        "$key$sep[redacted]",
    ),
    // A header set in nginx: `proxy_set_header Authorization "Basic ...";`.
    (
        r#"(?i)(?P<key>\b(?:proxy-)?authorization|\b(?:set-)?cookie)(?P<sep>[ \t]+)(?:"[^"\n]*"|'[^'\n]*'|[^;\s]+)"#,
        "$key$sep[redacted]",
    ),
    // An htpasswd line (what `auth_basic_user_file` points at): the hash goes.
    (
        r"(?m)^(?P<key>[^:\s#]+):(?:\$apr1\$|\$2[abxy]?\$|\$[156y]\$|\{SSHA\}|\{SHA\}|\{PLAIN\})\S*",
        "$key:[redacted]",
    ),
    // Credentials in a URL: `redis://user:pw@host`.
    (
        r"(?i)(?P<key>\b[a-z][a-z0-9+.-]*://[^/\s:@]+):[^/\s@]+@",
        "$key:[redacted]@",
    ),
];

impl Default for Redactor {
    fn default() -> Self {
        Self::new()
    }
}

impl Redactor {
    /// Compiles the rules.
    pub fn new() -> Redactor {
        let mut rules: Vec<(Regex, &'static str)> = RULES
            .iter()
            .filter_map(|(pattern, with)| Regex::new(pattern).ok().map(|re| (re, *with)))
            .collect();
        // Anything else naming a secret: `fastcgi_param DB_PASSWORD "x";`,
        // `?password=x&`, `"secret": "x"`.
        let inline = format!(
            r#"(?P<key>{SECRET_KEY}["']?)(?P<sep>[ \t]*[=:][ \t]*|[ \t]+)(?:"[^"\n]*"|'[^'\n]*'|[^\s;&,"']+)"#
        );
        if let Ok(re) = Regex::new(&inline) {
            rules.push((re, "$key$sep[redacted]"));
        }
        debug_assert_eq!(
            rules.len(),
            RULES.len() + 1,
            "a redaction rule failed to compile"
        );
        Redactor { rules }
    }

    /// `text` with every secret value replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = Cow::Borrowed(text);
        for (re, with) in &self.rules {
            if let Cow::Owned(changed) = re.replace_all(&out, *with) {
                out = Cow::Owned(changed);
            }
        }
        out.into_owned()
    }

    /// Every string value inside `value` redacted (object keys are names
    /// the tool chose, not host text, and stay).
    pub fn redact_json(&self, value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value as J;
        match value {
            J::String(s) => J::String(self.redact(&s)),
            J::Array(items) => J::Array(items.into_iter().map(|v| self.redact_json(v)).collect()),
            J::Object(map) => J::Object(
                map.into_iter()
                    .map(|(k, v)| (k, self.redact_json(v)))
                    .collect(),
            ),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> String {
        Redactor::new().redact(text)
    }

    #[test]
    fn every_rule_compiles() {
        assert_eq!(Redactor::new().rules.len(), RULES.len() + 1);
    }

    #[test]
    fn a_private_key_loses_its_body() {
        let text = "# configuration file /etc/nginx/key.pem:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\nnext";
        let out = redact(text);
        assert!(!out.contains("MIIEvQ") && !out.contains("BKcwgg"), "{out}");
        assert!(out.contains("-----BEGIN PRIVATE KEY-----\n[redacted]\n-----END PRIVATE KEY-----"));
        assert!(out.ends_with("\nnext"));
    }

    #[test]
    fn a_key_cut_off_by_the_output_cap_is_removed_to_the_end() {
        let out = redact("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA");
        assert_eq!(out, "-----BEGIN RSA PRIVATE KEY-----\n[redacted]\n");
    }

    #[test]
    fn certificates_are_not_secrets() {
        let cert = "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----";
        assert_eq!(redact(cert), cert);
    }

    #[test]
    fn password_directives_keep_their_name_and_lose_their_value() {
        let conf =
            "fastcgi_param DB_PASSWORD \"s3cret pw\";\nssl_password_file /etc/keys/global.pass;\n";
        assert_eq!(
            redact(conf),
            "fastcgi_param DB_PASSWORD [redacted];\nssl_password_file [redacted];\n"
        );
    }

    #[test]
    fn ini_style_settings_lose_the_whole_value() {
        let pool = "env[DB_PASSWORD] = two words\nphp_admin_value[mail.secret_key]=abc\nlisten = /run/php-fpm/www.sock";
        assert_eq!(
            redact(pool),
            "env[DB_PASSWORD] = [redacted]\nphp_admin_value[mail.secret_key]=[redacted]\nlisten = /run/php-fpm/www.sock"
        );
    }

    #[test]
    fn passwords_in_a_query_string_are_removed() {
        let line = r#"request: "GET /login?user=bob&password=hunter2&x=1 HTTP/1.1""#;
        assert_eq!(
            redact(line),
            r#"request: "GET /login?user=bob&password=[redacted]&x=1 HTTP/1.1""#
        );
    }

    #[test]
    fn quoted_json_secrets_are_removed() {
        assert_eq!(
            redact(r#"{"client_secret": "abc", "user": "bob"}"#),
            r#"{"client_secret": [redacted], "user": "bob"}"#
        );
    }

    #[test]
    fn auth_and_cookie_header_values_are_removed() {
        assert_eq!(
            redact("Authorization: Basic dXNlcjpwYXNz\nCookie: sid=1; token=2"),
            "Authorization: [redacted]\nCookie: [redacted]"
        );
        assert_eq!(
            redact(r#"client sent invalid header line: "Cookie: sid=abc" while reading"#),
            r#"client sent invalid header line: "Cookie: [redacted]" while reading"#
        );
    }

    #[test]
    fn headers_set_in_nginx_lose_their_value() {
        assert_eq!(
            redact(r#"proxy_set_header Authorization "Bearer eyJhbGci";"#),
            "proxy_set_header Authorization [redacted];"
        );
        let kept =
            "proxy_pass_header Authorization;\nproxy_cookie_path / /app;\nset $c $cookie_sid;";
        assert_eq!(redact(kept), kept);
    }

    #[test]
    fn htpasswd_hashes_are_removed() {
        let file =
            "alice:$apr1$x8Hq2$u0m4d6kVMuwRLKrxD3ZkG/\nbob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=";
        assert_eq!(redact(file), "alice:[redacted]\nbob:[redacted]");
    }

    #[test]
    fn url_credentials_are_removed() {
        assert_eq!(
            redact("proxy_pass http://admin:pw@10.0.0.5:8080/;"),
            "proxy_pass http://admin:[redacted]@10.0.0.5:8080/;"
        );
    }

    #[test]
    fn inline_certificate_keys_are_removed() {
        assert_eq!(
            redact("ssl_certificate_key data:$key_pem;"),
            "ssl_certificate_key [redacted];"
        );
    }

    #[test]
    fn ordinary_probe_output_is_untouched() {
        let text = "2026/11/24 21:22:58 [error] 20734#20734: *87 connect() failed (113: No route to host) while connecting to upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:9027/\", host: \"127.0.0.1:8080\"\nnginx: the configuration file /etc/nginx/nginx.conf syntax is ok\nssl_certificate_key /etc/pki/nginx/private/server.key;\nActive: failed (Result: exit-code)";
        assert_eq!(redact(text), text);
    }

    #[test]
    fn json_values_are_redacted_and_keys_kept() {
        let v = serde_json::json!({"stdout": ["Cookie: a=1"], "password": 3});
        assert_eq!(
            Redactor::new().redact_json(v),
            serde_json::json!({"stdout": ["Cookie: [redacted]"], "password": 3})
        );
    }

    #[test]
    fn redacting_twice_changes_nothing_more() {
        let text = "fastcgi_param DB_PASSWORD x;\nAuthorization: Basic abc\nenv[SECRET] = y\nalice:$apr1$abc$def";
        let once = redact(text);
        assert_eq!(redact(&once), once);
    }
}
