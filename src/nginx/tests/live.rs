//! Tests against the fixture corpus (`tests/fixtures/nginx/`) and a real,
//! private nginx (`/usr/sbin/nginx` with a temporary prefix, loopback only):
//! discovery of its master, `nginx -T` vs the files on disk, and an error-log
//! line traced back to its location.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::super::*;

pub(super) const NGINX: &str = "/usr/sbin/nginx";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nginx")
}

fn tempdir() -> tempfile::TempDir {
    // No leading dot: glob(3) and the glob crate treat dot-directories specially.
    tempfile::Builder::new()
        .prefix("nginxconf-")
        .tempdir()
        .unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Walks every directive of a tree.
fn each<'a>(ds: &'a [Directive], f: &mut impl FnMut(&'a Directive)) {
    for d in ds {
        f(d);
        each(d.children(), f);
    }
}

#[test]
fn every_directive_points_at_a_line_holding_its_name() {
    let cfg = parse_file(&fixtures().join("debian/nginx.conf")).unwrap();
    assert_eq!(cfg.files.len(), 10, "{:?}", cfg.files);
    let mut count = 0;
    each(&cfg.directives, &mut |d| {
        let text = std::fs::read_to_string(&d.file).unwrap();
        let line = text.lines().nth(d.line - 1).unwrap_or_default();
        assert!(
            line.contains(&d.name),
            "{}:{} {:?} is not on {line:?}",
            d.file.display(),
            d.line,
            d.name
        );
        count += 1;
    });
    assert!(count > 60, "{count}");
}

#[test]
fn debian_layout_model() {
    let dir = fixtures().join("debian");
    let m = model(
        &parse_file(&dir.join("nginx.conf")).unwrap(),
        Path::new("/prefix"),
    );
    assert_eq!(m.user.as_ref().unwrap().value, "www-data");
    let logs: Vec<&str> = m.error_logs.iter().map(|l| l.value.as_str()).collect();
    assert_eq!(
        logs,
        ["/prefix/logs/error.log", "/prefix/logs/app.error.log"]
    );
    assert_eq!(m.servers.len(), 2);
    // sites-enabled/* is sorted: app.conf before default.
    assert_eq!(m.servers[0].names[0], "app.example.com");
    // The socket is reached directly and through the `php` group: both are candidates.
    let hits = m.find_by_log_upstream("fastcgi://unix:/run/php/php8.2-fpm.sock:");
    let paths: Vec<&str> = hits.iter().map(|(_, l, _)| l.path.as_str()).collect();
    assert_eq!(paths, ["@php", "\\.php$"]);
    assert_eq!(hits[1].2.timeouts.read_timeout.value, "300");
    assert_eq!(hits[0].2.upstream.as_deref(), Some("php"));
    let (_, api) = m
        .locate(Some("x.app.example.com"), Some(8082), "/api/users")
        .unwrap();
    let api_pass = api.pass.as_ref().unwrap();
    assert_eq!(api_pass.timeouts.read_timeout.value, "5s");
    assert_eq!(api_pass.timeouts.connect_timeout.value, "3s");
    assert_eq!(
        api.if_passes[0].address,
        Some(Address::Tcp {
            host: "127.0.0.1".into(),
            port: 9101
        })
    );
    let (_, root) = m.locate(Some("app.example.com"), Some(8082), "/").unwrap();
    let root_pass = root.pass.as_ref().unwrap();
    assert_eq!(root_pass.upstream.as_deref(), Some("app"));
    assert_eq!(root_pass.timeouts.read_timeout.value, "90s");
    let v6 = Address::Tcp {
        host: "::1".into(),
        port: 3000,
    };
    assert_eq!(m.find_by_upstream(&v6)[0].1.path, "/");
    let uwsgi = m
        .locate(Some("app.example.com"), Some(8082), "/uwsgi")
        .unwrap()
        .1;
    assert_eq!(uwsgi.pass.as_ref().unwrap().kind, PassKind::Uwsgi);
}

#[test]
fn tricky_constructs_parse_like_nginx() {
    let cfg = parse_file(&fixtures().join("tricky/nginx.conf")).unwrap();
    let mut found = std::collections::HashMap::new();
    each(&cfg.directives, &mut |d| {
        found.entry(d.name.as_str()).or_insert(d);
    });
    assert_eq!(
        found["log_format"].args[1],
        "$remote_addr \"$request\" ${request_time}s # not a comment"
    );
    assert!(found["init_by_lua_block"].args[0].contains("]] } still inside"));
    assert_eq!(found["init_by_lua_block"].block, None);
    assert_eq!(found["server_name"].args, ["~^(?<sub>.+)\\.example\\.com$"]);
    assert_eq!(found["rewrite"].args, ["^/a\\{2\\}$", "/b"]);
    assert!(found["content_by_lua_block"].args[0].contains("ngx.say(\"{\", '}', [[}]])"));
    assert_eq!(found["access_log"].line, 31);
    let m = model(&cfg, Path::new("/p"));
    let multi = m
        .locate(None, Some(8443), "/multi")
        .unwrap()
        .1
        .pass
        .as_ref()
        .unwrap();
    assert_eq!(
        (multi.line, multi.address.clone()),
        (34, Address::parse("127.0.0.1:7000", None, false))
    );
    assert!(m.locate(None, Some(8443), "/a").is_none());
    assert_eq!(
        m.locate(None, Some(8443), "/ab").unwrap().1.path,
        "^/(a|b){2}$"
    );
    assert_eq!(
        m.locate(None, Some(8443), "/if").unwrap().1.if_passes.len(),
        1
    );
}

#[test]
fn include_cycle_fixture_is_refused() {
    let err = parse_file(&fixtures().join("cycle/a.conf")).unwrap_err();
    assert!(
        matches!(err, ConfError::IncludeCycle { line: 2, .. }),
        "{err}"
    );
}

pub(super) fn nginx_available() -> bool {
    let there = Path::new(NGINX).exists();
    if !there {
        eprintln!("skipped: {NGINX} is not installed");
    }
    there
}

#[test]
fn nginx_dump_and_files_give_the_same_model() {
    if !nginx_available() {
        return;
    }
    let tmp = tempdir();
    let dir = tmp.path();
    copy_dir(&fixtures().join("debian"), dir);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let main = dir.join("nginx.conf");
    let out = Command::new(NGINX)
        .arg("-T")
        .arg("-p")
        .arg(format!("{}/", dir.display()))
        .arg("-c")
        .arg(&main)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dumped = parse_dump(&String::from_utf8_lossy(&out.stdout)).unwrap();
    let read = parse_file(&main).unwrap();
    assert_eq!(dumped, read);
    assert_eq!(model(&dumped, dir), model(&read, dir));
    assert_eq!(model(&read, dir).servers.len(), 2);
}

/// A private nginx master, stopped when dropped.
struct RunningNginx {
    child: Child,
}

impl Drop for RunningNginx {
    fn drop(&mut self) {
        crate::host::testing::stop(&mut self.child);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_nginx(dir: &Path, port: u16) -> RunningNginx {
    let d = dir.display();
    let conf = format!(
        "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n\
         access_log {d}/access.log;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
         server {{\n  listen 127.0.0.1:{port};\n  location / {{ return 200 ok; }}\n\
         location /php/ {{ fastcgi_pass 127.0.0.1:9; fastcgi_connect_timeout 2s; }}\n}}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let stderr = std::fs::File::create(dir.join("stderr.txt")).unwrap();
    let child = Command::new(NGINX)
        .arg("-p")
        .arg(format!("{d}/"))
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    RunningNginx { child }
}

fn wait_for_master(pid: i32) -> Master {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(m) = find_masters().into_iter().find(|m| m.pid == pid) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "nginx master {pid} not found in /proc"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

#[test]
fn private_nginx_is_discovered_and_its_errors_traced_to_a_location() {
    if !nginx_available() {
        return;
    }
    let tmp = tempdir();
    let dir = tmp.path();
    let port = free_port();
    let nginx = start_nginx(dir, port);
    let master = wait_for_master(nginx.child.id() as i32);
    assert_eq!(
        master.conf.as_deref(),
        Some(dir.join("nginx.conf").as_path())
    );
    assert_eq!(master.prefix.as_deref(), Some(dir));
    assert_eq!(master.globals.as_deref(), Some("daemon off;"));
    assert_eq!(master.exe.as_deref(), Some(Path::new(NGINX)));

    let conf = master.conf_path(&BuildInfo::default()).unwrap();
    let cfg = parse_file(&conf)
        .unwrap()
        .with_globals(master.globals.as_deref().unwrap())
        .unwrap();
    let m = model(&cfg, master.prefix.as_deref().unwrap());
    assert_eq!(
        m.error_logs[0].value,
        dir.join("error.log").to_string_lossy()
    );

    assert!(get(port, "/php/x.php").starts_with("HTTP/1.1 502"));
    let log = std::fs::read_to_string(dir.join("error.log")).unwrap();
    let field = log
        .lines()
        .find_map(|l| l.split("upstream: \"").nth(1)?.split('"').next())
        .unwrap_or_else(|| panic!("no upstream field in {log}"));
    assert_eq!(field, "fastcgi://127.0.0.1:9");
    let hits = m.find_by_log_upstream(field);
    assert_eq!(hits.len(), 1);
    let (_, location, pass) = hits[0];
    assert_eq!(location.path, "/php/");
    assert_eq!(pass.timeouts.connect_timeout.value, "2s");
    assert_eq!(
        m.locate(Some("localhost"), Some(port), "/php/x.php")
            .unwrap()
            .1,
        location
    );
    drop(nginx);
}

#[test]
fn real_build_info_is_read() {
    if !nginx_available() {
        return;
    }
    let out = Command::new(NGINX).arg("-V").output().unwrap();
    let info = parse_build_info(&String::from_utf8_lossy(&out.stderr));
    assert!(info.version.is_some());
    assert!(
        info.conf_path.as_deref().is_some_and(Path::is_absolute),
        "{info:?}"
    );
    assert!(info.prefix.is_some());
}
