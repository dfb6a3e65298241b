//! What a built-in probe looks at, as the command a person could type to
//! see the same thing (`ss -Hxlp src /run/php.sock`, `tail -n 200 ...`):
//! shown before the probe runs in guided mode, so a person learns the
//! command rather than an internal name. Each built-in uses the same words
//! for its `shown_as` once it ran.

use super::nginx_probe::Discover;
use crate::session::Session;
use std::collections::BTreeMap;

use super::sockets_probe::endpoint;
use super::{access_log, backend, error_log, fpm_log, pass_target, protocol, sockets_probe};
use crate::host::sockets;

/// The command for built-in `name` with `params`, when there is one.
pub fn preview(
    name: &str,
    params: &BTreeMap<String, String>,
    host: &mut Session,
) -> Option<String> {
    let param = |k: &str| params.get(k).map(String::as_str);
    let target = || endpoint(params).ok();
    Some(match name {
        "nginx" => "ps -o pid=,args= -C nginx".into(),
        "error-log" => error_log::shown(&host.error_logs()),
        "access-log" => access_log::shown(&access_log::access_logs(host)),
        "pass-target" => pass_target::SHOWN.into(),
        "backend" => backend::SHOWN.into(),
        "capacity" => "ps -o pid,rss,args -C php-fpm".into(),
        "upstream-now" | "listeners" => sockets::ss_equivalent(&target()?),
        "fpm-log" => fpm_log::shown(param("path")?),
        "connect" => sockets_probe::shown_connect(&target()?),
        "http-get" => sockets_probe::shown_get(&target()?, params),
        "protocol" | "fastcgi-ping" => protocol::shown(&target()?),
        "socket-file" => sockets_probe::shown_socket_file(std::path::Path::new(param("path")?)),
        "resolve" => format!("getent hosts {}", crate::shell::quote(param("name")?)),
        _ => return None,
    })
}
