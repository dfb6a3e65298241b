//! Windows of a file mapped into memory, safe against the file shrinking.
//!
//! Reading a file copies every byte from the page cache, which was a fifth
//! of a scan's time; a mapping shows the cached pages themselves. But a log
//! truncated while mapped (`logrotate`'s `copytruncate`) raises SIGBUS on
//! every page past its new end, which would kill the scan. So a window is
//! registered while it is mapped, and a SIGBUS handler maps a page of zeros
//! over a registered page that faults and marks its window: the reader
//! sees zeros, asks [`Mapping::faulted`] and reads that range again the
//! ordinary way. A fault anywhere else goes to the handler that was there
//! before (std's stack-overflow report) or the default action, as if this
//! one did not exist. Windows are a few MiB, so the pages a scan holds
//! mapped (its resident size) stay small whatever the file's size.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use nix::libc;

/// Windows mapped at once, process-wide; more wait for none: the caller
/// reads the ordinary way instead.
const SLOTS: usize = 64;

/// A registered window: `[start, end)` in the address space, 0 when free.
struct Slot {
    taken: AtomicBool,
    start: AtomicUsize,
    end: AtomicUsize,
    faulted: AtomicBool,
}

static REGISTERED: [Slot; SLOTS] = [const {
    Slot {
        taken: AtomicBool::new(false),
        start: AtomicUsize::new(0),
        end: AtomicUsize::new(0),
        faulted: AtomicBool::new(false),
    }
}; SLOTS];

/// The SIGBUS action before ours and the page size, once ours is installed
/// (`None` when it could not be).
static GUARD: OnceLock<Option<Guard>> = OnceLock::new();

struct Guard {
    previous: libc::sigaction,
    page: usize,
}

// The saved action is plain data read only by the handler.
unsafe impl Send for Guard {}
unsafe impl Sync for Guard {}

/// `len` bytes of a file from `offset` (a multiple of [`page_size`]),
/// mapped read-only.
pub struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
    slot: &'static Slot,
}

impl Mapping {
    /// Maps `file[offset..offset + len]`; `None` when it cannot be mapped
    /// (not a regular file, no address space, every slot taken): the
    /// caller reads it instead.
    pub fn map(file: &File, offset: u64, len: usize) -> Option<Mapping> {
        let guard = GUARD.get_or_init(install).as_ref()?;
        if len == 0 || !offset.is_multiple_of(guard.page as u64) {
            return None;
        }
        let slot = REGISTERED
            .iter()
            .find(|s| !s.taken.swap(true, Ordering::AcqRel))?;
        // SAFETY: a fresh read-only mapping of a file we hold open; nothing
        // else refers to the address range it returns.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                libc::off_t::try_from(offset).ok()?,
            )
        };
        if ptr == libc::MAP_FAILED {
            slot.taken.store(false, Ordering::Release);
            return None;
        }
        slot.faulted.store(false, Ordering::Relaxed);
        slot.end.store(ptr as usize + len, Ordering::Release);
        slot.start.store(ptr as usize, Ordering::Release);
        Some(Mapping { ptr, len, slot })
    }

    /// The window's bytes. Zeros where the file shrank under it: check
    /// [`Mapping::faulted`] after reading them.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes until dropped; a page
        // the file no longer backs reads as zeros (see the handler).
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }

    /// Whether some of the bytes read were not the file's (it shrank).
    pub fn faulted(&self) -> bool {
        self.slot.faulted.load(Ordering::Acquire)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        self.slot.start.store(0, Ordering::Release);
        self.slot.end.store(0, Ordering::Release);
        // SAFETY: unmaps exactly what `map` mapped; `bytes` borrows end
        // before the window drops.
        unsafe { libc::munmap(self.ptr, self.len) };
        self.slot.taken.store(false, Ordering::Release);
    }
}

/// The size of a page, the unit windows start at.
pub fn page_size() -> Option<usize> {
    GUARD.get_or_init(install).as_ref().map(|g| g.page)
}

fn install() -> Option<Guard> {
    // SAFETY: sysconf and sigaction with valid arguments; the handler only
    // makes async-signal-safe calls.
    unsafe {
        let page = usize::try_from(libc::sysconf(libc::_SC_PAGESIZE)).ok()?;
        let mut ours: libc::sigaction = std::mem::zeroed();
        ours.sa_sigaction = on_sigbus as *const () as usize;
        ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut ours.sa_mask);
        let mut previous: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGBUS, &ours, &mut previous) != 0 {
            return None;
        }
        Some(Guard { previous, page })
    }
}

extern "C" fn on_sigbus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let address = unsafe { (*info).si_addr() } as usize;
    let Some(Some(guard)) = GUARD.get() else {
        // Installed a moment ago and not yet recorded: no window is mapped
        // yet, and the access faults again once the guard is recorded.
        return;
    };
    for slot in &REGISTERED {
        let start = slot.start.load(Ordering::Acquire);
        if start == 0 || address < start || address >= slot.end.load(Ordering::Acquire) {
            continue;
        }
        let page = address & !(guard.page - 1);
        // SAFETY: replaces one page of a mapping this module owns with
        // zeros; mmap is a plain system call, safe in a handler.
        let zeros = unsafe {
            libc::mmap(
                page as *mut libc::c_void,
                guard.page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if zeros != libc::MAP_FAILED {
            slot.faulted.store(true, Ordering::Release);
            return;
        }
    }
    // Not ours: the faulting access runs again under the action before ours.
    // SAFETY: restores an action sigaction returned.
    unsafe { libc::sigaction(libc::SIGBUS, &guard.previous, std::ptr::null_mut()) };
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file_of(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(bytes).expect("writes");
        file
    }

    #[test]
    fn a_window_shows_the_file_at_its_offset() {
        let page = page_size().expect("maps");
        let text: Vec<u8> = (0..3 * page).map(|i| (i % 251) as u8).collect();
        let file = file_of(&text);
        let window = Mapping::map(file.as_file(), page as u64, page + 10).expect("maps");
        assert_eq!(window.bytes(), &text[page..2 * page + 10]);
        assert!(!window.faulted());
    }

    /// The file cut short (copytruncate) while mapped: the scan reads
    /// zeros and learns it, where it would have been killed by SIGBUS.
    #[test]
    fn a_file_truncated_under_its_window_reads_as_zeros_and_says_so() {
        let page = page_size().expect("maps");
        let file = file_of(&vec![b'x'; 4 * page]);
        let window = Mapping::map(file.as_file(), 0, 4 * page).expect("maps");
        file.as_file().set_len(page as u64).expect("truncates");
        let bytes = window.bytes();
        assert_eq!(bytes[page - 1], b'x');
        assert!(!window.faulted());
        assert!(bytes[page..].iter().all(|&b| b == 0));
        assert!(window.faulted());
    }

    #[test]
    fn windows_mapped_one_after_another_reuse_their_slots() {
        let page = page_size().expect("maps");
        let file = file_of(&vec![b'y'; page]);
        for _ in 0..3 * SLOTS {
            let window = Mapping::map(file.as_file(), 0, page).expect("maps");
            assert_eq!(window.bytes()[page - 1], b'y');
        }
    }

    #[test]
    fn an_offset_inside_a_page_is_not_mapped() {
        let file = file_of(b"abc");
        assert!(Mapping::map(file.as_file(), 1, 2).is_none());
    }
}
