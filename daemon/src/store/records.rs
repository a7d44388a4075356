//! The record file: open, lock, read, write, make durable.
//!
//! Writers are serialised by the lock of [`crate::store::lock`] on a private lock
//! file (mode 0600, the daemon's own), never on the record file itself:
//! the record file is world-readable, so any user could hold a lock on it
//! and stall the daemon. Readers lock one chunk at a time, so they never
//! see a record half-written and never keep a writer waiting for a whole
//! scan, and an ordinary user's readers read a few chunks at once at most. A POSIX lock on the record file is also tried, without waiting,
//! for the benefit of programs that read it directly with glibc.

use crate::store::budget::{self, Budget};
use crate::store::files::{self, Audience, Me};
use crate::store::lock::{Lock, Watch};
use proto::generation;
use proto::table::{read_full, Storage, Table};
use proto::{Errno, Layout, Record};
use rustix::fs::{fcntl_lock, FlockOperation as Op};
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;

/// An open record file and its lock.
pub struct Store {
    file: File,
    /// The record file's permission bits, when opened.
    mode: u32,
    /// Why the file is open for reading only, if so: what writers get.
    read_only: Option<Errno>,
    lock: Lock,
    layout: Layout,
    audience: Audience,
    /// The paths the store was opened from, for [`Store::follow_rename`].
    paths: (PathBuf, PathBuf),
    /// An ordinary user's uid: reads take one of their scan slots.
    scanner: Option<u32>,
    /// The generation file, mapped by the first write.
    generation: Generation,
}

/// The generation file of a store ([`proto::generation`]): every write
/// happens inside its odd window, so clients reading the record file
/// themselves never keep a torn record.
#[derive(Clone, Copy)]
enum Generation {
    NotYet,
    Mapped(&'static [AtomicU32]),
    /// It could not be opened or mapped (logged once): writes go on
    /// without it (refusing them would let a broken file stop logins).
    Unavailable,
}

/// The errno of an I/O error.
pub fn errno_of(e: &io::Error) -> Errno {
    match (files::errno_of(e).map(|e| e.raw_os_error()), e.kind()) {
        (Some(n), _) => Errno(n),
        (None, io::ErrorKind::WriteZero) => Errno::ENOSPC,
        // A file the checks refuse: as if the daemon could not open it.
        (None, io::ErrorKind::PermissionDenied) => Errno::EACCES,
        (None, _) => Errno::EIO,
    }
}

/// Who pays for an append: nobody (root), or any other peer, the writers'
/// group included, out of its own uid's budget.
#[derive(Clone, Copy, Debug)]
pub enum Payer {
    /// Never refused by the budget.
    Privileged,
    /// Charged one record, refused past the budget (`EDQUOT`) or below the
    /// free-space floor (`ENOSPC`).
    User(u32, Budget),
}

impl Store {
    /// Opens (creating them if missing) the record file, fit for
    /// `audience`, and the private lock file; see [`crate::store::files`].
    pub fn open(file: &Path, lock: &Path, layout: Layout, audience: Audience) -> io::Result<Store> {
        let me = Me::current();
        let records = files::open_records(file, audience, me)?;
        Ok(Store {
            file: records.file,
            mode: records.mode,
            read_only: records.read_only.map(|e| Errno(e.raw_os_error())),
            lock: Lock::new(files::open_lock(lock, me)?),
            layout,
            audience,
            paths: (file.to_path_buf(), lock.to_path_buf()),
            scanner: None,
            generation: Generation::NotYet,
        })
    }

    /// The record file `records`, handed over by a client and checked
    /// ([`files::check_passed`]), at `file`, with the private lock file:
    /// appends through it are serialised with every other writer of the
    /// daemon's, as its own are.
    pub fn adopt(
        records: File,
        file: &Path,
        lock: &Path,
        layout: Layout,
        audience: Audience,
    ) -> io::Result<Store> {
        let mode = rustix::fs::fstat(&records)?.st_mode & 0o7777;
        Ok(Store {
            file: records,
            mode,
            read_only: None,
            lock: Lock::new(files::open_lock(lock, Me::current())?),
            layout,
            audience,
            paths: (file.to_path_buf(), lock.to_path_buf()),
            scanner: None,
            // Appends through it bump the generation as every write does.
            generation: Generation::NotYet,
        })
    }

    /// Reads for ordinary user `uid`: each chunk waits for that user's
    /// scan slot ([`crate::store::lock`]).
    pub fn limit_scans(&mut self, uid: u32) {
        self.scanner = Some(uid);
    }

    /// Log rotation: `logrotate` renames wtmp (and, with `create`, puts a
    /// new empty file in its place) while a client keeps its connection
    /// for appends (`A`), and this process keeps the renamed file open.
    /// Before an append, check that the path still names the open file
    /// (an `lstat` of the path against an `fstat` of the file, same device
    /// and inode); if another file is there, reopen the path through
    /// [`Store::open`], with every check a fresh connection gets. While
    /// nothing is at the path (between logrotate's rename and its
    /// `create`, or for good with `nocreate`), the renamed file stays the
    /// log: a file made here would race logrotate's `create`, which moves
    /// a file it finds aside (`btmp-DATE.backup`), and the record with it.
    /// A deleted file (no link left) is not kept: the path is made anew.
    /// Two system calls per append, next to its `fdatasync`.
    pub fn follow_rename(&mut self) -> Result<(), Errno> {
        let errno = |e: rustix::io::Errno| Errno(e.raw_os_error());
        let open = rustix::fs::fstat(&self.file).map_err(errno)?;
        let keep = match rustix::fs::lstat(&self.paths.0) {
            Ok(now) => (now.st_dev, now.st_ino) == (open.st_dev, open.st_ino),
            Err(rustix::io::Errno::NOENT) => open.st_nlink > 0,
            Err(_) => false,
        };
        if !keep {
            let (file, lock) = &self.paths;
            let (scanner, gen) = (self.scanner, self.generation);
            *self =
                Store::open(file, lock, self.layout, self.audience).map_err(|e| errno_of(&e))?;
            self.scanner = scanner;
            self.generation = gen;
        }
        Ok(())
    }

    /// Runs `f` on the table; every chunk it reads is read under the
    /// shared lock, taken and released for that chunk.
    pub fn read<T>(
        &mut self,
        watch: &dyn Watch,
        f: impl FnOnce(&mut Table<Reads<'_>>) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let reads = Reads {
            file: &self.file,
            lock: &self.lock,
            watch,
            scanner: self.scanner,
        };
        f(&mut Table::new(reads, self.layout))
    }

    /// Runs `f` on the table under the exclusive lock, then makes what it
    /// wrote durable before returning. The `fdatasync` runs after the lock
    /// is released: the caller still answers only once its write is on
    /// disk, while the next writer goes ahead and concurrent syncs share
    /// one journal commit.
    ///
    /// Each change of the file (`pwrite`, `ftruncate`) happens inside the
    /// generation file's odd window (see [`proto::generation`]), not the
    /// whole of `f`: a put's search of the table, under the lock all the
    /// same, leaves direct readers alone (with the window around all of
    /// it, 16 writers of a 10,000-entry utmp kept the counter odd most of
    /// the time and sent the readers to the daemon). Every state a reader
    /// can see between two changes is one of whole records: a put changes
    /// one record in one `pwrite`, an append cuts a torn tail (which
    /// readers already count as the end) and then writes. The header is
    /// republished first when stale: after a restart on another file, a
    /// rotation, a mode change.
    pub fn write<T>(
        &mut self,
        watch: &dyn Watch,
        f: impl FnOnce(&mut Table<Writes<'_>>, &File) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let value = self.write_unsynced(watch, f)?;
        self.file.sync_data().map_err(|e| errno_of(&e))?;
        Ok(value)
    }

    /// [`Store::write`] without the `fdatasync`: for what writes nothing
    /// to the record file ([`Store::publish`], a listener's start, which
    /// must not wait behind other files' data in the journal).
    fn write_unsynced<T>(
        &mut self,
        watch: &dyn Watch,
        f: impl FnOnce(&mut Table<Writes<'_>>, &File) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        if let Some(e) = self.read_only {
            return Err(e);
        }
        let gen = self.generation();
        let header = gen.map(|_| self.header());
        let (file, layout, lock) = (&self.file, self.layout, &self.lock);
        lock.exclusive(watch, || {
            if let (Some(w), Some((h, path))) = (gen, &header) {
                if !generation::published(w, h, path) {
                    generation::begin_write(w);
                    generation::publish(w, h, path);
                    generation::end_write(w);
                }
            }
            let posix = fcntl_lock(file, Op::NonBlockingLockExclusive).is_ok();
            let r = f(&mut Table::new(Writes(file, gen), layout), lock.file());
            if posix {
                let _ = fcntl_lock(file, Op::NonBlockingUnlock);
            }
            r
        })?
    }

    /// The generation file, opened and mapped on the first call; `None`
    /// (and a warning, once) when it cannot be.
    fn generation(&mut self) -> Option<&'static [AtomicU32]> {
        if let Generation::NotYet = self.generation {
            let path = files::generation_path(&self.paths.1);
            self.generation = match files::open_generation(&path, Me::current())
                .and_then(|f| crate::sys::map_generation(&f))
            {
                Ok(words) => {
                    generation::make_writable(words);
                    Generation::Mapped(words)
                }
                Err(e) => {
                    crate::say!(
                        "warning: {}: {e}: clients read through the daemon",
                        path.display()
                    );
                    Generation::Unavailable
                }
            };
        }
        match self.generation {
            Generation::Mapped(words) => Some(words),
            _ => None,
        }
    }

    /// What the generation file says about this store: its file (absolute
    /// path, device, inode), layout, and whether clients may read it
    /// themselves: only a file open to everyone (not `--private`, not
    /// btmp, not a file others may not read).
    fn header(&self) -> (generation::Header, Vec<u8>) {
        let st = rustix::fs::fstat(&self.file).ok();
        let path = std::path::absolute(&self.paths.0).ok();
        let direct = self.audience == Audience::Everyone && self.open_to_others();
        let h = generation::Header {
            dev: st.map_or(0, |st| st.st_dev),
            ino: st.map_or(0, |st| st.st_ino),
            layout: self.layout,
            direct: direct && st.is_some() && path.is_some(),
        };
        let path = path.map_or(Vec::new(), |p| p.into_os_string().into_vec());
        (h, path)
    }

    /// Publishes this store's generation file beside `socket` (a hard link
    /// named `SOCKET.gen`), after (re)writing its header: a listener's
    /// start. Clients then read the record file themselves when the header
    /// allows them to.
    pub fn publish(&mut self, watch: &dyn Watch, socket: &Path) -> io::Result<()> {
        self.write_unsynced(watch, |_, _| Ok(()))
            .map_err(|e| io::Error::from_raw_os_error(e.0))?;
        let mut link = socket.as_os_str().to_owned();
        link.push(generation::SUFFIX);
        let gen = files::generation_path(&self.paths.1);
        match rustix::fs::unlink(&link) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
        if self.generation().is_none() {
            return Ok(());
        }
        rustix::fs::link(&gen, &link).map_err(|e| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!(
                    "link {} to {}: {e}",
                    gen.display(),
                    Path::new(&link).display()
                ),
            )
        })
    }

    /// wtmp's append: charge `payer`, cut a torn tail back to a whole
    /// record, append, roll back anything partial, make it durable.
    pub fn append(
        &mut self,
        watch: &dyn Watch,
        record: &Record,
        payer: Payer,
    ) -> Result<(), Errno> {
        let size = self.layout.size() as u64;
        self.write(watch, |t, lock| {
            if let Payer::User(uid, budget) = payer {
                if !budget::leaves_floor(t.storage().file(), size)? {
                    return Err(Errno::ENOSPC);
                }
                budget::charge(lock, uid, budget, now_ms())?;
            }
            let n = t.count()?;
            let written = t.write(n, record);
            keep_reserve(t.storage().file(), (n + 1) * size);
            written
        })
    }

    /// Keeps root's reserve allocated past the end of this log (see
    /// [`ROOT_RESERVE`]): at a listener's start, before any append.
    pub fn keep_reserve(&self) {
        if self.read_only.is_some() {
            return;
        }
        if let Ok(st) = rustix::fs::fstat(&self.file) {
            keep_reserve(&self.file, u64::try_from(st.st_size).unwrap_or(0));
        }
    }

    /// Why the file is served to readers only, if it is: the errno its
    /// writers get.
    pub fn read_only(&self) -> Option<Errno> {
        self.read_only
    }

    /// [`Store::read_only`] as the error to report, with the path.
    pub fn read_only_error(&self) -> Option<io::Error> {
        self.read_only.map(|e| {
            let e = io::Error::from_raw_os_error(e.0);
            io::Error::new(e.kind(), format!("{}: {e}", self.paths.0.display()))
        })
    }

    /// Whether others may read the file itself (its mode), so that the
    /// daemon may serve it to them.
    pub fn open_to_others(&self) -> bool {
        self.mode & 0o004 != 0
    }

    /// What to log when a file that should be open to everyone is not:
    /// the daemon then serves it as glibc's own `open()` would, to root
    /// and the writers' group alone.
    pub fn closed_warning(&self) -> String {
        format!(
            "{}: mode {:04o}: others may not read it, so it is not served to them (EACCES); is it a btmp in wtmp's place? Make it readable by others (0644, 0664) to serve everyone",
            self.paths.0.display(),
            self.mode
        )
    }
}

/// Bytes kept allocated past the end of an append log (`fallocate` with
/// `FALLOC_FL_KEEP_SIZE`: the size readers see does not change) for
/// root's records, about 170 of them. Once ordinary users have filled the
/// file system (their own appends stop at the floor), root's records
/// still land in these blocks, as glibc's root writers land in the blocks
/// ext4 keeps for root; the daemons, not root, need no capability for it.
pub const ROOT_RESERVE: u64 = 64 << 10;

/// Allocates [`ROOT_RESERVE`] past `end`, the end of `file`, as far as the
/// file system has room (or can: not every one can preallocate).
fn keep_reserve(file: &File, end: u64) {
    let _ = rustix::fs::fallocate(
        file,
        rustix::fs::FallocateFlags::KEEP_SIZE,
        end,
        ROOT_RESERVE,
    );
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The record file read chunk by chunk, each under the shared lock.
pub struct Reads<'a> {
    file: &'a File,
    lock: &'a Lock,
    watch: &'a dyn Watch,
    scanner: Option<u32>,
}

impl Storage for Reads<'_> {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let file = self.file;
        self.lock.shared(self.watch, self.scanner, || {
            let posix = fcntl_lock(file, Op::NonBlockingLockShared).is_ok();
            let r = file.read_at(buf, offset).map_err(|e| errno_of(&e));
            if posix {
                let _ = fcntl_lock(file, Op::NonBlockingUnlock);
            }
            r
        })?
    }
    fn write_at(&mut self, _: &[u8], _: u64) -> Result<usize, Errno> {
        // Reads never write.
        Err(Errno::EBADF)
    }
    fn size(&mut self) -> Result<u64, Errno> {
        Ok(self.file.metadata().map_err(|e| errno_of(&e))?.len())
    }
    fn truncate(&mut self, _: u64) -> Result<(), Errno> {
        Err(Errno::EBADF)
    }
}

/// The record file under the exclusive lock, and its generation file's
/// words: every change happens inside an odd window.
pub struct Writes<'a>(&'a File, Option<&'static [AtomicU32]>);

impl<'a> Writes<'a> {
    /// The file itself.
    pub fn file(&self) -> &'a File {
        self.0
    }

    /// Runs `change` inside the generation counter's odd window.
    fn changing<T>(&self, change: impl FnOnce() -> T) -> T {
        if let Some(w) = self.1 {
            generation::begin_write(w);
        }
        let r = change();
        if let Some(w) = self.1 {
            generation::end_write(w);
        }
        r
    }
}

impl Storage for Writes<'_> {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        self.0.read_at(buf, offset).map_err(|e| errno_of(&e))
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        let file = self.0;
        self.changing(|| file.write_at(buf, offset).map_err(|e| errno_of(&e)))
    }
    fn size(&mut self) -> Result<u64, Errno> {
        Ok(self.0.metadata().map_err(|e| errno_of(&e))?.len())
    }
    fn truncate(&mut self, len: u64) -> Result<(), Errno> {
        let file = self.0;
        self.changing(|| file.set_len(len).map_err(|e| errno_of(&e)))
    }
}

/// Up to `max` whole records from index `start`, with one `pread` (one
/// chunk under the shared lock): the bulk read's fast path. Also whether
/// the table ends right after them (no whole record follows; a torn tail
/// counts as the end, as in glibc): the same `pread` asks for one record
/// more than it returns.
pub fn read_run(
    t: &mut Table<Reads<'_>>,
    start: u64,
    max: usize,
) -> Result<(Vec<Record>, bool), Errno> {
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
    let (count, ended) = generation::run_len(layout, n, max);
    let records = buf[..count * size]
        .chunks_exact(size)
        .filter_map(|c| layout.decode(c))
        .collect();
    Ok((records, ended))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;
    use crate::store::lock::Patient;
    use proto::record::{set_field, Kind};
    use proto::table;
    use std::fs::OpenOptions;

    fn rec(line: &[u8]) -> Record {
        let mut r = Record::EMPTY;
        r.kind = Kind::USER_PROCESS;
        set_field(&mut r.line, line);
        r
    }

    fn tmp(name: &str) -> Scratch {
        Scratch::new(&format!("store-{name}"))
    }

    fn open(d: &Path, name: &str, layout: Layout) -> Store {
        Store::open(&d.join(name), &d.join("lock"), layout, Audience::Everyone).unwrap()
    }

    #[test]
    fn torn_tail_is_cut_before_an_append() {
        let d = tmp("torn");
        let f = d.join("wtmp");
        let mut s = open(&d, "wtmp", Layout::Glibc);
        s.append(&Patient, &rec(b"tty1"), Payer::Privileged)
            .unwrap();
        // Simulate a crash mid-record.
        let file = OpenOptions::new().append(true).open(&f).unwrap();
        file.write_all_at(&[7u8; 100], 384).unwrap();
        s.append(&Patient, &rec(b"tty2"), Payer::Privileged)
            .unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().len(), 768);
        let got = s.read(&Patient, |t| read_run(t, 0, 10)).unwrap();
        assert_eq!(got, (vec![rec(b"tty1"), rec(b"tty2")], true));
        // Exactly as many as asked for: the end is known all the same.
        let got = s.read(&Patient, |t| read_run(t, 0, 2)).unwrap();
        assert_eq!(got, (vec![rec(b"tty1"), rec(b"tty2")], true));
        let got = s.read(&Patient, |t| read_run(t, 0, 1)).unwrap();
        assert_eq!(got, (vec![rec(b"tty1")], false));
        let got = s.read(&Patient, |t| read_run(t, 2, 5)).unwrap();
        assert_eq!(got, (vec![], true));
    }

    #[test]
    fn put_and_search_through_the_file() {
        let d = tmp("put");
        let mut s = open(&d, "utmp", Layout::Musl);
        for i in 0..100u8 {
            let line = [b't', b'0' + i / 10, b'0' + i % 10];
            s.write(&Patient, |t, _| {
                table::put(t, &mut table::Cursor::default(), &rec(&line))
            })
            .unwrap();
        }
        let mut c = table::Cursor::default();
        let found = s
            .read(&Patient, |t| table::find_line(t, &mut c, &rec(b"t77").line))
            .unwrap();
        assert_eq!(found, Some(rec(b"t77")));
        assert_eq!(c.pos, 78);
        assert_eq!(std::fs::metadata(d.join("utmp")).unwrap().len(), 40_000);
    }

    #[test]
    fn appends_follow_a_renamed_file_to_the_new_one() {
        let d = tmp("rename");
        let f = d.join("wtmp");
        let mut s = open(&d, "wtmp", Layout::Glibc);
        s.follow_rename().unwrap();
        s.append(&Patient, &rec(b"tty1"), Payer::Privileged)
            .unwrap();
        // logrotate: rename, then (with `create`) a new empty file.
        std::fs::rename(&f, d.join("wtmp.1")).unwrap();
        std::fs::write(&f, b"").unwrap();
        s.follow_rename().unwrap();
        s.append(&Patient, &rec(b"tty2"), Payer::Privileged)
            .unwrap();
        assert_eq!(std::fs::metadata(d.join("wtmp.1")).unwrap().len(), 384);
        let got = s.read(&Patient, |t| read_run(t, 0, 10)).unwrap();
        assert_eq!(got, (vec![rec(b"tty2")], true));
        // Without `create` (or before it): nothing at the path, the
        // renamed file stays the log until a file appears there.
        std::fs::rename(&f, d.join("wtmp.2")).unwrap();
        s.follow_rename().unwrap();
        s.append(&Patient, &rec(b"tty3"), Payer::Privileged)
            .unwrap();
        assert!(!f.exists());
        assert_eq!(std::fs::metadata(d.join("wtmp.2")).unwrap().len(), 768);
        std::fs::write(&f, b"").unwrap();
        s.follow_rename().unwrap();
        s.append(&Patient, &rec(b"tty4"), Payer::Privileged)
            .unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().len(), 384);
        // A deleted log is made anew.
        std::fs::remove_file(&f).unwrap();
        s.follow_rename().unwrap();
        s.append(&Patient, &rec(b"tty5"), Payer::Privileged)
            .unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().len(), 384);
    }

    #[test]
    fn ordinary_users_pay_for_their_appends() {
        let d = tmp("budget");
        let mut s = open(&d, "wtmp", Layout::Glibc);
        let budget = Budget {
            burst: 5,
            period_ms: 3_600_000,
        };
        for _ in 0..5 {
            s.append(&Patient, &rec(b"pts/1"), Payer::User(1000, budget))
                .unwrap();
        }
        assert_eq!(
            s.append(&Patient, &rec(b"pts/1"), Payer::User(1000, budget)),
            Err(Errno::EDQUOT)
        );
        // Root is never charged; another user has a budget of their own.
        s.append(&Patient, &rec(b"tty1"), Payer::Privileged)
            .unwrap();
        s.append(&Patient, &rec(b"pts/2"), Payer::User(1001, budget))
            .unwrap();
        assert_eq!(std::fs::metadata(d.join("wtmp")).unwrap().len(), 7 * 384);
    }
}
