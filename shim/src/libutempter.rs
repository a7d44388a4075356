//! libutempter's API, served without its setgid helper: the shim hands the
//! pty master to utmpd (`SCM_RIGHTS`), which checks that the caller owns
//! the slave and writes the entry the helper would have written, then to
//! wtmpd, which checks it again and appends the matching record (an
//! ordinary user may append nothing else). Preloaded, these definitions
//! win over `libutempter.so.0` in tmux, screen, xterm.
//!
//! Return conventions are libutempter's: 1 for success, 0 for failure.

use crate::client;
use crate::config::{self, Service};
use crate::ret;
use crate::state;
use core::ffi::{c_char, c_int};
use core::sync::atomic::{AtomicI32, Ordering};
use proto::codec::{self, Request, RECORD_SIZE};
use proto::record::{set_field, HOST_SIZE};
use proto::Errno;

/// The master of the last entry added, for `utempter_remove_added_record`.
static ADDED: AtomicI32 = AtomicI32::new(-1);

/// Asks utmpd to add or remove the entry of `master`'s pty, then wtmpd to
/// append the matching record.
fn update(master: c_int, add: bool, host: &[u8]) -> Result<(), Errno> {
    if master < 0 {
        return Err(Errno::EBADF);
    }
    let end = core::cell::Cell::new(0);
    let dl = state::deadline(&end);
    let mut h = [0u8; HOST_SIZE];
    set_field(&mut h, host);
    let request = Request::Pty { add, host: h };
    let record = pty_request(Service::Utmpd, &request, master, dl)?;
    // As the helper, the wtmp record follows whatever became of it. A
    // wtmpd without `T` (an older one: EPROTO; skarnet's closes) takes it
    // as an append of the caller's own record.
    match pty_request(Service::Wtmpd, &request, master, dl) {
        Err(e) if e == Errno::EPROTO || client::is_lost(e) => {
            let _ = state::with(|st, dl| st.append(Service::Wtmpd, &record, dl));
        }
        _ => {}
    }
    Ok(())
}

/// `T` to `service` with `master` attached: the record the daemon wrote.
fn pty_request(
    service: Service,
    request: &Request,
    master: c_int,
    dl: client::Deadline,
) -> Result<proto::Record, Errno> {
    let (_, record) = client::exchange(config::socket(service), dl, |conn| {
        conn.send_with_fd(request, master, dl)?;
        // A skarnet daemon closes the connection: ECONNRESET, a failure.
        conn.recv_status(dl)??;
        let mut b = [0u8; RECORD_SIZE];
        conn.recv(&mut b, dl)?;
        Ok(codec::decode_record(&b))
    })?;
    record
}

fn one_or_zero(r: Result<(), Errno>) -> c_int {
    match ret::keep_errno(|| r) {
        Ok(()) => 1,
        Err(e) => {
            ret::discard(Err(e));
            0
        }
    }
}

/// C string argument, empty for NULL.
///
/// # Safety
/// `p` is NULL or NUL-terminated.
unsafe fn arg<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() {
        b""
    } else {
        // SAFETY: NUL-terminated per the contract.
        unsafe { crate::sys::c_str(p) }.to_bytes()
    }
}

/// `utempter_add_record(master_fd, host)` — add a USER_PROCESS entry for
/// the pty of `master_fd`; 1 on success, 0 on failure.
#[unsafe(no_mangle)]
unsafe extern "C" fn utempter_add_record(master_fd: c_int, host: *const c_char) -> c_int {
    // SAFETY: the caller passes NULL or a NUL-terminated host.
    let host = unsafe { arg(host) };
    // As the helper, a separate process, finishes what it began: a
    // terminal killed while its entry is being added (xterm's SIGTERM
    // handler removes the added entry, then exits) has its handler run
    // once the entry and its wtmp record are in, and the entry known.
    let _held = crate::sys::hold_signals();
    let r = ret::keep_errno(|| update(master_fd, true, host));
    if r.is_ok() {
        ADDED.store(master_fd, Ordering::Relaxed);
    }
    one_or_zero(r)
}

/// `utempter_remove_record(master_fd)` — turn the entry of the pty of
/// `master_fd` into DEAD_PROCESS; 1 on success, 0 on failure.
#[unsafe(no_mangle)]
unsafe extern "C" fn utempter_remove_record(master_fd: c_int) -> c_int {
    let _held = crate::sys::hold_signals();
    let r = ret::keep_errno(|| update(master_fd, false, b""));
    let _ = ADDED.compare_exchange(master_fd, -1, Ordering::Relaxed, Ordering::Relaxed);
    one_or_zero(r)
}

/// `utempter_remove_added_record()` — remove the entry added last.
#[unsafe(no_mangle)]
unsafe extern "C" fn utempter_remove_added_record() -> c_int {
    let _held = crate::sys::hold_signals();
    let fd = ADDED.swap(-1, Ordering::Relaxed);
    one_or_zero(ret::keep_errno(|| update(fd, false, b"")))
}

/// `utempter_set_helper(path)` — ignored: there is no helper to run.
#[unsafe(no_mangle)]
unsafe extern "C" fn utempter_set_helper(_path: *const c_char) {}

/// `addToUtmp(pty, host, master_fd)` — the old API for `utempter_add_record`;
/// the daemon finds the pty from the master, so `pty` is not needed.
#[unsafe(no_mangle)]
unsafe extern "C" fn addToUtmp(_pty: *const c_char, host: *const c_char, master_fd: c_int) {
    // SAFETY: same contract.
    unsafe { utempter_add_record(master_fd, host) };
}

/// `removeFromUtmp()` — the old API for `utempter_remove_added_record`.
#[unsafe(no_mangle)]
unsafe extern "C" fn removeFromUtmp() {
    // SAFETY: no arguments.
    unsafe { utempter_remove_added_record() };
}

/// `removeLineFromUtmp(pty, master_fd)` — the old API for
/// `utempter_remove_record`.
#[unsafe(no_mangle)]
unsafe extern "C" fn removeLineFromUtmp(_pty: *const c_char, master_fd: c_int) {
    // SAFETY: same contract.
    unsafe { utempter_remove_record(master_fd) };
}
