//! Which facts of a built-in are known together, so `rules lint` lets a
//! text quote a fact only where it is sure to have a value: what an item
//! of the error log always has, what a signature implies, what a fact that
//! is true or set brings with it. Each built-in's promises are kept in its
//! own section below, named as the built-in's file in `probe::builtin`.

use crate::logs::signature::Signature;

/// The facts of one upstream's item, as the rules know them (`upstream.*`).
pub const ITEM_FACTS: &[&str] = &[
    "key",
    "upstream",
    "scheme",
    "address",
    "transport",
    "host",
    "port",
    "path",
    "name",
    "signature",
    "summary",
    "candidates",
    "http_status",
    "errno",
    "errno_text",
    "action",
    "request",
    "uri",
    "server",
    "time",
    "clock",
    "first_clock",
    "span",
    "line",
    "count",
    "failures",
    "signatures",
    "mode_count",
    "mode_since",
    "first_unix",
    "last_unix",
    "earlier",
    "earlier_count",
];

/// The item facts every item has (empty text reads as unknown, so only
/// those that can never be empty): what a message may quote unguarded.
pub const ITEM_ALWAYS: &[&str] = &[
    "key",
    "count",
    "failures",
    "signatures",
    "signature",
    "summary",
    "line",
    "mode_count",
    "earlier_count",
];

/// The facts an item has whenever its latest line has signature `sig`:
/// nginx names the upstream (and its time) on every line of a connection
/// or a response that failed; a TCP-only or unix-only signature tells the
/// address's kind. Lint lets a text after `signature == "..."` quote them.
pub fn known_with(sig: Signature) -> Vec<&'static str> {
    use Signature as S;
    let mut known = vec![
        "upstream",
        "scheme",
        "address",
        "transport",
        "time",
        "clock",
    ];
    match sig {
        S::ConnRefusedTcp | S::TcpEacces | S::PortExhaustion => known.extend(["host", "port"]),
        S::HostUnreachable | S::NetUnreachable => known.extend(["host", "port"]),
        S::UnixSocketStale | S::UnixSocketMissing | S::UnixSocketEacces | S::UnixBacklogFull => {
            known.push("path");
        }
        S::ConnectTimeout | S::NoLiveUpstreams | S::SendTimeout | S::SendReset => {}
        S::ReadHeaderTimeout | S::PrematureCloseHeader | S::ResetHeader | S::TooBigHeader => {}
        S::InvalidHeader | S::NoValidHttp | S::InvalidStatus | S::GrpcFrame => {}
        S::FastcgiProtocolVersion | S::FastcgiBadRecord | S::FastcgiClosedStdout => {}
        S::SslWrongVersion | S::SslHandshakeAlert | S::SslHandshakeTimeout => {}
        S::SslVerifyError | S::SslNameMismatch => {}
        _ => known.clear(),
    }
    known
}

/// The facts every item of built-in `builtin`'s list `list` has, whatever
/// its log line said (`rules lint` lets a text quote them unguarded).
pub fn item_always(builtin: &str, list: &str) -> &'static [&'static str] {
    match (builtin, list) {
        ("error-log", "upstreams") => ITEM_ALWAYS,
        _ => &[],
    }
}

/// The facts (without the prefix) that a failure's item, or `error-log`
/// itself, has whenever its `signature` is `id`.
pub fn known_with_signature(id: &str) -> Vec<&'static str> {
    Signature::from_id(id).map_or_else(Vec::new, known_with)
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

/// What `pass-target` sets whenever it found the pass (`describe`): its
/// description (`matched_by` brings the rest of [`pass_target::DESCRIBED`],
/// which lint applies transitively), and the settings read around it.
const PASS_FOUND: &[&str] = &[
    "matched_by",
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

/// What `backend` sets together.
pub mod backend {
    /// The facts set whenever a pool serves the address (`pool`): its file
    /// and line, its process manager, its request timeout and where each group
    /// of settings a fix edits is written. `rules lint` lets a text quote them
    /// after a branch on `exists(backend.pool)`.
    pub const WITH_POOL: &[&str] = &[
        "pool",
        "pool_file",
        "pool_line",
        "pm",
        "terminate_timeout",
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
        "backlog_at",
    ];
    /// What `rules lint` may count known with what: the pool's facts are set
    /// only for the pool that serves the address, all together; the unit is
    /// named from the binary.
    pub const SET_TOGETHER: &[(&[&str], &[&str])] = &[
        (&["pool", "pm", "max_children", "backlog"], WITH_POOL),
        (&["binary"], &["unit"]),
    ];
}

/// What `capacity` sets together.
pub mod capacity {
    /// The facts set whenever the pool was sized (`recommended_max_children`,
    /// `affordable`): `rules lint` lets a text quote them after a branch on
    /// either.
    pub const WITH_SIZING: &[&str] = &[
        "pool",
        "workers",
        "measured_with",
        "per_worker_mib",
        "per_worker_basis",
        "mem_available_mib",
        "mem_total_mib",
        "available_from",
        "cpus",
        "cpus_from",
        "cpu_bound",
        "cpu_share",
        "by_memory",
        "by_cpu",
        "recommended_max_children",
        "start_servers",
        "min_spare",
        "max_spare",
        "idle_max_mib",
        "arithmetic",
        "affordable",
    ];
    /// What `rules lint` may count known with what: a pool sized has its
    /// whole sizing.
    pub const SET_TOGETHER: &[(&[&str], &[&str])] =
        &[(&["recommended_max_children", "affordable"], WITH_SIZING)];
}

/// What `keepalive-reuse` sets together.
pub mod keepalive_reuse {
    /// What is set together: the measurement (`describe`), the group's
    /// `keepalive` line, its `keepalive_timeout` line (`config_facts`).
    pub const MEASURED: &[&str] = &["idle", "keeps_alive"];
    pub const KEEPALIVE: &[&str] = &["keepalive", "keepalive_file", "keepalive_line"];
    pub const TIMEOUT: &[&str] = &["timeout_directive", "timeout_file", "timeout_line"];
    pub const GROUP: &[&str] = &["block_at", "timeout"];
    pub const SET_TOGETHER: &[(&[&str], &[&str])] = &[
        (MEASURED, MEASURED),
        (&["suggested"], MEASURED),
        (KEEPALIVE, KEEPALIVE),
        (TIMEOUT, TIMEOUT),
        (KEEPALIVE, GROUP),
        (TIMEOUT, GROUP),
        (GROUP, GROUP),
    ];
}

/// What `local-ports` sets together.
pub mod local_ports {
    /// What is set once the range is read, and with the file that sets it.
    pub const RANGE_READ: &[&str] = &[
        "range",
        "range_size",
        "default_range",
        "narrow",
        "time_wait",
        "established",
    ];
    pub const SET_IN: &[&str] = &["set_file", "set_line", "set_text"];
    pub const SET_TOGETHER: &[(&[&str], &[&str])] = &[
        (RANGE_READ, RANGE_READ),
        (SET_IN, SET_IN),
        (SET_IN, &["range"]),
    ];
}

/// What `packet-filter` sets together.
pub mod packet_filter {
    /// What is set with the chain that stops the connection (`describe`), and
    /// with the rule in it: a text after `packet-filter.tool == "nft"` may
    /// quote the chain.
    pub const STOPPED_IN: &[&str] = &[
        "family", "table", "chain", "tool", "program", "read", "local",
    ];
    pub const STOPPED_BY: &[&str] = &["rule", "verdict", "handle"];
    pub const SET_TOGETHER: &[(&[&str], &[&str])] = &[
        (STOPPED_IN, STOPPED_IN),
        (&["policy"], STOPPED_IN),
        (STOPPED_BY, &["rule", "verdict", "chain"]),
        (&["saved_file", "saved_line"], &["saved_file", "saved_line"]),
        (&["blocked"], &["read", "local"]),
    ];
}

/// What `pass-target` sets together.
pub mod pass_target {
    /// What a chosen pass always has (`describe`), and what is set only with
    /// it (`when fact has a value, these have one`, applied transitively by
    /// lint): a text after `exists(pass-target.target_host)` may quote the
    /// pass's file and line.
    pub const DESCRIBED: &[&str] = &[
        "matched_by",
        "kind",
        "directive",
        "target",
        "file",
        "line",
        "at",
        "location",
    ];
    pub const SET_TOGETHER: &[(&[&str], &[&str])] = &[
        (DESCRIBED, DESCRIBED),
        (&["target_host", "upstream_block"], DESCRIBED),
        (&["keepalive"], &["upstream_block"]),
    ];
}

/// What `resolve` sets together.
pub mod resolve {
    /// What is set together: a DNS server's answer and the server, the
    /// resolver in effect and where it is written, the pass with a variable.
    pub const NAMESERVER: &[&str] = &["nameserver_answer", "nameserver_knows"];
    pub const RESOLVER: &[&str] = &["resolver", "resolver_at", "resolver_file", "resolver_line"];
    pub const RESOLVER_ASKED: &[&str] = &["resolver_answer", "resolver_knows"];
    pub const VARIABLE: &[&str] = &["variable_set", "variable_pass"];
    pub const SET_TOGETHER: &[(&[&str], &[&str])] = &[
        (NAMESERVER, NAMESERVER),
        (NAMESERVER, &["nameserver"]),
        (RESOLVER, RESOLVER),
        (RESOLVER_ASKED, RESOLVER_ASKED),
        (RESOLVER_ASKED, &["resolver"]),
        (VARIABLE, VARIABLE),
    ];
}

/// What `tls-peer` sets together.
pub mod tls_peer {
    /// What is set together: a certificate presented and checked
    /// (`fetch_and_check`), its common name, the TLS lines beside the pass.
    pub const CHECKED: &[&str] = &[
        "presented",
        "name_checked",
        "pem",
        "chain_trusted",
        "name_matches",
    ];
    pub const CN: &[&str] = &["cn", "cn_matches"];
    pub const TRUSTED: &[&str] = &["trusted_file", "trusted_line", "trusted_text"];
    pub const SSL_NAME: &[&str] = &["ssl_name_file", "ssl_name_line", "ssl_name_text"];
    pub const SET_TOGETHER: &[(&[&str], &[&str])] = &[
        (
            &[
                "name_checked",
                "pem",
                "chain_trusted",
                "name_matches",
                "self_signed",
            ],
            CHECKED,
        ),
        (CN, CN),
        (CN, &["pem"]),
        (TRUSTED, TRUSTED),
        (SSL_NAME, SSL_NAME),
    ];
}
