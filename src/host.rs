//! Readers of the host itself, below the probes: the process table (`ps`), the listening-socket
//! table (`ss`), TCP/unix connects and tiny FastCGI/HTTP exchanges on loopback (`curl`), user
//! and group lookups (`id`), the php-fpm configuration (`php-fpm -tt`), and the memory and CPUs
//! processes use and may use (`/proc/PID/smaps_rollup`, `/proc/meminfo`, `/sys/fs/cgroup`). They
//! exist because the external tools are often missing in containers, print locale- and
//! version-dependent text, and need a shell to combine; reading `/proc` and talking to the
//! socket ourselves gives typed facts with no parsing guesswork. The built-in probes
//! (`probe::builtin`) turn what these read into a pack's facts.
//!
//! Everything here is best effort and read-only: an unreadable entry is skipped, never a panic.

pub mod cgroup;
pub mod connect;
pub mod cpu;
pub mod fpm_conf;
pub mod memory;
pub mod namespaces;
pub mod procs;
mod sock_diag;
pub mod sockets;
pub mod tools;
pub mod users;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A value read from a configuration file, with where it was written (for evidence and fixes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value, after quote removal and variable expansion.
    pub value: T,
    /// The file it was read from (the path actually opened).
    pub file: PathBuf,
    /// 1-based line number in `file`.
    pub line: usize,
}

impl<T> Sourced<T> {
    /// Wraps `value` read at `file:line`.
    pub fn new(value: T, file: &Path, line: usize) -> Self {
        Sourced {
            value,
            file: file.to_path_buf(),
            line,
        }
    }

    /// Keeps the location, transforms the value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Sourced<U> {
        Sourced {
            value: f(self.value),
            file: self.file,
            line: self.line,
        }
    }

    /// `file:line`, the way editors and compilers accept it.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// A stream socket address: what a server listens on and what a client connects to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// An IPv4 or IPv6 address and port.
    Tcp(SocketAddr),
    /// A unix-domain socket path (abstract sockets start with `@`, as `/proc/net/unix` shows them).
    Unix(PathBuf),
}

impl fmt::Display for Endpoint {
    /// nginx's notation: `127.0.0.1:9000`, `[::1]:9000`, `unix:/run/php/php8.2-fpm.sock`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "{addr}"),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A small host file (a resolver or firewall configuration) as text: at most `max` bytes
/// are read, so a huge or endless file (a FIFO, /dev/zero) costs no more than that.
pub fn read_capped(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max)
        .read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Replaces control characters (C0, DEL, C1) with `?` so host text is safe on a terminal.
///
/// Process titles, paths and peer replies are attacker-influenced: an escape sequence in them
/// must never reach the user's terminal unaltered.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_replaces_escape_sequences() {
        assert_eq!(sanitize("a\u{1b}[31mb\n\u{9b}c"), "a?[31mb??c");
    }

    #[test]
    fn endpoint_display_uses_nginx_notation() {
        let v6: SocketAddr = "[::1]:9000".parse().expect("literal");
        assert_eq!(Endpoint::Tcp(v6).to_string(), "[::1]:9000");
        let unix = Endpoint::Unix(PathBuf::from("/run/php.sock"));
        assert_eq!(unix.to_string(), "unix:/run/php.sock");
    }

    #[test]
    fn sourced_location_is_file_colon_line() {
        let s = Sourced::new(5u32, Path::new("/etc/php-fpm.d/www.conf"), 12);
        assert_eq!(s.location(), "/etc/php-fpm.d/www.conf:12");
        assert_eq!(s.map(|v| v * 2).value, 10);
    }
}
