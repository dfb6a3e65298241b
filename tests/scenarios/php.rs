//! The php-fpm rows of the scenario table: nginx passing PHP to a real php-fpm pool that
//! is stopped, elsewhere, too slow, too small, crashing, or healthy.

use super::{Case, Fault, Log, Request, scenarios};
use crate::support::faults::PHP;
use crate::support::lab::is_root;
use crate::support::net::free_port;
use crate::support::{Lab, Pass, Pool};
use std::fs;
use std::time::{SystemTime, UNIX_EPOCH};

/// nginx and php-fpm serving PHP, with nothing wrong.
pub(crate) fn healthy_lab() -> Lab {
    let lab = Lab::new();
    lab.serving_php(Pool::unix("www"));
    lab
}

/// php-fpm's socket given to root:root, mode 0660: nginx's workers may not open it
/// (a 502). Needs root. The lab, and the socket's path.
pub(crate) fn socket_nginx_may_not_open() -> (Lab, std::path::PathBuf) {
    let lab = Lab::new();
    let fpm = lab.php_fpm(Pool::unix("www").owner("root", "root").mode("0660"));
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    assert_eq!(lab.get("/ok.php"), 502);
    let socket = fpm.socket_path().to_path_buf();
    (lab, socket)
}

/// A lab whose PHP location runs `pool`, nginx waiting at most `timeout` for answers.
fn php_with(pool: Pool, timeout: &str) -> Fault {
    let lab = Lab::new();
    let fpm = lab.php_with_read_timeout(pool, timeout);
    Fault::new(lab).fpm_log(&fpm.log)
}

/// A lab whose PHP location passes to `target` instead of the running pool: `{elsewhere}`
/// is where nginx passes, `{real}` where the pool listens (a socket's path, or an address).
fn php_passing_to(pool: Pool, target: impl Fn(&Lab) -> String) -> Fault {
    let lab = Lab::new();
    let fpm = lab.php_fpm(pool);
    let elsewhere = target(&lab);
    assert_ne!(
        fpm.target(),
        elsewhere,
        "the pool is not where nginx passes"
    );
    lab.nginx(|c| c.location(PHP, Pass::fastcgi_to(&elsewhere)));
    let real = fpm.target().trim_start_matches("unix:").to_string();
    Fault::new(lab)
        .var("elsewhere", elsewhere)
        .var("real", real)
}

/// php-fpm running `pool`, served through the PHP location.
fn php(pool: Pool) -> Fault {
    let lab = Lab::new();
    let fpm = lab.php_fpm(pool);
    lab.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
    Fault::new(lab).fpm_log(&fpm.log)
}

/// Three failed requests two days old, nginx's own lines, before the lab starts.
fn write_old_failures(lab: &Lab) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let two_days_ago = super::nginx_time(now - 2 * 86_400);
    let old: String = (1..=3)
        .map(|n| {
            format!(
                "{two_days_ago} [error] 4242#4242: *{n} connect() failed (111: Connection refused) \
                 while connecting to upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", \
                 upstream: \"http://127.0.0.1:9/\", host: \"localhost\"\n"
            )
        })
        .collect();
    fs::write(lab.path("error.log"), old).expect("write old log lines");
}

scenarios! {
    php_fpm_stopped_is_backend_down: Case {
        setup: || {
            let (lab, fpm) = Lab::stopped_fpm_scenario();
            Ok(Fault::new(lab).var("socket", fpm.socket_path().display()))
        },
        request: Request::Get("/ok.php", 502),
        log: Log::Quoted("connect() to unix:{socket} failed (2: No such file"),
        cause: "backend-down",
        ..Case::FAULT
    };

    php_fpm_tcp_pool_stopped_is_backend_down: Case {
        setup: || {
            let lab = Lab::new();
            let fpm = lab.with_stopped_fpm(Pool::tcp("www"));
            Ok(Fault::new(lab).var("addr", fpm.tcp_addr()))
        },
        request: Request::Get("/ok.php", 502),
        log: Log::QuotedWith("connect() failed (111: Connection refused)", "fastcgi://{addr}"),
        cause: "backend-down",
        ..Case::FAULT
    };

    php_fpm_on_another_port_is_wrong_address: Case {
        setup: || {
            let fault = php_passing_to(Pool::tcp("www"), |_| free_port().to_string());
            Ok(fault)
        },
        request: Request::Get("/ok.php", 502),
        log: Log::QuotedWith(
            "connect() failed (111: Connection refused)",
            "upstream: \"fastcgi://{elsewhere}\"",
        ),
        cause: "backend-wrong-address",
        ..Case::FAULT
    };

    fastcgi_pass_to_another_socket_of_the_pool_dir_is_wrong_address: Case {
        setup: || {
            let at = |lab: &Lab| format!("unix:{}", lab.path("php8.1-fpm.sock").display());
            Ok(php_passing_to(Pool::unix("www"), at))
        },
        request: Request::Get("/ok.php", 502),
        log: Log::Quoted("connect() to {elsewhere} failed (2: No such file or directory)"),
        cause: "backend-wrong-address",
        quotes: &["{real}"],
        ..Case::FAULT
    };

    proxy_pass_to_php_fpm_is_protocol_mismatch: Case {
        setup: || {
            let lab = Lab::new();
            let fpm = lab.php_fpm(Pool::tcp("www"));
            lab.nginx(|c| c.location("/", Pass::proxy_http(fpm.tcp_addr())));
            Ok(Fault::new(lab))
        },
        request: Request::Get("/ok.php", 502),
        log: Log::Quoted("recv() failed (104: Connection reset by peer)"),
        cause: "pass-protocol-mismatch",
        ..Case::FAULT
    };

    healthy_host_has_no_fault: Case {
        setup: || Ok(Fault::new(healthy_lab())),
        request: Request::Get("/ok.php", 200),
        cause: "no-fault-found",
        exit: 0,
        also: |_, seen| assert_eq!(seen.run.ids(), ["no-fault-found"], "{}", seen.run),
        ..Case::FAULT
    };

    only_old_502s_are_history_not_a_fault: Case {
        setup: || {
            let lab = Lab::new();
            write_old_failures(&lab);
            lab.serving_php(Pool::unix("www"));
            let log = lab.error_log();
            assert!(log.contains("(111: Connection refused)"), "old lines kept");
            Ok(Fault::new(lab))
        },
        request: Request::Get("/ok.php", 200),
        cause: "no-fault-found",
        quotes: &["upstream failures before the window: 3,"],
        exit: 0,
        also: |_, seen| assert_eq!(seen.run.ids(), ["no-fault-found"], "{}", seen.run),
        ..Case::FAULT
    };

    socket_permission_denied: Case {
        setup: || {
            if !is_root() {
                return Err("only root can give the socket to root:root");
            }
            let (lab, socket) = socket_nginx_may_not_open();
            Ok(Fault::new(lab).var("socket", socket.display()))
        },
        request: Request::Get("/ok.php", 502),
        log: Log::Quoted("connect() to unix:{socket} failed (13: Permission denied)"),
        cause: "socket-permission",
        also: |_, seen| {
            let pool = seen.run.found("pool-of-socket");
            assert!(pool.starts_with("pool www creates it ("), "{}", seen.run);
        },
        ..Case::FAULT
    };

    request_terminate_timeout_is_request_killed: Case {
        setup: || {
            let pool = Pool::unix("www").terminate_timeout("1s");
            Ok(php_with(pool, "10s"))
        },
        request: Request::Get("/sleep.php?s=5", 502),
        log: Log::Quoted("recv() failed (104: Connection reset by peer)"),
        fpm_says: Some("execution timed out"),
        cause: "backend-request-killed",
        ..Case::FAULT
    };

    pool_exhausted_shows_in_fpm_log: Case {
        setup: || Ok(php_with(Pool::unix("www").max_children(1), "1s")),
        request: Request::Burst("/sleep.php?s=3", 3, 504),
        log: Log::Quoted("upstream timed out (110: Connection timed out)"),
        fpm_says: Some("server reached pm.max_children setting (1)"),
        cause: "backend-pool-exhausted",
        ..Case::FAULT
    };

    full_listen_backlog_is_pool_exhausted: Case {
        // One worker, and room for two waiting connections (Linux queues backlog + 1).
        setup: || {
            let pool = Pool::unix("www").pm_static().max_children(1).backlog(1);
            Ok(php_with(pool, "20s"))
        },
        request: Request::Burst("/sleep.php?s=1", 6, 502),
        log: Log::Quoted("failed (11: Resource temporarily unavailable)"),
        cause: "backend-pool-exhausted",
        quotes: &["pm.max_children = 1"],
        also: |_, seen| assert!(seen.statuses.contains(&200), "statuses {:?}", seen.statuses),
        ..Case::FAULT
    };

    slow_backend_is_upstream_timeout: Case {
        setup: || Ok(php_with(Pool::unix("www").max_children(5), "1s")),
        request: Request::Get("/sleep.php?s=3", 504),
        log: Log::Quoted("upstream timed out (110: Connection timed out)"),
        cause: "upstream-timeout",
        also: |fault, _| {
            let log = fault.fpm_log.as_ref().expect("php-fpm's log");
            let fpm_log = fs::read_to_string(log).unwrap_or_default();
            assert!(!fpm_log.contains("max_children"), "the pool was not exhausted:\n{fpm_log}");
        },
        ..Case::FAULT
    };

    crashing_php_worker_is_backend_crashed: Case {
        setup: || Ok(php(Pool::unix("www"))),
        request: Request::Get("/crash.php", 502),
        log: Log::Quoted("recv() failed (104: Connection reset by peer)"),
        fpm_says: Some("exited on signal 11 (SIGSEGV)"),
        cause: "backend-crashed",
        ..Case::FAULT
    };

    big_php_header_is_header_too_big: Case {
        setup: || Ok(php(Pool::unix("www"))),
        request: Request::Get("/bighdr.php", 502),
        log: Log::Quoted("upstream sent too big header"),
        cause: "header-too-big",
        ..Case::FAULT
    };

    non_numeric_php_status_is_invalid_upstream_response: Case {
        setup: || {
            let fault = php(Pool::unix("www"));
            let script = "<?php header('Status: abc'); echo \"x\\n\";\n";
            fault.lab.write_www("badstatus.php", script);
            Ok(fault)
        },
        request: Request::Get("/badstatus.php", 502),
        log: Log::Quoted("upstream sent invalid status \"abc\""),
        cause: "invalid-upstream-response",
        ..Case::FAULT
    };

    config_invalid_is_reported: Case {
        setup: || {
            let fault = php(Pool::unix("www"));
            fault.lab.break_config("bogus_directive on;");
            let test = fault.lab.nginx_test();
            assert_ne!(test.status, 0, "nginx -t accepted the broken config\n{test}");
            assert!(test.stderr.contains(BOGUS), "{test}");
            Ok(fault)
        },
        // The running nginx keeps its loaded config: the page still answers.
        request: Request::Get("/ok.php", 200),
        cause: "config-invalid",
        quotes: &[BOGUS],
        ..Case::FAULT
    };
}

/// What `nginx -t` says of the directive `config_invalid_is_reported` adds.
const BOGUS: &str = "unknown directive \"bogus_directive\"";
