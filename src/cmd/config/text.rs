//! The text rendering of a [`ConfigView`]: a header saying where the
//! configuration came from, then each server with its locations indented
//! as nested, each pass with where it connects and the four settings in
//! effect, each with the `file:line` that set it or "default". Files inside
//! the main configuration's directory are shown relative to it (the header
//! names that directory) so lines stay short; the JSON output keeps full paths.
//!
//! Every value from the configuration goes through
//! [`crate::sanitize::for_terminal`]: a quoted nginx string may hold control
//! characters or a newline, which must not steer the terminal or forge a line.

use std::fmt::Write as _;
use std::path::Path;

use colored::Colorize;

use super::view::{ConfigView, LocationView, PassView, ServerView, Setting, UpstreamView};
use crate::nginx::Severity;
use crate::plural;

/// Renders the whole view.
pub fn render(view: &ConfigView) -> String {
    let base = view
        .origin
        .conf
        .as_deref()
        .and_then(|c| Path::new(c).parent())
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.to_string_lossy().into_owned());
    let r = Renderer { base };
    let mut out = String::new();
    r.header(view, &mut out);
    r.problems(view, &mut out);
    for s in &view.servers {
        r.server(s, &mut out);
    }
    let (locations, passes) = count(view);
    let _ = writeln!(
        out,
        "\n{}, {}, {}",
        plural::count(view.servers.len(), "server"),
        plural::count(locations, "location"),
        plural::count(passes, "pass directive")
    );
    out
}

/// Host text made safe to print.
fn t(s: &str) -> String {
    crate::sanitize::for_terminal(s.as_bytes())
}

struct Renderer {
    /// The main file's directory; paths inside it are shown relative.
    base: Option<String>,
}

impl Renderer {
    fn header(&self, view: &ConfigView, out: &mut String) {
        let o = &view.origin;
        let conf = o.conf.as_deref().map_or_else(|| "(unknown)".to_owned(), t);
        let pid = o.pid.map(|p| format!(", pid {p}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{} {conf} — {}{pid}",
            "nginx configuration".bold(),
            o.how
        );
        if let Some(b) = &o.binary {
            let version = o
                .version
                .as_deref()
                .map_or_else(|| "version unknown".to_owned(), t);
            let _ = writeln!(out, "  binary   {} ({version})", t(b));
        }
        if let Some(p) = &o.prefix {
            let _ = writeln!(out, "  prefix   {}", t(p));
        }
        if let Some(g) = &o.globals {
            let _ = writeln!(out, "  -g       {}", t(g));
        }
        for m in &o.other_masters {
            let c = m
                .conf
                .as_deref()
                .map_or_else(|| "its compiled default".to_owned(), t);
            let _ = match &m.elsewhere {
                None => writeln!(
                    out,
                    "  also running: master {} with {c} (pass --conf to show it)",
                    m.pid
                ),
                Some(e) => writeln!(
                    out,
                    "  also running: master {} with {c} inside it, {}",
                    m.pid,
                    t(e)
                ),
            };
        }
        if let Some(b) = &self.base {
            let _ = writeln!(out, "  files below are relative to {}/", t(b));
        }
        let u = &view.user;
        let directive = match &u.directive {
            Some(d) if u.from != "user directive" => {
                format!("; `user {}` at {}", t(&d.value), self.at(&d.file, d.line))
            }
            Some(d) => format!(" at {}", self.at(&d.file, d.line)),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{} {} ({}{directive})",
            "user".bold(),
            t(&u.name),
            u.from
        );
        for (title, logs) in [
            ("error logs", &view.error_logs),
            ("access logs", &view.access_logs),
        ] {
            let _ = writeln!(out, "{}", title.bold());
            if logs.is_empty() {
                let _ = writeln!(out, "  (none written: nginx's compiled default)");
            }
            for l in logs {
                let _ = writeln!(out, "  {}  {}", t(&l.path), self.at(&l.file, l.line));
            }
        }
    }

    /// Each problem with where nginx names it and what to change.
    fn problems(&self, view: &ConfigView, out: &mut String) {
        if view.problems.is_empty() {
            return;
        }
        let _ = writeln!(out, "{}", "problems (nginx -t fails on each error)".bold());
        for p in &view.problems {
            let severity = match p.severity {
                Severity::Error => "error  ".red().bold(),
                Severity::Warning => "warning".yellow(),
            };
            let at = self.at(&p.file, p.line);
            let _ = writeln!(out, "  {severity} {at}: {}", t(&p.message));
            let _ = writeln!(out, "          {}", t(&p.hint));
        }
    }

    fn server(&self, s: &ServerView, out: &mut String) {
        let names = if s.names.is_empty() {
            "\"\"".to_owned()
        } else {
            t(&s.names.join(" "))
        };
        let marked = |l: &String| {
            if s.default_server.contains(l) {
                format!("{} default_server", t(l))
            } else {
                t(l)
            }
        };
        let listen = if s.listen.is_empty() {
            "*:80 (none written)".to_owned()
        } else {
            s.listen.iter().map(marked).collect::<Vec<_>>().join(", ")
        };
        let _ = writeln!(
            out,
            "\n{} {names}  listen {listen}  {}",
            "server".bold(),
            self.at(&s.file, s.line)
        );
        for l in &s.locations {
            self.location(l, 1, out);
        }
    }

    fn location(&self, l: &LocationView, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let _ = writeln!(
            out,
            "{pad}{} {}  {}",
            "location".bold(),
            t(&l.matches),
            self.at(&l.file, l.line)
        );
        for p in &l.passes {
            self.pass(p, depth + 1, out);
        }
        for p in &l.unused_passes {
            let _ = writeln!(
                out,
                "{pad}  {}_pass {}  {}  (not used: a later content handler replaces it)",
                p.kind,
                t(&p.target),
                self.at(&p.file, p.line)
            );
        }
        for child in &l.locations {
            self.location(child, depth + 1, out);
        }
    }

    fn pass(&self, p: &PassView, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let inside = if p.conditional { "  (inside if)" } else { "" };
        let _ = writeln!(
            out,
            "{pad}{}_pass {}  {}{inside}",
            p.kind,
            t(&p.target),
            self.at(&p.file, p.line)
        );
        match (&p.upstream, p.variables) {
            _ if p.error.is_some() => {
                let why = t(p.error.as_deref().unwrap_or_default());
                let _ = writeln!(out, "{pad}  → nowhere: nginx -t fails with {why}");
            }
            (Some(group), _) => self.group(group, depth + 1, out),
            (None, true) => {
                let _ = writeln!(
                    out,
                    "{pad}  → resolved per request (the target has variables)"
                );
            }
            (None, false) if p.endpoints.is_empty() => {
                let _ = writeln!(out, "{pad}  → (address not understood)");
            }
            (None, false) => {
                let _ = writeln!(out, "{pad}  → {}", t(&p.endpoints.join(", ")));
            }
        }
        let tm = &p.timeouts;
        let settings = [
            ("connect", &tm.connect),
            ("send", &tm.send),
            ("read", &tm.read),
            ("buffer", &tm.buffer_size),
        ]
        .iter()
        .map(|(name, s)| format!("{name} {}", self.setting(s)))
        .collect::<Vec<_>>()
        .join(", ");
        let _ = writeln!(out, "{pad}  {settings}");
    }

    fn group(&self, g: &UpstreamView, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let keepalive = g
            .keepalive
            .map(|k| format!(", keepalive {k}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{pad}→ upstream {} ({}{keepalive})",
            t(&g.name),
            self.at(&g.file, g.line)
        );
        for s in &g.servers {
            let mut words = vec![s.address.clone()];
            words.extend(s.params.iter().cloned());
            let _ = writeln!(out, "{pad}    {}", t(&words.join(" ")));
        }
    }

    fn setting(&self, s: &Setting) -> String {
        match (&s.file, s.line) {
            (Some(f), Some(l)) => format!("{} ({})", t(&s.value), self.at(f, l)),
            _ => format!("{} {}", t(&s.value), "(default)".dimmed()),
        }
    }

    /// `file:line`, relative to the main file's directory when inside it.
    fn at(&self, file: &str, line: usize) -> String {
        let shown = self
            .base
            .as_deref()
            .and_then(|b| Path::new(file).strip_prefix(b).ok())
            .map_or_else(|| file.to_owned(), |p| p.to_string_lossy().into_owned());
        format!("{}:{line}", t(&shown))
    }
}

/// Locations and pass directives, nested ones included.
fn count(view: &ConfigView) -> (usize, usize) {
    fn walk(ls: &[LocationView]) -> (usize, usize) {
        ls.iter().fold((0, 0), |(l, p), loc| {
            let (cl, cp) = walk(&loc.locations);
            (l + 1 + cl, p + loc.passes.len() + cp)
        })
    }
    view.servers
        .iter()
        .map(|s| walk(&s.locations))
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::config::view::{Origin, UserView};
    use crate::nginx::{model, parse_str};

    const CONF: &str = "http {
    upstream app { server 127.0.0.1:3000 weight=2; keepalive 8; }
    proxy_read_timeout 90s;
    server {
        listen 8080;
        listen [::]:8080 default_server;
        server_name a.test;
        location / {
            proxy_pass http://app;
            location /inner/ { proxy_pass http://127.0.0.1:9/; }
        }
        location /v { if ($x) { proxy_pass http://$x; } }
        location /two { fastcgi_pass 127.0.0.1:9000; grpc_pass grpc://127.0.0.1:9001; }
        location /bare { fastcgi_pass backend; }
        location \"/evil\x1b[2J\nserver forged\" { }
    }
}
";

    fn rendered() -> String {
        colored::control::set_override(false);
        let main = Path::new("/etc/nginx/nginx.conf");
        let m = model(&parse_str(CONF, main).unwrap(), Path::new("/p"));
        let origin = Origin {
            how: "given with --conf".into(),
            conf: Some(main.to_string_lossy().into_owned()),
            ..Origin::default()
        };
        let user = UserView::new(&m, &[], None);
        render(&ConfigView::new(&m, origin, user))
    }

    #[test]
    fn settings_show_their_source_or_default() {
        let text = rendered();
        let line = "connect 60s (default), send 60s (default), read 90s (nginx.conf:3), buffer 4k (default)";
        assert!(text.contains(line), "{text}");
    }

    #[test]
    fn nested_locations_are_indented_under_their_parent() {
        let text = rendered();
        assert!(text.contains("\n  location /  nginx.conf:8\n"), "{text}");
        assert!(
            text.contains("\n    location /inner/  nginx.conf:10\n"),
            "{text}"
        );
    }

    #[test]
    fn group_servers_follow_the_pass() {
        let text = rendered();
        let group =
            "→ upstream app (nginx.conf:2, keepalive 8)\n          127.0.0.1:3000 weight=2\n";
        assert!(text.contains(group), "{text}");
    }

    #[test]
    fn conditional_variable_target_is_resolved_per_request() {
        let text = rendered();
        assert!(
            text.contains("proxy_pass http://$x  nginx.conf:12  (inside if)"),
            "{text}"
        );
        assert!(text.contains("→ resolved per request"), "{text}");
    }

    #[test]
    fn a_pass_replaced_by_a_later_one_is_shown_as_not_used() {
        let text = rendered();
        let unused = "\n    fastcgi_pass 127.0.0.1:9000  nginx.conf:13  (not used: a later content handler replaces it)\n";
        assert!(text.contains(unused), "{text}");
        assert!(
            text.contains("\n    grpc_pass grpc://127.0.0.1:9001  nginx.conf:13\n"),
            "{text}"
        );
    }

    #[test]
    fn a_pass_nginx_refuses_leads_nowhere_and_says_why() {
        let text = rendered();
        let refused = "fastcgi_pass backend  nginx.conf:14\n      → nowhere: nginx -t fails with no port in upstream \"backend\"\n";
        assert!(text.contains(refused), "{text}");
    }

    #[test]
    fn problems_come_before_the_servers_with_what_to_change() {
        let text = rendered();
        let warning = "problems (nginx -t fails on each error)\n  warning nginx.conf:13: fastcgi_pass is not used: grpc_pass at /etc/nginx/nginx.conf:13 comes later";
        assert!(text.contains(warning), "{text}");
        assert!(
            text.contains("\n          remove the fastcgi_pass nginx does not use"),
            "{text}"
        );
        assert!(
            text.find("problems").unwrap() < text.find("\nserver").unwrap(),
            "{text}"
        );
    }

    #[test]
    fn default_server_is_marked_on_its_own_listen() {
        let text = rendered();
        assert!(
            text.contains("listen 8080, [::]:8080 default_server  nginx.conf:4"),
            "{text}"
        );
    }

    #[test]
    fn control_characters_cannot_steer_the_terminal_or_forge_lines() {
        let text = rendered();
        assert!(!text.contains('\x1b'), "{text}");
        assert!(!text.contains("\nserver forged"), "{text}");
        assert!(
            text.contains("location /evil\\x1b[2J\\nserver forged  nginx.conf:15"),
            "{text}"
        );
    }

    #[test]
    fn header_and_totals_frame_the_servers() {
        let text = rendered();
        let head = "nginx configuration /etc/nginx/nginx.conf — given with --conf\n";
        assert!(text.starts_with(head), "{text}");
        assert!(
            text.contains("files below are relative to /etc/nginx/"),
            "{text}"
        );
        let totals = "1 server, 6 locations, 5 pass directives\n";
        assert!(text.ends_with(totals), "{text}");
    }
}
