//! glibc's `struct utmp` / `struct utmpx` (glibc defines both alike).
//!
//! Where glibc sets `__WORDSIZE_TIME64_COMPAT32` (x86_64, ppc64el and
//! riscv64, and since glibc 2.40 every 32-bit target, whatever
//! `_TIME_BITS`), `ut_session` is 32-bit and `ut_tv` two 32-bit words
//! (`tv_sec` unsigned since 2.40), so the files are shared with 32-bit
//! programs: 384 bytes, align 4. aarch64 and s390x have no 32-bit
//! compatibility to keep: `long ut_session` and a `struct timeval` of two
//! 64-bit words, 400 bytes, align 8.

use super::{Arch, Shape};

/// 384 bytes: 32-bit `ut_session` at 336, `ut_tv` of two 32-bit words at 340.
const COMPAT32: Shape = Shape::common(384, 4, (336, 4), (340, 344, 4), 348);

/// 400 bytes: `long ut_session` at 336, `struct timeval` at 344.
const WIDE: Shape = Shape::common(400, 8, (336, 8), (344, 352, 8), 360);

/// glibc's layout on `arch`.
pub const fn shape(arch: Arch) -> Shape {
    match arch {
        Arch::X86_64 | Arch::X86 | Arch::Arm | Arch::Powerpc64le | Arch::Riscv64 => COMPAT32,
        Arch::Aarch64 | Arch::S390x => WIDE,
    }
}
