//! The writers' lock: readers share it, writers come first, and nobody
//! waits longer than their client does.
//!
//! Two locks on the daemon's private lock file (mode 0600, so only the
//! daemons ever take them):
//! - the **gate**, a POSIX record lock (`fcntl`) over the whole file;
//! - the **data lock**, an `flock` (on Linux the two kinds never conflict).
//!
//! A reader takes the gate shared, then the data lock shared, lets go of
//! the gate, reads one chunk (a few KiB to 100 KiB) and lets go of the data
//! lock; a long scan is many short holds, as glibc locks each record read.
//! A writer takes the gate exclusive, which readers hold only for an
//! instant, so it gets it at once; from then on no new reader passes the
//! gate, the chunks in flight end, and the writer takes the data lock
//! exclusive. So a flood of scans cannot starve a write (Linux gives a
//! waiting `flock` writer no priority of its own).
//!
//! Every wait polls with a growing pause and, while it pauses, watches the
//! client: a client that has hung up (its deadline passed) makes the wait
//! end with `ECONNRESET`, so no write is performed after its caller was
//! told it failed. Waits also end after [`MAX_WAIT`] (glibc's own bound)
//! with `ETIMEDOUT`.

use proto::Errno;
use rustix::fs::{fcntl_lock, flock, FlockOperation as Op};
use std::fs::File;
use std::time::{Duration, Instant};

/// The longest any lock wait lasts, as glibc's 10 s alarm.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

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

/// The private lock file with its two locks.
pub struct Lock {
    file: File,
}

/// One of the two locks, taken without waiting.
fn try_take(file: &File, gate: bool, op: Op) -> Result<bool, Errno> {
    let r = if gate {
        fcntl_lock(file, op)
    } else {
        flock(file, op)
    };
    match r {
        Ok(()) => Ok(true),
        // EAGAIN and EACCES (fcntl), EWOULDBLOCK (flock): someone holds it.
        Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::ACCESS => Ok(false),
        Err(e) if e == rustix::io::Errno::INTR => Ok(false),
        Err(e) => Err(Errno(e.raw_os_error())),
    }
}

/// Takes a lock, pausing (and watching the client) between tries.
fn take(file: &File, gate: bool, op: Op, watch: &dyn Watch) -> Result<(), Errno> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(20);
    loop {
        if try_take(file, gate, op)? {
            return Ok(());
        }
        if start.elapsed() >= MAX_WAIT {
            return Err(Errno::ETIMEDOUT);
        }
        if !watch.pause(pause) {
            return Err(Errno::ECONNRESET);
        }
        pause = (pause * 2).min(Duration::from_millis(2));
    }
}

fn release(file: &File, gate: bool) {
    let _ = if gate {
        fcntl_lock(file, Op::NonBlockingUnlock)
    } else {
        flock(file, Op::NonBlockingUnlock)
    };
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

    /// Runs `f` (one chunk of a read) under the shared lock.
    pub fn shared<T>(&self, watch: &dyn Watch, f: impl FnOnce() -> T) -> Result<T, Errno> {
        take(&self.file, true, Op::NonBlockingLockShared, watch)?;
        let data = take(&self.file, false, Op::NonBlockingLockShared, watch);
        release(&self.file, true);
        data?;
        let r = f();
        release(&self.file, false);
        Ok(r)
    }

    /// Runs `f` under the exclusive lock, if the client is still there
    /// once it is held.
    pub fn exclusive<T>(&self, watch: &dyn Watch, f: impl FnOnce() -> T) -> Result<T, Errno> {
        take(&self.file, true, Op::NonBlockingLockExclusive, watch)?;
        let data = take(&self.file, false, Op::NonBlockingLockExclusive, watch);
        let r = data.and_then(|()| {
            // Nothing is written for a client that has given up.
            if watch.pause(Duration::ZERO) {
                Ok(f())
            } else {
                Err(Errno::ECONNRESET)
            }
        });
        release(&self.file, false);
        release(&self.file, true);
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
        assert_eq!(lock.shared(&Patient, || 1), Ok(1));
    }
}
