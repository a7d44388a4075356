//! The daemon's only unsafe code: thin wrappers over C library calls that
//! neither std nor rustix offers (the user database, fork, signal
//! handlers, `SO_PEERGROUPS`, POSIX locks on one byte) and the adoption of
//! raw descriptors.
//!
//! # Safety
//! Every call here passes pointers to live, correctly sized local buffers
//! and checks the return value; none keeps a pointer past the call.
#![allow(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicI32, Ordering};

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// What [`byte_lock`] does to a byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteLock {
    /// Take it exclusive (`F_WRLCK`).
    Exclusive,
    /// Let go of it (`F_UNLCK`).
    Release,
}

fn flock_of(kind: libc::c_short, offset: u64) -> libc::flock {
    // SAFETY: all-zero is a valid flock.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = offset as libc::off_t;
    fl.l_len = 1;
    fl
}

/// A POSIX record lock on the one byte at `offset` of `file`, without
/// waiting: false when another process holds it.
pub fn byte_lock(file: &File, offset: u64, op: ByteLock) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let kind = match op {
        ByteLock::Exclusive => libc::F_WRLCK,
        ByteLock::Release => libc::F_UNLCK,
    };
    let mut fl = flock_of(kind as libc::c_short, offset);
    // SAFETY: `fl` is a live flock.
    match cvt(unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &mut fl) }) {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether another process holds the byte at `offset` of `file` locked
/// exclusive (`F_GETLK`: the lock a shared one would conflict with).
pub fn byte_locked(file: &File, offset: u64) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut fl = flock_of(libc::F_RDLCK as libc::c_short, offset);
    // SAFETY: `fl` is a live flock.
    cvt(unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut fl) })?;
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
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
    *IDS.get_or_init(|| {
        (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        )
    })
}

/// This process's real uid.
pub fn real_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// Who this process is for [`proto::trust`]: privileged when root (real
/// or effective uid 0) or running with two uids.
pub fn caller() -> proto::trust::Caller {
    use proto::trust::Caller;
    let (real, effective) = (real_uid(), rustix::process::geteuid().as_raw());
    if real == effective && real != 0 {
        Caller::Ordinary(real)
    } else {
        Caller::Privileged
    }
}

/// This process's pid.
pub fn getpid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

/// The name of user `uid` (through NSS).
pub fn user_name(uid: u32) -> Option<Vec<u8>> {
    // SAFETY: all-zero is a valid `struct passwd`.
    let pw: libc::passwd = unsafe { std::mem::zeroed() };
    nss_name(
        pw,
        4096,
        // SAFETY: every pointer refers to a live local of `nss_name`;
        // `buf` is as long as said.
        |pw, buf, len, result| unsafe { libc::getpwuid_r(uid, pw, buf, len, result) },
        |pw| pw.pw_name,
    )
}

/// The name of group `gid` (through NSS).
pub fn group_name(gid: u32) -> Option<Vec<u8>> {
    // SAFETY: all-zero is a valid `struct group`.
    let gr: libc::group = unsafe { std::mem::zeroed() };
    nss_name(
        gr,
        // Room for a group's member list.
        16384,
        // SAFETY: as in `user_name`.
        |gr, buf, len, result| unsafe { libc::getgrgid_r(gid, gr, buf, len, result) },
        |gr| gr.gr_name,
    )
}

/// One reentrant NSS look-up (`getpwuid_r`, `getgrgid_r`) into `entry`,
/// with `room` bytes for its strings: the name it found.
fn nss_name<T>(
    mut entry: T,
    room: usize,
    lookup: impl FnOnce(*mut T, *mut libc::c_char, usize, *mut *mut T) -> libc::c_int,
    name: impl FnOnce(&T) -> *const libc::c_char,
) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; room];
    let mut result: *mut T = std::ptr::null_mut();
    let ret = lookup(&mut entry, buf.as_mut_ptr().cast(), buf.len(), &mut result);
    if ret != 0 || result.is_null() {
        return None;
    }
    // SAFETY: the name points into `buf`, NUL-terminated, which lives
    // until the copy is made.
    Some(
        unsafe { std::ffi::CStr::from_ptr(name(&entry)) }
            .to_bytes()
            .to_vec(),
    )
}

/// Forks: `Ok(None)` in the child, `Ok(Some(pid))` in the parent.
pub fn fork() -> io::Result<Option<i32>> {
    // SAFETY: the daemon is single-threaded, so the child may run Rust code.
    let pid = cvt(unsafe { libc::fork() })?;
    Ok((pid != 0).then_some(pid))
}

/// The write end of the listener's child-signal pipe, for the handler.
static CHILD_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigchld(_: libc::c_int) {
    let fd = CHILD_PIPE.load(Ordering::Relaxed);
    // SAFETY: write(2) is async-signal-safe; errno is saved and restored
    // around it so the interrupted code sees its own.
    unsafe {
        let errno = *libc::__errno_location();
        libc::write(fd, b"c".as_ptr().cast(), 1);
        *libc::__errno_location() = errno;
    }
}

/// SIGCHLD as a readable descriptor (the self-pipe trick), so the
/// listener's `poll` wakes when a child ends.
pub struct ChildSignal {
    read: OwnedFd,
    write: OwnedFd,
}

impl ChildSignal {
    /// Installs the handler.
    pub fn install() -> io::Result<ChildSignal> {
        let (read, write) = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )?;
        CHILD_PIPE.store(std::os::fd::AsRawFd::as_raw_fd(&write), Ordering::Relaxed);
        // SAFETY: all-zero is a valid sigaction; the handler only calls
        // async-signal-safe functions.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_sigchld as *const () as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
        // SAFETY: `sa` is a live, initialised sigaction.
        cvt(unsafe { libc::sigaction(libc::SIGCHLD, &sa, std::ptr::null_mut()) })?;
        Ok(ChildSignal { read, write })
    }

    /// The descriptor to poll.
    pub fn fd(&self) -> &OwnedFd {
        &self.read
    }

    /// Empties the pipe (before reaping, so no signal is missed).
    pub fn clear(&self) {
        let mut buf = [0u8; 64];
        while matches!(rustix::io::read(&self.read, &mut buf), Ok(n) if n > 0) {}
    }

    /// In a forked child: back to the default disposition, pipe closed.
    pub fn forget_in_child(&self) {
        // SAFETY: restoring the default disposition has no preconditions.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
        CHILD_PIPE.store(-1, Ordering::Relaxed);
        close(std::os::fd::AsRawFd::as_raw_fd(&self.read));
        close(std::os::fd::AsRawFd::as_raw_fd(&self.write));
    }
}

/// One ended child, if any (`waitpid(-1, WNOHANG)`).
pub fn reap_one() -> Option<i32> {
    match rustix::process::waitpid(None, rustix::process::WaitOptions::NOHANG) {
        Ok(Some((pid, _))) => Some(pid.as_raw_nonzero().get()),
        _ => None,
    }
}

/// The arguments of a C `main`.
///
/// # Safety
/// `argv` holds `argc` valid NUL-terminated strings (what the C runtime
/// passes to `main`).
pub unsafe fn c_args(argc: libc::c_int, argv: *const *const libc::c_char) -> Vec<OsString> {
    (0..usize::try_from(argc).unwrap_or(0))
        .map(|i| {
            // SAFETY: the caller's promise, for each of the `argc` strings.
            let s = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
            OsStr::from_bytes(s.to_bytes()).to_owned()
        })
        .collect()
}

/// Ignores SIGPIPE, as std's runtime does for a Rust `main`.
pub fn ignore_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_IGN has no memory-safety
    // preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Ignores SIGXFSZ so that exceeding `RLIMIT_FSIZE` fails the write with
/// `EFBIG` instead of killing the process.
pub fn ignore_sigxfsz() {
    // SAFETY: installing SIG_IGN has no memory-safety preconditions.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
}

/// Takes ownership of descriptors 0 and 1 as files.
pub fn std_streams() -> (File, File) {
    // SAFETY: descriptors 0 and 1 belong to this process and nothing else
    // in the daemon uses them once they are wrapped here.
    unsafe { (File::from_raw_fd(0), File::from_raw_fd(1)) }
}

/// Takes ownership of inherited descriptor `fd` (systemd's sockets).
pub fn take_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the caller was given `fd` by its parent and nothing else in
    // the process refers to it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Asks for SIGTERM when the parent (the listener) dies (`Some(parent)`),
/// or cancels that (`None`). Returns false if the parent is already gone.
pub fn die_with_parent(parent: Option<i32>) -> bool {
    let sig = parent.map(|_| rustix::process::Signal::TERM);
    let _ = rustix::process::set_parent_process_death_signal(sig);
    parent.is_none_or(|p| rustix::process::getppid().map(|pp| pp.as_raw_nonzero().get()) == Some(p))
}

/// Closes descriptor `fd`, which the caller owns and will not use again
/// (in a forked child, the parent's descriptors it must not keep).
pub fn close(fd: RawFd) {
    // SAFETY: per the contract, nothing uses `fd` afterwards.
    unsafe { libc::close(fd) };
}

/// Sends SIGKILL to process `pid`, a child of ours.
pub fn kill(pid: i32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

/// Ends the process with `code` at once: no `atexit` handlers, no
/// destructors of loaded objects, which a daemon process (one per
/// connection) has nothing for; nothing of ours is buffered (replies are
/// written whole, messages go to unbuffered stderr).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Maps the first `proto::generation::SIZE` bytes of `file` shared and
/// writable, for the life of the process, as the words of the generation
/// file; the file must be at least that long.
pub fn map_generation(file: &File) -> io::Result<&'static [std::sync::atomic::AtomicU32]> {
    use std::os::fd::AsRawFd;
    let len = proto::generation::SIZE;
    // SAFETY: a new shared mapping of an open file at an address of the
    // kernel's choice; nothing else in this process maps it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the mapping is `len` bytes, page-aligned (so aligned for
    // u32), never unmapped (it lives as long as the process), and only
    // ever accessed through atomics here and in every other process that
    // maps the file; AtomicU32 has the size and alignment of u32.
    Ok(unsafe {
        std::slice::from_raw_parts(
            p.cast::<std::sync::atomic::AtomicU32>(),
            proto::generation::WORDS,
        )
    })
}
