//! Ctrl-C and SIGTERM: end the run cleanly, taking the running probe with it.
//!
//! Probes run in their own process groups, so a Ctrl-C typed at the terminal
//! reaches only us. The signals are blocked in every thread and received by
//! one thread with `sigwait`, which kills the running probes' groups and
//! exits 130 — no handler runs in signal context, and no probe outlives us.
//! (Children start with an empty signal mask: std resets it at spawn.)
//! Guided prompts see Ctrl-C as a key in raw mode and end the walk themselves.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, pthread_sigmask, signal};

use crate::probe::command;

/// Set before the running probe is killed, so the walk (which sees its
/// probe end) does not go on to print a report of an interrupted run.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Parks the calling thread for good when the run was interrupted: the
/// signal thread is exiting the process with 130 at this moment.
pub fn stop_if_interrupted() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::park();
    }
}

/// Installs the handling; call once, before any other thread starts.
pub fn install() {
    let mut set = SigSet::empty();
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // A parent may have left the signal ignored (a shell's background
        // job ignores SIGINT); an ignored signal is discarded even while
        // blocked, and sigwait would never see it.
        // SAFETY: SIG_DFL installs no handler code; nothing runs in signal
        // context.
        let _ = unsafe { signal(sig, SigHandler::SigDfl) };
        set.add(sig);
    }
    if pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).is_err() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Ok(signal) = set.wait() {
                command::kill_running();
                eprintln!("\ninterrupted ({signal}); nothing was changed");
                std::process::exit(130);
            }
        });
    if spawned.is_err() {
        // Without the thread, restore the default so Ctrl-C still works.
        let _ = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
    }
}
