//! The pass chosen for a logged request, and where its settings are written.

use super::*;
use crate::nginx::{model, parse_str};
use crate::value::Value;

const CONF: &str = r#"
http {
upstream php { server unix:/run/php.sock; }
upstream named { server backend.internal:9000; server 10.0.0.1:9000; }
server {
    listen 80;
    server_name shop.test;
    return 301 https://$host$request_uri;
    location /admin/ { fastcgi_pass php; }
}
server {
    listen 443;
    server_name .shop.test www.shop.test;
    fastcgi_read_timeout 5s;
    location / { try_files $uri @php; }
    location @php { fastcgi_pass php; }
    location ~ \.php$ { fastcgi_pass php; fastcgi_buffer_size 16k; }
    location /api/ { fastcgi_pass named; fastcgi_read_timeout 90s; }
}
server {
    listen 8080;
    location /x.php { fastcgi_pass unix:/run/php.sock; }
}
}
"#;

fn m() -> Model {
    model(
        &parse_str(CONF, Path::new("/n.conf")).unwrap(),
        Path::new("/p"),
    )
}

fn chosen(server: Option<&str>, request: Option<&str>) -> (String, usize, &'static str) {
    let model = m();
    let hits = model.find_by_log_upstream("fastcgi://unix:/run/php.sock:");
    let uri = request.and_then(request_path);
    let (i, how) = choose(&model, &hits, server, uri.as_deref()).unwrap();
    let (s, l, _) = hits[i];
    (l.path.clone(), s.line, how.as_str())
}

#[test]
fn request_is_located_in_the_twin_server_sharing_the_name() {
    // By name nginx's Host lookup finds the port-80 server first, which
    // has no location for /a/b.php; its port-443 twin serves it.
    let (path, _, how) = chosen(Some("shop.test"), Some("GET /a/b.php?x=1 HTTP/1.1"));
    assert_eq!((path.as_str(), how), ("\\.php$", "request"));
}

#[test]
fn logged_server_and_request_pick_a_prefix_location() {
    let (path, line, how) = chosen(Some("shop.test"), Some("GET /admin/x HTTP/1.1"));
    assert_eq!((path.as_str(), line, how), ("/admin/", 5, "request"));
}

#[test]
fn unnamed_server_is_logged_as_the_empty_name() {
    let model = m();
    assert!(logs_as(&model.servers[2], ""));
    assert!(logs_as(&model.servers[1], "shop.test"));
    assert!(!logs_as(&model.servers[1], "www.shop.test"));
}

#[test]
fn without_request_the_first_candidate_of_the_server_is_quoted() {
    let (path, _, how) = chosen(Some("shop.test"), None);
    assert_eq!((path.as_str(), how), ("/admin/", "server"));
}

#[test]
fn request_served_elsewhere_falls_back_to_the_first_candidate() {
    // `/` only tries files, then redirects to @php: locate cannot follow that.
    let (path, _, how) = chosen(None, Some("GET /page HTTP/1.1"));
    assert_eq!((path.as_str(), how), ("/admin/", "first"));
}

#[test]
fn request_paths_are_normalised_like_nginx_uri() {
    let cases = [
        ("GET /a//b/../x%2Ephp?q=/y HTTP/1.1", Some("/a/x.php")),
        ("POST /dir/ HTTP/1.0", Some("/dir/")),
        ("GET http://h.test/p/./q HTTP/1.1", Some("/p/q")),
        ("GET /../.. HTTP/1.1", Some("/")),
        ("GET /%zz HTTP/1.1", Some("/%zz")),
        ("garbage", None),
        ("GET * HTTP/1.1", None),
    ];
    for (request, path) in cases {
        assert_eq!(request_path(request).as_deref(), path, "{request}");
    }
}

#[test]
fn effective_text_names_the_source_or_the_default() {
    let model = m();
    let hits = model.find_by_log_upstream("fastcgi://unix:/run/php.sock:");
    let regex = hits.iter().find(|h| h.1.path == "\\.php$").unwrap().2;
    assert_eq!(
        effective_text("fastcgi_read_timeout", &regex.timeouts.read_timeout),
        "fastcgi_read_timeout 5s (/n.conf:14)"
    );
    let admin = hits[0].2;
    assert_eq!(
        effective_text("fastcgi_read_timeout", &admin.timeouts.read_timeout),
        "fastcgi_read_timeout 60s (nginx's default)"
    );
}

#[test]
fn target_host_is_a_name_never_an_ip() {
    let model = m();
    let api = model
        .locate(Some("shop.test"), Some(443), "/api/x")
        .unwrap()
        .1;
    let pass = api.pass.as_ref().unwrap();
    assert_eq!(
        target_host(&model, pass).as_deref(),
        Some("backend.internal")
    );
    let unix = model.locate(None, Some(8080), "/x.php").unwrap().1;
    assert_eq!(target_host(&model, unix.pass.as_ref().unwrap()), None);
}

/// A fact `out` holds, as its Debug text (`Value` compares by that here).
fn fact(out: &Out, name: &str) -> Option<String> {
    let value = out.facts.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    value.map(|v| format!("{v:?}"))
}

#[test]
fn a_setting_of_the_location_is_changed_where_it_is() {
    let model = m();
    let api = model
        .locate(Some("shop.test"), Some(443), "/api/x")
        .unwrap()
        .1;
    let t = &api.pass.as_ref().unwrap().timeouts;
    assert!(t.read_timeout.here, "the location sets it: {t:?}");
    let php = model
        .locate(Some("shop.test"), Some(443), "/a.php")
        .unwrap()
        .1;
    let t = &php.pass.as_ref().unwrap().timeouts;
    assert!(!t.read_timeout.here, "inherited from the server: {t:?}");
    assert_eq!(t.read_timeout.source.as_ref().unwrap().1, 14);
}

#[test]
fn buffer_lines_span_the_pass_and_the_buffers_its_location_sets() {
    let at = |uri: &str| {
        let model = m();
        let l = model
            .locate(Some("shop.test"), Some(443), uri)
            .unwrap()
            .1
            .clone();
        let mut out = Out::default();
        let pass = l.pass.as_ref().unwrap();
        set_buffers(pass, pass.line, &mut out);
        (fact(&out, "buffers_here"), fact(&out, "buffers_lines"))
    };
    let facts = |here: bool, lines: &str| {
        let lines = Value::from(lines.to_owned());
        (
            Some(format!("{:?}", Value::from(here))),
            Some(format!("{lines:?}")),
        )
    };
    assert_eq!(at("/a.php"), facts(true, "17"));
    assert_eq!(at("/api/x"), facts(false, "18"));
}

#[test]
fn a_pass_inside_an_if_takes_its_settings_in_the_location() {
    let conf = "http {\n server {\n  location /c {\n   proxy_read_timeout 5s;\n   if ($arg_x) {\n    proxy_pass http://127.0.0.1:4000;\n   }\n  }\n }\n}\n";
    let model = model(
        &parse_str(conf, Path::new("/c.conf")).unwrap(),
        Path::new("/p"),
    );
    let server = &model.servers[0];
    let location = &server.locations[0];
    let pass = &location.if_passes[0];
    assert!(pass.timeouts.read_timeout.here, "{:?}", pass.timeouts);
    let mut out = Out::default();
    describe(server, location, pass, &mut out);
    let line = |n: i64| Some(format!("{:?}", Value::from(n)));
    assert_eq!(fact(&out, "add_line"), line(3), "after `location /c {{`");
    assert_eq!(fact(&out, "read_timeout_line"), line(4));
}
