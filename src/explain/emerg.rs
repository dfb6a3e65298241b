//! Configuration and start-up errors: the `[emerg]` lines of `nginx -t`,
//! of a reload, and of a start that failed.
//!
//! Such a line is logged before any request, so it gave no client a 502 by
//! itself; what it did depends on when nginx logged it. From `nginx -t` or
//! a reload, the running nginx keeps its old configuration and the next
//! reload fails (`config-invalid`); from a start, nginx is not running at
//! all (`nginx-down`), and a proxy in front of it answers 502. The line
//! alone rarely says which, so the lines around it are read for it
//! (`test failed`, `reconfiguring`, systemd's `Failed to start`).
//!
//! The knowledge is three tables: [`KINDS`] (what each message means and
//! what to check next), [`CONTEXTS`] (the lines that say when it was
//! logged) and [`OUTCOMES`] (the causes and the effect for each). The
//! message strings are nginx 1.22's (`ngx_conf_file.c`, `ngx_inet.c`,
//! `ngx_event_openssl.c`, `ngx_connection.c`, `ngx_cycle.c`).

use std::sync::OnceLock;

use regex::{Regex, RegexSet};
use serde::Serialize;

use crate::logs::{ErrorLine, Level};

/// When nginx logs a message of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Reading the configuration: `nginx -t`, a start, a restart, a reload.
    Load,
    /// Starting: listening sockets, the pid file, the logs, temp paths.
    Start,
    /// A run without root (`nginx -t` as a user): it says nothing about
    /// the configuration.
    NotRoot,
}

/// One kind of configuration or start-up message. In `pattern`, the group
/// `what` is the value the message is about; in `meaning` and `next`,
/// `{what}` is that value and `{at}` the file:line the line names.
pub struct Kind {
    pub id: &'static str,
    pattern: &'static str,
    pub stage: Stage,
    meaning: &'static str,
    next: &'static str,
}

/// What to do after a fix of the configuration, said once for every kind.
const RETEST: &str = "Then run `sudo nginx -t` until it says the test is successful, and `sudo systemctl reload nginx`.";

pub const KINDS: &[Kind] = &[
    Kind {
        id: "unknown-directive",
        pattern: r#"^unknown directive "(?P<what>[^"]*)""#,
        stage: Stage::Load,
        meaning: "nginx does not know the directive \"{what}\": a typo, a directive of a module that is not loaded (load_module), or one of a newer nginx.",
        next: "Look at {at}. `nginx -V` lists the modules built in; `ls /etc/nginx/modules-enabled/` the dynamic ones loaded.",
    },
    Kind {
        id: "not-allowed-here",
        pattern: r#"^"(?P<what>[^"]*)" directive is not allowed here"#,
        stage: Stage::Load,
        meaning: "The directive \"{what}\" is in a block where it is not allowed (proxy_pass outside a location, say), or a `}` too early closed the block it belongs to.",
        next: "Look at {at} and at the braces before it.",
    },
    Kind {
        id: "invalid-arguments",
        pattern: r#"^invalid number of arguments in "(?P<what>[^"]*)" directive"#,
        stage: Stage::Load,
        meaning: "The directive \"{what}\" has too many or too few values: often a missing `;` that joins it with the next line, or a value with a space and no quotes.",
        next: "Look at {at}: count the values, and check the line before ends with `;`.",
    },
    Kind {
        id: "invalid-value",
        pattern: r#"^(?:"(?P<what>[^"]*)" directive invalid value|invalid value "[^"]*" in "(?P<flag>[^"]*)" directive)"#,
        stage: Stage::Load,
        meaning: "A directive has a value it does not accept (a size or time in the wrong form, or not on/off).",
        next: "Look at {at}; the directive's page on nginx.org lists what it takes.",
    },
    Kind {
        id: "duplicate",
        pattern: r#"^(?:"(?P<what>[^"]*)" directive is duplicate|duplicate (?:upstream|location|listen options for) "?(?P<dup>[^"]*)"?|a duplicate default server for (?P<server>\S+))"#,
        stage: Stage::Load,
        meaning: "Something is defined twice where nginx allows it once (a directive, an upstream or location name, a default_server): often the same file included twice, as in sites-enabled and conf.d.",
        next: "Look at {at}, and for the other definition: `sudo nginx -T 2>/dev/null | grep -n` the name.",
    },
    Kind {
        id: "syntax",
        pattern: r#"^(?:unexpected (?:"(?P<what>[^"]*)"|end of file)|directive "(?P<dir>[^"]*)" (?:is not terminated by ";"|has no opening "\{"))"#,
        stage: Stage::Load,
        meaning: "The configuration's syntax is broken: a missing or extra `{`, `}` or `;`, or an unclosed quote, just before where nginx noticed it.",
        next: "Look at {at} and the lines before it: nginx reports a missing `;` or `}` where the next thing starts.",
    },
    Kind {
        id: "host-not-found",
        pattern: r#"^host not found in (?:upstream |resolver )?"(?P<what>[^"]*)""#,
        stage: Stage::Load,
        meaning: "The host name in \"{what}\" did not resolve when nginx read the configuration: a container or service not started yet, another network, a typo, or DNS not up at boot.",
        next: "Check that the name resolves on this host (`getent hosts` with it); to resolve at request time instead, use a variable in proxy_pass and a `resolver`. The name is at {at}.",
    },
    Kind {
        id: "bad-port",
        pattern: r#"^(?:invalid|no) port in (?:upstream )?"(?P<what>[^"]*)""#,
        stage: Stage::Load,
        meaning: "The address \"{what}\" has an invalid port, or none where one is needed (fastcgi_pass, an upstream server).",
        next: "Look at {at}: a port is 1 to 65535, after a `:`.",
    },
    Kind {
        id: "unknown-variable",
        pattern: r#"^unknown "(?P<what>[^"]*)" variable"#,
        stage: Stage::Load,
        meaning: "The variable ${what} does not exist: a typo, or a module that defines it is not loaded.",
        next: "Look at {at} for the variable's spelling.",
    },
    Kind {
        id: "certificate",
        pattern: r#"^(?:cannot load certificate(?: key)? "(?P<what>[^"]*)"|SSL_CTX_use_PrivateKey\("(?P<key>[^"]*)"\) failed|no "ssl_certificate" is defined)"#,
        stage: Stage::Load,
        meaning: "nginx cannot use a TLS certificate or key: the file is missing or unreadable, not PEM, or the key does not belong to the certificate.",
        next: "Check the file named in the message exists and is readable by root, and that certificate and key match (`openssl x509 -noout -pubkey -in` the certificate against `openssl pkey -pubout -in` the key).",
    },
    Kind {
        id: "missing-file",
        pattern: r#"^open\(\) "(?P<what>[^"]*)" failed \(\d+: [^)]*\) in \S+:\d+$"#,
        stage: Stage::Load,
        meaning: "A file the configuration names, \"{what}\", cannot be opened (an include, mime.types, a key): it does not exist or root may not read it.",
        next: "Check the file exists (`sudo ls -l` it); the directive that names it is at {at}.",
    },
    Kind {
        id: "module",
        pattern: r#"^(?:dlopen\(\) "(?P<what>[^"]*)" failed|module "(?P<module>[^"]*)" (?:version \d+ instead of \d+|is not binary compatible))"#,
        stage: Stage::Load,
        meaning: "A dynamic module cannot be loaded: the file is missing, or it was built for another nginx version.",
        next: "Install the module package that matches this nginx (`nginx -v`), or remove its load_module line at {at}.",
    },
    Kind {
        id: "unknown-user",
        pattern: r#"^get(?:pw|gr)nam\("(?P<what>[^"]*)"\) failed"#,
        stage: Stage::Load,
        meaning: "The user or group \"{what}\" of the `user` directive does not exist on this host.",
        next: "Look at {at}; `getent passwd` lists the users (Debian: www-data, RHEL: nginx).",
    },
    Kind {
        id: "regex",
        pattern: r#"^pcre2?_compile\(\) failed: (?P<what>.*)"#,
        stage: Stage::Load,
        meaning: "A regular expression in the configuration (a location ~, a map, a rewrite) does not compile.",
        next: "Look at {at}: quote a regex with `{` or `;` in it.",
    },
    Kind {
        id: "hash-size",
        pattern: r#"^could not build (?P<what>\w+), you should increase"#,
        stage: Stage::Load,
        meaning: "The {what} table does not fit its buckets: a long server name (or many of them) needs a bigger *_hash_bucket_size.",
        next: "Add the size the message names to the http block (`server_names_hash_bucket_size 128;`, say).",
    },
    Kind {
        id: "buffer-sizes",
        pattern: r#"^"(?P<what>[^"]*)" must be (?:less|equal|at least|more)"#,
        stage: Stage::Load,
        meaning: "The buffer sizes of the configuration contradict each other (\"{what}\" against the buffers it must fit in).",
        next: "Look at {at} and the *_buffers and *_buffer_size near it.",
    },
    Kind {
        id: "address-in-use",
        pattern: r#"^bind\(\) to (?P<what>\S+) failed \(98: "#,
        stage: Stage::Start,
        meaning: "Another process already listens on {what}: an nginx that did not stop, Apache, or a container that publishes the port.",
        next: "`sudo ss -Htlnp` lists the listening sockets with their process; stop the other one or change nginx's `listen`, then `sudo systemctl start nginx`.",
    },
    Kind {
        id: "bind-denied",
        pattern: r#"^bind\(\) to (?P<what>\S+) failed \(13: "#,
        stage: Stage::Start,
        meaning: "nginx may not listen on {what}: a port below 1024 needs root, or SELinux does not allow nginx that port.",
        next: "Start nginx as root (the service does); with SELinux, `sudo semanage port -l | grep http_port_t` lists the ports it may use.",
    },
    Kind {
        id: "address-not-local",
        pattern: r#"^bind\(\) to (?P<what>\S+) failed \(99: "#,
        stage: Stage::Start,
        meaning: "{what} is not an address of this host, so nginx cannot listen on it.",
        next: "`ip -brief address` lists this host's addresses; listen on one of them (or on the port alone).",
    },
    Kind {
        id: "could-not-bind",
        pattern: r"^still could not bind\(\)",
        stage: Stage::Start,
        meaning: "nginx gave up opening its listening sockets after five tries; the `bind() to ... failed` lines before this one say which address and why.",
        next: "Paste the `bind() to` lines too, or see them: `sudo journalctl -u nginx -n 20 --no-pager`.",
    },
    Kind {
        id: "ipv6-disabled",
        pattern: r"^socket\(\) (?P<what>\S+) failed \(97: ",
        stage: Stage::Start,
        meaning: "The configuration listens on the IPv6 address {what}, and IPv6 is disabled on this host.",
        next: "Remove the `listen [::]:...` lines, or enable IPv6.",
    },
    Kind {
        id: "cannot-create",
        pattern: r#"^(?:open|mkdir)\(\) "(?P<what>[^"]*)" failed \((?:2|20|28|30): [^)]*\)$"#,
        stage: Stage::Start,
        meaning: "nginx cannot create \"{what}\" (a log, the pid file or a temp directory) at start: its directory is missing, or the disk is full or read-only.",
        next: "Check the directory exists (`sudo ls -ld` it) and `df -h` it.",
    },
    Kind {
        id: "not-root",
        pattern: r#"^(?:could not open error log file: )?(?:open|mkdir)\(\) "(?P<what>[^"]*)" failed \(13: [^)]*\)$"#,
        stage: Stage::NotRoot,
        meaning: "nginx may not open \"{what}\": nginx (or `nginx -t`) was run without root, or, as root, SELinux or the directory's permissions forbid it.",
        next: "Run it again with sudo: `sudo nginx -t`.",
    },
];

/// The id given to an `[emerg]` line of no known kind.
const OTHER: &str = "other-emerg";

fn kinds() -> &'static (RegexSet, Vec<Regex>) {
    static SET: OnceLock<(RegexSet, Vec<Regex>)> = OnceLock::new();
    SET.get_or_init(|| {
        let patterns = KINDS.iter().map(|k| k.pattern);
        let set = RegexSet::new(patterns.clone()).unwrap_or_else(|_| RegexSet::empty());
        (set, patterns.filter_map(|p| Regex::new(p).ok()).collect())
    })
}

/// A configuration or start-up message, recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognised {
    /// The kind's id, or `other-emerg`.
    pub id: &'static str,
    pub stage: Stage,
    /// What it means, with the value filled in (not yet escaped).
    pub meaning: String,
    /// What to check next, `{at}` still to fill.
    next: &'static str,
}

/// Whether `line` is a configuration or start-up message, and which.
/// `level_known` is false for a message pasted without its `[level]`; then
/// only the known kinds count.
pub fn recognise(line: &ErrorLine, level_known: bool) -> Option<Recognised> {
    let logged_before_requests = line.action.is_none() && line.client.is_none();
    let emergency = matches!(line.level, Level::Emerg | Level::Alert);
    if !logged_before_requests || (level_known && !emergency) {
        return None;
    }
    let (set, regexes) = kinds();
    let found = set.matches(&line.message).into_iter().next();
    match found.and_then(|at| Some((&KINDS[at], regexes.get(at)?))) {
        Some((kind, regex)) => Some(Recognised {
            id: kind.id,
            stage: kind.stage,
            meaning: fill_what(kind.meaning, regex, &line.message),
            next: kind.next,
        }),
        None if level_known && line.level == Level::Emerg => Some(other(line)),
        None => None,
    }
}

/// An `[emerg]` line of no kind in [`KINDS`]: one that names a file:line
/// is about the configuration, any other stopped a start.
fn other(line: &ErrorLine) -> Recognised {
    let (stage, meaning) = match line.config_location {
        Some(_) => (
            Stage::Load,
            "nginx cannot use its configuration: the message says why, and where.",
        ),
        None => (
            Stage::Start,
            "nginx stopped on an error it calls an emergency: the message says why.",
        ),
    };
    Recognised {
        id: OTHER,
        stage,
        meaning: meaning.to_owned(),
        next: "Look at {at}, or run `sudo nginx -t` to see the error again.",
    }
}

/// `template` with `{what}` replaced by the first group the message filled.
fn fill_what(template: &str, regex: &Regex, message: &str) -> String {
    let what = regex.captures(message).and_then(|c| {
        c.iter()
            .skip(1)
            .flatten()
            .next()
            .map(|m| m.as_str().to_owned())
    });
    template.replace("{what}", what.as_deref().unwrap_or("(unnamed)"))
}

impl Recognised {
    /// What to check next, with the place the line names (`at`).
    pub fn next(&self, at: Option<&str>) -> String {
        let at = at.unwrap_or("the file and line `sudo nginx -t` names");
        let next = self.next.replace("{at}", at);
        match self.stage {
            Stage::Load => format!("{next} {RETEST}"),
            Stage::Start | Stage::NotRoot => next,
        }
    }
}

#[cfg(test)]
mod tests;
