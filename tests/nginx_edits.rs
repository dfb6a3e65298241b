//! An nginx edit goes where the directive is. A read timeout or header buffer the
//! failing location already sets is changed on its own line: a second one in the same
//! block fails `nginx -t` ("directive is duplicate"). One the location inherits from
//! `server {}` is overridden by a line added after the pass, and the step names where
//! the inherited one is. Each is proven by following the printed fix on a real lab:
//! `nginx -t` (a printed step) passes, and the failing request answers.

use crate::fixes_connect::{assert_fixed, diagnosed};
use crate::support::backend::Mode;
use crate::support::faults::PHP;
use crate::support::fix::{Fix, Step};
use crate::support::logs::read_lossy;
use crate::support::{Lab, Pass, Pool};
use std::time::Duration;

/// A page that holds a php-fpm worker for `secs` seconds.
fn slow_page(lab: &Lab, secs: u32) -> String {
    lab.write_www(
        "slow.php",
        &format!("<?php sleep({secs}); echo \"done\\n\";\n"),
    );
    "/slow.php".to_owned()
}

/// The 1-based line of nginx.conf that holds `needle`, which it holds once.
fn conf_line(lab: &Lab, needle: &str) -> usize {
    let conf = read_lossy(&lab.path("nginx.conf"));
    let hits: Vec<usize> = (conf.lines().enumerate())
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(hits.len(), 1, "{needle:?} once in\n{conf}");
    hits[0]
}

/// How many lines of nginx.conf set `directive`.
fn count_in_conf(lab: &Lab, directive: &str) -> usize {
    let conf = read_lossy(&lab.path("nginx.conf"));
    let sets = |l: &&str| l.split_whitespace().next() == Some(directive);
    conf.lines().filter(sets).count()
}

/// The step that edits nginx.conf.
fn conf_edit(lab: &Lab, fix: &Fix) -> Step {
    let conf = lab.path("nginx.conf").display().to_string();
    let edit = fix.steps.iter().find(|s| s.file.as_deref() == Some(&conf));
    edit.unwrap_or_else(|| panic!("no step edits {conf}: {fix:#?}"))
        .clone()
}

#[test]
fn a_read_timeout_the_php_location_sets_is_changed_on_its_line_and_the_page_answers() {
    let lab = Lab::new();
    let page = slow_page(&lab, 4);
    let fpm = lab.php_fpm(Pool::unix("www"));
    let pass = Pass::fastcgi(&fpm).with("fastcgi_read_timeout 3s");
    lab.nginx(|c| c.location(PHP, pass));
    assert_eq!(lab.get(&page), 504);

    let (_, fix) = diagnosed(&lab, "upstream-timeout", None);
    let edit = conf_edit(&lab, &fix);
    assert_eq!(edit.line, Some(conf_line(&lab, "fastcgi_read_timeout 3s;")));
    assert_eq!(edit.snippet.as_deref(), Some("fastcgi_read_timeout 300s;"));
    assert!(edit.text.contains("change that line to 300s"), "{edit:?}");

    let mark = lab.error_log_mark();
    let fpm = lab.follow_fix(&fix, Some(&fpm)).expect("php-fpm");
    assert_eq!(count_in_conf(&lab, "fastcgi_read_timeout"), 1);
    conf_line(&lab, "fastcgi_read_timeout 300s;");
    let sock = fpm.socket_path().display().to_string();
    assert_fixed(&lab, &fix, mark, &sock, &page, &["200 in "]);
}

#[test]
fn a_read_timeout_the_proxy_location_sets_is_changed_on_its_line_and_the_app_answers() {
    let lab = Lab::new();
    let app = lab.backend(Mode::Sleep(Duration::from_secs(4)));
    let pass = Pass::proxy_http(app).with("proxy_read_timeout 3s");
    lab.nginx(|c| c.location("/", pass));
    assert_eq!(lab.get("/app"), 504);

    let (run, fix) = diagnosed(&lab, "upstream-timeout", None);
    assert_eq!(run.findings()[0]["node"], "app-timeout", "{run}");
    let edit = conf_edit(&lab, &fix);
    assert_eq!(edit.line, Some(conf_line(&lab, "proxy_read_timeout 3s;")));
    assert_eq!(edit.snippet.as_deref(), Some("proxy_read_timeout 300s;"));

    let mark = lab.error_log_mark();
    lab.follow_fix(&fix, None);
    assert_eq!(count_in_conf(&lab, "proxy_read_timeout"), 1);
    assert_fixed(&lab, &fix, mark, &app.to_string(), "/app", &["200 in "]);
}

#[test]
fn a_read_timeout_inherited_from_the_server_is_overridden_after_the_pass() {
    let lab = Lab::new();
    let page = slow_page(&lab, 4);
    let fpm = lab.php_with_read_timeout(Pool::unix("www"), "3s");
    assert_eq!(lab.get(&page), 504);

    let (_, fix) = diagnosed(&lab, "upstream-timeout", None);
    let edit = conf_edit(&lab, &fix);
    assert_eq!(edit.line, Some(conf_line(&lab, "fastcgi_pass ")));
    let server_line = conf_line(&lab, "fastcgi_read_timeout 3s;");
    let conf = lab.path("nginx.conf").display().to_string();
    let inherited = format!("inherits fastcgi_read_timeout 3s ({conf}:{server_line})");
    assert!(edit.text.contains(&inherited), "{edit:?}");

    let mark = lab.error_log_mark();
    let fpm = lab.follow_fix(&fix, Some(&fpm)).expect("php-fpm");
    assert_eq!(
        count_in_conf(&lab, "fastcgi_read_timeout"),
        2,
        "the server's and the location's"
    );
    let sock = fpm.socket_path().display().to_string();
    assert_fixed(&lab, &fix, mark, &sock, &page, &["200 in "]);
}

#[test]
fn a_header_buffer_the_location_sets_is_changed_where_it_is_and_the_page_answers() {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www"));
    let pass = Pass::fastcgi(&fpm).with("fastcgi_buffer_size 4k");
    lab.nginx(|c| c.location(PHP, pass));
    assert_eq!(lab.get("/bighdr.php"), 502);

    let (_, fix) = diagnosed(&lab, "header-too-big", None);
    let edit = conf_edit(&lab, &fix);
    let pass_line = conf_line(&lab, "fastcgi_pass ");
    let own = conf_line(&lab, "fastcgi_buffer_size 4k;");
    assert_eq!((edit.line, edit.last_line), (Some(pass_line), Some(own)));

    let mark = lab.error_log_mark();
    lab.follow_fix(&fix, Some(&fpm));
    assert_eq!(count_in_conf(&lab, "fastcgi_buffer_size"), 1);
    conf_line(&lab, "fastcgi_buffer_size 16k;");
    conf_line(&lab, "fastcgi_busy_buffers_size 32k;");
    let sock = fpm.socket_path().display().to_string();
    assert_fixed(&lab, &fix, mark, &sock, "/bighdr.php", &["200"]);
}

/// nginx refuses `proxy_read_timeout` inside an `if`: for a pass there, the line goes
/// in the location itself, after the line that opens it.
#[test]
fn a_pass_inside_an_if_gets_its_read_timeout_in_the_location_and_the_app_answers() {
    let lab = Lab::new();
    let app = lab.backend(Mode::Sleep(Duration::from_secs(4)));
    let pass = Pass::files().with(&format!("if ($uri) {{ proxy_pass http://{app}; }}"));
    lab.nginx(|c| c.server("proxy_read_timeout 3s").location("/", pass));
    assert_eq!(lab.get("/app"), 504);

    let (_, fix) = diagnosed(&lab, "upstream-timeout", None);
    let edit = conf_edit(&lab, &fix);
    assert_eq!(edit.line, Some(conf_line(&lab, "location / {")));

    let mark = lab.error_log_mark();
    lab.follow_fix(&fix, None);
    assert_eq!(count_in_conf(&lab, "proxy_read_timeout"), 2);
    assert_fixed(&lab, &fix, mark, &app.to_string(), "/app", &["200 in "]);
}

/// `location /app { proxy_pass ...; proxy_read_timeout 3s; }` on one line: replacing that
/// line with the directive alone would drop the location. The step says in words what to
/// change inside the line, and doing exactly that ends the 504.
#[test]
fn a_location_written_on_one_line_gets_its_timeout_changed_inside_the_line_and_the_app_answers() {
    let lab = Lab::new();
    let app = lab.backend(Mode::Sleep(Duration::from_secs(4)));
    let one_line = format!("location /app {{ proxy_pass http://{app}; proxy_read_timeout 3s; }}");
    lab.nginx(|c| c.server(&one_line));
    assert_eq!(lab.get("/app"), 504);

    let (_, fix) = diagnosed(&lab, "upstream-timeout", None);
    let conf = lab.path("nginx.conf").display().to_string();
    assert!(
        !fix.steps.iter().any(|s| s.file.as_deref() == Some(&conf)),
        "no whole-line edit of nginx.conf: {fix:#?}"
    );
    let words = "in that line, change `proxy_read_timeout 3s;` to `proxy_read_timeout 300s;`";
    assert!(fix.steps.iter().any(|s| s.text.contains(words)), "{fix:#?}");

    // What the step says, done as a person would, then its commands as printed.
    let text = read_lossy(&lab.path("nginx.conf"));
    let edited = text.replace("proxy_read_timeout 3s;", "proxy_read_timeout 300s;");
    std::fs::write(lab.path("nginx.conf"), edited).expect("edit nginx.conf");
    let mark = lab.error_log_mark();
    lab.follow_fix(&fix, None);
    conf_line(&lab, "location /app { proxy_pass");
    assert_fixed(&lab, &fix, mark, &app.to_string(), "/app", &["200 in "]);
}
