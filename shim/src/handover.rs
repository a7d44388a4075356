//! A log the daemon cannot open (an administrator's `mv`, `rm` or `chmod`
//! left it root's alone; the daemon runs as user `utmp`): the caller opens
//! it with its own rights, as glibc's `updwtmp` would, and hands the
//! descriptor over with the append, which the daemon then makes under its
//! own writers' lock (docs/DESIGN.md, "A log the daemons cannot open").

use crate::config::Service;
use crate::sys::{self, Fd};
use core::ffi::CStr;
use proto::{trust, Errno};

/// The file behind a log daemon and the mode it is created with
/// ([`trust::WTMP`]), whatever name the caller used for it.
fn log(service: Service) -> Option<(&'static CStr, u32)> {
    match service {
        Service::Wtmpd => Some(trust::WTMP),
        Service::Btmpd => Some(trust::BTMP),
        Service::Utmpd => None,
    }
}

/// Opens the log of `service` for writing with the caller's own rights,
/// never through a symbolic link (`O_NOFOLLOW`), and without waiting on a
/// FIFO planted there (`O_NONBLOCK`; the daemon takes nothing but a
/// regular file). A missing log is created, for root alone, exclusively
/// (`O_EXCL`: never someone else's file), `root:G` with the distributions'
/// mode, G the daemons' group (that of their directory, `/run/utmps`), so
/// that the daemon can open it again itself. glibc creates nothing there.
pub fn open(service: Service) -> Result<Fd, Errno> {
    let (path, mode) = log(service).ok_or(Errno::EACCES)?;
    let flags = libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK;
    loop {
        match sys::open(path, flags) {
            Err(e) if e == Errno::ENOENT && sys::effective_root() => {}
            other => return other,
        }
        match sys::open(path, flags | libc::O_CREAT | libc::O_EXCL) {
            Ok(fd) => {
                let group = sys::group(trust::SOCKET_DIR).unwrap_or(0);
                // Best effort: the record lands through the descriptor
                // anyway; the daemon's warning names a file left wrong.
                let _ = sys::set_owner_mode(&fd, 0, group, mode);
                return Ok(fd);
            }
            // Made meanwhile by someone else (root: the directory is root's): open theirs.
            Err(e) if e == Errno(libc::EEXIST) => {}
            Err(e) => return Err(e),
        }
    }
}
