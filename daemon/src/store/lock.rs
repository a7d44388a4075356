//! The writers' lock: writers come first, readers never hold anything a
//! writer waits for, and nobody waits longer than their client does.
//!
//! Locks on the daemon's private lock file (mode 0600, so only the daemons
//! ever take them):
//! - the **gate**, a POSIX record lock (`fcntl`) on its first byte, which
//!   writers alone take, exclusive;
//! - the **data lock**, an `flock` (on Linux the two kinds never
//!   conflict): readers share it for one chunk (a few KiB to 100 KiB) at a
//!   time, as glibc locks each record read; writers take it exclusive;
//! - **scan slots**, POSIX locks on bytes far past the gate,
//!   [`SCANS_PER_USER`] per user (one: two let 80 scanners slow root's
//!   writes twice as much): an ordinary user's reader holds one for its
//!   chunk.
//!
//! A writer takes the gate, so from then on no reader starts a chunk (a
//! reader only looks at the gate, `F_GETLK`, and backs off while it is
//! held), the chunks in flight end, and the writer takes the data lock
//! exclusive. Readers never take the gate: when they did (shared, for an
//! instant), forty scanners on two CPUs always had one preempted while it
//! held it, and a writer waited for the scans to end. The slots bound how
//! many chunks one user reads at once, whatever their number of
//! connections, so a flood of scans costs a writer a chunk per scanning
//! user at most
//! (Linux gives a waiting `flock` writer no priority of its own).
//!
//! Every wait polls with a growing pause and, while it pauses, watches the
//! client: a client that has hung up (its deadline passed) makes the wait
//! end with `ECONNRESET`, so no write is performed after its caller was
//! told it failed. Waits also end after [`MAX_WAIT`] (glibc's own bound)
//! with `ETIMEDOUT`.

use crate::sys::{self, ByteLock};
use proto::Errno;
use rustix::fs::{flock, FlockOperation as Op};
use std::fs::File;
use std::time::{Duration, Instant};

/// The longest any lock wait lasts, as glibc's 10 s alarm.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// The gate's byte.
const GATE: u64 = 0;

/// Where the scan slots start: past anything else in the file.
const SLOTS: u64 = 1 << 40;

/// Chunks one ordinary user may read at once.
pub const SCANS_PER_USER: u64 = 1;

/// The longest pause between two tries: writers and readers of the data
/// lock try often; readers waiting for a slot (behind their own user's
/// other scans) need not.
const PAUSE_MAX: Duration = Duration::from_millis(2);
const SLOT_PAUSE_MAX: Duration = Duration::from_millis(20);

/// What a waiting daemon watches: its client.
pub trait Watch {
    /// Pauses for up to `d`; false when the client has gone (hung up),
    /// at once or during the pause.
    fn pause(&self, d: Duration) -> bool;
}

/// A client that never goes away (tests, fuzzing).
pub struct Patient;

impl Watch for Patient {
    fn pause(&self, d: Duration) -> bool {
        if !d.is_zero() {
            std::thread::sleep(d);
        }
        true
    }
}

/// A caller that does not wait at all: a lock someone holds is given up
/// on at once (a standby's warm-up, which nobody waits for).
pub struct Impatient;

impl Watch for Impatient {
    fn pause(&self, _: Duration) -> bool {
        false
    }
}

/// The private lock file with its locks.
pub struct Lock {
    file: File,
}

fn errno(e: std::io::Error) -> Errno {
    Errno(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The data lock, taken without waiting: false when someone holds it.
fn try_data(file: &File, op: Op) -> Result<bool, Errno> {
    match flock(file, op) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::INTR => Ok(false),
        Err(e) => Err(Errno(e.raw_os_error())),
    }
}

/// Tries `try_once` until it gives a value, pausing (and watching the
/// client) between tries, up to `max_pause` at a time.
fn wait_for<T>(
    watch: &dyn Watch,
    max_pause: Duration,
    mut try_once: impl FnMut() -> Result<Option<T>, Errno>,
) -> Result<T, Errno> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(20);
    loop {
        if let Some(v) = try_once()? {
            return Ok(v);
        }
        if start.elapsed() >= MAX_WAIT {
            return Err(Errno::ETIMEDOUT);
        }
        if !watch.pause(pause) {
            return Err(Errno::ECONNRESET);
        }
        pause = (pause * 2).min(max_pause);
    }
}

impl Lock {
    /// The lock over the opened private lock file.
    pub fn new(file: File) -> Lock {
        Lock { file }
    }

    /// The lock file itself (the growth budget lives in it).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// A free scan slot of `uid`: its byte, now held.
    fn take_slot(&self, uid: u32) -> Result<Option<u64>, Errno> {
        for k in 0..SCANS_PER_USER {
            let byte = SLOTS + u64::from(uid) * SCANS_PER_USER + k;
            if sys::byte_lock(&self.file, byte, ByteLock::Exclusive).map_err(errno)? {
                return Ok(Some(byte));
            }
        }
        Ok(None)
    }

    /// Runs `f` (one chunk of a read) under the shared data lock, taken
    /// while no writer is at the gate; an ordinary user's reader (`scanner`,
    /// its uid) first waits for one of that user's scan slots.
    pub fn shared<T>(
        &self,
        watch: &dyn Watch,
        scanner: Option<u32>,
        f: impl FnOnce() -> T,
    ) -> Result<T, Errno> {
        let slot = match scanner {
            Some(uid) => Some(wait_for(watch, SLOT_PAUSE_MAX, || self.take_slot(uid))?),
            None => None,
        };
        let data = wait_for(watch, PAUSE_MAX, || {
            // A writer is at the gate: let it pass.
            if sys::byte_locked(&self.file, GATE).map_err(errno)? {
                return Ok(None);
            }
            Ok(try_data(&self.file, Op::NonBlockingLockShared)?.then_some(()))
        });
        let r = data.map(|()| {
            let r = f();
            let _ = flock(&self.file, Op::NonBlockingUnlock);
            r
        });
        if let Some(byte) = slot {
            let _ = sys::byte_lock(&self.file, byte, ByteLock::Release);
        }
        r
    }

    /// Runs `f` under the exclusive lock, if the client is still there
    /// once it is held.
    pub fn exclusive<T>(&self, watch: &dyn Watch, f: impl FnOnce() -> T) -> Result<T, Errno> {
        wait_for(watch, PAUSE_MAX, || {
            let held = sys::byte_lock(&self.file, GATE, ByteLock::Exclusive).map_err(errno)?;
            Ok(held.then_some(()))
        })?;
        let data = wait_for(watch, PAUSE_MAX, || {
            Ok(try_data(&self.file, Op::NonBlockingLockExclusive)?.then_some(()))
        });
        let r = data.and_then(|()| {
            // Nothing is written for a client that has given up.
            let r = if watch.pause(Duration::ZERO) {
                Ok(f())
            } else {
                Err(Errno::ECONNRESET)
            };
            let _ = flock(&self.file, Op::NonBlockingUnlock);
            r
        });
        let _ = sys::byte_lock(&self.file, GATE, ByteLock::Release);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;
    use std::cell::Cell;

    fn lock_file(name: &str) -> (Scratch, std::path::PathBuf, Lock) {
        let d = Scratch::new(&format!("lock-{name}"));
        let (p, f) = d.new_file("lock");
        (d, p, Lock::new(f))
    }

    /// A client that hangs up after `n` pauses.
    struct LeavesAfter(Cell<u32>);

    impl Watch for LeavesAfter {
        fn pause(&self, _: Duration) -> bool {
            let n = self.0.get();
            self.0.set(n.saturating_sub(1));
            n > 0
        }
    }

    #[test]
    fn a_writer_whose_client_left_writes_nothing() {
        let (_d, p, lock) = lock_file("gone");
        // Another open file description holds the data lock shared, as a
        // reader in another daemon process would.
        let other = File::open(&p).unwrap();
        flock(&other, Op::LockShared).unwrap();
        let mut wrote = false;
        let r = lock.exclusive(&LeavesAfter(Cell::new(3)), || wrote = true);
        assert_eq!(r, Err(Errno::ECONNRESET));
        assert!(!wrote);
        flock(&other, Op::Unlock).unwrap();
        // And when it is still there once the lock is free, it writes.
        assert_eq!(lock.exclusive(&Patient, || 7), Ok(7));
        // A client gone before the write, with the lock free at once.
        let r = lock.exclusive(&LeavesAfter(Cell::new(0)), || wrote = true);
        assert_eq!(r, Err(Errno::ECONNRESET));
        assert!(!wrote);
    }

    #[test]
    fn readers_share() {
        let (_d, p, lock) = lock_file("share");
        let other = File::open(&p).unwrap();
        flock(&other, Op::LockShared).unwrap();
        assert_eq!(lock.shared(&Patient, None, || 1), Ok(1));
        assert_eq!(lock.shared(&Patient, Some(1000), || 2), Ok(2));
    }
}
