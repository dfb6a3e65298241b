//! Tests of `model.rs`, kept apart so that file stays readable.

use super::*;
use crate::nginx::parse::parse_str;
use std::path::Path;

const CONF: &str = r#"
user www-data;
error_log logs/main.log warn;
error_log stderr;
events {}
http {
    proxy_read_timeout 120s;
    fastcgi_buffer_size 16k;
    access_log /var/log/nginx/access.log main;
    error_log syslog:server=127.0.0.1;
    map $uri $x { default 0; error_log 1; }
    upstream php {
        server unix:/run/php/php8.2-fpm.sock;
        server 127.0.0.1:9000 max_fails=3;
        keepalive 16;
    }
    upstream app { server app.internal; }
    server {
        listen 127.0.0.1:8080 default_server;
        listen [::1]:8080;
        server_name example.com www.example.com;
        access_log off;
        error_log /var/log/nginx/example.error.log;
        proxy_connect_timeout 5s;
        location / {
            proxy_pass http://127.0.0.1:3000/;
            proxy_read_timeout 300;
            location /api/ {
                proxy_pass http://app;
            }
        }
        location ~ \.php$ {
            fastcgi_pass php;
            fastcgi_read_timeout 30s;
        }
        location =/health { fastcgi_pass localhost:9001; }
        location /sock { proxy_pass http://unix:/run/a.sock:/uri; }
        location /v6 { proxy_pass https://[::1]; }
        location /var { proxy_pass http://$backend; }
        location /grpc { grpc_pass grpc://127.0.0.1:50051; }
        location /noport { fastcgi_pass backend.local; }
        location /cond {
            if ($arg_x) { proxy_pass http://127.0.0.1:4000; proxy_read_timeout 1s; }
            proxy_pass http://127.0.0.1:4001;
        }
    }
}
"#;

fn model_of(text: &str) -> Model {
    model(
        &parse_str(text, Path::new("/etc/nginx/nginx.conf")).unwrap(),
        Path::new("/usr/share/nginx"),
    )
}

fn loc<'a>(m: &'a Model, path: &str) -> &'a Location {
    m.servers[0]
        .locations
        .iter()
        .find(|l| l.path == path)
        .unwrap()
}

fn tcp(host: &str, port: u16) -> Address {
    Address::Tcp {
        host: host.into(),
        port,
    }
}

#[test]
fn user_and_group_default_to_the_user_name() {
    let m = model_of(CONF);
    assert_eq!(m.user.as_ref().unwrap().value, "www-data");
    assert_eq!(m.user.as_ref().unwrap().line, 2);
    assert_eq!(m.group.unwrap().value, "www-data");
    assert_eq!(model_of("events {}").user, None);
}

#[test]
fn error_logs_resolve_against_the_prefix_and_skip_special_targets() {
    let m = model_of(CONF);
    let logs: Vec<&str> = m.error_logs.iter().map(|l| l.value.as_str()).collect();
    assert_eq!(
        logs,
        [
            "/usr/share/nginx/logs/main.log",
            "/var/log/nginx/example.error.log"
        ]
    );
}

#[test]
fn access_log_off_is_skipped() {
    let m = model_of(CONF);
    let logs: Vec<&str> = m.access_logs.iter().map(|l| l.value.as_str()).collect();
    assert_eq!(logs, ["/var/log/nginx/access.log"]);
}

#[test]
fn upstream_groups_list_servers_and_keepalive() {
    let m = model_of(CONF);
    let php = m.upstream("PHP").unwrap();
    assert_eq!(php.keepalive, Some(16));
    assert_eq!(
        php.servers[0].parsed,
        Some(Address::Unix("/run/php/php8.2-fpm.sock".into()))
    );
    assert_eq!(php.servers[1].params, ["max_fails=3"]);
    assert_eq!(
        m.upstream("app").unwrap().servers[0].parsed,
        Some(tcp("app.internal", 80))
    );
}

#[test]
fn server_keeps_listen_names_and_default() {
    let s = &model_of(CONF).servers[0];
    assert_eq!(s.listen, ["127.0.0.1:8080", "[::1]:8080"]);
    assert_eq!(s.default_listen, ["127.0.0.1:8080"]);
    assert_eq!(s.names, ["example.com", "www.example.com"]);
}

#[test]
fn nested_locations_are_flattened_with_their_parent() {
    let m = model_of(CONF);
    let api = loc(&m, "/api/");
    let parent = api.parent.unwrap();
    assert_eq!(m.servers[0].locations[parent].path, "/");
}

#[test]
fn glued_modifiers_are_split() {
    let m = model_of(CONF);
    assert_eq!(loc(&m, "/health").modifier.as_deref(), Some("="));
    assert_eq!(loc(&m, "\\.php$").modifier.as_deref(), Some("~"));
}

#[test]
fn proxy_pass_with_uri_gives_address_and_scheme() {
    let m = model_of(CONF);
    let p = loc(&m, "/").pass.as_ref().unwrap();
    assert_eq!(p.kind, PassKind::Proxy);
    assert_eq!(p.scheme.as_deref(), Some("http"));
    assert_eq!(p.address, Some(tcp("127.0.0.1", 3000)));
    assert_eq!(p.line, 26);
}

#[test]
fn pass_to_a_group_names_the_group_not_an_address() {
    let m = model_of(CONF);
    let p = loc(&m, "\\.php$").pass.as_ref().unwrap();
    assert_eq!((p.upstream.as_deref(), &p.address), (Some("php"), &None));
    assert_eq!(
        loc(&m, "/api/").pass.as_ref().unwrap().upstream.as_deref(),
        Some("app")
    );
}

#[test]
fn default_ports_follow_the_scheme_and_fastcgi_needs_one() {
    let m = model_of(CONF);
    let v6 = loc(&m, "/v6").pass.as_ref().unwrap();
    assert_eq!(v6.address, Some(tcp("::1", 443)));
    assert_eq!(loc(&m, "/noport").pass.as_ref().unwrap().address, None);
    let health = loc(&m, "/health").pass.as_ref().unwrap();
    assert_eq!(health.address, Some(tcp("localhost", 9001)));
}

#[test]
fn unix_and_grpc_targets_parse() {
    let m = model_of(CONF);
    let sock = loc(&m, "/sock").pass.as_ref().unwrap();
    assert_eq!(sock.address, Some(Address::Unix("/run/a.sock".into())));
    let grpc = loc(&m, "/grpc").pass.as_ref().unwrap();
    assert_eq!(
        (grpc.kind, grpc.scheme.as_deref()),
        (PassKind::Grpc, Some("grpc"))
    );
    assert_eq!(grpc.address, Some(tcp("127.0.0.1", 50051)));
}

#[test]
fn variable_targets_are_flagged_without_address() {
    let m = model_of(CONF);
    let p = loc(&m, "/var").pass.as_ref().unwrap();
    assert!(p.has_variables);
    assert_eq!((&p.address, &p.upstream), (&None, &None));
}

#[test]
fn timeouts_inherit_location_server_http_then_default() {
    let m = model_of(CONF);
    let t = &loc(&m, "/").pass.as_ref().unwrap().timeouts;
    assert_eq!(t.read_timeout.value, "300");
    assert_eq!(t.read_timeout.source.as_ref().unwrap().1, 27);
    assert_eq!(t.connect_timeout.value, "5s");
    assert_eq!(
        t.send_timeout,
        Effective {
            value: "60s".into(),
            source: None,
            here: false
        }
    );
    assert_eq!(t.buffer_size.value, "4k");
    let api = &loc(&m, "/api/").pass.as_ref().unwrap().timeouts;
    assert_eq!(
        api.read_timeout.duration(),
        Some(std::time::Duration::from_secs(300))
    );
    let sock = &loc(&m, "/sock").pass.as_ref().unwrap().timeouts;
    assert_eq!(
        (
            sock.read_timeout.value.as_str(),
            sock.read_timeout.source.as_ref().unwrap().1
        ),
        ("120s", 7)
    );
}

#[test]
fn timeouts_are_those_of_the_pass_kind() {
    let m = model_of(CONF);
    let t = &loc(&m, "\\.php$").pass.as_ref().unwrap().timeouts;
    assert_eq!(t.read_timeout.value, "30s");
    assert_eq!(t.buffer_size.bytes(), Some(16 * 1024));
    assert_eq!(t.connect_timeout.value, "60s");
}

#[test]
fn passes_inside_if_are_conditional_with_their_own_timeouts() {
    let m = model_of(CONF);
    let l = loc(&m, "/cond");
    assert_eq!(
        l.pass.as_ref().unwrap().address,
        Some(tcp("127.0.0.1", 4001))
    );
    let inner = &l.if_passes[0];
    assert!(inner.conditional);
    assert_eq!(inner.timeouts.read_timeout.value, "1s");
    assert_eq!(l.passes().count(), 2);
}

#[test]
fn find_by_upstream_matches_direct_and_group_members() {
    let m = model_of(CONF);
    let direct = m.find_by_upstream(&tcp("127.0.0.1", 3000));
    assert_eq!(direct.len(), 1);
    assert_eq!(direct[0].1.path, "/");
    let via_group = m.find_by_upstream(&tcp("127.0.0.1", 9000));
    assert_eq!(via_group[0].1.path, "\\.php$");
    let local = m.find_by_upstream(&tcp("127.0.0.1", 9001));
    assert_eq!(local[0].1.path, "/health");
    assert!(m.find_by_upstream(&tcp("127.0.0.1", 9999)).is_empty());
}

#[test]
fn find_by_log_upstream_reads_log_fields() {
    let m = model_of(CONF);
    let php = m.find_by_log_upstream("fastcgi://unix:/run/php/php8.2-fpm.sock:");
    assert_eq!(php[0].2.upstream.as_deref(), Some("php"));
    let group = m.find_by_log_upstream("http://app/api/x");
    assert_eq!(group[0].1.path, "/api/");
    let sock = m.find_by_log_upstream("http://unix:/run/a.sock:/uri");
    assert_eq!(sock[0].1.path, "/sock");
    assert_eq!(
        m.find_by_log_upstream("https://[::1]:443/v6")[0].1.path,
        "/v6"
    );
}

#[test]
fn endpoints_expand_groups() {
    let m = model_of(CONF);
    let php = loc(&m, "\\.php$").pass.as_ref().unwrap();
    assert_eq!(m.endpoints(php).len(), 2);
}

#[test]
fn map_keys_are_not_log_directives() {
    let m = model_of(CONF);
    assert!(m.error_logs.iter().all(|l| !l.value.ends_with("/1")));
}

#[test]
fn random_configs_never_panic_the_model() {
    const WORDS: &[&str] = &[
        "http",
        "server",
        "location",
        "upstream",
        "proxy_pass",
        "fastcgi_pass",
        "grpc_pass",
        "listen",
        "server_name",
        "if",
        "error_log",
        "access_log",
        "user",
        "keepalive",
        "include",
        "=",
        "~",
        "~*",
        "^~",
        "@x",
        "/",
        "/a",
        "http://",
        "http://a:99999",
        "http://[::1",
        "unix:",
        "unix:/s:",
        "a:1",
        "$v",
        "off",
        "stderr",
        "*.",
        ".x",
        "~(",
        "{",
        "}",
        ";",
        ";",
        "}",
        "\"\"",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut parsed = 0;
    for _ in 0..20_000 {
        let len = (next() % 40) as usize;
        let text: Vec<&str> = (0..len)
            .map(|_| WORDS[(next() % WORDS.len() as u64) as usize])
            .collect();
        let Ok(cfg) = parse_str(&text.join(" "), Path::new("/r.conf")) else {
            continue;
        };
        parsed += 1;
        let m = model(&cfg, Path::new("p"));
        let _ = m.locate(Some("a.x"), Some(80), "/a");
        let _ = m.find_by_log_upstream("http://a:1/");
    }
    assert!(parsed > 100, "only {parsed} random configs parsed");
}
