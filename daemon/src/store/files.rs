//! Opening the record file and the lock file so that nobody can point the
//! daemon at a file it must not write, or read what it must not show.
//!
//! A daemon runs with rights others lack, so every file it opens is opened
//! without following a symbolic link (`O_NOFOLLOW`) and checked on the
//! descriptor (`fstat`), never by name: it must be a regular file with one
//! link, owned by root or the daemon, and writable by nobody beyond its
//! owner and a trusted group. A file the daemon creates gets its mode with
//! `fchmod` on the new descriptor, whatever the umask.

use rustix::fs::{self as rfs, FileType, Mode, OFlags};
use rustix::io::Errno as RErrno;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Who may read a record file, which fixes its mode at creation and the
/// modes it is accepted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Everyone (utmp, wtmp): created 0644.
    Everyone,
    /// Owner and group only (`--private`): created 0640, refused when
    /// others may read it.
    Group,
    /// Owner and group only, and nothing at all for others
    /// (`--root-only`, btmp): created 0600, refused when others have any
    /// access (distributions ship btmp `root:utmp 0660`).
    Owner,
}

impl Audience {
    fn create_mode(self) -> u32 {
        match self {
            Audience::Everyone => 0o644,
            Audience::Group => 0o640,
            Audience::Owner => 0o600,
        }
    }

    /// Permission bits for others that make the file unfit.
    fn forbidden_for_others(self) -> u32 {
        match self {
            // Writable by others: anyone could forge or erase records.
            Audience::Everyone => 0o002,
            Audience::Group => 0o006,
            Audience::Owner => 0o007,
        }
    }
}

/// The daemon's own ids, against which file owners are checked.
#[derive(Clone, Copy, Debug)]
pub struct Me {
    /// Effective uid.
    pub uid: u32,
    /// Effective gid.
    pub gid: u32,
}

impl Me {
    /// This process.
    pub fn current() -> Me {
        let (uid, gid) = crate::sys::effective_ids();
        Me { uid, gid }
    }
}

/// A record file, opened.
#[derive(Debug)]
pub struct Records {
    pub file: File,
    /// Its permission bits.
    pub mode: u32,
    /// Why it could be opened for reading only, if so: the errno its
    /// writers get, the one glibc's own `open()` for writing gives them.
    pub read_only: Option<RErrno>,
}

/// Opens (creating it if missing) the record file `path` for reading and
/// writing, and checks it fits `audience`: the file and its mode. A file
/// on a read-only file system, or that the daemon may not write, is
/// opened for reading: it is served to readers as it is.
pub fn open_records(path: &Path, audience: Audience, me: Me) -> io::Result<Records> {
    let (fd, read_only) = match open_or_create(path, audience.create_mode()) {
        Ok(fd) => (fd, None),
        Err(e) => match errno_of(&e) {
            Some(why @ (RErrno::ROFS | RErrno::ACCESS)) => {
                match open_nonblocking(path, OFlags::RDONLY) {
                    Ok(fd) => (fd, Some(why)),
                    // Missing, on a read-only file system: as glibc's
                    // open() of it, for readers and writers alike. (Missing
                    // where the daemon may not create it stays EACCES: a
                    // privileged client then hands over the log it makes.)
                    Err(RErrno::NOENT) if why == RErrno::ROFS => {
                        return Err(annotate(path, RErrno::NOENT))
                    }
                    Err(_) => return Err(e),
                }
            }
            _ => return Err(e),
        },
    };
    let st = rfs::fstat(&fd)?;
    check_records(&st, audience, me).map_err(|why| match read_only {
        // Not the daemon's to write, and unfit besides (a btmp others may
        // read): what it cannot do comes first, as when the daemon made
        // no read-only attempt (a privileged client may still hand over
        // the log for its appends).
        Some(e) => annotate(path, e),
        None => refuse(path, &why),
    })?;
    Ok(Records {
        file: File::from(fd),
        mode: st.st_mode & 0o7777,
        read_only,
    })
}

/// Opens (creating it if missing, mode 0600) the daemon's private lock
/// file: its own, unreadable to others, or any user could hold its lock.
pub fn open_lock(path: &Path, me: Me) -> io::Result<File> {
    let fd = open_or_create(path, 0o600)?;
    let st = rfs::fstat(&fd)?;
    check_lock(&st, me).map_err(|why| refuse(path, &why))?;
    Ok(File::from(fd))
}

/// Opens the daemon's private lock file as [`open_lock`] does, but only
/// if it is there: for bookkeeping that must not leave a file behind.
pub fn open_lock_if_there(path: &Path, me: Me) -> io::Result<File> {
    let fd = open_nonblocking(path, OFlags::RDWR).map_err(|e| annotate(path, e))?;
    let st = rfs::fstat(&fd)?;
    check_lock(&st, me).map_err(|why| refuse(path, &why))?;
    Ok(File::from(fd))
}

/// Opens (creating it if missing, mode 0644) the generation file that
/// sits beside the lock file ([`proto::generation`]): readable by all,
/// writable by the daemon alone, at least one page long. Clients trust
/// what it says, so it must be the daemon's own (or root's) and writable
/// by nobody else; it has two links (the one beside the socket). Its one
/// page is allocated here, or the open fails (a full file system).
pub fn open_generation(path: &Path, me: Me) -> io::Result<File> {
    let fd = open_or_create(path, 0o644)?;
    let st = rfs::fstat(&fd)?;
    let kind = FileType::from_raw_mode(st.st_mode);
    if kind != FileType::RegularFile
        || (st.st_uid != me.uid && st.st_uid != 0)
        || st.st_mode & 0o022 != 0
    {
        return Err(refuse(
            path,
            &format!(
                "must be a regular file of the daemon (uid {}) or root, writable by its owner alone; it is uid {} mode {:04o}",
                me.uid,
                st.st_uid,
                st.st_mode & 0o7777
            ),
        ));
    }
    // Its page allocated now, not at the first store through a mapping:
    // a page that cannot be had then (a full file system) is a SIGBUS. A
    // file cannot shrink (nobody else may write it).
    let size = proto::generation::SIZE as u64;
    if (st.st_blocks as u64) * 512 < size {
        rfs::fallocate(&fd, rfs::FallocateFlags::empty(), 0, size)?;
    }
    Ok(File::from(fd))
}

/// The generation file of the lock file `lock`: `utmp.lock` -> `utmp.gen`,
/// any other name + `.gen`.
pub fn generation_path(lock: &Path) -> PathBuf {
    let gen = proto::generation::SUFFIX;
    let s = lock.as_os_str().to_string_lossy();
    match s.strip_suffix(".lock") {
        Some(stem) if lock.to_str().is_some() => PathBuf::from(format!("{stem}{gen}")),
        _ => {
            let mut s = lock.as_os_str().to_owned();
            s.push(gen);
            PathBuf::from(s)
        }
    }
}

/// A warning when `path`'s directory can be written by others or by its
/// group: whoever can rename or plant files there decides what the
/// daemon's next open finds (a btmp renamed over wtmp, say).
pub fn directory_warning(path: &Path) -> Option<String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let st = rfs::stat(dir).ok()?;
    let who = if st.st_mode & 0o002 != 0 {
        "others".to_string()
    } else if st.st_mode & 0o020 != 0 {
        format!("its group (gid {})", st.st_gid)
    } else {
        return None;
    };
    Some(format!(
        "{} is writable by {who}: they could plant or replace files there (the daemon refuses links and foreign files, but fix the directory's mode)",
        dir.display()
    ))
}

/// `open(O_RDWR | O_NOFOLLOW)`, creating the file with exactly `mode` when
/// it does not exist. The file is opened as it is first (one system call
/// where it exists, as it nearly always does; every connection opens it).
fn open_or_create(path: &Path, mode: u32) -> io::Result<rustix::fd::OwnedFd> {
    let flags = OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY;
    loop {
        match open_nonblocking(path, OFlags::RDWR) {
            Ok(fd) => return Ok(fd),
            Err(RErrno::NOENT) => {}
            Err(RErrno::LOOP) => {
                return Err(refuse(
                    path,
                    "a symbolic link (refused: it could point anywhere)",
                ))
            }
            Err(e) => return Err(annotate(path, e)),
        }
        match rfs::open(path, flags | OFlags::CREATE | OFlags::EXCL, Mode::empty()) {
            Ok(fd) => {
                // Ours, new and empty: the mode is the one asked for, not
                // what the umask left of it.
                rfs::fchmod(&fd, Mode::from_raw_mode(mode))?;
                return Ok(fd);
            }
            // Made by someone else between the two opens: open theirs.
            Err(RErrno::EXIST) => continue,
            Err(e) => return Err(annotate(path, e)),
        }
    }
}

/// `open(access | O_NOFOLLOW)` of an existing file, blocking afterwards:
/// `O_NONBLOCK` only so that a FIFO planted there cannot hang the open
/// (the checks refuse it next).
fn open_nonblocking(path: &Path, access: OFlags) -> Result<rustix::fd::OwnedFd, RErrno> {
    let flags = access | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    let fd = rfs::open(path, flags, Mode::empty())?;
    // Back to blocking (F_SETFL changes only the status flags, so none
    // asked for is lost).
    rfs::fcntl_setfl(&fd, OFlags::empty())?;
    Ok(fd)
}

/// Takes `fd`, a descriptor of the record file that a privileged client
/// opened with its own rights and handed over because the daemon could not
/// open the file itself (see `Session::append`), only when it is open for
/// writing, a regular file with one link, and the very file at `path` now
/// (the path not followed if a symbolic link): so a client can make the
/// daemon write nothing but the log it serves, and nothing it could not
/// write itself. Its owner and mode are the client's business, as with
/// glibc's own `updwtmp`.
pub fn check_passed(fd: rustix::fd::OwnedFd, path: &Path) -> Result<File, String> {
    let access = rfs::fcntl_getfl(&fd).map_err(|e| e.to_string())? & OFlags::RWMODE;
    if access != OFlags::WRONLY && access != OFlags::RDWR {
        return Err("not open for writing".into());
    }
    let st = rfs::fstat(&fd).map_err(|e| e.to_string())?;
    check_common(&st)?;
    let there = rfs::statat(rfs::CWD, path, rfs::AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if (there.st_dev, there.st_ino) != (st.st_dev, st.st_ino) {
        return Err(format!("not the file at {}", path.display()));
    }
    Ok(File::from(fd))
}

/// What makes `st` unfit as a record file, if anything.
pub fn check_records(st: &rfs::Stat, audience: Audience, me: Me) -> Result<(), String> {
    check_common(st)?;
    let mode = st.st_mode & 0o7777;
    if st.st_uid != 0 && st.st_uid != me.uid {
        return Err(format!(
            "owned by uid {}, neither root nor the daemon (uid {})",
            st.st_uid, me.uid
        ));
    }
    let forbidden = audience.forbidden_for_others();
    if mode & forbidden != 0 {
        let why = match audience {
            Audience::Everyone => "writable by others",
            Audience::Group => "readable by others, which --private forbids",
            Audience::Owner => "accessible to others, which --root-only forbids",
        };
        return Err(format!("mode {mode:04o}: {why}"));
    }
    Ok(())
}

/// What makes `st` unfit as the private lock file, if anything.
pub fn check_lock(st: &rfs::Stat, me: Me) -> Result<(), String> {
    check_common(st)?;
    if st.st_uid != me.uid || st.st_mode & 0o077 != 0 {
        return Err(format!(
            "must be the daemon's own (uid {}) with mode 0600, or other users could hold it; it is uid {} mode {:04o}",
            me.uid,
            st.st_uid,
            st.st_mode & 0o7777
        ));
    }
    Ok(())
}

fn check_common(st: &rfs::Stat) -> Result<(), String> {
    let kind = FileType::from_raw_mode(st.st_mode);
    if kind != FileType::RegularFile {
        return Err(format!("not a regular file ({kind:?})"));
    }
    if st.st_nlink != 1 {
        return Err(format!(
            "has {} links (a hard link could make it another file)",
            st.st_nlink
        ));
    }
    Ok(())
}

fn refuse(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        Refused(format!("{}: refused: {why}", path.display())),
    )
}

/// A file the checks refuse (as opposed to one the system would not open).
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Whether `e` is the checks' refusal of a file unfit for the daemon (a
/// link, a foreign owner, a mode that means something else), not an
/// error of the system's (no permission, no file).
pub fn is_refusal(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Refused>())
}

/// A failed system call on a path: its errno, kept for the client's
/// answer, and the path, for the log.
#[derive(Debug)]
struct PathError {
    errno: RErrno,
    text: String,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for PathError {}

fn annotate(path: &Path, errno: RErrno) -> io::Error {
    let e = io::Error::from(errno);
    let text = format!("{}: {e}", path.display());
    io::Error::new(e.kind(), PathError { errno, text })
}

/// The errno of `e`, whether it came from a system call or through
/// [`annotate`].
pub fn errno_of(e: &io::Error) -> Option<RErrno> {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<PathError>())
    {
        Some(p) => Some(p.errno),
        None => RErrno::from_io_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

    fn tmp(name: &str) -> Scratch {
        Scratch::new(&format!("files-{name}"))
    }

    fn me() -> Me {
        Me::current()
    }

    #[test]
    fn created_with_the_audiences_mode_whatever_the_umask() {
        let d = tmp("modes");
        // The strictest mask, not 0: tests run in threads of one process,
        // and a file another test makes meanwhile must not come out
        // writable by others (which the stores refuse).
        let old = rustix::process::umask(Mode::from_raw_mode(0o777));
        for (name, aud, want) in [
            ("utmp", Audience::Everyone, 0o644),
            ("private", Audience::Group, 0o640),
            ("btmp", Audience::Owner, 0o600),
        ] {
            open_records(&d.join(name), aud, me()).unwrap();
            let mode = std::fs::metadata(d.join(name)).unwrap().mode() & 0o7777;
            assert_eq!(mode, want, "{name}");
        }
        open_lock(&d.join("lock"), me()).unwrap();
        assert_eq!(
            std::fs::metadata(d.join("lock")).unwrap().mode() & 0o777,
            0o600
        );
        rustix::process::umask(old);
    }

    #[test]
    fn links_and_odd_files_are_refused() {
        let d = tmp("links");
        std::fs::write(d.join("target"), b"precious").unwrap();
        symlink(d.join("target"), d.join("sym")).unwrap();
        symlink(d.join("missing"), d.join("dangling")).unwrap();
        std::fs::hard_link(d.join("target"), d.join("hard")).unwrap();
        std::fs::create_dir(d.join("dir")).unwrap();
        for (name, why) in [
            ("sym", "symbolic link"),
            ("dangling", "symbolic link"),
            ("hard", "2 links"),
            ("dir", "Is a directory"),
        ] {
            let e = open_records(&d.join(name), Audience::Everyone, me()).unwrap_err();
            assert!(e.to_string().contains(why), "{name}: {e}");
        }
        assert!(
            !d.join("missing").exists(),
            "created through a dangling link"
        );
        assert_eq!(std::fs::read(d.join("target")).unwrap(), b"precious");
        let fifo = d.join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let e = open_records(&fifo, Audience::Everyone, me()).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn modes_must_mean_what_the_options_say() {
        let d = tmp("audience");
        let f = d.join("f");
        std::fs::write(&f, b"").unwrap();
        for (mode, aud, ok) in [
            (0o644, Audience::Everyone, true),
            (0o664, Audience::Everyone, true),
            (0o666, Audience::Everyone, false),
            (0o644, Audience::Group, false),
            (0o640, Audience::Group, true),
            (0o660, Audience::Owner, true),
            (0o604, Audience::Owner, false),
            (0o601, Audience::Owner, false),
        ] {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
            let r = open_records(&f, aud, me());
            assert_eq!(r.is_ok(), ok, "{mode:o} {aud:?}: {r:?}");
        }
        // A lock file others could open.
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = open_lock(&f, me()).unwrap_err();
        assert!(e.to_string().contains("mode 0600"), "{e}");
    }

    #[test]
    fn foreign_owners_and_groups() {
        let st = |uid, gid, mode: u32| {
            let mut s = rfs::fstat(rfs::open("/", OFlags::RDONLY, Mode::empty()).unwrap()).unwrap();
            s.st_mode = 0o100000 | mode;
            s.st_nlink = 1;
            s.st_uid = uid;
            s.st_gid = gid;
            s
        };
        let me = Me { uid: 50, gid: 43 };
        let ok = |s| check_records(&s, Audience::Everyone, me).is_ok();
        assert!(
            ok(st(0, 43, 0o664)),
            "root:utmp 0664, as distributions ship wtmp"
        );
        assert!(ok(st(50, 43, 0o644)));
        assert!(!ok(st(1000, 43, 0o644)), "a user's own file");
        assert!(ok(st(0, 100, 0o664)), "whatever the daemon's own group");
        assert!(!ok(st(0, 100, 0o666)), "writable by others");
        assert!(check_lock(&st(50, 43, 0o600), me).is_ok());
        assert!(check_lock(&st(0, 43, 0o600), me).is_err());
    }

    #[test]
    fn writable_directories_are_named() {
        let d = tmp("dirwarn");
        let warning = |mode| {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
            directory_warning(&d.join("utmp"))
        };
        assert_eq!(warning(0o755), None);
        assert!(warning(0o1777).unwrap().contains("writable by others"));
        assert!(warning(0o2775).unwrap().contains("writable by its group"));
    }
}
