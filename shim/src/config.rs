//! Settings from the environment, read on first use (never at load time)
//! and ignored in secure-execution processes: a user must not point a
//! setuid `login` at a socket of their own.

use crate::sys;
use core::ffi::CStr;

/// Default socket of utmps-utmpd (skarnet's path).
pub const UTMPD_SOCKET: &[u8] = b"/run/utmps/.utmpd-socket";
/// Default socket of utmps-wtmpd.
pub const WTMPD_SOCKET: &[u8] = b"/run/utmps/.wtmpd-socket";
/// Default socket of the wtmpd serving btmp.
pub const BTMPD_SOCKET: &[u8] = b"/run/utmps/.btmpd-socket";
/// Default deadline of one call.
pub const TIMEOUT_MS: u64 = 2000;

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

/// The socket path of `service`.
pub fn socket(service: Service) -> &'static [u8] {
    let (var, default) = match service {
        Service::Utmpd => (c"UTMPS_UTMPD_SOCKET", UTMPD_SOCKET),
        Service::Wtmpd => (c"UTMPS_WTMPD_SOCKET", WTMPD_SOCKET),
        Service::Btmpd => (c"UTMPS_BTMPD_SOCKET", BTMPD_SOCKET),
    };
    trusted_env(var)
        .filter(|v| !v.is_empty())
        .unwrap_or(default)
}

/// The deadline of one call in milliseconds (`UTMPS_TIMEOUT_MS`).
pub fn timeout_ms() -> u64 {
    trusted_env(c"UTMPS_TIMEOUT_MS")
        .and_then(parse_u64)
        .filter(|&ms| ms > 0)
        .unwrap_or(TIMEOUT_MS)
}

fn trusted_env(name: &CStr) -> Option<&'static [u8]> {
    if sys::secure_exec() {
        None
    } else {
        sys::getenv(name)
    }
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
}
