//! Who may do what: pure functions of the peer, the request and the
//! daemon's own identity. Reads are open to everyone, as utmp always was.

use crate::peer::Peer;
use proto::{Errno, Record};

/// The errno of a refusal: what glibc's own `open()` of the file gives a
/// program its mode shuts out (utmp and wtmp `root:utmp 0664`, btmp
/// `root:utmp 0660`), so programs that tell failures apart keep working:
/// util-linux `lslogins` run by an ordinary user skips an unreadable btmp
/// on `EACCES` and aborts on anything else.
pub const REFUSED: Errno = Errno::EACCES;

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
        Err(REFUSED)
    }
}

/// Reads: everyone, but the btmp daemon (`root_only`) only for root: failed
/// logins name users and hosts that attack them.
pub fn may_read(peer: &Peer, root_only: bool) -> Result<(), Errno> {
    if root_only && peer.uid != 0 {
        Err(REFUSED)
    } else {
        Ok(())
    }
}

/// What a reader sees of `r`: with the privacy option, a non-root peer
/// does not see where other users log in from (`ut_host`, `ut_addr_v6`).
/// `name_of` resolves the peer's uid to its user name.
pub fn shown(
    peer: &Peer,
    private: bool,
    r: &Record,
    name_of: impl Fn(u32) -> Option<Vec<u8>>,
) -> Record {
    if !private || peer.uid == 0 || name_of(peer.uid).as_deref() == Some(r.user_str()) {
        return *r;
    }
    let mut hidden = *r;
    hidden.host = [0; proto::record::HOST_SIZE];
    hidden.addr_v6 = [0; 4];
    hidden
}

/// Rewriting a log in place (`pututxline` on wtmp or btmp): root alone.
pub fn may_rewrite_log(peer: &Peer) -> Result<(), Errno> {
    if peer.uid == 0 {
        Ok(())
    } else {
        Err(REFUSED)
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
        return Err(REFUSED);
    }
    let user = record.user_str();
    if !user.is_empty() && uid_of(user) == Some(peer.uid) {
        Ok(())
    } else {
        Err(REFUSED)
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
        assert_eq!(may_write_utmp(&peer(1000, 1000, &[5]), d), Err(REFUSED));
    }

    #[test]
    fn privacy_hides_other_users_hosts_from_non_root() {
        let mut r = rec(b"bob");
        r.host[0] = b'h';
        r.addr_v6 = [1, 2, 3, 4];
        let name_of = |uid: u32| (uid == 1000).then(|| b"alice".to_vec());
        let alice = peer(1000, 1000, &[]);
        let seen = shown(&alice, true, &r, name_of);
        assert_eq!((seen.host[0], seen.addr_v6), (0, [0; 4]));
        assert_eq!(seen.user_str(), b"bob");
        assert_eq!(shown(&alice, false, &r, name_of), r);
        assert_eq!(shown(&peer(0, 0, &[]), true, &r, name_of), r);
        let mut own = r;
        own.user = rec(b"alice").user;
        assert_eq!(shown(&alice, true, &own, name_of), own);
    }

    #[test]
    fn readers() {
        assert_eq!(may_read(&peer(1000, 1000, &[]), false), Ok(()));
        assert_eq!(may_read(&peer(1000, 1000, &[]), true), Err(REFUSED));
        assert_eq!(may_read(&peer(0, 0, &[]), true), Ok(()));
        assert_eq!(may_rewrite_log(&peer(1000, 0, &[0])), Err(REFUSED));
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
            Err(REFUSED)
        );
        assert_eq!(may_append(&alice, &rec(b""), false, uid_of), Err(REFUSED));
        assert_eq!(
            may_append(&alice, &rec(b"ghost"), false, uid_of),
            Err(REFUSED)
        );
        assert_eq!(
            may_append(&alice, &rec(b"alice"), true, uid_of),
            Err(REFUSED)
        );
        let root = peer(0, 0, &[]);
        assert_eq!(may_append(&root, &rec(b"bob"), true, uid_of), Ok(()));
    }
}
