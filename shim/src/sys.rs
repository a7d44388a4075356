//! System calls through the C library, each wrapped to return
//! `Result<_, Errno>`. Nothing here calls a symbol the shim exports.
//!
//! # Safety
//! Each wrapper passes the C library pointers to live buffers of the
//! stated length, or NUL-terminated strings the caller guarantees; none
//! keeps a pointer past the call.

use core::ffi::{c_char, c_int, CStr};
use proto::Errno;

/// The calling thread's errno.
pub fn errno() -> Errno {
    // SAFETY: __errno_location returns the thread's errno slot (glibc and musl).
    Errno(unsafe { *libc::__errno_location() })
}

fn check(ret: isize) -> Result<usize, Errno> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(ret as usize)
    }
}

/// An owned file descriptor, closed on drop.
#[derive(Debug)]
pub struct Fd(c_int);

#[cfg(feature = "fuzz")]
impl Fd {
    /// Takes ownership of descriptor `fd`.
    pub fn from_raw(fd: c_int) -> Fd {
        Fd(fd)
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor; close errors leave nothing to do.
        unsafe { libc::close(self.0) };
    }
}

/// `CLOCK_MONOTONIC` in milliseconds.
pub fn monotonic_ms() -> u64 {
    let (s, ns) = clock(libc::CLOCK_MONOTONIC);
    s as u64 * 1000 + ns as u64 / 1_000_000
}

/// `CLOCK_REALTIME` as (seconds, microseconds).
pub fn realtime() -> (i64, i64) {
    let (s, ns) = clock(libc::CLOCK_REALTIME);
    (s, ns / 1000)
}

/// The terminal on descriptor `fd`, as `ttyname_r` writes it into `buf`.
pub fn ttyname(fd: c_int, buf: &mut [u8]) -> Option<&CStr> {
    // SAFETY: `buf` is live and writable for its length.
    let ret = unsafe { libc::ttyname_r(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if ret != 0 {
        return None;
    }
    CStr::from_bytes_until_nul(buf).ok()
}

fn clock(id: libc::clockid_t) -> (i64, i64) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live timespec.
    unsafe { libc::clock_gettime(id, &mut ts) };
    // time_t and long are 32-bit on 32-bit targets; the same type here.
    #[allow(clippy::useless_conversion)]
    (i64::from(ts.tv_sec), i64::from(ts.tv_nsec))
}

/// `getpid()`.
pub fn getpid() -> i32 {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

/// Sleeps for `us` microseconds (a signal may cut it short).
pub fn sleep_us(us: u64) {
    let ts = libc::timespec {
        tv_sec: (us / 1_000_000) as libc::time_t,
        tv_nsec: ((us % 1_000_000) * 1000) as libc::c_long,
    };
    // SAFETY: `ts` is a live timespec; the remainder is not wanted.
    unsafe { libc::nanosleep(&ts, core::ptr::null_mut()) };
}

/// Whether this is a secure-execution process (setuid, setgid, file
/// capabilities), whose environment must not be trusted.
pub fn secure_exec() -> bool {
    // SAFETY: getauxval has no preconditions.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// The real uid when it equals the effective one.
pub fn own_uid() -> Option<u32> {
    // SAFETY: getuid and geteuid cannot fail.
    let (r, e) = unsafe { (libc::getuid(), libc::geteuid()) };
    (r == e).then_some(r)
}

/// The uid in the credentials of the server at the other end of `fd`
/// (`SO_PEERCRED`: the process that listened on the socket).
pub fn peer_uid(fd: &Fd) -> Result<u32, Errno> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: u32::MAX,
        gid: u32::MAX,
    };
    let mut len = core::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is a live ucred and `len` its size.
    let ret = unsafe {
        libc::getsockopt(
            fd.0,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    check(ret as isize).map(|_| cred.uid)
}

/// The owner of the file at `path` (followed), through the `statx` system
/// call: `stat` and `fstat` are symbols of glibc 2.33, newer than the
/// shim may import.
pub fn owner(path: &CStr) -> Option<u32> {
    // SAFETY: all-zero is a valid statx.
    let mut st: libc::statx = unsafe { core::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `st` a live statx.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_statx,
            libc::AT_FDCWD,
            path.as_ptr(),
            0,
            libc::STATX_UID,
            &mut st as *mut libc::statx,
        )
    };
    (ret == 0 && st.stx_mask & libc::STATX_UID != 0).then_some(st.stx_uid)
}

/// The value of environment variable `name`.
pub fn getenv(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: `name` is NUL-terminated; getenv returns NULL or a string
    // that stays valid unless the program changes that variable.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    if p.is_null() {
        None
    } else {
        // SAFETY: non-NULL getenv results are NUL-terminated.
        Some(unsafe { CStr::from_ptr(p) }.to_bytes())
    }
}

/// Whether the process runs on glibc, which defines `gnu_get_libc_version`
/// (musl does not).
///
/// A weak reference, which the dynamic loader resolves to NULL where the
/// symbol is undefined, rather than `dlsym`: glibc 2.34 moved `dlsym`
/// into libc under version GLIBC_2.34, so a shim that imports it does not
/// load at all on an older glibc, and it costs every process a symbol
/// lookup at load for a question asked only on the first call.
pub fn is_glibc() -> bool {
    // SAFETY: the helper only loads an address from the GOT.
    !unsafe { weak::gnu_get_libc_version_addr() }.is_null()
}

/// The weak reference: Rust has no stable weak linkage, so a two-line
/// helper in assembly returns the address the loader put in the GOT.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod weak {
    unsafe extern "C" {
        #[link_name = "utmps_gnu_get_libc_version_addr"]
        pub fn gnu_get_libc_version_addr() -> *const core::ffi::c_void;
    }

    #[cfg(target_arch = "x86_64")]
    core::arch::global_asm!(
        ".weak gnu_get_libc_version",
        ".pushsection .text.utmps_gnu_get_libc_version_addr,\"ax\",@progbits",
        ".globl utmps_gnu_get_libc_version_addr",
        ".hidden utmps_gnu_get_libc_version_addr",
        ".type utmps_gnu_get_libc_version_addr, @function",
        "utmps_gnu_get_libc_version_addr:",
        "mov rax, qword ptr [rip + gnu_get_libc_version@GOTPCREL]",
        "ret",
        ".size utmps_gnu_get_libc_version_addr, . - utmps_gnu_get_libc_version_addr",
        ".popsection",
    );

    #[cfg(target_arch = "aarch64")]
    core::arch::global_asm!(
        ".weak gnu_get_libc_version",
        ".pushsection .text.utmps_gnu_get_libc_version_addr,\"ax\",@progbits",
        ".globl utmps_gnu_get_libc_version_addr",
        ".hidden utmps_gnu_get_libc_version_addr",
        ".type utmps_gnu_get_libc_version_addr, @function",
        "utmps_gnu_get_libc_version_addr:",
        "adrp x0, :got:gnu_get_libc_version",
        "ldr x0, [x0, :got_lo12:gnu_get_libc_version]",
        "ret",
        ".size utmps_gnu_get_libc_version_addr, . - utmps_gnu_get_libc_version_addr",
        ".popsection",
    );
}

/// Elsewhere, `dlsym` (which needs glibc 2.34 or later).
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod weak {
    /// # Safety
    /// None; `unsafe` to match the assembly helper of the other architectures.
    pub unsafe fn gnu_get_libc_version_addr() -> *const core::ffi::c_void {
        // SAFETY: a NUL-terminated name; RTLD_DEFAULT is valid in glibc and musl.
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"gnu_get_libc_version".as_ptr()) }
    }
}

/// `len` bytes of zeroed, private, read-write memory, never unmapped.
pub fn map_zeroed(len: usize) -> Result<*mut u8, Errno> {
    // SAFETY: an anonymous mapping at an address of the kernel's choice.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(errno())
    } else {
        Ok(p.cast())
    }
}

/// A non-blocking, close-on-exec Unix stream socket.
pub fn unix_socket() -> Result<Fd, Errno> {
    // SAFETY: plain socket(2).
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    check(fd as isize).map(|_| Fd(fd))
}

/// `connect` to the Unix socket at `path` (not NUL-terminated).
pub fn connect_unix(fd: &Fd, path: &[u8]) -> Result<(), Errno> {
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut addr: libc::sockaddr_un = unsafe { core::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if path.is_empty() || path.len() >= addr.sun_path.len() {
        return Err(Errno::ENAMETOOLONG);
    }
    for (dst, src) in addr.sun_path.iter_mut().zip(path) {
        *dst = *src as c_char;
    }
    let len = core::mem::size_of::<libc::sa_family_t>() + path.len() + 1;
    // SAFETY: `addr` is a live sockaddr_un and `len` within it.
    let ret = unsafe {
        libc::connect(
            fd.0,
            (&addr as *const libc::sockaddr_un).cast(),
            len as libc::socklen_t,
        )
    };
    check(ret as isize).map(|_| ())
}

/// Waits up to `ms` for `events` on `fd`: whether it became ready.
pub fn poll(fd: &Fd, events: libc::c_short, ms: u64) -> Result<bool, Errno> {
    let mut pfd = libc::pollfd {
        fd: fd.0,
        events,
        revents: 0,
    };
    let ms = c_int::try_from(ms).unwrap_or(c_int::MAX);
    // SAFETY: one live pollfd.
    let n = check(unsafe { libc::poll(&mut pfd, 1, ms) } as isize)?;
    Ok(n > 0)
}

/// One non-blocking `send`, without SIGPIPE.
pub fn send(fd: &Fd, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is live for its length.
    check(unsafe {
        libc::send(
            fd.0,
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        )
    })
}

/// One non-blocking `recv`: 0 when the peer closed.
pub fn recv(fd: &Fd, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is live and writable for its length.
    check(unsafe { libc::recv(fd.0, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) })
}

/// `open(path, flags, 0644)`, close-on-exec.
pub fn open(path: &CStr, flags: c_int) -> Result<Fd, Errno> {
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            flags | libc::O_CLOEXEC,
            0o644 as libc::c_uint,
        )
    };
    check(fd as isize).map(|_| Fd(fd))
}

/// One `pread`.
pub fn pread(fd: &Fd, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
    // SAFETY: `buf` is live and writable for its length.
    check(unsafe {
        libc::pread(
            fd.0,
            buf.as_mut_ptr().cast(),
            buf.len(),
            offset as libc::off_t,
        )
    })
}

/// One `pwrite`.
pub fn pwrite(fd: &Fd, buf: &[u8], offset: u64) -> Result<usize, Errno> {
    // SAFETY: `buf` is live for its length.
    check(unsafe { libc::pwrite(fd.0, buf.as_ptr().cast(), buf.len(), offset as libc::off_t) })
}

/// The size of the file.
pub fn file_size(fd: &Fd) -> Result<u64, Errno> {
    // SAFETY: lseek has no memory-safety preconditions.
    check(unsafe { libc::lseek(fd.0, 0, libc::SEEK_END) } as isize).map(|n| n as u64)
}

/// `ftruncate`.
pub fn truncate(fd: &Fd, len: u64) -> Result<(), Errno> {
    // SAFETY: ftruncate has no memory-safety preconditions.
    check(unsafe { libc::ftruncate(fd.0, len as libc::off_t) } as isize).map(|_| ())
}

/// Tries once to take (`F_RDLCK`/`F_WRLCK`) or release (`F_UNLCK`) a POSIX
/// lock on the whole file: glibc's utmp locks, so we interoperate with it.
pub fn try_lock(fd: &Fd, kind: c_int) -> Result<(), Errno> {
    // SAFETY: all-zero is a valid flock: the whole file from offset 0.
    let mut fl: libc::flock = unsafe { core::mem::zeroed() };
    fl.l_type = kind as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: `fl` is a live flock.
    check(unsafe { libc::fcntl(fd.0, libc::F_SETLK, &mut fl) } as isize).map(|_| ())
}

/// One non-blocking `sendmsg` of `buf` with descriptor `pass` attached
/// (`SCM_RIGHTS`), without SIGPIPE.
pub fn send_with_fd(fd: &Fd, buf: &[u8], pass: c_int) -> Result<usize, Errno> {
    // u64 words keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 4];
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr().cast_mut().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is a pure computation.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(core::mem::size_of::<c_int>() as u32) } as usize;
    // SAFETY: the control buffer holds one cmsghdr with one int (32 bytes
    // >= CMSG_SPACE(4)); `buf` outlives the call and is only read.
    let ret = unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return Err(Errno::EINVAL);
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(core::mem::size_of::<c_int>() as u32) as usize;
        core::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>(), pass);
        libc::sendmsg(fd.0, &msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
    };
    check(ret)
}

// 32-bit ARM (EHABI): the unwind table of every function names a
// personality routine, `__aeabi_unwind_cpp_pr0`/`pr1`/`pr2`, which libgcc
// defines, and -z defs will not leave them unresolved. Nothing unwinds
// through the shim (panic = "abort"), so hidden routines of its own that
// answer _URC_FAILURE (9) resolve them without linking libgcc, and without
// exporting a symbol into every process.
#[cfg(target_arch = "arm")]
core::arch::global_asm!(
    ".pushsection .text.utmps_aeabi_unwind_cpp,\"ax\",%progbits",
    ".globl __aeabi_unwind_cpp_pr0",
    ".hidden __aeabi_unwind_cpp_pr0",
    ".type __aeabi_unwind_cpp_pr0, %function",
    ".globl __aeabi_unwind_cpp_pr1",
    ".hidden __aeabi_unwind_cpp_pr1",
    ".type __aeabi_unwind_cpp_pr1, %function",
    ".globl __aeabi_unwind_cpp_pr2",
    ".hidden __aeabi_unwind_cpp_pr2",
    ".type __aeabi_unwind_cpp_pr2, %function",
    "__aeabi_unwind_cpp_pr0:",
    "__aeabi_unwind_cpp_pr1:",
    "__aeabi_unwind_cpp_pr2:",
    "mov r0, #9",
    "bx lr",
    ".popsection",
);

/// What [`fstat`] tells of an open file.
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    /// Device, as `st_dev` (`makedev(major, minor)`).
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Owner.
    pub uid: u32,
    /// Type and permission bits.
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
}

/// `fstat` through the `statx` system call (see [`owner`]).
pub fn fstat(fd: &Fd) -> Result<Stat, Errno> {
    // SAFETY: all-zero is a valid statx.
    let mut st: libc::statx = unsafe { core::mem::zeroed() };
    let want =
        libc::STATX_TYPE | libc::STATX_MODE | libc::STATX_UID | libc::STATX_INO | libc::STATX_SIZE;
    // SAFETY: an empty NUL-terminated path with AT_EMPTY_PATH names `fd`;
    // `st` is a live statx.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_statx,
            fd.0,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            want,
            &mut st as *mut libc::statx,
        )
    };
    check(ret as isize)?;
    if st.stx_mask & want != want {
        return Err(Errno::EIO);
    }
    Ok(Stat {
        dev: libc::makedev(st.stx_dev_major, st.stx_dev_minor) as u64,
        ino: st.stx_ino,
        uid: st.stx_uid,
        mode: u32::from(st.stx_mode),
        size: st.stx_size,
    })
}

/// Maps the first `proto::generation::SIZE` bytes of `fd` shared and
/// read-only, never unmapped, as the generation file's words.
pub fn map_generation(fd: &Fd) -> Result<&'static [core::sync::atomic::AtomicU32], Errno> {
    let len = proto::generation::SIZE;
    // SAFETY: a new read-only shared mapping of an open file at an address
    // of the kernel's choice.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd.0,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(errno());
    }
    // SAFETY: the mapping is `len` bytes, page-aligned, never unmapped,
    // and only read, through atomics (the daemons write it through
    // atomics too); AtomicU32 has the size and alignment of u32. A file
    // truncated under the mapping would fault: the caller checked the
    // file is the daemons' own, which never shrink it.
    Ok(unsafe {
        core::slice::from_raw_parts(
            p.cast::<core::sync::atomic::AtomicU32>(),
            proto::generation::WORDS,
        )
    })
}

/// One zeroed, private, read-write page that a forked child gets zeroed
/// again (`MADV_WIPEONFORK`, Linux 4.14), never unmapped, as an `AtomicI32`
/// at its start.
pub fn map_wiped_on_fork() -> Result<*mut core::sync::atomic::AtomicI32, Errno> {
    let page = map_zeroed(4096)?;
    // SAFETY: madvise on the page just mapped.
    if unsafe { libc::madvise(page.cast(), 4096, libc::MADV_WIPEONFORK) } != 0 {
        let e = errno();
        // SAFETY: unmapping the page just mapped, which nothing uses.
        unsafe { libc::munmap(page.cast(), 4096) };
        return Err(e);
    }
    Ok(page.cast())
}
