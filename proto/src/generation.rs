//! The generation file: a page the daemons publish beside their socket so
//! that a client allowed to read the record file can read it itself,
//! without waking a daemon, and still never see a torn record.
//!
//! It is a seqlock. Every write of the record file happens under the
//! daemons' exclusive lock, and between [`begin_write`] (the counter goes
//! odd) and [`end_write`] (even again, and different). A reader takes the
//! counter ([`read_begin`]: even, else a write is under way), reads the
//! header and the records, and keeps what it read only if the counter is
//! still the same ([`read_end`]). Readers write nothing and take no lock,
//! so no reader can delay a writer.
//!
//! The header names the record file (path, device, inode, layout) and
//! whether direct reads are allowed at all (not under `--private`, not
//! for a file others may not read). A header change is a write like any
//! other, inside the odd window.
//!
//! The page is an array of 32-bit words in the host's byte order (it never
//! leaves the host; 32-bit words because not every target the shim is
//! built for has 64-bit atomics). A fresh, zeroed file publishes nothing.

use crate::layout::{Layout, LAYOUTS};
use core::sync::atomic::{fence, AtomicU32, Ordering};

/// Appended to a daemon's socket path, names its generation file (a hard
/// link to the one beside its lock file, which every writer bumps).
pub const SUFFIX: &str = ".gen";
/// Size of the file: one page.
pub const SIZE: usize = 4096;
/// Words of the file.
pub const WORDS: usize = SIZE / 4;

const MAGIC: u32 = 0x7574_6d67;
const VERSION: u32 = 1;
const W_MAGIC: usize = 0;
const W_VERSION: usize = 1;
const W_SEQ: usize = 2;
/// Bit 0: direct reads allowed; bits 8-15: index of the layout in [`LAYOUTS`].
const W_FLAGS: usize = 3;
const W_DEV: usize = 4;
const W_INO: usize = 6;
const W_PATH_LEN: usize = 8;
const W_PATH: usize = 16;
/// Longest record file path the header holds.
pub const PATH_MAX: usize = (WORDS - W_PATH) * 4;

/// What the daemons publish about their record file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// `st_dev` of the record file.
    pub dev: u64,
    /// `st_ino` of the record file.
    pub ino: u64,
    /// Its record layout.
    pub layout: Layout,
    /// Whether clients may read it themselves.
    pub direct: bool,
}

fn word(w: &[AtomicU32], i: usize) -> u32 {
    w.get(i).map_or(0, |a| a.load(Ordering::Relaxed))
}

fn set(w: &[AtomicU32], i: usize, v: u32) {
    if let Some(a) = w.get(i) {
        a.store(v, Ordering::Relaxed);
    }
}

fn word64(w: &[AtomicU32], i: usize) -> u64 {
    u64::from(word(w, i)) | u64::from(word(w, i + 1)) << 32
}

fn set64(w: &[AtomicU32], i: usize, v: u64) {
    set(w, i, v as u32);
    set(w, i + 1, (v >> 32) as u32);
}

/// Writer, once per mapping and outside the writers' lock: makes the page
/// writable in this process without changing it (a file system's
/// write fault, `page_mkwrite`, may wait for its journal: ext4 does, and
/// inside the lock that wait held up every other writer).
pub fn make_writable(w: &[AtomicU32]) {
    if let Some(a) = w.get(W_MAGIC) {
        a.fetch_add(0, Ordering::Relaxed);
    }
}

/// Writer: the counter goes odd; call under the exclusive lock, before
/// touching the record file. A counter left odd by a writer that died
/// mid-write stays odd, and changes.
pub fn begin_write(w: &[AtomicU32]) {
    let s = word(w, W_SEQ);
    set(w, W_SEQ, s.wrapping_add(1 + (s & 1)));
    // The odd counter is visible before any byte of the write.
    fence(Ordering::SeqCst);
}

/// Writer: the write is complete; the counter goes even (and differs from
/// what any reader saw before [`begin_write`]).
pub fn end_write(w: &[AtomicU32]) {
    fence(Ordering::SeqCst);
    let s = word(w, W_SEQ);
    set(w, W_SEQ, s.wrapping_add(1));
    fence(Ordering::SeqCst);
}

/// Writer, between [`begin_write`] and [`end_write`]: makes the header say
/// `h` and `path` (a path longer than [`PATH_MAX`] publishes no direct
/// reads). Writes nothing when it already does.
pub fn publish(w: &[AtomicU32], h: &Header, path: &[u8]) {
    let fits = path.len() <= PATH_MAX;
    let h = Header {
        direct: h.direct && fits,
        ..*h
    };
    if published(w, &h, path) {
        return;
    }
    set(w, W_MAGIC, MAGIC);
    set(w, W_VERSION, VERSION);
    let layout = LAYOUTS.iter().position(|&l| l == h.layout).unwrap_or(0) as u32;
    set(w, W_FLAGS, u32::from(h.direct) | layout << 8);
    set64(w, W_DEV, h.dev);
    set64(w, W_INO, h.ino);
    let path = if fits { path } else { &[] };
    set(w, W_PATH_LEN, path.len() as u32);
    for (i, chunk) in path.chunks(4).enumerate() {
        let mut b = [0u8; 4];
        b.get_mut(..chunk.len())
            .map(|d| d.copy_from_slice(chunk))
            .unwrap_or(());
        set(w, W_PATH + i, u32::from_ne_bytes(b));
    }
}

/// Whether the header already says `h` and `path` (a writer's check,
/// under the lock, before it opens a window to republish).
pub fn published(w: &[AtomicU32], h: &Header, path: &[u8]) -> bool {
    let h = Header {
        direct: h.direct && path.len() <= PATH_MAX,
        ..*h
    };
    header(w).is_some_and(|old| old == h) && path_equals(w, path)
}

/// Reader: the counter, if no write is under way; `None` while one is.
pub fn read_begin(w: &[AtomicU32]) -> Option<u32> {
    let s = w.get(W_SEQ)?.load(Ordering::SeqCst);
    fence(Ordering::SeqCst);
    (s & 1 == 0).then_some(s)
}

/// Reader: whether everything read since [`read_begin`] returned `seq`
/// (header, records) is consistent: no write began meanwhile.
pub fn read_end(w: &[AtomicU32], seq: u32) -> bool {
    fence(Ordering::SeqCst);
    w.get(W_SEQ)
        .is_some_and(|a| a.load(Ordering::SeqCst) == seq)
}

/// The header, if one was published (unchecked until [`read_end`]).
pub fn header(w: &[AtomicU32]) -> Option<Header> {
    if word(w, W_MAGIC) != MAGIC || word(w, W_VERSION) != VERSION {
        return None;
    }
    let flags = word(w, W_FLAGS);
    Some(Header {
        dev: word64(w, W_DEV),
        ino: word64(w, W_INO),
        layout: *LAYOUTS.get((flags >> 8 & 0xff) as usize)?,
        direct: flags & 1 != 0,
    })
}

/// Copies the record file's path into `out` (NUL-terminated): its length,
/// `None` if it does not fit (unchecked until [`read_end`]).
pub fn path(w: &[AtomicU32], out: &mut [u8]) -> Option<usize> {
    let len = word(w, W_PATH_LEN) as usize;
    if len > PATH_MAX || len >= out.len() {
        return None;
    }
    for (i, chunk) in out.get_mut(..len)?.chunks_mut(4).enumerate() {
        let b = word(w, W_PATH + i).to_ne_bytes();
        chunk.copy_from_slice(b.get(..chunk.len())?);
    }
    *out.get_mut(len)? = 0;
    Some(len)
}

fn path_equals(w: &[AtomicU32], path: &[u8]) -> bool {
    word(w, W_PATH_LEN) as usize == path.len()
        && path.chunks(4).enumerate().all(|(i, chunk)| {
            word(w, W_PATH + i)
                .to_ne_bytes()
                .get(..chunk.len())
                .is_some_and(|b| b == chunk)
        })
}

/// Of `n` bytes read from a record boundary, asking for one record more
/// than `max`: how many whole records to return, and whether the table
/// ends after them (no whole record follows; a torn tail counts as the
/// end, as in glibc). The daemon's bulk read and the shim's direct read
/// both count this way.
pub fn run_len(layout: Layout, n: usize, max: usize) -> (usize, bool) {
    let whole = n / layout.size();
    (whole.min(max), whole <= max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::vec::Vec;

    fn page() -> Vec<AtomicU32> {
        (0..WORDS).map(|_| AtomicU32::new(0)).collect()
    }

    #[test]
    fn header_round_trip() {
        let w = page();
        assert_eq!(header(&w), None, "a zeroed file publishes nothing");
        let h = Header {
            dev: 0x1_0000_0002,
            ino: 77,
            layout: Layout::Musl,
            direct: true,
        };
        begin_write(&w);
        publish(&w, &h, b"/run/utmps/utmp");
        end_write(&w);
        assert_eq!(header(&w), Some(h));
        let mut out = [0u8; 64];
        assert_eq!(path(&w, &mut out), Some(15));
        assert_eq!(&out[..16], b"/run/utmps/utmp\0");
        assert!(path_equals(&w, b"/run/utmps/utmp"));
        assert!(!path_equals(&w, b"/run/utmps/utmq"));
        let long = [b'a'; PATH_MAX + 1];
        publish(&w, &h, &long);
        assert!(!header(&w).unwrap().direct, "a path that does not fit");
    }

    #[test]
    fn readers_see_writes_in_progress_and_completed() {
        let w = page();
        let s = read_begin(&w).unwrap();
        begin_write(&w);
        assert_eq!(read_begin(&w), None, "odd while writing");
        assert!(!read_end(&w, s));
        end_write(&w);
        let s2 = read_begin(&w).unwrap();
        assert_ne!(s, s2);
        assert!(read_end(&w, s2));
        // A writer that died mid-write leaves it odd; the next one keeps
        // it odd while it writes, then even.
        begin_write(&w);
        begin_write(&w);
        assert_eq!(read_begin(&w), None);
        end_write(&w);
        assert!(read_begin(&w).is_some());
    }

    /// A writer that changes two words one after the other, slowly: a
    /// reader that keeps only what `read_end` confirms never sees them
    /// differ. Fails if `read_end` does not compare the counter.
    #[test]
    fn no_torn_snapshot() {
        let w: Arc<Vec<AtomicU32>> = Arc::new(page());
        let stop = Arc::new(AtomicBool::new(false));
        let (w2, stop2) = (w.clone(), stop.clone());
        let writer = std::thread::spawn(move || {
            let mut v = 0u32;
            while !stop2.load(Ordering::Relaxed) {
                v += 1;
                begin_write(&w2);
                set(&w2, 100, v);
                std::thread::yield_now();
                set(&w2, 101, v);
                end_write(&w2);
                // Room for readers between writes.
                std::thread::sleep(std::time::Duration::from_micros(20));
            }
        });
        let (mut kept, mut torn) = (0, 0);
        let until = std::time::Instant::now() + std::time::Duration::from_millis(300);
        while std::time::Instant::now() < until {
            let Some(s) = read_begin(&w) else { continue };
            let a = word(&w, 100);
            std::thread::yield_now();
            let b = word(&w, 101);
            if read_end(&w, s) {
                kept += 1;
                torn += usize::from(a != b);
            }
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert!(kept > 0);
        assert_eq!(torn, 0, "{torn} torn snapshots of {kept}");
    }

    #[test]
    fn runs_count_whole_records() {
        let l = Layout::Glibc;
        assert_eq!(run_len(l, 0, 10), (0, true));
        assert_eq!(run_len(l, 384 * 2 + 100, 10), (2, true));
        assert_eq!(run_len(l, 384 * 3, 2), (2, false));
        assert_eq!(run_len(l, 384 * 2, 2), (2, true));
    }
}
