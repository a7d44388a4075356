//! glibc's utmp algorithms over a file of records, written once.
//!
//! The daemon runs them on its store and the shim on plain files named by
//! `utmpxname`; both only supply the I/O through [`Table`]. A cursor is a
//! record index: glibc's `file_offset` divided by the record size, and the
//! "last entry" glibc caches is always the record just before the cursor.

use crate::layout::{Layout, MAX_SIZE};
use crate::matching::{matches_id, matches_line};
use crate::record::{Record, LINE_SIZE};
use crate::Errno;

/// Byte-level access to one open record file: the I/O the daemon and the
/// shim supply (std files there, raw system calls here).
pub trait Storage {
    /// One `pread`: the number of bytes read, 0 at the end.
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno>;
    /// One `pwrite`: the number of bytes written.
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize, Errno>;
    /// The file size in bytes.
    fn size(&mut self) -> Result<u64, Errno>;
    /// `ftruncate`.
    fn truncate(&mut self, len: u64) -> Result<(), Errno>;
}

/// Records read ahead by one `pread` while scanning.
const AHEAD: usize = 16;

/// Record-granular access to a record file, with glibc's rules for partial
/// records: a torn tail reads as the end and is cut before an append, and
/// an append cut short is rolled back.
pub struct Table<S> {
    storage: S,
    layout: Layout,
    ahead: [u8; AHEAD * MAX_SIZE],
    ahead_len: usize,
    ahead_start: u64,
}

impl<S: Storage> Table<S> {
    /// A table over `storage` whose records are in `layout`.
    pub fn new(storage: S, layout: Layout) -> Self {
        Table {
            storage,
            layout,
            ahead: [0; AHEAD * MAX_SIZE],
            ahead_len: 0,
            ahead_start: 0,
        }
    }

    /// The storage underneath, for bulk I/O that bypasses the records.
    pub fn storage(&mut self) -> &mut S {
        self.ahead_len = 0;
        &mut self.storage
    }

    /// The layout of the records.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Record `index`, or `None` at or past the end (a partial record at
    /// the end counts as the end, as in glibc).
    pub fn read(&mut self, index: u64) -> Result<Option<Record>, Errno> {
        let size = self.layout.size();
        let in_ahead = index
            .checked_sub(self.ahead_start)
            .and_then(|k| usize::try_from(k).ok())
            // Checked: a cursor from a client can be any number, and a
            // wrapped product would serve the wrong record from the cache.
            .filter(|&k| {
                k.checked_add(1)
                    .and_then(|n| n.checked_mul(size))
                    .is_some_and(|end| end <= self.ahead_len)
            });
        let k = match in_ahead {
            Some(k) => k,
            None => {
                let offset = index.checked_mul(size as u64).ok_or(Errno::EINVAL)?;
                let want = AHEAD * size;
                let buf = self.ahead.get_mut(..want).ok_or(Errno::EINVAL)?;
                let n = read_full(&mut self.storage, buf, offset)?;
                self.ahead_len = n - n % size;
                self.ahead_start = index;
                if self.ahead_len == 0 {
                    return Ok(None);
                }
                0
            }
        };
        Ok(self
            .ahead
            .get(k * size..(k + 1) * size)
            .and_then(|b| self.layout.decode(b)))
    }

    /// Number of whole records.
    pub fn count(&mut self) -> Result<u64, Errno> {
        Ok(self.storage.size()? / self.layout.size() as u64)
    }

    /// Stores `record` at `index`; `index == count()` appends. An append
    /// first cuts a torn tail, and one cut short is rolled back.
    pub fn write(&mut self, index: u64, record: &Record) -> Result<(), Errno> {
        let size = self.layout.size();
        let mut buf = [0u8; MAX_SIZE];
        self.layout.encode(record, &mut buf).ok_or(Errno::EINVAL)?;
        let bytes = buf.get(..size).ok_or(Errno::EINVAL)?;
        let offset = index.checked_mul(size as u64).ok_or(Errno::EINVAL)?;
        self.ahead_len = 0;
        let old_size = self.storage.size()?;
        let end = offset.checked_add(size as u64).ok_or(Errno::EINVAL)?;
        let appending = end > old_size;
        if appending && old_size != offset {
            self.storage.truncate(offset)?;
        }
        let mut done = 0;
        let result = loop {
            let Some(rest) = bytes.get(done..).filter(|r| !r.is_empty()) else {
                break Ok(());
            };
            let at = offset.checked_add(done as u64).ok_or(Errno::EINVAL)?;
            match self.storage.write_at(rest, at) {
                // A write that makes no progress: the disk is full.
                Ok(0) => break Err(Errno::ENOSPC),
                Ok(n) => done += n,
                Err(e) if e == Errno::EINTR => {}
                Err(e) => break Err(e),
            }
        };
        if result.is_err() && appending {
            // Disk full, file size limit: leave no partial record behind.
            let _ = self.storage.truncate(offset);
        }
        result
    }
}

/// `pread` until `buf` is full or the end: the number of bytes read.
pub fn read_full<S: Storage + ?Sized>(
    s: &mut S,
    buf: &mut [u8],
    offset: u64,
) -> Result<usize, Errno> {
    let mut done = 0;
    while let Some(rest) = buf.get_mut(done..) {
        if rest.is_empty() {
            break;
        }
        let at = offset.checked_add(done as u64).ok_or(Errno::EINVAL)?;
        match s.read_at(rest, at) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e == Errno::EINTR => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// glibc's position in a utmp file: `file_offset` (as a record index) and
/// `last_entry`, the most recent record a read returned.
///
/// `last` is not always the record before `pos`: after a `pututxline`
/// glibc moves `file_offset` past the slot it wrote but keeps `last_entry`
/// from the reads the search made. So two `pututxline`s of the same id in
/// a row, the first of which appended, append twice in glibc; following
/// glibc exactly, so do we.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The next record to read.
    pub pos: u64,
    /// The most recent record read, `None` before any.
    pub last: Option<Record>,
}

impl Cursor {
    /// `setutxent`: back to the start (glibc keeps `last_entry`, but it
    /// cannot match until something has been read again).
    pub fn rewind(&mut self) {
        self.pos = 0;
    }

    /// glibc's `matches_last_entry`.
    fn last_matches(&self, data: &Record) -> bool {
        self.pos > 0 && self.last.is_some_and(|l| matches_id(data, &l))
    }
}

/// Reads the record at the cursor: on success it becomes `last` and the
/// cursor moves past it (glibc's `read_last_entry`).
fn read_last<S: Storage>(t: &mut Table<S>, c: &mut Cursor) -> Result<Option<Record>, Errno> {
    let r = t.read(c.pos)?;
    if let Some(rec) = r {
        c.pos += 1;
        c.last = Some(rec);
    }
    Ok(r)
}

/// `getutxent`: the entry at the cursor, `None` at the end.
pub fn next<S: Storage>(t: &mut Table<S>, c: &mut Cursor) -> Result<Option<Record>, Errno> {
    read_last(t, c)
}

/// Forward search from the cursor for the first entry satisfying `pred`;
/// `None` at the end (`ESRCH`), with the cursor at the end.
pub fn find<S: Storage>(
    t: &mut Table<S>,
    c: &mut Cursor,
    mut pred: impl FnMut(&Record) -> bool,
) -> Result<Option<Record>, Errno> {
    while let Some(r) = read_last(t, c)? {
        if pred(&r) {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// `getutxid`: the next entry matching `query` (see [`matches_id`]). The
/// caller has already refused query types `getutxid` does not accept.
pub fn find_id<S: Storage>(
    t: &mut Table<S>,
    c: &mut Cursor,
    query: &Record,
) -> Result<Option<Record>, Errno> {
    find(t, c, |e| matches_id(query, e))
}

/// `getutxline`: the next LOGIN_PROCESS or USER_PROCESS entry on `line`.
pub fn find_line<S: Storage>(
    t: &mut Table<S>,
    c: &mut Cursor,
    line: &[u8; LINE_SIZE],
) -> Result<Option<Record>, Errno> {
    find(t, c, |e| matches_line(line, e))
}

/// What a successful `pututxline` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Put {
    /// It appended (glibc then leaves errno at `ESRCH` from its search).
    pub appended: bool,
}

/// `pututxline`, step for step as glibc's `__libc_pututline`: if the last
/// entry read matches, read back the record before the cursor and
/// overwrite it if it still matches; else search forward from the cursor;
/// else append at the last whole record. The cursor ends past the slot
/// written; on failure it stays where the search left it.
pub fn put<S: Storage>(t: &mut Table<S>, c: &mut Cursor, data: &Record) -> Result<Put, Errno> {
    let mut found = false;
    if c.last_matches(data) {
        c.pos -= 1;
        if read_last(t, c)?.is_some() {
            found = c.last_matches(data);
        }
    }
    if !found {
        found = find_id(t, c, data)?.is_some();
    }
    let slot = if found { c.pos - 1 } else { t.count()? };
    t.write(slot, data)?;
    c.pos = slot + 1;
    Ok(Put { appended: !found })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{set_field, Kind};
    use std::vec::Vec;

    /// A file in memory.
    #[derive(Default)]
    struct Mem(Vec<u8>);

    impl Storage for &mut Mem {
        fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
            let src = self.0.get(offset as usize..).unwrap_or_default();
            let n = src.len().min(buf.len());
            buf[..n].copy_from_slice(&src[..n]);
            Ok(n)
        }
        fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
            let end = offset as usize + buf.len();
            if self.0.len() < end {
                self.0.resize(end, 0);
            }
            self.0[offset as usize..end].copy_from_slice(buf);
            Ok(buf.len())
        }
        fn size(&mut self) -> Result<u64, Errno> {
            Ok(self.0.len() as u64)
        }
        fn truncate(&mut self, len: u64) -> Result<(), Errno> {
            self.0.resize(len as usize, 0);
            Ok(())
        }
    }

    fn records(m: &mut Mem) -> Vec<Record> {
        let mut t = Table::new(m, Layout::Glibc);
        (0..).map_while(|i| t.read(i).unwrap()).collect()
    }

    fn rec(kind: Kind, id: &[u8], line: &[u8], user: &[u8]) -> Record {
        let mut r = Record::EMPTY;
        r.kind = kind;
        set_field(&mut r.id, id);
        set_field(&mut r.line, line);
        set_field(&mut r.user, user);
        r
    }

    fn put_all(t: &mut Table<&mut Mem>, c: &mut Cursor, recs: &[Record]) {
        for r in recs {
            put(t, c, r).unwrap();
        }
    }

    #[test]
    fn put_overwrites_match_and_appends_otherwise() {
        let mut m = Mem::default();
        let mut t = Table::new(&mut m, Layout::Glibc);
        let a = rec(Kind::LOGIN_PROCESS, b"1", b"tty1", b"LOGIN");
        let b = rec(Kind::LOGIN_PROCESS, b"2", b"tty2", b"LOGIN");
        let a2 = rec(Kind::USER_PROCESS, b"1", b"tty1", b"alice");
        for r in [a, b, a2] {
            let mut c = Cursor::default();
            put(&mut t, &mut c, &r).unwrap();
        }
        assert_eq!(records(&mut m), [a2, b]);
    }

    #[test]
    fn put_rechecks_the_entry_before_the_cursor() {
        let mut m = Mem::default();
        let mut t = Table::new(&mut m, Layout::Musl);
        let a = rec(Kind::USER_PROCESS, b"1", b"tty1", b"alice");
        let mut c = Cursor::default();
        put(&mut t, &mut c, &a).unwrap();
        let mut c = Cursor::default();
        assert_eq!(find_id(&mut t, &mut c, &a).unwrap(), Some(a));
        // The cursor is past `a`; a forward search would miss it.
        let dead = rec(Kind::DEAD_PROCESS, b"1", b"tty1", b"");
        assert_eq!(put(&mut t, &mut c, &dead).unwrap(), Put { appended: false });
        assert_eq!(c.pos, 1);
        assert_eq!(records(&mut m), [dead]);
    }

    #[test]
    fn glibc_appends_twice_when_the_last_entry_is_stale() {
        // Checked against glibc 2.36: setutent; pututline(b); pututline(a);
        // pututline(a') leaves three records.
        let mut m = Mem::default();
        let mut t = Table::new(&mut m, Layout::Glibc);
        let b = rec(Kind::USER_PROCESS, b"y", b"tty2", b"a");
        let a = rec(Kind::USER_PROCESS, b"x", b"tty1", b"a");
        let a2 = rec(Kind::USER_PROCESS, b"x", b"tty1", b"a2");
        let mut c = Cursor::default();
        put_all(&mut t, &mut c, &[b, a, a2]);
        assert_eq!(records(&mut m), [b, a, a2]);
    }

    #[test]
    fn searches_go_forward_and_stop_at_the_end() {
        let mut m = Mem::default();
        let mut t = Table::new(&mut m, Layout::Glibc);
        for (id, line) in [(b"a", b"tty1"), (b"b", b"tty2"), (b"c", b"tty1")] {
            put(
                &mut t,
                &mut Cursor::default(),
                &rec(Kind::USER_PROCESS, id, line, b"u"),
            )
            .unwrap();
        }
        let line = rec(Kind::EMPTY, b"", b"tty1", b"").line;
        let mut c = Cursor::default();
        assert_eq!(
            find_line(&mut t, &mut c, &line).unwrap().unwrap().id[0],
            b'a'
        );
        assert_eq!(c.pos, 1);
        assert_eq!(
            find_line(&mut t, &mut c, &line).unwrap().unwrap().id[0],
            b'c'
        );
        assert_eq!(find_line(&mut t, &mut c, &line).unwrap(), None);
        assert_eq!(c.pos, 3);
        assert_eq!(next(&mut t, &mut c).unwrap(), None);
        assert_eq!(c.last.unwrap().id[0], b'c');
    }

    #[test]
    fn huge_cursors_read_nothing_and_never_wrap_into_the_cache() {
        let mut m = Mem::default();
        let mut t = Table::new(&mut m, Layout::Musl);
        put(
            &mut t,
            &mut Cursor::default(),
            &rec(Kind::USER_PROCESS, b"a", b"tty1", b"u"),
        )
        .unwrap();
        assert!(t.read(0).unwrap().is_some());
        // For index 2^60, k * 400 wraps to 0 and (k + 1) * 400 to 400: an
        // unchecked product would serve record 0.
        for index in [u64::MAX, 1 << 63, 1 << 60, (1 << 60) - 1] {
            assert!(matches!(t.read(index), Ok(None) | Err(_)), "{index}");
        }
    }

    #[test]
    fn empty_type_never_matches_so_always_appends() {
        let mut m = Mem::default();
        let mut t = Table::new(&mut m, Layout::Glibc);
        let e = rec(Kind::EMPTY, b"1", b"tty1", b"");
        let mut c = Cursor::default();
        assert!(put(&mut t, &mut c, &e).unwrap().appended);
        assert!(put(&mut t, &mut c, &e).unwrap().appended);
        assert_eq!(records(&mut m).len(), 2);
    }

    #[test]
    fn torn_tail_reads_as_the_end_and_is_cut_by_an_append() {
        let mut m = Mem::default();
        let a = rec(Kind::USER_PROCESS, b"a", b"tty1", b"u");
        put(
            &mut Table::new(&mut m, Layout::Glibc),
            &mut Cursor::default(),
            &a,
        )
        .unwrap();
        m.0.extend_from_slice(&[9u8; 100]);
        let mut t = Table::new(&mut m, Layout::Glibc);
        assert_eq!(t.read(1).unwrap(), None);
        assert_eq!(t.count().unwrap(), 1);
        t.write(1, &a).unwrap();
        assert_eq!(m.0.len(), 768);
        assert_eq!(records(&mut m), [a, a]);
    }
}
