//! musl's `struct utmpx` (musl >= 1.2: a 64-bit `time_t` and `suseconds_t`
//! everywhere).
//!
//! An explicit pad follows `ut_session`, so `ut_tv` is at 344 on every
//! architecture; big-endian targets put the pad first (`__ut_pad2,
//! ut_session`). Sizes follow the alignment of a 64-bit integer: 8 (400
//! bytes) except on i386, where it is 4 (396 bytes).

use super::{Arch, Shape};

/// 400 bytes, `ut_session` at 336.
const LE: Shape = Shape::common(400, 8, (336, 4), (344, 352, 8), 360);

/// musl's layout on `arch`.
pub const fn shape(arch: Arch) -> Shape {
    match arch {
        Arch::X86_64 | Arch::Aarch64 | Arch::Arm | Arch::Powerpc64le | Arch::Riscv64 => LE,
        // int64_t is 4-aligned in i386 structs: no tail padding after the
        // 20 reserved bytes.
        Arch::X86 => Shape::common(396, 4, (336, 4), (344, 352, 8), 360),
        // `int __ut_pad2, ut_session` on big-endian targets.
        Arch::S390x => Shape::common(400, 8, (340, 4), (344, 352, 8), 360),
    }
}
