//! All per-process state, behind the one lock, and the daemon-backed utmp
//! session: cursor, read-ahead cache and the daemon's dialect.

use crate::client::{self, Conn, Deadline};
use crate::config::{self, Service};
use crate::lock;
use crate::sys;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};
use proto::codec::{self, Request, RECORD_SIZE};
use proto::matching::is_valid_id_query;
use proto::record::LINE_SIZE;
use proto::{Errno, Record};

/// Records fetched per bulk read.
const CACHE: usize = 128;

/// What the daemon at the other end understands. Remembered per process:
/// a skarnet daemon stays a skarnet daemon.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dialect {
    Unknown,
    /// Ours: bulk reads and client-held cursors.
    Extended,
    /// skarnet utmps 0.1.3: one record per round trip, the cursor in the daemon.
    Base,
}

/// The utmp session with utmpd.
pub struct Utmp {
    conn: Option<Conn>,
    dialect: Dialect,
    /// The cursor (record index) in the extended dialect.
    pos: u64,
    /// Records `cache_start..cache_start + cache_len`, in wire form.
    cache: [u8; CACHE * RECORD_SIZE],
    cache_start: u64,
    cache_len: usize,
}

/// Everything the shim remembers, guarded by [`lock`].
pub struct State {
    /// The pid that owns the connections: a fork makes them the parent's.
    pid: i32,
    /// The utmp session.
    pub utmp: Utmp,
}

struct Global(UnsafeCell<State>);

// SAFETY: the state is only reached through `with`, which holds the lock.
unsafe impl Sync for Global {}

static STATE: Global = Global(UnsafeCell::new(State {
    pid: 0,
    utmp: Utmp {
        conn: None,
        dialect: Dialect::Unknown,
        pos: 0,
        cache: [0; CACHE * RECORD_SIZE],
        cache_start: 0,
        cache_len: 0,
    },
}));

/// Milliseconds of the per-call deadline, read from the environment once.
static TIMEOUT_MS: AtomicU64 = AtomicU64::new(0);

/// A deadline for a call starting now.
pub fn deadline() -> Deadline {
    let mut ms = TIMEOUT_MS.load(Ordering::Relaxed);
    if ms == 0 {
        ms = config::timeout_ms();
        TIMEOUT_MS.store(ms, Ordering::Relaxed);
    }
    Deadline::after(ms)
}

/// Runs `f` on the state under the lock, within one call's deadline.
pub fn with<T>(f: impl FnOnce(&mut State, Deadline) -> Result<T, Errno>) -> Result<T, Errno> {
    let dl = deadline();
    let _guard = lock::acquire(dl)?;
    // SAFETY: the lock is held until `_guard` drops, so this is the only
    // reference to the state.
    let st = unsafe { &mut *STATE.0.get() };
    let me = sys::getpid();
    if st.pid != me {
        // Forked: the connection is the parent's. Close our copy of it (the
        // parent's stays open) and reconnect on demand; the cursor and the
        // cache are ours and stay valid.
        st.utmp.conn = None;
        st.pid = me;
    }
    f(st, dl)
}

impl Utmp {
    /// `endutxent`: hang up and forget the cursor.
    pub fn close(&mut self) {
        self.conn = None;
        self.pos = 0;
        self.cache_len = 0;
    }

    /// `setutxent`: rewind.
    pub fn rewind(&mut self, dl: Deadline) -> Result<(), Errno> {
        self.pos = 0;
        self.cache_len = 0;
        match (self.dialect, &self.conn) {
            // A new base connection starts at the beginning anyway.
            (Dialect::Base, Some(_)) => self.transact(dl, |c, _| {
                c.send(&Request::Rewind, dl)?;
                c.recv_status(dl)
            })?,
            _ => Ok(()),
        }
    }

    /// `getutxent`: the next entry, `None` at the end.
    pub fn next(&mut self, dl: Deadline) -> Result<Option<Record>, Errno> {
        if let Some(r) = self.cached(self.pos) {
            self.pos += 1;
            return Ok(Some(r));
        }
        if self.dialect(dl)? == Dialect::Base {
            return match self.base_search(dl, &Request::Next) {
                Err(e) if e == Errno::ESRCH => Ok(None),
                other => other.map(Some),
            };
        }
        let start = self.pos;
        let n = self.transact(dl, |c, _| {
            c.send(
                &Request::Bulk {
                    start,
                    max: CACHE as u16,
                },
                dl,
            )?;
            let status = c.recv_status(dl)?;
            let end = c.recv_u64(dl)?;
            if let Err(e) = status {
                return Ok(Err(e));
            }
            let mut nb = [0u8; 2];
            c.recv(&mut nb, dl)?;
            let n = usize::from(u16::from_be_bytes(nb));
            if n > CACHE || end != start + n as u64 {
                return Err(Errno::EPROTO);
            }
            Ok(Ok(n))
        })??;
        if n == 0 {
            return Ok(None);
        }
        // The records follow the header on the same connection.
        let conn = self.conn.as_ref().ok_or(Errno::EIO)?;
        let bytes = self.cache.get_mut(..n * RECORD_SIZE).ok_or(Errno::EIO)?;
        if let Err(e) = conn.recv(bytes, dl) {
            self.conn = None;
            return Err(e);
        }
        self.cache_start = start;
        self.cache_len = n;
        let r = self.cached(self.pos).ok_or(Errno::EIO)?;
        self.pos += 1;
        Ok(Some(r))
    }

    fn cached(&self, index: u64) -> Option<Record> {
        let k = usize::try_from(index.checked_sub(self.cache_start)?).ok()?;
        if k >= self.cache_len {
            return None;
        }
        let b: &[u8; RECORD_SIZE] = self
            .cache
            .get(k * RECORD_SIZE..(k + 1) * RECORD_SIZE)?
            .try_into()
            .ok()?;
        Some(codec::decode_record(b))
    }

    /// `getutxid`.
    pub fn find_id(&mut self, query: &Record, dl: Deadline) -> Result<Record, Errno> {
        if !is_valid_id_query(query.kind) {
            return Err(Errno::EINVAL);
        }
        self.cache_len = 0;
        if self.dialect(dl)? == Dialect::Base {
            let req = Request::FindId {
                kind: query.kind.0,
                id: query.id,
            };
            return self.base_search(dl, &req);
        }
        let req = Request::FindIdAt {
            pos: self.pos,
            query: *query,
        };
        self.cursor_search(dl, &req)
    }

    /// `getutxline`.
    pub fn find_line(&mut self, line: &[u8; LINE_SIZE], dl: Deadline) -> Result<Record, Errno> {
        self.cache_len = 0;
        if self.dialect(dl)? == Dialect::Base {
            return self.base_search(dl, &Request::FindLine { line: *line });
        }
        let req = Request::FindLineAt {
            pos: self.pos,
            line: *line,
        };
        self.cursor_search(dl, &req)
    }

    /// `pututxline`.
    pub fn put(&mut self, record: &Record, dl: Deadline) -> Result<(), Errno> {
        self.cache_len = 0;
        if self.dialect(dl)? == Dialect::Base {
            return self.transact(dl, |c, _| {
                c.send(&Request::Put(*record), dl)?;
                c.recv_status(dl)
            })?;
        }
        let req = Request::PutAt {
            pos: self.pos,
            record: *record,
        };
        let (status, pos) = self.transact(dl, |c, _| {
            c.send(&req, dl)?;
            let status = c.recv_status(dl)?;
            Ok((status, c.recv_u64(dl)?))
        })?;
        self.pos = pos;
        status
    }

    /// A base-protocol request answered by a status and, on success, a record.
    fn base_search(&mut self, dl: Deadline, req: &Request) -> Result<Record, Errno> {
        self.transact(dl, |c, _| {
            c.send(req, dl)?;
            Ok(match c.recv_status(dl)? {
                Ok(()) => Ok(recv_record(c, dl)?),
                Err(e) => Err(e),
            })
        })?
    }

    /// An extension search: status, cursor, and the record when found.
    fn cursor_search(&mut self, dl: Deadline, req: &Request) -> Result<Record, Errno> {
        let (found, pos) = self.transact(dl, |c, _| {
            c.send(req, dl)?;
            let status = c.recv_status(dl)?;
            let pos = c.recv_u64(dl)?;
            Ok(match status {
                Ok(()) => (Ok(recv_record(c, dl)?), pos),
                Err(e) => (Err(e), pos),
            })
        })?;
        self.pos = pos;
        found
    }

    /// The dialect, probing the daemon on first contact.
    fn dialect(&mut self, dl: Deadline) -> Result<Dialect, Errno> {
        if self.dialect == Dialect::Unknown {
            let conn = Conn::connect(config::socket(Service::Utmpd), dl)?;
            conn.send(&Request::Version, dl)?;
            let answer = match conn.recv_status(dl) {
                Ok(Ok(())) => {
                    let mut b = [0u8; 8];
                    conn.recv(&mut b, dl)?;
                    let (_, caps) = codec::decode_version(&b);
                    let want = codec::CAP_BULK | codec::CAP_CURSOR;
                    if caps & want == want {
                        Some(Dialect::Extended)
                    } else {
                        Some(Dialect::Base)
                    }
                }
                // skarnet's daemon closes the connection on an unknown opcode.
                Ok(Err(_)) => Some(Dialect::Base),
                Err(e) if client::is_lost(e) => None,
                Err(e) => return Err(e),
            };
            match answer {
                Some(d) => {
                    self.dialect = d;
                    self.conn = (d == Dialect::Extended).then_some(conn);
                }
                None => self.dialect = Dialect::Base,
            }
        }
        Ok(self.dialect)
    }

    /// Runs one exchange on the connection, connecting first if needed. A
    /// broken connection is dropped; in the extended dialect, whose
    /// requests carry their cursor, a reused connection that turns out to
    /// be dead (the daemon's idle timeout) is retried once on a new one.
    fn transact<T>(
        &mut self,
        dl: Deadline,
        f: impl Fn(&Conn, Dialect) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let dialect = self.dialect(dl)?;
        let mut retried = false;
        loop {
            let fresh = self.conn.is_none();
            if fresh {
                self.conn = Some(Conn::connect(config::socket(Service::Utmpd), dl)?);
            }
            let conn = self.conn.as_ref().ok_or(Errno::EIO)?;
            match f(conn, dialect) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    self.conn = None;
                    if client::is_lost(e) && !fresh && !retried && dialect == Dialect::Extended {
                        retried = true;
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }
}

fn recv_record(c: &Conn, dl: Deadline) -> Result<Record, Errno> {
    let mut b = [0u8; RECORD_SIZE];
    c.recv(&mut b, dl)?;
    Ok(codec::decode_record(&b))
}
