//! The process-wide lock around the shim's state.
//!
//! Not a pthread mutex: a child forked while another thread held one would
//! inherit it locked forever, and `pthread_atfork` would pull in glibc's
//! `__register_atfork`, which musl lacks. The lock word holds the holder's
//! pid instead: a child that finds its parent's pid there knows the holder
//! thread does not exist in it and takes the lock over. Waiting is bounded
//! by the caller's deadline, so a signal handler that re-enters the API
//! fails with EAGAIN instead of deadlocking.

use crate::client::Deadline;
use crate::sys;
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicU8, Ordering};
use proto::Errno;

// In .bss, in the page of .data (see `state::STATE`).
static HOLDER: AtomicI32 = AtomicI32::new(0);

/// Proof that the lock is held, by this process; releases it on drop.
pub struct Guard {
    /// This process's pid, as the lock word holds it.
    pub pid: i32,
}

// This process's pid, in a page the kernel zeroes in a forked child
// (`MADV_WIPEONFORK`): one `getpid` per process instead of one per call
// (10,000 system calls for `who` over 10,000 entries, a tenth of its own).
// Mapped only after [`PAGE_AFTER`] calls: the page costs a map, an
// madvise and a fault (about 5 us on a VM), as much as 30 `getpid`s, and
// most programs (`who` over a few sessions, `login`) make fewer calls.
static PID: AtomicPtr<AtomicI32> = AtomicPtr::new(core::ptr::null_mut());
// Calls that took `getpid`, up to PAGE_AFTER, or NO_PAGE when the page
// cannot be had (a kernel before 4.14): `getpid` each call.
static CALLS: AtomicU8 = AtomicU8::new(0);
const PAGE_AFTER: u8 = 32;
const NO_PAGE: u8 = u8::MAX;

/// This process's pid, without a system call once the page is mapped.
fn my_pid() -> i32 {
    let mut page = PID.load(Ordering::Acquire);
    if page.is_null() {
        // A forked child inherits the count: it only decides when to map.
        match CALLS.load(Ordering::Relaxed) {
            NO_PAGE => return sys::getpid(),
            n if n < PAGE_AFTER => {
                CALLS.store(n + 1, Ordering::Relaxed);
                return sys::getpid();
            }
            _ => match sys::map_wiped_on_fork() {
                // A thread that lost the race leaves its page unused.
                Ok(p) => {
                    page = match PID.compare_exchange(
                        core::ptr::null_mut(),
                        p,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => p,
                        Err(winner) => winner,
                    }
                }
                Err(_) => {
                    CALLS.store(NO_PAGE, Ordering::Relaxed);
                    return sys::getpid();
                }
            },
        }
    }
    // SAFETY: a non-null PID points at the start of a mapped page that is
    // never unmapped; zeroed memory is a valid AtomicI32.
    let slot = unsafe { &*page };
    match slot.load(Ordering::Relaxed) {
        0 => {
            let pid = sys::getpid();
            slot.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// Takes the lock, or fails with EAGAIN at `deadline`.
pub fn acquire(deadline: Deadline) -> Result<Guard, Errno> {
    let me = my_pid();
    let mut pause_us = 1;
    loop {
        match HOLDER.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => return Ok(Guard { pid: me }),
            Err(holder) if holder != me => {
                // Inherited across fork(): the holder is not in this process.
                if HOLDER
                    .compare_exchange(holder, me, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Ok(Guard { pid: me });
                }
            }
            Err(_) => {}
        }
        if deadline.expired() {
            return Err(Errno::EAGAIN);
        }
        sys::sleep_us(pause_us);
        pause_us = (pause_us * 2).min(1000);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        HOLDER.store(0, Ordering::Release);
    }
}
