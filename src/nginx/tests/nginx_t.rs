//! The configuration model against the real `nginx -t` (`/usr/sbin/nginx`):
//! each test writes a configuration into a fresh directory (pid, temp paths
//! and the listening socket inside it, errors to stderr), runs `nginx -t` on
//! it, and asserts that the model says what nginx says: the same error at the
//! same file:line, or no error and the pass nginx uses.

use std::path::PathBuf;
use std::process::Command;

use super::super::*;
use super::live::{NGINX, nginx_available};

/// The first `[emerg]` of an `nginx -t` run: the message and where.
#[derive(Debug, PartialEq, Eq)]
struct Emerg {
    message: String,
    file: PathBuf,
    line: usize,
}

/// A directory holding a configuration, tested by nginx and read by us.
struct Tested {
    dir: tempfile::TempDir,
}

impl Tested {
    /// `files` (relative name, text) written into a fresh directory; the
    /// first is the main file. `DIR` in a text stands for the directory.
    fn new(files: &[(&str, &str)]) -> Tested {
        let dir = tempfile::Builder::new()
            .prefix("nginx-t-")
            .tempdir()
            .unwrap();
        for (name, text) in files {
            let text = text.replace("DIR", &dir.path().display().to_string());
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Tested { dir }
    }

    /// A main file with `body` inside `http {}`, everything nginx writes
    /// kept in the directory. `LISTEN` in `body` is a `listen` on a unix
    /// socket there, so no test takes a port.
    fn http(body: &str) -> Tested {
        let body = body.replace("LISTEN", "listen unix:DIR/ngx.sock;");
        let main = format!(
            "pid DIR/nginx.pid;\nevents {{}}\nhttp {{\n    access_log off;\n    \
             client_body_temp_path DIR/body; proxy_temp_path DIR/proxy;\n    \
             fastcgi_temp_path DIR/fastcgi; uwsgi_temp_path DIR/uwsgi; scgi_temp_path DIR/scgi;\n\
             {body}\n}}\n"
        );
        Tested::new(&[("nginx.conf", &main)])
    }

    fn main(&self) -> PathBuf {
        self.dir.path().join("nginx.conf")
    }

    /// What `nginx -t` says: None when the test is successful.
    fn nginx_t(&self) -> Option<Emerg> {
        let out = Command::new(NGINX)
            .arg("-t")
            .arg("-p")
            .arg(format!("{}/", self.dir.path().display()))
            .args(["-e", "stderr", "-c"])
            .arg(self.main())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let emerg = stderr.lines().find_map(emerg);
        assert_eq!(out.status.success(), emerg.is_none(), "{stderr}");
        emerg
    }

    fn parsed(&self) -> Result<Config, ConfError> {
        parse_file(&self.main())
    }

    fn model(&self) -> Model {
        model(&self.parsed().unwrap(), self.dir.path())
    }

    /// nginx refuses the configuration, and the model's first error is
    /// nginx's, at the same file:line.
    fn refused_alike(&self) -> Model {
        let nginx = self.nginx_t().expect("nginx -t accepts the configuration");
        let m = self.model();
        let first = m.errors().next();
        let first = first.unwrap_or_else(|| panic!("no error in the model; nginx: {nginx:?}"));
        let ours = Emerg {
            message: first.message.clone(),
            file: first.file.clone(),
            line: first.line,
        };
        assert_eq!(ours, nginx, "{:#?}", m.problems);
        m
    }

    /// nginx accepts the configuration, and the model finds no error.
    fn accepted_alike(&self) -> Model {
        assert_eq!(self.nginx_t(), None);
        let m = self.model();
        assert_eq!(m.errors().count(), 0, "{:#?}", m.problems);
        m
    }
}

/// `... [emerg] 123#123: MESSAGE in FILE:LINE`.
fn emerg(line: &str) -> Option<Emerg> {
    let (_, rest) = line.split_once("[emerg] ")?;
    let (_, rest) = rest.split_once(": ")?;
    let (message, place) = rest.rsplit_once(" in ")?;
    let (file, line) = place.rsplit_once(':')?;
    Some(Emerg {
        message: message.to_owned(),
        file: PathBuf::from(file),
        line: line.parse().ok()?,
    })
}

#[test]
fn unclosed_block_is_reported_at_the_end_of_the_file_naming_the_block_left_open() {
    if !nginx_available() {
        return;
    }
    // The server block is closed; the http block around it is not.
    let t = Tested::new(&[(
        "nginx.conf",
        "pid DIR/nginx.pid;\nevents {}\nhttp {\n    server {\n        \
         listen unix:DIR/ngx.sock;\n        location / {\n        }\n    }\n\n",
    )]);
    let nginx = t.nginx_t().unwrap();
    assert_eq!(nginx.message, "unexpected end of file, expecting \"}\"");
    let err = t.parsed().unwrap_err();
    let ConfError::Unclosed { file, line, open } = &err else {
        panic!("{err}");
    };
    assert_eq!((file, *line), (&nginx.file, nginx.line), "{err}");
    let open: Vec<(&str, usize)> = open
        .iter()
        .map(|b| (b.directive.as_str(), b.line))
        .collect();
    assert_eq!(open, [("http", 3)]);
    assert!(
        err.to_string()
            .ends_with(": \"http {\" opened at line 3 is never closed; add the missing \"}\" where the block should end"),
        "{err}"
    );
}

#[test]
fn unclosed_block_in_an_included_file_is_reported_in_that_file() {
    if !nginx_available() {
        return;
    }
    let t = Tested::new(&[
        (
            "nginx.conf",
            "pid DIR/nginx.pid;\nevents {}\nhttp {\n    include site.conf;\n}\n",
        ),
        (
            "site.conf",
            "server {\n    listen unix:DIR/ngx.sock;\n    location /api/ {\n}\n",
        ),
    ]);
    let nginx = t.nginx_t().unwrap();
    let err = t.parsed().unwrap_err();
    let ConfError::Unclosed { file, line, open } = &err else {
        panic!("{err}");
    };
    assert_eq!((file, *line), (&nginx.file, nginx.line), "{err}");
    assert_eq!(open[0].directive, "server", "{err}");
    assert_eq!(
        open.len(),
        1,
        "the http block of nginx.conf is not reported: {err}"
    );
}

/// The one location of the one server.
fn only_location(m: &Model) -> &Location {
    &m.servers[0].locations[0]
}

fn tcp(host: &str, port: u16) -> Option<Address> {
    Some(Address::Tcp {
        host: host.into(),
        port,
    })
}

/// `(directive, line)` of every warning.
fn warnings(m: &Model) -> Vec<(&str, usize)> {
    m.problems
        .iter()
        .filter(|p| p.severity == Severity::Warning)
        .map(|p| (p.directive.as_str(), p.line))
        .collect()
}

#[test]
fn two_passes_of_different_modules_use_the_last() {
    if !nginx_available() {
        return;
    }
    let t = Tested::http(
        "server { LISTEN\n  location / {\n    proxy_pass http://127.0.0.1:9001;\n    \
         grpc_pass grpc://127.0.0.1:9002;\n  }\n}",
    );
    let m = t.accepted_alike();
    let l = only_location(&m);
    let used = l.pass.as_ref().unwrap();
    assert_eq!(
        (used.kind, &used.address),
        (PassKind::Grpc, &tcp("127.0.0.1", 9002))
    );
    let unused = &l.unused_passes[0];
    assert_eq!(unused.kind, PassKind::Proxy);
    assert_eq!(warnings(&m), [("proxy_pass", unused.line)]);
    assert_eq!(m.pass_targets().count(), 1);
}

#[test]
fn second_pass_of_one_module_in_a_block_is_duplicate() {
    if !nginx_available() {
        return;
    }
    let t = Tested::http(
        "server { LISTEN\n  location / {\n    proxy_pass http://127.0.0.1:9001;\n    \
         proxy_pass http://127.0.0.1:9002;\n  }\n}",
    );
    t.refused_alike();
}

#[test]
fn later_content_handler_replaces_the_pass() {
    if !nginx_available() {
        return;
    }
    let t = Tested::http(
        "server { LISTEN\n  location / {\n    proxy_pass http://127.0.0.1:9001;\n    stub_status;\n  }\n}",
    );
    let m = t.accepted_alike();
    let l = only_location(&m);
    assert_eq!(l.pass, None);
    assert_eq!(l.unused_passes[0].kind, PassKind::Proxy);
    assert_eq!(m.pass_targets().count(), 0);
}

#[test]
fn pass_to_a_bare_name_without_port_is_no_port_in_upstream() {
    if !nginx_available() {
        return;
    }
    let t = Tested::http("server { LISTEN\n  location / {\n    fastcgi_pass backend;\n  }\n}");
    let m = t.refused_alike();
    let pass = only_location(&m).pass.as_ref().unwrap();
    assert!(m.endpoints(pass).is_empty());
    assert_eq!(m.errors().next().unwrap().directive, "fastcgi_pass");
}

#[test]
fn upstream_block_after_its_use_is_the_group_the_pass_reaches() {
    if !nginx_available() {
        return;
    }
    let t = Tested::http(
        "server { LISTEN\n  location / {\n    fastcgi_pass backend;\n  }\n}\n\
         upstream backend {\n  server 127.0.0.1:9000;\n}",
    );
    let m = t.accepted_alike();
    let pass = only_location(&m).pass.as_ref().unwrap();
    assert_eq!(pass.upstream.as_deref(), Some("backend"));
    assert_eq!(m.endpoints(pass), [tcp("127.0.0.1", 9000).unwrap()]);
}

#[test]
fn port_on_a_pass_to_an_upstream_block_is_refused() {
    if !nginx_available() {
        return;
    }
    let t = Tested::http(
        "upstream backend {\n  server 127.0.0.1:9000;\n}\n\
         server { LISTEN\n  location / {\n    fastcgi_pass backend:9000;\n  }\n}",
    );
    let m = t.refused_alike();
    assert_eq!(only_location(&m).pass.as_ref().unwrap().address, None);
}

#[test]
fn upstream_block_after_a_pass_to_its_name_with_a_port_is_refused_at_the_pass() {
    if !nginx_available() {
        return;
    }
    let t = Tested::http(
        "server { LISTEN\n  location / {\n    fastcgi_pass Backend:9000;\n  }\n}\n\
         upstream backend {\n  server 127.0.0.1:9000;\n}",
    );
    t.refused_alike();
}

#[test]
fn pass_without_port_takes_the_port_of_an_earlier_pass_to_the_same_host() {
    if !nginx_available() {
        return;
    }
    let t = Tested::http(
        "server { LISTEN\n  location /a {\n    proxy_pass http://127.0.0.1:9001;\n  }\n  \
         location /b {\n    fastcgi_pass 127.0.0.1;\n  }\n}",
    );
    let m = t.accepted_alike();
    let b = &m.servers[0].locations[1];
    let pass = b.pass.as_ref().unwrap();
    assert_eq!(pass.address, tcp("127.0.0.1", 9001));
    assert_eq!(warnings(&m), [("fastcgi_pass", pass.line)]);
}

#[test]
fn pass_without_port_before_one_with_port_leaves_both_without_port() {
    if !nginx_available() {
        return;
    }
    let t = Tested::http(
        "server { LISTEN\n  location /b {\n    fastcgi_pass 127.0.0.1;\n  }\n  \
         location /a {\n    proxy_pass http://127.0.0.1:9001;\n  }\n}",
    );
    let m = t.refused_alike();
    assert_eq!(
        m.servers[0].locations[1].pass.as_ref().unwrap().address,
        None
    );
}

#[test]
fn proxy_pass_without_a_scheme_is_an_invalid_url_prefix() {
    if !nginx_available() {
        return;
    }
    let t = Tested::http("server { LISTEN\n  location / {\n    proxy_pass 127.0.0.1:9001;\n  }\n}");
    t.refused_alike();
}

#[test]
fn grpc_pass_with_an_http_scheme_is_an_invalid_host() {
    if !nginx_available() {
        return;
    }
    let t = Tested::http(
        "server { LISTEN\n  location / {\n    grpc_pass http://127.0.0.1:9001;\n  }\n}",
    );
    let m = t.refused_alike();
    assert_eq!(only_location(&m).pass.as_ref().unwrap().address, None);
}

#[test]
fn invalid_port_is_refused_naming_the_target() {
    if !nginx_available() {
        return;
    }
    let t =
        Tested::http("server { LISTEN\n  location / {\n    fastcgi_pass 127.0.0.1:99999;\n  }\n}");
    t.refused_alike();
}

#[test]
fn upstream_names_differing_only_in_case_are_duplicate() {
    if !nginx_available() {
        return;
    }
    let t = Tested::http(
        "upstream php {\n  server 127.0.0.1:9000;\n}\nupstream PHP {\n  server 127.0.0.1:9001;\n}",
    );
    t.refused_alike();
}

#[test]
fn pass_with_variables_makes_no_upstream_and_has_no_endpoint() {
    if !nginx_available() {
        return;
    }
    let t = Tested::http("server { LISTEN\n  location / {\n    proxy_pass http://$host;\n  }\n}");
    let m = t.accepted_alike();
    let pass = only_location(&m).pass.as_ref().unwrap();
    assert!(pass.has_variables);
    assert!(m.endpoints(pass).is_empty());
}

#[test]
fn memcached_pass_reads_a_dollar_as_part_of_the_host() {
    if !nginx_available() {
        return;
    }
    let t = Tested::http("server { LISTEN\n  location / {\n    memcached_pass $host;\n  }\n}");
    let m = t.refused_alike();
    assert!(!only_location(&m).pass.as_ref().unwrap().has_variables);
}
