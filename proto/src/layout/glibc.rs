//! glibc's `struct utmp` / `struct utmpx` on x86_64 (384 bytes, align 4).
//!
//! glibc defines both structs identically, with a 32-bit `ut_tv` on 64-bit
//! targets (`__WORDSIZE_TIME64_COMPAT32`) so that the files are shared with
//! 32-bit programs.

use core::mem::{align_of, offset_of, size_of};

/// `struct exit_status`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExitStatus {
    /// Process termination status.
    pub e_termination: i16,
    /// Process exit status.
    pub e_exit: i16,
}

/// glibc's `struct utmpx`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Utmpx {
    /// Type of record.
    pub ut_type: i16,
    /// PID of the login process.
    pub ut_pid: i32,
    /// Device name of the tty without `/dev/`.
    pub ut_line: [u8; 32],
    /// Terminal name suffix or inittab id.
    pub ut_id: [u8; 4],
    /// Username.
    pub ut_user: [u8; 32],
    /// Hostname for remote login.
    pub ut_host: [u8; 256],
    /// Exit status of a DEAD_PROCESS.
    pub ut_exit: ExitStatus,
    /// Session id.
    pub ut_session: i32,
    /// Seconds of `ut_tv` (32-bit, read as unsigned).
    pub ut_tv_sec: u32,
    /// Microseconds of `ut_tv`.
    pub ut_tv_usec: i32,
    /// Remote IPv4 or IPv6 address.
    pub ut_addr_v6: [u32; 4],
    /// Reserved.
    pub glibc_reserved: [u8; 20],
}

/// Size of the glibc record.
pub const SIZE: usize = 384;

const _: () = {
    assert!(size_of::<Utmpx>() == SIZE);
    assert!(align_of::<Utmpx>() == 4);
    assert!(offset_of!(Utmpx, ut_type) == 0);
    assert!(offset_of!(Utmpx, ut_pid) == 4);
    assert!(offset_of!(Utmpx, ut_line) == 8);
    assert!(offset_of!(Utmpx, ut_id) == 40);
    assert!(offset_of!(Utmpx, ut_user) == 44);
    assert!(offset_of!(Utmpx, ut_host) == 76);
    assert!(offset_of!(Utmpx, ut_exit) == 332);
    assert!(offset_of!(Utmpx, ut_session) == 336);
    assert!(offset_of!(Utmpx, ut_tv_sec) == 340);
    assert!(offset_of!(Utmpx, ut_tv_usec) == 344);
    assert!(offset_of!(Utmpx, ut_addr_v6) == 348);
    assert!(offset_of!(Utmpx, glibc_reserved) == 364);
};

pub(super) const SHAPE: super::Shape = super::Shape {
    size: SIZE,
    kind: offset_of!(Utmpx, ut_type),
    pid: offset_of!(Utmpx, ut_pid),
    line: offset_of!(Utmpx, ut_line),
    id: offset_of!(Utmpx, ut_id),
    user: offset_of!(Utmpx, ut_user),
    host: offset_of!(Utmpx, ut_host),
    exit: offset_of!(Utmpx, ut_exit),
    session: offset_of!(Utmpx, ut_session),
    tv_sec: offset_of!(Utmpx, ut_tv_sec),
    tv_usec: offset_of!(Utmpx, ut_tv_usec),
    tv_width: 4,
    addr: offset_of!(Utmpx, ut_addr_v6),
    reserved: offset_of!(Utmpx, glibc_reserved),
};
