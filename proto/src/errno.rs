//! Error numbers as they travel on the wire and through the C API.
//!
//! A transparent newtype rather than an enum, so that any code a peer sends
//! stays representable. The values are Linux's, identical in glibc and musl.

/// An `errno` value. Zero never denotes an error.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub struct Errno(pub i32);

impl Errno {
    /// Operation not permitted.
    pub const EPERM: Errno = Errno(1);
    /// No such file or directory.
    pub const ENOENT: Errno = Errno(2);
    /// No such entry (utmp searches that reach the end).
    pub const ESRCH: Errno = Errno(3);
    /// Interrupted system call.
    pub const EINTR: Errno = Errno(4);
    /// I/O error.
    pub const EIO: Errno = Errno(5);
    /// Bad file descriptor.
    pub const EBADF: Errno = Errno(9);
    /// Resource temporarily unavailable.
    pub const EAGAIN: Errno = Errno(11);
    /// Permission denied.
    pub const EACCES: Errno = Errno(13);
    /// Bad address (a NULL argument).
    pub const EFAULT: Errno = Errno(14);
    /// Invalid argument.
    pub const EINVAL: Errno = Errno(22);
    /// File too large.
    pub const EFBIG: Errno = Errno(27);
    /// No space left on device.
    pub const ENOSPC: Errno = Errno(28);
    /// Broken pipe.
    pub const EPIPE: Errno = Errno(32);
    /// File name too long.
    pub const ENAMETOOLONG: Errno = Errno(36);
    /// Function not implemented.
    pub const ENOSYS: Errno = Errno(38);
    /// Protocol error: the peer sent something malformed.
    pub const EPROTO: Errno = Errno(71);
    /// Not a tty (used by `login` when no terminal is found).
    pub const ENOTTY: Errno = Errno(25);
    /// Connection reset by peer.
    pub const ECONNRESET: Errno = Errno(104);
    /// The deadline passed.
    pub const ETIMEDOUT: Errno = Errno(110);
    /// Nobody listens on the socket.
    pub const ECONNREFUSED: Errno = Errno(111);
    /// No such device or address (a terminal the daemon cannot see).
    pub const ENXIO: Errno = Errno(6);
    /// Too many users (a listener's refusal of a client over its limits).
    pub const EUSERS: Errno = Errno(87);
    /// Connection aborted (a connection past its lifetime).
    pub const ECONNABORTED: Errno = Errno(103);
    /// Quota exceeded (a user's append budget is spent).
    pub const EDQUOT: Errno = Errno(122);

    /// The status byte of a wire reply: errno values above 255 cannot be
    /// sent and become `EIO`.
    pub fn to_wire(self) -> u8 {
        u8::try_from(self.0).unwrap_or(5)
    }

    /// The errno of a wire status byte (which must not be zero).
    pub fn from_wire(byte: u8) -> Errno {
        Errno(i32::from(byte))
    }
}
