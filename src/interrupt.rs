//! Ctrl-C and SIGTERM: end the run with 130, take the running probes with
//! it, and never let an interrupted run deliver a result.
//!
//! Probes run in their own process groups, so a Ctrl-C typed at the terminal
//! reaches only us. The signals are blocked in every thread and received by
//! one thread with `sigwait`, so no handler runs in signal context. That
//! thread races the main thread, which sees its killed probe end and would
//! go on to report on a run that never finished. So the run has a phase,
//! changed only by compare-and-swap, and whoever changes it first wins:
//!
//! - a signal while the run diagnoses marks it interrupted *before* any probe
//!   is killed; the main thread parks for good at its next step or output,
//!   and the signal thread exits 130. Nothing is printed or written.
//! - before its first output the main thread marks the run delivering: the
//!   result is whole, and a signal now is too late to discard it; the run
//!   ends with its own status. A second signal stops it at once (a report
//!   stuck on a full pipe), still with 130.
//!
//! (Children start with an empty signal mask: std resets it at spawn.)
//! Guided prompts see Ctrl-C as a key in raw mode and end the walk themselves.
//!
//! The registry of running process groups ([`groups`]) lives here, below the
//! probes: the runner registers each probe it starts, and this module, which
//! must kill them, needs nothing from the runner.

pub(crate) mod groups;

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, pthread_sigmask, signal};

use groups::RUNNING;

const DIAGNOSING: u8 = 0;
const DELIVERING: u8 = 1;
const INTERRUPTED: u8 = 2;

/// Where the run is, as far as a signal is concerned.
static PHASE: AtomicU8 = AtomicU8::new(DIAGNOSING);

/// The fix commands a person accepted and this run started, as shown: an
/// interrupted run names them rather than say nothing was changed.
static CHANGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Notes that `command` (as shown to the person) is about to change the host.
pub fn changing(command: &str) {
    let mut changes = CHANGES.lock().unwrap_or_else(|p| p.into_inner());
    changes.push(command.to_owned());
}

/// What an interrupted run changed on the host, in words: nothing, or the
/// fix commands it started.
pub fn what_changed() -> String {
    let changes = CHANGES.lock().unwrap_or_else(|p| p.into_inner());
    if changes.is_empty() {
        return "nothing was changed".to_owned();
    }
    let list: Vec<String> = changes.iter().map(|c| format!("\n  $ {c}")).collect();
    format!(
        "the host was changed only by the fix commands you accepted:{}",
        list.concat()
    )
}

/// Parks the calling thread for good when the run was interrupted: the
/// signal thread is exiting the process with 130 at this moment. Call it
/// after each probe, which the interrupt may have killed.
pub fn stop_if_interrupted() {
    if PHASE.load(Ordering::SeqCst) == INTERRUPTED {
        park_for_good();
    }
}

/// Commits the run to delivering its result (the report, `--output`, the
/// bundle, its exit status): call it before the first output. Returns at
/// once when already committed; parks for good when a signal came first.
pub fn commit() {
    let claimed =
        PHASE.compare_exchange(DIAGNOSING, DELIVERING, Ordering::SeqCst, Ordering::SeqCst);
    if claimed == Err(INTERRUPTED) {
        park_for_good();
    }
}

fn park_for_good() -> ! {
    loop {
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
        .spawn(move || receive(&set));
    if spawned.is_err() {
        // Without the thread, restore the default so Ctrl-C still works.
        let _ = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
    }
}

/// The signal thread: waits for each signal and acts on the run's phase.
fn receive(set: &SigSet) {
    let mut deferred = false;
    while let Ok(signal) = set.wait() {
        let claimed =
            PHASE.compare_exchange(DIAGNOSING, INTERRUPTED, Ordering::SeqCst, Ordering::SeqCst);
        match claimed {
            Ok(_) => stop(&format!("interrupted ({signal}); {}", what_changed())),
            Err(_) if deferred => stop(&format!(
                "interrupted ({signal}) while the report was being written; it may be incomplete"
            )),
            Err(_) => {
                deferred = true;
                say(&format!(
                    "{signal} came as the report was being written; it is finished first \
                     (send it again to stop at once)"
                ));
            }
        }
    }
}

/// Kills the running probes, lets none start, and exits 130.
fn stop(message: &str) -> ! {
    RUNNING.close();
    say(message);
    std::process::exit(130);
}

/// Says what happened on stderr; a closed stderr must not stop the exit
/// (`eprintln!` would panic, and the thread would never exit the process).
fn say(message: &str) {
    let _ = writeln!(std::io::stderr(), "\n{message}");
}
