//! A small blocking client of the daemons' base protocol, with one
//! deadline for the whole conversation (utmps-write's).

use proto::codec::{self, Request};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{self as rfs, Gid, Mode, OFlags, Uid};
use rustix::io::Errno as RErrno;
use rustix::net::{
    sendmsg, AddressFamily, SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix,
    SocketFlags, SocketType,
};
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// The moment past which nothing waits; `None` waits forever (skarnet's
/// default for utmps-write).
pub type Deadline = Option<Instant>;

fn errno(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

/// What is left of `deadline`: `None` for no limit, `ETIMEDOUT` when
/// nothing is.
fn left(deadline: Deadline) -> io::Result<Option<Duration>> {
    match deadline {
        None => Ok(None),
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                Err(errno(libc::ETIMEDOUT))
            } else {
                Ok(Some(left))
            }
        }
    }
}

/// Connects to the daemon listening on `path`, through its privileged
/// twin (`path.priv`) when this process may open it: init's boot records
/// and root's writes never wait behind a flood of ordinary users'
/// connections. The stream returned blocks.
pub fn connect(path: &Path, deadline: Deadline) -> io::Result<UnixStream> {
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    // A failed connect leaves the socket unconnected: the same one serves.
    if connect_to(&fd, &crate::accept::listen::privileged_path(path), deadline).is_err() {
        connect_to(&fd, path, deadline)?;
    }
    verify(&fd)?;
    let stream = UnixStream::from(fd);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// Refuses, before anything is sent, a server this process may not talk
/// to ([`proto::trust`]).
fn verify(fd: &rustix::fd::OwnedFd) -> io::Result<()> {
    let server = rustix::net::sockopt::socket_peercred(fd)?.uid.as_raw();
    let caller = crate::sys::caller();
    // As the shim: the daemons' account is looked up only when it decides.
    let daemons = || {
        rustix::fs::stat(proto::trust::SOCKET_DIR)
            .ok()
            .map(|st| st.st_uid)
    };
    if proto::trust::may_talk_to(caller, server, None)
        || proto::trust::may_talk_to(caller, server, daemons())
    {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "the server runs as uid {server}, neither root nor the owner of {} (refused)",
            proto::trust::SOCKET_DIR.to_string_lossy()
        ),
    ))
}

/// One connect; a full backlog (`EAGAIN` on a non-blocking socket) is
/// tried again every 10 ms until `deadline` (`ETIMEDOUT`).
fn connect_to(fd: &rustix::fd::OwnedFd, path: &Path, deadline: Deadline) -> io::Result<()> {
    let addr = SocketAddrUnix::new(path)?;
    loop {
        match rustix::net::connect(fd, &addr) {
            Ok(()) => return Ok(()),
            Err(RErrno::INTR) => {}
            Err(RErrno::AGAIN) => {
                left(deadline)?;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sends `req` and reads the one-byte status that answers it: `Ok` for 0,
/// else the daemon's errno; `EPIPE` when the daemon hangs up first (as
/// skarnet's client), `ETIMEDOUT` past the deadline.
pub fn request_status(s: &mut UnixStream, req: &Request, deadline: Deadline) -> io::Result<()> {
    request_status_with(s, req, None, deadline)
}

/// [`request_status`], with descriptor `pass` attached to the first byte.
pub fn request_status_with(
    s: &mut UnixStream,
    req: &Request,
    pass: Option<&OwnedFd>,
    deadline: Deadline,
) -> io::Result<()> {
    let mut buf = [0u8; codec::MAX_REQUEST];
    let n = codec::encode_request(req, &mut buf);
    let mut sent = 0;
    if let Some(fd) = pass {
        s.set_write_timeout(left(deadline)?)?;
        let fds = [fd.as_fd()];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        control.push(SendAncillaryMessage::ScmRights(&fds));
        let iov = [io::IoSlice::new(&buf[..n])];
        sent = sendmsg(&*s, &iov, &mut control, SendFlags::NOSIGNAL).map_err(io::Error::from)?;
    }
    while sent < n {
        s.set_write_timeout(left(deadline)?)?;
        match s.write(&buf[sent..n]) {
            Ok(0) => return Err(errno(libc::EPIPE)),
            Ok(k) => sent += k,
            Err(e) => retry_or_fail(e)?,
        }
    }
    let mut status = [0u8; 1];
    loop {
        s.set_read_timeout(left(deadline)?)?;
        match s.read(&mut status) {
            Ok(0) => return Err(errno(libc::EPIPE)),
            Ok(_) => break,
            Err(e) => retry_or_fail(e)?,
        }
    }
    codec::check_status(status[0]).map_err(|e| errno(e.0))
}

/// The log behind wtmpd ([`proto::trust::WTMP`]) opened for writing with
/// this process's own rights, never through a symbolic link: what the
/// shim hands a wtmpd that cannot open it (see `handover` in the shim,
/// which this follows); created, for root alone and only when missing,
/// `root:G 0664` with G the group of /run/utmps.
pub fn open_log() -> io::Result<OwnedFd> {
    let (path, mode) = proto::trust::WTMP;
    let flags =
        OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    loop {
        match rfs::open(path, flags, Mode::empty()) {
            Err(RErrno::NOENT) if rustix::process::geteuid().is_root() => {}
            other => return other.map_err(io::Error::from),
        }
        match rfs::open(path, flags | OFlags::CREATE | OFlags::EXCL, Mode::empty()) {
            Ok(fd) => {
                let group = rfs::stat(proto::trust::SOCKET_DIR).map_or(0, |st| st.st_gid);
                // Best effort, as the shim's.
                let _ = rfs::fchown(&fd, Some(Uid::ROOT), Some(Gid::from_raw(group)));
                let _ = rfs::fchmod(&fd, Mode::from_raw_mode(mode));
                return Ok(fd);
            }
            Err(RErrno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// An interrupted call is retried (`Ok`); a socket timeout is the
/// deadline's `ETIMEDOUT`; anything else fails.
fn retry_or_fail(e: io::Error) -> io::Result<()> {
    match e.kind() {
        io::ErrorKind::Interrupted => Ok(()),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Err(errno(libc::ETIMEDOUT)),
        _ => Err(e),
    }
}
