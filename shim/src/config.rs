//! Settings from the environment, taken once when the shim is loaded (a
//! constructor: `login` and `su` clear their environment before they
//! write utmp, and must still reach the same daemons) and ignored in
//! root and secure-execution processes: a user must not point a setuid
//! `login`, or root's shell after a plain `su`, at a socket of their own.

use crate::sys;
use core::cell::UnsafeCell;
use core::ffi::CStr;
use proto::trust::Caller;

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

struct Global(UnsafeCell<Config>);

// SAFETY: written only by the constructor, which the dynamic loader runs
// before any code can call into the shim; read-only afterwards.
unsafe impl Sync for Global {}

static CONFIG: Global = Global(UnsafeCell::new(Config {
    utmpd: Path::new(UTMPD_SOCKET),
    wtmpd: Path::new(WTMPD_SOCKET),
    btmpd: Path::new(BTMPD_SOCKET),
    timeout_ms: TIMEOUT_MS,
}));

#[used]
#[unsafe(link_section = ".init_array")]
static LOAD: extern "C" fn() = load;

/// Reads the `UTMPS_*` variables, unless this process is root or
/// secure-execution: root's environment may be a user's (`su`, `sudo -E`),
/// so root talks to the default sockets alone.
extern "C" fn load() {
    let vars = [
        c"UTMPS_UTMPD_SOCKET",
        c"UTMPS_WTMPD_SOCKET",
        c"UTMPS_BTMPD_SOCKET",
        c"UTMPS_TIMEOUT_MS",
    ]
    .map(env);
    // Most processes set none: they pay no system call here.
    if vars.iter().all(Option::is_none) || caller() == Caller::Privileged {
        return;
    }
    let [utmpd, wtmpd, btmpd, timeout] = vars;
    // SAFETY: constructors run before anything else can reach CONFIG.
    let cfg = unsafe { &mut *CONFIG.0.get() };
    for (value, slot) in [
        (utmpd, &mut cfg.utmpd),
        (wtmpd, &mut cfg.wtmpd),
        (btmpd, &mut cfg.btmpd),
    ] {
        if let Some(v) = value {
            *slot = if v.len() <= PATH_MAX {
                Path::new(v)
            } else {
                Path {
                    bytes: [0; PATH_MAX],
                    len: 0,
                }
            };
        }
    }
    if let Some(ms) = timeout.and_then(parse_u64).filter(|&ms| ms > 0) {
        cfg.timeout_ms = ms;
    }
}

fn env(name: &CStr) -> Option<&'static [u8]> {
    sys::getenv(name).filter(|v| !v.is_empty())
}

fn config() -> &'static Config {
    // SAFETY: read-only after the constructor (see the Sync impl).
    unsafe { &*CONFIG.0.get() }
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
