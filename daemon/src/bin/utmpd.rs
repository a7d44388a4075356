//! utmps-utmpd: serves the utmp database to one client on stdin/stdout.
#![cfg_attr(not(test), no_main)]

/// The C entry point: std's runtime set-up is skipped (`daemon::c_main`).
///
/// # Safety
/// Called by the C runtime alone, with its `argc` and `argv`.
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: the C runtime's own `argc` and `argv`.
    let args = unsafe { daemon::sys::c_args(argc, argv) };
    daemon::c_main(daemon::cli::args::Daemon::Utmpd, args)
}
