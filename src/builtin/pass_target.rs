//! The `pass-target` built-in: the location and the `*_pass` directive that
//! send requests to the failing upstream, with the effective timeouts and
//! buffer size and the file:line each came from — where a fix goes.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Host, Out};
use crate::nginx::{Address, Effective, Location, Pass, PassKind, Server};

pub fn run(host: &mut Host, params: &BTreeMap<String, String>, out: &mut Out) {
    let view = host.nginx();
    let Some(model) = &view.model else {
        out.set("found", false);
        out.fail("the nginx configuration could not be read, so the pass directive is unknown");
        return;
    };
    let hits = match params.get("upstream") {
        Some(field) => model.find_by_log_upstream(field),
        None => match address(params) {
            Some(a) => model.find_by_upstream(&a),
            None => Vec::new(),
        },
    };
    out.set("found", !hits.is_empty());
    out.shown_as = "nginx -T | grep -n _pass".into();
    let Some((server, location, pass)) = hits.first() else {
        return;
    };
    describe(server, location, pass, out);
    if let Some(name) = &pass.upstream {
        out.set("upstream_block", name.clone());
        out.set(
            "keepalive",
            model
                .upstream(name)
                .and_then(|u| u.keepalive)
                .map(i64::from),
        );
    }
    if hits.len() > 1 {
        out.note(&format!(
            "{} locations pass to this upstream; the first is quoted",
            hits.len()
        ));
    }
}

fn describe(server: &Server, location: &Location, pass: &Pass, out: &mut Out) {
    let kind = kind_name(pass.kind);
    out.set("kind", kind);
    out.set("directive", format!("{kind}_pass {}", pass.target));
    out.set("file", pass.file.display().to_string());
    out.set("line", i64::try_from(pass.line).unwrap_or(0));
    out.set("at", format!("{}:{}", pass.file.display(), pass.line));
    let modifier = location
        .modifier
        .as_deref()
        .map(|m| format!("{m} "))
        .unwrap_or_default();
    out.set("location", format!("{modifier}{}", location.path));
    out.set(
        "server",
        server
            .names
            .first()
            .cloned()
            .unwrap_or_else(|| format!("{}:{}", server.file.display(), server.line)),
    );
    let t = &pass.timeouts;
    out.set("read_timeout", t.read_timeout.value.clone());
    out.set("read_timeout_at", source(&t.read_timeout));
    out.set(
        "read_timeout_secs",
        t.read_timeout
            .duration()
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
    );
    out.set("connect_timeout", t.connect_timeout.value.clone());
    out.set("buffer_size", t.buffer_size.value.clone());
    out.set("buffer_size_at", source(&t.buffer_size));
    out.note(&format!(
        "{}:{}: {kind}_pass {}",
        pass.file.display(),
        pass.line,
        pass.target
    ));
}

/// "file:line", or that it is nginx's default.
fn source(e: &Effective) -> String {
    match &e.source {
        Some((file, line)) => format!("{}:{line}", file.display()),
        None => "nginx's default".into(),
    }
}

pub(super) fn kind_name(kind: PassKind) -> &'static str {
    match kind {
        PassKind::Proxy => "proxy",
        PassKind::FastCgi => "fastcgi",
        PassKind::Uwsgi => "uwsgi",
        PassKind::Scgi => "scgi",
        PassKind::Grpc => "grpc",
        PassKind::Memcached => "memcached",
    }
}

fn address(params: &BTreeMap<String, String>) -> Option<Address> {
    match params.get("transport").map(String::as_str) {
        Some("unix") => params
            .get("path")
            .map(|p| Address::Unix(Path::new(p).to_path_buf())),
        Some("tcp") => Some(Address::Tcp {
            host: params.get("host")?.clone(),
            port: params.get("port")?.parse().ok()?,
        }),
        _ => None,
    }
}
