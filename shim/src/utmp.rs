//! `<utmp.h>`: the legacy names and glibc's reentrant `_r` variants. In
//! glibc and musl alike `struct utmp` has the layout of `struct utmpx`, and
//! programs mix both families (musl-built procps `w` lists users with
//! `getutxent` but counts them with `getutent`), so each name delegates to
//! its utmpx twin.

use crate::ret;
use crate::utmpx::{self, read_arg, write_arg};
use core::ffi::{c_char, c_int};
use libc::utmpx as utmp;
use proto::{Errno, Record};

/// `setutent()` — as [`utmpx::setutxent`].
#[unsafe(no_mangle)]
unsafe extern "C" fn setutent() {
    // SAFETY: same contract.
    unsafe { utmpx::setutxent() }
}

/// `endutent()` — as [`utmpx::endutxent`].
#[unsafe(no_mangle)]
unsafe extern "C" fn endutent() {
    // SAFETY: same contract.
    unsafe { utmpx::endutxent() }
}

/// `getutent()` — as [`utmpx::getutxent`].
#[unsafe(no_mangle)]
unsafe extern "C" fn getutent() -> *mut utmp {
    // SAFETY: same contract.
    unsafe { utmpx::getutxent() }
}

/// `getutid(ut)` — as [`utmpx::getutxid`].
#[unsafe(no_mangle)]
unsafe extern "C" fn getutid(ut: *const utmp) -> *mut utmp {
    // SAFETY: same contract.
    unsafe { utmpx::getutxid(ut) }
}

/// `getutline(ut)` — as [`utmpx::getutxline`].
#[unsafe(no_mangle)]
unsafe extern "C" fn getutline(ut: *const utmp) -> *mut utmp {
    // SAFETY: same contract.
    unsafe { utmpx::getutxline(ut) }
}

/// `pututline(ut)` — as [`utmpx::pututxline`].
#[unsafe(no_mangle)]
unsafe extern "C" fn pututline(ut: *const utmp) -> *mut utmp {
    // SAFETY: same contract.
    unsafe { utmpx::pututxline(ut) }
}

/// `updwtmp(file, ut)` — as [`utmpx::updwtmpx`].
#[unsafe(no_mangle)]
unsafe extern "C" fn updwtmp(file: *const c_char, ut: *const utmp) {
    // SAFETY: same contract.
    unsafe { utmpx::updwtmpx(file, ut) }
}

/// `utmpname(file)` — as [`utmpx::utmpxname`].
#[unsafe(no_mangle)]
unsafe extern "C" fn utmpname(file: *const c_char) -> c_int {
    // SAFETY: same contract.
    unsafe { utmpx::utmpxname(file) }
}

/// Stores a `_r` result: the record into `buffer` and `*result`.
///
/// # Safety
/// `buffer` is NULL or a writable `struct utmp`; `result` is NULL or a
/// writable pointer.
unsafe fn fill_r(
    r: Result<Option<Record>, Errno>,
    buffer: *mut utmp,
    result: *mut *mut utmp,
) -> c_int {
    // SAFETY: per the contract above.
    let r = r.and_then(|o| o.map(|rec| unsafe { write_arg(buffer, &rec) }).transpose());
    if !result.is_null() {
        let out = if matches!(r, Ok(Some(()))) {
            buffer
        } else {
            core::ptr::null_mut()
        };
        // SAFETY: non-NULL and writable per the contract.
        unsafe { *result = out };
    }
    ret::zero_or_minus1_end(r)
}

/// `getutent_r(buffer, result)` — `getutent` into the caller's buffer: 0,
/// or -1 (errno untouched at the end, set on failure).
#[unsafe(no_mangle)]
unsafe extern "C" fn getutent_r(buffer: *mut utmp, result: *mut *mut utmp) -> c_int {
    // SAFETY: the caller passes its buffer and result pointer.
    unsafe { fill_r(utmpx::next(), buffer, result) }
}

/// `getutid_r(id, buffer, result)` — `getutid` into the caller's buffer.
#[unsafe(no_mangle)]
unsafe extern "C" fn getutid_r(
    id: *const utmp,
    buffer: *mut utmp,
    result: *mut *mut utmp,
) -> c_int {
    // SAFETY: the caller passes NULL or a struct utmp.
    let found = unsafe { read_arg(id) }.and_then(utmpx::find_id).map(Some);
    // SAFETY: the caller passes its buffer and result pointer.
    unsafe { fill_r(found, buffer, result) }
}

/// `getutline_r(line, buffer, result)` — `getutline` into the caller's buffer.
#[unsafe(no_mangle)]
unsafe extern "C" fn getutline_r(
    line: *const utmp,
    buffer: *mut utmp,
    result: *mut *mut utmp,
) -> c_int {
    // SAFETY: the caller passes NULL or a struct utmp.
    let found = unsafe { read_arg(line) }
        .and_then(utmpx::find_line)
        .map(Some);
    // SAFETY: the caller passes its buffer and result pointer.
    unsafe { fill_r(found, buffer, result) }
}
