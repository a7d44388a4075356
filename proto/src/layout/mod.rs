//! The C layouts a record is stored in, per (architecture, C library), and
//! the one codec between them and [`Record`].
//!
//! `struct utmpx` differs between architectures and C libraries (see
//! [`shape_of`]). Every layout this project knows is a row of that table, plain
//! data that a host-side test compares with `offsetof` from each target's
//! own C compiler (tests/layouts.rs), so a layout is written down once, here.
//! The architecture being built for picks its rows at compile time
//! ([`HOST`]); an architecture or C library without rows stops the build
//! with an error naming the pair, never falling back to x86_64's rows.
//!
//! Three layouts exist on every architecture: glibc's and musl's `struct
//! utmpx` (the shim learns at run time which one its host process uses),
//! and skarnet utmps' wire record, which is utmps' own `struct utmpx` as
//! skarnet's daemon for that architecture (built against musl) copies it
//! with `memcpy`: that architecture's byte order, its musl `struct timeval`.
//! It is musl's struct byte for byte on little-endian 64-bit and arm
//! targets, but not on i386 (no padding before a 4-aligned `ut_tv`: 392
//! bytes) or on big-endian targets (musl swaps `ut_session` and its pad,
//! utmps does not).
//!
//! Byte order: every number in a record, in a file or on the wire, is in
//! the host's native byte order, as the C libraries and skarnet's daemons
//! store it (the files are read by the host's own `last` and `utmpdump`).

pub mod glibc;
pub mod musl;
pub mod wire;

use crate::record::{Kind, Record, HOST_SIZE, ID_SIZE, LINE_SIZE, RESERVED_SIZE, USER_SIZE};

/// The largest layout of any architecture, for buffers that hold any of them.
pub const MAX_SIZE: usize = 400;

/// A C struct layout of `struct utmpx`, on the architecture built for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Layout {
    /// glibc's `struct utmp`/`struct utmpx` (384 bytes with a 32-bit
    /// `ut_tv` on most architectures, 400 on aarch64 and s390x).
    Glibc,
    /// musl's `struct utmpx` (400 bytes; 396 on i386).
    Musl,
    /// skarnet utmps' wire record: utmps' `struct utmpx` built against
    /// musl (400 bytes; 392 on i386).
    Wire,
}

/// Architectures with known layouts (one per Rust `target_arch` and byte
/// order; Debian's armel and armhf share [`Arch::Arm`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Arch {
    /// x86_64 (Debian amd64).
    X86_64,
    /// 32-bit x86 (Debian i386).
    X86,
    /// 64-bit little-endian ARM (Debian arm64).
    Aarch64,
    /// 32-bit little-endian ARM (Debian armel and armhf).
    Arm,
    /// 64-bit little-endian POWER (Debian ppc64el).
    Powerpc64le,
    /// 64-bit RISC-V (Debian riscv64).
    Riscv64,
    /// 64-bit big-endian IBM Z (Debian s390x).
    S390x,
}

impl Arch {
    /// Every architecture with rows in [`shape_of`].
    pub const ALL: [Arch; 7] = [
        Arch::X86_64,
        Arch::X86,
        Arch::Aarch64,
        Arch::Arm,
        Arch::Powerpc64le,
        Arch::Riscv64,
        Arch::S390x,
    ];

    /// Whether numbers are stored most significant byte first.
    pub const fn big_endian(self) -> bool {
        matches!(self, Arch::S390x)
    }
}

/// Where each field lives in one layout, in bytes from the start.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Shape {
    /// `sizeof`.
    pub size: usize,
    /// `_Alignof`.
    pub align: usize,
    /// `ut_type` (`short`).
    pub kind: usize,
    /// `ut_pid`.
    pub pid: usize,
    /// `ut_line`.
    pub line: usize,
    /// `ut_id`.
    pub id: usize,
    /// `ut_user`.
    pub user: usize,
    /// `ut_host`.
    pub host: usize,
    /// `ut_exit` (two `short`s).
    pub exit: usize,
    /// `ut_session`.
    pub session: usize,
    /// 4, or 8 for glibc's `long ut_session` on 64-bit architectures
    /// without `__WORDSIZE_TIME64_COMPAT32` (aarch64, s390x).
    pub session_width: usize,
    /// `ut_tv.tv_sec`.
    pub tv_sec: usize,
    /// `ut_tv.tv_usec`.
    pub tv_usec: usize,
    /// Width of each of `tv_sec` and `tv_usec`: 4 (glibc's 32-bit
    /// `ut_tv`) or 8 (`struct timeval` with a 64-bit `time_t`).
    pub tv_width: usize,
    /// `ut_addr_v6`.
    pub addr: usize,
    /// The reserved tail (20 bytes).
    pub reserved: usize,
}

impl Shape {
    /// The fields every layout puts at the same place: everything up to
    /// and including `ut_exit`.
    pub(crate) const fn common(
        size: usize,
        align: usize,
        (session, session_width): (usize, usize),
        (tv_sec, tv_usec, tv_width): (usize, usize, usize),
        addr: usize,
    ) -> Shape {
        Shape {
            size,
            align,
            kind: 0,
            pid: 4,
            line: 8,
            id: 40,
            user: 44,
            host: 76,
            exit: 332,
            session,
            session_width,
            tv_sec,
            tv_usec,
            tv_width,
            addr,
            reserved: addr + 16,
        }
    }

    /// Whether the fields lie in order, each inside the record and none
    /// overlapping the next.
    // (rustc 1.85 does not count the use in the `const _` below.)
    #[allow(dead_code)]
    const fn is_sane(&self) -> bool {
        self.exit + 4 <= self.session
            && self.session + self.session_width <= self.tv_sec
            && self.tv_sec + self.tv_width <= self.tv_usec
            && self.tv_usec + self.tv_width <= self.addr
            && self.addr + 16 == self.reserved
            && self.reserved + RESERVED_SIZE <= self.size
            && self.size <= MAX_SIZE
            && self.size % self.align == 0
    }
}

/// The layout `layout` has on architecture `arch`: the table the build
/// chooses from, and what tests/layouts.rs checks against each
/// architecture's C compiler.
pub const fn shape_of(arch: Arch, layout: Layout) -> Shape {
    match layout {
        Layout::Glibc => glibc::shape(arch),
        Layout::Musl => musl::shape(arch),
        Layout::Wire => wire::shape(arch),
    }
}

/// The three layouts of every architecture.
pub const LAYOUTS: [Layout; 3] = [Layout::Glibc, Layout::Musl, Layout::Wire];

// Every row is sane. Evaluated by the compiler: an index out of bounds
// would stop the build, not panic at run time.
#[allow(clippy::indexing_slicing)]
const _: () = {
    let mut i = 0;
    while i < Arch::ALL.len() * LAYOUTS.len() {
        let (arch, layout) = (Arch::ALL[i / 3], LAYOUTS[i % 3]);
        assert!(shape_of(arch, layout).is_sane());
        i += 1;
    }
};

/// The architecture this crate is built for. Any other target (another
/// architecture, a big-endian aarch64, x32) stops the build: its layouts
/// must be measured and added first.
#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
pub const HOST: Arch = Arch::X86_64;
/// The architecture this crate is built for.
#[cfg(target_arch = "x86")]
pub const HOST: Arch = Arch::X86;
/// The architecture this crate is built for.
#[cfg(all(
    target_arch = "aarch64",
    target_endian = "little",
    target_pointer_width = "64"
))]
pub const HOST: Arch = Arch::Aarch64;
/// The architecture this crate is built for.
#[cfg(all(target_arch = "arm", target_endian = "little"))]
pub const HOST: Arch = Arch::Arm;
/// The architecture this crate is built for.
#[cfg(all(target_arch = "powerpc64", target_endian = "little"))]
pub const HOST: Arch = Arch::Powerpc64le;
/// The architecture this crate is built for.
#[cfg(target_arch = "riscv64")]
pub const HOST: Arch = Arch::Riscv64;
/// The architecture this crate is built for.
#[cfg(target_arch = "s390x")]
pub const HOST: Arch = Arch::S390x;

#[cfg(not(any(
    all(target_arch = "x86_64", target_pointer_width = "64"),
    target_arch = "x86",
    all(
        target_arch = "aarch64",
        target_endian = "little",
        target_pointer_width = "64"
    ),
    all(target_arch = "arm", target_endian = "little"),
    all(target_arch = "powerpc64", target_endian = "little"),
    target_arch = "riscv64",
    target_arch = "s390x",
)))]
compile_error!(concat!(
    "utmps-rs knows no struct utmpx layout for (",
    env!("UTMPS_TARGET_ARCH"),
    " ",
    env!("UTMPS_TARGET_ENDIAN"),
    "-endian ",
    env!("UTMPS_TARGET_POINTER_WIDTH"),
    "-bit, ",
    env!("UTMPS_TARGET_ENV"),
    "): measure it with each C library's offsetof and add it to proto/src/layout/"
));

#[cfg(not(any(target_env = "gnu", target_env = "musl")))]
compile_error!(concat!(
    "utmps-rs knows no struct utmpx layout for (",
    env!("UTMPS_TARGET_ARCH"),
    ", C library \"",
    env!("UTMPS_TARGET_ENV"),
    "\"): only glibc (gnu) and musl are known"
));

// The byte order the codec uses (native) must be the one the table says.
const _: () = assert!(HOST.big_endian() == cfg!(target_endian = "big"));

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

    /// Where this layout puts each field on the architecture built for.
    pub const fn shape(self) -> Shape {
        shape_of(HOST, self)
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
        let session = if s.session_width == 8 {
            // glibc's `long ut_session`: session ids are pids, which fit
            // in 32 bits.
            i64::from_ne_bytes(arr(b, s.session)) as i32
        } else {
            i32::from_ne_bytes(arr(b, s.session))
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
            session,
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
        if s.session_width == 8 {
            put(b, s.session, &i64::from(r.session).to_ne_bytes());
        } else {
            put(b, s.session, &r.session.to_ne_bytes());
        }
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
    fn round_trip_every_layout() {
        for layout in [Layout::Glibc, Layout::Musl, Layout::Wire] {
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
        if HOST != Arch::X86_64 {
            return;
        }
        assert_eq!(&buf[8..13], b"pts/7");
        assert_eq!(&buf[44..49], b"alice");
        assert_eq!(
            i64::from_ne_bytes(buf[344..352].try_into().unwrap()),
            1_700_000_000
        );
        assert_eq!(buf[376 + 19], 0x5a);
    }
}

#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn the_wire_is_musl_where_skarnet_builds_it_so() {
        for arch in Arch::ALL {
            let (m, w) = (shape_of(arch, Layout::Musl), shape_of(arch, Layout::Wire));
            let same = m == w;
            let expected = !matches!(arch, Arch::X86 | Arch::S390x);
            assert_eq!(same, expected, "{arch:?}");
        }
    }

    #[test]
    fn a_wide_session_keeps_its_value_in_either_byte_order() {
        // glibc's `long ut_session` (aarch64, s390x): the value must land
        // in the low half for the host's byte order; decode gives it back.
        let mut r = Record::EMPTY;
        r.session = -5;
        let mut buf = [0u8; MAX_SIZE];
        Layout::Glibc.encode(&r, &mut buf).unwrap();
        assert_eq!(Layout::Glibc.decode(&buf).unwrap().session, -5);
        let s = Layout::Glibc.shape();
        if s.session_width == 8 {
            let v = i64::from_ne_bytes(buf[s.session..s.session + 8].try_into().unwrap());
            assert_eq!(v, -5);
        }
    }

    #[test]
    fn the_host_byte_order_is_the_one_written() {
        let mut r = Record::EMPTY;
        r.pid = 0x0102_0304;
        let mut buf = [0u8; MAX_SIZE];
        Layout::Wire.encode(&r, &mut buf).unwrap();
        let expect: [u8; 4] = if cfg!(target_endian = "big") {
            [1, 2, 3, 4]
        } else {
            [4, 3, 2, 1]
        };
        assert_eq!(buf[4..8], expect);
    }
}
