//! How the child makes every mount it inherited read-only: one
//! `mount_setattr(2)` over the whole tree (Linux 5.12), or, on older
//! kernels, a read-only remount of each mount point listed in
//! `/proc/self/mountinfo` when the plan was made.

use std::ffi::CString;

use nix::libc::{self, c_ulong};

/// `MOUNT_ATTR_RDONLY` of `<linux/mount.h>` (not in the libc crate).
pub(super) const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// `struct mount_attr` of `<linux/mount.h>`.
#[repr(C)]
pub(super) struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// The way the child makes every inherited mount read-only.
#[derive(Debug)]
pub(crate) enum Belt {
    /// One recursive `mount_setattr` on `/`.
    Setattr,
    /// A bind remount of each mount point, keeping its other flags.
    Remount(Vec<(CString, c_ulong)>),
}

impl Belt {
    /// `Setattr` where the kernel has `mount_setattr`, else the remounts.
    pub(crate) fn for_this_kernel() -> Result<Belt, String> {
        if has_mount_setattr() {
            return Ok(Belt::Setattr);
        }
        Belt::remounts()
    }

    /// Every mount point of this process, from `/proc/self/mountinfo`.
    pub(crate) fn remounts() -> Result<Belt, String> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
        let mut points = Vec::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let (Some(point), Some(options)) = (fields.get(4), fields.get(5)) else {
                continue;
            };
            let point = CString::new(unescape(point))
                .map_err(|_| format!("a mount point with a NUL byte: {point}"))?;
            points.push((point, flags(options)));
        }
        Ok(Belt::Remount(points))
    }
}

/// Asks the kernel for `mount_setattr` with arguments it rejects before
/// doing anything: ENOSYS means it has none.
fn has_mount_setattr() -> bool {
    // SAFETY: a null path and attribute with size 0 are refused (EINVAL or
    // EFAULT) before the kernel touches any mount; nothing is changed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            -1,
            std::ptr::null::<libc::c_char>(),
            0,
            std::ptr::null::<MountAttr>(),
            0,
        )
    };
    !(rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS))
}

/// The per-mount flags a bind remount must repeat, or it would clear them.
fn flags(options: &str) -> c_ulong {
    options
        .split(',')
        .map(|o| match o {
            "nosuid" => libc::MS_NOSUID,
            "nodev" => libc::MS_NODEV,
            "noexec" => libc::MS_NOEXEC,
            "noatime" => libc::MS_NOATIME,
            "nodiratime" => libc::MS_NODIRATIME,
            "relatime" => libc::MS_RELATIME,
            "strictatime" => libc::MS_STRICTATIME,
            _ => 0,
        })
        .fold(0, |all, f| all | f)
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> Vec<u8> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push(d.iter().fold(0u8, |v, b| v.wrapping_mul(8) + (b - b'0')));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape(r"/mnt/a\040b\134c"), b"/mnt/a b\\c");
        assert_eq!(unescape(r"/x\0"), b"/x\\0");
    }

    #[test]
    fn remounts_keep_the_mount_flags() {
        let f = flags("rw,nosuid,nodev,relatime");
        assert_eq!(f, libc::MS_NOSUID | libc::MS_NODEV | libc::MS_RELATIME);
    }

    #[test]
    fn every_mount_point_is_listed_for_remounts() {
        let Ok(Belt::Remount(points)) = Belt::remounts() else {
            panic!("mountinfo read");
        };
        assert!(points.iter().any(|(p, _)| p.as_bytes() == b"/"));
    }
}
