//! libutempter's job without its setgid helper: the entry of a
//! pseudo-terminal, written for the user who proves they own it by handing
//! over its master descriptor.

use crate::accept::peer::Peer;
use crate::serve::policy::Facts;
use proto::record::{set_field, HOST_SIZE};
use proto::{Errno, Kind, Record};
use rustix::fs::{fstat, statat, AtFlags, FileType, CWD};
use rustix::pty::OpenptFlags;
use std::os::fd::OwnedFd;

/// The record libutempter's helper writes (libutempter 1.2 `utempter.c`):
/// the user of the caller's uid, the line without `/dev/`, the line's last
/// four characters as id, the caller's pid, the time; USER_PROCESS with the
/// host to add, DEAD_PROCESS without it to remove.
pub fn record(
    add: bool,
    user: &[u8],
    line: &[u8],
    host: &[u8; HOST_SIZE],
    pid: i32,
    now: (i64, i64),
) -> Record {
    let mut r = Record::EMPTY;
    r.kind = if add {
        Kind::USER_PROCESS
    } else {
        Kind::DEAD_PROCESS
    };
    r.pid = pid;
    set_field(&mut r.user, user);
    set_field(&mut r.line, line);
    set_field(
        &mut r.id,
        line.get(line.len().saturating_sub(4)..).unwrap_or(line),
    );
    if add {
        set_field(&mut r.host, host);
    }
    r.tv_sec = now.0;
    r.tv_usec = now.1;
    r
}

/// The terminal behind a pty master, as the daemon sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Terminal {
    /// N of `/dev/pts/N`.
    pub number: u32,
    /// The owner of the slave.
    pub owner: u32,
}

/// The terminal of `master`, proved in the daemon's own view: the slave,
/// opened through the master (`TIOCGPTPEER`), must be the very device at
/// `/dev/pts/N` here (same `st_dev` and `st_rdev`). `TIOCGPTN` gives N
/// inside the devpts instance the master came from, and a user can mount
/// an instance of their own (`unshare -Urm`, `mount -t devpts -o
/// newinstance`) where numbers restart at 0 and every slave is theirs:
/// such a master names a pts/N that is not its terminal (`ENXIO`). Not a
/// pty master: `ENOTTY`. A locked pty is unlocked for the proof, the very
/// proof, as libutempter's setgid helper accepts a locked one.
pub fn terminal_of(master: &OwnedFd) -> Result<Terminal, Errno> {
    let errno = |e: rustix::io::Errno| Errno(e.raw_os_error());
    let path = rustix::pty::ptsname(master, Vec::new()).map_err(errno)?;
    let number = path
        .to_bytes()
        .strip_prefix(b"/dev/pts/")
        .and_then(|n| std::str::from_utf8(n).ok())
        .and_then(|n| n.parse().ok())
        .ok_or(Errno::ENOTTY)?;
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let slave = match rustix::pty::ioctl_tiocgptpeer(master, flags) {
        // Still locked: xterm records the terminal before its child calls
        // unlockpt. The caller holds the master, so it may unlock it, and
        // it would next (a locked slave is of no use): unlock it now, and
        // leave it so, since locking it again could undo the child's own
        // unlockpt, made meanwhile, before it opens the slave.
        Err(rustix::io::Errno::IO) => {
            rustix::pty::unlockpt(master).map_err(errno)?;
            rustix::pty::ioctl_tiocgptpeer(master, flags).map_err(errno)?
        }
        other => other.map_err(errno)?,
    };
    let theirs = fstat(&slave).map_err(errno)?;
    let here = statat(CWD, path.as_c_str(), AtFlags::SYMLINK_NOFOLLOW).map_err(|_| Errno::ENXIO)?;
    let is_char =
        |st: &rustix::fs::Stat| FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice;
    if !is_char(&here)
        || !is_char(&theirs)
        || here.st_dev != theirs.st_dev
        || here.st_rdev != theirs.st_rdev
    {
        return Err(Errno::ENXIO);
    }
    Ok(Terminal {
        number,
        owner: theirs.st_uid,
    })
}

/// Checks the master descriptor against the peer and builds the record.
/// The peer must own the slave (as libutempter's helper demands of the
/// caller's real uid); names come from the kernel and the user database
/// (the peer's own, by uid, in `facts`), never from the client, and the host may hold no control character.
pub fn entry(
    peer: &Peer,
    facts: &impl Facts,
    master: Option<&OwnedFd>,
    add: bool,
    host: &[u8; HOST_SIZE],
) -> Result<Record, Errno> {
    let master = master.ok_or(Errno::EBADF)?;
    let pid = peer.pid.ok_or(Errno::EPERM)?;
    if !crate::serve::policy::is_printable(proto::record::cstr(host)) {
        return Err(Errno::EINVAL);
    }
    let tty = terminal_of(master)?;
    if tty.owner != peer.uid {
        return Err(Errno::EPERM);
    }
    let user = facts.peer_name().ok_or(Errno::EPERM)?;
    let line = format!("pts/{}", tty.number);
    let now = facts.now();
    Ok(record(add, user, line.as_bytes(), host, pid, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_libutempters_helper() {
        let mut host = [0u8; HOST_SIZE];
        host[..4].copy_from_slice(b"tmux");
        let r = record(true, b"alice", b"pts/12", &host, 42, (7, 8));
        assert_eq!(r.kind, Kind::USER_PROCESS);
        assert_eq!(r.line_str(), b"pts/12");
        assert_eq!(&r.id, b"s/12");
        assert_eq!(r.user_str(), b"alice");
        assert_eq!(&r.host[..5], b"tmux\0");
        let r = record(false, b"alice", b"pts/3", &host, 42, (7, 8));
        assert_eq!(r.kind, Kind::DEAD_PROCESS);
        assert_eq!(&r.id, b"ts/3");
        assert_eq!(r.host[0], 0);
        assert_eq!(&record(true, b"a", b"tty", &host, 1, (0, 0)).id, b"tty\0");
    }
}
