//! The C layouts a record is stored in, and the one codec between them and
//! [`Record`].
//!
//! Each layout is written down as a `#[repr(C)]` struct with compile-time
//! checks of its size, alignment and field offsets; the byte codec below
//! reads those offsets with `offset_of!`, so the struct is the single
//! source of truth. The musl layout is also skarnet utmps' wire record.

pub mod glibc;
pub mod musl;

use crate::record::{Kind, Record, HOST_SIZE, ID_SIZE, LINE_SIZE, RESERVED_SIZE, USER_SIZE};

/// The largest layout, for buffers that hold any of them.
pub const MAX_SIZE: usize = musl::SIZE;

/// A C struct layout of `struct utmpx` on x86_64.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Layout {
    /// glibc's 384-byte `struct utmp`/`struct utmpx` (32-bit `ut_tv`).
    Glibc,
    /// musl's 400-byte `struct utmpx`, byte for byte skarnet utmps' wire record.
    Musl,
}

/// Where each field lives in one layout.
struct Shape {
    size: usize,
    kind: usize,
    pid: usize,
    line: usize,
    id: usize,
    user: usize,
    host: usize,
    exit: usize,
    session: usize,
    tv_sec: usize,
    tv_usec: usize,
    /// 4 for glibc's 32-bit `ut_tv`, 8 for musl's `struct timeval`.
    tv_width: usize,
    addr: usize,
    reserved: usize,
}

impl Layout {
    /// The layout of the C library this crate was built for: the native
    /// format of files on this host.
    pub const fn native() -> Layout {
        if cfg!(target_env = "musl") {
            Layout::Musl
        } else {
            Layout::Glibc
        }
    }

    /// Size of one record in this layout.
    pub const fn size(self) -> usize {
        self.shape().size
    }

    const fn shape(self) -> Shape {
        match self {
            Layout::Glibc => glibc::SHAPE,
            Layout::Musl => musl::SHAPE,
        }
    }

    /// Decodes one record; `None` if `bytes` is shorter than [`Layout::size`].
    pub fn decode(self, bytes: &[u8]) -> Option<Record> {
        let s = self.shape();
        let b = bytes.get(..s.size)?;
        let tv = |off: usize| -> i64 {
            if s.tv_width == 4 {
                // glibc >= 2.40 reads a 32-bit tv_sec as unsigned (good
                // until 2106); tv_usec is always small, so unsigned is fine.
                i64::from(u32::from_ne_bytes(arr(b, off)))
            } else {
                i64::from_ne_bytes(arr(b, off))
            }
        };
        let mut addr_v6 = [0u32; 4];
        for (i, word) in addr_v6.iter_mut().enumerate() {
            *word = u32::from_ne_bytes(arr(b, s.addr + 4 * i));
        }
        Some(Record {
            kind: Kind(i16::from_ne_bytes(arr(b, s.kind))),
            pid: i32::from_ne_bytes(arr(b, s.pid)),
            line: arr::<LINE_SIZE>(b, s.line),
            id: arr::<ID_SIZE>(b, s.id),
            user: arr::<USER_SIZE>(b, s.user),
            host: arr::<HOST_SIZE>(b, s.host),
            exit_termination: i16::from_ne_bytes(arr(b, s.exit)),
            exit_exit: i16::from_ne_bytes(arr(b, s.exit + 2)),
            session: i32::from_ne_bytes(arr(b, s.session)),
            tv_sec: tv(s.tv_sec),
            tv_usec: tv(s.tv_usec),
            addr_v6,
            reserved: arr::<RESERVED_SIZE>(b, s.reserved),
        })
    }

    /// Encodes one record into the first [`Layout::size`] bytes of `out`,
    /// padding zeroed. Returns `None` if `out` is too short.
    pub fn encode(self, r: &Record, out: &mut [u8]) -> Option<()> {
        let s = self.shape();
        let b = out.get_mut(..s.size)?;
        b.fill(0);
        put(b, s.kind, &r.kind.0.to_ne_bytes());
        put(b, s.pid, &r.pid.to_ne_bytes());
        put(b, s.line, &r.line);
        put(b, s.id, &r.id);
        put(b, s.user, &r.user);
        put(b, s.host, &r.host);
        put(b, s.exit, &r.exit_termination.to_ne_bytes());
        put(b, s.exit + 2, &r.exit_exit.to_ne_bytes());
        put(b, s.session, &r.session.to_ne_bytes());
        if s.tv_width == 4 {
            // Truncation is the C behaviour of storing a time_t in 32 bits.
            put(b, s.tv_sec, &(r.tv_sec as u32).to_ne_bytes());
            put(b, s.tv_usec, &(r.tv_usec as u32).to_ne_bytes());
        } else {
            put(b, s.tv_sec, &r.tv_sec.to_ne_bytes());
            put(b, s.tv_usec, &r.tv_usec.to_ne_bytes());
        }
        for (i, word) in r.addr_v6.iter().enumerate() {
            put(b, s.addr + 4 * i, &word.to_ne_bytes());
        }
        put(b, s.reserved, &r.reserved);
        Some(())
    }
}

/// `N` bytes of `b` from `off`; the caller has checked the length against
/// the layout size, so the zero fallback is never taken.
fn arr<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = b.get(off..off + N) {
        out.copy_from_slice(src);
    }
    out
}

fn put(b: &mut [u8], off: usize, src: &[u8]) {
    if let Some(dst) = b.get_mut(off..off + src.len()) {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        let mut r = Record::EMPTY;
        r.kind = Kind::USER_PROCESS;
        r.pid = 4242;
        crate::record::set_field(&mut r.line, b"pts/7");
        crate::record::set_field(&mut r.id, b"ts/7");
        crate::record::set_field(&mut r.user, b"alice");
        crate::record::set_field(&mut r.host, b"example.org");
        r.exit_termination = -2;
        r.exit_exit = 3;
        r.session = 99;
        r.tv_sec = 1_700_000_000;
        r.tv_usec = 123_456;
        r.addr_v6 = [1, 2, 3, 0xffff_ffff];
        r.reserved[19] = 0x5a;
        r
    }

    #[test]
    fn round_trip_both_layouts() {
        for layout in [Layout::Glibc, Layout::Musl] {
            let mut buf = [0u8; MAX_SIZE];
            layout.encode(&sample(), &mut buf).unwrap();
            assert_eq!(layout.decode(&buf).unwrap(), sample(), "{layout:?}");
        }
    }

    #[test]
    fn short_buffers_are_refused() {
        assert!(Layout::Musl.decode(&[0u8; 399]).is_none());
        assert!(Layout::Glibc.encode(&sample(), &mut [0u8; 383]).is_none());
    }

    #[test]
    fn glibc_tv_sec_is_unsigned() {
        let mut r = sample();
        r.tv_sec = 0xF000_0000; // after 2038
        let mut buf = [0u8; MAX_SIZE];
        Layout::Glibc.encode(&r, &mut buf).unwrap();
        assert_eq!(Layout::Glibc.decode(&buf).unwrap().tv_sec, 0xF000_0000);
    }

    #[test]
    fn musl_offsets_match_the_wire_table() {
        let mut buf = [0u8; MAX_SIZE];
        Layout::Musl.encode(&sample(), &mut buf).unwrap();
        assert_eq!(&buf[8..13], b"pts/7");
        assert_eq!(&buf[44..49], b"alice");
        assert_eq!(
            i64::from_ne_bytes(buf[344..352].try_into().unwrap()),
            1_700_000_000
        );
        assert_eq!(buf[376 + 19], 0x5a);
    }
}
