//! Which backend a file name goes to (DESIGN.md, routing).

use crate::config::Service;
use proto::record::cstr;

/// Where requests for one file name go.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Route {
    /// One of the daemons.
    Daemon(Service),
    /// Any other path: a plain file, handled in-process.
    File,
}

/// Names of the system utmp: glibc's, the `x` names, musl's stub path and
/// skarnet's.
const UTMP: &[&[u8]] = &[
    b"/run/utmp",
    b"/var/run/utmp",
    b"/run/utmpx",
    b"/var/run/utmpx",
    b"/var/adm/utmpx",
    b"/dev/null/utmp",
    b"/run/utmps/utmp",
];
const WTMP: &[&[u8]] = &[
    b"/var/log/wtmp",
    b"/var/log/wtmpx",
    b"/var/adm/wtmpx",
    b"/dev/null/wtmp",
];
const BTMP: &[&[u8]] = &[b"/var/log/btmp", b"/dev/null/btmp"];

/// The route of `path` (a C string's bytes, NUL or not).
pub fn route(path: &[u8]) -> Route {
    let p = cstr(path);
    if UTMP.contains(&p) {
        Route::Daemon(Service::Utmpd)
    } else if WTMP.contains(&p) {
        Route::Daemon(Service::Wtmpd)
    } else if BTMP.contains(&p) {
        Route::Daemon(Service::Btmpd)
    } else {
        Route::File
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route(b"/var/run/utmp"), Route::Daemon(Service::Utmpd));
        assert_eq!(
            route(b"/dev/null/utmp\0junk"),
            Route::Daemon(Service::Utmpd)
        );
        assert_eq!(route(b"/dev/null/wtmp"), Route::Daemon(Service::Wtmpd));
        assert_eq!(route(b"/var/log/btmp"), Route::Daemon(Service::Btmpd));
        assert_eq!(route(b"/tmp/wtmp"), Route::File);
        assert_eq!(route(b"/var/log/wtmp.1"), Route::File);
    }
}
