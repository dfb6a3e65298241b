//! Built-in probes: host facts read directly instead of parsing command text.
//!
//! Parsing `ss` or `ps` output is fragile across versions and locales, so the
//! engine reads /proc, the logs and the configs itself. Each built-in
//! declares its parameters and the facts it produces here, which is what
//! `rules lint` checks a pack against; the implementations live beside.

/// What a built-in takes and gives.
#[derive(Debug)]
pub struct BuiltinInfo {
    pub name: &'static str,
    pub doc: &'static str,
    /// Parameter names a probe passes in `with:`; all are optional text.
    pub params: &'static [&'static str],
    /// Fact names it produces, without the probe-id prefix.
    pub facts: &'static [&'static str],
    /// List facts it produces (one of `facts`), with the facts of each
    /// item: what an `each` node walks.
    pub lists: &'static [(&'static str, &'static [&'static str])],
    /// Those of its facts that hold a signature id
    /// ([`Signature::id`](crate::logs::signature::Signature::id)), an item
    /// fact of a list written `list.fact`: lint checks every literal a
    /// condition compares them with.
    pub signatures: &'static [&'static str],
}

const ADDRESS: &[&str] = &["transport", "host", "port", "path"];

/// Every built-in probe.
pub const BUILTINS: &[BuiltinInfo] = &[
    BuiltinInfo {
        name: "nginx",
        doc: "Finds the running nginx master, its configuration and the logs it names.",
        params: &[],
        facts: &[
            "found",
            "running",
            "pid",
            "conf",
            "prefix",
            "binary",
            "user",
            "error_logs",
            "source",
            "passes",
            "listen_port",
            "other_masters",
            "elsewhere",
            "parse_error",
            "config_errors",
            "config_error",
        ],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "config-lines",
        doc: "Shows the lines of a configuration file around the one nginx -t named, and where a missing `;` likely is.",
        params: &["file", "line"],
        facts: &[
            "excerpt",
            "noticed_text",
            "likely_line",
            "likely_text",
            "likely_at",
            "corrected",
        ],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "error-log",
        doc: "Reads the recent window of nginx's error logs and classifies upstream failures.",
        params: &[],
        // The failing upstreams are items (`upstreams`); the facts of the
        // first are also the probe's own, for packs written before items.
        facts: &[
            "count",
            "upstreams",
            "upstream_count",
            "key",
            "signature",
            "http_status",
            "errno",
            "errno_text",
            "action",
            "upstream",
            "address",
            "scheme",
            "transport",
            "host",
            "port",
            "path",
            "name",
            "line",
            "time",
            "clock",
            "first_clock",
            "span",
            "failures",
            "first_unix",
            "last_unix",
            "mode_count",
            "mode_since",
            "earlier",
            "earlier_count",
            "request",
            "uri",
            "server",
            "candidates",
            "summary",
            "signatures",
            "no_live_count",
            "no_live_line",
            "no_live_group",
            "history",
            "history_last",
            "emerg_line",
            "emerg_clock",
            "logs",
            "unreadable",
            "window",
        ],
        lists: &[("upstreams", error_log::ITEM_FACTS)],
        signatures: &["signature", "upstreams.signature"],
    },
    BuiltinInfo {
        name: "pass-target",
        doc: "Finds the location and pass directive that sends requests to an upstream.",
        params: &[
            "upstream",
            "transport",
            "host",
            "port",
            "path",
            "server",
            "request",
        ],
        facts: &[
            "found",
            "candidates",
            "matched_by",
            "kind",
            "directive",
            "target",
            "target_host",
            "file",
            "line",
            "at",
            "location",
            "server",
            "read_timeout",
            "read_timeout_at",
            "read_timeout_secs",
            "read_timeout_default",
            "read_timeout_here",
            "read_timeout_file",
            "read_timeout_line",
            "effective",
            "connect_timeout",
            "buffer_size",
            "buffer_size_at",
            "buffer_size_default",
            "buffer_size_effective",
            "buffers_here",
            "buffers_lines",
            "add_line",
            "shared_line",
            "upstream_block",
            "keepalive",
            "now_transport",
            "now_host",
            "now_port",
            "now_path",
            "now_address",
            "names_logged",
        ],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "upstream-now",
        doc: "Tests whether a failing upstream still fails now, and what changed since its last failure.",
        params: &[
            "transport",
            "host",
            "port",
            "path",
            "logged",
            "last_unix",
            "user",
            "url",
            "url_code",
            "pass_at",
        ],
        facts: &[
            "target",
            "moved",
            "changed_after",
            "change",
            "answer",
            "answers",
            "url_ok",
            "resolved",
        ],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "listeners",
        doc: "Reads the listening-socket table (/proc/net) for an address.",
        params: ADDRESS,
        facts: &[
            "listening",
            "on_port",
            "port_used",
            "path_exists",
            "path_is_socket",
            "queue",
            "backlog",
            "queue_full",
            "owners",
            "owner_kind",
            "owner_pid",
            "owner_command",
            "owner_unit",
        ],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "backend",
        doc: "Finds the backend service (php-fpm) and the pool meant to serve an address.",
        params: ADDRESS,
        facts: &[
            "running",
            "kind",
            "pid",
            "conf",
            "pool",
            "pool_file",
            "pool_line",
            "pool_listen",
            "nearby",
            "nearby_count",
            "pm",
            "max_children",
            "max_children_at",
            "terminate_timeout",
            "terminate_timeout_secs",
            "terminate_timeout_at",
            "backlog",
            "backlog_at",
            "log",
            "unit",
            "binary",
            "start",
            "owner",
            "group",
            "mode",
            "zombies",
            "elsewhere",
            "pm_file",
            "pm_lines",
            "pm_at",
            "socket_file",
            "socket_lines",
            "socket_at",
            "slowlog_file",
            "slowlog_lines",
            "slowlog_at",
            "terminate_file",
            "terminate_lines",
            "terminate_at",
            "backlog_file",
            "backlog_lines",
        ],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "fpm-log",
        doc: "Reads the recent window of php-fpm's log for saturation, killed and crashed workers.",
        params: &["path", "from", "to", "lead"],
        facts: &[
            "readable",
            "max_children",
            "max_children_line",
            "max_children_near",
            "timed_out",
            "timed_out_line",
            "timed_out_near",
            "crashed",
            "crash_signal",
            "crash_line",
            "crashed_near",
            "lines",
        ],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "connect",
        doc: "Opens a TCP or unix-socket connection to an address, as nginx would.",
        params: ADDRESS,
        facts: &["result", "errno"],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "fastcgi-ping",
        doc: "Asks an address for FastCGI values to learn which protocol it speaks.",
        params: ADDRESS,
        facts: &["reply"],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "protocol",
        doc: "Greets an address (FastCGI, TLS, HTTP) to learn the protocol it speaks, against what nginx speaks to it.",
        params: &[
            "transport",
            "host",
            "port",
            "path",
            "scheme",
            "kind",
            "target",
        ],
        facts: &[
            "speaks",
            "speaks_name",
            "expects",
            "expects_name",
            "mismatch",
            "heard",
            "corrected",
        ],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "http-get",
        doc: "Sends one bounded HTTP GET to a loopback address.",
        params: &["transport", "host", "port", "path", "uri"],
        facts: &["result", "code", "first_line"],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "socket-file",
        doc: "Checks that a user may connect to a unix socket (owner, group, mode, directories).",
        params: &["path", "user"],
        facts: &[
            "exists",
            "is_socket",
            "owner",
            "group",
            "mode",
            "user_can_connect",
            "reason",
        ],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "access-log",
        doc: "Reads the recent window of nginx's access logs for 502 and 504 answers.",
        params: &[],
        facts: &["count", "line", "logs"],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "capacity",
        doc: "Measures a php-fpm pool's workers, the memory and CPUs it may use, and sizes pm.max_children from them.",
        params: &["pool", "conf"],
        facts: &[
            "pool",
            "workers",
            "measured_with",
            "pss_avg_mib",
            "pss_max_mib",
            "per_worker_mib",
            "per_worker_basis",
            "memory_limit",
            "mem_available_mib",
            "mem_total_mib",
            "mem_limit_mib",
            "available_from",
            "cpus",
            "cpus_from",
            "cpu_bound",
            "cpu_share",
            "by_memory",
            "by_cpu",
            "current_max_children",
            "current_max_children_at",
            "recommended_max_children",
            "start_servers",
            "min_spare",
            "max_spare",
            "idle_max_mib",
            "arithmetic",
            "affordable",
            "caveat",
            "others",
        ],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "packet-filter",
        doc: "Finds the packet-filter rule (iptables, nftables, firewalld) that stops a TCP connection to an address, and what removes it.",
        params: ADDRESS,
        facts: &[
            "read",
            "blocked",
            "local",
            "tool",
            "program",
            "rule",
            "verdict",
            "policy",
            "family",
            "table",
            "chain",
            "handle",
            "delete",
            "saved_file",
            "saved_line",
            "selector",
            "stops",
            "reply",
            "reply_chain",
            "reply_table",
            "reply_family",
            "unevaluated",
            "firewalld",
            "zone",
        ],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "keepalive-reuse",
        doc: "Measures how long a backend keeps an idle HTTP/1.1 connection open, and where nginx's keepalive limits for its upstream group are written.",
        params: &["transport", "host", "port", "block"],
        facts: &[
            "keeps_alive",
            "lasts_ms",
            "closed_by_ms",
            "idle",
            "suggested",
            "block_at",
            "keepalive",
            "keepalive_file",
            "keepalive_line",
            "timeout",
            "timeout_directive",
            "timeout_file",
            "timeout_line",
        ],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "tls-peer",
        doc: "Fetches the certificate a TLS upstream presents as nginx does (no SNI) and checks it against this host's CA bundle and the name nginx verifies.",
        params: &["host", "port", "name", "conf", "file", "line"],
        facts: &[
            "presented",
            "subject",
            "issuer",
            "not_after",
            "self_signed",
            "chain_trusted",
            "name_checked",
            "name_matches",
            "errors",
            "cn",
            "cn_matches",
            "ca_bundle",
            "pem",
            "cert_file",
            "trusted_file",
            "trusted_line",
            "trusted_text",
            "ssl_name_file",
            "ssl_name_line",
            "ssl_name_text",
        ],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "local-ports",
        doc: "Reads the local port range and the connections to a backend, to tell a narrowed range from other programs' connections.",
        params: &["host", "port"],
        facts: &[
            "range",
            "range_size",
            "default_range",
            "narrow",
            "time_wait",
            "established",
            "holders",
            "set_file",
            "set_line",
            "set_text",
        ],
        lists: &[],
        signatures: &[],
    },
    BuiltinInfo {
        name: "resolve",
        doc: "Resolves a host name now, as the system does, and asks the DNS servers nginx's resolver would use.",
        params: &["name", "ip", "file", "line", "kind", "target", "block"],
        facts: &[
            "addresses",
            "includes",
            "source",
            "hosts_at",
            "nameserver",
            "nameserver_answer",
            "nameserver_knows",
            "resolver",
            "resolver_at",
            "resolver_file",
            "resolver_line",
            "resolver_answer",
            "resolver_knows",
            "variable_set",
            "variable_pass",
            "variable_unfit",
        ],
        lists: &[],
        signatures: &[],
    },
];

/// The built-in called `name`.
pub fn info(name: &str) -> Option<&'static BuiltinInfo> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Facts every probe has, whatever its kind.
pub const COMMON_FACTS: &[&str] = &["status", "exit", "stdout", "stderr", "reason"];

/// Facts known before any probe runs; the engine keeps the `walk.` ones
/// up to date (faults and resolved upstreams found so far).
/// The facts every item of built-in `builtin`'s list `list` has, whatever
/// its log line said (`rules lint` lets a text quote them unguarded).
pub fn item_always(builtin: &str, list: &str) -> &'static [&'static str] {
    match (builtin, list) {
        ("error-log", "upstreams") => error_log::ITEM_ALWAYS,
        _ => &[],
    }
}

/// The facts (without the prefix) that a failure's item, or `error-log`
/// itself, has whenever its `signature` is `id`.
pub fn known_with_signature(id: &str) -> Vec<&'static str> {
    crate::logs::signature::Signature::from_id(id).map_or_else(Vec::new, error_log::known_with)
}

/// The facts built-in `builtin` always sets when its fact `fact` is true:
/// a found nginx has a configuration, an existing socket an owner.
pub fn known_when_true(builtin: &str, fact: &str) -> &'static [&'static str] {
    match (builtin, fact) {
        ("nginx", "found") => &["conf", "binary", "user", "source"],
        ("pass-target", "found") => PASS_FOUND,
        ("pass-target", "read_timeout_here") => &["read_timeout_file", "read_timeout_line"],
        ("protocol", "mismatch") => &["expects", "expects_name", "speaks", "speaks_name", "heard"],
        ("listeners", "listening") => &["owners"],
        ("socket-file", "exists") => &["is_socket", "owner", "group", "mode"],
        ("tls-peer", "presented") => &["name_checked", "pem", "chain_trusted", "name_matches"],
        ("tls-peer", "self_signed") => &["subject", "issuer"],
        _ => &[],
    }
}

/// What `pass-target` sets whenever it found the pass (`describe`).
const PASS_FOUND: &[&str] = &[
    "matched_by",
    "kind",
    "directive",
    "target",
    "file",
    "line",
    "at",
    "location",
    "server",
    "read_timeout",
    "read_timeout_at",
    "read_timeout_default",
    "read_timeout_here",
    "effective",
    "connect_timeout",
    "buffer_size",
    "buffer_size_at",
    "buffer_size_default",
    "buffer_size_effective",
    "buffers_here",
    "buffers_lines",
    "add_line",
    "shared_line",
];

/// The facts built-in `builtin` always sets together with `fact`, whenever
/// `fact` has a value (any value, `false` too): a pass found has its file
/// and line, a rule that stops a connection its chain and verdict. Lint
/// lets a text after `exists(fact)`, a bare `fact` or `fact == "..."`
/// quote them, and what they imply in turn. Each list is next to the code
/// that sets its facts.
pub fn known_when_set(builtin: &str, fact: &str) -> Vec<&'static str> {
    let promises: &[(&[&str], &[&str])] = match builtin {
        "pass-target" => pass_target::SET_TOGETHER,
        "packet-filter" => packet_filter::SET_TOGETHER,
        "keepalive-reuse" => keepalive_reuse::SET_TOGETHER,
        "local-ports" => local_ports::SET_TOGETHER,
        "resolve" => resolve::SET_TOGETHER,
        "tls-peer" => tls_peer::SET_TOGETHER,
        "backend" => backend::SET_TOGETHER,
        "capacity" => capacity::SET_TOGETHER,
        _ => &[],
    };
    promises
        .iter()
        .filter(|(when, _)| when.contains(&fact))
        .flat_map(|(_, implied)| implied.iter().copied())
        .collect()
}

pub const CONTEXT_FACTS: &[&str] = &[
    "host.root",
    "host.systemd",
    "opts.url",
    "opts.since",
    "walk.faults",
    "walk.resolved",
];

mod access_log;
mod backend;
mod capacity;
mod conf_scope;
mod config_lines;
mod context;
mod error_log;
mod fpm_log;
mod keepalive_reuse;
mod local_ports;
mod nginx_probe;
mod packet_filter;
mod pass_target;
mod preview;
mod protocol;
mod resolve;
mod sockets_probe;
mod tls_peer;
mod upstream_now;

pub use context::{Host, HostOptions, parse_since};
pub use error_log::recorded_items;
pub(crate) use nginx_probe::build_info;
pub use preview::preview;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::probe::{Observation, ProbeStatus};
use crate::value::Value;

/// What a built-in is building up: its facts, how a person would see the
/// same thing, and whether it could do its job.
#[derive(Debug, Default)]
pub struct Out {
    facts: Vec<(String, Value)>,
    pub shown_as: String,
    failure: Option<String>,
    excerpt: String,
}

impl Out {
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        let value = match value.into() {
            Value::Str(s) if s.is_empty() => Value::Null,
            v => v,
        };
        self.facts.retain(|(n, _)| n != name);
        self.facts.push((name.to_owned(), value));
    }

    /// Whether fact `name` was set to a value.
    #[cfg(test)]
    pub fn has(&self, name: &str) -> bool {
        self.facts
            .iter()
            .any(|(n, v)| n == name && !matches!(v, Value::Null))
    }

    /// Says the built-in could not do its job, and why (with what to do).
    pub fn fail(&mut self, reason: impl Into<String>) {
        self.failure = Some(reason.into());
    }

    /// A few lines a person would want to see in the report.
    pub fn note(&mut self, line: &str) {
        if !self.excerpt.is_empty() {
            self.excerpt.push('\n');
        }
        self.excerpt.push_str(line);
    }

    fn finish(self) -> Observation {
        let (status, reason) = match self.failure {
            None => (ProbeStatus::Ok, None),
            Some(r) => (ProbeStatus::Error, Some(r)),
        };
        Observation {
            status,
            exit: None,
            stdout: self.excerpt,
            stderr: String::new(),
            duration: Duration::ZERO,
            facts: self.facts,
            shown_as: self.shown_as,
            reason,
        }
    }
}

/// Runs the built-in `name` with its parameters.
pub fn run(name: &str, params: &BTreeMap<String, String>, host: &mut Host) -> Observation {
    let mut out = Out::default();
    match name {
        "nginx" => nginx_probe::run(host, &mut out),
        "error-log" => error_log::run(host, &mut out),
        "pass-target" => pass_target::run(host, params, &mut out),
        "upstream-now" => upstream_now::run(host, params, &mut out),
        "protocol" => protocol::run(params, &mut out),
        "fpm-log" => fpm_log::run(host, params, &mut out),
        "backend" => backend::run(host, params, &mut out),
        "capacity" => capacity::run(params, &mut out),
        "config-lines" => config_lines::run(params, &mut out),
        "access-log" => access_log::run(host, &mut out),
        "resolve" => resolve::run(host, params, &mut out),
        "packet-filter" => packet_filter::run(params, &mut out),
        "keepalive-reuse" => keepalive_reuse::run(host, params, &mut out),
        "tls-peer" => tls_peer::run(host, params, &mut out),
        "local-ports" => local_ports::run(host, params, &mut out),
        "listeners" | "connect" | "fastcgi-ping" | "http-get" | "socket-file" => {
            sockets_probe::run(host, name, params, &mut out)
        }
        _ => out.fail(format!("built-in `{name}` is not available in this build")),
    }
    // A built-in that gave up before it knew its target still has a name
    // in the report's list of checks.
    if out.shown_as.is_empty() {
        out.shown_as = name.to_owned();
    }
    out.finish()
}
