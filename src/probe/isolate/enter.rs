//! The child's side of the isolation: between fork and exec, it unshares
//! its mount namespace, makes every mount private (so nothing propagates
//! back to the host) and read-only, then puts the covers in place.
//!
//! This runs in a child forked from a multi-threaded process, where another
//! thread may have held the allocator's lock at the fork: only raw system
//! calls on data the parent prepared, no allocation, no lock. A failed step
//! is written to the report pipe as fixed bytes for the parent to name.

use std::ffi::CStr;
use std::io;
use std::os::unix::io::RawFd;

use nix::libc::{self, c_int};

use super::mounts::Belt;
use super::{Cover, Entry, Kind, Owner, Plan};

/// Which step failed: what, in which cover, on which entry or mount point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Step {
    op: Op,
    cover: u32,
    item: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Unshare = 1,
    Private,
    ReadOnly,
    Open,
    Tmpfs,
    Enter,
    Entry,
    Return,
}

impl Step {
    pub(super) const SIZE: usize = 9;

    fn at(op: Op) -> Step {
        Step {
            op,
            cover: 0,
            item: 0,
        }
    }

    fn encode(self) -> [u8; Step::SIZE] {
        let mut bytes = [0u8; Step::SIZE];
        bytes[0] = self.op as u8;
        bytes[1..5].copy_from_slice(&self.cover.to_le_bytes());
        bytes[5..9].copy_from_slice(&self.item.to_le_bytes());
        bytes
    }

    pub(super) fn decode(bytes: [u8; Step::SIZE]) -> Step {
        let ops = [
            Op::Unshare,
            Op::Private,
            Op::ReadOnly,
            Op::Open,
            Op::Tmpfs,
            Op::Enter,
            Op::Entry,
            Op::Return,
        ];
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        Step {
            op: ops
                .into_iter()
                .find(|o| *o as u8 == bytes[0])
                .unwrap_or(Op::Unshare),
            cover: word(1),
            item: word(5),
        }
    }

    /// What the step was doing, in the plan's terms.
    pub(super) fn describe(&self, plan: &Plan) -> String {
        let cover = plan.covers.get(self.cover as usize);
        let dir = cover.map_or_else(String::new, |c| c.dir.display().to_string());
        let item = self.item as usize;
        match self.op {
            Op::Unshare => "cannot make a private mount namespace (unshare)".to_owned(),
            Op::Private => "cannot make the mounts private".to_owned(),
            Op::ReadOnly => match &plan.belt {
                Belt::Setattr => "cannot make the mounts read-only (mount_setattr)".to_owned(),
                Belt::Remount(points) => format!(
                    "cannot remount {} read-only",
                    points
                        .get(item)
                        .map_or_else(String::new, |(p, _)| p.to_string_lossy().into_owned())
                ),
            },
            Op::Open => format!("cannot open {dir}"),
            Op::Tmpfs => format!("cannot mount a tmpfs on {dir}"),
            Op::Enter => format!("cannot enter {dir}"),
            Op::Entry => format!(
                "cannot recreate {} in the tmpfs on {dir}",
                cover
                    .and_then(|c| c.entries.get(item))
                    .map_or_else(String::new, |e| e.path.to_string_lossy().into_owned())
            ),
            Op::Return => "cannot return to the working directory".to_owned(),
        }
    }
}

type Failed = (Step, io::Error);

/// Sets the namespace up; on failure writes the step to `report`.
pub(super) fn enter(plan: &Plan, report: RawFd) -> io::Result<()> {
    setup(plan).map_err(|(step, error)| {
        // If the parent cannot learn the step, it still gets the error.
        sys::write(report, &step.encode());
        error
    })
}

fn setup(plan: &Plan) -> Result<(), Failed> {
    let at = |op| move |e| (Step::at(op), e);
    sys::unshare_mounts().map_err(at(Op::Unshare))?;
    // Before any mount of ours: a shared mount would propagate it to the host.
    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None).map_err(at(Op::Private))?;
    read_only(&plan.belt)?;
    for (i, cover) in plan.covers.iter().enumerate() {
        cover_dir(index(i), cover)?;
    }
    sys::chdir(&plan.cwd)
        .or_else(|_| sys::chdir(c"/"))
        .map_err(at(Op::Return))
}

/// Makes every mount read-only; the covers mounted after it stay writable.
fn read_only(belt: &Belt) -> Result<(), Failed> {
    let Belt::Remount(points) = belt else {
        return sys::mount_setattr_read_only().map_err(|e| (Step::at(Op::ReadOnly), e));
    };
    for (n, (point, flags)) in points.iter().enumerate() {
        let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | flags;
        match sys::mount(None, point, None, flags, None) {
            // A mount point no path reaches any more cannot be written through either.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => {
                return Err((
                    Step {
                        op: Op::ReadOnly,
                        cover: 0,
                        item: index(n),
                    },
                    e,
                ));
            }
            Ok(()) => {}
        }
    }
    Ok(())
}

/// Mounts the tmpfs on the cover's directory and recreates its entries,
/// reading the real directory through a descriptor opened before it is hidden.
fn cover_dir(cover_index: u32, cover: &Cover) -> Result<(), Failed> {
    let step = |op, item| Step {
        op,
        cover: cover_index,
        item,
    };
    let real = sys::open_dir(&cover.dir_c).map_err(|e| (step(Op::Open, 0), e))?;
    let filled = fill(cover, real, &step);
    sys::close(real);
    filled
}

fn fill(cover: &Cover, real: c_int, step: &dyn Fn(Op, u32) -> Step) -> Result<(), Failed> {
    let flags = libc::MS_NOSUID | libc::MS_NODEV;
    sys::mount(
        Some(c"tmpfs"),
        &cover.dir_c,
        Some(c"tmpfs"),
        flags,
        Some(&cover.options),
    )
    .map_err(|e| (step(Op::Tmpfs, 0), e))?;
    // Entry names are then relative to the real directory, under the tmpfs.
    sys::fchdir(real).map_err(|e| (step(Op::Enter, 0), e))?;
    for (n, entry) in cover.entries.iter().enumerate() {
        make(entry).map_err(|e| (step(Op::Entry, index(n)), e))?;
    }
    Ok(())
}

fn make(entry: &Entry) -> io::Result<()> {
    let path = &entry.path;
    match &entry.kind {
        Kind::BindDir => {
            sys::mkdir(path)?;
            bind(entry, sys::rmdir)
        }
        Kind::BindFile => {
            sys::mkfile(path)?;
            bind(entry, sys::unlink)
        }
        Kind::Symlink(target) => sys::symlink(target, path),
        Kind::File(owner) => {
            sys::mkfile(path)?;
            own(path, *owner)
        }
        Kind::Dir(owner) => {
            sys::mkdir(path)?;
            own(path, *owner)
        }
    }
}

/// The real entry (the bind inherits the read-only flag), with its
/// submounts. One that went away since the plan was made (a rotated log) is
/// left out: its mount point is removed again.
fn bind(entry: &Entry, remove: fn(&CStr) -> io::Result<()>) -> io::Result<()> {
    let flags = libc::MS_BIND | libc::MS_REC;
    match sys::mount(Some(&entry.name), &entry.path, None, flags, None) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => remove(&entry.path),
        done => done,
    }
}

/// The real owner and mode; chown first, as it clears set-id bits.
fn own(path: &CStr, owner: Owner) -> io::Result<()> {
    sys::chown(path, owner.uid, owner.gid)?;
    sys::chmod(path, owner.mode)
}

fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// The system calls the child makes, each async-signal-safe, on
/// NUL-terminated strings prepared before the fork; none allocates.
mod sys {
    use std::ffi::CStr;
    use std::io;
    use std::ptr;

    use nix::libc::{self, c_int, c_ulong};

    use super::super::mounts::{MOUNT_ATTR_RDONLY, MountAttr};

    fn result(rc: c_int) -> io::Result<()> {
        match rc {
            -1 => Err(io::Error::last_os_error()),
            _ => Ok(()),
        }
    }

    fn ptr_of(s: Option<&CStr>) -> *const libc::c_char {
        s.map_or(ptr::null(), CStr::as_ptr)
    }

    pub fn unshare_mounts() -> io::Result<()> {
        // SAFETY: unshare(2) takes no pointer and is async-signal-safe.
        result(unsafe { libc::unshare(libc::CLONE_NEWNS) })
    }

    pub fn mount(
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: c_ulong,
        data: Option<&CStr>,
    ) -> io::Result<()> {
        // SAFETY: every pointer is null or a live NUL-terminated string.
        result(unsafe {
            libc::mount(
                ptr_of(source),
                target.as_ptr(),
                ptr_of(fstype),
                flags,
                ptr_of(data).cast(),
            )
        })
    }

    pub fn mount_setattr_read_only() -> io::Result<()> {
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_RDONLY,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        // SAFETY: a static path and a live `struct mount_attr` of the size given.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                c"/".as_ptr(),
                libc::AT_RECURSIVE,
                &raw const attr,
                size_of::<MountAttr>(),
            )
        };
        result(if rc == 0 { 0 } else { -1 })
    }

    pub fn open_dir(path: &CStr) -> io::Result<c_int> {
        let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: a live NUL-terminated path; open(2) is async-signal-safe.
        let fd = unsafe { libc::open(path.as_ptr(), flags) };
        result(fd).map(|()| fd)
    }

    pub fn close(fd: c_int) {
        // SAFETY: `fd` was opened by this child and is closed once.
        unsafe { libc::close(fd) };
    }

    pub fn fchdir(fd: c_int) -> io::Result<()> {
        // SAFETY: fchdir(2) takes a descriptor; it is async-signal-safe.
        result(unsafe { libc::fchdir(fd) })
    }

    pub fn chdir(path: &CStr) -> io::Result<()> {
        // SAFETY: a live NUL-terminated path.
        result(unsafe { libc::chdir(path.as_ptr()) })
    }

    pub fn mkdir(path: &CStr) -> io::Result<()> {
        // SAFETY: a live NUL-terminated path.
        result(unsafe { libc::mkdir(path.as_ptr(), 0o700) })
    }

    pub fn rmdir(path: &CStr) -> io::Result<()> {
        // SAFETY: a live NUL-terminated path.
        result(unsafe { libc::rmdir(path.as_ptr()) })
    }

    pub fn unlink(path: &CStr) -> io::Result<()> {
        // SAFETY: a live NUL-terminated path.
        result(unsafe { libc::unlink(path.as_ptr()) })
    }

    /// An empty regular file (mknod, not open: no descriptor to close).
    pub fn mkfile(path: &CStr) -> io::Result<()> {
        // SAFETY: a live NUL-terminated path; dev is unused for S_IFREG.
        result(unsafe { libc::mknod(path.as_ptr(), libc::S_IFREG | 0o600, 0) })
    }

    pub fn symlink(target: &CStr, path: &CStr) -> io::Result<()> {
        // SAFETY: two live NUL-terminated strings.
        result(unsafe { libc::symlink(target.as_ptr(), path.as_ptr()) })
    }

    pub fn chown(path: &CStr, uid: u32, gid: u32) -> io::Result<()> {
        // SAFETY: a live NUL-terminated path.
        result(unsafe { libc::chown(path.as_ptr(), uid, gid) })
    }

    pub fn chmod(path: &CStr, mode: u32) -> io::Result<()> {
        // SAFETY: a live NUL-terminated path.
        result(unsafe { libc::chmod(path.as_ptr(), mode) })
    }

    /// Best effort: the parent learns less, but still gets the error.
    pub fn write(fd: c_int, bytes: &[u8]) {
        // SAFETY: `bytes` is a live slice of the length given.
        let _ = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    }
}
