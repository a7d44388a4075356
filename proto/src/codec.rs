//! The wire codec: the only code that touches request and reply bytes.
//!
//! Base protocol (skarnet utmps 0.1.3, byte-compatible): a request is an
//! opcode and a fixed-width body; a reply starts with a status byte (0, or
//! an errno) and, on success, carries a record where the operation returns
//! one. Records are skarnet utmps' `struct utmpx` ([`Layout::Wire`]: 400
//! bytes, 392 on i386) in the host's byte order, as skarnet's daemon for
//! that architecture sends them; every other integer is big-endian on
//! every host.
//!
//! Extensions (ours, see docs/PROTOCOL.md) are new opcodes only. Their
//! replies always carry the cursor after the operation, so the client owns
//! its position and survives a reconnect, a fork or a daemon restart.

use crate::layout::Layout;
use crate::record::{Record, HOST_SIZE, ID_SIZE, LINE_SIZE};
use crate::table::Cursor;
use crate::Errno;

/// Size of a record on the wire.
pub const RECORD_SIZE: usize = Layout::Wire.size();
/// A cursor on the wire: position (u64), a flag for the last entry, the
/// last entry.
pub const CURSOR_SIZE: usize = 8 + 1 + RECORD_SIZE;
/// The longest request: an opcode, a cursor and a record.
pub const MAX_REQUEST: usize = 1 + CURSOR_SIZE + RECORD_SIZE;
/// Version answered by [`Request::Version`].
pub const VERSION: u32 = 1;
/// Capability: [`Request::Bulk`].
pub const CAP_BULK: u32 = 1;
/// Capability: [`Request::FindIdAt`], [`Request::FindLineAt`], [`Request::PutAt`].
pub const CAP_CURSOR: u32 = 2;
/// Capability: [`Request::Pty`].
pub const CAP_PTY: u32 = 4;
/// Capability: [`Request::BulkEnd`].
pub const CAP_BULK_END: u32 = 8;
/// The most records one bulk reply carries.
pub const BULK_MAX: u16 = 256;
/// A bulk reply's header after its status byte: `end` (u64), `n` (u16)
/// and, in a reply to [`Request::BulkEnd`], a flags byte.
pub const BULK_HEADER_MAX: usize = 8 + 2 + 1;
/// Flag of a [`Request::BulkEnd`] reply: the table ended right after the
/// records sent (there was no entry at `end` when they were read).
pub const FLAG_ENDED: u8 = 1;

/// One client request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Request {
    /// `r`: `setutxent`, rewind the connection's cursor.
    Rewind,
    /// `e`: `getutxent`, the entry at the cursor (`ESRCH` at the end).
    Next,
    /// `i`: `getutxid` with only a type and an id (the base protocol does
    /// not carry `ut_line`, so a query without id matches an empty line).
    FindId {
        /// `ut_type` of the query.
        kind: i16,
        /// `ut_id` of the query.
        id: [u8; ID_SIZE],
    },
    /// `l`: `getutxline`.
    FindLine {
        /// `ut_line` to look for.
        line: [u8; LINE_SIZE],
    },
    /// `E`: `pututxline` at the connection's cursor.
    Put(Record),
    /// `+`: wtmpd's append; the daemon then closes the connection.
    Append(Record),
    /// `A` (extension): wtmpd's append on a connection that stays open for
    /// more.
    AppendKeep(Record),
    /// `V` (extension): version and capabilities.
    Version,
    /// `B` (extension): up to `max` entries from `start`.
    Bulk {
        /// First record index.
        start: u64,
        /// Most records wanted (the daemon may send fewer).
        max: u16,
    },
    /// `R` (extension): as `B`, and the reply says whether the table ended
    /// right after the entries sent, so a small table takes one round trip.
    BulkEnd {
        /// First record index.
        start: u64,
        /// Most records wanted (the daemon may send fewer).
        max: u16,
    },
    /// `I` (extension): `getutxid` from the client's cursor, with the whole query.
    FindIdAt {
        /// Cursor to search from.
        cursor: Cursor,
        /// The query.
        query: Record,
    },
    /// `L` (extension): `getutxline` from the client's cursor.
    FindLineAt {
        /// Cursor to search from.
        cursor: Cursor,
        /// `ut_line` to look for.
        line: [u8; LINE_SIZE],
    },
    /// `T` (extension): add or remove the entry of the pseudo-terminal
    /// whose master descriptor travels with the request (`SCM_RIGHTS`), as
    /// libutempter's helper would write it.
    Pty {
        /// Add (USER_PROCESS) rather than remove (DEAD_PROCESS).
        add: bool,
        /// `ut_host` of an added entry.
        host: [u8; HOST_SIZE],
    },
    /// `P` (extension): `pututxline` with the client's cursor.
    PutAt {
        /// The client's cursor.
        cursor: Cursor,
        /// The entry to write.
        record: Record,
    },
}

/// Opcode bytes.
pub mod op {
    /// `setutxent`.
    pub const REWIND: u8 = b'r';
    /// `getutxent`.
    pub const NEXT: u8 = b'e';
    /// `getutxid`.
    pub const FIND_ID: u8 = b'i';
    /// `getutxline`.
    pub const FIND_LINE: u8 = b'l';
    /// `pututxline`.
    pub const PUT: u8 = b'E';
    /// wtmp append.
    pub const APPEND: u8 = b'+';
    /// Extension: wtmp append, connection kept.
    pub const APPEND_KEEP: u8 = b'A';
    /// Extension: version probe.
    pub const VERSION: u8 = b'V';
    /// Extension: bulk read.
    pub const BULK: u8 = b'B';
    /// Extension: bulk read that reports the end of the table.
    pub const BULK_END: u8 = b'R';
    /// Extension: `getutxid` at a cursor.
    pub const FIND_ID_AT: u8 = b'I';
    /// Extension: `getutxline` at a cursor.
    pub const FIND_LINE_AT: u8 = b'L';
    /// Extension: `pututxline` at a cursor.
    pub const PUT_AT: u8 = b'P';
    /// Extension: a pseudo-terminal's entry (libutempter).
    pub const PTY: u8 = b'T';
}

/// Length of the body that follows opcode `op`, or `None` for an unknown opcode.
pub fn body_len(op: u8) -> Option<usize> {
    Some(match op {
        op::REWIND | op::NEXT | op::VERSION => 0,
        op::FIND_ID => 2 + ID_SIZE,
        op::FIND_LINE => LINE_SIZE,
        op::PUT | op::APPEND | op::APPEND_KEEP => RECORD_SIZE,
        op::BULK | op::BULK_END => 8 + 2,
        op::FIND_ID_AT | op::PUT_AT => CURSOR_SIZE + RECORD_SIZE,
        op::FIND_LINE_AT => CURSOR_SIZE + LINE_SIZE,
        op::PTY => 1 + HOST_SIZE,
        _ => return None,
    })
}

/// Decodes the request with opcode `op` and its body.
pub fn decode_request(op: u8, body: &[u8]) -> Result<Request, Errno> {
    if body_len(op) != Some(body.len()) {
        return Err(Errno::EPROTO);
    }
    let mut r = Reader(body);
    Ok(match op {
        op::REWIND => Request::Rewind,
        op::NEXT => Request::Next,
        op::VERSION => Request::Version,
        op::FIND_ID => Request::FindId {
            kind: i16::from_be_bytes(r.take()),
            id: r.take(),
        },
        op::FIND_LINE => Request::FindLine { line: r.take() },
        op::PUT => Request::Put(r.record()?),
        op::APPEND => Request::Append(r.record()?),
        op::APPEND_KEEP => Request::AppendKeep(r.record()?),
        op::BULK => Request::Bulk {
            start: u64::from_be_bytes(r.take()),
            max: u16::from_be_bytes(r.take()),
        },
        op::BULK_END => Request::BulkEnd {
            start: u64::from_be_bytes(r.take()),
            max: u16::from_be_bytes(r.take()),
        },
        op::FIND_ID_AT => Request::FindIdAt {
            cursor: r.cursor()?,
            query: r.record()?,
        },
        op::FIND_LINE_AT => Request::FindLineAt {
            cursor: r.cursor()?,
            line: r.take(),
        },
        op::PUT_AT => Request::PutAt {
            cursor: r.cursor()?,
            record: r.record()?,
        },
        op::PTY => {
            let add = match r.take::<1>() {
                [b'a'] => true,
                [b'r'] => false,
                _ => return Err(Errno::EPROTO),
            };
            Request::Pty {
                add,
                host: r.take(),
            }
        }
        _ => return Err(Errno::EPROTO),
    })
}

/// Encodes `req` into `out`, returning the number of bytes used.
pub fn encode_request(req: &Request, out: &mut [u8; MAX_REQUEST]) -> usize {
    let mut w = Writer { buf: out, len: 0 };
    match req {
        Request::Rewind => w.put(&[op::REWIND]),
        Request::Next => w.put(&[op::NEXT]),
        Request::Version => w.put(&[op::VERSION]),
        Request::FindId { kind, id } => {
            w.put(&[op::FIND_ID]);
            w.put(&kind.to_be_bytes());
            w.put(id);
        }
        Request::FindLine { line } => {
            w.put(&[op::FIND_LINE]);
            w.put(line);
        }
        Request::Put(rec) => {
            w.put(&[op::PUT]);
            w.record(rec);
        }
        Request::Append(rec) => {
            w.put(&[op::APPEND]);
            w.record(rec);
        }
        Request::AppendKeep(rec) => {
            w.put(&[op::APPEND_KEEP]);
            w.record(rec);
        }
        Request::Bulk { start, max } => {
            w.put(&[op::BULK]);
            w.put(&start.to_be_bytes());
            w.put(&max.to_be_bytes());
        }
        Request::BulkEnd { start, max } => {
            w.put(&[op::BULK_END]);
            w.put(&start.to_be_bytes());
            w.put(&max.to_be_bytes());
        }
        Request::FindIdAt { cursor, query } => {
            w.put(&[op::FIND_ID_AT]);
            w.put(&encode_cursor(cursor));
            w.record(query);
        }
        Request::FindLineAt { cursor, line } => {
            w.put(&[op::FIND_LINE_AT]);
            w.put(&encode_cursor(cursor));
            w.put(line);
        }
        Request::PutAt { cursor, record } => {
            w.put(&[op::PUT_AT]);
            w.put(&encode_cursor(cursor));
            w.record(record);
        }
        Request::Pty { add, host } => {
            w.put(&[op::PTY, if *add { b'a' } else { b'r' }]);
            w.put(host);
        }
    }
    w.len
}

impl Request {
    /// Whether this opcode is one of ours, unknown to skarnet's daemons.
    pub fn is_extension(&self) -> bool {
        matches!(
            self,
            Request::Version
                | Request::Bulk { .. }
                | Request::BulkEnd { .. }
                | Request::FindIdAt { .. }
                | Request::FindLineAt { .. }
                | Request::PutAt { .. }
                | Request::Pty { .. }
                | Request::AppendKeep(_)
        )
    }
}

/// Encodes a record in wire form.
pub fn encode_record(r: &Record, out: &mut [u8; RECORD_SIZE]) {
    // The buffer is exactly one wire record, so this cannot fail.
    let _ = Layout::Wire.encode(r, out);
}

/// Decodes a wire record.
pub fn decode_record(b: &[u8; RECORD_SIZE]) -> Record {
    Layout::Wire.decode(b).unwrap_or(Record::EMPTY)
}

/// Encodes a cursor.
pub fn encode_cursor(c: &Cursor) -> [u8; CURSOR_SIZE] {
    let mut out = [0u8; CURSOR_SIZE];
    let (pos, rest) = out.split_at_mut(8);
    pos.copy_from_slice(&c.pos.to_be_bytes());
    if let (Some(last), Some((flag, rec))) = (c.last, rest.split_first_mut()) {
        *flag = 1;
        let _ = Layout::Wire.encode(&last, rec);
    }
    out
}

/// Decodes a cursor; a flag other than 0 or 1 is a protocol error.
pub fn decode_cursor(b: &[u8; CURSOR_SIZE]) -> Result<Cursor, Errno> {
    Reader(b).cursor()
}

/// The status byte of a reply.
pub fn status(result: Result<(), Errno>) -> u8 {
    match result {
        Ok(()) => 0,
        Err(e) => e.to_wire(),
    }
}

/// The status of an extension request the daemon did not perform because
/// the connection reached the end of its lifetime (an ordinary peer's
/// connection is not kept forever); the daemon then closes it. The client
/// reconnects and sends the request again. A base request finds the
/// connection closed instead (skarnet's clients know no such status).
pub const EXPIRED: Errno = Errno::ECONNABORTED;

/// The one byte a listener sends, before reading anything, to a client
/// over its limits (connections of one user, new connections per second,
/// all connections), then closes: nothing was performed. Our client
/// reports it as the call's errno, `EUSERS`.
pub const REFUSED: Errno = Errno::EUSERS;

/// Reads a reply status byte: `Ok` for 0, else the errno.
pub fn check_status(byte: u8) -> Result<(), Errno> {
    if byte == 0 {
        Ok(())
    } else {
        Err(Errno::from_wire(byte))
    }
}

/// The header of a successful bulk reply (after its status byte).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BulkHeader {
    /// Index after the last record sent: `start + n`.
    pub end: u64,
    /// Number of records that follow.
    pub n: u16,
    /// The table ended at `end` ([`FLAG_ENDED`]; always false for `B`).
    pub ended: bool,
}

/// Length of the bulk reply header for `B` (`with_flags` false) or `R`.
pub fn bulk_header_len(with_flags: bool) -> usize {
    BULK_HEADER_MAX - usize::from(!with_flags)
}

/// Encodes a bulk reply header; `with_flags` for a reply to `R`. The
/// first [`bulk_header_len`] bytes are the header.
pub fn encode_bulk_header(h: &BulkHeader, with_flags: bool) -> [u8; BULK_HEADER_MAX] {
    let mut out = [0u8; BULK_HEADER_MAX];
    let (end, rest) = out.split_at_mut(8);
    end.copy_from_slice(&h.end.to_be_bytes());
    let (n, flags) = rest.split_at_mut(2);
    n.copy_from_slice(&h.n.to_be_bytes());
    if let (true, true, Some(f)) = (with_flags, h.ended, flags.first_mut()) {
        *f = FLAG_ENDED;
    }
    out
}

/// Decodes a bulk reply header of [`bulk_header_len`] bytes (the rest of
/// `b` is ignored). Flags other than [`FLAG_ENDED`] are reserved and
/// ignored.
pub fn decode_bulk_header(b: &[u8; BULK_HEADER_MAX], with_flags: bool) -> BulkHeader {
    let mut r = Reader(b);
    let end = u64::from_be_bytes(r.take());
    let n = u16::from_be_bytes(r.take());
    let [flags] = r.take();
    BulkHeader {
        end,
        n,
        ended: with_flags && flags & FLAG_ENDED != 0,
    }
}

/// Encodes a version reply body (after the status byte).
pub fn encode_version(caps: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    let (v, c) = out.split_at_mut(4);
    v.copy_from_slice(&VERSION.to_be_bytes());
    c.copy_from_slice(&caps.to_be_bytes());
    out
}

/// Decodes a version reply body: `(version, capabilities)`.
pub fn decode_version(b: &[u8; 8]) -> (u32, u32) {
    let mut r = Reader(b);
    (u32::from_be_bytes(r.take()), u32::from_be_bytes(r.take()))
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        if let (Some(head), Some(rest)) = (self.0.get(..N), self.0.get(N..)) {
            out.copy_from_slice(head);
            self.0 = rest;
        }
        out
    }

    fn record(&mut self) -> Result<Record, Errno> {
        let b: [u8; RECORD_SIZE] = self.take();
        Layout::Wire.decode(&b).ok_or(Errno::EPROTO)
    }

    fn cursor(&mut self) -> Result<Cursor, Errno> {
        let pos = u64::from_be_bytes(self.take());
        let [flag] = self.take();
        let last = self.record()?;
        match flag {
            0 => Ok(Cursor { pos, last: None }),
            1 => Ok(Cursor {
                pos,
                last: Some(last),
            }),
            _ => Err(Errno::EPROTO),
        }
    }
}

struct Writer<'a> {
    buf: &'a mut [u8; MAX_REQUEST],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, src: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + src.len()) {
            dst.copy_from_slice(src);
            self.len += src.len();
        }
    }

    fn record(&mut self, r: &Record) {
        let mut b = [0u8; RECORD_SIZE];
        encode_record(r, &mut b);
        self.put(&b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{set_field, Kind};

    fn sample() -> Record {
        let mut r = Record::EMPTY;
        r.kind = Kind::USER_PROCESS;
        r.pid = 77;
        set_field(&mut r.line, b"pts/3");
        set_field(&mut r.user, b"bob");
        r.tv_sec = 12345;
        r
    }

    #[test]
    fn every_request_round_trips() {
        let mut line = [0u8; LINE_SIZE];
        line[0] = b'x';
        let reqs = [
            Request::Rewind,
            Request::Next,
            Request::Version,
            Request::FindId {
                kind: 7,
                id: *b"ts/3",
            },
            Request::FindLine { line },
            Request::Put(sample()),
            Request::Append(sample()),
            Request::AppendKeep(sample()),
            Request::Bulk {
                start: 1 << 40,
                max: 300,
            },
            Request::BulkEnd { start: 7, max: 128 },
            Request::FindIdAt {
                cursor: Cursor { pos: 3, last: None },
                query: sample(),
            },
            Request::FindLineAt {
                cursor: Cursor {
                    pos: 9,
                    last: Some(sample()),
                },
                line,
            },
            Request::PutAt {
                cursor: Cursor {
                    pos: u64::MAX,
                    last: Some(Record::EMPTY),
                },
                record: sample(),
            },
            Request::Pty {
                add: true,
                host: [b'h'; HOST_SIZE],
            },
            Request::Pty {
                add: false,
                host: [0; HOST_SIZE],
            },
        ];
        for req in reqs {
            let mut buf = [0u8; MAX_REQUEST];
            let n = encode_request(&req, &mut buf);
            assert_eq!(Some(n - 1), body_len(buf[0]), "{req:?}");
            assert_eq!(decode_request(buf[0], &buf[1..n]), Ok(req));
        }
    }

    #[test]
    fn base_opcodes_have_skarnet_sizes() {
        assert_eq!(body_len(b'r'), Some(0));
        assert_eq!(body_len(b'e'), Some(0));
        assert_eq!(body_len(b'i'), Some(6));
        assert_eq!(body_len(b'l'), Some(32));
        assert_eq!(body_len(b'E'), Some(400));
        assert_eq!(body_len(b'+'), Some(400));
        assert_eq!(body_len(b'?'), None);
    }

    #[test]
    fn bulk_headers_round_trip() {
        for with_flags in [false, true] {
            for h in [
                BulkHeader {
                    end: 10,
                    n: 10,
                    ended: with_flags,
                },
                BulkHeader {
                    end: u64::MAX,
                    n: BULK_MAX,
                    ended: false,
                },
            ] {
                let b = encode_bulk_header(&h, with_flags);
                assert_eq!(decode_bulk_header(&b, with_flags), h);
            }
        }
        // `R`, 3 records from 7, ended: end, n, flags.
        let h = BulkHeader {
            end: 10,
            n: 3,
            ended: true,
        };
        assert_eq!(bulk_header_len(true), 11);
        assert_eq!(
            encode_bulk_header(&h, true),
            *b"\0\0\0\0\0\0\0\x0a\0\x03\x01"
        );
        // `B` has no flags byte, and reserved flags are ignored.
        assert_eq!(bulk_header_len(false), 10);
        let mut b = encode_bulk_header(&h, true);
        b[10] = 0xfe;
        assert!(!decode_bulk_header(&b, true).ended);
        assert!(!decode_bulk_header(&encode_bulk_header(&h, true), false).ended);
    }

    #[test]
    fn find_id_type_is_big_endian() {
        let mut buf = [0u8; MAX_REQUEST];
        let n = encode_request(
            &Request::FindId {
                kind: 7,
                id: *b"abcd",
            },
            &mut buf,
        );
        assert_eq!(&buf[..n], b"i\x00\x07abcd");
    }

    #[test]
    fn wrong_body_length_is_a_protocol_error() {
        assert_eq!(decode_request(b'E', &[0u8; 12]), Err(Errno::EPROTO));
        assert_eq!(decode_request(b'z', &[]), Err(Errno::EPROTO));
    }

    #[test]
    fn random_bytes_never_panic_and_decoded_requests_round_trip() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut decoded = 0;
        for _ in 0..20_000 {
            let op = b"reilEBILPVAT+?"[(next() % 14) as usize];
            let len = match body_len(op) {
                Some(n) if next() % 4 != 0 => n,
                _ => (next() % 900) as usize,
            };
            let body: std::vec::Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Ok(req) = decode_request(op, &body) {
                decoded += 1;
                let mut buf = [0u8; MAX_REQUEST];
                let n = encode_request(&req, &mut buf);
                assert_eq!(decode_request(buf[0], &buf[1..n]), Ok(req));
            }
            let _ = Layout::Glibc.decode(&body);
            let _ = Layout::Musl.decode(&body);
            let _ = Layout::Wire.decode(&body);
        }
        assert!(decoded > 5_000, "{decoded}");
    }

    #[test]
    fn a_bad_cursor_flag_is_a_protocol_error() {
        let mut b = encode_cursor(&Cursor::default());
        b[8] = 2;
        assert_eq!(decode_cursor(&b), Err(Errno::EPROTO));
    }

    #[test]
    fn status_bytes() {
        assert_eq!(status(Ok(())), 0);
        assert_eq!(status(Err(Errno::ESRCH)), 3);
        assert_eq!(check_status(1), Err(Errno::EPERM));
        assert_eq!(Errno(4000).to_wire(), 5);
    }
}
