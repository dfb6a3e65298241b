//! PHP's `memory_limit` for one pool: how much one request may allocate, so
//! the most a busy worker can grow to. Sizing `pm.max_children` from idle
//! workers alone once recommended thousands of them; the limit is the bound a
//! busy one works within.
//!
//! The value is found where PHP takes it, last word first: the pool's
//! `php_admin_value[memory_limit]` / `php_value[memory_limit]`, then the
//! `php.ini` php-fpm loads and the `.ini` files of its scan directory (in
//! name order, a later one overriding), then PHP's built-in default, 128M.
//! Which `php.ini` php-fpm loads is compiled into it; the candidates are the
//! distributions' (Debian `/etc/php/X.Y/fpm/`, RHEL `/etc/php.ini`, Alpine
//! `/etc/phpXY/`, the official image `/usr/local/etc/php/`), tried in the
//! order the master's binary name and configuration path make likely.

use super::Pool;
use crate::host::Sourced;
use std::path::{Path, PathBuf};

/// PHP's default `memory_limit` when nothing sets it.
pub const PHP_DEFAULT: &str = "128M";

/// Bytes read at most from one ini file (php.ini is about 70 KiB).
const READ_MAX: u64 = 1 << 20;

/// The `memory_limit` a pool's requests run with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryLimit {
    /// As written: `128M`, `-1`, `536870912`.
    pub written: String,
    /// In KiB; `None` for `-1` (no limit) or a value PHP would not read.
    pub kib: Option<u64>,
    /// Where it was set; `None` for PHP's default.
    pub at: Option<Sourced<String>>,
}

impl MemoryLimit {
    /// `128M at /etc/php/8.2/fpm/php.ini:435`, or `128M (PHP's default)`.
    pub fn describe(&self) -> String {
        match &self.at {
            Some(at) => format!("{} at {}", self.written, at.location()),
            None => format!("{} (PHP's default)", self.written),
        }
    }
}

/// The pool's `memory_limit`. `main` is php-fpm's configuration file and
/// `binary` the master's program name (`php-fpm8.2`); `root` is where the
/// host's filesystem is mounted (`/`, or a fixture).
pub fn memory_limit(pool: &Pool, main: &Path, binary: &str, root: &Path) -> MemoryLimit {
    if let Some(set) = pool_value(pool) {
        return limit(set);
    }
    for ini in ini_candidates(main, binary) {
        let on_host = under(root, &ini);
        if !on_host.is_file() {
            continue;
        }
        let mut found = read_setting(&on_host, &ini);
        for extra in scan_dir_files(root, &ini) {
            found = read_setting(&under(root, &extra), &extra).or(found);
        }
        return found.map_or_else(default, limit);
    }
    default()
}

/// The pool's own `php_admin_value[memory_limit]` or `php_value[memory_limit]`,
/// the later one written.
fn pool_value(pool: &Pool) -> Option<Sourced<String>> {
    let is_limit = |k: &str| {
        let k = k.to_ascii_lowercase();
        k == "php_admin_value[memory_limit]" || k == "php_value[memory_limit]"
    };
    let hit = pool.settings.iter().rev().find(|(k, _)| is_limit(k));
    hit.map(|(_, v)| v.clone())
}

/// The php.ini files php-fpm may load, most likely first.
fn ini_candidates(main: &Path, binary: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(dir) = main.parent() {
        out.push(dir.join("php.ini"));
    }
    let version = binary.strip_prefix("php-fpm").unwrap_or("");
    if !version.is_empty() {
        out.push(PathBuf::from(format!("/etc/php/{version}/fpm/php.ini")));
        let digits: String = version.chars().filter(char::is_ascii_digit).collect();
        out.push(PathBuf::from(format!("/etc/php{digits}/php.ini")));
    }
    out.push(PathBuf::from("/etc/php.ini"));
    out.push(PathBuf::from("/usr/local/etc/php/php.ini"));
    out
}

/// The `.ini` files PHP scans after `ini` (its `conf.d`, or RHEL's
/// `/etc/php.d` beside `/etc/php.ini`), in name order.
fn scan_dir_files(root: &Path, ini: &Path) -> Vec<PathBuf> {
    let dir = match ini.parent() {
        Some(p) if ini == Path::new("/etc/php.ini") => p.join("php.d"),
        Some(p) => p.join("conf.d"),
        None => return Vec::new(),
    };
    let Ok(entries) = std::fs::read_dir(under(root, &dir)) else {
        return Vec::new();
    };
    let mut names: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().ends_with(".ini"))
        .map(|n| dir.join(n))
        .collect();
    names.sort();
    names
}

/// The last `memory_limit = ...` of an ini file; `shown` is the path to cite.
fn read_setting(path: &Path, shown: &Path) -> Option<Sourced<String>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    let file = std::fs::File::open(path).ok()?;
    file.take(READ_MAX).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let mut found = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.split(';').next().unwrap_or("").trim();
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("memory_limit") {
            let value = value.trim().trim_matches('"').trim_matches('\'').to_owned();
            found = Some(Sourced::new(value, shown, i + 1));
        }
    }
    found
}

fn limit(at: Sourced<String>) -> MemoryLimit {
    MemoryLimit {
        written: at.value.clone(),
        kib: size_kib(&at.value),
        at: Some(at),
    }
}

fn default() -> MemoryLimit {
    MemoryLimit {
        written: PHP_DEFAULT.to_owned(),
        kib: size_kib(PHP_DEFAULT),
        at: None,
    }
}

/// PHP's size notation in KiB: bytes, or a number with `K`, `M` or `G`;
/// `None` for `-1` (no limit) and anything PHP would not read as a size.
pub fn size_kib(value: &str) -> Option<u64> {
    let v = value.trim();
    let (digits, scale) = match v.chars().last()?.to_ascii_uppercase() {
        'K' => (&v[..v.len() - 1], 1024),
        'M' => (&v[..v.len() - 1], 1024 * 1024),
        'G' => (&v[..v.len() - 1], 1024 * 1024 * 1024),
        _ => (v, 1),
    };
    let n: u64 = digits.trim().parse().ok()?;
    Some(n.checked_mul(scale)? / 1024).filter(|&k| k > 0)
}

/// `path` on the filesystem mounted at `root`.
fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn pool(settings: &[(&str, &str)]) -> Pool {
        let at = Sourced::new("www".to_owned(), Path::new("/etc/pool.conf"), 1);
        let mut p = Pool::new("www", &at);
        for (i, (k, v)) in settings.iter().enumerate() {
            let value = Sourced::new((*v).to_owned(), Path::new("/etc/pool.conf"), i + 2);
            p.settings.push(((*k).to_owned(), value));
        }
        p
    }

    fn write(root: &Path, path: &str, text: &str) {
        let p = under(root, Path::new(path));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    const MAIN: &str = "/etc/php/8.2/fpm/php-fpm.conf";

    #[test]
    fn sizes_read_as_php_reads_them() {
        assert_eq!(size_kib("128M"), Some(131_072));
        assert_eq!(size_kib("1g"), Some(1_048_576));
        assert_eq!(size_kib("512K"), Some(512));
        assert_eq!(size_kib("268435456"), Some(262_144));
        assert_eq!(size_kib("-1"), None);
        assert_eq!(size_kib("lots"), None);
    }

    #[test]
    fn the_pool_setting_wins_over_php_ini() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "/etc/php/8.2/fpm/php.ini",
            "memory_limit = 64M\n",
        );
        let p = pool(&[
            ("php_value[memory_limit]", "96M"),
            ("php_admin_value[memory_limit]", "256M"),
        ]);
        let l = memory_limit(&p, Path::new(MAIN), "php-fpm8.2", root.path());
        assert_eq!(l.describe(), "256M at /etc/pool.conf:3");
        assert_eq!(l.kib, Some(262_144));
    }

    #[test]
    fn php_ini_then_its_scan_dir_in_name_order() {
        let root = tempfile::tempdir().unwrap();
        let ini = "[PHP]\n; memory_limit = 1G\nmemory_limit = 128M ; the default\n";
        write(root.path(), "/etc/php/8.2/fpm/php.ini", ini);
        write(
            root.path(),
            "/etc/php/8.2/fpm/conf.d/10-a.ini",
            "memory_limit=\"512M\"\n",
        );
        write(
            root.path(),
            "/etc/php/8.2/fpm/conf.d/20-b.ini",
            "opcache.enable=1\n",
        );
        let l = memory_limit(&pool(&[]), Path::new(MAIN), "php-fpm8.2", root.path());
        assert_eq!(l.describe(), "512M at /etc/php/8.2/fpm/conf.d/10-a.ini:1");
        fs::remove_file(under(
            root.path(),
            Path::new("/etc/php/8.2/fpm/conf.d/10-a.ini"),
        ))
        .unwrap();
        let l = memory_limit(&pool(&[]), Path::new(MAIN), "php-fpm8.2", root.path());
        assert_eq!(l.describe(), "128M at /etc/php/8.2/fpm/php.ini:3");
    }

    #[test]
    fn a_configuration_elsewhere_finds_php_ini_by_the_binary_version() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "/etc/php/8.2/fpm/php.ini",
            "memory_limit = -1\n",
        );
        let l = memory_limit(
            &pool(&[]),
            Path::new("/srv/app/php-fpm.conf"),
            "php-fpm8.2",
            root.path(),
        );
        assert_eq!((l.written.as_str(), l.kib), ("-1", None));
    }

    #[test]
    fn rhel_scans_php_d_and_nothing_at_all_is_the_default() {
        let root = tempfile::tempdir().unwrap();
        let none = memory_limit(
            &pool(&[]),
            Path::new("/etc/php-fpm.conf"),
            "php-fpm",
            root.path(),
        );
        assert_eq!(none.describe(), "128M (PHP's default)");
        write(root.path(), "/etc/php.ini", "memory_limit = 128M\n");
        write(
            root.path(),
            "/etc/php.d/99-app.ini",
            "memory_limit = 200M\n",
        );
        let l = memory_limit(
            &pool(&[]),
            Path::new("/etc/php-fpm.conf"),
            "php-fpm",
            root.path(),
        );
        assert_eq!(l.describe(), "200M at /etc/php.d/99-app.ini:1");
    }
}
