//! The record file: open, lock, read, write, make durable.
//!
//! Writers are serialised with `flock` on a private lock file (mode 0600,
//! the daemon's own), never on the record file itself: the record file is
//! world-readable, so any user could hold a lock on it and stall the
//! daemon. Readers take the same lock shared, so they never see a record
//! half-written. A POSIX lock on the record file is also tried, without
//! waiting, for the benefit of programs that read it directly with glibc.

use crate::sys;
use proto::table::{read_full, Storage, Table};
use proto::{Errno, Layout, Record};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// An open record file and its lock.
pub struct Store {
    file: File,
    lock: File,
    layout: Layout,
}

/// The errno of an I/O error.
pub fn errno_of(e: &io::Error) -> Errno {
    match e.kind() {
        io::ErrorKind::WriteZero => Errno::ENOSPC,
        _ => Errno(e.raw_os_error().unwrap_or(Errno::EIO.0)),
    }
}

impl Store {
    /// Opens (creating, mode 0644) the record file and the lock file.
    pub fn open(file: &Path, lock: &Path, layout: Layout) -> io::Result<Store> {
        let data = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o644)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOCTTY)
            .open(file)
            .map_err(|e| annotate(e, "record file", file))?;
        let lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(lock)
            .map_err(|e| annotate(e, "lock file", lock))?;
        let meta = lock_file.metadata()?;
        if meta.uid() != sys::effective_ids().0 || meta.mode() & 0o077 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "lock file {}: must be the daemon's own with mode 0600, or other users could hold it",
                    lock.display()
                ),
            ));
        }
        Ok(Store {
            file: data,
            lock: lock_file,
            layout,
        })
    }

    /// Runs `f` on the table under a shared lock.
    pub fn read<T>(
        &mut self,
        f: impl FnOnce(&mut FileTable) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        self.lock.lock_shared().map_err(|e| errno_of(&e))?;
        let posix = sys::try_posix_lock(&self.file, false);
        let result = f(&mut Table::new(FileStorage(&self.file), self.layout));
        if posix {
            sys::posix_unlock(&self.file);
        }
        let _ = self.lock.unlock();
        result
    }

    /// Runs `f` on the table under the exclusive lock, then makes what it
    /// wrote durable before returning. The `fdatasync` runs after the lock
    /// is released: the caller still answers only once its write is on
    /// disk, while the next writer goes ahead and concurrent syncs share
    /// one journal commit.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&mut FileTable) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        self.lock.lock().map_err(|e| errno_of(&e))?;
        let posix = sys::try_posix_lock(&self.file, true);
        let result = f(&mut Table::new(FileStorage(&self.file), self.layout));
        if posix {
            sys::posix_unlock(&self.file);
        }
        let _ = self.lock.unlock();
        let value = result?;
        self.file.sync_data().map_err(|e| errno_of(&e))?;
        Ok(value)
    }

    /// wtmp's append: cut a torn tail back to a whole record, append, roll
    /// back anything partial, make it durable.
    pub fn append(&mut self, record: &Record) -> Result<(), Errno> {
        self.write(|t| {
            let n = t.count()?;
            t.write(n, record)
        })
    }
}

fn annotate(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// The record file as [`Storage`].
pub struct FileStorage<'a>(&'a File);

/// The table of one locked operation.
pub type FileTable<'a> = Table<FileStorage<'a>>;

impl Storage for FileStorage<'_> {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        self.0.read_at(buf, offset).map_err(|e| errno_of(&e))
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        self.0.write_at(buf, offset).map_err(|e| errno_of(&e))
    }
    fn size(&mut self) -> Result<u64, Errno> {
        Ok(self.0.metadata().map_err(|e| errno_of(&e))?.len())
    }
    fn truncate(&mut self, len: u64) -> Result<(), Errno> {
        self.0.set_len(len).map_err(|e| errno_of(&e))
    }
}

/// Up to `max` whole records from index `start`, with one `pread`: the
/// bulk read's fast path. Also whether the table ends right after them
/// (no whole record follows; a torn tail counts as the end, as in glibc):
/// the same `pread` asks for one record more than it returns.
pub fn read_run(t: &mut FileTable, start: u64, max: usize) -> Result<(Vec<Record>, bool), Errno> {
    let layout = t.layout();
    let size = layout.size();
    let offset = start.checked_mul(size as u64).ok_or(Errno::EINVAL)?;
    // The buffer fits the file: a zeroed buffer of `max + 1` records for a
    // table of ten would dirty a dozen pages, each a page fault (about
    // 3 us on a VM) between the client's request and its reply.
    let present = t.storage().size()?.saturating_sub(offset) / size as u64;
    let want = usize::try_from(present).unwrap_or(usize::MAX).min(max + 1);
    let mut buf = vec![0u8; want * size];
    let n = read_full(t.storage(), &mut buf, offset)?;
    let whole = n / size;
    let records = buf[..whole.min(max) * size]
        .chunks_exact(size)
        .filter_map(|c| layout.decode(c))
        .collect();
    Ok((records, whole <= max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::record::{set_field, Kind};
    use proto::table;
    use std::fs::OpenOptions;

    fn rec(line: &[u8]) -> Record {
        let mut r = Record::EMPTY;
        r.kind = Kind::USER_PROCESS;
        set_field(&mut r.line, line);
        r
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("utmps-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn torn_tail_is_cut_before_an_append() {
        let d = tmp("torn");
        let f = d.join("wtmp");
        let mut s = Store::open(&f, &d.join("lock"), Layout::Glibc).unwrap();
        s.append(&rec(b"tty1")).unwrap();
        // Simulate a crash mid-record.
        let file = OpenOptions::new().append(true).open(&f).unwrap();
        file.write_all_at(&[7u8; 100], 384).unwrap();
        s.append(&rec(b"tty2")).unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().len(), 768);
        let got = s.read(|t| read_run(t, 0, 10)).unwrap();
        assert_eq!(got, (vec![rec(b"tty1"), rec(b"tty2")], true));
        // Exactly as many as asked for: the end is known all the same.
        let got = s.read(|t| read_run(t, 0, 2)).unwrap();
        assert_eq!(got, (vec![rec(b"tty1"), rec(b"tty2")], true));
        let got = s.read(|t| read_run(t, 0, 1)).unwrap();
        assert_eq!(got, (vec![rec(b"tty1")], false));
        let got = s.read(|t| read_run(t, 2, 5)).unwrap();
        assert_eq!(got, (vec![], true));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn put_and_search_through_the_file() {
        let d = tmp("put");
        let mut s = Store::open(&d.join("utmp"), &d.join("lock"), Layout::Musl).unwrap();
        for i in 0..100u8 {
            let line = [b't', b'0' + i / 10, b'0' + i % 10];
            s.write(|t| table::put(t, &mut table::Cursor::default(), &rec(&line)))
                .unwrap();
        }
        let mut c = table::Cursor::default();
        let found = s
            .read(|t| table::find_line(t, &mut c, &rec(b"t77").line))
            .unwrap();
        assert_eq!(found, Some(rec(b"t77")));
        assert_eq!(c.pos, 78);
        assert_eq!(std::fs::metadata(d.join("utmp")).unwrap().len(), 40_000);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_shared_lock_file_is_refused() {
        let d = tmp("lock");
        std::fs::write(d.join("lock"), b"").unwrap();
        std::fs::set_permissions(
            d.join("lock"),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
        let err = Store::open(&d.join("utmp"), &d.join("lock"), Layout::Glibc)
            .err()
            .unwrap();
        assert!(err.to_string().contains("mode 0600"), "{err}");
        std::fs::remove_dir_all(d).unwrap();
    }
}
