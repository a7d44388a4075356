//! glibc's utmp algorithms over a file of records, written once.
//!
//! The daemon runs them on its store and the shim on plain files named by
//! `utmpxname`; both only supply the I/O through [`Table`]. A cursor is a
//! record index: glibc's `file_offset` divided by the record size, and the
//! "last entry" glibc caches is always the record just before the cursor.

use crate::matching::{matches_id, matches_line};
use crate::record::{Record, LINE_SIZE};
use crate::Errno;

/// Record-granular access to one utmp-format file.
pub trait Table {
    /// Record `index`, or `None` at or past the end (a partial record at
    /// the end counts as the end, as in glibc).
    fn read(&mut self, index: u64) -> Result<Option<Record>, Errno>;
    /// Number of whole records.
    fn count(&mut self) -> Result<u64, Errno>;
    /// Stores `record` at `index`. `index == count()` appends; an append that
    /// is cut short must be rolled back and reported as `ENOSPC`.
    fn write(&mut self, index: u64, record: &Record) -> Result<(), Errno>;
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
pub fn next<T: Table + ?Sized>(t: &mut T, pos: u64) -> Result<Search, Errno> {
    Ok(match t.read(pos)? {
        Some(r) => Search {
            pos: pos + 1,
            found: Some(r),
        },
        None => Search { pos, found: None },
    })
}

/// Forward search from `pos` for the first entry satisfying `pred`.
pub fn find<T: Table + ?Sized>(
    t: &mut T,
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
pub fn find_id<T: Table + ?Sized>(t: &mut T, pos: u64, query: &Record) -> Result<Search, Errno> {
    find(t, pos, |e| matches_id(query, e))
}

/// `getutxline`: the next LOGIN_PROCESS or USER_PROCESS entry on `line`.
pub fn find_line<T: Table + ?Sized>(
    t: &mut T,
    pos: u64,
    line: &[u8; LINE_SIZE],
) -> Result<Search, Errno> {
    find(t, pos, |e| matches_line(line, e))
}

/// `pututxline`: overwrite the entry `getutxid(record)` would find from the
/// cursor, re-checking the entry just before the cursor first, else append
/// at the end. Returns the cursor after the write (one past the slot).
pub fn put<T: Table + ?Sized>(t: &mut T, pos: u64, record: &Record) -> Result<u64, Errno> {
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

    #[derive(Default)]
    struct Mem(Vec<Record>);

    impl Table for Mem {
        fn read(&mut self, index: u64) -> Result<Option<Record>, Errno> {
            Ok(self.0.get(index as usize).copied())
        }
        fn count(&mut self) -> Result<u64, Errno> {
            Ok(self.0.len() as u64)
        }
        fn write(&mut self, index: u64, record: &Record) -> Result<(), Errno> {
            let i = index as usize;
            if i == self.0.len() {
                self.0.push(*record);
            } else {
                self.0[i] = *record;
            }
            Ok(())
        }
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
        let mut t = Mem::default();
        let a = rec(Kind::LOGIN_PROCESS, b"1", b"tty1", b"LOGIN");
        let b = rec(Kind::LOGIN_PROCESS, b"2", b"tty2", b"LOGIN");
        assert_eq!(put(&mut t, 0, &a).unwrap(), 1);
        assert_eq!(put(&mut t, 0, &b).unwrap(), 2);
        let a2 = rec(Kind::USER_PROCESS, b"1", b"tty1", b"alice");
        assert_eq!(put(&mut t, 0, &a2).unwrap(), 1);
        assert_eq!(t.0, [a2, b]);
    }

    #[test]
    fn put_rechecks_the_entry_before_the_cursor() {
        let mut t = Mem::default();
        let a = rec(Kind::USER_PROCESS, b"1", b"tty1", b"alice");
        put(&mut t, 0, &a).unwrap();
        // The cursor is past `a`; a forward search would miss it.
        let dead = rec(Kind::DEAD_PROCESS, b"1", b"tty1", b"");
        assert_eq!(put(&mut t, 1, &dead).unwrap(), 1);
        assert_eq!(t.0, [dead]);
    }

    #[test]
    fn searches_go_forward_and_stop_at_the_end() {
        let mut t = Mem::default();
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
        let mut t = Mem::default();
        let e = rec(Kind::EMPTY, b"1", b"tty1", b"");
        put(&mut t, 0, &e).unwrap();
        put(&mut t, 1, &e).unwrap();
        assert_eq!(t.0.len(), 2);
    }
}
