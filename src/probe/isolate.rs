//! Running a command that writes to the host (`nginx -t`) so that none of its
//! writes reach the host.
//!
//! The command runs in a private mount namespace. There, first, every mount
//! is made read-only, so a write nobody foresaw fails instead of landing.
//! Then each directory it is known to write in (a [`Writes`] list: the pid
//! file's, the logs', the temp paths' parents) is covered by a small tmpfs
//! that looks like the real directory: each entry of the real one is
//! bind-mounted back (read-only, submounts included), symlinks are
//! recreated, and the files and directories the command writes are replaced
//! by empty stand-ins with the real owner and mode. The command sees the real
//! contents, its writes land in the tmpfs, and the tmpfs goes with the
//! namespace when the command exits. No overlayfs is needed, so it works on
//! any kernel with mount namespaces, and no log is copied anywhere.
//!
//! Everything is prepared here, in the parent, before the fork: the child
//! ([`enter`]) may only make async-signal-safe calls and must not allocate.

mod enter;
mod mounts;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::{self, Metadata};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::nginx::writes::Writes;
use enter::Step;
pub(crate) use mounts::Belt;

/// Entries a covered directory may have; each becomes one bind mount, and a
/// directory of thousands of files is not one nginx writes its pid in.
const MAX_ENTRIES: usize = 2048;
/// The tmpfs only holds what the command writes: empty stand-ins, new logs.
const TMPFS_SIZE: &str = "16m";
/// How deep a chain of symlinks to a written file is followed.
const MAX_LINKS: usize = 8;
/// Kernel interfaces, not files.
const PSEUDO: [&str; 2] = ["/proc", "/sys"];

/// Everything the child needs to set the namespace up, prepared before fork.
#[derive(Debug)]
pub struct Plan {
    covers: Vec<Cover>,
    belt: Belt,
    /// The working directory to return to once the covers are in place.
    cwd: CString,
}

/// A directory covered by a tmpfs that looks like it.
#[derive(Debug)]
struct Cover {
    dir: PathBuf,
    dir_c: CString,
    /// The tmpfs's mount options: its root gets the real directory's owner and mode.
    options: CString,
    entries: Vec<Entry>,
}

/// One entry of a covered directory, recreated in the tmpfs.
#[derive(Debug)]
struct Entry {
    /// The name, relative to the real directory (the child's working directory).
    name: CString,
    /// The absolute path in the cover.
    path: CString,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// The real directory, bind-mounted with whatever is mounted below it.
    BindDir,
    /// The real file (or socket, fifo, device), bind-mounted.
    BindFile,
    /// A symlink with the same target.
    Symlink(CString),
    /// An empty stand-in for a file the command writes.
    File(Owner),
    /// An empty stand-in for a directory the command writes in or `chown`s.
    Dir(Owner),
}

#[derive(Debug, Clone, Copy)]
struct Owner {
    uid: u32,
    gid: u32,
    mode: u32,
}

impl Owner {
    fn of(meta: &Metadata) -> Owner {
        Owner {
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode() & 0o7777,
        }
    }
}

/// What the command does to a path, which decides its stand-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    File,
    Dir,
    Socket,
}

impl Plan {
    /// Plans the covers for `writes`; the error says why it cannot be isolated.
    pub fn prepare(writes: &Writes) -> Result<Plan, String> {
        Plan::prepare_with(writes, Belt::for_this_kernel()?)
    }

    /// [`Plan::prepare`] with a chosen way of making the other mounts read-only.
    pub(crate) fn prepare_with(writes: &Writes, belt: Belt) -> Result<Plan, String> {
        let mut targets: BTreeMap<PathBuf, Vec<(PathBuf, Role)>> = BTreeMap::new();
        let roles = [
            (&writes.files, Role::File),
            (&writes.dirs, Role::Dir),
            (&writes.sockets, Role::Socket),
        ];
        for (paths, role) in roles {
            for path in paths {
                place(path, role, 0, &mut targets);
            }
        }
        let mut covers = targets
            .into_iter()
            .map(|(dir, marked)| cover(dir, &marked))
            .collect::<Result<Vec<_>, _>>()?;
        // Outer directories first: an inner one is then covered on top of its
        // bind mount in the outer cover.
        covers.sort_by_key(|c| c.dir.components().count());
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        Ok(Plan {
            covers,
            belt,
            cwd: c_path(&cwd)?,
        })
    }

    /// How the command was isolated, for the report.
    pub fn describe(&self) -> String {
        let dirs: Vec<String> = self
            .covers
            .iter()
            .map(|c| c.dir.display().to_string())
            .collect();
        if dirs.is_empty() {
            return "run in a private mount namespace where every mount was read-only".to_owned();
        }
        format!(
            "run in a private mount namespace: its writes under {} went to a tmpfs, discarded \
             when it exited; every other mount was read-only",
            dirs.join(", ")
        )
    }

    /// Readies one run: the child reports a failed step on a pipe.
    pub(crate) fn arm(self: &Arc<Self>) -> io::Result<Armed> {
        let (reader, writer) = os_pipe::pipe()?;
        Ok(Armed {
            plan: Arc::clone(self),
            reader,
            writer: Some(writer),
        })
    }
}

/// A plan ready for one spawn.
pub(crate) struct Armed {
    plan: Arc<Plan>,
    reader: os_pipe::PipeReader,
    writer: Option<os_pipe::PipeWriter>,
}

impl Armed {
    /// Makes `command` enter the isolation between fork and exec.
    pub(crate) fn install(&self, command: &mut Command) {
        let plan = Arc::clone(&self.plan);
        let report = self.writer.as_ref().map_or(-1, AsRawFd::as_raw_fd);
        let hook = move || enter::enter(&plan, report);
        // SAFETY: the hook runs in the forked child before exec. `enter` makes
        // only async-signal-safe system calls on data prepared before the
        // fork, and neither allocates nor takes a lock.
        unsafe {
            command.pre_exec(hook);
        }
    }

    /// After a failed spawn: the step that failed, when it was the isolation.
    pub(crate) fn failure(mut self, error: &io::Error) -> Option<String> {
        // Our copy of the write end goes first, so the read ends at EOF when
        // the child reported nothing.
        drop(self.writer.take());
        let mut bytes = [0u8; Step::SIZE];
        self.reader.read_exact(&mut bytes).ok()?;
        let step = Step::decode(bytes);
        Some(format!("{}: {error}", step.describe(&self.plan)))
    }
}

/// Files the covered path `path` into `targets` under its real directory,
/// following symlinks to what the command would really write. A path whose
/// directory does not exist needs no cover: the command fails to create it,
/// or creates that directory first, which is another covered path.
fn place(
    path: &Path,
    role: Role,
    depth: usize,
    targets: &mut BTreeMap<PathBuf, Vec<(PathBuf, Role)>>,
) {
    // /proc and /sys are no files to change; and /proc/self/fd/2 (where
    // /dev/stderr leads) is the command's own stderr, our pipe, whatever it
    // is for this process.
    if PSEUDO.iter().any(|p| path.starts_with(p)) {
        return;
    }
    if let Ok(meta) = fs::symlink_metadata(path)
        && meta.file_type().is_symlink()
    {
        let Ok(link) = fs::read_link(path) else {
            return;
        };
        let target = path.parent().unwrap_or(Path::new("/")).join(link);
        if depth < MAX_LINKS {
            place(&target, role, depth + 1, targets);
        }
        return;
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let Ok(dir) = parent.canonicalize() else {
        return;
    };
    // Writes to devices are not file changes (a log on /dev/null); the
    // root itself cannot be covered, and stays read-only.
    let pseudo = PSEUDO.iter().any(|p| dir.starts_with(p));
    let device = fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir());
    if pseudo || (device && role != Role::Socket) || dir == Path::new("/") {
        return;
    }
    targets
        .entry(dir)
        .or_default()
        .push((PathBuf::from(name), role));
}

/// Plans the cover of `dir`, whose entries named in `marked` get stand-ins.
fn cover(dir: PathBuf, marked: &[(PathBuf, Role)]) -> Result<Cover, String> {
    let failed = |e: io::Error| format!("cannot read {}: {e}", dir.display());
    let meta = fs::metadata(&dir).map_err(failed)?;
    let mut entries = Vec::new();
    for entry in fs::read_dir(&dir).map_err(failed)? {
        let entry = entry.map_err(failed)?;
        if entries.len() == MAX_ENTRIES {
            return Err(format!(
                "{} has more than {MAX_ENTRIES} entries, too many to cover",
                dir.display()
            ));
        }
        let name = PathBuf::from(entry.file_name());
        let role = marked.iter().find(|(n, _)| *n == name).map(|(_, r)| *r);
        let path = dir.join(&name);
        let meta = fs::symlink_metadata(&path).map_err(failed)?;
        entries.push(Entry {
            name: c_path(&name)?,
            path: c_path(&path)?,
            kind: kind(&path, &meta, role)?,
        });
    }
    let owner = Owner::of(&meta);
    let options = format!(
        "size={TMPFS_SIZE},mode={:o},uid={},gid={}",
        owner.mode, owner.uid, owner.gid
    );
    Ok(Cover {
        dir_c: c_path(&dir)?,
        options: CString::new(options).map_err(|e| e.to_string())?,
        dir,
        entries,
    })
}

/// How an entry is recreated: a stand-in for what the command writes, the
/// real thing bind-mounted for the rest.
fn kind(path: &Path, meta: &Metadata, role: Option<Role>) -> Result<Kind, String> {
    let t = meta.file_type();
    Ok(match role {
        _ if t.is_symlink() => {
            let target =
                fs::read_link(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Kind::Symlink(c_path(&target)?)
        }
        Some(Role::File) if t.is_file() => Kind::File(Owner::of(meta)),
        Some(Role::Dir) if t.is_dir() => Kind::Dir(Owner::of(meta)),
        _ if t.is_dir() => Kind::BindDir,
        // Files, sockets, fifos, devices. A socket nginx listens on stays
        // itself: binding it fails with "in use", as it would on the host.
        _ => Kind::BindFile,
    })
}

fn c_path(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{} contains a NUL byte", path.display()))
}

#[cfg(test)]
mod tests;
