use super::*;
use crate::nginx::{parse_build_info, parse_str};

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// Debian's nginx 1.22 build: absolute paths, the startup log on stderr.
fn debian() -> BuildInfo {
    parse_build_info(
        "nginx version: nginx/1.22.1\nconfigure arguments: --prefix=/usr/share/nginx \
         --conf-path=/etc/nginx/nginx.conf --http-log-path=/var/log/nginx/access.log \
         --error-log-path=stderr --pid-path=/run/nginx.pid \
         --http-client-body-temp-path=/var/lib/nginx/body \
         --http-fastcgi-temp-path=/var/lib/nginx/fastcgi --http-proxy-temp-path=/var/lib/nginx/proxy \
         --http-scgi-temp-path=/var/lib/nginx/scgi --http-uwsgi-temp-path=/var/lib/nginx/uwsgi\n",
    )
}

/// A source build with every default: paths relative to the prefix.
fn source_build() -> BuildInfo {
    parse_build_info("nginx version: nginx/1.22.1\nconfigure arguments: --with-debug\n")
}

fn conf(text: &str) -> Config {
    parse_str(text, Path::new("/etc/nginx/nginx.conf")).expect("test config parses")
}

fn paths(list: &[PathBuf]) -> Vec<&str> {
    list.iter().map(|p| p.to_str().expect("utf-8")).collect()
}

#[test]
fn test_options_are_read_glued_or_apart() {
    let cmd = TestCommand::parse(&args(&[
        "-tq",
        "-p",
        "/srv/",
        "-c/srv/n.conf",
        "-e",
        "stderr",
    ]))
    .expect("a test");
    assert_eq!(cmd.prefix, Some(PathBuf::from("/srv/")));
    assert_eq!(cmd.conf, Some(PathBuf::from("/srv/n.conf")));
    assert_eq!(cmd.error_log.as_deref(), Some("stderr"));
}

#[test]
fn commands_that_do_not_test_are_not_tests() {
    assert_eq!(TestCommand::parse(&args(&["-V"])), None);
    assert_eq!(TestCommand::parse(&args(&["-s", "reload"])), None);
    assert_eq!(TestCommand::parse(&args(&["-t", "stray"])), None);
    assert_eq!(TestCommand::parse(&args(&["-t", "-x"])), None);
    assert!(TestCommand::parse(&args(&["-V", "-T"])).is_some());
}

#[test]
fn a_relative_conf_resolves_against_the_prefix() {
    let cmd = TestCommand::parse(&args(&["-t", "-p", "/srv", "-c", "conf/n.conf"])).expect("test");
    assert_eq!(
        cmd.conf_path(&debian()),
        Some(PathBuf::from("/srv/conf/n.conf"))
    );
}

#[test]
fn the_compiled_defaults_are_written_when_the_config_names_nothing() {
    let cmd = TestCommand::parse(&args(&["-t"])).expect("test");
    let w = of_test(
        &cmd,
        &debian(),
        Some(&conf("events {}\nhttp { server {} }\n")),
    );
    assert_eq!(
        paths(&w.files),
        ["/run/nginx.pid", "/var/log/nginx/access.log"]
    );
    assert_eq!(
        paths(&w.dirs),
        [
            "/var/lib/nginx/body",
            "/var/lib/nginx/fastcgi",
            "/var/lib/nginx/proxy",
            "/var/lib/nginx/scgi",
            "/var/lib/nginx/uwsgi"
        ]
    );
}

#[test]
fn relative_defaults_follow_the_prefix_given_with_p() {
    let cmd = TestCommand::parse(&args(&["-t", "-p", "/srv/ngx/"])).expect("test");
    let w = of_test(&cmd, &source_build(), Some(&conf("events {}\n")));
    assert_eq!(
        paths(&w.files),
        ["/srv/ngx/logs/error.log", "/srv/ngx/logs/nginx.pid"]
    );
    assert!(w.dirs.is_empty(), "no http block, no temp paths");
}

#[test]
fn configured_paths_replace_nothing_but_add_to_the_list() {
    let text = "pid run/n.pid;\nerror_log /l/error.log;\nerror_log stderr;\nevents {}\n\
        stream { server { listen unix:/s/stream.sock; access_log /l/stream.log x; } }\n\
        http {\n access_log /l/$host.log;\n access_log off;\n client_body_temp_path /t/body 1 2;\n\
        proxy_cache_path /c/one keys_zone=one:1m;\n map $a $b { proxy_temp_path x; }\n\
        server { listen unix:/s/http.sock; location / { fastcgi_temp_path /t/fcgi; } }\n}\n";
    let cmd = TestCommand::parse(&args(&["-t", "-p", "/p/", "-e", "/l/startup.log"])).expect("t");
    let w = of_test(&cmd, &debian(), Some(&conf(text)));
    assert_eq!(
        paths(&w.files),
        [
            "/l/error.log",
            "/l/startup.log",
            "/l/stream.log",
            "/p/run/n.pid"
        ]
    );
    assert!(w.dirs.contains(&PathBuf::from("/t/body")));
    assert!(w.dirs.contains(&PathBuf::from("/t/fcgi")));
    assert!(w.dirs.contains(&PathBuf::from("/c/one")));
    assert!(
        !w.dirs.contains(&PathBuf::from("/p/x")),
        "map values are data"
    );
    assert_eq!(paths(&w.sockets), ["/s/http.sock", "/s/stream.sock"]);
}

#[test]
fn an_unreadable_config_leaves_the_startup_log() {
    let cmd = TestCommand::parse(&args(&["-t"])).expect("test");
    let w = of_test(&cmd, &source_build(), None);
    assert_eq!(paths(&w.files), ["/usr/local/nginx/logs/error.log"]);
    assert!(of_test(&cmd, &debian(), None).all().next().is_none());
}

#[test]
fn defaults_the_http_block_overrides_are_not_used() {
    let text =
        "events {}\nhttp {\n access_log /l/a.log;\n proxy_temp_path /t/proxy;\n server {}\n}\n";
    let cmd = TestCommand::parse(&args(&["-t"])).expect("test");
    let w = of_test(&cmd, &debian(), Some(&conf(text)));
    assert_eq!(paths(&w.files), ["/l/a.log", "/run/nginx.pid"]);
    assert!(w.dirs.contains(&PathBuf::from("/t/proxy")));
    assert!(!w.dirs.contains(&PathBuf::from("/var/lib/nginx/proxy")));
    assert!(w.dirs.contains(&PathBuf::from("/var/lib/nginx/body")));
}
