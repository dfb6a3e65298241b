//! One php-fpm log line, as the event it reports.
//!
//! php-fpm's log is the other side of many 502/504s: a child killed by
//! `request_terminate_timeout` or a signal explains nginx's "Connection reset
//! by peer", "server reached pm.max_children" explains a queue and its
//! timeouts. Line shape (`zlog()` in php-src `sapi/fpm/fpm/zlog.c`):
//! `[24-Nov-2026 21:18:53] WARNING: [pool www] message`, with microseconds
//! (`21:18:53.123456`) and a `pid N, func(), line N: ` prefix at
//! `log_level = debug`. `php-fpm -tt` prints its settings the same way
//! (`NOTICE: \tlisten = /run/php/php8.2-fpm.sock`). The formats matched are
//! quoted from php-src (catalogue §4.1); anything else is [`FpmEvent::Other`].

use serde::Serialize;

use super::time::{LocalTime, parse_digits};
use super::{Level, Timestamp};

/// One parsed php-fpm log line. Text is as logged: sanitize before printing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FpmLine {
    /// When it was logged; `None` when the line has no `[time]` prefix
    /// (php-fpm writing to a journal that adds its own).
    pub time: Option<Timestamp>,
    pub level: Level,
    /// The pool the message is about (`[pool www]`), if it names one.
    pub pool: Option<String>,
    /// The message after the level and the pool prefix.
    pub message: String,
    pub event: FpmEvent,
}

/// What a php-fpm line reports, as far as a 502/504 diagnosis cares.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FpmEvent {
    /// Every child is busy (`pm.max_children` for `pm = dynamic`, plain
    /// `max_children` for `pm = ondemand`; `pm = static` never says so).
    MaxChildrenReached {
        limit: u32,
    },
    /// A burst: php-fpm is spawning children, not yet saturated.
    SeemsBusy,
    /// `request_terminate_timeout` hit: the child is being killed (SIGTERM),
    /// and nginx sees a reset connection.
    ExecutionTimedOut {
        child: u32,
        script: String,
        request: String,
        seconds: f64,
    },
    /// `request_slowlog_timeout` hit: a stack trace went to the slowlog.
    SlowRequest {
        child: u32,
        script: String,
        request: String,
        seconds: f64,
    },
    /// A child ended: by a signal (9 = OOM killer or kill -9, 11 = crash,
    /// 15 = terminate timeout) or with an exit code.
    ChildExited {
        child: u32,
        signal: Option<i32>,
        code: Option<i32>,
        core_dumped: bool,
    },
    /// A worker's stderr, logged with `catch_workers_output = yes`.
    ChildSaidStderr {
        child: u32,
        text: String,
    },
    /// php-fpm could not listen where nginx connects; it is not running.
    UnableToBind {
        address: String,
        error: Option<String>,
    },
    /// Another php-fpm already answers on the socket.
    AnotherInstance {
        address: String,
    },
    /// `php-fpm -tt`: a section header (`[global]`, `[www]`).
    ConfigSection {
        name: String,
    },
    /// `php-fpm -tt`: one effective setting (`listen = /run/php/php8.2-fpm.sock`).
    ConfigSetting {
        key: String,
        value: String,
    },
    Other,
}

/// Parses one php-fpm log line; `None` for text that is not one.
///
/// `utc_offset_secs` is the host's offset of local time from UTC (seconds
/// east): php-fpm writes local time with no zone.
pub fn parse_line(line: &str, utc_offset_secs: i32) -> Option<FpmLine> {
    let line = line.trim_end_matches(['\n', '\r']);
    let (time, rest) = match line.strip_prefix('[') {
        Some(_) => {
            let (stamp, rest) = line.split_once("] ")?;
            let fraction = stamp.get(21..)?;
            let fraction_ok = fraction.is_empty()
                || fraction
                    .strip_prefix('.')
                    .is_some_and(|f| parse_digits(f.as_bytes()).is_some());
            let time = line_time(stamp.as_bytes(), utc_offset_secs).filter(|_| fraction_ok)?;
            (Some(time), rest)
        }
        None => (None, line),
    };
    let (level, body) = rest.split_once(": ")?;
    let level = fpm_level(level)?;
    let body = strip_debug_prefix(body);
    let (pool, message) = match body.strip_prefix("[pool ").and_then(|p| p.split_once("] ")) {
        Some((pool, message)) => (Some(pool.to_owned()), message),
        None => (None, body),
    };
    let event = event_of(message);
    Some(FpmLine {
        time,
        level,
        pool,
        message: message.to_owned(),
        event,
    })
}

/// The time of a php-fpm line (`[24-Nov-2026 21:18:53` or with
/// `.123456`; the fraction is dropped), from its prefix alone.
pub fn line_time(line: &[u8], utc_offset_secs: i32) -> Option<Timestamp> {
    let stamp = line.strip_prefix(b"[")?.get(..20)?;
    let separators = [(2, b'-'), (6, b'-'), (11, b' '), (14, b':'), (17, b':')];
    if separators.iter().any(|&(i, c)| stamp[i] != c) {
        return None;
    }
    let field = |range: std::ops::Range<usize>| stamp.get(range).and_then(parse_digits);
    let local = LocalTime {
        year: i64::from(field(7..11)?),
        month: month_number(&stamp[3..6])?,
        day: field(0..2)?,
        hour: field(12..14)?,
        minute: field(15..17)?,
        second: field(18..20)?,
    };
    Timestamp::from_local(local, utc_offset_secs)
}

fn month_number(name: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let index = MONTHS.iter().position(|m| *m == name)?;
    u32::try_from(index + 1).ok()
}

fn fpm_level(name: &str) -> Option<Level> {
    Some(match name {
        "ALERT" => Level::Alert,
        "ERROR" => Level::Error,
        "WARNING" => Level::Warn,
        "NOTICE" => Level::Notice,
        "DEBUG" => Level::Debug,
        _ => return None,
    })
}

/// Drops the `pid 123, fpm_func(), line 42: ` that `log_level = debug` adds.
fn strip_debug_prefix(body: &str) -> &str {
    let Some(rest) = body.strip_prefix("pid ") else {
        return body;
    };
    let shaped = rest.split_once(", ").and_then(|(pid, after)| {
        parse_digits(pid.as_bytes())?;
        let (func, after) = after.split_once("(), line ")?;
        let (line, message) = after.split_once(": ")?;
        (!func.contains(' ')).then_some(())?;
        parse_digits(line.as_bytes())?;
        Some(message)
    });
    shaped.unwrap_or(body)
}

fn event_of(message: &str) -> FpmEvent {
    if let Some(setting) = config_line(message) {
        return setting;
    }
    if let Some(rest) = message.strip_prefix("child ") {
        return child_event(rest).unwrap_or(FpmEvent::Other);
    }
    let reached = message
        .strip_prefix("server reached pm.max_children setting (")
        .or_else(|| message.strip_prefix("server reached max_children setting ("));
    if let Some(limit) = reached
        .and_then(|r| r.split_once(')'))
        .and_then(|(n, _)| n.parse().ok())
    {
        return FpmEvent::MaxChildrenReached { limit };
    }
    if message.starts_with("seems busy (") {
        return FpmEvent::SeemsBusy;
    }
    if let Some(rest) = message.strip_prefix("unable to bind listening socket for address '") {
        let (address, error) = rest
            .split_once("': ")
            .unwrap_or((rest.trim_end_matches('\''), ""));
        let error = (!error.is_empty()).then(|| error.to_owned());
        return FpmEvent::UnableToBind {
            address: address.to_owned(),
            error,
        };
    }
    let another = message
        .strip_prefix("Another FPM instance seems to already listen on ")
        .or_else(|| message.strip_prefix("An another FPM instance seems to already listen on "));
    match another {
        Some(address) => FpmEvent::AnotherInstance {
            address: address.to_owned(),
        },
        None => FpmEvent::Other,
    }
}

/// `php-fpm -tt` output: `\tkey = value` or a `[section]` on its own.
fn config_line(message: &str) -> Option<FpmEvent> {
    if let Some(setting) = message.strip_prefix('\t') {
        let (key, value) = setting.split_once(" = ")?;
        return Some(FpmEvent::ConfigSetting {
            key: key.to_owned(),
            value: value.to_owned(),
        });
    }
    let name = message.strip_prefix('[')?.strip_suffix(']')?;
    let plain = !name.is_empty() && !name.contains([' ', '[', ']']);
    plain.then(|| FpmEvent::ConfigSection {
        name: name.to_owned(),
    })
}

/// The `child N ...` messages.
fn child_event(rest: &str) -> Option<FpmEvent> {
    if let Some((child, request)) = rest.split_once(", script '") {
        return request_event(parse_digits(child.as_bytes())?, request);
    }
    let (child, what) = rest.split_once(' ')?;
    let child = parse_digits(child.as_bytes())?;
    if let Some(said) = what.strip_prefix("said into stderr: ") {
        let text = said.strip_prefix('"').unwrap_or(said);
        let text = text.rfind('"').map_or(text, |end| &text[..end]);
        return Some(FpmEvent::ChildSaidStderr {
            child,
            text: text.to_owned(),
        });
    }
    let how = what.strip_prefix("exited ")?;
    if let Some(code) = how.strip_prefix("with code ") {
        let code = code.split_once(' ').map_or(code, |(c, _)| c).parse().ok();
        return Some(FpmEvent::ChildExited {
            child,
            signal: None,
            code,
            core_dumped: false,
        });
    }
    let (signal, name) = how.strip_prefix("on signal ")?.split_once(" (")?;
    let (name, _) = name.split_once(')')?;
    Some(FpmEvent::ChildExited {
        child,
        signal: signal.parse().ok(),
        code: None,
        core_dumped: name.ends_with(" - core dumped"),
    })
}

/// `script '%s' (request: "%s") execution timed out (%d.%06d sec), terminating`
/// and its `executing too slow` sibling. The request is the client's, so the
/// fixed tail is searched from the right.
fn request_event(child: u32, text: &str) -> Option<FpmEvent> {
    let (script, request) = text.split_once("' (request: \"")?;
    let (request, timed_out, tail) = match request.rsplit_once("\") execution timed out (") {
        Some((request, tail)) => (request, true, tail),
        None => {
            let (request, tail) = request.rsplit_once("\") executing too slow (")?;
            (request, false, tail)
        }
    };
    let seconds: f64 = tail.split_once(" sec)")?.0.parse().ok()?;
    let (script, request) = (script.to_owned(), request.to_owned());
    Some(if timed_out {
        FpmEvent::ExecutionTimedOut {
            child,
            script,
            request,
            seconds,
        }
    } else {
        FpmEvent::SlowRequest {
            child,
            script,
            request,
            seconds,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(line: &str) -> FpmEvent {
        parse_line(line, 0)
            .unwrap_or_else(|| panic!("should parse: {line}"))
            .event
    }

    #[test]
    fn max_children_line_names_pool_level_and_limit() {
        let l = parse_line("[24-Nov-2026 21:18:53] WARNING: [pool www] server reached pm.max_children setting (2), consider raising it", 0)
            .expect("parses");
        assert_eq!(l.time, Some(Timestamp::from_unix(1_795_555_133)));
        assert_eq!(l.level, Level::Warn);
        assert_eq!(l.pool.as_deref(), Some("www"));
        assert_eq!(l.event, FpmEvent::MaxChildrenReached { limit: 2 });
    }

    #[test]
    fn ondemand_max_children_form_is_recognised() {
        let e = event(
            "[24-Nov-2026 21:18:53] WARNING: [pool app] server reached max_children setting (10), consider raising it",
        );
        assert_eq!(e, FpmEvent::MaxChildrenReached { limit: 10 });
    }

    #[test]
    fn fractional_seconds_are_accepted_and_dropped() {
        let l = parse_line(
            "[24-Nov-2026 21:18:53.123456] NOTICE: fpm is running, pid 42",
            0,
        )
        .expect("parses");
        assert_eq!(l.time, Some(Timestamp::from_unix(1_795_555_133)));
        assert_eq!(l.level, Level::Notice);
        assert_eq!(l.event, FpmEvent::Other);
    }

    #[test]
    fn debug_prefix_is_stripped() {
        let l = parse_line("[24-Nov-2026 21:18:53.000001] DEBUG: pid 42, fpm_children_bury(), line 289: [pool www] child 43 exited with code 0 after 1.000000 seconds from start", 0)
            .expect("parses");
        assert_eq!(l.pool.as_deref(), Some("www"));
        assert_eq!(
            l.event,
            FpmEvent::ChildExited {
                child: 43,
                signal: None,
                code: Some(0),
                core_dumped: false
            }
        );
    }

    #[test]
    fn execution_timeout_reads_child_script_request_and_seconds() {
        let e = event(
            r#"[24-Nov-2026 21:18:53] WARNING: [pool www] child 21263, script '/srv/lab/www/sleep.php' (request: "GET /php/sleep.php?s=10") execution timed out (4.427862 sec), terminating"#,
        );
        assert_eq!(
            e,
            FpmEvent::ExecutionTimedOut {
                child: 21263,
                script: "/srv/lab/www/sleep.php".into(),
                request: "GET /php/sleep.php?s=10".into(),
                seconds: 4.427862,
            }
        );
    }

    #[test]
    fn forged_tail_in_the_request_does_not_cut_it_short() {
        let e = event(
            r#"[24-Nov-2026 21:18:53] WARNING: [pool www] child 7, script '/a.php' (request: "GET /a.php?x=") execution timed out (1.0 sec)") execution timed out (30.000001 sec), terminating"#,
        );
        let FpmEvent::ExecutionTimedOut {
            request, seconds, ..
        } = e
        else {
            panic!("not a timeout: {e:?}");
        };
        assert_eq!(request, r#"GET /a.php?x=") execution timed out (1.0 sec)"#);
        assert_eq!(seconds, 30.000001);
    }

    #[test]
    fn slow_request_is_recognised() {
        let e = event(
            r#"[24-Nov-2026 21:18:53] WARNING: [pool www] child 21263, script '/srv/lab/www/sleep.php' (request: "GET /php/sleep.php?s=3") executing too slow (2.010101 sec), logging"#,
        );
        assert!(
            matches!(e, FpmEvent::SlowRequest { child: 21263, .. }),
            "{e:?}"
        );
    }

    #[test]
    fn child_killed_by_signal_reads_the_signal() {
        for (text, signal) in [
            ("15 (SIGTERM)", 15),
            ("9 (SIGKILL)", 9),
            ("11 (SIGSEGV)", 11),
        ] {
            let line = format!(
                "[24-Nov-2026 21:18:53] WARNING: [pool www] child 21263 exited on signal {text} after 20.009677 seconds from start"
            );
            let want = FpmEvent::ChildExited {
                child: 21263,
                signal: Some(signal),
                code: None,
                core_dumped: false,
            };
            assert_eq!(event(&line), want);
        }
    }

    #[test]
    fn core_dump_is_noticed() {
        let e = event(
            "[24-Nov-2026 21:18:53] WARNING: [pool www] child 5 exited on signal 11 (SIGSEGV - core dumped) after 3.000000 seconds from start",
        );
        assert_eq!(
            e,
            FpmEvent::ChildExited {
                child: 5,
                signal: Some(11),
                code: None,
                core_dumped: true
            }
        );
    }

    #[test]
    fn worker_stderr_text_is_unquoted() {
        let e = event(
            r#"[24-Nov-2026 21:18:53] WARNING: [pool www] child 21263 said into stderr: "PHP Warning:  "x" in /a.php on line 2", pipe is closed"#,
        );
        assert_eq!(
            e,
            FpmEvent::ChildSaidStderr {
                child: 21263,
                text: r#"PHP Warning:  "x" in /a.php on line 2"#.into()
            }
        );
    }

    #[test]
    fn bind_failure_keeps_address_and_error() {
        let e = event(
            "[24-Nov-2026 21:18:53] ERROR: unable to bind listening socket for address '/run/php/php8.2-fpm.sock': No such file or directory (2)",
        );
        assert_eq!(
            e,
            FpmEvent::UnableToBind {
                address: "/run/php/php8.2-fpm.sock".into(),
                error: Some("No such file or directory (2)".into()),
            }
        );
    }

    #[test]
    fn another_instance_in_both_spellings() {
        for text in ["Another FPM instance", "An another FPM instance"] {
            let line = format!(
                "[24-Nov-2026 21:18:53] ERROR: {text} seems to already listen on /run/php/php8.2-fpm.sock"
            );
            assert_eq!(
                event(&line),
                FpmEvent::AnotherInstance {
                    address: "/run/php/php8.2-fpm.sock".into()
                }
            );
        }
    }

    #[test]
    fn seems_busy_is_recognised() {
        let e = event(
            "[24-Nov-2026 21:18:53] WARNING: [pool www] seems busy (you may need to increase pm.start_servers, or pm.min/max_spare_servers), spawning 8 children, there are 0 idle, and 9 total children",
        );
        assert_eq!(e, FpmEvent::SeemsBusy);
    }

    #[test]
    fn test_config_dump_yields_sections_and_settings() {
        assert_eq!(
            event("[25-Nov-2026 13:10:32] NOTICE: [www]"),
            FpmEvent::ConfigSection { name: "www".into() }
        );
        assert_eq!(
            event("[25-Nov-2026 13:10:32] NOTICE: \tlisten = /run/php/php8.2-fpm.sock"),
            FpmEvent::ConfigSetting {
                key: "listen".into(),
                value: "/run/php/php8.2-fpm.sock".into()
            }
        );
    }

    #[test]
    fn config_test_results_are_other_events() {
        let ok = parse_line("[24-Nov-2026 21:16:45] NOTICE: configuration file /etc/php/8.2/fpm/php-fpm.conf test is successful", 0).expect("parses");
        assert_eq!(ok.event, FpmEvent::Other);
        let bad = parse_line(
            "[24-Nov-2026 21:23:12] ALERT: [pool www] pm.max_children must be a positive value",
            0,
        )
        .expect("parses");
        assert_eq!(
            (bad.level, bad.pool.as_deref()),
            (Level::Alert, Some("www"))
        );
    }

    #[test]
    fn line_without_time_parses() {
        let l = parse_line(
            "WARNING: [pool www] server reached pm.max_children setting (5), consider raising it",
            0,
        )
        .expect("parses");
        assert_eq!(l.time, None);
        assert_eq!(l.event, FpmEvent::MaxChildrenReached { limit: 5 });
    }

    #[test]
    fn non_fpm_text_is_rejected() {
        for bad in [
            "",
            "[0x00007fe35b6130b0] sleep() /srv/lab/www/sleep.php:1",
            "[24-Foo-2026 21:18:53] NOTICE: x",
            "[24-Nov-2026 21:18:53x] NOTICE: x",
            "hello: world",
            "[pool www] pid 42",
        ] {
            assert_eq!(parse_line(bad, 0), None, "{bad:?}");
        }
    }

    #[test]
    fn hostile_line_parses_without_panic() {
        let mut line = String::from(
            r#"[24-Nov-2026 21:18:53] WARNING: [pool www] child 1, script '/a.php' (request: "GET /$(rm -rf /)"#,
        );
        line.push_str(&"\u{1b}[2J\0\u{fffd}'\" (request: \"".repeat(50_000));
        line.push_str(r#"") execution timed out (1.5 sec), terminating"#);
        assert!(matches!(
            event(&line),
            FpmEvent::ExecutionTimedOut { seconds: 1.5, .. }
        ));
    }
}
