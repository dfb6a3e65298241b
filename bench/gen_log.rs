//! Writes a realistic nginx error log for the benchmark: mostly noise
//! (client-side errors, notices, `FastCGI sent in stderr` lines, PHP stack
//! traces over several lines), about 8% upstream failures of many
//! signatures against a dozen upstreams, timestamps ascending (UTC) and
//! ending at a given time.
//!
//! Standalone (no crates), so the bench script builds it with `rustc -O`:
//!     gen_log OUTPUT BYTES [END_UNIX_SECS] [SECONDS_SPANNED]
//! Deterministic: the same arguments give the same file.

use std::env;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const UPSTREAMS: &[&str] = &[
    "http://127.0.3.11:8080",
    "http://127.0.3.12:8080",
    "http://127.0.3.13:8080",
    "http://127.0.0.1:3000",
    "http://[::1]:9000",
    "fastcgi://unix:/run/php/php8.2-fpm.sock:",
    "fastcgi://unix:/run/php/php8.1-fpm-legacy.sock:",
    "fastcgi://127.0.0.1:9000",
    "http://unix:/run/gunicorn/app.sock:",
    "https://127.0.4.20:8443",
    "grpc://127.0.5.2:50051",
    "http://api_backend",
];

/// (level, message, upstream kind): `t` any TCP/unix upstream, `u` unix only,
/// `n` none (resolver lines), `g` a group name, `s` TLS upstreams.
const FAILURES: &[(&str, &str, char)] = &[
    ("error", "connect() failed (111: Connection refused) while connecting to upstream", 't'),
    ("error", "connect() failed (111: Connection refused) while connecting to upstream", 't'),
    ("error", "connect() failed (111: Connection refused) while connecting to upstream", 't'),
    ("crit", "connect() to unix:/run/php/php8.2-fpm.sock failed (2: No such file or directory) while connecting to upstream", 'u'),
    ("error", "connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily unavailable) while connecting to upstream", 'u'),
    ("crit", "connect() to unix:/run/php/php8.2-fpm.sock failed (13: Permission denied) while connecting to upstream", 'u'),
    ("error", "connect() to unix:/run/gunicorn/app.sock failed (111: Connection refused) while connecting to upstream", 'u'),
    ("crit", "connect() to 127.0.3.11:8080 failed (99: Cannot assign requested address) while connecting to upstream", 't'),
    ("error", "connect() failed (113: No route to host) while connecting to upstream", 't'),
    ("error", "upstream timed out (110: Connection timed out) while connecting to upstream", 't'),
    ("error", "upstream timed out (110: Connection timed out) while reading response header from upstream", 't'),
    ("error", "upstream timed out (110: Connection timed out) while reading response header from upstream", 't'),
    ("error", "upstream timed out (110: Connection timed out) while sending request to upstream", 't'),
    ("error", "upstream prematurely closed connection while reading response header from upstream", 't'),
    ("error", "upstream prematurely closed connection while reading response header from upstream", 't'),
    ("error", "recv() failed (104: Connection reset by peer) while reading response header from upstream", 't'),
    ("error", "recv() failed (104: Connection reset by peer) while reading response header from upstream", 'u'),
    ("error", "writev() failed (32: Broken pipe) while sending request to upstream", 't'),
    ("error", "upstream sent too big header while reading response header from upstream", 't'),
    ("error", "upstream sent invalid header: \"X-Bad\\x01Header...\" while reading response header from upstream", 't'),
    ("error", "upstream sent unsupported FastCGI protocol version: 72 while reading response header from upstream", 'u'),
    ("error", "upstream prematurely closed FastCGI stdout while reading response header from upstream", 'u'),
    ("error", "no live upstreams while connecting to upstream", 'g'),
    ("warn", "upstream server temporarily disabled while connecting to upstream", 't'),
    ("error", "SSL_do_handshake() failed (SSL: error:0A00010B:SSL routines::wrong version number) while SSL handshaking to upstream", 's'),
    ("error", "upstream SSL certificate verify error: (20:unable to get local issuer certificate) while SSL handshaking to upstream", 's'),
    ("error", "upstream prematurely closed connection while reading upstream", 't'),
    ("error", "upstream timed out (110: Connection timed out) while reading upstream", 't'),
    ("error", "api.internal.example could not be resolved (110: Operation timed out)", 'n'),
    ("error", "upstream sent too large http2 frame: 4740180 while reading response header from upstream", 'g'),
];

const PATHS: &[&str] = &[
    "/",
    "/index.php",
    "/api/v1/orders",
    "/api/v1/items/83121?page=3",
    "/wp-login.php",
    "/checkout/cart",
    "/static/app.3f9a1c.js",
    "/search?q=red+shoes",
    "/login",
    "/graphql",
];

const PHP: &[&str] = &[
    "PHP message: PHP Warning:  Undefined variable $cart in /var/www/shop/src/Cart.php on line 87",
    "PHP message: PHP Deprecated:  strlen(): Passing null to parameter #1 ($string) of type string is deprecated in /var/www/shop/vendor/lib/Str.php on line 12",
    "PHP message: PHP Notice:  Trying to access array offset on value of type null in /var/www/shop/src/Order.php on line 230",
    "Primary script unknown",
];

struct Gen {
    rng: Rng,
}

impl Gen {
    fn context(&mut self, upstream: Option<&str>, path: &str) -> String {
        let ip = format!(
            "{}.{}.{}.{}",
            1 + self.rng.below(220),
            self.rng.below(256),
            self.rng.below(256),
            1 + self.rng.below(254)
        );
        let method = if self.rng.below(5) == 0 {
            "POST"
        } else {
            "GET"
        };
        let mut ctx = format!(
            ", client: {ip}, server: shop.example.com, request: \"{method} {path} HTTP/1.1\""
        );
        if let Some(u) = upstream {
            let uri = if u.starts_with("fastcgi") || u.starts_with("grpc") {
                ""
            } else {
                path
            };
            ctx.push_str(&format!(", upstream: \"{u}{uri}\""));
        }
        ctx.push_str(", host: \"shop.example.com\"");
        if self.rng.below(3) == 0 {
            ctx.push_str(", referrer: \"https://shop.example.com/products?id=42\"");
        }
        ctx
    }

    fn upstream_for(&mut self, kind: char) -> Option<&'static str> {
        let pick = |r: &mut Rng, idx: &[usize]| UPSTREAMS[idx[r.below(idx.len() as u64) as usize]];
        match kind {
            'u' => Some(pick(&mut self.rng, &[5, 6, 8])),
            'g' => Some(pick(&mut self.rng, &[10, 11])),
            's' => Some(UPSTREAMS[9]),
            'n' => None,
            _ => Some(pick(&mut self.rng, &[0, 1, 2, 3, 4, 7])),
        }
    }

    /// One entry (maybe several physical lines) without the timestamp.
    fn entry(&mut self) -> String {
        let pid = 2100 + self.rng.below(4);
        let conn = self.rng.below(90_000_000);
        let path = self.rng.pick(PATHS);
        let roll = self.rng.below(1000);
        let (level, body) = match roll {
            0..=79 => {
                let (level, msg, kind) = FAILURES[self.rng.below(FAILURES.len() as u64) as usize];
                let upstream = self.upstream_for(kind);
                (level, format!("*{conn} {msg}{}", self.context(upstream, path)))
            }
            80..=299 => {
                let fpm = UPSTREAMS[5];
                let php = self.rng.pick(PHP);
                let trace = if self.rng.below(20) == 0 {
                    "\nPHP message: PHP Stack trace:\nPHP message: PHP   1. {main}() /var/www/shop/index.php:0\nPHP message: PHP   2. App\\Kernel->handle() /var/www/shop/index.php:25"
                } else {
                    ""
                };
                (
                    "error",
                    format!(
                        "*{conn} FastCGI sent in stderr: \"{php}{trace}\" while reading response header from upstream{}",
                        self.context(Some(fpm), "/index.php")
                    ),
                )
            }
            300..=479 => (
                "info",
                format!(
                    "*{conn} client {} closed keepalive connection",
                    format_args!("10.1.{}.{}", self.rng.below(256), self.rng.below(256))
                ),
            ),
            480..=599 => (
                "info",
                format!(
                    "*{conn} client prematurely closed connection while sending to client{}",
                    self.context(None, path)
                ),
            ),
            600..=729 => (
                "error",
                format!(
                    "*{conn} open() \"/var/www/shop/public{path}\" failed (2: No such file or directory){}",
                    self.context(None, path)
                ),
            ),
            730..=789 => (
                "warn",
                format!(
                    "*{conn} an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/{}/00/00000{} while reading upstream{}",
                    self.rng.below(10),
                    self.rng.below(99_999),
                    self.context(Some(UPSTREAMS[0]), path)
                ),
            ),
            790..=849 => (
                "warn",
                format!(
                    "*{conn} a client request body is buffered to a temporary file /var/lib/nginx/body/00000{}{}",
                    self.rng.below(99_999),
                    self.context(None, "/api/v1/orders")
                ),
            ),
            850..=899 => (
                "error",
                format!(
                    "*{conn} limiting requests, excess: 10.{} by zone \"perip\"{}",
                    self.rng.below(1000),
                    self.context(None, path)
                ),
            ),
            900..=949 => (
                "info",
                format!("*{conn} SSL_read() failed (SSL: error:0A000126:SSL routines::unexpected eof while reading) while waiting for request, client: 10.2.0.{}, server: 0.0.0.0:443", self.rng.below(256)),
            ),
            950..=979 => (
                "error",
                format!("*{conn} access forbidden by rule{}", self.context(None, "/.env")),
            ),
            _ => ("notice", "signal process started".to_owned()),
        };
        format!("[{level}] {pid}#{pid}: {body}\n")
    }
}

/// `YYYY/MM/DD HH:MM:SS` of a Unix time, in UTC.
fn stamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // H. Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gen_log OUTPUT BYTES [END_UNIX_SECS] [SECONDS_SPANNED]");
        return ExitCode::from(2);
    }
    let Ok(size) = args[2].parse::<u64>() else {
        eprintln!("BYTES must be a number: {}", args[2]);
        return ExitCode::from(2);
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let end: i64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(now);
    let span: i64 = args
        .get(4)
        .and_then(|a| a.parse().ok())
        .unwrap_or(7 * 86_400);
    let Ok(file) = File::create(&args[1]) else {
        eprintln!("cannot create {}", args[1]);
        return ExitCode::from(1);
    };
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut gen = Gen {
        rng: Rng(0x2545_f491_4f6c_dd1d),
    };
    // Time advances with the bytes written, so the last entry is at `end`.
    let mut written = 0u64;
    while written < size {
        let t = end - span + (i128::from(written) * i128::from(span) / i128::from(size)) as i64;
        let line = format!("{} {}", stamp(t), gen.entry());
        if out.write_all(line.as_bytes()).is_err() {
            eprintln!("cannot write {}", args[1]);
            return ExitCode::from(1);
        }
        written += line.len() as u64;
    }
    if out.flush().is_err() {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
