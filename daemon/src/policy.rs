//! Who may do what: pure functions of the peer, the request and the
//! daemon's own identity. Reads are open to everyone, as utmp always was.

use crate::peer::Peer;
use proto::{Errno, Record};

/// The daemon's own identity, against which writers are checked.
#[derive(Clone, Copy, Debug)]
pub struct Daemon {
    /// The daemon's effective gid: members of this group (the `utmp` group
    /// in a real installation) may write utmp.
    pub gid: u32,
}

/// utmp writes: root, or a peer whose effective or supplementary groups
/// include the daemon's group.
pub fn may_write_utmp(peer: &Peer, daemon: Daemon) -> Result<(), Errno> {
    if peer.uid == 0 || peer.in_group(daemon.gid) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// Reads: everyone, but the btmp daemon (`root_only`) only for root: failed
/// logins name users and hosts that attack them.
pub fn may_read(peer: &Peer, root_only: bool) -> Result<(), Errno> {
    if root_only && peer.uid != 0 {
        Err(Errno::EPERM)
    } else {
        Ok(())
    }
}

/// Rewriting a log in place (`pututxline` on wtmp or btmp): root alone.
pub fn may_rewrite_log(peer: &Peer) -> Result<(), Errno> {
    if peer.uid == 0 {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// wtmp appends: root anything; others only records whose `ut_user` names
/// them (`uid_of` resolves a user name). btmp (`root_only`): root alone.
pub fn may_append(
    peer: &Peer,
    record: &Record,
    root_only: bool,
    uid_of: impl Fn(&[u8]) -> Option<u32>,
) -> Result<(), Errno> {
    if peer.uid == 0 {
        return Ok(());
    }
    if root_only {
        return Err(Errno::EPERM);
    }
    let user = record.user_str();
    if !user.is_empty() && uid_of(user) == Some(peer.uid) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::record::set_field;

    fn peer(uid: u32, gid: u32, groups: &[u32]) -> Peer {
        Peer {
            uid,
            gid,
            groups: groups.to_vec(),
            pid: None,
        }
    }

    fn rec(user: &[u8]) -> Record {
        let mut r = Record::EMPTY;
        set_field(&mut r.user, user);
        r
    }

    #[test]
    fn utmp_writers() {
        let d = Daemon { gid: 43 };
        assert_eq!(may_write_utmp(&peer(0, 0, &[]), d), Ok(()));
        assert_eq!(may_write_utmp(&peer(1000, 43, &[]), d), Ok(()));
        assert_eq!(may_write_utmp(&peer(1000, 1000, &[5, 43]), d), Ok(()));
        assert_eq!(
            may_write_utmp(&peer(1000, 1000, &[5]), d),
            Err(Errno::EPERM)
        );
    }

    #[test]
    fn readers() {
        assert_eq!(may_read(&peer(1000, 1000, &[]), false), Ok(()));
        assert_eq!(may_read(&peer(1000, 1000, &[]), true), Err(Errno::EPERM));
        assert_eq!(may_read(&peer(0, 0, &[]), true), Ok(()));
        assert_eq!(may_rewrite_log(&peer(1000, 0, &[0])), Err(Errno::EPERM));
        assert_eq!(may_rewrite_log(&peer(0, 0, &[])), Ok(()));
    }

    #[test]
    fn wtmp_appenders() {
        let uid_of = |name: &[u8]| match name {
            b"alice" => Some(1000),
            b"bob" => Some(1001),
            _ => None,
        };
        let alice = peer(1000, 1000, &[]);
        assert_eq!(may_append(&alice, &rec(b"alice"), false, uid_of), Ok(()));
        assert_eq!(
            may_append(&alice, &rec(b"bob"), false, uid_of),
            Err(Errno::EPERM)
        );
        assert_eq!(
            may_append(&alice, &rec(b""), false, uid_of),
            Err(Errno::EPERM)
        );
        assert_eq!(
            may_append(&alice, &rec(b"ghost"), false, uid_of),
            Err(Errno::EPERM)
        );
        assert_eq!(
            may_append(&alice, &rec(b"alice"), true, uid_of),
            Err(Errno::EPERM)
        );
        let root = peer(0, 0, &[]);
        assert_eq!(may_append(&root, &rec(b"bob"), true, uid_of), Ok(()));
    }
}
