//! One client, start to end: decode, check policy, run on the store,
//! encode, until the client hangs up or breaks the protocol.

use crate::args::{Config, Daemon};
use crate::peer::{self, Peer};
use crate::policy;
use crate::store::{self, Store};
use crate::sys;
use crate::Failure;
use proto::codec::{self, Request, RECORD_SIZE};
use proto::matching::is_valid_id_query;
use proto::table::{self, Search};
use proto::{Errno, Record};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::time::Instant;

/// Serves the client on descriptors 0 and 1.
pub fn run(cfg: &Config) -> Result<(), Failure> {
    // A file-size limit must fail the write (EFBIG), not kill the daemon.
    sys::ignore_sigxfsz();
    let peer = peer::identify()?;
    let (input, output) = sys::std_streams();
    let mut conn = Conn { input, output, cfg };
    let store = Store::open(&cfg.file, &cfg.lock, cfg.layout).map_err(|e| {
        // Still answer the client: every request gets this errno.
        eprintln!("{}: warning: {e}", cfg.daemon.name());
        proto::Errno(e.raw_os_error().unwrap_or(libc::EIO))
    });
    let mut session = Session {
        peer,
        store,
        pos: 0,
        me: policy::Daemon {
            gid: sys::effective_ids().1,
        },
        root_only: cfg.root_only,
    };
    match cfg.daemon {
        Daemon::Utmpd => {
            while let Some(req) = conn.request()? {
                let reply = session.utmp(req);
                conn.reply(&reply)?;
            }
            Ok(())
        }
        Daemon::Wtmpd => match conn.request()? {
            None => Ok(()),
            Some(Request::Append(r)) => conn.reply(&[codec::status(session.append(&r))]),
            Some(_) => {
                conn.reply(&[Errno::EPROTO.to_wire()])?;
                Err(Failure::Protocol("wtmpd serves only '+' (append)".into()))
            }
        },
    }
}

/// The client's connection with its deadlines.
struct Conn<'a> {
    input: File,
    output: File,
    cfg: &'a Config,
}

impl Conn<'_> {
    /// The next request, `None` when the client closed the connection.
    /// A silent client, a partial request or an unknown opcode ends the
    /// process: nobody keeps a daemon alive for free.
    fn request(&mut self) -> Result<Option<Request>, Failure> {
        let deadline = Instant::now() + self.cfg.timeout;
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

    /// Fills `buf` unless the client closes first; returns the bytes read.
    fn read_exact(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize, Failure> {
        let mut done = 0;
        while done < buf.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            let ready = sys::wait_fd(self.input.as_raw_fd(), libc::POLLIN, left)
                .map_err(|e| Failure::System(format!("poll: {e}")))?;
            if !ready {
                return Err(Failure::Protocol(format!(
                    "client silent for {} ms",
                    self.cfg.timeout.as_millis()
                )));
            }
            match self.input.read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
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
        while done < bytes.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            let ready = sys::wait_fd(self.output.as_raw_fd(), libc::POLLOUT, left)
                .map_err(|e| Failure::System(format!("poll: {e}")))?;
            if !ready {
                return Err(Failure::Protocol("client does not read its reply".into()));
            }
            match self.output.write(&bytes[done..]) {
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::Protocol(format!("write: {e}"))),
            }
        }
        Ok(())
    }
}

/// What one client has done so far.
struct Session {
    peer: Peer,
    store: Result<Store, Errno>,
    /// The base protocol's cursor (record index).
    pos: u64,
    me: policy::Daemon,
    root_only: bool,
}

impl Session {
    fn store(&mut self) -> Result<&mut Store, Errno> {
        self.store.as_mut().map_err(|e| *e)
    }

    /// Handles one utmpd request and returns the reply bytes.
    fn utmp(&mut self, req: Request) -> Vec<u8> {
        match req {
            Request::Rewind => {
                self.pos = 0;
                vec![0]
            }
            Request::Next => {
                let pos = self.pos;
                let r = self.store().and_then(|s| s.read(|t| table::next(t, pos)));
                self.base_found(r)
            }
            Request::FindId { kind, id } => {
                let mut query = Record::EMPTY;
                query.kind = proto::Kind(kind);
                query.id = id;
                let pos = self.pos;
                let r = self.find_id(pos, &query);
                self.base_found(r)
            }
            Request::FindLine { line } => {
                let pos = self.pos;
                let r = self
                    .store()
                    .and_then(|s| s.read(|t| table::find_line(t, pos, &line)));
                self.base_found(r)
            }
            Request::Put(record) => {
                let pos = self.pos;
                match self.put(pos, &record) {
                    Ok(p) => {
                        self.pos = p;
                        vec![0]
                    }
                    Err(e) => vec![e.to_wire()],
                }
            }
            Request::Version => {
                let mut out = vec![0];
                out.extend_from_slice(&codec::encode_version(codec::CAP_BULK | codec::CAP_CURSOR));
                out
            }
            Request::Bulk { start, max } => {
                let max = usize::from(max.min(codec::BULK_MAX));
                match self
                    .store()
                    .and_then(|s| s.read(|t| store::read_run(t, start, max)))
                {
                    Ok(records) => {
                        let mut out = Vec::with_capacity(11 + records.len() * RECORD_SIZE);
                        out.push(0);
                        out.extend_from_slice(&(start + records.len() as u64).to_be_bytes());
                        out.extend_from_slice(&(records.len() as u16).to_be_bytes());
                        for r in &records {
                            push_record(&mut out, r);
                        }
                        out
                    }
                    Err(e) => cursor_reply(Err(e), start),
                }
            }
            Request::FindIdAt { pos, query } => {
                let r = self.find_id(pos, &query);
                found_at(r, pos)
            }
            Request::FindLineAt { pos, line } => {
                let r = self
                    .store()
                    .and_then(|s| s.read(|t| table::find_line(t, pos, &line)));
                found_at(r, pos)
            }
            Request::PutAt { pos, record } => match self.put(pos, &record) {
                Ok(p) => cursor_reply(Ok(()), p),
                Err(e) => cursor_reply(Err(e), pos),
            },
            // wtmpd's opcode: not ours to serve here.
            Request::Append(_) => vec![Errno::EPROTO.to_wire()],
        }
    }

    fn find_id(&mut self, pos: u64, query: &Record) -> Result<Search, Errno> {
        if !is_valid_id_query(query.kind) {
            return Err(Errno::EINVAL);
        }
        self.store()?.read(|t| table::find_id(t, pos, query))
    }

    fn put(&mut self, pos: u64, record: &Record) -> Result<u64, Errno> {
        policy::may_write_utmp(&self.peer, self.me)?;
        self.store()?.write(|t| table::put(t, pos, record))
    }

    /// A base-protocol search reply; moves the connection's cursor.
    fn base_found(&mut self, r: Result<Search, Errno>) -> Vec<u8> {
        match r {
            Ok(Search { pos, found }) => {
                self.pos = pos;
                match found {
                    Some(rec) => {
                        let mut out = vec![0];
                        push_record(&mut out, &rec);
                        out
                    }
                    None => vec![Errno::ESRCH.to_wire()],
                }
            }
            Err(e) => vec![e.to_wire()],
        }
    }

    fn append(&mut self, record: &Record) -> Result<(), Errno> {
        policy::may_append(&self.peer, record, self.root_only, sys::uid_of_user)?;
        self.store()?.append(record)
    }
}

fn push_record(out: &mut Vec<u8>, r: &Record) {
    let mut b = [0u8; RECORD_SIZE];
    codec::encode_record(r, &mut b);
    out.extend_from_slice(&b);
}

/// An extension reply: status, then the cursor.
fn cursor_reply(status: Result<(), Errno>, pos: u64) -> Vec<u8> {
    let mut out = vec![codec::status(status)];
    out.extend_from_slice(&pos.to_be_bytes());
    out
}

/// An extension search reply: status, cursor, and the record when found.
fn found_at(r: Result<Search, Errno>, pos: u64) -> Vec<u8> {
    match r {
        Ok(Search {
            pos,
            found: Some(rec),
        }) => {
            let mut out = cursor_reply(Ok(()), pos);
            push_record(&mut out, &rec);
            out
        }
        Ok(Search { pos, found: None }) => cursor_reply(Err(Errno::ESRCH), pos),
        Err(e) => cursor_reply(Err(e), pos),
    }
}
