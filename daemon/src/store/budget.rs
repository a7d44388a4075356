//! How much an ordinary user may add to wtmp or btmp: a token bucket per
//! uid, and a floor of free space kept for everyone else.
//!
//! The buckets live in the daemon's private lock file (mode 0600, the
//! daemon's own), read and updated under the writers' exclusive lock, so
//! every daemon process of one file shares them without a long-lived
//! process: an append by an ordinary user costs one 16 KiB `pread` and one
//! 16-byte `pwrite` more. Root and the writers' group are never charged.
//!
//! Layout: an 8-byte magic, then [`SLOTS`] entries of 16 bytes (uid u32,
//! tokens in thousandths u32, time of the last charge in ms u64, little
//! endian). A slot with uid and time 0 is free. When all are taken, a slot
//! is reused only once its bucket has refilled to full (its user then
//! loses nothing: a new bucket starts full); until then the newcomer gets
//! `EDQUOT`, or a user at `EDQUOT` could have the table cycled by other
//! uids and start afresh.

use proto::Errno;
use std::fs::File;
use std::os::unix::fs::FileExt;

const MAGIC: &[u8; 8] = b"utmpsbg1";
/// Users tracked at once.
pub const SLOTS: usize = 1024;
const SLOT: usize = 16;

/// An ordinary user's allowance: `burst` records at once, then one more
/// every `period_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Records a user may append at once (a session's logins and logouts,
    /// a terminal multiplexer's windows).
    pub burst: u32,
    /// Milliseconds to earn one more record.
    pub period_ms: u64,
}

impl Budget {
    /// 200 records at once, then one a minute: about 1,440 records
    /// (550 KiB of wtmp) a day at most, per user.
    pub const DEFAULT: Budget = Budget {
        burst: 200,
        period_ms: 60_000,
    };
}

/// One user's bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bucket {
    uid: u32,
    /// Tokens in thousandths.
    milli: u32,
    stamp_ms: u64,
}

impl Bucket {
    fn decode(b: &[u8]) -> Bucket {
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or_default());
        Bucket {
            uid: u32_at(0),
            milli: u32_at(4),
            stamp_ms: u64::from_le_bytes(b[8..16].try_into().unwrap_or_default()),
        }
    }

    fn encode(&self) -> [u8; SLOT] {
        let mut b = [0u8; SLOT];
        b[..4].copy_from_slice(&self.uid.to_le_bytes());
        b[4..8].copy_from_slice(&self.milli.to_le_bytes());
        b[8..].copy_from_slice(&self.stamp_ms.to_le_bytes());
        b
    }

    fn is_free(&self) -> bool {
        self.uid == 0 && self.stamp_ms == 0
    }
}

impl Budget {
    /// A full bucket, in thousandths.
    fn full(self) -> u32 {
        self.burst.saturating_mul(1000)
    }
}

/// What bucket `b` holds at `now_ms`, refilled for the time passed.
fn refilled(b: &Bucket, budget: Budget, now_ms: u64) -> u32 {
    // A clock set back refills nothing.
    let elapsed = now_ms.saturating_sub(b.stamp_ms);
    let earned = elapsed
        .saturating_mul(1000)
        .checked_div(budget.period_ms)
        .unwrap_or(u64::MAX);
    u64::from(b.milli)
        .saturating_add(earned)
        .min(u64::from(budget.full())) as u32
}

/// Takes one record from `uid`'s bucket at `now_ms`: `EDQUOT` when it is
/// empty. Bucket `b` (None: a new user) is refilled for the time passed.
fn take(b: Option<Bucket>, uid: u32, budget: Budget, now_ms: u64) -> Result<Bucket, Errno> {
    let mut b = b.unwrap_or(Bucket {
        uid,
        milli: budget.full(),
        stamp_ms: now_ms,
    });
    b.milli = refilled(&b, budget, now_ms);
    b.stamp_ms = now_ms.max(b.stamp_ms);
    if b.milli < 1000 {
        return Err(Errno::EDQUOT);
    }
    b.milli -= 1000;
    Ok(b)
}

/// Charges one record to `uid` in the table kept in `lock` (the private
/// lock file, held exclusively by the caller).
pub fn charge(lock: &File, uid: u32, budget: Budget, now_ms: u64) -> Result<(), Errno> {
    let io = |e: std::io::Error| Errno(e.raw_os_error().unwrap_or(Errno::EIO.0));
    let mut table = vec![0u8; MAGIC.len() + SLOTS * SLOT];
    let n = read_full(lock, &mut table).map_err(io)?;
    if n < MAGIC.len() || &table[..MAGIC.len()] != MAGIC {
        // New, or not ours: start afresh.
        table.fill(0);
        table[..MAGIC.len()].copy_from_slice(MAGIC);
        lock.write_all_at(&table, 0).map_err(io)?;
    }
    let slots = || table[MAGIC.len()..].chunks_exact(SLOT).map(Bucket::decode);
    let found = slots().position(|b| b.uid == uid && !b.is_free());
    let index = match found.or_else(|| slots().position(|b| b.is_free())) {
        Some(i) => i,
        // All taken: the least recently charged of the slots refilled to
        // full, if any.
        None => slots()
            .enumerate()
            .filter(|(_, b)| refilled(b, budget, now_ms) >= budget.full())
            .min_by_key(|(_, b)| b.stamp_ms)
            .map(|(i, _)| i)
            .ok_or(Errno::EDQUOT)?,
    };
    let current = found.map(|i| slots().nth(i)).and_then(|b| b);
    let updated = take(current, uid, budget, now_ms)?;
    let offset = (MAGIC.len() + index * SLOT) as u64;
    lock.write_all_at(&updated.encode(), offset).map_err(io)
}

fn read_full(f: &File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Free space below which ordinary users' appends are refused
/// (`ENOSPC`): 5% of the file system, at most 64 MiB, so that root's
/// records (a login, a reboot) still fit when a user has filled the disk.
pub fn space_floor(total_bytes: u64) -> u64 {
    (total_bytes / 20).min(64 << 20)
}

/// Whether an ordinary user's append of `len` bytes leaves the floor.
pub fn leaves_floor(file: &File, len: u64) -> Result<bool, Errno> {
    let st = rustix::fs::fstatvfs(file).map_err(|e| Errno(e.raw_os_error()))?;
    let total = st.f_blocks.saturating_mul(st.f_frsize);
    let avail = st.f_bavail.saturating_mul(st.f_frsize);
    Ok(avail >= space_floor(total).saturating_add(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;

    const B: Budget = Budget {
        burst: 3,
        period_ms: 1000,
    };

    /// A new, empty table file in its own scratch directory: the
    /// directory, the file's path and an open of it.
    fn table(name: &str) -> (Scratch, std::path::PathBuf, File) {
        let d = Scratch::new(&format!("budget-{name}"));
        let (p, f) = d.new_file("lock");
        (d, p, f)
    }

    #[test]
    fn a_bucket_allows_the_burst_then_the_rate() {
        let mut b = None;
        for _ in 0..3 {
            b = Some(take(b, 7, B, 10_000).unwrap());
        }
        assert_eq!(take(b, 7, B, 10_000), Err(Errno::EDQUOT));
        assert_eq!(take(b, 7, B, 10_999), Err(Errno::EDQUOT));
        let b = take(b, 7, B, 11_000).unwrap();
        assert_eq!(take(Some(b), 7, B, 11_500), Err(Errno::EDQUOT));
        // A long idle time refills up to the burst, not beyond.
        let mut b = Some(take(Some(b), 7, B, 1_000_000).unwrap());
        for _ in 0..2 {
            b = Some(take(b, 7, B, 1_000_000).unwrap());
        }
        assert_eq!(take(b, 7, B, 1_000_000), Err(Errno::EDQUOT));
        // A clock set back earns nothing.
        assert_eq!(take(b, 7, B, 5), Err(Errno::EDQUOT));
    }

    #[test]
    fn buckets_are_per_user_and_shared_through_the_file() {
        let (_d, p, f) = table("shared");
        for _ in 0..3 {
            charge(&f, 1000, B, 50).unwrap();
        }
        assert_eq!(charge(&f, 1000, B, 50), Err(Errno::EDQUOT));
        // Another user, and another open of the same file (another daemon).
        let g = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)
            .unwrap();
        charge(&g, 1001, B, 50).unwrap();
        assert_eq!(charge(&g, 1000, B, 50), Err(Errno::EDQUOT));
        charge(&g, 1000, B, 1050).unwrap();
    }

    /// A user at `EDQUOT`, then 1,100 other uids once each: the table
    /// fills, and nobody's slot is taken before its bucket is full again.
    #[test]
    fn a_full_table_reuses_only_refilled_slots() {
        let (_d, p, f) = table("full");
        for _ in 0..3 {
            charge(&f, 1, B, 100).unwrap();
        }
        assert_eq!(charge(&f, 1, B, 100), Err(Errno::EDQUOT));
        let refused: Vec<u32> = (2..1102)
            .filter(|&uid| charge(&f, uid, B, 200 + u64::from(uid / 4)).is_err())
            .collect();
        // The 1,023 free slots went to the first comers; the rest wait.
        assert_eq!(refused, (1025..1102).collect::<Vec<_>>());
        assert_eq!(charge(&f, 1, B, 1000), Err(Errno::EDQUOT));
        let len = std::fs::metadata(&p).unwrap().len();
        assert_eq!(len, (MAGIC.len() + SLOTS * SLOT) as u64);
        // One period after the charges of uids 2 and 3 their buckets are
        // full again (3 of 3), the others' not yet: two newcomers take
        // those two slots, a third waits.
        charge(&f, 5000, B, 1200).unwrap();
        charge(&f, 5001, B, 1200).unwrap();
        assert_eq!(charge(&f, 5002, B, 1200), Err(Errno::EDQUOT));
        // uid 1 earned one record meanwhile, not a fresh bucket.
        charge(&f, 1, B, 1200).unwrap();
        assert_eq!(charge(&f, 1, B, 1200), Err(Errno::EDQUOT));
        // Long after, everyone has refilled: newcomers find room.
        for uid in 6000..6100 {
            charge(&f, uid, B, 1_000_000).unwrap();
        }
    }

    #[test]
    fn the_floor() {
        assert_eq!(space_floor(1 << 20), (1 << 20) / 20);
        assert_eq!(space_floor(1 << 40), 64 << 20);
    }
}
