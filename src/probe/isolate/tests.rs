//! The isolation on this kernel, for real: a shell writes where a plan
//! covers and where it does not, and the host's files are compared before
//! and after. They need root (mount namespaces); elsewhere they say so and
//! pass without checking.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

use super::*;
use crate::probe::command::{self, CommandSpec, Outcome};

/// Path → (mode, uid, size, mtime in ns, content) of everything under `dir`.
type Snapshot = BTreeMap<PathBuf, (u32, u32, u64, i128, Vec<u8>)>;

fn snapshot(dir: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let meta = fs::symlink_metadata(&d).expect("stat");
        let mtime = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        let content = if meta.is_file() {
            fs::read(&d).expect("read")
        } else {
            Vec::new()
        };
        out.insert(
            d.clone(),
            (meta.mode(), meta.uid(), meta.len(), mtime, content),
        );
        if meta.is_dir() {
            stack.extend(
                fs::read_dir(&d)
                    .expect("read dir")
                    .map(|e| e.expect("entry").path()),
            );
        }
    }
    out
}

/// A directory with a log, a temp dir owned by root, a symlink and a subdirectory.
fn scene() -> tempfile::TempDir {
    let dir = tempfile::tempdir_in("/tmp").expect("temp dir");
    fs::write(dir.path().join("error.log"), "old line\n").expect("log");
    fs::create_dir(dir.path().join("body")).expect("temp dir");
    fs::set_permissions(dir.path().join("body"), fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::create_dir(dir.path().join("conf.d")).expect("subdir");
    fs::write(dir.path().join("conf.d/site.conf"), "server {}\n").expect("conf");
    symlink("conf.d/site.conf", dir.path().join("site")).expect("symlink");
    dir
}

fn writes_in(dir: &Path) -> Writes {
    Writes {
        files: vec![dir.join("error.log"), dir.join("nginx.pid")],
        dirs: vec![dir.join("body"), dir.join("proxy")],
        sockets: vec![dir.join("nginx.sock")],
    }
}

fn sh(script: &str) -> CommandSpec {
    CommandSpec::new(["sh", "-c", script])
}

fn root() -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        eprintln!("skipped: mount namespaces need root");
    }
    root
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn writes_in_a_covered_directory_vanish_with_the_namespace() {
    if !root() {
        return;
    }
    let dir = scene();
    let d = dir.path().display();
    let before = snapshot(dir.path());
    let plan = Arc::new(Plan::prepare(&writes_in(dir.path())).expect("plan"));
    let script = format!(
        "set -e; echo new >> {d}/error.log; : > {d}/nginx.pid; mkdir {d}/proxy; \
         chown nobody {d}/body; chmod 700 {d}/body; cat {d}/error.log; ls {d}"
    );
    let out = command::run_isolated(&sh(&script), &plan);
    assert_eq!(out.outcome, Outcome::Exited(0), "{}", text(&out.stderr));
    let seen = text(&out.stdout);
    assert!(
        seen.starts_with("new\n"),
        "the log's stand-in takes the write: {seen}"
    );
    assert!(
        seen.contains("conf.d") && seen.contains("nginx.pid"),
        "{seen}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_covered_directory_shows_the_real_entries() {
    if !root() {
        return;
    }
    let dir = scene();
    let d = dir.path().display();
    let plan = Arc::new(Plan::prepare(&writes_in(dir.path())).expect("plan"));
    let script = format!("cat {d}/site {d}/conf.d/site.conf; stat -c '%U %a' {d}/body");
    let out = command::run_isolated(&sh(&script), &plan);
    assert_eq!(out.outcome, Outcome::Exited(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "server {}\nserver {}\nroot 755\n");
}

/// A shell writes outside every cover and into a bound entry of one:
/// under `belt` both writes fail read-only, and nothing lands.
fn stray_writes_fail(belt: Belt) {
    let covered = scene();
    let other = tempfile::tempdir_in("/tmp").expect("temp dir");
    let plan = Arc::new(Plan::prepare_with(&writes_in(covered.path()), belt).expect("plan"));
    let script = format!(
        "echo x > {}/stray; echo x > {}/conf.d/site.conf",
        other.path().display(),
        covered.path().display()
    );
    let out = command::run_isolated(&sh(&script), &plan);
    assert_eq!(out.outcome, Outcome::Exited(2), "{}", text(&out.stderr));
    let refused = text(&out.stderr).matches("Read-only file system").count();
    assert_eq!(refused, 2, "{}", text(&out.stderr));
    assert!(!other.path().join("stray").exists());
}

#[test]
fn a_write_nobody_foresaw_fails_read_only() {
    if root() {
        stray_writes_fail(Belt::for_this_kernel().expect("belt"));
    }
}

#[test]
fn the_remount_fallback_makes_every_mount_read_only_too() {
    if root() {
        stray_writes_fail(Belt::remounts().expect("mountinfo"));
    }
}

#[test]
fn an_entry_gone_since_the_plan_was_made_is_left_out() {
    if !root() {
        return;
    }
    let dir = scene();
    let plan = Arc::new(Plan::prepare(&writes_in(dir.path())).expect("plan"));
    fs::remove_dir_all(dir.path().join("conf.d")).expect("remove a subdirectory");
    let out = command::run_isolated(&sh(&format!("ls {}", dir.path().display())), &plan);
    assert_eq!(out.outcome, Outcome::Exited(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "body\nerror.log\nsite\n");
}

#[test]
fn a_failed_isolation_names_its_step_and_runs_nothing() {
    if !root() {
        return;
    }
    let dir = scene();
    let plan = Arc::new(Plan::prepare(&writes_in(dir.path())).expect("plan"));
    let marker = dir.path().join("ran");
    fs::remove_dir_all(dir.path()).expect("remove the covered directory");
    let out = command::run_isolated(&sh(&format!("touch {}", marker.display())), &plan);
    let Outcome::NotIsolated(why) = out.outcome else {
        panic!("{:?}", out.outcome);
    };
    assert!(
        why.starts_with(&format!("cannot open {}", dir.path().display())),
        "{why}"
    );
    assert!(why.contains("No such file or directory"), "{why}");
}

#[test]
fn logs_on_devices_and_proc_need_no_cover() {
    // What /proc/self/fd/N leads to in this process is not what it leads to
    // in nginx's (there fd 2 is our pipe): here, a file in a temp directory.
    let file = tempfile::tempfile_in("/tmp").expect("temp file");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let writes = Writes {
        files: vec![
            PathBuf::from("/dev/null"),
            PathBuf::from("/dev/stderr"),
            PathBuf::from(format!("/proc/self/fd/{fd}")),
        ],
        ..Writes::default()
    };
    let plan = Plan::prepare(&writes).expect("plan");
    assert!(plan.covers.is_empty(), "{:?}", plan.covers);
}

#[test]
fn a_log_on_the_shared_memory_tmpfs_is_covered() {
    let writes = Writes {
        files: vec![PathBuf::from("/dev/shm/nginx-doctor-no-such.log")],
        ..Writes::default()
    };
    let plan = Plan::prepare(&writes).expect("plan");
    let dirs: Vec<&Path> = plan.covers.iter().map(|c| c.dir.as_path()).collect();
    assert_eq!(dirs, [Path::new("/dev/shm")]);
}

#[test]
fn a_directory_too_big_to_cover_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir_in("/tmp").expect("temp dir");
    for i in 0..=MAX_ENTRIES {
        fs::write(dir.path().join(i.to_string()), "").expect("entry");
    }
    let writes = Writes {
        files: vec![dir.path().join("error.log")],
        ..Writes::default()
    };
    let why = Plan::prepare(&writes).expect_err("too many entries");
    assert!(why.contains("too many to cover"), "{why}");
}
