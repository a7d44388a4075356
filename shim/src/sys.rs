//! System calls through the C library, each wrapped to return
//! `Result<_, Errno>`. Nothing here calls a symbol the shim exports.
//!
//! The plain ones go through the C library's `syscall` rather than each
//! its own wrapper: with /etc/ld.so.preload every exec on the machine
//! looks up every symbol the shim imports, about 800 instructions each in
//! glibc's loader, and nearly no process ever calls one (README,
//! Performance). Wrappers stay where a call differs between
//! architectures beyond its number: 64-bit offsets and `timespec` on
//! 32-bit targets, `mmap` on s390x.
//!
//! # Safety
//! Each wrapper passes the C library or the kernel pointers to live
//! buffers of the stated length, or NUL-terminated strings the caller
//! guarantees; none keeps a pointer past the call.

use core::ffi::{c_char, c_int, c_long, CStr};
use proto::Errno;

/// `syscall(n, args...)`, every argument widened to `long` as the C
/// library's `syscall` reads them (an `int` in a variadic call leaves the
/// upper half of its register undefined), the missing ones 0.
///
/// # Safety
/// The arguments are what system call `n` expects.
unsafe fn call(n: c_long, args: &[c_long]) -> c_long {
    let a = |i: usize| args.get(i).copied().unwrap_or(0);
    // SAFETY: the caller's contract; the kernel ignores unused arguments.
    unsafe { libc::syscall(n, a(0), a(1), a(2), a(3), a(4), a(5)) }
}

#[cfg(not(any(target_arch = "x86", target_arch = "arm")))]
use libc::{SYS_fchown as SYS_FCHOWN, SYS_geteuid as SYS_GETEUID, SYS_getuid as SYS_GETUID};
/// The uid calls that take and return 32-bit ids: their plain names are
/// the 16-bit calls on i386 and 32-bit ARM.
#[cfg(any(target_arch = "x86", target_arch = "arm"))]
use libc::{SYS_fchown32 as SYS_FCHOWN, SYS_geteuid32 as SYS_GETEUID, SYS_getuid32 as SYS_GETUID};

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

impl Fd {
    /// The descriptor number, for passing it (`SCM_RIGHTS`).
    pub fn raw(&self) -> c_int {
        self.0
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor; close errors leave nothing to do.
        unsafe { call(libc::SYS_close, &[self.0 as c_long]) };
    }
}

/// Ends the process with SIGABRT, as `abort` (without importing it: see
/// the module's docs), or exit status 134 if the signal is caught.
#[cfg(not(any(test, feature = "fuzz")))]
pub fn abort() -> ! {
    // SAFETY: kill and exit_group take no memory.
    unsafe {
        call(
            libc::SYS_kill,
            &[call(libc::SYS_getpid, &[]), libc::SIGABRT as c_long],
        );
        loop {
            call(libc::SYS_exit_group, &[134]);
        }
    }
}

/// The calling thread's standard signals (1 to 31) held back until the
/// guard drops, when its mask is restored and anything held is delivered.
/// The real-time signals stay open: the C libraries use some of them
/// among their threads (glibc's `setuid` waits for every thread to take
/// one).
pub struct SignalsHeld(u64);

/// Holds the standard signals back (see [`SignalsHeld`]).
pub fn hold_signals() -> SignalsHeld {
    // The kernel's sigset: bit N-1 for signal N, in native words (one on
    // 64-bit targets, two little-endian ones on the 32-bit ones we build).
    let standard: u64 = 0x7fff_ffff;
    let mut old: u64 = 0;
    let args = [
        libc::SIG_BLOCK as c_long,
        &standard as *const u64 as c_long,
        &mut old as *mut u64 as c_long,
        8,
    ];
    // SAFETY: both sets are live 8-byte words, the kernel's sigset size.
    unsafe { call(libc::SYS_rt_sigprocmask, &args) };
    SignalsHeld(old)
}

impl Drop for SignalsHeld {
    fn drop(&mut self) {
        let args = [
            libc::SIG_SETMASK as c_long,
            &self.0 as *const u64 as c_long,
            0,
            8,
        ];
        // SAFETY: the set is a live 8-byte word; no old set is asked for.
        unsafe { call(libc::SYS_rt_sigprocmask, &args) };
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
    unsafe { lfs::clock_gettime(id, &mut ts) };
    // time_t and long are 32-bit on 32-bit targets; the same type here.
    #[allow(clippy::useless_conversion)]
    (i64::from(ts.tv_sec), i64::from(ts.tv_nsec))
}

/// `getpid()`.
pub fn getpid() -> i32 {
    // SAFETY: getpid cannot fail.
    unsafe { call(libc::SYS_getpid, &[]) as i32 }
}

/// Sleeps for `us` microseconds (a signal may cut it short).
pub fn sleep_us(us: u64) {
    let ts = libc::timespec {
        tv_sec: (us / 1_000_000) as libc::time_t,
        tv_nsec: ((us % 1_000_000) * 1000) as libc::c_long,
    };
    // SAFETY: `ts` is a live timespec; the remainder is not wanted.
    unsafe { lfs::nanosleep(&ts) };
}

/// Whether this is a secure-execution process (setuid, setgid, file
/// capabilities), whose environment must not be trusted: `AT_SECURE`,
/// read once from `/proc/self/auxv` rather than through `getauxval` (an
/// import: see the module's docs). Where /proc is not mounted, or not
/// readable (a setuid or setgid process is not dumpable, and its /proc
/// files are root's), the answer is yes: such a process then reads no
/// `UTMPS_*` and trusts no server of its own uid, as root.
pub fn secure_exec() -> bool {
    // 0: not read yet; 1: no; 2: yes. Fixed at exec, shared with a fork.
    static SECURE: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);
    use core::sync::atomic::Ordering::Relaxed;
    match SECURE.load(Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let secure = at_secure().unwrap_or(true);
            SECURE.store(if secure { 2 } else { 1 }, Relaxed);
            secure
        }
    }
}

/// `AT_SECURE` from `/proc/self/auxv` (pairs of native words).
fn at_secure() -> Option<bool> {
    const WORD: usize = core::mem::size_of::<usize>();
    let fd = open(c"/proc/self/auxv", libc::O_RDONLY).ok()?;
    let mut buf = [0u8; 64 * 2 * WORD];
    let mut at = 0u64;
    loop {
        let n = pread(&fd, &mut buf, at).ok()?;
        // The file is whole pairs; a short read ends with one.
        let pairs = buf.get(..n - n % (2 * WORD))?;
        if pairs.is_empty() {
            return None;
        }
        for pair in pairs.chunks_exact(2 * WORD) {
            let (k, v) = pair.split_at(WORD);
            let word = |b: &[u8]| Some(usize::from_ne_bytes(b.try_into().ok()?));
            match word(k)? as libc::c_ulong {
                libc::AT_NULL => return None,
                libc::AT_SECURE => return Some(word(v)? != 0),
                _ => {}
            }
        }
        at += pairs.len() as u64;
    }
}

/// The real uid when it equals the effective one.
pub fn own_uid() -> Option<u32> {
    // SAFETY: getuid and geteuid cannot fail.
    let (r, e) = unsafe { (call(SYS_GETUID, &[]), call(SYS_GETEUID, &[])) };
    (r == e).then_some(r as u32)
}

/// Whether the effective uid is 0: the rights `open` and `fchown` use.
pub fn effective_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { call(SYS_GETEUID, &[]) == 0 }
}

/// `fchown(fd, uid, gid)` then `fchmod(fd, mode)`: a new file's owner and
/// exact mode, whatever the umask.
pub fn set_owner_mode(fd: &Fd, uid: u32, gid: u32, mode: u32) -> Result<(), Errno> {
    let ids = [fd.0 as c_long, uid as c_long, gid as c_long];
    // SAFETY: fchown and fchmod have no memory-safety preconditions.
    check(unsafe { call(SYS_FCHOWN, &ids) } as isize)?;
    // SAFETY: as above.
    check(unsafe { call(libc::SYS_fchmod, &[fd.0 as c_long, mode as c_long]) } as isize).map(|_| ())
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
        call(
            libc::SYS_getsockopt,
            &[
                fd.0 as c_long,
                libc::SOL_SOCKET as c_long,
                libc::SO_PEERCRED as c_long,
                &mut cred as *mut libc::ucred as c_long,
                &mut len as *mut libc::socklen_t as c_long,
            ],
        )
    };
    check(ret as isize).map(|_| cred.uid)
}

/// The owner of the file at `path` (followed), through the `statx` system
/// call: `stat` and `fstat` are symbols of glibc 2.33, newer than the
/// shim may import.
pub fn owner(path: &CStr) -> Option<u32> {
    ids(path).map(|(uid, _)| uid)
}

/// The group of `path`.
pub fn group(path: &CStr) -> Option<u32> {
    ids(path).map(|(_, gid)| gid)
}

/// The owner and group of `path` (`statx`).
fn ids(path: &CStr) -> Option<(u32, u32)> {
    // SAFETY: all-zero is a valid statx.
    let mut st: libc::statx = unsafe { core::mem::zeroed() };
    let want = libc::STATX_UID | libc::STATX_GID;
    // SAFETY: `path` is NUL-terminated and `st` a live statx.
    let ret = unsafe {
        call(
            libc::SYS_statx,
            &[
                libc::AT_FDCWD as c_long,
                path.as_ptr() as c_long,
                0,
                want as c_long,
                &mut st as *mut libc::statx as c_long,
            ],
        )
    };
    (ret == 0 && st.stx_mask & want == want).then_some((st.stx_uid, st.stx_gid))
}

/// The C string at `p`, measured here rather than by `CStr::from_ptr`,
/// which imports `strlen` (a symbol lookup at every exec: see the module's
/// docs); the strings are short and rare.
///
/// # Safety
/// `p` is non-NULL and NUL-terminated, and the string outlives `'a`.
pub unsafe fn c_str<'a>(p: *const c_char) -> &'a CStr {
    let mut n = 0;
    // SAFETY: every byte up to the NUL is readable (the caller's
    // contract); volatile, so that the loop is not made a `strlen` call.
    while unsafe { core::ptr::read_volatile(p.add(n)) } != 0 {
        n += 1;
    }
    // SAFETY: `n + 1` bytes from `p` end at the first NUL.
    unsafe { CStr::from_bytes_with_nul_unchecked(core::slice::from_raw_parts(p.cast(), n + 1)) }
}

/// Whether the process runs on glibc, which defines `gnu_get_libc_version`
/// (musl does not).
///
/// A weak reference, which the dynamic loader resolves to NULL where the
/// symbol is undefined, rather than `dlsym`: glibc 2.34 moved `dlsym`
/// into libc under version GLIBC_2.34, so a shim that imports it does not
/// load at all on an older glibc, and it costs every process a symbol
/// lookup at load for a question asked only on the first call.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn is_glibc() -> bool {
    // SAFETY: the helper only loads an address from the GOT.
    !unsafe { weak::gnu_get_libc_version_addr() }.is_null()
}

/// Elsewhere (i386, 32-bit ARM, ppc64le, riscv64, s390x: each its own way
/// to load from the GOT), `confstr(_CS_GNU_LIBC_VERSION)`: glibc answers
/// with its version's length, musl with 0 (EINVAL). Not `dlsym`, which is
/// `dlsym@GLIBC_2.34` in the glibc a cross build links against: the shim
/// would not load on an older glibc of that architecture.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn is_glibc() -> bool {
    // musl's EINVAL is no business of the caller's.
    crate::ret::keep_errno(|| {
        // SAFETY: a NULL buffer of length 0 only asks for the length.
        unsafe { libc::confstr(libc::_CS_GNU_LIBC_VERSION, core::ptr::null_mut(), 0) != 0 }
    })
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

/// `len` bytes of zeroed, private, read-write memory, never unmapped.
pub fn map_zeroed(len: usize) -> Result<*mut u8, Errno> {
    // SAFETY: an anonymous mapping at an address of the kernel's choice.
    let p = unsafe {
        lfs::mmap(
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
    // (i386 and s390x have had it as a system call of its own, not only
    // through `socketcall`, since Linux 4.3; `statx` needs 4.11.)
    let fd = unsafe {
        call(
            libc::SYS_socket,
            &[
                libc::AF_UNIX as c_long,
                (libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK) as c_long,
                0,
            ],
        )
    };
    check(fd as isize).map(|_| Fd(fd as c_int))
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
        call(
            libc::SYS_connect,
            &[
                fd.0 as c_long,
                &addr as *const libc::sockaddr_un as c_long,
                len as c_long,
            ],
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
    let n = check(unsafe { poll_one(&mut pfd, ms) } as isize)?;
    Ok(n > 0)
}

/// One non-blocking `send`, without SIGPIPE.
pub fn send(fd: &Fd, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is live for its length; no address (`send`).
    check(unsafe {
        call(
            libc::SYS_sendto,
            &[
                fd.0 as c_long,
                buf.as_ptr() as c_long,
                buf.len() as c_long,
                (libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) as c_long,
            ],
        )
    } as isize)
}

/// One non-blocking `recv`: 0 when the peer closed.
pub fn recv(fd: &Fd, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is live and writable for its length; no address (`recv`).
    check(unsafe {
        call(
            libc::SYS_recvfrom,
            &[
                fd.0 as c_long,
                buf.as_mut_ptr() as c_long,
                buf.len() as c_long,
                libc::MSG_DONTWAIT as c_long,
            ],
        )
    } as isize)
}

/// File offsets of 64 bits everywhere. On 32-bit glibc targets `off_t`,
/// `pread` and the rest are 32-bit (a C program gets the 64-bit ones with
/// `_FILE_OFFSET_BITS=64`): a wtmp past 2 GiB would fail to open
/// (EOVERFLOW) or be read at a wrapped offset. The `*64` calls and
/// `O_LARGEFILE` are glibc's LFS interface (GLIBC_2.2 or the architecture's
/// first version); musl's loader resolves the `*64` names to its own.
#[cfg(target_pointer_width = "32")]
mod lfs {
    // (musl's off_t is 64-bit on every target, so a 32-bit one in
    // `mmap`'s offset would be read with the next word of the stack.)
    // Through the C library's wrappers: a 64-bit offset is two registers
    // in an order, and on ARM an alignment, of each architecture's own.
    pub use libc::{
        clock_gettime, ftruncate64 as ftruncate, lseek64 as lseek, mmap64 as mmap,
        off64_t as off_t, pread64 as pread, pwrite64 as pwrite, O_LARGEFILE,
    };

    /// `nanosleep(ts, NULL)`, through the wrapper: `timespec` is the C
    /// library's, 64-bit time on some 32-bit builds.
    ///
    /// # Safety
    /// `ts` points to a live `timespec`.
    pub unsafe fn nanosleep(ts: *const libc::timespec) {
        // SAFETY: the caller's `ts` is live; the remainder is not wanted.
        unsafe { libc::nanosleep(ts, core::ptr::null_mut()) };
    }

    /// `fcntl(fd, F_SETLK, fl)` as the system call: glibc 2.28 gave
    /// 32-bit targets a new `fcntl@GLIBC_2.28`, which an older glibc
    /// lacks (the shim would not load there).
    ///
    /// # Safety
    /// `fl` points to a live `flock`.
    pub unsafe fn set_lock(fd: libc::c_int, fl: *mut libc::flock) -> libc::c_long {
        // SAFETY: the caller's `fl` is live; fcntl64 with F_SETLK takes
        // the 32-bit struct flock, enough for a whole-file lock.
        unsafe { super::call(libc::SYS_fcntl64, &[fd, libc::F_SETLK, fl as libc::c_long]) }
    }
}

/// 64-bit targets: `off_t` is 64-bit and the kernel sets `O_LARGEFILE`;
/// each call is one register per argument, so all are system calls.
#[cfg(target_pointer_width = "64")]
mod lfs {
    use super::call;
    use core::ffi::{c_int, c_long, c_void};
    pub use libc::off_t;
    pub const O_LARGEFILE: c_int = 0;

    /// `pread(fd, buf, len, off)`.
    ///
    /// # Safety
    /// `buf` is live and writable for `len` bytes.
    pub unsafe fn pread(fd: c_int, buf: *mut c_void, len: usize, off: off_t) -> isize {
        let args = [fd as c_long, buf as c_long, len as c_long, off as c_long];
        // SAFETY: the caller's `buf`.
        unsafe { call(libc::SYS_pread64, &args) as isize }
    }

    /// `pwrite(fd, buf, len, off)`.
    ///
    /// # Safety
    /// `buf` is live for `len` bytes.
    pub unsafe fn pwrite(fd: c_int, buf: *const c_void, len: usize, off: off_t) -> isize {
        let args = [fd as c_long, buf as c_long, len as c_long, off as c_long];
        // SAFETY: the caller's `buf`.
        unsafe { call(libc::SYS_pwrite64, &args) as isize }
    }

    /// `lseek(fd, off, whence)`.
    ///
    /// # Safety
    /// None beyond the system call's.
    pub unsafe fn lseek(fd: c_int, off: off_t, whence: c_int) -> off_t {
        // SAFETY: no memory is passed.
        unsafe {
            call(
                libc::SYS_lseek,
                &[fd as c_long, off as c_long, whence as c_long],
            )
        }
    }

    /// `ftruncate(fd, len)`.
    ///
    /// # Safety
    /// None beyond the system call's.
    pub unsafe fn ftruncate(fd: c_int, len: off_t) -> c_long {
        // SAFETY: no memory is passed.
        unsafe { call(libc::SYS_ftruncate, &[fd as c_long, len as c_long]) }
    }

    /// `clock_gettime(id, ts)` (the system call, not the vDSO: it is only
    /// read for a call's deadline and a record's time).
    ///
    /// # Safety
    /// `ts` points to a live `timespec`.
    pub unsafe fn clock_gettime(id: libc::clockid_t, ts: *mut libc::timespec) -> c_long {
        // SAFETY: the caller's `ts`.
        unsafe { call(libc::SYS_clock_gettime, &[id as c_long, ts as c_long]) }
    }

    /// `nanosleep(ts, NULL)`.
    ///
    /// # Safety
    /// `ts` points to a live `timespec`.
    pub unsafe fn nanosleep(ts: *const libc::timespec) {
        // SAFETY: the caller's `ts`; the remainder is not wanted.
        unsafe { call(libc::SYS_nanosleep, &[ts as c_long, 0]) };
    }

    /// `mmap`, the system call of six arguments.
    ///
    /// # Safety
    /// As `mmap(2)`.
    #[cfg(not(target_arch = "s390x"))]
    pub unsafe fn mmap(
        addr: *mut c_void,
        len: usize,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        off: off_t,
    ) -> *mut c_void {
        let args = [
            addr as c_long,
            len as c_long,
            prot as c_long,
            flags as c_long,
            fd as c_long,
            off as c_long,
        ];
        // SAFETY: the caller's contract.
        unsafe { call(libc::SYS_mmap, &args) as *mut c_void }
    }

    // s390x's `mmap` system call takes its arguments in a block in memory.
    #[cfg(target_arch = "s390x")]
    pub use libc::mmap;

    /// `fcntl(fd, F_SETLK, fl)`.
    ///
    /// # Safety
    /// `fl` points to a live `flock`.
    pub unsafe fn set_lock(fd: c_int, fl: *mut libc::flock) -> c_long {
        let args = [fd as c_long, libc::F_SETLK as c_long, fl as c_long];
        // SAFETY: the caller's `fl` is live.
        unsafe { call(libc::SYS_fcntl, &args) }
    }
}

/// `poll(fd, 1, ms)`; aarch64 and riscv64 have only `ppoll`.
///
/// # Safety
/// `pfd` points to a live `pollfd`.
#[cfg(not(any(target_arch = "aarch64", target_arch = "riscv64")))]
unsafe fn poll_one(pfd: *mut libc::pollfd, ms: c_int) -> c_long {
    // SAFETY: the caller's `pfd`.
    unsafe { call(libc::SYS_poll, &[pfd as c_long, 1, ms as c_long]) }
}

/// `poll(fd, 1, ms)` as `ppoll` (64-bit targets only: `timespec` is the kernel's).
///
/// # Safety
/// `pfd` points to a live `pollfd`.
#[cfg(any(target_arch = "aarch64", target_arch = "riscv64"))]
unsafe fn poll_one(pfd: *mut libc::pollfd, ms: c_int) -> c_long {
    let ts = libc::timespec {
        tv_sec: libc::time_t::from(ms / 1000),
        tv_nsec: c_long::from(ms % 1000) * 1_000_000,
    };
    // A negative timeout waits forever, as poll's.
    let tsp = if ms < 0 {
        core::ptr::null()
    } else {
        &ts as *const libc::timespec
    };
    // SAFETY: the caller's `pfd`; `ts` outlives the call.
    unsafe { call(libc::SYS_ppoll, &[pfd as c_long, 1, tsp as c_long, 0, 0]) }
}

/// `open(path, flags, 0644)`, close-on-exec.
pub fn open(path: &CStr, flags: c_int) -> Result<Fd, Errno> {
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe {
        call(
            libc::SYS_openat,
            &[
                libc::AT_FDCWD as c_long,
                path.as_ptr() as c_long,
                (flags | libc::O_CLOEXEC | lfs::O_LARGEFILE) as c_long,
                0o644,
            ],
        )
    };
    check(fd as isize).map(|_| Fd(fd as c_int))
}

/// One `pread`.
pub fn pread(fd: &Fd, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
    // SAFETY: `buf` is live and writable for its length.
    check(unsafe {
        lfs::pread(
            fd.0,
            buf.as_mut_ptr().cast(),
            buf.len(),
            offset as lfs::off_t,
        )
    })
}

/// One `pwrite`.
pub fn pwrite(fd: &Fd, buf: &[u8], offset: u64) -> Result<usize, Errno> {
    // SAFETY: `buf` is live for its length.
    check(unsafe { lfs::pwrite(fd.0, buf.as_ptr().cast(), buf.len(), offset as lfs::off_t) })
}

/// The size of the file.
pub fn file_size(fd: &Fd) -> Result<u64, Errno> {
    // SAFETY: lseek has no memory-safety preconditions.
    let end = unsafe { lfs::lseek(fd.0, 0, libc::SEEK_END) };
    // 64 bits on every target (not through `check`'s isize: 32-bit ones
    // would see a file past 2 GiB as an error).
    u64::try_from(end).map_err(|_| errno())
}

/// `ftruncate`.
pub fn truncate(fd: &Fd, len: u64) -> Result<(), Errno> {
    // SAFETY: ftruncate has no memory-safety preconditions.
    check(unsafe { lfs::ftruncate(fd.0, len as lfs::off_t) } as isize).map(|_| ())
}

/// Tries once to take (`F_RDLCK`/`F_WRLCK`) or release (`F_UNLCK`) a POSIX
/// lock on the whole file: glibc's utmp locks, so we interoperate with it.
pub fn try_lock(fd: &Fd, kind: c_int) -> Result<(), Errno> {
    // SAFETY: all-zero is a valid flock: the whole file from offset 0.
    let mut fl: libc::flock = unsafe { core::mem::zeroed() };
    fl.l_type = kind as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: `fl` is a live flock.
    check(unsafe { lfs::set_lock(fd.0, &mut fl) } as isize).map(|_| ())
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
        let flags = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
        call(
            libc::SYS_sendmsg,
            &[
                fd.0 as c_long,
                &msg as *const libc::msghdr as c_long,
                flags as c_long,
            ],
        )
    };
    check(ret as isize)
}

// 32-bit ARM (EHABI): the unwind table of every function names a
// personality routine, `__aeabi_unwind_cpp_pr0`/`pr1`/`pr2`, which libgcc
// defines, and -z defs will not leave them unresolved. Nothing unwinds
// through the shim (panic = "abort"), so hidden routines of its own that
// answer _URC_FAILURE (9) resolve them without linking libgcc, and without
// exporting a symbol into every process. Debian 13's compiler_builtins
// (rustc 1.85) names Rust's own, `rust_eh_personality`, in some of its
// tables, which only std would define: the same routine answers for it.
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
    ".globl rust_eh_personality",
    ".hidden rust_eh_personality",
    ".type rust_eh_personality, %function",
    "__aeabi_unwind_cpp_pr0:",
    "__aeabi_unwind_cpp_pr1:",
    "__aeabi_unwind_cpp_pr2:",
    "rust_eh_personality:",
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
    // An empty path with AT_EMPTY_PATH names `fd` itself.
    statx(fd.0, c"", libc::AT_EMPTY_PATH)
}

/// `lstat` through the `statx` system call (see [`owner`]).
pub fn lstat(path: &CStr) -> Result<Stat, Errno> {
    statx(libc::AT_FDCWD, path, libc::AT_SYMLINK_NOFOLLOW)
}

fn statx(dirfd: c_int, path: &CStr, flags: c_int) -> Result<Stat, Errno> {
    // SAFETY: all-zero is a valid statx.
    let mut st: libc::statx = unsafe { core::mem::zeroed() };
    let want =
        libc::STATX_TYPE | libc::STATX_MODE | libc::STATX_UID | libc::STATX_INO | libc::STATX_SIZE;
    // SAFETY: `path` is NUL-terminated; `st` is a live statx.
    let ret = unsafe {
        call(
            libc::SYS_statx,
            &[
                dirfd as c_long,
                path.as_ptr() as c_long,
                flags as c_long,
                want as c_long,
                &mut st as *mut libc::statx as c_long,
            ],
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
        lfs::mmap(
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
    let advice = [page as c_long, 4096, libc::MADV_WIPEONFORK as c_long];
    // SAFETY: madvise on the page just mapped.
    if unsafe { call(libc::SYS_madvise, &advice) } != 0 {
        let e = errno();
        // SAFETY: unmapping the page just mapped, which nothing uses.
        unsafe { call(libc::SYS_munmap, &[page as c_long, 4096]) };
        return Err(e);
    }
    Ok(page.cast())
}
