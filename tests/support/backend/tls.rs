//! The TLS backend: `openssl s_server -www` on a free loopback port with a self-signed
//! certificate made at test time, so no key material lives in the repository. Without
//! the `openssl` command the TLS scenarios cannot run and say so (`available`).

use super::Backend;
use crate::support::proc::Guard;
use std::fs::{self, File};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The name the backend's certificate is made out to (CN and subjectAltName).
pub const NAME: &str = "backend.test";
const OPENSSL: &str = "openssl";
/// Bound on s_server announcing its port.
const START_LIMIT: Duration = Duration::from_secs(10);

/// Whether the `openssl` command is installed.
pub fn available() -> bool {
    Command::new(OPENSSL)
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Writes a self-signed certificate for `cn` and its key into `dir` as `STEM.pem` and
/// `STEM-key.pem`; returns the certificate's path. P-256 keys: fast to make.
pub fn self_signed(dir: &Path, stem: &str, cn: &str) -> io::Result<PathBuf> {
    let cert = dir.join(format!("{stem}.pem"));
    let key = dir.join(format!("{stem}-key.pem"));
    let out = Command::new(OPENSSL)
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "30"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(["-subj", &format!("/CN={cn}")])
        .args(["-addext", &format!("subjectAltName=DNS:{cn}")])
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "openssl req failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(cert)
}

/// Starts `openssl s_server` on 127.0.0.1 (port chosen by the kernel, read back from
/// its `ACCEPT 127.0.0.1:PORT` line), serving HTTPS with a fresh self-signed certificate.
pub(super) fn start() -> io::Result<Backend> {
    let dir = TempDir::with_prefix("ngxtls-")?;
    let cert = self_signed(dir.path(), "cert", NAME)?;
    let key = dir.path().join("cert-key.pem");
    let out_path = dir.path().join("s_server.out");
    let out = File::create(&out_path)?;
    let mut cmd = Command::new(OPENSSL);
    cmd.args(["s_server", "-accept", "127.0.0.1:0", "-www", "-cert"])
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    let mut guard = Guard::spawn("openssl s_server", &mut cmd)?;
    let addr = announced_addr(&out_path, &mut guard)?;
    Ok(Backend::process(addr, guard, dir))
}

/// Waits for s_server's `ACCEPT host:port` line.
fn announced_addr(out: &Path, server: &mut Guard) -> io::Result<SocketAddr> {
    let deadline = Instant::now() + START_LIMIT;
    loop {
        let text = fs::read_to_string(out).unwrap_or_default();
        let addr = text
            .lines()
            .find_map(|l| l.strip_prefix("ACCEPT "))
            .and_then(|a| a.trim().parse().ok());
        if let Some(addr) = addr {
            return Ok(addr);
        }
        if server.exited().is_some() || Instant::now() >= deadline {
            return Err(io::Error::other(format!(
                "openssl s_server did not start: {text}"
            )));
        }
        sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::backend::Mode;
    use std::net::TcpStream;

    #[test]
    fn tls_backend_accepts_on_the_announced_port() {
        if !available() {
            eprintln!("skipped: no openssl command");
            return;
        }
        let b = Backend::start(Mode::Tls).expect("start TLS backend");
        assert!(TcpStream::connect(b.addr()).is_ok(), "{:?}", b.addr());
    }

    #[test]
    fn self_signed_writes_certificate_and_key() {
        if !available() {
            eprintln!("skipped: no openssl command");
            return;
        }
        let dir = TempDir::new().expect("tempdir");
        let cert = self_signed(dir.path(), "ca", "other.test").expect("openssl req");
        let pem = fs::read_to_string(&cert).expect("read cert");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        assert!(dir.path().join("ca-key.pem").exists());
    }
}
