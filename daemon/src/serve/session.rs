//! One client, start to end: decode, check policy, run on the store,
//! encode, until the client hangs up or breaks the protocol.

use crate::accept::peer::{self, Peer};
use crate::cli::args::{Config, Daemon};
use crate::serve::policy;
use crate::serve::pty;
use crate::store::files::{self, Audience};
use crate::store::lock::{self, Watch};
use crate::store::notice;
use crate::store::records::{self, Payer, Store};
use crate::sys;
use crate::Failure;
use proto::codec::{self, Request, RECORD_SIZE};
use proto::matching::is_valid_id_query;
use proto::record::LINE_SIZE;
use proto::table::{self, Cursor};
use proto::{Errno, Layout, Record};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendFlags};
use std::cell::{Cell, OnceCell};
use std::fs::File;
use std::io::{self, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Serves the client on descriptors 0 and 1.
pub fn run(cfg: &Config) -> Result<(), Failure> {
    run_for(cfg, peer::identify()?, Settle::nothing())
}

/// Serves the client on descriptors 0 and 1, known to be `peer`; owing
/// `settle` (see [`Settle`]).
pub fn run_for(cfg: &Config, peer: Peer, settle: Settle) -> Result<(), Failure> {
    let (input, output) = sys::std_streams();
    let mut conn = Conn {
        input,
        output,
        cfg,
        // Descriptors only travel over a socket, which is what the kernel
        // identified the peer through.
        socket: peer.pid.is_some(),
        fds: Vec::new(),
        settle: Cell::new(settle),
    };
    serve(cfg, peer, &mut conn)
}

/// What a `--listen` standby still owes its listener once it has taken a
/// client: reporting it and closing the listening sockets. Paid after the
/// client's first reply, off the path between its request and that reply
/// (the report wakes the listener, which on a small machine competes with
/// the reply for the CPU), but never later than the first moment the
/// process could wait (for the client, a lock, or a write to disk), and
/// at the latest when dropped: the listener accepts nobody until it has
/// the report.
#[derive(Default)]
pub struct Settle(Option<Box<dyn FnOnce()>>);

impl Settle {
    /// `f`, owed.
    pub fn new(f: impl FnOnce() + 'static) -> Settle {
        Settle(Some(Box::new(f)))
    }

    /// Nothing owed.
    pub fn nothing() -> Settle {
        Settle(None)
    }

    /// Pays what is owed, if anything.
    pub fn now(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        self.now();
    }
}

/// How the record file may be read, from the options: `--root-only`
/// (btmp) and `--private` keep it from others.
pub fn audience(cfg: &Config) -> Audience {
    if cfg.root_only {
        Audience::Owner
    } else if cfg.private {
        Audience::Group
    } else {
        Audience::Everyone
    }
}

/// Serves `input` as one client's whole byte stream, as `peer`: the bytes
/// replied, and how the session ended. For fuzzing and tests; the same
/// loop as a real connection's.
pub fn serve_bytes(cfg: &Config, peer: Peer, input: &[u8]) -> (Result<(), Failure>, Vec<u8>) {
    let mut ch = Bytes {
        input,
        output: Vec::new(),
    };
    let r = serve(cfg, peer, &mut ch);
    (r, ch.output)
}

/// Serves one bulk read of the file to nobody, as root, and forgets it:
/// what a `--listen` standby does before it waits for a client. A forked
/// process pays a page fault for each page it touches first (its code,
/// heap, stack, the C library's data: about 20 for a request, some 3 us
/// each on a VM), and this way it pays them before a client waits on the
/// reply. Reads only; nothing is kept (the client's request opens the
/// file again, so a file replaced meanwhile is the one served).
pub fn warm_up(cfg: &Config) {
    // Nothing to read, and a file made here could race logrotate's
    // `create` (see `Store::follow_rename`): a client's request makes it.
    if std::fs::symlink_metadata(&cfg.file).is_err() {
        return;
    }
    let Ok(store) = Store::open(&cfg.file, &cfg.lock, cfg.layout, audience(cfg)) else {
        // The client's request will report it.
        return;
    };
    let root = Peer {
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        pid: None,
    };
    let mut session = Session::new(cfg, root, Ok(store));
    let read = Request::BulkEnd {
        start: 0,
        // utmpd's clients read the table (`who`, `w`): as they would. Most
        // of wtmpd's append: the code paths, not the history.
        max: match cfg.daemon {
            Daemon::Utmpd => codec::BULK_MAX,
            Daemon::Wtmpd => 1,
        },
    };
    std::hint::black_box(session.handle(read, None, &lock::Impatient));
}

/// Where a session's bytes come from and go to.
trait Channel: Watch {
    /// Fills `buf` unless the client closes first: the bytes read.
    fn read_exact(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize, Failure>;
    /// Sends a reply whole.
    fn reply(&mut self, bytes: &[u8]) -> Result<(), Failure>;
    /// The descriptor that came with the request just read, if any.
    fn take_fd(&mut self) -> Option<OwnedFd>;
    /// How long a client may take to send one request.
    fn timeout(&self) -> std::time::Duration;
    /// Pays what the process owes before it may wait (see [`Settle`]).
    fn settle(&self) {}

    /// The next request, `None` when the client closed the connection.
    /// A silent client, a partial request or an unknown opcode ends the
    /// session: nobody keeps a daemon alive for free.
    fn request(&mut self) -> Result<Option<Request>, Failure> {
        let deadline = Instant::now() + self.timeout();
        let mut op = [0u8; 1];
        if self.read_exact(&mut op, deadline)? == 0 {
            return Ok(None);
        }
        let Some(len) = codec::body_len(op[0]) else {
            self.reply(&[Errno::EPROTO.to_wire()])?;
            return Err(Failure::Protocol(format!("unknown opcode {:#04x}", op[0])));
        };
        let mut body = [0u8; codec::MAX_REQUEST];
        let body = &mut body[..len];
        if self.read_exact(body, deadline)? < len {
            return Err(Failure::Protocol("request cut short".into()));
        }
        codec::decode_request(op[0], body)
            .map(Some)
            .map_err(|_| Failure::Protocol("malformed request".into()))
    }
}

/// Whether a session may go on: ordinary peers' connections end after the
/// idle limit (`--timeout`, in [`Channel::request`]) and after their
/// lifetime (`--lifetime`), so nobody keeps a daemon process alive by
/// sending a cheap request now and then.
struct Lifetime {
    ends: Option<Instant>,
}

impl Lifetime {
    fn expired(&self) -> bool {
        self.ends.is_some_and(|t| Instant::now() >= t)
    }
}

/// The request loop of one session.
fn serve(cfg: &Config, peer: Peer, ch: &mut impl Channel) -> Result<(), Failure> {
    let store = open_store(cfg);
    let mut session = Session::new(cfg, peer, store);
    let lifetime = Lifetime {
        ends: (!session.privileged()).then(|| Instant::now() + cfg.lifetime),
    };
    while let Some(req) = ch.request()? {
        // Only a read of the table is sure not to wait, unless for a lock
        // (which settles first, see `Conn::pause`): writes wait for the
        // disk, and --private looks into the user database.
        let quick = matches!(
            req,
            Request::Version | Request::Bulk { .. } | Request::BulkEnd { .. }
        ) && audience(cfg) == Audience::Everyone;
        if !quick {
            ch.settle();
        }
        // A descriptor is taken by `T`, and by wtmpd's appends (the log,
        // from a privileged client, when the daemon cannot open it); any
        // other is closed at once, so no peer can make the daemon hold its
        // descriptors.
        let fd = ch.take_fd().filter(|_| match req {
            Request::Pty { .. } => true,
            Request::Append(_) | Request::AppendKeep(_) => cfg.daemon == Daemon::Wtmpd,
            _ => false,
        });
        if lifetime.expired() {
            // Not performed: the client reconnects and sends it again.
            if req.is_extension() {
                ch.reply(&[codec::EXPIRED.to_wire()])?;
            }
            return Err(Failure::Protocol("connection past its lifetime".into()));
        }
        if let Request::Append(r) = req {
            if cfg.daemon == Daemon::Wtmpd {
                // skarnet's wtmpd: one append per connection.
                let status = session.append(&r, fd, &*ch);
                return ch.reply(&[codec::status(status)]);
            }
        }
        if let Request::AppendKeep(r) = req {
            let status = match cfg.daemon {
                Daemon::Wtmpd => session.append(&r, fd, &*ch),
                Daemon::Utmpd => Err(Errno::EPROTO),
            };
            ch.reply(&[codec::status(status)])?;
            continue;
        }
        let reply = session.handle(req, fd, &*ch);
        ch.reply(&reply)?;
        if reply.first() == Some(&Errno::EPROTO.to_wire()) && reply.len() == 1 {
            return Err(Failure::Protocol(
                "request not served by this daemon".into(),
            ));
        }
    }
    Ok(())
}

/// The store of `cfg`, or the errno every request gets when the daemon
/// cannot open it (reported once per state of the file, with the fix).
fn open_store(cfg: &Config) -> Result<Store, Errno> {
    let report =
        |e: &io::Error| notice::once(cfg.daemon.name(), &cfg.file, &cfg.lock, audience(cfg), e);
    let store = Store::open(&cfg.file, &cfg.lock, cfg.layout, audience(cfg)).map_err(|e| {
        report(&e);
        records::errno_of(&e)
    })?;
    // Served to readers, refused to writers: said as well.
    if let Some(e) = store.read_only_error() {
        report(&e);
    }
    Ok(store)
}

/// A byte slice as a client (see [`serve_bytes`]).
struct Bytes<'a> {
    input: &'a [u8],
    output: Vec<u8>,
}

impl Watch for Bytes<'_> {
    fn pause(&self, d: Duration) -> bool {
        crate::store::lock::Patient.pause(d)
    }
}

impl Channel for Bytes<'_> {
    fn read_exact(&mut self, buf: &mut [u8], _: Instant) -> Result<usize, Failure> {
        let n = buf.len().min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
    fn reply(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.output.extend_from_slice(bytes);
        Ok(())
    }
    fn take_fd(&mut self) -> Option<OwnedFd> {
        None
    }
    fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
}

/// The client's connection with its deadlines.
struct Conn<'a> {
    input: File,
    output: File,
    cfg: &'a Config,
    /// Whether stdin is a socket (read with `recvmsg`).
    socket: bool,
    /// Descriptors that came with the request being read.
    fds: Vec<OwnedFd>,
    /// What is owed before the process may wait.
    settle: Cell<Settle>,
}

/// Waits up to `timeout` for `flags` on `fd`: the events that came.
fn wait_for(fd: &File, flags: PollFlags, timeout: Duration) -> io::Result<PollFlags> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ts = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(fd, flags)];
        match poll(&mut fds, Some(&ts)) {
            Ok(_) => return Ok(fds[0].revents()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

impl Watch for Conn<'_> {
    /// Watches for the client going away (its deadline passed, or it
    /// died) while pausing: nobody is left to read the reply. On a socket
    /// that is `POLLHUP` (the peer closed; a mere `shutdown(SHUT_WR)` is
    /// not gone), on a pipe `POLLERR` (the reader closed). A new request
    /// arriving meanwhile does not end the pause.
    fn pause(&self, d: Duration) -> bool {
        self.settle();
        match wait_for(&self.output, PollFlags::empty(), d) {
            Ok(ev) => !ev.intersects(PollFlags::HUP | PollFlags::ERR),
            Err(_) => false,
        }
    }
}

impl Conn<'_> {
    /// Pays what is owed (see [`Settle`]), then waits until `fd` is ready
    /// for `flags` or `deadline` passes: whether it is ready.
    fn ready(&self, fd: &File, flags: PollFlags, deadline: Instant) -> Result<bool, Failure> {
        self.settle();
        let left = deadline.saturating_duration_since(Instant::now());
        let ready = wait_for(fd, flags, left).map_err(|e| Failure::System(format!("poll: {e}")))?;
        Ok(!ready.is_empty())
    }
}

impl Channel for Conn<'_> {
    fn timeout(&self) -> std::time::Duration {
        self.cfg.timeout
    }

    fn take_fd(&mut self) -> Option<OwnedFd> {
        let fd = self.fds.pop();
        self.fds.clear();
        fd
    }

    fn read_exact(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize, Failure> {
        let mut done = 0;
        // A socket is read without waiting first (the request is usually
        // there already); a pipe must be polled, or its read would block.
        let mut wait = !self.socket;
        while done < buf.len() {
            if wait && !self.ready(&self.input, PollFlags::IN, deadline)? {
                return Err(Failure::Protocol(format!(
                    "client silent for {} ms",
                    self.cfg.timeout.as_millis()
                )));
            }
            let read = if self.socket {
                recv_with_fds(&self.input, &mut buf[done..], &mut self.fds)
            } else {
                self.input.read(&mut buf[done..])
            };
            match read {
                Ok(0) => break,
                Ok(n) => {
                    done += n;
                    wait = !self.socket;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => return Err(Failure::System(format!("read: {e}"))),
            }
        }
        Ok(done)
    }

    fn reply(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let deadline = Instant::now() + self.cfg.timeout;
        let mut done = 0;
        // As for reading: a socket is written without waiting first.
        let mut wait = !self.socket;
        while done < bytes.len() {
            if wait && !self.ready(&self.output, PollFlags::OUT, deadline)? {
                return Err(Failure::Protocol("client does not read its reply".into()));
            }
            let written = if self.socket {
                rustix::net::send(
                    &self.output,
                    &bytes[done..],
                    SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
                )
                .map_err(io::Error::from)
            } else {
                self.output.write(&bytes[done..])
            };
            match written {
                Ok(n) => {
                    done += n;
                    wait = !self.socket;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::Protocol(format!("write: {e}"))),
            }
        }
        self.settle();
        Ok(())
    }

    fn settle(&self) {
        self.settle.take().now();
    }
}

/// One `recvmsg` on the client's socket, without waiting (`EAGAIN` if
/// nothing is there): the bytes read; descriptors that came with them
/// (`SCM_RIGHTS`, close-on-exec) join `fds`, at most a few: the rest are
/// closed by the kernel (`MSG_CTRUNC`).
fn recv_with_fds(sock: &File, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<usize> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg(
        sock,
        &mut iov,
        &mut control,
        RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT,
    )?;
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(got) = m {
            fds.extend(got);
        }
    }
    Ok(msg.bytes)
}

/// The system as the policy needs to know it, for one peer.
struct System<'a> {
    uid: u32,
    /// The session's cache of the peer's name.
    name: &'a OnceCell<Option<Vec<u8>>>,
}

impl policy::Facts for System<'_> {
    fn peer_name(&self) -> Option<&[u8]> {
        self.name
            .get_or_init(|| sys::user_name(self.uid))
            .as_deref()
    }
    fn now(&self) -> (i64, i64) {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or((0, 0), |d| {
                (d.as_secs() as i64, i64::from(d.subsec_micros()))
            })
    }
}

/// What one client has done so far.
struct Session {
    peer: Peer,
    store: Result<Store, Errno>,
    /// The base protocol's cursor.
    cursor: Cursor,
    me: policy::Daemon,
    daemon: Daemon,
    root_only: bool,
    private: bool,
    /// The peer's user name, looked up (by uid) once per connection, when
    /// first needed.
    peer_name: OnceCell<Option<Vec<u8>>>,
    /// Root, or in the writers' group.
    privileged: bool,
    /// Who pays for appends: root nobody, anyone else themselves.
    payer: Payer,
    /// Whether a read refused for the file's mode was logged.
    warned: bool,
    /// The record file and the lock file, as configured.
    paths: (PathBuf, PathBuf),
    layout: Layout,
    audience: Audience,
}

impl Session {
    fn new(cfg: &Config, peer: Peer, mut store: Result<Store, Errno>) -> Session {
        let me = policy::Daemon {
            gid: sys::effective_ids().1,
        };
        // Root alone appends without a budget and below the floor, and
        // reads without a scan slot: any other peer pays under its own uid,
        // whatever its groups (a setgid helper run by a user is that user).
        let payer = if peer.uid == 0 {
            Payer::Privileged
        } else {
            Payer::User(peer.uid, cfg.budget)
        };
        if let (Ok(s), Payer::User(uid, _)) = (&mut store, payer) {
            s.limit_scans(uid);
        }
        Session {
            privileged: policy::is_privileged(&peer, me),
            payer,
            peer,
            store,
            cursor: Cursor::default(),
            me,
            daemon: cfg.daemon,
            root_only: cfg.root_only,
            private: cfg.private,
            peer_name: OnceCell::new(),
            warned: false,
            paths: (cfg.file.clone(), cfg.lock.clone()),
            layout: cfg.layout,
            audience: audience(cfg),
        }
    }

    /// Whether the peer is root or in the writers' group.
    fn privileged(&self) -> bool {
        self.privileged
    }

    fn store(&mut self) -> Result<&mut Store, Errno> {
        self.store.as_mut().map_err(|e| *e)
    }

    /// Handles one request (utmpd's, or wtmpd's reads) and returns the
    /// reply bytes. `fd` came with the request.
    fn handle(&mut self, req: Request, fd: Option<OwnedFd>, watch: &dyn Watch) -> Vec<u8> {
        let readable = self.may_read();
        match req {
            Request::Rewind => {
                self.cursor.rewind();
                vec![0]
            }
            Request::Version => {
                let mut out = vec![0];
                let mut caps = codec::CAP_BULK | codec::CAP_BULK_END | codec::CAP_CURSOR;
                if !self.root_only {
                    caps |= codec::CAP_PTY;
                }
                out.extend_from_slice(&codec::encode_version(caps));
                out
            }
            Request::Next => {
                let mut c = self.cursor;
                let r =
                    readable.and_then(|()| self.store()?.read(watch, |t| table::next(t, &mut c)));
                self.cursor = c;
                self.base_found(r.and_then(|o| o.ok_or(Errno::ESRCH)))
            }
            Request::FindId { kind, id } => {
                let mut query = Record::EMPTY;
                query.kind = proto::Kind(kind);
                query.id = id;
                let mut c = self.cursor;
                let r = readable.and_then(|()| self.find_id(&mut c, &query, watch));
                self.cursor = c;
                self.base_found(r)
            }
            Request::FindLine { line } => {
                let mut c = self.cursor;
                let r = readable.and_then(|()| self.find_line(&mut c, &line, watch));
                self.cursor = c;
                self.base_found(r)
            }
            Request::Put(record) => {
                let mut c = self.cursor;
                let r = self.put(&mut c, &record, watch);
                self.cursor = c;
                vec![codec::status(r.map(|_| ()))]
            }
            Request::Bulk { start, max } | Request::BulkEnd { start, max } => {
                let with_flags = matches!(req, Request::BulkEnd { .. });
                let max = usize::from(max.min(codec::BULK_MAX));
                let r = readable.and_then(|()| {
                    self.store()?
                        .read(watch, |t| records::read_run(t, start, max))
                });
                match r {
                    Ok((records, ended)) => {
                        let header = codec::BulkHeader {
                            end: start.saturating_add(records.len() as u64),
                            n: records.len() as u16,
                            ended,
                        };
                        let len = codec::bulk_header_len(with_flags);
                        let mut out = Vec::with_capacity(1 + len + records.len() * RECORD_SIZE);
                        out.push(0);
                        out.extend_from_slice(
                            &codec::encode_bulk_header(&header, with_flags)[..len],
                        );
                        for r in &records {
                            let r = self.shown(r);
                            push_record(&mut out, &r);
                        }
                        out
                    }
                    // `R`: the status alone, and never EPROTO, which a
                    // client reads as "an older daemon, `R` unknown".
                    Err(e) if with_flags => vec![if e == Errno::EPROTO {
                        Errno::EIO.to_wire()
                    } else {
                        e.to_wire()
                    }],
                    Err(e) => {
                        let mut out = vec![e.to_wire()];
                        out.extend_from_slice(&start.to_be_bytes());
                        out
                    }
                }
            }
            Request::FindIdAt { mut cursor, query } => {
                let r = readable.and_then(|()| self.find_id(&mut cursor, &query, watch));
                cursor.last = cursor.last.map(|l| self.shown(&l));
                cursor_reply(r.map(|_| ()), None, &cursor)
            }
            Request::FindLineAt { mut cursor, line } => {
                let r = readable.and_then(|()| self.find_line(&mut cursor, &line, watch));
                cursor.last = cursor.last.map(|l| self.shown(&l));
                cursor_reply(r.map(|_| ()), None, &cursor)
            }
            Request::PutAt { mut cursor, record } => {
                let r = self.put(&mut cursor, &record, watch);
                let appended = r.as_ref().is_ok_and(|p| p.appended);
                cursor.last = cursor.last.map(|l| self.shown(&l));
                cursor_reply(r.map(|_| ()), Some(appended), &cursor)
            }
            // btmp records no sessions.
            Request::Pty { .. } if self.root_only => vec![policy::REFUSED.to_wire()],
            Request::Pty { add, host } => {
                let written = pty::entry(&self.peer, &self.system(), fd.as_ref(), add, &host);
                let written = written.and_then(|rec| {
                    match self.daemon {
                        // The helper's setutent + pututline: a fresh cursor.
                        Daemon::Utmpd => {
                            self.store()?
                                .write(watch, |t, _| table::put(t, &mut Cursor::default(), &rec))?;
                        }
                        // Its updwtmp, charged to the peer.
                        Daemon::Wtmpd => self.append_admitted(&rec, watch)?,
                    }
                    Ok(rec)
                });
                base_found(written)
            }
            // Not this daemon's to serve.
            Request::Append(_) | Request::AppendKeep(_) => vec![Errno::EPROTO.to_wire()],
        }
    }

    fn find_id(
        &mut self,
        c: &mut Cursor,
        query: &Record,
        watch: &dyn Watch,
    ) -> Result<Record, Errno> {
        if !is_valid_id_query(query.kind) {
            return Err(Errno::EINVAL);
        }
        self.store()?
            .read(watch, |t| table::find_id(t, c, query))?
            .ok_or(Errno::ESRCH)
    }

    fn find_line(
        &mut self,
        c: &mut Cursor,
        line: &[u8; LINE_SIZE],
        watch: &dyn Watch,
    ) -> Result<Record, Errno> {
        self.store()?
            .read(watch, |t| table::find_line(t, c, line))?
            .ok_or(Errno::ESRCH)
    }

    fn put(
        &mut self,
        c: &mut Cursor,
        record: &Record,
        watch: &dyn Watch,
    ) -> Result<table::Put, Errno> {
        match self.daemon {
            Daemon::Utmpd => policy::may_write_utmp(&self.peer, self.me)?,
            // wtmp through utmpxname + pututxline: glibc would write it for
            // root; nobody else writes history in place.
            Daemon::Wtmpd => policy::may_rewrite_log(&self.peer)?,
        }
        self.store()?.write(watch, |t, _| table::put(t, c, record))
    }

    /// Whether the peer may read the file. Under `--private` the file is
    /// closed to others by design and the daemon filters what they see.
    fn may_read(&mut self) -> Result<(), Errno> {
        let open = self.private || self.store.as_ref().is_ok_and(Store::open_to_others);
        let r = policy::may_read(&self.peer, self.me, self.root_only, open);
        if r.is_err() && !open && !self.root_only && !self.warned {
            self.warned = true;
            if let Ok(store) = &self.store {
                crate::say!(
                    "{}: warning: refused a read by uid {}: {}",
                    self.daemon.name(),
                    self.peer.uid,
                    store.closed_warning()
                );
            }
        }
        r
    }

    /// The peer's facts, its name looked up once per connection.
    fn system(&self) -> System<'_> {
        System {
            uid: self.peer.uid,
            name: &self.peer_name,
        }
    }

    /// What this peer may see of `r` (the privacy option).
    fn shown(&self, r: &Record) -> Record {
        if !self.private || self.peer.uid == 0 {
            return *r;
        }
        let name = policy::Facts::peer_name(&self.system()).map(<[u8]>::to_vec);
        policy::shown(&self.peer, true, r, |_| name.clone())
    }

    /// A base-protocol reply to a read, as this peer may see it.
    fn base_found(&mut self, r: Result<Record, Errno>) -> Vec<u8> {
        base_found(r.map(|rec| self.shown(&rec)))
    }

    /// wtmpd's append of `record`; `fd`, if any, the log as the client
    /// opened it (see [`Session::append_through`]).
    fn append(
        &mut self,
        record: &Record,
        fd: Option<OwnedFd>,
        watch: &dyn Watch,
    ) -> Result<(), Errno> {
        policy::may_append(&self.peer, self.me, self.root_only)?;
        match self.append_admitted(record, watch) {
            // Not the daemon's to open: a privileged client's own
            // descriptor of the file may do (an ordinary user's never).
            Err(e) if e == Errno::EACCES => match fd.filter(|_| self.privileged) {
                Some(fd) => self.append_through(fd, record, watch),
                None => Err(e),
            },
            r => r,
        }
    }

    /// Appends `record` through `fd`, the log as a privileged client
    /// opened it with its own rights when the daemon could not (after an
    /// administrator's `mv`, `rm` or `chmod` left it root's alone): only
    /// when it is the very file at the daemon's path, open for writing
    /// ([`files::check_passed`]); under the daemon's writers' lock and
    /// the peer's budget, as its own appends. The client writes nothing
    /// it could not have written itself with glibc, and the daemon nothing
    /// but its own log.
    fn append_through(
        &mut self,
        fd: OwnedFd,
        record: &Record,
        watch: &dyn Watch,
    ) -> Result<(), Errno> {
        let file = files::check_passed(fd, &self.paths.0).map_err(|why| {
            crate::say!(
                "{}: warning: refused the descriptor uid {} passed for {}: {why}",
                self.daemon.name(),
                self.peer.uid,
                self.paths.0.display()
            );
            Errno::EACCES
        })?;
        let (path, lock) = &self.paths;
        let mut store = Store::adopt(file, path, lock, self.layout, self.audience)
            .map_err(|e| records::errno_of(&e))?;
        store.append(watch, record, self.payer)
    }

    /// Appends `record`, admitted, charged to the peer.
    fn append_admitted(&mut self, record: &Record, watch: &dyn Watch) -> Result<(), Errno> {
        let payer = self.payer;
        if self
            .store
            .as_ref()
            .map_or(true, |s| s.read_only().is_some())
        {
            // Refused at the start of the session, or open for reading
            // only: the file may have been fixed since (on a kept
            // connection), or made by root's shim.
            let (file, lock) = &self.paths;
            self.store = Store::open(file, lock, self.layout, self.audience)
                .map_err(|e| records::errno_of(&e));
            if let (Ok(s), Payer::User(uid, _)) = (&mut self.store, payer) {
                s.limit_scans(uid);
            }
        }
        let store = self.store()?;
        // A kept connection outlives a log rotation: append to the file
        // the path names now.
        store.follow_rename()?;
        store.append(watch, record, payer)
    }
}

fn push_record(out: &mut Vec<u8>, r: &Record) {
    let mut b = [0u8; RECORD_SIZE];
    codec::encode_record(r, &mut b);
    out.extend_from_slice(&b);
}

/// A base-protocol reply to a read: status, and the record when found.
fn base_found(r: Result<Record, Errno>) -> Vec<u8> {
    match r {
        Ok(rec) => {
            let mut out = vec![0];
            push_record(&mut out, &rec);
            out
        }
        Err(e) => vec![e.to_wire()],
    }
}

/// An extension reply: status, the `appended` flag of a put, the cursor.
fn cursor_reply(status: Result<(), Errno>, appended: Option<bool>, c: &Cursor) -> Vec<u8> {
    let mut out = vec![codec::status(status)];
    if let Some(a) = appended {
        out.push(u8::from(a));
    }
    out.extend_from_slice(&codec::encode_cursor(c));
    out
}
