//! Which C library the host process runs on, decided once at run time:
//! it fixes the layout of every `struct utmpx` the program hands us.

use core::sync::atomic::{AtomicU8, Ordering};
use proto::Layout;

// In .bss, in the page of .data (see `state::STATE`).
static LAYOUT: AtomicU8 = AtomicU8::new(0);

/// The layout of the host's `struct utmpx`. glibc exports
/// `gnu_get_libc_version`; musl, whose loader also answers to `libc.so.6`,
/// does not.
pub fn layout() -> Layout {
    match LAYOUT.load(Ordering::Relaxed) {
        1 => Layout::Glibc,
        2 => Layout::Musl,
        _ => {
            let glibc = crate::sys::is_glibc();
            // Racing threads compute the same answer.
            LAYOUT.store(if glibc { 1 } else { 2 }, Ordering::Relaxed);
            if glibc {
                Layout::Glibc
            } else {
                Layout::Musl
            }
        }
    }
}
