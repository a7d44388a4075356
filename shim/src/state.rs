//! All per-process state, behind the one lock: the database named by
//! `utmpxname`, glibc's cursor, and the session with its backend (a daemon,
//! or a plain file handled in-process).

use crate::client::{self, Conn, Deadline};
use crate::config::{self, Service};
use crate::direct::{Direct, Outcome, Searched};
use crate::file::{self, FdStorage};
use crate::handover;
use crate::host;
use crate::lock;
use crate::paths::{self, Route};
use crate::sys::{self, Fd};
use core::cell::{Cell, UnsafeCell};
use core::ffi::CStr;
use proto::codec::{self, Request, CURSOR_SIZE, RECORD_SIZE};
use proto::matching::is_valid_id_query;
use proto::record::LINE_SIZE;
use proto::table::{self, Cursor, Put, Table};
use proto::{Errno, Layout, Record};

/// Records fetched per bulk read.
const CACHE: usize = 128;
/// Longest name `utmpxname` accepts (PATH_MAX with its NUL).
const NAME_MAX: usize = 4096;

/// What a daemon understands. Remembered per process and service: a
/// skarnet daemon stays a skarnet daemon.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dialect {
    Unknown,
    /// Ours: bulk reads that report the end (`R`), client-held cursors.
    Extended,
    /// Ours from before `R`: bulk reads with `B`, which does not report
    /// the end, so reading a table takes one more round trip.
    ExtendedWithoutEnd,
    /// skarnet utmps 0.1.3: one record per round trip, the cursor in the daemon.
    Base,
}

/// The shim's big buffers (54 KiB), mapped by the first call that needs
/// them instead of with the library: with /etc/ld.so.preload every exec
/// would map them (as .bss, an anonymous region and a zeroed page; as
/// .data, pages of the file), about 10 us each (README, Performance), and
/// nearly every process never calls the API. Zeroed by the kernel, which
/// is a valid `Arena`; never unmapped; a fork copies it with the process.
struct Arena {
    /// Records `cache_start..cache_start + cache_len` of a bulk read, in
    /// `cache_layout`: the wire form of a daemon's reply, or the file's
    /// own layout for a direct read (which reads one record more, to learn
    /// whether the table ends after them). First, so that a read of a few
    /// records touches one page of the mapping.
    records: [u8; (CACHE + 1) * proto::layout::MAX_SIZE],
    /// `utmpxname`'s file, NUL-terminated, when the shim opens it itself
    /// (`Route::File`); the daemons' files need no name.
    name: [u8; NAME_MAX],
}

// A daemon's reply (wire records) fits where a direct read goes.
const _: () = assert!(RECORD_SIZE <= proto::layout::MAX_SIZE);

/// Everything the shim remembers, guarded by [`lock`].
pub struct State {
    /// The pid that owns the connections: a fork makes them the parent's.
    pid: i32,
    /// The big buffers; null until a call needs them.
    arena: *mut Arena,
    route: Route,
    /// Whether the database is "open" (glibc's `file_fd >= 0`).
    open: bool,
    /// glibc's `file_offset` and `last_entry`: static, so `last` survives
    /// `endutxent` and `utmpxname` as it does in glibc.
    cursor: Cursor,
    conn: Option<Conn>,
    /// A kept connection for wtmp/btmp appends, and the daemon it goes to
    /// (meaningless while there is none).
    log_conn: Option<Conn>,
    log_service: Service,
    dialects: Dialects,
    /// What `arena.records` holds.
    cache_start: u64,
    cache_len: usize,
    /// The bulk read found no record after the cached ones.
    cache_ended: bool,
    cache_layout: Layout,
    /// The plain file, when `route` is `File`.
    file: Option<Fd>,
    writable: bool,
    /// Reading utmp and wtmp without a daemon, where allowed.
    direct: Direct,
}

struct Global(UnsafeCell<State>);

// SAFETY: the state is only reached through `with`, which holds the lock.
unsafe impl Sync for Global {}

// In .data, as every static of the shim that a call writes: the few
// hundred bytes share the page the loader's relocations write anyway, and
// the loader has no zero-filled page to map (README, Performance). The
// few zero words (`lock`, `host`) stay in .bss, after .data in that same
// page: the loader then zeroes the rest of the page before anything else
// touches it, so the page costs one copy-on-write fault instead of a read
// fault (the loader reads `.dynamic` first) and then a write fault.
#[unsafe(link_section = ".data.utmps")]
static STATE: Global = Global(UnsafeCell::new(State::new()));

/// A call's deadline (`UTMPS_TIMEOUT_MS`), its end kept in `end` (a new
/// cell holding 0) once the call first looks at the clock.
pub fn deadline(end: &Cell<u64>) -> Deadline<'_> {
    Deadline::new(config::timeout_ms(), end)
}

/// Runs `f` on the state under the lock, within one call's deadline.
pub fn with<T>(f: impl FnOnce(&mut State, Deadline) -> Result<T, Errno>) -> Result<T, Errno> {
    let end = Cell::new(0);
    let dl = deadline(&end);
    let guard = lock::acquire(dl)?;
    // SAFETY: the lock is held until `guard` drops, so this is the only
    // reference to the state.
    let st = unsafe { &mut *STATE.0.get() };
    // One getpid a call (it is a system call in glibc), taken by the lock.
    let me = guard.pid;
    if st.pid != me {
        // Forked: the connection is the parent's. Close our copy of it (the
        // parent's stays open) and reconnect on demand; the cursor and the
        // cache are ours and stay valid. A plain file descriptor is shared
        // harmlessly, as in glibc (all reads are pread).
        st.conn = None;
        st.log_conn = None;
        st.pid = me;
    }
    f(st, dl)
}

/// Which of the state's connections an exchange uses.
#[derive(Clone, Copy)]
enum Slot {
    /// The utmp session's (reads, writes, cursor).
    Session,
    /// The kept connection for appends.
    Log,
}

/// The dialect of each daemon.
struct Dialects {
    utmpd: Dialect,
    wtmpd: Dialect,
    btmpd: Dialect,
}

impl Dialects {
    fn of(&mut self, s: Service) -> &mut Dialect {
        match s {
            Service::Utmpd => &mut self.utmpd,
            Service::Wtmpd => &mut self.wtmpd,
            Service::Btmpd => &mut self.btmpd,
        }
    }
}

impl State {
    /// The state of a process that has made no call yet.
    const fn new() -> State {
        State {
            pid: 0,
            arena: core::ptr::null_mut(),
            route: Route::Daemon(Service::Utmpd),
            open: false,
            cursor: Cursor { pos: 0, last: None },
            conn: None,
            log_conn: None,
            log_service: Service::Utmpd,
            dialects: Dialects {
                utmpd: Dialect::Unknown,
                wtmpd: Dialect::Unknown,
                btmpd: Dialect::Unknown,
            },
            cache_start: 0,
            cache_len: 0,
            cache_ended: false,
            cache_layout: Layout::Wire,
            file: None,
            writable: false,
            direct: Direct::new(),
        }
    }

    /// The arena, mapped on the first call.
    fn arena(&mut self) -> Result<*mut Arena, Errno> {
        if self.arena.is_null() {
            self.arena = sys::map_zeroed(core::mem::size_of::<Arena>())?.cast();
        }
        Ok(self.arena)
    }

    /// `utmpxname`: close the database and remember the new name.
    pub fn set_name(&mut self, name: &CStr) -> Result<(), Errno> {
        let bytes = name.to_bytes_with_nul();
        if bytes.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let route = paths::route(name.to_bytes());
        self.close();
        if route == Route::File {
            let arena = self.arena()?;
            // SAFETY: the arena is mapped, valid and reached only under the
            // state lock (see `Arena`); no other reference to it is alive.
            let stored = unsafe { &mut (*arena).name };
            if let Some(dst) = stored.get_mut(..bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        }
        self.route = route;
        Ok(())
    }

    fn name(&mut self) -> Result<&CStr, Errno> {
        let arena = self.arena()?;
        // SAFETY: as in `set_name`; the name lives as long as the arena.
        let stored = unsafe { &(*arena).name };
        CStr::from_bytes_until_nul(stored).map_err(|_| Errno::EINVAL)
    }

    /// `endutxent`.
    pub fn close(&mut self) {
        self.conn = None;
        self.file = None;
        self.direct.close();
        self.open = false;
        self.forget_cache();
    }

    /// Drops what a bulk read fetched: the next read asks the daemon.
    fn forget_cache(&mut self) {
        self.cache_len = 0;
        self.cache_ended = false;
    }

    /// glibc's `maybe_setutent`: open the database on first use.
    fn ensure_open(&mut self) -> Result<(), Errno> {
        if !self.open {
            if self.route == Route::File {
                self.file = Some(sys::open(self.name()?, libc::O_RDONLY)?);
                self.writable = false;
            }
            self.cursor.pos = 0;
            self.forget_cache();
            self.open = true;
        }
        Ok(())
    }

    /// `setutxent`.
    pub fn rewind(&mut self, dl: Deadline) -> Result<(), Errno> {
        let was_open = self.open;
        self.ensure_open()?;
        self.cursor.rewind();
        self.forget_cache();
        if let Route::Daemon(service) = self.route {
            // A new base connection starts at the beginning anyway.
            if was_open && self.conn.is_some() && *self.dialects.of(service) == Dialect::Base {
                self.transact(service, dl, |c| {
                    c.send(&Request::Rewind, dl)?;
                    c.recv_status(dl)
                })??;
            }
        }
        Ok(())
    }

    /// `getutxent`: the next entry, `None` at the end.
    ///
    /// One bulk read (`R`) fetches up to [`CACHE`] records and whether the
    /// table ends after them, so a small table is read in one round trip.
    /// That end is returned once without asking again; the next call asks,
    /// as glibc reads the file again at every call (docs/PROTOCOL.md).
    pub fn next(&mut self, dl: Deadline) -> Result<Option<Record>, Errno> {
        self.ensure_open()?;
        let service = match self.route {
            // A closure, not `table::next`: a fn item is not general over
            // the storage's lifetime.
            #[allow(clippy::redundant_closure)]
            Route::File => return self.with_file(libc::F_RDLCK, dl, |t, c| table::next(t, c)),
            Route::Daemon(s) => s,
        };
        if let Some(r) = self.take_cached() {
            return Ok(Some(r));
        }
        if self.cache_ended && self.cursor.pos == self.cache_end() {
            self.cache_ended = false;
            return Ok(None);
        }
        self.forget_cache();
        // Before the request: a reply must be read whole or the connection dropped.
        let arena = self.arena()?;
        let start = self.cursor.pos;
        // SAFETY: as in `set_name`.
        let records = unsafe { &mut (*arena).records };
        let direct = self.directly(|d| d.read(service, start, records, CACHE, dl));
        match direct {
            Outcome::Read(_, 0, _) => return Ok(None),
            Outcome::Read(layout, n, ended) => {
                self.cache_start = start;
                self.cache_len = n;
                self.cache_ended = ended;
                self.cache_layout = layout;
                return self.take_cached().map(Some).ok_or(Errno::EIO);
            }
            Outcome::Failed(e) => return Err(e),
            Outcome::Daemon => {}
        }
        let header = loop {
            let with_end = *self.dialects.of(service) != Dialect::ExtendedWithoutEnd;
            let reply = self.extended(service, dl, |c| {
                let max = CACHE as u16;
                c.send(&bulk_request(start, max, with_end), dl)?;
                recv_bulk_header(c, start, with_end, dl)
            })?;
            match reply {
                // An older daemon of ours, which does not know `R`: it
                // answered EPROTO and hung up. `B` from now on.
                Some(Err(e)) if with_end && e == Errno::EPROTO => {
                    *self.dialects.of(service) = Dialect::ExtendedWithoutEnd;
                    self.conn = None;
                }
                Some(header) => break header?,
                None => {
                    return match self.base_read(service, dl, &Request::Next) {
                        Err(e) if e == Errno::ESRCH => Ok(None),
                        other => other.map(Some),
                    };
                }
            }
        };
        let n = usize::from(header.n);
        if n == 0 {
            return Ok(None);
        }
        // The records follow the header on the same connection.
        let conn = self.conn.as_ref().ok_or(Errno::EIO)?;
        // SAFETY: as in `set_name`.
        let records = unsafe { &mut (*arena).records };
        let bytes = records.get_mut(..n * RECORD_SIZE).ok_or(Errno::EIO)?;
        if let Err(e) = conn.recv(bytes, dl) {
            self.conn = None;
            return Err(e);
        }
        self.cache_start = start;
        self.cache_len = n;
        self.cache_ended = header.ended;
        self.cache_layout = Layout::Wire;
        self.take_cached().map(Some).ok_or(Errno::EIO)
    }

    /// The index after the cached records.
    fn cache_end(&self) -> u64 {
        self.cache_start.saturating_add(self.cache_len as u64)
    }

    /// The cached record at the cursor, consumed as a read.
    fn take_cached(&mut self) -> Option<Record> {
        let k = usize::try_from(self.cursor.pos.checked_sub(self.cache_start)?).ok()?;
        if k >= self.cache_len || self.arena.is_null() {
            return None;
        }
        // SAFETY: as in `set_name` (a cache is only ever filled in the arena).
        let records = unsafe { &(*self.arena).records };
        let size = self.cache_layout.size();
        let r = self.cache_layout.decode(records.get(k * size..)?)?;
        self.cursor.pos += 1;
        self.cursor.last = Some(r);
        Some(r)
    }

    /// `getutxid`.
    pub fn find_id(&mut self, query: &Record, dl: Deadline) -> Result<Record, Errno> {
        // glibc refuses the type before it opens anything.
        if !is_valid_id_query(query.kind) {
            return Err(Errno::EINVAL);
        }
        self.ensure_open()?;
        self.forget_cache();
        let service = match self.route {
            Route::File => {
                return self
                    .with_file(libc::F_RDLCK, dl, |t, c| table::find_id(t, c, query))?
                    .ok_or(Errno::ESRCH)
            }
            Route::Daemon(s) => s,
        };
        if let Some(found) = self.search_directly(service, dl, |t, c| table::find_id(t, c, query)) {
            return found;
        }
        let req = Request::FindIdAt {
            cursor: self.cursor,
            query: *query,
        };
        if let Some(found) = self.cursor_search(service, dl, &req)? {
            return found;
        }
        let req = Request::FindId {
            kind: query.kind.0,
            id: query.id,
        };
        self.base_read(service, dl, &req)
    }

    /// `getutxline`.
    pub fn find_line(&mut self, line: &[u8; LINE_SIZE], dl: Deadline) -> Result<Record, Errno> {
        self.ensure_open()?;
        self.forget_cache();
        let service = match self.route {
            Route::File => {
                return self
                    .with_file(libc::F_RDLCK, dl, |t, c| table::find_line(t, c, line))?
                    .ok_or(Errno::ESRCH)
            }
            Route::Daemon(s) => s,
        };
        if let Some(found) = self.search_directly(service, dl, |t, c| table::find_line(t, c, line))
        {
            return found;
        }
        let req = Request::FindLineAt {
            cursor: self.cursor,
            line: *line,
        };
        if let Some(found) = self.cursor_search(service, dl, &req)? {
            return found;
        }
        self.base_read(service, dl, &Request::FindLine { line: *line })
    }

    /// `f` on the direct reads. Once the session has its file, a
    /// connection made before may have opened another one at the daemon's
    /// path (a rotated wtmp): it is dropped.
    fn directly<T>(&mut self, f: impl FnOnce(&mut Direct) -> T) -> T {
        let bound = self.direct.bound();
        let r = f(&mut self.direct);
        if !bound && self.direct.bound() {
            self.conn = None;
        }
        r
    }

    /// A search (`getutxid`, `getutxline`) run by the shim on the file
    /// itself, where direct reads are allowed: glibc's algorithm from the
    /// cursor, each chunk one consistent snapshot (see `direct`). `None`
    /// when the daemon must answer; the cursor is then as it was.
    fn search_directly(
        &mut self,
        service: Service,
        dl: Deadline,
        f: impl FnOnce(&mut Table<Searched<'_>>, &mut Cursor) -> Result<Option<Record>, Errno>,
    ) -> Option<Result<Record, Errno>> {
        let layout = match self.directly(|d| d.layout(service, dl)) {
            Ok(layout) => layout,
            Err(Outcome::Failed(e)) => return Some(Err(e)),
            Err(_) => return None,
        };
        let mut cursor = self.cursor;
        let searched = Searched {
            direct: &mut self.direct,
            service,
            dl,
            stop: None,
        };
        let mut t = Table::new(searched, layout);
        let found = f(&mut t, &mut cursor);
        match t.storage().stop.take() {
            Some(Outcome::Failed(e)) => Some(Err(e)),
            Some(_) => None,
            None => {
                self.cursor = cursor;
                Some(found.and_then(|r| r.ok_or(Errno::ESRCH)))
            }
        }
    }

    /// `pututxline`.
    pub fn put(&mut self, record: &Record, dl: Deadline) -> Result<Put, Errno> {
        self.ensure_open()?;
        self.forget_cache();
        let service = match self.route {
            Route::File => {
                if !self.writable {
                    // glibc reopens read-write only now, with the caller's rights.
                    self.file = Some(sys::open(self.name()?, libc::O_RDWR)?);
                    self.writable = true;
                }
                return self.with_file(libc::F_WRLCK, dl, |t, c| table::put(t, c, record));
            }
            Route::Daemon(s) => s,
        };
        let req = Request::PutAt {
            cursor: self.cursor,
            record: *record,
        };
        let reply = self.extended(service, dl, |c| {
            c.send(&req, dl)?;
            let status = c.recv_status(dl)?;
            let mut flag = [0u8; 1];
            c.recv(&mut flag, dl)?;
            Ok((status, flag[0] != 0, recv_cursor(c, dl)?))
        })?;
        if let Some((status, appended, cursor)) = reply {
            self.cursor = cursor;
            return status.map(|()| Put { appended });
        }
        self.transact(service, dl, |c| {
            c.send(&Request::Put(*record), dl)?;
            c.recv_status(dl)
        })??;
        Ok(Put { appended: false })
    }

    fn slot(&mut self, slot: Slot) -> &mut Option<Conn> {
        match slot {
            Slot::Session => &mut self.conn,
            Slot::Log => &mut self.log_conn,
        }
    }

    /// `updwtmpx` to a daemon: on a kept connection (`A`), or one
    /// connection per record (`+`) with skarnet's wtmpd. Only root's and
    /// the writers' group's connection is kept past the call: theirs
    /// follows a renamed log (`Store::follow_rename`) and is served from
    /// a pool of their own. An ordinary user's would hold a daemon process
    /// until its idle timeout, counted against their `-C`: forty idle
    /// processes that once tried `updwtmpx` locked the user out of their
    /// own logins (docs/DESIGN.md, Admission).
    pub fn append(&mut self, service: Service, record: &Record, dl: Deadline) -> Result<(), Errno> {
        // A process sees its own writes, as with glibc (one reading wtmp
        // while it appends to it, or utmp after libutempter's entry).
        self.forget_cache();
        if self.log_service != service {
            self.log_conn = None;
            self.log_service = service;
        }
        match self.append_with(service, record, None, dl) {
            // The daemon may not open the log: once more with the
            // caller's own descriptor of it, as glibc would have written
            // it directly (see `handover`). What the caller may not open
            // either is lost, with the daemon's refusal.
            Err(e) if e == Errno::EACCES => match handover::open(service) {
                Ok(log) => self.append_with(service, record, Some(&log), dl),
                Err(_) => Err(e),
            },
            r => r,
        }
    }

    /// One append on the kept connection (`A`), or on a connection of its
    /// own (`+`) with skarnet's wtmpd; `log` attached if any.
    fn append_with(
        &mut self,
        service: Service,
        record: &Record,
        log: Option<&Fd>,
        dl: Deadline,
    ) -> Result<(), Errno> {
        let kept = self.extended_on(Slot::Log, service, dl, |c| {
            c.send_maybe_with_fd(&Request::AppendKeep(*record), log, dl)?;
            c.recv_status(dl)
        })?;
        if !self.log_conn.as_ref().is_some_and(Conn::is_privileged) {
            self.log_conn = None;
        }
        match kept {
            Some(status) => status,
            None => client::append(config::socket(service), record, log, dl),
        }
    }

    /// Runs `f` on the plain file under glibc's lock of `kind`.
    fn with_file<T>(
        &mut self,
        kind: libc::c_int,
        dl: Deadline,
        f: impl FnOnce(&mut Table<FdStorage>, &mut Cursor) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let fd = self.file.as_ref().ok_or(Errno::EBADF)?;
        file::lock(fd, kind, dl)?;
        let mut t = Table::new(FdStorage(fd), host::layout());
        let r = f(&mut t, &mut self.cursor);
        let _ = sys::try_lock(fd, libc::F_UNLCK);
        r
    }

    /// A base-protocol read answered by a status and, on success, a record.
    fn base_read(
        &mut self,
        service: Service,
        dl: Deadline,
        req: &Request,
    ) -> Result<Record, Errno> {
        self.transact(service, dl, |c| {
            c.send(req, dl)?;
            Ok(match c.recv_status(dl)? {
                Ok(()) => Ok(recv_record(c, dl)?),
                Err(e) => Err(e),
            })
        })?
    }

    /// An extension search: status and cursor; the entry found is the
    /// cursor's last entry. `None` when the daemon speaks the base protocol.
    fn cursor_search(
        &mut self,
        service: Service,
        dl: Deadline,
        req: &Request,
    ) -> Result<Option<Result<Record, Errno>>, Errno> {
        let reply = self.extended(service, dl, |c| {
            c.send(req, dl)?;
            let status = c.recv_status(dl)?;
            Ok((status, recv_cursor(c, dl)?))
        })?;
        Ok(reply.map(|(status, cursor)| {
            self.cursor = cursor;
            status.and_then(|()| cursor.last.ok_or(Errno::EPROTO))
        }))
    }

    /// Runs an extension exchange; `None` when the daemon turns out to
    /// speak only the base protocol. The first exchange with a daemon is
    /// also the probe: skarnet's closes the connection on an opcode it does
    /// not know (the request has done nothing), so the process falls back
    /// to the base protocol for good; an answer settles on the extensions.
    fn extended<T>(
        &mut self,
        service: Service,
        dl: Deadline,
        f: impl Fn(&Conn) -> Result<T, Errno>,
    ) -> Result<Option<T>, Errno> {
        self.extended_on(Slot::Session, service, dl, f)
    }

    /// [`State::extended`] on connection `slot`.
    fn extended_on<T>(
        &mut self,
        slot: Slot,
        service: Service,
        dl: Deadline,
        f: impl Fn(&Conn) -> Result<T, Errno>,
    ) -> Result<Option<T>, Errno> {
        match *self.dialects.of(service) {
            Dialect::Base => Ok(None),
            Dialect::Extended | Dialect::ExtendedWithoutEnd => {
                self.transact_on(slot, service, dl, f).map(Some)
            }
            Dialect::Unknown => {
                *self.slot(slot) = None;
                let (conn, r) = client::exchange(config::socket(service), dl, &f)?;
                match r {
                    Ok(v) => {
                        *self.dialects.of(service) = Dialect::Extended;
                        *self.slot(slot) = Some(conn);
                        Ok(Some(v))
                    }
                    Err(e) if client::is_lost(e) => {
                        *self.dialects.of(service) = Dialect::Base;
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Runs one exchange with `service`, connecting first if needed. A
    /// kept connection the daemon has closed meanwhile (its idle timeout)
    /// is replaced before anything is sent; once a request is sent it is
    /// never repeated (an append or a put must not happen twice) unless
    /// the daemon did not perform it (a listener's refusal, the end of a
    /// connection's lifetime), and a broken connection is dropped with its
    /// error.
    fn transact<T>(
        &mut self,
        service: Service,
        dl: Deadline,
        f: impl Fn(&Conn) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        self.transact_on(Slot::Session, service, dl, f)
    }

    /// [`State::transact`] on connection `slot`.
    fn transact_on<T>(
        &mut self,
        slot: Slot,
        service: Service,
        dl: Deadline,
        f: impl Fn(&Conn) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let socket = config::socket(service);
        let mut r = match self.slot(slot).take().filter(|c| !c.is_closed()) {
            Some(conn) => {
                let r = f(&conn);
                *self.slot(slot) = Some(conn);
                r
            }
            None => {
                let (conn, r) = client::exchange(socket, dl, &f)?;
                *self.slot(slot) = Some(conn);
                r
            }
        };
        if r.as_ref().err() == Some(&codec::EXPIRED) {
            // The daemon ended a connection past its lifetime without
            // performing the request: once more, on a new connection.
            let (fresh, again) = client::exchange(socket, dl, &f)?;
            r = again;
            *self.slot(slot) = Some(fresh);
        }
        if r.is_err() {
            *self.slot(slot) = None;
        }
        r
    }
}

/// A bulk read from `start`: `R`, or `B` for a daemon that predates it.
fn bulk_request(start: u64, max: u16, with_end: bool) -> Request {
    if with_end {
        Request::BulkEnd { start, max }
    } else {
        Request::Bulk { start, max }
    }
}

/// The header of a bulk reply (`R` when `with_end`, else `B`): the
/// daemon's refusal, or what follows. A count or position that does not
/// fit the request is a protocol error.
fn recv_bulk_header(
    c: &Conn,
    start: u64,
    with_end: bool,
    dl: Deadline,
) -> Result<Result<codec::BulkHeader, Errno>, Errno> {
    let status = c.recv_status(dl)?;
    let mut b = [0u8; codec::BULK_HEADER_MAX];
    if let Err(e) = status {
        // `B` follows a refusal with the start (u64); `R` with nothing.
        if !with_end {
            c.recv_u64(dl)?;
        }
        return Ok(Err(e));
    }
    let len = codec::bulk_header_len(with_end);
    c.recv(b.get_mut(..len).ok_or(Errno::EIO)?, dl)?;
    let h = codec::decode_bulk_header(&b, with_end);
    let n = u64::from(h.n);
    if n > CACHE as u64 || start.checked_add(n) != Some(h.end) {
        return Err(Errno::EPROTO);
    }
    Ok(Ok(h))
}

fn recv_record(c: &Conn, dl: Deadline) -> Result<Record, Errno> {
    let mut b = [0u8; RECORD_SIZE];
    c.recv(&mut b, dl)?;
    Ok(codec::decode_record(&b))
}

fn recv_cursor(c: &Conn, dl: Deadline) -> Result<Cursor, Errno> {
    let mut b = [0u8; CURSOR_SIZE];
    c.recv(&mut b, dl)?;
    codec::decode_cursor(&b)
}

/// The fuzzer's entry: a daemon that answers the first request with
/// `data[1..]` (then end of file), against a session in the extended
/// dialect; `data[0]` picks the operation (bits 0-1: read, search by id,
/// search by line, write), the cursor (bits 2-6) and the bulk read (bit
/// 7: `R`, or `B` of an older daemon). The same reply parsing as the
/// exports. Must not panic or hang.
#[cfg(feature = "fuzz")]
pub fn fuzz_replies(data: &[u8]) {
    use std::io::{Read, Write};
    use std::os::fd::FromRawFd;
    let Some((&which, reply)) = data.split_first() else {
        return;
    };
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: socketpair writes two descriptors into `fds`.
    let ok = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } == 0;
    if !ok {
        return;
    }
    // SAFETY: the second descriptor is ours alone from here on.
    let mut daemon = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fds[1]) };
    let reply = reply.to_vec();
    let server = std::thread::spawn(move || {
        let _ = daemon.set_read_timeout(Some(std::time::Duration::from_millis(50)));
        let mut req = [0u8; codec::MAX_REQUEST];
        if daemon.read(&mut req).unwrap_or(0) > 0 {
            let _ = daemon.write_all(&reply);
        }
        let _ = daemon.shutdown(std::net::Shutdown::Write);
        while daemon.read(&mut req).unwrap_or(0) > 0 {}
    });
    // SAFETY: fcntl on the descriptor we own: the shim's sockets are non-blocking.
    unsafe { libc::fcntl(fds[0], libc::F_SETFL, libc::O_NONBLOCK) };
    let mut st = std::boxed::Box::new(State::new());
    st.conn = Some(Conn::from_fd(Fd::from_raw(fds[0])));
    st.dialects.utmpd = if which & 0x80 == 0 {
        Dialect::Extended
    } else {
        Dialect::ExtendedWithoutEnd
    };
    st.open = true;
    // The replies are the input: no direct read of the machine's files.
    st.direct = Direct::without_files();
    st.cursor.pos = u64::from((which >> 2) & 0x1f);
    let end = Cell::new(0);
    let dl = Deadline::new(50, &end);
    let mut q = Record::EMPTY;
    q.kind = proto::Kind::USER_PROCESS;
    q.line[0] = b't';
    let _ = match which % 4 {
        0 => st.next(dl).map(|_| ()),
        1 => st.find_id(&q, dl).map(|_| ()),
        2 => st.find_line(&q.line, dl).map(|_| ()),
        _ => st.put(&q, dl).map(|_| ()),
    };
    // Bulk reads consumed from the cache, as getutxent would.
    for _ in 0..3 {
        if st.take_cached().is_none() {
            break;
        }
    }
    drop(st);
    let _ = server.join();
}
