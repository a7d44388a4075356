//! The C return conventions: the only place that writes errno and makes
//! NULL, -1 and 0.

use core::ffi::c_int;
use proto::Errno;

/// Sets the calling thread's errno.
pub fn set_errno(e: Errno) {
    // SAFETY: __errno_location returns the thread's errno slot (glibc and musl).
    unsafe { *libc::__errno_location() = e.0 };
}

/// A pointer on success, NULL with errno on failure.
pub fn ptr_or_null<T>(r: Result<*mut T, Errno>) -> *mut T {
    match r {
        Ok(p) => p,
        Err(e) => {
            set_errno(e);
            core::ptr::null_mut()
        }
    }
}

/// Like [`ptr_or_null`], but `Ok(None)` is NULL with errno untouched: how
/// glibc's `getutxent` reports the end of the file.
pub fn ptr_or_end<T>(r: Result<Option<*mut T>, Errno>) -> *mut T {
    match r {
        Ok(Some(p)) => p,
        Ok(None) => core::ptr::null_mut(),
        Err(e) => ptr_or_null(Err(e)),
    }
}

/// Like [`ptr_or_null`], but on success errno is set to `leave` when given:
/// glibc's `pututxline` leaves `ESRCH` from its search after an append.
pub fn ptr_leaving_errno<T>(r: Result<(*mut T, Option<Errno>), Errno>) -> *mut T {
    match r {
        Ok((p, leave)) => {
            if let Some(e) = leave {
                set_errno(e);
            }
            p
        }
        Err(e) => ptr_or_null(Err(e)),
    }
}

/// The `_r` convention: 0 on success, -1 at the end with errno untouched,
/// -1 with errno on failure.
pub fn zero_or_minus1_end(r: Result<Option<()>, Errno>) -> c_int {
    match r {
        Ok(Some(())) => 0,
        Ok(None) => -1,
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// 0 on success, -1 with errno on failure.
pub fn zero_or_minus1(r: Result<(), Errno>) -> c_int {
    zero_or_minus1_end(r.map(Some))
}

/// For functions that return nothing: the error is still left in errno.
pub fn discard(r: Result<(), Errno>) {
    if let Err(e) = r {
        set_errno(e);
    }
}

/// Runs `f` and puts errno back as it was: the system calls inside a
/// successful call (a non-blocking `recv` that says EAGAIN, say) must not
/// leak into the caller's errno. glibc's `getutxent` keeps errno at the end
/// of the file the same way; the helpers above then set it on failure.
pub fn keep_errno<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: __errno_location returns the thread's errno slot (glibc and musl).
    let slot = unsafe { libc::__errno_location() };
    // SAFETY: as above; the slot is valid for the thread's lifetime.
    let saved = unsafe { *slot };
    let r = f();
    // SAFETY: as above.
    unsafe { *slot = saved };
    r
}
