//! nginx for the lab: a builder for the one `server {}` a scenario needs, the hermetic
//! `nginx.conf` it renders (every path inside the lab directory, loopback only), and the
//! handle of a started instance.

use super::fpm::Fpm;
use super::lab::Account;
use std::fmt::{Display, Write as _};
use std::path::{Path, PathBuf};

/// Our own copy of the stock `fastcgi_params`, so no test depends on /etc/nginx.
pub const FASTCGI_PARAMS: &str = "\
fastcgi_param  QUERY_STRING       $query_string;
fastcgi_param  REQUEST_METHOD     $request_method;
fastcgi_param  CONTENT_TYPE       $content_type;
fastcgi_param  CONTENT_LENGTH     $content_length;
fastcgi_param  SCRIPT_NAME        $fastcgi_script_name;
fastcgi_param  SCRIPT_FILENAME    $document_root$fastcgi_script_name;
fastcgi_param  REQUEST_URI        $request_uri;
fastcgi_param  DOCUMENT_URI       $document_uri;
fastcgi_param  DOCUMENT_ROOT      $document_root;
fastcgi_param  SERVER_PROTOCOL    $server_protocol;
fastcgi_param  REQUEST_SCHEME     $scheme;
fastcgi_param  GATEWAY_INTERFACE  CGI/1.1;
fastcgi_param  SERVER_SOFTWARE    nginx/$nginx_version;
fastcgi_param  REMOTE_ADDR        $remote_addr;
fastcgi_param  REMOTE_PORT        $remote_port;
fastcgi_param  SERVER_ADDR        $server_addr;
fastcgi_param  SERVER_PORT        $server_port;
fastcgi_param  SERVER_NAME        $server_name;
fastcgi_param  REDIRECT_STATUS    200;
";

#[derive(Clone, Debug)]
enum Kind {
    FastCgi(String),
    Proxy(String),
    /// Any other pass directive, written as given (`grpc_pass grpc://...`).
    Directive(String),
    Files,
}

/// What a location does with a request: where it passes it, plus extra directives.
#[derive(Clone, Debug)]
pub struct Pass {
    kind: Kind,
    extra: Vec<String>,
}

impl Pass {
    /// `fastcgi_pass` to a started pool (unix socket or TCP), with our `fastcgi_params`.
    pub fn fastcgi(fpm: &Fpm) -> Pass {
        Pass::fastcgi_to(fpm.target())
    }

    /// `fastcgi_pass TARGET` (`127.0.0.1:PORT` or `unix:/path`), e.g. where nothing runs.
    pub fn fastcgi_to(target: impl Display) -> Pass {
        Pass::of(Kind::FastCgi(target.to_string()))
    }

    /// `proxy_pass http://ADDR`.
    pub fn proxy_http(addr: impl Display) -> Pass {
        Pass::proxy(format!("http://{addr}"))
    }

    /// `proxy_pass URL` as given.
    pub fn proxy(url: impl Display) -> Pass {
        Pass::of(Kind::Proxy(url.to_string()))
    }

    /// Another pass directive as written, e.g. `"grpc_pass grpc://127.0.0.1:9000"` or
    /// `"uwsgi_pass 127.0.0.1:9000"`.
    pub fn directive(directive: &str) -> Pass {
        Pass::of(Kind::Directive(terminated(directive)))
    }

    /// Serve files from the root: no upstream at all.
    pub fn files() -> Pass {
        Pass::of(Kind::Files)
    }

    /// Adds a directive to the location, e.g. `"fastcgi_read_timeout 1s"`.
    pub fn with(mut self, directive: &str) -> Pass {
        self.extra.push(terminated(directive));
        self
    }

    fn of(kind: Kind) -> Pass {
        Pass {
            kind,
            extra: Vec::new(),
        }
    }

    fn render(&self, c: &mut String, params: &Path) {
        match &self.kind {
            Kind::FastCgi(t) => {
                let _ = writeln!(c, "            include {};", params.display());
                let _ = writeln!(c, "            fastcgi_pass {t};");
            }
            Kind::Proxy(url) => {
                let _ = writeln!(c, "            proxy_pass {url};");
            }
            Kind::Directive(d) => {
                let _ = writeln!(c, "            {d}");
            }
            Kind::Files => {}
        }
        for d in &self.extra {
            let _ = writeln!(c, "            {d}");
        }
    }
}

/// The scenario's part of `nginx.conf`: `http`/`server` directives and locations.
#[derive(Clone, Debug, Default)]
pub struct NginxConf {
    http: Vec<String>,
    server: Vec<String>,
    locations: Vec<(String, Pass)>,
}

/// Where a rendered config puts things; all inside the lab directory.
pub struct Layout<'a> {
    /// The lab directory.
    pub dir: &'a Path,
    /// The loopback port to listen on.
    pub port: u16,
    /// The worker account (only when we are root: nginx ignores `user` otherwise).
    pub worker: Option<&'a Account>,
}

impl NginxConf {
    /// `location PATTERN { ... }`; PATTERN may carry a modifier: `"~ \\.php$"`, `"= /x"`.
    pub fn location(&mut self, pattern: &str, pass: Pass) -> &mut NginxConf {
        self.locations.push((pattern.to_string(), pass));
        self
    }

    /// A directive in the `server {}` block, e.g. `"fastcgi_read_timeout 1s"`.
    pub fn server(&mut self, directive: &str) -> &mut NginxConf {
        self.server.push(terminated(directive));
        self
    }

    /// A directive in the `http {}` block, e.g. an `upstream x { ... }`.
    pub fn http(&mut self, directive: &str) -> &mut NginxConf {
        self.http.push(terminated(directive));
        self
    }

    /// The whole `nginx.conf`.
    pub fn render(&self, at: &Layout) -> String {
        let d = at.dir.display();
        let mut c = String::new();
        let _ = writeln!(c, "daemon off;\nmaster_process on;\nworker_processes 1;");
        let _ = writeln!(c, "pid {d}/nginx.pid;\nerror_log {d}/error.log info;");
        if let Some(w) = at.worker {
            let _ = writeln!(c, "user {} {};", w.user, w.group);
        }
        let _ = writeln!(c, "events {{ worker_connections 256; }}\n\nhttp {{");
        let _ = writeln!(c, "    access_log {d}/access.log;");
        for t in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            let _ = writeln!(c, "    {t}_temp_path {d}/tmp/{t};");
        }
        for h in &self.http {
            let _ = writeln!(c, "    {h}");
        }
        let _ = writeln!(c, "    server {{\n        listen 127.0.0.1:{};", at.port);
        let _ = writeln!(c, "        root {d}/www;");
        for s in &self.server {
            let _ = writeln!(c, "        {s}");
        }
        let params = at.dir.join("fastcgi_params");
        for (pattern, pass) in &self.locations {
            let _ = writeln!(c, "        location {pattern} {{");
            pass.render(&mut c, &params);
            let _ = writeln!(c, "        }}");
        }
        let _ = writeln!(c, "    }}\n}}");
        c
    }
}

/// A started nginx (master plus one worker).
#[derive(Clone, Debug)]
pub struct Nginx {
    /// The loopback port the server listens on.
    pub port: u16,
    /// `DIR/nginx.conf`.
    pub conf: PathBuf,
    /// `DIR/error.log`.
    pub error_log: PathBuf,
    /// `DIR/access.log`.
    pub access_log: PathBuf,
    /// The master's pid.
    pub pid: i32,
}

/// A directive ends in `;` unless it is a block.
fn terminated(directive: &str) -> String {
    let d = directive.trim();
    if d.ends_with(';') || d.ends_with('}') {
        d.to_string()
    } else {
        format!("{d};")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(worker: Option<&Account>) -> Layout<'_> {
        Layout {
            dir: Path::new("/tmp/lab"),
            port: 8081,
            worker,
        }
    }

    #[test]
    fn every_path_stays_in_the_lab_dir() {
        let c = NginxConf::default().render(&layout(None));
        for line in c.lines().filter(|l| l.contains('/')) {
            assert!(line.contains("/tmp/lab/"), "path outside the lab: {line}");
        }
        assert!(c.contains("listen 127.0.0.1:8081;"));
    }

    #[test]
    fn user_is_written_only_for_a_worker_account() {
        let w = Account {
            user: "www-data".into(),
            group: "www-data".into(),
        };
        assert!(
            NginxConf::default()
                .render(&layout(Some(&w)))
                .contains("user www-data www-data;")
        );
        assert!(!NginxConf::default().render(&layout(None)).contains("user "));
    }

    #[test]
    fn fastcgi_location_includes_our_params() {
        let mut conf = NginxConf::default();
        conf.location(
            "/",
            Pass::fastcgi_to("127.0.0.1:9").with("fastcgi_read_timeout 1s"),
        );
        let c = conf.render(&layout(None));
        assert!(
            c.contains("include /tmp/lab/fastcgi_params;\n            fastcgi_pass 127.0.0.1:9;")
        );
        assert!(c.contains("fastcgi_read_timeout 1s;"));
    }

    #[test]
    fn directives_get_one_terminator() {
        assert_eq!(terminated("a b"), "a b;");
        assert_eq!(terminated("a b;"), "a b;");
        assert_eq!(
            terminated("upstream u { server x; }"),
            "upstream u { server x; }"
        );
    }
}
