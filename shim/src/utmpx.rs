//! `<utmpx.h>`: the POSIX functions and glibc's `utmpxname`, `updwtmpx`,
//! `getutmp`, `getutmpx`.
//!
//! Each export converts its C arguments, calls one safe function and hands
//! the result to [`crate::ret`]. Records cross the boundary in the host's
//! own layout (glibc or musl, see [`crate::host`]).

use crate::file;
use crate::host;
use crate::paths::{self, Route};
use crate::ret;
use crate::state;
use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int, CStr};
use libc::utmpx;
use proto::layout::MAX_SIZE;
use proto::{Errno, Record};

/// Static storage for one function's result, as POSIX specifies; aligned
/// for either layout.
#[repr(C, align(8))]
struct Slot(UnsafeCell<[u8; MAX_SIZE]>);

// SAFETY: each slot is written only while the state lock is held (see
// `in_slot`), so two threads never write one at once. What a caller does
// with the pointer afterwards is the C API's business: POSIX makes these
// functions non-reentrant, as glibc's static buffers are.
unsafe impl Sync for Slot {}

impl Slot {
    const fn new() -> Slot {
        Slot(UnsafeCell::new([0; MAX_SIZE]))
    }

    /// Stores `r` in the host's layout and returns the C pointer to it.
    /// Only with the state lock held: `_locked` proves it.
    fn fill(&self, r: &Record, _locked: &mut state::State) -> *mut utmpx {
        // SAFETY: the state lock is held (see the Sync impl).
        let buf = unsafe { &mut *self.0.get() };
        let _ = host::layout().encode(r, buf);
        buf.as_mut_ptr().cast()
    }
}

// One buffer per function, as glibc: a `getutxid` does not overwrite what
// `getutxent` returned. In .data (see `state::STATE`).
#[unsafe(link_section = ".data.utmps")]
static ENT: Slot = Slot::new();
#[unsafe(link_section = ".data.utmps")]
static ID: Slot = Slot::new();
#[unsafe(link_section = ".data.utmps")]
static LINE: Slot = Slot::new();
#[unsafe(link_section = ".data.utmps")]
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

/// Writes `r` into the caller's struct.
///
/// # Safety
/// `ut` is NULL or points to a writable `struct utmpx` of the host's layout.
pub unsafe fn write_arg(ut: *mut utmpx, r: &Record) -> Result<(), Errno> {
    if ut.is_null() {
        return Err(Errno::EFAULT);
    }
    let layout = host::layout();
    // SAFETY: the caller's struct is `layout.size()` writable bytes.
    let bytes = unsafe { core::slice::from_raw_parts_mut(ut.cast::<u8>(), layout.size()) };
    layout.encode(r, bytes).ok_or(Errno::EINVAL)
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
    Ok(unsafe { crate::sys::c_str(p) })
}

// The safe operations, shared by the utmpx names, their utmp.h twins and
// the `_r` variants.

/// Runs `op` under the state lock and stores the record it returns in
/// `slot` before the lock is released, so no other thread's call can write
/// the slot at the same time.
fn in_slot(
    slot: &'static Slot,
    op: impl FnOnce(&mut state::State, crate::client::Deadline) -> Result<Option<Record>, Errno>,
) -> Result<Option<*mut utmpx>, Errno> {
    ret::keep_errno(|| {
        state::with(|st, dl| {
            let found = op(st, dl)?;
            Ok(found.map(|r| slot.fill(&r, st)))
        })
    })
}

/// `getutxent`'s work: the next entry, `None` at the end.
pub fn next() -> Result<Option<Record>, Errno> {
    ret::keep_errno(|| state::with(|st, dl| st.next(dl)))
}

/// `getutxid`'s work.
pub fn find_id(query: Record) -> Result<Record, Errno> {
    ret::keep_errno(|| state::with(|st, dl| st.find_id(&query, dl)))
}

/// `getutxline`'s work.
pub fn find_line(query: Record) -> Result<Record, Errno> {
    ret::keep_errno(|| state::with(|st, dl| st.find_line(&query.line, dl)))
}

/// `utmpxname`'s work.
pub fn set_name(name: &CStr) -> Result<(), Errno> {
    ret::keep_errno(|| state::with(|st, _| st.set_name(name)))
}

/// Appends `record` to the wtmp-format file `path`: through wtmpd (or the
/// btmp wtmpd) for the system names, in-process for any other file.
pub fn append(path: &CStr, record: &Record) -> Result<(), Errno> {
    let end = core::cell::Cell::new(0);
    let dl = state::deadline(&end);
    ret::keep_errno(|| match paths::route(path.to_bytes()) {
        Route::Daemon(service) => state::with(|st, dl| st.append(service, record, dl)),
        Route::File => file::append(path, host::layout(), record, dl),
    })
}

/// `setutxent()` — rewind the utmp database (opening it if needed).
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn setutxent() {
    ret::discard(ret::keep_errno(|| state::with(|st, dl| st.rewind(dl))));
}

/// `endutxent()` — close the utmp database.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn endutxent() {
    ret::discard(ret::keep_errno(|| {
        state::with(|st, _| {
            st.close();
            Ok(())
        })
    }));
}

/// `getutxent()` — the next entry; NULL at the end with errno untouched
/// (glibc), or NULL with errno on failure.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn getutxent() -> *mut utmpx {
    ret::ptr_or_end(in_slot(&ENT, |st, dl| st.next(dl)))
}

/// `getutxid(ut)` — the next entry matching `ut`'s type and id (or line);
/// NULL with ESRCH when there is none, EINVAL for a type it cannot match.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn getutxid(ut: *const utmpx) -> *mut utmpx {
    // SAFETY: the caller passes NULL or a struct utmpx.
    let query = unsafe { read_arg(ut) };
    let found = query.and_then(|q| in_slot(&ID, |st, dl| st.find_id(&q, dl).map(Some)));
    ret::ptr_or_null(found.and_then(|p| p.ok_or(Errno::ESRCH)))
}

/// `getutxline(ut)` — the next LOGIN_PROCESS or USER_PROCESS entry on
/// `ut->ut_line`; NULL with ESRCH when there is none.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn getutxline(ut: *const utmpx) -> *mut utmpx {
    // SAFETY: the caller passes NULL or a struct utmpx.
    let query = unsafe { read_arg(ut) };
    let found = query.and_then(|q| in_slot(&LINE, |st, dl| st.find_line(&q.line, dl).map(Some)));
    ret::ptr_or_null(found.and_then(|p| p.ok_or(Errno::ESRCH)))
}

/// `pututxline(ut)` — write `ut` over the entry `getutxid` would find, or
/// append it. Returns a pointer to a copy (POSIX; glibc returns `ut`
/// itself), NULL with errno (EACCES when the daemon refuses, as glibc's
/// `open` of a file the caller may not write) on failure.
/// After an append errno is ESRCH, as glibc leaves it.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn pututxline(ut: *const utmpx) -> *mut utmpx {
    // SAFETY: the caller passes NULL or a struct utmpx.
    let record = unsafe { read_arg(ut) };
    ret::ptr_leaving_errno(record.and_then(|r| {
        ret::keep_errno(|| {
            state::with(|st, dl| {
                let put = st.put(&r, dl)?;
                Ok((PUT.fill(&r, st), put.appended.then_some(Errno::ESRCH)))
            })
        })
    }))
}

/// `utmpxname(file)` — use `file` from now on: the system utmp names go to
/// utmpd, the wtmp and btmp names to their wtmpd (reads), any other path is
/// a plain file. 0, even if the file does not exist (glibc).
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn utmpxname(file: *const c_char) -> c_int {
    // SAFETY: the caller passes NULL or a NUL-terminated path.
    let path = unsafe { c_path(file) };
    ret::zero_or_minus1(path.and_then(set_name))
}

/// `updwtmpx(file, ut)` — append `ut` to the wtmp-format `file`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn updwtmpx(file: *const c_char, ut: *const utmpx) {
    // SAFETY: the caller passes NULL or a struct utmpx.
    let record = unsafe { read_arg(ut) };
    // SAFETY: the caller passes NULL or a NUL-terminated path.
    let path = unsafe { c_path(file) };
    ret::discard(record.and_then(|r| append(path?, &r)));
}

/// `getutmp(ux, u)` — copy a `struct utmpx` into a `struct utmp` (the same
/// layout in glibc and musl).
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn getutmp(ux: *const utmpx, u: *mut utmpx) {
    // SAFETY: the caller passes a struct utmpx to read and a struct utmp to write.
    ret::discard(unsafe { read_arg(ux).and_then(|r| write_arg(u, &r)) });
}

/// `getutmpx(u, ux)` — copy a `struct utmp` into a `struct utmpx`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn getutmpx(u: *const utmpx, ux: *mut utmpx) {
    // SAFETY: the caller passes a struct utmp to read and a struct utmpx to write.
    ret::discard(unsafe { read_arg(u).and_then(|r| write_arg(ux, &r)) });
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
    let _: [unsafe extern "C" fn(*const c_char) -> c_int; 2] = [utmpxname, libc::utmpxname];
};
