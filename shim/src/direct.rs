//! Reading utmp without waking a daemon: where the daemons' generation
//! file allows it (`proto::generation`), the shim reads the record file
//! itself, with its own rights, and keeps a run of records only if no
//! write began while it read them. Anything unusual (no generation file,
//! one not the daemons' own, direct reads not allowed, a file the caller
//! may not open, a write under way try after try) answers `None`, and
//! the caller asks the daemon as before.

use crate::client::Deadline;
use crate::config;
use crate::sys::{self, Fd};
use core::sync::atomic::AtomicU32;
use proto::generation::{self as gen, Header};
use proto::{trust, Layout};

/// Snapshots tried before giving up on a read (then the daemon serves it).
const TRIES: u32 = 16;
/// The pause after finding a write under way (one write takes a few
/// microseconds; its `fdatasync` comes after the window).
const PAUSE_US: u64 = 50;

/// The per-process state of direct reads.
pub struct Direct {
    /// The generation file's words; `None` until mapped.
    words: Option<&'static [AtomicU32]>,
    /// Whether mapping was tried in this session (a failure is not
    /// retried until the database is reopened).
    tried: bool,
    /// The record file, open while the database is, and its identity.
    file: Option<(Fd, u64, u64)>,
}

impl Direct {
    /// Nothing mapped, nothing open.
    pub const fn new() -> Direct {
        Direct {
            words: None,
            tried: false,
            file: None,
        }
    }

    /// `endutxent`: the record file is closed (as glibc closes its own);
    /// the mapping stays, and is looked for again if it was missing.
    pub fn close(&mut self) {
        self.file = None;
        self.tried = false;
    }

    /// The records from index `start` on: up to `max` decoded into `out`
    /// (wire form), `raw` the room for `max + 1` records of the file's
    /// layout. The count and whether the table ends after them; `None`
    /// when the daemon must answer instead.
    pub fn read(
        &mut self,
        start: u64,
        raw: &mut [u8],
        out: &mut [u8],
        max: usize,
        dl: Deadline,
    ) -> Option<(usize, bool)> {
        let words = self.words()?;
        for _ in 0..TRIES {
            let Some(seq) = gen::read_begin(words) else {
                if dl.expired() {
                    return None;
                }
                sys::sleep_us(PAUSE_US);
                continue;
            };
            let h = gen::header(words)?;
            if !h.direct {
                return None;
            }
            let layout = h.layout;
            let size = layout.size();
            let want = raw.get_mut(..(max + 1) * size)?;
            let n = match self.file(words, &h) {
                Some(fd) => sys::pread(fd, want, start.checked_mul(size as u64)?).ok(),
                None => None,
            };
            if !gen::read_end(words, seq) {
                // A write began: the header, the file or the records may
                // be torn. Again.
                continue;
            }
            let (count, ended) = gen::run_len(layout, n?, max);
            decode(layout, raw, out, count)?;
            return Some((count, ended));
        }
        None
    }

    /// The generation file beside the utmp daemon's socket, mapped once
    /// it passes the checks.
    fn words(&mut self) -> Option<&'static [AtomicU32]> {
        if self.words.is_none() && !self.tried {
            self.tried = true;
            self.words = map(config::socket(config::Service::Utmpd));
        }
        self.words
    }

    /// The record file named by `h`, opened if it is not the one open.
    fn file(&mut self, words: &[AtomicU32], h: &Header) -> Option<&Fd> {
        if !matches!(&self.file, Some((_, dev, ino)) if (*dev, *ino) == (h.dev, h.ino)) {
            self.file = None;
            let mut path = [0u8; gen::PATH_MAX + 1];
            let len = gen::path(words, &mut path)?;
            let name = core::ffi::CStr::from_bytes_with_nul(path.get(..=len)?).ok()?;
            // The caller's own rights, as glibc's `open`: a file it may
            // not read is the daemon's to refuse (or serve).
            let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
            let fd = sys::open(name, flags).ok()?;
            let st = sys::fstat(&fd).ok()?;
            // The header names this very file, or what was opened is some
            // other (a path changed meanwhile): the daemon answers. And it
            // is a regular file everyone may read: a root process reads
            // nothing here that any user could not (whoever wrote the
            // header).
            let public = st.mode & libc::S_IFMT == libc::S_IFREG && st.mode & 0o004 != 0;
            if (st.dev, st.ino) != (h.dev, h.ino) || !public {
                return None;
            }
            self.file = Some((fd, st.dev, st.ino));
        }
        self.file.as_ref().map(|(fd, _, _)| fd)
    }
}

/// Opens and maps `SOCKET.gen`, if it is a regular file of the daemons'
/// account or root (the servers [`trust::may_talk_to`] accepts), writable
/// by its owner alone, and a page long.
fn map(socket: &[u8]) -> Option<&'static [AtomicU32]> {
    let suffix = gen::SUFFIX.as_bytes();
    let mut name = [0u8; 128];
    let len = socket.len() + suffix.len();
    let (head, tail) = name.get_mut(..len)?.split_at_mut(socket.len());
    head.copy_from_slice(socket);
    tail.copy_from_slice(suffix);
    let name = core::ffi::CStr::from_bytes_until_nul(&name).ok()?;
    let fd = sys::open(name, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK).ok()?;
    let st = sys::fstat(&fd).ok()?;
    let caller = config::caller();
    let trusted = trust::may_talk_to(caller, st.uid, None)
        || trust::may_talk_to(caller, st.uid, sys::owner(trust::SOCKET_DIR));
    let regular = st.mode & libc::S_IFMT == libc::S_IFREG;
    if !trusted || !regular || st.mode & 0o022 != 0 || st.size < gen::SIZE as u64 {
        return None;
    }
    sys::map_generation(&fd).ok()
}

/// Decodes `count` records of `layout` from `raw` into `out` (wire form).
fn decode(layout: Layout, raw: &[u8], out: &mut [u8], count: usize) -> Option<()> {
    let size = layout.size();
    let from = raw.get(..count * size)?.chunks_exact(size);
    let to = out
        .get_mut(..count * proto::codec::RECORD_SIZE)?
        .chunks_exact_mut(proto::codec::RECORD_SIZE);
    for (src, dst) in from.zip(to) {
        let r = layout.decode(src)?;
        proto::codec::encode_record(&r, dst.try_into().ok()?);
    }
    Some(())
}
