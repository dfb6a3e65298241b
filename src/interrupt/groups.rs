//! The process groups of the probes running now, so that an interrupt can
//! kill them all and start no more.
//!
//! Probes run in process groups of their own, so a Ctrl-C typed at the
//! terminal never reaches them; the signal thread, which has no handle on
//! whatever engine step is running, kills them through this registry. A
//! probe is started and registered under the registry's lock, and closing
//! the registry takes the same lock: a probe either started before the
//! close, and the close kills it, or it never starts. Without that, a probe
//! started just after the kill would outlive the run.

use std::sync::{Mutex, MutexGuard};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Probe process groups, and whether new probes may still start.
#[derive(Debug)]
pub struct Groups {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    running: Vec<i32>,
    closed: bool,
}

/// The registry every probe of this process starts through.
pub static RUNNING: Groups = Groups::new();

impl Groups {
    pub const fn new() -> Self {
        Groups {
            inner: Mutex::new(Inner {
                running: Vec::new(),
                closed: false,
            }),
        }
    }

    /// Holds the registry while a probe is started: `None` once it is
    /// closed, and then nothing may be started.
    pub fn starting(&self) -> Option<Starting<'_>> {
        let inner = lock(&self.inner);
        (!inner.closed).then_some(Starting {
            groups: self,
            inner,
        })
    }

    /// SIGKILLs the group of every probe running now. It takes a lock: call
    /// it from an ordinary thread, never from a raw signal handler.
    pub fn kill_all(&self) {
        for &pgid in &lock(&self.inner).running {
            kill_group(Some(pgid));
        }
    }

    /// Kills every probe running now and lets none start after: for an
    /// interrupt, which ends the run.
    pub fn close(&self) {
        let mut inner = lock(&self.inner);
        inner.closed = true;
        for &pgid in &inner.running {
            kill_group(Some(pgid));
        }
    }
}

impl Default for Groups {
    fn default() -> Self {
        Groups::new()
    }
}

/// The registry, held while one probe starts.
pub struct Starting<'a> {
    groups: &'a Groups,
    inner: MutexGuard<'a, Inner>,
}

impl<'a> Starting<'a> {
    /// Registers the started probe's group (none when it got no usable id)
    /// and lets go of the registry.
    pub fn register(mut self, pgid: Option<i32>) -> Member<'a> {
        if let Some(pgid) = pgid {
            self.inner.running.push(pgid);
        }
        Member {
            groups: self.groups,
            pgid,
        }
    }
}

/// A registered probe group; it leaves the registry when dropped.
pub struct Member<'a> {
    groups: &'a Groups,
    pgid: Option<i32>,
}

impl Drop for Member<'_> {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid {
            lock(&self.groups.inner).running.retain(|&id| id != pgid);
        }
    }
}

/// SIGKILLs a probe's group; `None` (the probe never got a usable id) is a no-op.
pub fn kill_group(pgid: Option<i32>) {
    if let Some(pgid) = pgid {
        // ESRCH (group already gone) is the normal case and needs no action.
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}

/// A poisoned lock still holds valid data (captured bytes, the running
/// groups); a panic elsewhere must not lose them.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
