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
use core::sync::atomic::{AtomicI32, Ordering};
use proto::Errno;

// In .data (see `state::STATE`).
#[unsafe(link_section = ".data.utmps")]
static HOLDER: AtomicI32 = AtomicI32::new(0);

/// Proof that the lock is held, by this process; releases it on drop.
pub struct Guard {
    /// This process's pid, as the lock word holds it.
    pub pid: i32,
}

/// Takes the lock, or fails with EAGAIN at `deadline`.
pub fn acquire(deadline: Deadline) -> Result<Guard, Errno> {
    let me = sys::getpid();
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
