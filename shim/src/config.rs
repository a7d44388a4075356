//! Settings from the environment the process was started with, read on
//! the first call that needs them, and ignored in root and
//! secure-execution processes: a user must not point a setuid `login`, or
//! root's shell after a plain `su`, at a socket of their own.
//!
//! Not read at load (a constructor) any more: with /etc/ld.so.preload
//! every exec would pay for it, and nearly none calls the API (README,
//! Performance). `login` clears its environment before it writes utmp,
//! so the variables come from `/proc/self/environ`, the strings the
//! kernel put on the stack at exec, which `clearenv`, `setenv` and
//! `unsetenv` leave alone. Without /proc the process counts as
//! privileged (`sys::secure_exec`) and reads none.

use crate::sys;
use core::cell::UnsafeCell;
use core::ffi::CStr;
use core::sync::atomic::{AtomicI32, Ordering};
use proto::trust::{self, Caller};

/// Default socket of utmps-utmpd (skarnet's path).
pub const UTMPD_SOCKET: &[u8] = b"/run/utmps/.utmpd-socket";
/// Default socket of utmps-wtmpd.
pub const WTMPD_SOCKET: &[u8] = b"/run/utmps/.wtmpd-socket";
/// Default socket of the wtmpd serving btmp.
pub const BTMPD_SOCKET: &[u8] = b"/run/utmps/.btmpd-socket";
/// Default deadline of one call.
pub const TIMEOUT_MS: u64 = 2000;

/// Room for a socket path (`sun_path` is 108 bytes with its NUL).
const PATH_MAX: usize = 107;

/// Which daemon a request goes to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Service {
    /// utmps-utmpd.
    Utmpd,
    /// utmps-wtmpd on wtmp.
    Wtmpd,
    /// utmps-wtmpd on btmp.
    Btmpd,
}

/// A socket path; length 0 marks a value too long for a socket address.
#[derive(Clone, Copy)]
struct Path {
    bytes: [u8; PATH_MAX],
    len: usize,
}

impl Path {
    // A const fn cannot use `get`; the loop condition bounds both indices.
    #[allow(clippy::indexing_slicing)]
    const fn new(s: &[u8]) -> Path {
        let mut bytes = [0u8; PATH_MAX];
        let mut i = 0;
        while i < s.len() && i < PATH_MAX {
            bytes[i] = s[i];
            i += 1;
        }
        Path { bytes, len: i }
    }

    /// `v` as a socket path, or the too-long marker.
    fn of(v: &[u8]) -> Path {
        if v.len() <= PATH_MAX {
            Path::new(v)
        } else {
            Path {
                bytes: [0; PATH_MAX],
                len: 0,
            }
        }
    }

    fn get(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

struct Config {
    utmpd: Path,
    wtmpd: Path,
    btmpd: Path,
    timeout_ms: u64,
}

const DEFAULTS: Config = Config {
    utmpd: Path::new(UTMPD_SOCKET),
    wtmpd: Path::new(WTMPD_SOCKET),
    btmpd: Path::new(BTMPD_SOCKET),
    timeout_ms: TIMEOUT_MS,
};

struct Global(UnsafeCell<Config>);

// SAFETY: written only by the thread that set READ to its pid, before it
// sets READ to DONE (Release); read only after READ is DONE (Acquire).
unsafe impl Sync for Global {}

// In .data, with the rest of the shim's state (see `state::STATE`).
#[unsafe(link_section = ".data.utmps")]
static CONFIG: Global = Global(UnsafeCell::new(DEFAULTS));

/// Whether CONFIG holds the variables: 0 not yet, DONE, or the pid of the
/// process one of whose threads is reading them (a forked child finds
/// its parent's pid there, whose reading thread it does not have, and
/// reads them itself).
static READ: AtomicI32 = AtomicI32::new(0);
const DONE: i32 = -1;

/// The settings, read on the first call. A thread that finds another of
/// its process reading them waits for it, a few milliseconds at most
/// (the read takes microseconds), then goes on with the defaults rather
/// than hang: that can only be a signal handler that interrupted the
/// reading thread.
fn config() -> &'static Config {
    if READ.load(Ordering::Acquire) == DONE {
        // SAFETY: written before DONE was stored, read-only since.
        return unsafe { &*CONFIG.0.get() };
    }
    first_config()
}

/// [`config`] until the variables are read: once per process.
#[cold]
#[inline(never)]
fn first_config() -> &'static Config {
    let mut waited_us = 0;
    loop {
        let r = READ.load(Ordering::Acquire);
        if r == DONE {
            // SAFETY: written before DONE was stored, read-only since.
            return unsafe { &*CONFIG.0.get() };
        }
        let me = sys::getpid();
        if r != me {
            if READ
                .compare_exchange(r, me, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                // SAFETY: READ holds our pid: no other thread of this
                // process writes or reads CONFIG until DONE.
                read(unsafe { &mut *CONFIG.0.get() });
                READ.store(DONE, Ordering::Release);
            }
            continue;
        }
        if waited_us >= 20_000 {
            return &DEFAULTS;
        }
        sys::sleep_us(100);
        waited_us += 100;
    }
}

/// Fills `cfg` from the `UTMPS_*` variables, unless this process is root
/// or secure-execution: root's environment may be a user's (`su`, `sudo
/// -E`), so root talks to the default sockets alone, and reads nothing.
#[inline(never)]
fn read(cfg: &mut Config) {
    *cfg = DEFAULTS;
    if sys::own_uid().is_none_or(|uid| uid == 0) {
        return;
    }
    let mut seen = 0u8;
    initial_environment(|entry| take(cfg, &mut seen, entry));
    // `AT_SECURE` (a read of /proc/self/auxv) only where it decides
    // something: nearly every environment has none of the variables.
    // Without /proc nothing was read, and `secure_exec` says yes.
    if seen != 0 && sys::secure_exec() {
        *cfg = DEFAULTS;
    }
}

/// The variables, in the order [`take`] knows them.
const NAMES: [&CStr; 4] = [
    c"UTMPS_UTMPD_SOCKET",
    c"UTMPS_WTMPD_SOCKET",
    c"UTMPS_BTMPD_SOCKET",
    c"UTMPS_TIMEOUT_MS",
];

/// Longest entry [`take`] needs whole: the longest name, `=` and one byte
/// more than a socket path, to tell a path too long from one that fits.
const ENTRY_MAX: usize = 18 + 1 + PATH_MAX + 1;

/// One `NAME=value` entry into `cfg`, unless an entry of that name came
/// before (`seen`, a bit per name): the first one counts, as with
/// `getenv`, and an empty value is no value.
#[inline(never)]
fn take(cfg: &mut Config, seen: &mut u8, entry: &[u8]) {
    for (i, name) in NAMES.iter().enumerate() {
        let bit = 1u8 << i;
        let value = entry
            .strip_prefix(name.to_bytes())
            .and_then(|r| r.strip_prefix(b"="));
        let Some(v) = value.filter(|_| *seen & bit == 0) else {
            continue;
        };
        *seen |= bit;
        if v.is_empty() {
            return;
        }
        match i {
            0 => cfg.utmpd = Path::of(v),
            1 => cfg.wtmpd = Path::of(v),
            2 => cfg.btmpd = Path::of(v),
            _ => {
                if let Some(ms) = parse_u64(v).filter(|&ms| ms > 0) {
                    cfg.timeout_ms = ms;
                }
            }
        }
        return;
    }
}

/// Calls `f` with each `NAME=value` of `/proc/self/environ` in turn, each
/// cut at [`ENTRY_MAX`] bytes.
#[inline(never)]
fn initial_environment(mut f: impl FnMut(&[u8])) {
    let Ok(fd) = sys::open(c"/proc/self/environ", libc::O_RDONLY) else {
        return;
    };
    let mut buf = [0u8; 1024];
    let mut entry = [0u8; ENTRY_MAX];
    let mut len = 0;
    let mut at = 0u64;
    loop {
        let n = match sys::pread(&fd, &mut buf, at) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e == proto::Errno::EINTR => continue,
            Err(_) => break,
        };
        at += n as u64;
        for &b in buf.get(..n).unwrap_or_default() {
            if b == 0 {
                f(entry.get(..len).unwrap_or_default());
                len = 0;
            } else if let Some(slot) = entry.get_mut(len) {
                *slot = b;
                len += 1;
            }
        }
    }
    // The last entry, should the process have overwritten its final NUL.
    if len > 0 {
        f(entry.get(..len).unwrap_or_default());
    }
}

/// The socket path of `service` (empty when the variable was too long,
/// which fails the connection with ENAMETOOLONG).
pub fn socket(service: Service) -> &'static [u8] {
    let c = config();
    match service {
        Service::Utmpd => c.utmpd.get(),
        Service::Wtmpd => c.wtmpd.get(),
        Service::Btmpd => c.btmpd.get(),
    }
}

/// Who this process is now, for the variables and the check of a
/// server's credentials: privileged when root (real or effective uid 0),
/// secure-execution, or running with two different uids.
pub fn caller() -> Caller {
    match sys::own_uid() {
        Some(uid) if uid != 0 && !sys::secure_exec() => Caller::Ordinary(uid),
        _ => Caller::Privileged,
    }
}

/// Whether this process may send to a server whose credentials name uid
/// `server` ([`trust::may_talk_to`]). Asked in the order that costs least
/// for the usual answers: root needs nothing, the daemons' account a stat
/// of their directory, and only a server of the caller's own uid needs
/// [`caller`] (`AT_SECURE`, a read of /proc).
pub fn may_talk_to(server: u32) -> bool {
    trust::may_talk_to(Caller::Privileged, server, None)
        || trust::may_talk_to(Caller::Privileged, server, sys::owner(trust::SOCKET_DIR))
        || trust::may_talk_to(caller(), server, None)
}

/// The deadline of one call in milliseconds (`UTMPS_TIMEOUT_MS`).
pub fn timeout_ms() -> u64 {
    config().timeout_ms
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 12 {
        return None;
    }
    s.iter().try_fold(0u64, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u64::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse_u64() {
        assert_eq!(super::parse_u64(b"2500"), Some(2500));
        assert_eq!(super::parse_u64(b""), None);
        assert_eq!(super::parse_u64(b"12x"), None);
        assert_eq!(super::parse_u64(b"9999999999999"), None);
    }

    #[test]
    fn long_paths_are_cut_only_by_the_marker() {
        assert_eq!(super::Path::new(b"/run/x").get(), b"/run/x");
    }
}
