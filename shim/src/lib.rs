//! libutmps.so: the utmp/utmpx API of glibc and musl, interposed in
//! unmodified programs and served by utmps-utmpd and utmps-wtmpd.
//!
//! `no_std`, no heap, no unwinding: it is loaded into every process on a
//! system that preloads it, glibc and musl alike, so it links only to the C
//! library and never panics into its host.
#![cfg_attr(not(test), no_std)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod client;
mod config;
mod file;
mod host;
mod lock;
mod paths;
mod ret;
mod state;
mod sys;
mod utmp;
mod utmpx;

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Nothing in the shim panics by design (see the lints above); if it
    // ever did, stop here rather than unwind into C.
    // SAFETY: abort has no preconditions.
    unsafe { libc::abort() }
}

/// Unwinding is disabled (panic = "abort"), but libcore built for
/// unwinding still references the personality routine in unoptimised
/// builds. Release builds do not need it, and do not export it.
#[cfg(all(not(test), debug_assertions))]
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}
