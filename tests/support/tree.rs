//! Snapshots of directory trees, to prove a run changed nothing: every path
//! under the roots with its owner, group, mode, size, modification time and,
//! for files, content. A root that does not exist is recorded as absent, so
//! creating it is a change too.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The host directories nginx writes in when started or tested: runtime
/// (pid files), temp and cache paths, logs.
pub const HOST_DIRS: [&str; 4] = [
    "/run",
    "/var/lib/nginx",
    "/var/cache/nginx",
    "/var/log/nginx",
];

/// What one path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub size: u64,
    pub mtime_ns: i128,
    pub content: Vec<u8>,
}

impl Entry {
    /// Everything but the content, for a failure message.
    fn summary(&self) -> String {
        format!(
            "{}:{} {:o} {} bytes, mtime {} ns",
            self.uid, self.gid, self.mode, self.size, self.mtime_ns
        )
    }
}

/// Every path under some roots.
pub type Tree = BTreeMap<PathBuf, Entry>;

/// Snapshots `roots` and everything under them (symlinks are not followed).
pub fn snapshot(roots: &[&Path]) -> Tree {
    let mut tree = Tree::new();
    let mut stack: Vec<PathBuf> = roots.iter().map(|r| r.to_path_buf()).collect();
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            let entries = std::fs::read_dir(&path).expect("read a directory being snapshot");
            stack.extend(entries.flatten().map(|e| e.path()));
        }
        let content = if meta.is_file() {
            std::fs::read(&path).unwrap_or_default()
        } else {
            Vec::new()
        };
        let entry = Entry {
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode(),
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            content,
        };
        tree.insert(path, entry);
    }
    tree
}

/// The lab directory and [`HOST_DIRS`].
pub fn lab_and_host(lab: &Path) -> Tree {
    let mut roots = vec![lab];
    roots.extend(HOST_DIRS.iter().map(Path::new));
    snapshot(&roots)
}

/// Panics with every path created, removed or changed between two snapshots.
pub fn assert_unchanged(before: &Tree, after: &Tree, context: &dyn std::fmt::Display) {
    let created: Vec<_> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    let removed: Vec<_> = before.keys().filter(|p| !after.contains_key(*p)).collect();
    let changed: Vec<_> = after
        .iter()
        .filter(|(p, e)| before.get(*p).is_some_and(|b| b != *e))
        .map(|(p, e)| (p, before[p].summary(), e.summary()))
        .collect();
    assert!(
        created.is_empty() && removed.is_empty() && changed.is_empty(),
        "created: {created:?}\nremoved: {removed:?}\nchanged (before, after): {changed:?}\n{context}"
    );
}
