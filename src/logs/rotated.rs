//! A log's rotated copies, and which of them a time window reaches into.
//!
//! logrotate renames `error.log` to `error.log.1`, then compresses older
//! copies (`error.log.2.gz`, ...; Debian's `delaycompress` leaves `.1` plain);
//! with `dateext` the copies are `error.log-20261124[.gz]` instead. A window
//! that starts before the current file's first line continues in the newest
//! copy, and so on back. Only the copies the window reaches are opened, and
//! compressed ones are decompressed as they are read, never whole in memory.
//!
//! Copies other tools make (`.xz`, `.bz2`, `.zst`, `.old`) are not read.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::logs::Timestamp;

/// Bytes read from a file's start to find its first timestamped line.
const FIRST_LINE_PROBE: u64 = 64 * 1024;

/// One file of a log: the current file or a rotated copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    /// gzip-compressed (`.gz`): readable only forward, from the start.
    pub compressed: bool,
}

impl Source {
    /// The file at `path`, compressed when its name ends in `.gz`.
    pub fn new(path: &Path) -> Source {
        let compressed = path.extension().is_some_and(|e| e == "gz");
        Source {
            path: path.to_owned(),
            compressed,
        }
    }

    /// The file's text from its start, decompressed as it is read.
    pub fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        let file = File::open(&self.path)?;
        Ok(if self.compressed {
            Box::new(MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        })
    }

    /// The time of the first line `time_of` finds a timestamp in, within the
    /// first 64 KiB of text; `None` for an empty file or one without any.
    pub fn first_time<F>(&self, mut time_of: F) -> io::Result<Option<Timestamp>>
    where
        F: FnMut(&[u8]) -> Option<Timestamp>,
    {
        let mut start = Vec::new();
        self.open()?
            .take(FIRST_LINE_PROBE)
            .read_to_end(&mut start)?;
        Ok(start.split(|&b| b == b'\n').find_map(&mut time_of))
    }
}

/// Where a rotated copy stands among the others.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Age {
    /// `.N`: higher is older.
    Numbered(u64),
    /// `-DATE`: the date as written, so a later one sorts higher and is newer.
    Dated(String),
}

/// The rotated copies of the log at `path`, newest first: numbered copies
/// (`.1`, `.2.gz`, ...) by number, then dated ones (`-20261124`) newest
/// first. A directory that cannot be listed has none.
pub fn rotated_copies(path: &Path) -> Vec<Source> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = dir.read_dir() else {
        return Vec::new();
    };
    let name = name.to_string_lossy();
    let mut copies: Vec<(Age, Source)> = entries
        .flatten()
        .filter_map(|entry| {
            let file_name = entry.file_name();
            let age = copy_age(&name, file_name.to_str()?)?;
            Some((age, Source::new(&dir.join(&file_name))))
        })
        .collect();
    copies.sort_by(|(a, _), (b, _)| match (a, b) {
        (Age::Dated(x), Age::Dated(y)) => y.cmp(x),
        _ => a.cmp(b),
    });
    copies.into_iter().map(|(_, source)| source).collect()
}

/// The age of `candidate` if it is a rotated copy of the log named `name`.
fn copy_age(name: &str, candidate: &str) -> Option<Age> {
    let suffix = candidate.strip_prefix(name)?;
    let suffix = suffix.strip_suffix(".gz").unwrap_or(suffix);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(n) = suffix.strip_prefix('.').filter(|s| digits(s)) {
        return n.parse().ok().map(Age::Numbered);
    }
    // dateext: `-%Y%m%d` by default; `dateformat` may add the hour or `-%s`.
    let date = suffix.strip_prefix('-')?;
    let plausible = date.len() >= 8
        && date.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && date
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b'_');
    plausible.then(|| Age::Dated(date.to_owned()))
}

/// The files holding the lines of the log at `path` logged at or after
/// `since`, oldest first: the current file, after the rotated copies the
/// window reaches into. A copy is needed while the newer file's first line
/// is not older than `since` (or the newer file has no timestamped line, as
/// right after a rotation). `time_of` reads a line's timestamp, as for
/// [`tail_since`](super::window::tail_since). Files that cannot be read stop
/// nothing: the caller reports them when it opens them.
pub fn window_sources<F>(path: &Path, since: Timestamp, mut time_of: F) -> Vec<Source>
where
    F: FnMut(&[u8]) -> Option<Timestamp>,
{
    let current = Source::new(path);
    let mut newest_first = vec![current.clone()];
    let mut reaches_back = |source: &Source| {
        let first = source.first_time(&mut time_of).ok().flatten();
        first.is_none_or(|t| t >= since)
    };
    if current.compressed || !reaches_back(&current) {
        return newest_first;
    }
    for copy in rotated_copies(path) {
        let further = reaches_back(&copy);
        newest_first.push(copy);
        if !further {
            break;
        }
    }
    newest_first.reverse();
    newest_first
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Write as _;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;
    use crate::logs::nginx_line::line_time;

    /// Lines logged at minute `minutes` after 2026/11/24 10:00 (UTC).
    fn lines(minutes: &[u32]) -> String {
        minutes
            .iter()
            .map(|m| {
                format!(
                    "2026/11/24 1{}:{:02}:00 [error] 1#1: m{m}\n",
                    m / 60,
                    m % 60
                )
            })
            .collect()
    }

    fn at_minute(m: i64) -> Timestamp {
        Timestamp::from_unix(1_795_514_400 + m * 60)
    }

    fn write_gz(path: &Path, text: &str) {
        let mut gz = GzEncoder::new(File::create(path).expect("create"), Compression::fast());
        gz.write_all(text.as_bytes()).expect("compress");
        gz.finish().expect("finish");
    }

    /// error.log (minutes 40..), .1 (30..), .2.gz (20..), .3.gz (10..).
    fn rotated_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = |name: &str| dir.path().join(name);
        fs::write(p("error.log"), lines(&[40, 45])).expect("write");
        fs::write(p("error.log.1"), lines(&[30, 35])).expect("write");
        write_gz(&p("error.log.2.gz"), &lines(&[20, 25]));
        write_gz(&p("error.log.3.gz"), &lines(&[10, 15]));
        dir
    }

    fn names(sources: &[Source]) -> Vec<String> {
        sources
            .iter()
            .map(|s| {
                s.path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    fn sources(dir: &tempfile::TempDir, since: Timestamp) -> Vec<Source> {
        window_sources(&dir.path().join("error.log"), since, |l| line_time(l, 0))
    }

    #[test]
    fn window_inside_the_current_file_reads_only_it() {
        let dir = rotated_dir();
        assert_eq!(names(&sources(&dir, at_minute(42))), ["error.log"]);
    }

    #[test]
    fn window_reaching_into_gz_copies_lists_them_oldest_first() {
        let dir = rotated_dir();
        assert_eq!(
            names(&sources(&dir, at_minute(22))),
            ["error.log.2.gz", "error.log.1", "error.log"]
        );
    }

    #[test]
    fn window_before_every_copy_reads_them_all() {
        let dir = rotated_dir();
        let all = sources(&dir, at_minute(0));
        assert_eq!(
            names(&all),
            [
                "error.log.3.gz",
                "error.log.2.gz",
                "error.log.1",
                "error.log"
            ]
        );
        assert_eq!(
            all.iter().map(|s| s.compressed).collect::<Vec<_>>(),
            [true, true, false, false]
        );
    }

    #[test]
    fn window_starting_at_the_first_line_still_reads_the_copy_before() {
        let dir = rotated_dir();
        assert_eq!(
            names(&sources(&dir, at_minute(40))),
            ["error.log.1", "error.log"]
        );
    }

    #[test]
    fn empty_current_file_continues_in_the_newest_copy() {
        let dir = rotated_dir();
        fs::write(dir.path().join("error.log"), "").expect("truncate");
        assert_eq!(
            names(&sources(&dir, at_minute(32))),
            ["error.log.1", "error.log"]
        );
    }

    #[test]
    fn gz_copy_is_decompressed_as_it_is_read() {
        let dir = rotated_dir();
        let mut text = String::new();
        Source::new(&dir.path().join("error.log.2.gz"))
            .open()
            .expect("opens")
            .read_to_string(&mut text)
            .expect("decompresses");
        assert_eq!(text, lines(&[20, 25]));
    }

    #[test]
    fn first_time_skips_lines_without_a_timestamp() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("error.log");
        fs::write(&path, format!("rest of a stack trace\n{}", lines(&[7]))).expect("write");
        let first = Source::new(&path).first_time(|l| line_time(l, 0));
        assert_eq!(first.expect("reads"), Some(at_minute(7)));
    }

    #[test]
    fn dateext_copies_sort_newest_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in [
            "error.log",
            "error.log-20261122.gz",
            "error.log-20261124",
            "error.log-20261123.gz",
        ] {
            fs::write(dir.path().join(name), "").expect("write");
        }
        let copies = rotated_copies(&dir.path().join("error.log"));
        assert_eq!(
            names(&copies),
            [
                "error.log-20261124",
                "error.log-20261123.gz",
                "error.log-20261122.gz"
            ]
        );
    }

    #[test]
    fn numbered_copies_sort_by_number_not_by_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in ["error.log.10.gz", "error.log.2.gz", "error.log.1"] {
            fs::write(dir.path().join(name), "").expect("write");
        }
        let copies = rotated_copies(&dir.path().join("error.log"));
        assert_eq!(
            names(&copies),
            ["error.log.1", "error.log.2.gz", "error.log.10.gz"]
        );
    }

    #[test]
    fn other_files_are_not_copies() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in [
            "error.log.old",
            "error.log.1.xz",
            "error.log.gz",
            "error.log-old",
            "error.logger.1",
            "access.log.1",
            "error.log.",
        ] {
            fs::write(dir.path().join(name), "").expect("write");
        }
        assert_eq!(rotated_copies(&dir.path().join("error.log")), vec![]);
    }

    #[test]
    fn a_gz_log_named_directly_is_read_alone() {
        let dir = rotated_dir();
        let path = dir.path().join("error.log.2.gz");
        let got = window_sources(&path, at_minute(0), |l| line_time(l, 0));
        assert_eq!(got, vec![Source::new(&path)]);
        assert!(got[0].compressed);
    }

    #[test]
    fn missing_directory_has_no_copies() {
        assert_eq!(
            rotated_copies(Path::new("/nonexistent/dir/error.log")),
            vec![]
        );
    }
}
