//! Users and groups: uid/gid ↔ name, a user's group set, and whether a user may connect to a
//! unix socket. The socket check exists because the probe usually runs as root, which bypasses
//! file permissions: connecting ourselves cannot reproduce nginx's `(13: Permission denied)`,
//! so the permission bits are evaluated for the nginx worker's user instead.
//!
//! Lookups go through the C library (`getpwuid_r`, `getgrouplist`), so users from LDAP/sssd
//! resolve the same way they do for nginx and php-fpm.

use nix::unistd::{Gid, Group, Uid, User};
use std::ffi::CString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A user with every group it belongs to, as the kernel will see it after `initgroups()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Primary and supplementary group ids, primary first, no duplicates.
    pub groups: Vec<u32>,
}

impl Account {
    /// Looks a user up by name; `None` when the name is unknown or the lookup failed.
    pub fn by_name(name: &str) -> Option<Account> {
        let user = User::from_name(name).ok().flatten()?;
        Some(Account::from_user(user))
    }

    /// Looks a user up by uid; `None` when the uid has no passwd entry.
    pub fn by_uid(uid: u32) -> Option<Account> {
        let user = User::from_uid(Uid::from_raw(uid)).ok().flatten()?;
        Some(Account::from_user(user))
    }

    fn from_user(user: User) -> Account {
        let groups = group_ids(&user.name, user.gid.as_raw());
        Account {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            groups,
        }
    }

    /// Whether `gid` is the primary or a supplementary group of this user.
    pub fn in_group(&self, gid: u32) -> bool {
        self.groups.contains(&gid)
    }

    /// Names of this user's groups (numeric ids where a group has no name), primary first.
    pub fn group_names(&self) -> Vec<String> {
        let name_or_id = |g: &u32| group_name(*g).unwrap_or_else(|| g.to_string());
        self.groups.iter().map(name_or_id).collect()
    }
}

/// The primary group followed by the supplementary groups of `user`.
fn group_ids(user: &str, primary: u32) -> Vec<u32> {
    let mut ids = vec![primary];
    let Ok(cname) = CString::new(user) else {
        return ids;
    };
    if let Ok(gids) = nix::unistd::getgrouplist(&cname, Gid::from_raw(primary)) {
        for gid in gids.into_iter().map(Gid::as_raw) {
            if !ids.contains(&gid) {
                ids.push(gid);
            }
        }
    }
    ids
}

/// The login name of `uid`, if it has a passwd entry.
pub fn user_name(uid: u32) -> Option<String> {
    User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// The uid of the user called `name`.
pub fn uid_of(name: &str) -> Option<u32> {
    User::from_name(name).ok().flatten().map(|u| u.uid.as_raw())
}

/// The name of group `gid`, if it has a group entry.
pub fn group_name(gid: u32) -> Option<String> {
    Group::from_gid(Gid::from_raw(gid))
        .ok()
        .flatten()
        .map(|g| g.name)
}

/// The gid of the group called `name`.
pub fn gid_of(name: &str) -> Option<u32> {
    Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
}

/// The effective uid of this process (0 when the probes can see everything).
pub fn euid() -> u32 {
    Uid::effective().as_raw()
}

/// Whether a user may connect to a unix socket, judged from owner, group and mode bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketAccess {
    /// The user can search every directory on the way and write the socket.
    Allowed,
    /// The path (or a directory on the way) does not exist or cannot be inspected.
    Missing(PathBuf),
    /// A directory on the way lacks search (`x`) permission for the user.
    DirectoryNotSearchable(PathBuf),
    /// The socket itself lacks write permission for the user (`listen.owner/group/mode`).
    SocketNotWritable {
        /// Owner uid of the socket.
        owner: u32,
        /// Group gid of the socket.
        group: u32,
        /// Permission bits, e.g. `0o660`.
        mode: u32,
    },
}

/// Evaluates whether `user` may `connect()` to the unix socket at `path`: search permission on
/// every ancestor directory and write permission on the socket (what Linux requires).
///
/// Limits: POSIX ACLs (`listen.acl_users`, `setfacl`) and SELinux/AppArmor are not evaluated,
/// so `SocketNotWritable` on a socket with an ACL may be wrong; symlinks are followed.
pub fn unix_socket_access(path: &Path, user: &Account) -> SocketAccess {
    for dir in path
        .ancestors()
        .skip(1)
        .filter(|d| !d.as_os_str().is_empty())
    {
        let Ok(meta) = std::fs::metadata(dir) else {
            return SocketAccess::Missing(dir.to_path_buf());
        };
        if !permits(user, meta.uid(), meta.gid(), meta.permissions().mode(), 0o1) {
            return SocketAccess::DirectoryNotSearchable(dir.to_path_buf());
        }
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return SocketAccess::Missing(path.to_path_buf());
    };
    let mode = meta.permissions().mode() & 0o7777;
    if permits(user, meta.uid(), meta.gid(), mode, 0o2) {
        SocketAccess::Allowed
    } else {
        SocketAccess::SocketNotWritable {
            owner: meta.uid(),
            group: meta.gid(),
            mode,
        }
    }
}

/// Classic DAC: the owner class wins over group, group over other; root bypasses all
/// (CAP_DAC_OVERRIDE, which also grants search on directories).
fn permits(user: &Account, owner: u32, group: u32, mode: u32, bit: u32) -> bool {
    if user.uid == 0 {
        return true;
    }
    let class_shift = if user.uid == owner {
        6
    } else if user.in_group(group) {
        3
    } else {
        0
    };
    (mode >> class_shift) & bit != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn account(uid: u32, groups: &[u32]) -> Account {
        Account {
            name: format!("u{uid}"),
            uid,
            gid: groups[0],
            groups: groups.to_vec(),
        }
    }

    #[test]
    fn root_resolves_both_ways() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert_eq!(uid_of("root"), Some(0));
        assert_eq!(gid_of("root"), Some(0));
        assert_eq!(group_name(0).as_deref(), Some("root"));
    }

    #[test]
    fn unknown_names_resolve_to_none() {
        assert_eq!(uid_of("no-such-user-nginx-doctor"), None);
        assert_eq!(gid_of("no-such-group-nginx-doctor"), None);
        assert!(Account::by_name("bad\0name").is_none());
    }

    #[test]
    fn account_lists_primary_group_first() {
        let nobody = Account::by_name("nobody").expect("nobody exists on Debian");
        assert_eq!(nobody.groups.first(), Some(&nobody.gid));
        assert_eq!(Account::by_uid(nobody.uid), Some(nobody.clone()));
        assert!(nobody.in_group(nobody.gid));
    }

    #[test]
    fn euid_matches_the_process_owner() {
        let meta = fs::metadata("/proc/self").expect("procfs");
        assert_eq!(euid(), meta.uid());
    }

    #[test]
    fn owner_bits_win_over_group_bits() {
        // mode 0o070: the owner is denied even though the group could write.
        assert!(!permits(&account(5, &[7]), 5, 7, 0o070, 0o2));
        assert!(permits(&account(6, &[7]), 5, 7, 0o070, 0o2));
    }

    #[test]
    fn supplementary_group_grants_write() {
        assert!(permits(&account(33, &[33, 998]), 0, 998, 0o660, 0o2));
        assert!(!permits(&account(33, &[33]), 0, 998, 0o660, 0o2));
    }

    #[test]
    fn root_bypasses_mode_bits() {
        assert!(permits(&account(0, &[0]), 5, 5, 0o000, 0o2));
    }

    #[test]
    fn socket_access_reports_the_first_closed_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let locked = tmp.path().join("locked");
        fs::create_dir(&locked).expect("mkdir");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).expect("chmod");
        let sock = locked.join("php.sock");
        fs::write(&sock, b"").expect("placeholder file");
        fs::set_permissions(&sock, fs::Permissions::from_mode(0o666)).expect("chmod");
        let stranger = account(54321, &[54321]);
        let got = unix_socket_access(&sock, &stranger);
        assert_eq!(got, SocketAccess::DirectoryNotSearchable(locked));
    }

    #[test]
    fn socket_access_reports_owner_group_and_mode() {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let sock = tmp.path().join("php.sock");
        fs::write(&sock, b"").expect("placeholder file");
        fs::set_permissions(&sock, fs::Permissions::from_mode(0o660)).expect("chmod");
        let meta = fs::metadata(&sock).expect("stat");
        let stranger = account(54321, &[54321]);
        let expected = SocketAccess::SocketNotWritable {
            owner: meta.uid(),
            group: meta.gid(),
            mode: 0o660,
        };
        assert_eq!(unix_socket_access(&sock, &stranger), expected);
        let member = account(54321, &[54321, meta.gid()]);
        assert_eq!(unix_socket_access(&sock, &member), SocketAccess::Allowed);
    }

    #[test]
    fn socket_access_reports_a_missing_socket() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let sock = tmp.path().join("absent.sock");
        let got = unix_socket_access(&sock, &account(0, &[0]));
        assert_eq!(got, SocketAccess::Missing(sock));
    }
}
