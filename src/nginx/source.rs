//! Where configuration files come from: the disk (`parse_file`) or the text of
//! `nginx -T` (`parse_dump`), which inlines every file nginx read after a
//! `# configuration file PATH:` line. The parser asks a [`Source`] for a file's
//! bytes and for the files an `include` glob names, so both routes build the
//! same tree with the same file:line attributions.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Glob rules of glob(3) as nginx calls it (no flags): `*` never crosses `/`,
/// and does not match a leading dot.
pub(crate) const GLOB_OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: true,
};

/// A place to read configuration files from.
pub(crate) trait Source {
    /// Reads at most `limit` bytes of a file (more means "too large").
    fn read(&self, path: &Path, limit: u64) -> io::Result<Vec<u8>>;
    /// Files matching an include pattern, sorted as glob(3) sorts them.
    fn glob(&self, pattern: &str) -> Result<Vec<PathBuf>, String>;
    /// A key that is equal for two names of the same file (cycle guard).
    fn identity(&self, path: &Path) -> PathBuf;
}

/// Reads files from the local file system.
pub(crate) struct Disk;

impl Source for Disk {
    fn read(&self, path: &Path, limit: u64) -> io::Result<Vec<u8>> {
        let file = File::open(path)?;
        if file.metadata()?.is_dir() {
            return Err(io::Error::other("is a directory"));
        }
        let mut bytes = Vec::new();
        file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn glob(&self, pattern: &str) -> Result<Vec<PathBuf>, String> {
        let paths = glob::glob_with(pattern, GLOB_OPTIONS).map_err(|e| e.to_string())?;
        // Unreadable directory entries are skipped, as glob(3) does by default.
        Ok(paths.filter_map(Result::ok).collect())
    }

    fn identity(&self, path: &Path) -> PathBuf {
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    }
}

/// The files of an `nginx -T` dump, by the path nginx printed.
pub(crate) struct Dump {
    /// Paths in the order nginx dumped them; the first is the main file.
    pub(crate) order: Vec<PathBuf>,
    files: HashMap<PathBuf, String>,
}

const HEADER_PREFIX: &str = "# configuration file ";

impl Dump {
    /// Splits `nginx -T` output into files. Text before the first header (the
    /// "syntax is ok" lines when stderr was captured too) is ignored. Returns
    /// None when there is no header at all.
    pub(crate) fn split(text: &str) -> Option<Dump> {
        let mut dump = Dump {
            order: Vec::new(),
            files: HashMap::new(),
        };
        let mut current: Option<(PathBuf, String)> = None;
        for line in text.split_inclusive('\n') {
            if let Some(path) = header_path(line) {
                dump.finish(current.take());
                current = Some((path, String::new()));
            } else if let Some((_, body)) = current.as_mut() {
                body.push_str(line);
            }
        }
        dump.finish(current);
        (!dump.order.is_empty()).then_some(dump)
    }

    /// Keeps the first copy of a file dumped twice (older nginx repeats them).
    fn finish(&mut self, file: Option<(PathBuf, String)>) {
        if let Some((path, body)) = file
            && !self.files.contains_key(&path)
        {
            self.order.push(path.clone());
            self.files.insert(path, body);
        }
    }

    /// Wraps one in-memory file, for parsing text that is not a dump.
    pub(crate) fn single(path: &Path, text: &str) -> Dump {
        Dump {
            order: vec![path.to_path_buf()],
            files: HashMap::from([(path.to_path_buf(), text.to_owned())]),
        }
    }
}

fn header_path(line: &str) -> Option<PathBuf> {
    let line = line.trim_end_matches(['\n', '\r']);
    let path = line.strip_prefix(HEADER_PREFIX)?.strip_suffix(':')?;
    (!path.is_empty()).then(|| PathBuf::from(path))
}

impl Source for Dump {
    fn read(&self, path: &Path, limit: u64) -> io::Result<Vec<u8>> {
        let body = self
            .files
            .get(path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not in the nginx -T output"))?;
        let end = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
        Ok(body.as_bytes()[..body.len().min(end)].to_vec())
    }

    fn glob(&self, pattern: &str) -> Result<Vec<PathBuf>, String> {
        let pattern = glob::Pattern::new(pattern).map_err(|e| e.to_string())?;
        let mut hits: Vec<PathBuf> = self
            .order
            .iter()
            .filter(|p| pattern.matches_path_with(p, GLOB_OPTIONS))
            .cloned()
            .collect();
        // glob(3) in the C locale sorts whole paths byte-wise.
        hits.sort_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
        Ok(hits)
    }

    fn identity(&self, path: &Path) -> PathBuf {
        path.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "nginx: the configuration file /c/nginx.conf syntax is ok\n\
        # configuration file /c/nginx.conf:\n\
        include conf.d/*.conf;\n\
        \n\
        # configuration file /c/conf.d/b.conf:\n\
        b;\n\
        \n\
        # configuration file /c/conf.d/a.conf:\n\
        a;\n\
        \n";

    #[test]
    fn dump_splits_on_headers_and_keeps_order() {
        let dump = Dump::split(DUMP).unwrap();
        assert_eq!(
            dump.order,
            ["/c/nginx.conf", "/c/conf.d/b.conf", "/c/conf.d/a.conf"].map(PathBuf::from)
        );
        let main = dump.read(Path::new("/c/nginx.conf"), 1000).unwrap();
        assert_eq!(main, b"include conf.d/*.conf;\n\n");
    }

    #[test]
    fn dump_glob_is_sorted_like_glob3() {
        let dump = Dump::split(DUMP).unwrap();
        let hits = dump.glob("/c/conf.d/*.conf").unwrap();
        assert_eq!(
            hits,
            ["/c/conf.d/a.conf", "/c/conf.d/b.conf"].map(PathBuf::from)
        );
    }

    #[test]
    fn text_without_header_is_not_a_dump() {
        assert!(Dump::split("user nobody;\n").is_none());
    }

    #[test]
    fn glob_star_does_not_match_hidden_files() {
        let dump = Dump::single(Path::new("/c/.hidden.conf"), "");
        assert!(dump.glob("/c/*.conf").unwrap().is_empty());
    }

    #[test]
    fn disk_read_stops_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.conf");
        std::fs::write(&path, vec![b'#'; 100]).unwrap();
        assert_eq!(Disk.read(&path, 10).unwrap().len(), 11);
    }
}
