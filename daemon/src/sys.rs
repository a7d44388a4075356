//! The daemon's only unsafe code: thin wrappers over C library calls that
//! std does not offer.
//!
//! # Safety
//! Every call here passes pointers to live, correctly sized local buffers
//! and checks the return value; none keeps a pointer past the call.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Credentials of a connected Unix socket's peer: `(pid, uid, gid)`.
pub fn peer_cred(fd: RawFd) -> io::Result<(i32, u32, u32)> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are live locals of the sizes the kernel expects.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    })?;
    Ok((cred.pid, cred.uid, cred.gid))
}

/// Supplementary groups of a connected Unix socket's peer (`SO_PEERGROUPS`).
pub fn peer_groups(fd: RawFd) -> io::Result<Vec<u32>> {
    let mut groups = vec![0u32; 64];
    loop {
        let mut len = (groups.len() * 4) as libc::socklen_t;
        // SAFETY: `groups` has room for `len` bytes.
        let ret = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if ret == 0 {
            groups.truncate(len as usize / 4);
            return Ok(groups);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ERANGE) && (len as usize / 4) > groups.len() {
            groups.resize(len as usize / 4, 0);
            continue;
        }
        return Err(err);
    }
}

/// This process's effective uid and gid.
pub fn effective_ids() -> (u32, u32) {
    // Asked once per process (a `--listen` standby asks before it has a
    // client): they never change, and every system call between a
    // client's request and its reply counts.
    static IDS: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    // SAFETY: geteuid and getegid cannot fail.
    *IDS.get_or_init(|| unsafe { (libc::geteuid(), libc::getegid()) })
}

/// The uid of user `name` (through NSS, as glibc's `getpwnam`).
pub fn uid_of_user(name: &[u8]) -> Option<u32> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: all-zero is a valid `struct passwd`.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to a live local; `buf` is as long as said.
    let ret = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    (ret == 0 && !result.is_null()).then_some(pw.pw_uid)
}

/// Forks: `Ok(None)` in the child, `Ok(Some(pid))` in the parent.
pub fn fork() -> io::Result<Option<i32>> {
    // SAFETY: the daemon is single-threaded, so the child may run Rust code.
    let pid = cvt(unsafe { libc::fork() })?;
    Ok((pid != 0).then_some(pid))
}

/// Lets the kernel reap children, so a listener never accumulates zombies.
pub fn reap_children_automatically() -> io::Result<()> {
    // SAFETY: installing SIG_IGN for SIGCHLD has no memory-safety preconditions.
    let old = unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    if old == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes `fd` also descriptor `target`.
pub fn dup2(fd: RawFd, target: RawFd) -> io::Result<()> {
    // SAFETY: dup2 on descriptors has no memory-safety preconditions.
    cvt(unsafe { libc::dup2(fd, target) }).map(|_| ())
}

/// Takes ownership of descriptors 0 and 1 as files.
pub fn std_streams() -> (File, File) {
    // SAFETY: descriptors 0 and 1 belong to this process and nothing else
    // in the daemon uses them once they are wrapped here.
    unsafe { (File::from_raw_fd(0), File::from_raw_fd(1)) }
}

/// Waits until `fd` is readable (`events = POLLIN`) or writable
/// (`POLLOUT`), or `timeout` passes: `Ok(false)` on timeout.
pub fn wait_fd(fd: RawFd, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    loop {
        // SAFETY: one live pollfd.
        let ret = unsafe { libc::poll(&mut pfd, 1, ms) };
        if ret >= 0 {
            return Ok(ret > 0);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Tries, without waiting, to take a POSIX record lock on the whole of
/// `file` (`F_WRLCK` or `F_RDLCK`), as glibc's utmp functions do, so that
/// readers and writers that bypass the daemons still see whole records.
/// Returns whether the lock was taken; a lock someone else holds is not
/// waited for, so no ordinary user can stall the daemon with one.
pub fn try_posix_lock(file: &File, exclusive: bool) -> bool {
    posix_lock(
        file,
        if exclusive {
            libc::F_WRLCK
        } else {
            libc::F_RDLCK
        },
    )
}

/// Releases the lock of [`try_posix_lock`].
pub fn posix_unlock(file: &File) {
    posix_lock(file, libc::F_UNLCK);
}

fn posix_lock(file: &File, kind: libc::c_int) -> bool {
    // SAFETY: all-zero is a valid `struct flock` (whole file from offset 0).
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: `fl` is a live local flock.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &mut fl) == 0 }
}

/// Ignores SIGXFSZ so that exceeding `RLIMIT_FSIZE` fails the write with
/// `EFBIG` instead of killing the process.
pub fn ignore_sigxfsz() {
    // Once per process: a `--listen` standby inherits it from the listener.
    static DONE: std::sync::Once = std::sync::Once::new();
    // SAFETY: installing SIG_IGN has no memory-safety preconditions.
    DONE.call_once(|| unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    });
}

/// One `recvmsg` on a socket: the bytes read and any descriptors that
/// came with them (`SCM_RIGHTS`, close-on-exec).
pub fn recv_with_fds(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    const MAX_FDS: usize = 4;
    // u64 words keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE((MAX_FDS * 4) as u32) } as usize;
    msg.msg_controllen = space.min(std::mem::size_of_val(&control));
    // SAFETY: `msg` points to live buffers of the lengths it states.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: walking the control messages the kernel wrote into `control`.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
                let len = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..len / std::mem::size_of::<libc::c_int>() {
                    let raw = std::ptr::read_unaligned(data.add(i));
                    fds.push(OwnedFd::from_raw_fd(raw));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, fds))
}

/// For a pseudo-terminal master: the slave's number N (`/dev/pts/N`) and
/// the uid that owns the slave. The slave is opened through the master
/// (`TIOCGPTPEER`), so a different /dev in the daemon's namespace cannot
/// mislead it. Not a pty master: `ENOTTY`.
pub fn pty_of_master(master: &OwnedFd) -> io::Result<(u32, u32)> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int into `n`.
    cvt(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) })?;
    // SAFETY: TIOCGPTPEER takes open flags and returns a new descriptor.
    let slave = cvt(unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDONLY | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: the ioctl returned a new descriptor that we now own.
    let slave = unsafe { File::from_raw_fd(slave) };
    let owner = std::os::unix::fs::MetadataExt::uid(&slave.metadata()?);
    Ok((n, owner))
}

/// The name of user `uid` (through NSS).
pub fn user_name(uid: u32) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: all-zero is a valid `struct passwd`.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to a live local; `buf` is as long as said.
    let ret = unsafe {
        libc::getpwuid_r(
            uid,
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if ret != 0 || result.is_null() {
        return None;
    }
    // SAFETY: pw_name points into `buf`, NUL-terminated.
    Some(
        unsafe { std::ffi::CStr::from_ptr(pw.pw_name) }
            .to_bytes()
            .to_vec(),
    )
}

/// Asks for SIGTERM when the parent (the listener) dies (`Some(parent)`),
/// or cancels that (`None`). Returns false if the parent is already gone.
pub fn die_with_parent(parent: Option<i32>) -> bool {
    let sig = if parent.is_some() { libc::SIGTERM } else { 0 };
    // SAFETY: PR_SET_PDEATHSIG takes a signal number, no pointers.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) };
    // SAFETY: getppid cannot fail.
    parent.is_none_or(|p| unsafe { libc::getppid() } == p)
}

/// This process's pid.
pub fn getpid() -> i32 {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

/// Closes descriptor `fd`, which the caller owns and will not use again.
pub fn close(fd: RawFd) {
    // SAFETY: per the contract, nothing uses `fd` afterwards.
    unsafe { libc::close(fd) };
}
