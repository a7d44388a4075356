//! musl's `struct utmpx` on x86_64 (400 bytes, align 8), which is also the
//! record of skarnet utmps' wire protocol.

use core::mem::{align_of, offset_of, size_of};

/// musl's `struct utmpx`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Utmpx {
    /// Type of record.
    pub ut_type: i16,
    /// Padding.
    pub ut_pad1: i16,
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
    /// `ut_exit.__e_termination`.
    pub e_termination: i16,
    /// `ut_exit.__e_exit`.
    pub e_exit: i16,
    /// Session id.
    pub ut_session: i32,
    /// Padding.
    pub ut_pad2: i32,
    /// `ut_tv.tv_sec`.
    pub ut_tv_sec: i64,
    /// `ut_tv.tv_usec`.
    pub ut_tv_usec: i64,
    /// Remote IPv4 or IPv6 address.
    pub ut_addr_v6: [u32; 4],
    /// Reserved.
    pub unused: [u8; 20],
}

/// Size of the musl (and wire) record.
pub const SIZE: usize = 400;

const _: () = {
    assert!(size_of::<Utmpx>() == SIZE);
    assert!(align_of::<Utmpx>() == 8);
    assert!(offset_of!(Utmpx, ut_type) == 0);
    assert!(offset_of!(Utmpx, ut_pid) == 4);
    assert!(offset_of!(Utmpx, ut_line) == 8);
    assert!(offset_of!(Utmpx, ut_id) == 40);
    assert!(offset_of!(Utmpx, ut_user) == 44);
    assert!(offset_of!(Utmpx, ut_host) == 76);
    assert!(offset_of!(Utmpx, e_termination) == 332);
    assert!(offset_of!(Utmpx, ut_session) == 336);
    assert!(offset_of!(Utmpx, ut_tv_sec) == 344);
    assert!(offset_of!(Utmpx, ut_tv_usec) == 352);
    assert!(offset_of!(Utmpx, ut_addr_v6) == 360);
    assert!(offset_of!(Utmpx, unused) == 376);
};

pub(super) const SHAPE: super::Shape = super::Shape {
    size: SIZE,
    kind: offset_of!(Utmpx, ut_type),
    pid: offset_of!(Utmpx, ut_pid),
    line: offset_of!(Utmpx, ut_line),
    id: offset_of!(Utmpx, ut_id),
    user: offset_of!(Utmpx, ut_user),
    host: offset_of!(Utmpx, ut_host),
    exit: offset_of!(Utmpx, e_termination),
    session: offset_of!(Utmpx, ut_session),
    tv_sec: offset_of!(Utmpx, ut_tv_sec),
    tv_usec: offset_of!(Utmpx, ut_tv_usec),
    tv_width: 8,
    addr: offset_of!(Utmpx, ut_addr_v6),
    reserved: offset_of!(Utmpx, unused),
};
