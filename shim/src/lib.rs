//! libutmps.so: the utmp/utmpx API of glibc and musl, interposed in
//! unmodified programs and served by utmps-utmpd and utmps-wtmpd.
//!
//! `no_std`, no heap, no unwinding: it is loaded into every process on a
//! system that preloads it, glibc and musl alike, so it links only to the C
//! library and never panics into its host.
#![cfg_attr(not(any(test, feature = "fuzz")), no_std)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod client;
mod config;
mod direct;
mod file;
mod handover;
mod host;
mod libutempter;
mod libutil;
mod lock;
mod paths;
mod ret;
mod state;
mod sys;
mod utmp;
mod utmpx;

#[cfg(feature = "fuzz")]
pub use state::fuzz_replies;

#[cfg(not(any(test, feature = "fuzz")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Nothing in the shim panics by design (see the lints above); if it
    // ever did, stop here rather than unwind into C.
    sys::abort()
}

// Unwinding is disabled (panic = "abort"), but libcore, built for
// unwinding, references the personality routine from some of its
// functions. Define it as a *hidden* symbol: exporting a stub named
// `rust_eh_personality` from a library preloaded into every process could
// capture the routine of a Rust library loaded later and break its
// unwinding. It is never called; if it were, it reports a fatal error
// (_URC_FATAL_PHASE1_ERROR) instead of unwinding through the shim.
#[cfg(all(not(any(test, feature = "fuzz")), target_arch = "x86_64"))]
core::arch::global_asm!(
    ".globl rust_eh_personality",
    ".hidden rust_eh_personality",
    ".type rust_eh_personality, @function",
    "rust_eh_personality:",
    "mov eax, 3",
    "ret",
);
