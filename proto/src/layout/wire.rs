//! skarnet utmps' wire record: utmps' own `struct utmpx` (utmps/utmpx.h),
//! which its client and daemons send with `memcpy`, as built against musl
//! for the architecture: native byte order, musl's 64-bit `struct timeval`.
//!
//! Unlike musl's struct it has no explicit pad after `ut_session`: the
//! compiler pads to the alignment of `struct timeval`, so `ut_session`
//! stays at 336 on big-endian targets, and on i386 (4-aligned 64-bit
//! integers) `ut_tv` follows it directly at 340 (392 bytes).

use super::{Arch, Shape};

/// 400 bytes: `ut_session` at 336, padding, `ut_tv` at 344.
const ALIGN8: Shape = Shape::common(400, 8, (336, 4), (344, 352, 8), 360);

/// The wire record on `arch`.
pub const fn shape(arch: Arch) -> Shape {
    match arch {
        Arch::X86_64
        | Arch::Aarch64
        | Arch::Arm
        | Arch::Powerpc64le
        | Arch::Riscv64
        | Arch::S390x => ALIGN8,
        Arch::X86 => Shape::common(392, 4, (336, 4), (340, 348, 8), 356),
    }
}
