//! Reading utmp and wtmp without waking a daemon: where the daemons'
//! generation file allows it (`proto::generation`), the shim reads the
//! record file itself, with its own rights, and keeps a run of records
//! only if no write began while it read them. Anything unusual (no
//! generation file, one not the daemons' own, direct reads not allowed, a
//! file the caller may not open, a write under way try after try) answers
//! [`Outcome::Daemon`], and the caller asks the daemon as before.
//!
//! A session (up to `endutxent` or `utmpxname`) reads one file, as glibc
//! reads the descriptor it opened: once a run was read from a file, the
//! session stays with it even when the daemon has moved on to another (a
//! rotated wtmp), and asks the daemon only while the daemon's path still
//! names that file, so that no scan mixes two files.

use crate::client::Deadline;
use crate::config::{self, Service};
use crate::sys::{self, Fd};
use core::sync::atomic::AtomicU32;
use proto::generation::{self as gen, Header};
use proto::{Errno, Layout};

/// Snapshots tried before giving up on a read (then the daemon serves it).
const TRIES: u32 = 16;
/// The pause after finding a write under way (one write takes a few
/// microseconds; its `fdatasync` comes after the window).
const PAUSE_US: u64 = 50;

/// What a direct read gives.
pub enum Outcome {
    /// The layout of the records read, their count, and whether the
    /// table ends after them.
    Read(Layout, usize, bool),
    /// Ask the daemon.
    Daemon,
    /// The session's file is no longer the daemon's and no consistent
    /// read of it came before the deadline: the call fails, rather than
    /// go on in another file.
    Failed(Errno),
}

/// A daemon's generation file, mapped once it passes the checks.
struct Mapping {
    /// The words, and the mapped file's device and inode, to tell whether
    /// `SOCKET.gen` still names it at the next session.
    mapped: Option<(&'static [AtomicU32], (u64, u64))>,
    /// Whether the mapping was looked for in this session (a failure is
    /// not retried until the database is reopened).
    tried: bool,
}

/// The session's record file: open, its identity and layout as the
/// header named them when it was opened.
struct Held {
    fd: Fd,
    dev: u64,
    ino: u64,
    layout: Layout,
}

/// Where a snapshot reads: `count` records from index `start`, or as
/// many bytes as the buffer holds from a byte offset (a search's reads).
#[derive(Clone, Copy)]
enum At {
    Records(u64, usize),
    Bytes(u64),
}

/// One try at a snapshot.
enum Try {
    /// `n` bytes read, consistent, of a file in this layout.
    Done(Layout, usize),
    /// A write was under way (`true`: it still is, pause).
    Busy(bool),
    /// Not for direct reads.
    Unfit,
}

/// The per-process state of direct reads.
pub struct Direct {
    utmp: Mapping,
    wtmp: Mapping,
    file: Option<Held>,
}

impl Direct {
    /// Nothing mapped, nothing open.
    pub const fn new() -> Direct {
        Direct {
            utmp: Mapping {
                mapped: None,
                tried: false,
            },
            wtmp: Mapping {
                mapped: None,
                tried: false,
            },
            file: None,
        }
    }

    /// One that never reads directly (the fuzzer's: the daemon's replies
    /// are its input).
    #[cfg(feature = "fuzz")]
    pub fn without_files() -> Direct {
        let mut d = Direct::new();
        d.utmp.tried = true;
        d.wtmp.tried = true;
        d
    }

    /// `endutxent`, `utmpxname`: the record file is closed (as glibc closes
    /// its own); the mappings stay, and the next session checks them.
    pub fn close(&mut self) {
        self.file = None;
        self.utmp.tried = false;
        self.wtmp.tried = false;
    }

    /// Whether the session has its file (read from it at least once).
    pub fn bound(&self) -> bool {
        self.file.is_some()
    }

    /// The records of `service`'s file (utmp or wtmp) from index `start`
    /// on, as the file holds them: up to `max` in `raw`, which has room
    /// for `max + 1` records of the largest layout. They are decoded when
    /// taken (a record of any bytes decodes), so a short session touches
    /// only the pages it reads into.
    pub fn read(
        &mut self,
        service: Service,
        start: u64,
        raw: &mut [u8],
        max: usize,
        dl: Deadline,
    ) -> Outcome {
        let at = At::Records(start, max + 1);
        match self.snapshot(service, raw, at, dl) {
            Ok((layout, n)) => {
                let (count, ended) = gen::run_len(layout, n, max);
                Outcome::Read(layout, count, ended)
            }
            Err(outcome) => outcome,
        }
    }

    /// The layout of the session's file, opening it if the session has
    /// none (with a read of nothing): what a search reads with.
    pub fn layout(&mut self, service: Service, dl: Deadline) -> Result<Layout, Outcome> {
        match &self.file {
            Some(held) => Ok(held.layout),
            None => self
                .snapshot(service, &mut [], At::Records(0, 0), dl)
                .map(|(layout, _)| layout),
        }
    }

    /// One consistent `pread` of the session's file at `at` into `buf`,
    /// and the file's layout: the counter, the file (opened now if the
    /// session has none), the `pread`, the counter again; tried again
    /// while a write is under way (see [`TRIES`]).
    fn snapshot(
        &mut self,
        service: Service,
        buf: &mut [u8],
        at: At,
        dl: Deadline,
    ) -> Result<(Layout, usize), Outcome> {
        let Some(words) = self.words(service) else {
            return Err(Outcome::Daemon);
        };
        let mut tries = 0;
        loop {
            tries += 1;
            match self.try_once(words, buf, at) {
                Try::Done(layout, n) => return Ok((layout, n)),
                Try::Unfit => return Err(self.fallback(words, Errno::EIO)),
                Try::Busy(pause) => {
                    if tries >= TRIES && self.served(words) {
                        return Err(Outcome::Daemon);
                    }
                    if dl.expired() {
                        return Err(self.fallback(words, Errno::EAGAIN));
                    }
                    // Past the tries (the file is no longer the daemon's),
                    // pause whatever the cause: a wait, not a spin.
                    if pause || tries >= TRIES {
                        sys::sleep_us(PAUSE_US);
                    }
                }
            }
        }
    }

    /// One try of [`Direct::snapshot`].
    fn try_once(&mut self, words: &[AtomicU32], buf: &mut [u8], at: At) -> Try {
        let Some(seq) = gen::read_begin(words) else {
            return Try::Busy(true);
        };
        // Opened under this snapshot, kept only if it is consistent: a torn
        // header must not pick the session's file.
        let mut opened = None;
        let held = match &self.file {
            Some(held) => held,
            None => match gen::header(words).filter(|h| h.direct) {
                Some(h) => match open_named(words, &h) {
                    Some(held) => opened.insert(held),
                    None if gen::read_end(words, seq) => return Try::Unfit,
                    None => return Try::Busy(false),
                },
                None if gen::read_end(words, seq) => return Try::Unfit,
                None => return Try::Busy(false),
            },
        };
        let layout = held.layout;
        let size = layout.size();
        let (want, offset) = match at {
            At::Records(start, count) => (
                count.checked_mul(size).and_then(|len| buf.get_mut(..len)),
                start.checked_mul(size as u64),
            ),
            At::Bytes(offset) => (Some(buf), Some(offset)),
        };
        let (Some(want), Some(offset)) = (want, offset) else {
            return Try::Unfit;
        };
        let n = sys::pread(&held.fd, want, offset);
        if !gen::read_end(words, seq) {
            // A write began: the header, the file or the records may be
            // torn. Again.
            return Try::Busy(false);
        }
        if opened.is_some() {
            self.file = opened;
        }
        match n {
            Ok(n) => Try::Done(layout, n),
            Err(_) => Try::Unfit,
        }
    }

    /// The daemon, if it reads the session's file; else failure `e`.
    fn fallback(&self, words: &[AtomicU32], e: Errno) -> Outcome {
        match self.served(words) {
            true => Outcome::Daemon,
            false => Outcome::Failed(e),
        }
    }

    /// Whether the daemon would read the session's file, so that it may
    /// answer instead: no file yet, or the daemon's path (as its header
    /// says, unchecked: only compared) still names it. Not after a
    /// rotation, nor after a restart on another file.
    fn served(&self, words: &[AtomicU32]) -> bool {
        let Some(held) = &self.file else {
            return true;
        };
        let mut path = [0u8; gen::PATH_MAX + 1];
        named_path(words, &mut path).is_some_and(|name| {
            sys::lstat(name).is_ok_and(|st| (st.dev, st.ino) == (held.dev, held.ino))
        })
    }

    /// The generation file beside `service`'s socket (utmpd's or wtmpd's),
    /// mapped once it passes the checks.
    fn words(&mut self, service: Service) -> Option<&'static [AtomicU32]> {
        let m = match service {
            Service::Utmpd => &mut self.utmp,
            Service::Wtmpd => &mut self.wtmp,
            // btmp is for root alone: through its daemon.
            Service::Btmpd => return None,
        };
        if !m.tried {
            m.tried = true;
            let socket = config::socket(service);
            // A daemon restarted with another lock file publishes another
            // generation file there: a mapping of the old one would see
            // none of its writes (one lstat a session, after the first).
            let current = m
                .mapped
                .is_some_and(|(_, file)| published(socket) == Some(file));
            if !current {
                // An old page stays mapped, unused: one per such restart.
                m.mapped = map(socket);
            }
        }
        m.mapped.map(|(words, _)| words)
    }
}

/// The record file's path as the header names it, read into `buf`.
fn named_path<'a>(
    words: &[AtomicU32],
    buf: &'a mut [u8; gen::PATH_MAX + 1],
) -> Option<&'a core::ffi::CStr> {
    let len = gen::path(words, buf)?;
    core::ffi::CStr::from_bytes_with_nul(buf.get(..=len)?).ok()
}

/// The record file named by `h`, opened with the caller's own rights, as
/// glibc's `open` (a file it may not read is the daemon's to refuse or
/// serve). `None` unless it is the very file the header names (a path
/// that changed meanwhile: the daemon answers), and a regular file
/// everyone may read (a root process reads nothing here that any user
/// could not, whoever wrote the header).
fn open_named(words: &[AtomicU32], h: &Header) -> Option<Held> {
    let mut path = [0u8; gen::PATH_MAX + 1];
    let name = named_path(words, &mut path)?;
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    let fd = sys::open(name, flags).ok()?;
    let st = sys::fstat(&fd).ok()?;
    let public = st.mode & libc::S_IFMT == libc::S_IFREG && st.mode & 0o004 != 0;
    if (st.dev, st.ino) != (h.dev, h.ino) || !public {
        return None;
    }
    Some(Held {
        fd,
        dev: st.dev,
        ino: st.ino,
        layout: h.layout,
    })
}

/// `SOCKET.gen`, the name of `socket`'s generation file, in `buf`.
fn generation_name<'a>(socket: &[u8], buf: &'a mut [u8; 128]) -> Option<&'a core::ffi::CStr> {
    let suffix = gen::SUFFIX.as_bytes();
    let len = socket.len() + suffix.len();
    let (head, tail) = buf.get_mut(..len)?.split_at_mut(socket.len());
    head.copy_from_slice(socket);
    tail.copy_from_slice(suffix);
    core::ffi::CStr::from_bytes_until_nul(buf).ok()
}

/// The device and inode `SOCKET.gen` names now.
fn published(socket: &[u8]) -> Option<(u64, u64)> {
    let mut buf = [0u8; 128];
    let st = sys::lstat(generation_name(socket, &mut buf)?).ok()?;
    Some((st.dev, st.ino))
}

/// Opens and maps `SOCKET.gen`, if it is a regular file of the daemons'
/// account or root (the servers [`config::may_talk_to`] accepts),
/// writable by its owner alone, and a page long: the words, and the
/// file's device and inode.
fn map(socket: &[u8]) -> Option<(&'static [AtomicU32], (u64, u64))> {
    let mut buf = [0u8; 128];
    let name = generation_name(socket, &mut buf)?;
    let fd = sys::open(name, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK).ok()?;
    let st = sys::fstat(&fd).ok()?;
    let trusted = config::may_talk_to(st.uid);
    let regular = st.mode & libc::S_IFMT == libc::S_IFREG;
    if !trusted || !regular || st.mode & 0o022 != 0 || st.size < gen::SIZE as u64 {
        return None;
    }
    Some((sys::map_generation(&fd).ok()?, (st.dev, st.ino)))
}

/// The session's file as a search (`getutxid`, `getutxline`) reads it,
/// one consistent snapshot per read, as the daemon reads one chunk per
/// shared lock. A read that cannot be made directly stops the search with
/// [`Outcome::Daemon`] or [`Outcome::Failed`] in `stop`.
pub struct Searched<'a> {
    pub direct: &'a mut Direct,
    pub service: Service,
    pub dl: Deadline<'a>,
    pub stop: Option<Outcome>,
}

impl proto::table::Storage for Searched<'_> {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        if self.stop.is_some() {
            return Err(Errno::EAGAIN);
        }
        match self
            .direct
            .snapshot(self.service, buf, At::Bytes(offset), self.dl)
        {
            // Whole records only (the table reads from record boundaries):
            // the rest, a torn tail in this snapshot, is the end here, and
            // a read after it starts at a boundary, so no record is made of
            // two snapshots.
            Ok((layout, n)) => Ok(n - n % layout.size()),
            Err(outcome) => {
                self.stop = Some(outcome);
                Err(Errno::EAGAIN)
            }
        }
    }
    fn write_at(&mut self, _: &[u8], _: u64) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }
    fn size(&mut self) -> Result<u64, Errno> {
        Err(Errno::EBADF)
    }
    fn truncate(&mut self, _: u64) -> Result<(), Errno> {
        Err(Errno::EBADF)
    }
}
