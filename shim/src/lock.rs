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
static PID: AtomicPtr<AtomicI32> = AtomicPtr::new(core::ptr::null_mut());
// Set when that page cannot be had (a kernel before 4.14): getpid each call.
static NO_PID_PAGE: AtomicU8 = AtomicU8::new(0);

/// This process's pid, without a system call after the first.
fn my_pid() -> i32 {
    let mut page = PID.load(Ordering::Acquire);
    if page.is_null() && NO_PID_PAGE.load(Ordering::Relaxed) == 0 {
        match sys::map_wiped_on_fork() {
            Ok(p) => {
                // A thread that lost the race leaves its page unused.
                page = match PID.compare_exchange(
                    core::ptr::null_mut(),
                    p,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => p,
                    Err(winner) => winner,
                };
            }
            Err(_) => NO_PID_PAGE.store(1, Ordering::Relaxed),
        }
    }
    // SAFETY: a non-null PID points at the start of a mapped page that is
    // never unmapped; zeroed memory is a valid AtomicI32.
    let slot = unsafe { page.as_ref() };
    match slot.map(|s| s.load(Ordering::Relaxed)) {
        Some(pid) if pid != 0 => pid,
        _ => {
            let pid = sys::getpid();
            if let Some(s) = slot {
                s.store(pid, Ordering::Relaxed);
            }
            pid
        }
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
