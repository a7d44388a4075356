//! Whom a client may talk to. Both clients (the shim and `utmps-write`)
//! check the server's `SO_PEERCRED` with this rule after `connect` and
//! before they send a byte: a root process may carry a user's environment
//! (`su`, `sudo -E`), and a request can carry a pty master (`T`), so
//! nothing may reach a server that a user runs, unless that user is the
//! caller itself.

/// The directory of the default sockets (skarnet's). Its owner is the
/// daemons' account (user `utmp` as shipped); only root and that owner can
/// make a socket in it.
pub const SOCKET_DIR: &CStr = c"/run/utmps";

use core::ffi::CStr;

/// The logs behind wtmpd and the btmp wtmpd (glibc's `_PATH_WTMP` and
/// `_PATH_BTMP`), with the mode a client creates a missing one with (the
/// distributions'), when it hands the daemon its own descriptor of a log
/// the daemon cannot open (DESIGN.md, "A log the daemons cannot open").
/// Fixed: never a path from the environment or the caller.
pub const WTMP: (&CStr, u32) = (c"/var/log/wtmp", 0o664);
/// See [`WTMP`].
pub const BTMP: (&CStr, u32) = (c"/var/log/btmp", 0o660);

/// Who a client is, for [`may_talk_to`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// Root (real or effective uid 0) or a secure-execution process
    /// (setuid, setgid, file capabilities): the daemons' sockets only.
    Privileged,
    /// An ordinary process of this uid (real = effective, not
    /// secure-execution): it may also talk to its own servers, which learn
    /// nothing it does not have.
    Ordinary(u32),
}

/// Whether `caller` may send to a server whose socket credentials name uid
/// `server`: root (a supervisor such as systemd or s6-ipcserver listens as
/// root), the daemons' account `daemons` (the owner of [`SOCKET_DIR`],
/// `None` where it does not exist), or the caller's own uid.
pub fn may_talk_to(caller: Caller, server: u32, daemons: Option<u32>) -> bool {
    server == 0 || Some(server) == daemons || caller == Caller::Ordinary(server)
}

#[cfg(test)]
mod tests {
    use super::{may_talk_to, Caller};

    #[test]
    fn root_and_the_daemons_account_serve_everyone() {
        for caller in [Caller::Privileged, Caller::Ordinary(1000)] {
            assert!(may_talk_to(caller, 0, Some(101)));
            assert!(may_talk_to(caller, 101, Some(101)));
        }
    }

    #[test]
    fn a_users_server_serves_that_user_alone() {
        assert!(may_talk_to(Caller::Ordinary(1000), 1000, Some(101)));
        assert!(!may_talk_to(Caller::Ordinary(1001), 1000, Some(101)));
        assert!(!may_talk_to(Caller::Privileged, 1000, Some(101)));
        assert!(!may_talk_to(Caller::Privileged, 1000, None));
    }
}
