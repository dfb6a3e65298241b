//! Tests of `view.rs`, kept apart so that file stays readable.

use super::*;
use crate::nginx::{model, parse_str};

const CONF: &str = "user www-data web;
error_log /var/log/nginx/error.log;
http {
fastcgi_read_timeout 30s;
upstream php { server unix:/run/php.sock max_fails=2; keepalive 4; }
server {
    listen 80 default_server;
    server_name a.test;
    location / {
        location ~ \\.php$ { fastcgi_pass php; fastcgi_buffer_size 16k; }
    }
    location /p/ {
        proxy_pass http://127.0.0.1:9000/x/;
        if ($arg_v) { proxy_pass http://$arg_v; }
    }
}
}
";

fn view() -> ConfigView {
    let m = model(
        &parse_str(CONF, Path::new("/n.conf")).unwrap(),
        Path::new("/p"),
    );
    let user = UserView::new(&m, &[], Some("nobody"));
    ConfigView::new(&m, Origin::default(), user)
}

#[test]
fn nested_locations_stay_inside_their_parent() {
    let v = view();
    let root = &v.servers[0].locations[0];
    assert_eq!(v.servers[0].locations.len(), 2);
    assert_eq!(root.matches, "/");
    assert!(root.passes.is_empty());
    assert_eq!(root.locations[0].matches, "~ \\.php$");
}

#[test]
fn settings_name_their_directive_and_source_or_default() {
    let v = view();
    let php = &v.servers[0].locations[0].locations[0].passes[0];
    let read = &php.timeouts.read;
    assert_eq!(
        (read.directive.as_str(), read.value.as_str(), read.default),
        ("fastcgi_read_timeout", "30s", false)
    );
    assert_eq!(
        (read.file.as_deref(), read.line),
        (Some("/n.conf"), Some(4))
    );
    let connect = &php.timeouts.connect;
    assert_eq!(
        (connect.value.as_str(), connect.default, connect.line),
        ("60s", true, None)
    );
    assert_eq!(php.timeouts.buffer_size.value, "16k");
}

#[test]
fn group_target_carries_its_servers_and_endpoints() {
    let v = view();
    let php = &v.servers[0].locations[0].locations[0].passes[0];
    assert_eq!(php.endpoints, ["unix:/run/php.sock"]);
    let group = php.upstream.as_ref().unwrap();
    assert_eq!((group.name.as_str(), group.keepalive), ("php", Some(4)));
    assert_eq!(group.servers[0].params, ["max_fails=2"]);
}

#[test]
fn conditional_pass_with_variables_has_no_endpoint() {
    let v = view();
    let passes = &v.servers[0].locations[1].passes;
    assert_eq!(passes[0].endpoints, ["127.0.0.1:9000"]);
    assert!(passes[1].conditional && passes[1].variables);
    assert!(passes[1].endpoints.is_empty());
}

#[test]
fn user_prefers_running_workers_over_the_directive() {
    let m = model(
        &parse_str(CONF, Path::new("/n.conf")).unwrap(),
        Path::new("/p"),
    );
    let seen = UserView::new(&m, &["root".into(), "nginx".into()], None);
    assert_eq!(
        (seen.name.as_str(), seen.from),
        ("nginx", "running workers")
    );
    let written = UserView::new(&m, &[], None);
    assert_eq!(
        (written.name.as_str(), written.from),
        ("www-data", "user directive")
    );
    assert_eq!(written.directive.unwrap().line, 1);
    let empty = UserView::new(&Model::default(), &[], None);
    assert_eq!(
        (empty.name.as_str(), empty.from),
        ("nobody", "nginx's default")
    );
}

#[test]
fn json_has_the_schema_and_match_keys() {
    let json = serde_json::to_value(view()).unwrap();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["servers"][0]["locations"][1]["match"], "/p/");
    assert_eq!(json["servers"][0]["default_server"][0], "80");
}
