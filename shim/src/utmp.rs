//! `<utmp.h>`: the legacy names. In glibc and musl alike `struct utmp` has
//! the layout of `struct utmpx`, and programs mix both families (musl-built
//! procps `w` lists users with `getutxent` but counts them with
//! `getutent`), so each name delegates to its utmpx twin.

use crate::utmpx;
use core::ffi::c_char;
use libc::utmpx as utmp;

/// `setutent()` — as [`utmpx::setutxent`].
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn setutent() {
    // SAFETY: same contract.
    unsafe { utmpx::setutxent() }
}

/// `endutent()` — as [`utmpx::endutxent`].
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn endutent() {
    // SAFETY: same contract.
    unsafe { utmpx::endutxent() }
}

/// `getutent()` — as [`utmpx::getutxent`].
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn getutent() -> *mut utmp {
    // SAFETY: same contract.
    unsafe { utmpx::getutxent() }
}

/// `getutid(ut)` — as [`utmpx::getutxid`].
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn getutid(ut: *const utmp) -> *mut utmp {
    // SAFETY: same contract.
    unsafe { utmpx::getutxid(ut) }
}

/// `getutline(ut)` — as [`utmpx::getutxline`].
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn getutline(ut: *const utmp) -> *mut utmp {
    // SAFETY: same contract.
    unsafe { utmpx::getutxline(ut) }
}

/// `pututline(ut)` — as [`utmpx::pututxline`].
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn pututline(ut: *const utmp) -> *mut utmp {
    // SAFETY: same contract.
    unsafe { utmpx::pututxline(ut) }
}

/// `updwtmp(file, ut)` — as [`utmpx::updwtmpx`].
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn updwtmp(file: *const c_char, ut: *const utmp) {
    // SAFETY: same contract.
    unsafe { utmpx::updwtmpx(file, ut) }
}
