//! `<utmpx.h>`: the POSIX functions and glibc's `updwtmpx`.
//!
//! Each export converts its C arguments, calls one safe function and hands
//! the result to [`crate::ret`]. Records cross the boundary in the host's
//! own layout (glibc or musl, see [`crate::host`]).

use crate::client;
use crate::config;
use crate::file;
use crate::host;
use crate::paths::{self, Route};
use crate::ret;
use crate::state;
use core::cell::UnsafeCell;
use core::ffi::{c_char, CStr};
use libc::utmpx;
use proto::layout::MAX_SIZE;
use proto::{Errno, Record};

/// Static storage for one function's result, as POSIX specifies; aligned
/// for either layout.
#[repr(C, align(8))]
struct Slot(UnsafeCell<[u8; MAX_SIZE]>);

// SAFETY: the API is not reentrant by definition; each slot is written
// only while the state lock is held, like glibc's static buffers.
unsafe impl Sync for Slot {}

impl Slot {
    const fn new() -> Slot {
        Slot(UnsafeCell::new([0; MAX_SIZE]))
    }

    /// Stores `r` in the host's layout and returns the C pointer to it.
    fn fill(&self, r: &Record) -> *mut utmpx {
        // SAFETY: written under the state lock (see the Sync impl).
        let buf = unsafe { &mut *self.0.get() };
        let _ = host::layout().encode(r, buf);
        buf.as_mut_ptr().cast()
    }
}

// One buffer per function, as glibc: a `getutxid` does not overwrite what
// `getutxent` returned.
static ENT: Slot = Slot::new();
static ID: Slot = Slot::new();
static LINE: Slot = Slot::new();
static PUT: Slot = Slot::new();

/// Reads the caller's struct.
///
/// # Safety
/// `ut` is NULL or points to a `struct utmpx` of the host's layout.
pub unsafe fn read_arg(ut: *const utmpx) -> Result<Record, Errno> {
    if ut.is_null() {
        return Err(Errno::EFAULT);
    }
    let layout = host::layout();
    // SAFETY: the caller's struct is `layout.size()` readable bytes.
    let bytes = unsafe { core::slice::from_raw_parts(ut.cast::<u8>(), layout.size()) };
    layout.decode(bytes).ok_or(Errno::EINVAL)
}

/// `setutxent()` — rewind the utmp database.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn setutxent() {
    ret::discard(ret::keep_errno(|| state::with(|st, dl| st.utmp.rewind(dl))));
}

/// `endutxent()` — close the utmp database.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn endutxent() {
    ret::discard(ret::keep_errno(|| {
        state::with(|st, _| {
            st.utmp.close();
            Ok(())
        })
    }));
}

/// `getutxent()` — the next entry; NULL at the end with errno untouched
/// (glibc), or NULL with errno on failure.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn getutxent() -> *mut utmpx {
    ret::ptr_or_end(ret::keep_errno(|| {
        state::with(|st, dl| Ok(st.utmp.next(dl)?.map(|r| ENT.fill(&r))))
    }))
}

/// `getutxid(ut)` — the next entry matching `ut`'s type and id (or line);
/// NULL with ESRCH when there is none, EINVAL for a type it cannot match.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn getutxid(ut: *const utmpx) -> *mut utmpx {
    // SAFETY: the caller passes NULL or a struct utmpx.
    let query = unsafe { read_arg(ut) };
    ret::ptr_or_null(ret::keep_errno(|| {
        query.and_then(|q| state::with(|st, dl| Ok(ID.fill(&st.utmp.find_id(&q, dl)?))))
    }))
}

/// `getutxline(ut)` — the next LOGIN_PROCESS or USER_PROCESS entry on
/// `ut->ut_line`; NULL with ESRCH when there is none.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn getutxline(ut: *const utmpx) -> *mut utmpx {
    // SAFETY: the caller passes NULL or a struct utmpx.
    let query = unsafe { read_arg(ut) };
    ret::ptr_or_null(ret::keep_errno(|| {
        query.and_then(|q| state::with(|st, dl| Ok(LINE.fill(&st.utmp.find_line(&q.line, dl)?))))
    }))
}

/// `pututxline(ut)` — write `ut` over the entry `getutxid` would find, or
/// append it. Returns a pointer to a copy (POSIX; glibc returns `ut`
/// itself), NULL with errno (EPERM when the daemon refuses) on failure.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn pututxline(ut: *const utmpx) -> *mut utmpx {
    // SAFETY: the caller passes NULL or a struct utmpx.
    let record = unsafe { read_arg(ut) };
    ret::ptr_or_null(ret::keep_errno(|| {
        record.and_then(|r| {
            state::with(|st, dl| {
                st.utmp.put(&r, dl)?;
                Ok(PUT.fill(&r))
            })
        })
    }))
}

/// `updwtmpx(file, ut)` — append `ut` to the wtmp-format `file`: through
/// wtmpd (or the btmp wtmpd) for the system names, in-process for others.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn updwtmpx(file: *const c_char, ut: *const utmpx) {
    // SAFETY: the caller passes NULL or a struct utmpx.
    let record = unsafe { read_arg(ut) };
    // SAFETY: the caller passes NULL or a NUL-terminated path.
    let path = unsafe { c_path(file) };
    ret::discard(ret::keep_errno(|| record.and_then(|r| append(path?, &r))));
}

/// Appends `record` to the wtmp-format file `path`.
pub fn append(path: &CStr, record: &Record) -> Result<(), Errno> {
    let dl = state::deadline();
    match paths::route(path.to_bytes()) {
        Route::Daemon(service) => client::append(config::socket(service), record, dl),
        Route::File => file::append(path, host::layout(), record, dl),
    }
}

/// A C path argument.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that outlives the call.
pub unsafe fn c_path<'a>(p: *const c_char) -> Result<&'a CStr, Errno> {
    if p.is_null() {
        return Err(Errno::EFAULT);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    Ok(unsafe { CStr::from_ptr(p) })
}

/// The exports have the C library's signatures, as the `libc` crate declares them.
const _: () = {
    let _: [unsafe extern "C" fn(); 4] = [setutxent, libc::setutxent, endutxent, libc::endutxent];
    let _: [unsafe extern "C" fn() -> *mut utmpx; 2] = [getutxent, libc::getutxent];
    let _: [unsafe extern "C" fn(*const utmpx) -> *mut utmpx; 6] = [
        getutxid,
        libc::getutxid,
        getutxline,
        libc::getutxline,
        pututxline,
        libc::pututxline,
    ];
};
