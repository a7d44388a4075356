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
            .filter(|&k| (k + 1) * size <= self.ahead_len);
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
        let appending = offset + size as u64 > old_size;
        if appending && old_size != offset {
            self.storage.truncate(offset)?;
        }
        let mut done = 0;
        let result = loop {
            let Some(rest) = bytes.get(done..).filter(|r| !r.is_empty()) else {
                break Ok(());
            };
            match self.storage.write_at(rest, offset + done as u64) {
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
        match s.read_at(rest, offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e == Errno::EINTR => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The outcome of a search: where the cursor ends up, and the entry found.
#[derive(Debug, PartialEq, Eq)]
pub struct Search {
    /// The cursor after the search: one past the match, or the end.
    pub pos: u64,
    /// The matching entry, `None` when the search reached the end (`ESRCH`).
    pub found: Option<Record>,
}

/// `getutxent`: the entry at `pos`, if any. The cursor moves past it.
pub fn next<S: Storage>(t: &mut Table<S>, pos: u64) -> Result<Search, Errno> {
    Ok(match t.read(pos)? {
        Some(r) => Search {
            pos: pos + 1,
            found: Some(r),
        },
        None => Search { pos, found: None },
    })
}

/// Forward search from `pos` for the first entry satisfying `pred`.
pub fn find<S: Storage>(
    t: &mut Table<S>,
    mut pos: u64,
    mut pred: impl FnMut(&Record) -> bool,
) -> Result<Search, Errno> {
    while let Some(r) = t.read(pos)? {
        pos += 1;
        if pred(&r) {
            return Ok(Search {
                pos,
                found: Some(r),
            });
        }
    }
    Ok(Search { pos, found: None })
}

/// `getutxid`: the next entry matching `query` (see [`matches_id`]). The
/// caller has already refused query types `getutxid` does not accept.
pub fn find_id<S: Storage>(t: &mut Table<S>, pos: u64, query: &Record) -> Result<Search, Errno> {
    find(t, pos, |e| matches_id(query, e))
}

/// `getutxline`: the next LOGIN_PROCESS or USER_PROCESS entry on `line`.
pub fn find_line<S: Storage>(
    t: &mut Table<S>,
    pos: u64,
    line: &[u8; LINE_SIZE],
) -> Result<Search, Errno> {
    find(t, pos, |e| matches_line(line, e))
}

/// `pututxline`: overwrite the entry `getutxid(record)` would find from the
/// cursor, re-checking the entry just before the cursor first, else append
/// at the end. Returns the cursor after the write (one past the slot).
pub fn put<S: Storage>(t: &mut Table<S>, pos: u64, record: &Record) -> Result<u64, Errno> {
    // glibc re-reads its cached last entry under the write lock.
    if pos > 0 {
        if let Some(last) = t.read(pos - 1)? {
            if matches_id(record, &last) {
                t.write(pos - 1, record)?;
                return Ok(pos);
            }
        }
    }
    let search = find_id(t, pos, record)?;
    let slot = match search.found {
        Some(_) => search.pos - 1,
        // Append; count() counts whole records, so a torn tail is overwritten.
        None => t.count()?,
    };
    t.write(slot, record)?;
    Ok(slot + 1)
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

    #[test]
    fn put_overwrites_match_and_appends_otherwise() {
        let mut m = Mem::default();
        let mut t = Table::new(&mut m, Layout::Glibc);
        let a = rec(Kind::LOGIN_PROCESS, b"1", b"tty1", b"LOGIN");
        let b = rec(Kind::LOGIN_PROCESS, b"2", b"tty2", b"LOGIN");
        assert_eq!(put(&mut t, 0, &a).unwrap(), 1);
        assert_eq!(put(&mut t, 0, &b).unwrap(), 2);
        let a2 = rec(Kind::USER_PROCESS, b"1", b"tty1", b"alice");
        assert_eq!(put(&mut t, 0, &a2).unwrap(), 1);
        assert_eq!(records(&mut m), [a2, b]);
    }

    #[test]
    fn put_rechecks_the_entry_before_the_cursor() {
        let mut m = Mem::default();
        let mut t = Table::new(&mut m, Layout::Musl);
        let a = rec(Kind::USER_PROCESS, b"1", b"tty1", b"alice");
        put(&mut t, 0, &a).unwrap();
        // The cursor is past `a`; a forward search would miss it.
        let dead = rec(Kind::DEAD_PROCESS, b"1", b"tty1", b"");
        assert_eq!(put(&mut t, 1, &dead).unwrap(), 1);
        assert_eq!(m.0.len(), 400);
    }

    #[test]
    fn searches_go_forward_and_stop_at_the_end() {
        let mut m = Mem::default();
        let mut t = Table::new(&mut m, Layout::Glibc);
        for (id, line) in [(b"a", b"tty1"), (b"b", b"tty2"), (b"c", b"tty1")] {
            put(&mut t, 0, &rec(Kind::USER_PROCESS, id, line, b"u")).unwrap();
        }
        let line = rec(Kind::EMPTY, b"", b"tty1", b"").line;
        let s = find_line(&mut t, 0, &line).unwrap();
        assert_eq!((s.pos, s.found.unwrap().id[0]), (1, b'a'));
        let s = find_line(&mut t, s.pos, &line).unwrap();
        assert_eq!((s.pos, s.found.unwrap().id[0]), (3, b'c'));
        let s = find_line(&mut t, s.pos, &line).unwrap();
        assert_eq!(
            s,
            Search {
                pos: 3,
                found: None
            }
        );
        assert_eq!(
            next(&mut t, 3).unwrap(),
            Search {
                pos: 3,
                found: None
            }
        );
    }

    #[test]
    fn empty_type_never_matches_so_always_appends() {
        let mut m = Mem::default();
        let mut t = Table::new(&mut m, Layout::Glibc);
        let e = rec(Kind::EMPTY, b"1", b"tty1", b"");
        put(&mut t, 0, &e).unwrap();
        put(&mut t, 1, &e).unwrap();
        assert_eq!(records(&mut m).len(), 2);
    }

    #[test]
    fn torn_tail_reads_as_the_end_and_is_cut_by_an_append() {
        let mut m = Mem::default();
        let a = rec(Kind::USER_PROCESS, b"a", b"tty1", b"u");
        put(&mut Table::new(&mut m, Layout::Glibc), 0, &a).unwrap();
        m.0.extend_from_slice(&[9u8; 100]);
        let mut t = Table::new(&mut m, Layout::Glibc);
        assert_eq!(t.read(1).unwrap(), None);
        assert_eq!(t.count().unwrap(), 1);
        t.write(1, &a).unwrap();
        assert_eq!(m.0.len(), 768);
        assert_eq!(records(&mut m), [a, a]);
    }
}
