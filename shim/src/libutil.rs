//! glibc's `login`, `logout` and `logwtmp` (formerly libutil). glibc calls
//! its internal aliases from these, so only defining them here routes them
//! through the daemons.

use crate::ret;
use crate::state;
use crate::sys;
use crate::utmpx::{self, c_path, read_arg};
use core::ffi::{c_char, c_int, CStr};
use libc::utmpx as utmp;
use proto::record::set_field;
use proto::{Errno, Kind, Record};

/// glibc's `_PATH_UTMP`: routed to utmpd.
const PATH_UTMP: &CStr = c"/var/run/utmp";
/// glibc's `_PATH_WTMP`: routed to wtmpd.
const PATH_WTMP: &CStr = c"/var/log/wtmp";

fn now(r: &mut Record) {
    let (sec, usec) = sys::realtime();
    r.tv_sec = sec;
    r.tv_usec = usec;
}

/// `login`'s work: the caller's record as USER_PROCESS of this process on
/// the terminal of fd 0, 1 or 2, written to utmp (when there is a
/// terminal) and always appended to wtmp.
fn login_record(mut r: Record) {
    r.kind = Kind::USER_PROCESS;
    r.pid = sys::getpid();
    let mut buf = [0u8; 4096];
    let fd = (0..3).find(|&fd| sys::ttyname(fd, &mut buf).is_some());
    let tty = fd
        .and_then(|fd| sys::ttyname(fd, &mut buf))
        .map(CStr::to_bytes);
    match tty {
        Some(path) => {
            let line = path
                .strip_prefix(b"/dev/")
                .unwrap_or_else(|| path.rsplit(|&b| b == b'/').next().unwrap_or(path));
            set_field(&mut r.line, line);
            // As glibc: utmpname(_PATH_UTMP), setutent, pututline, endutent;
            // failures are not reported (login returns nothing).
            let _ = ret::keep_errno(|| {
                state::with(|st, dl| {
                    st.set_name(PATH_UTMP)?;
                    st.rewind(dl)?;
                    let r = st.put(&r, dl);
                    st.close();
                    r
                })
            });
        }
        None => set_field(&mut r.line, b"???"),
    }
    let _ = utmpx::append(PATH_WTMP, &r);
}

/// `logout`'s work: turn the USER_PROCESS entry of `line` into a
/// DEAD_PROCESS entry without user and host.
fn logout_line(line: &CStr) -> Result<(), Errno> {
    ret::keep_errno(|| {
        state::with(|st, dl| {
            st.set_name(PATH_UTMP)?;
            let result = (|| {
                st.rewind(dl)?;
                let mut q = Record::EMPTY;
                q.kind = Kind::USER_PROCESS;
                set_field(&mut q.line, line.to_bytes());
                let mut r = st.find_line(&q.line, dl)?;
                r.user = [0; proto::record::USER_SIZE];
                r.host = [0; proto::record::HOST_SIZE];
                now(&mut r);
                r.kind = Kind::DEAD_PROCESS;
                st.put(&r, dl).map(|_| ())
            })();
            st.close();
            result
        })
    })
}

/// `login(ut)` — record a login of this process on its terminal in utmp
/// and wtmp.
#[unsafe(no_mangle)]
unsafe extern "C" fn login(ut: *const utmp) {
    // SAFETY: the caller passes NULL or a struct utmp.
    match unsafe { read_arg(ut) } {
        Ok(r) => login_record(r),
        Err(e) => ret::discard(Err(e)),
    }
}

/// `logout(line)` — mark the session on `line` dead in utmp: 1 on
/// success, 0 if there was none or it could not be written.
#[unsafe(no_mangle)]
unsafe extern "C" fn logout(line: *const c_char) -> c_int {
    // SAFETY: the caller passes NULL or a NUL-terminated line.
    match unsafe { c_path(line) }.and_then(logout_line) {
        Ok(()) => 1,
        Err(_) => 0,
    }
}

/// `logwtmp(line, name, host)` — append a USER_PROCESS record (DEAD_PROCESS
/// when `name` is empty) of this process to wtmp.
#[unsafe(no_mangle)]
unsafe extern "C" fn logwtmp(line: *const c_char, name: *const c_char, host: *const c_char) {
    // SAFETY: the caller passes NUL-terminated strings (or NULL).
    let args = unsafe { (c_path(line), c_path(name), c_path(host)) };
    let (Ok(line), Ok(name), Ok(host)) = args else {
        return ret::discard(Err(Errno::EFAULT));
    };
    let mut r = Record::EMPTY;
    r.pid = sys::getpid();
    r.kind = if name.is_empty() {
        Kind::DEAD_PROCESS
    } else {
        Kind::USER_PROCESS
    };
    set_field(&mut r.line, line.to_bytes());
    set_field(&mut r.user, name.to_bytes());
    set_field(&mut r.host, host.to_bytes());
    now(&mut r);
    ret::discard(utmpx::append(PATH_WTMP, &r));
}
