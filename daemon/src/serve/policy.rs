//! Who may do what: pure functions of the peer, the request and the
//! daemon's own identity. Reads are open to everyone, as utmp always was.
//!
//! A refusal is `EACCES`, the errno a program gets from glibc when its own
//! `open()` of the file is refused, so programs that handle that case
//! (util-linux `lslogins`, for one) behave as on a glibc host.

use crate::accept::peer::Peer;
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

/// Root, or a member of the daemon's group (the writers' group: `utmp` in
/// a real installation, which may write the files directly anyway).
pub fn is_privileged(peer: &Peer, daemon: Daemon) -> bool {
    peer.uid == 0 || peer.in_group(daemon.gid)
}

/// utmp writes: root, or a peer whose effective or supplementary groups
/// include the daemon's group.
pub fn may_write_utmp(peer: &Peer, daemon: Daemon) -> Result<(), Errno> {
    if is_privileged(peer, daemon) {
        Ok(())
    } else {
        Err(REFUSED)
    }
}

/// Reads: everyone, but the btmp daemon (`root_only`) only for root: failed
/// logins name users and hosts that attack them, and mistyped passwords.
/// A file that is to be served to everyone but is not `open_to_others`
/// (a btmp renamed over wtmp, `root:utmp 0660`) is served as glibc's own
/// `open()` would: to root and the writers' group alone.
pub fn may_read(
    peer: &Peer,
    daemon: Daemon,
    root_only: bool,
    open_to_others: bool,
) -> Result<(), Errno> {
    let allowed = match root_only {
        true => peer.uid == 0,
        false => open_to_others || is_privileged(peer, daemon),
    };
    allowed.then_some(()).ok_or(REFUSED)
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

/// What the daemon knows of the world when it writes an ordinary user's
/// record (`T`; looked up on the system by the caller).
pub trait Facts {
    /// The peer's own user name, by its uid: the one name an ordinary user's
    /// record may carry. Never a look-up of a name the client sent: with
    /// LDAP or sssd every look-up is a directory query.
    fn peer_name(&self) -> Option<&[u8]>;
    /// Now, as `ut_tv`.
    fn now(&self) -> (i64, i64);
}

/// wtmp and btmp appends (`+`, `A`): root and the writers' group, as the
/// records come; btmp (`root_only`): root alone. Nobody else, as glibc's
/// `open()` of wtmp (`root:utmp 0664`) lets an ordinary user write none:
/// with only the slave of a live terminal, a user could mark its session
/// ended. A user's own sessions reach wtmp through `T`, which proves the
/// terminal with its master and stamps the record itself (see `pty`), as
/// libutempter's helper does. Refused before anything is looked up.
pub fn may_append(peer: &Peer, daemon: Daemon, root_only: bool) -> Result<(), Errno> {
    let allowed = match root_only {
        true => peer.uid == 0,
        false => is_privileged(peer, daemon),
    };
    allowed.then_some(()).ok_or(REFUSED)
}

/// No control character (C0, C1, DEL) and no format character: as
/// characters when the bytes are UTF-8, else as bytes read as Latin-1 (a
/// lone 0x9b is CSI to an 8-bit terminal, 0xad a soft hyphen).
pub fn is_printable(text: &[u8]) -> bool {
    match std::str::from_utf8(text) {
        Ok(s) => !s.chars().any(|c| c.is_control() || is_format(c)),
        Err(_) => !text
            .iter()
            .any(|&b| b < 0x20 || b == 0x7f || (0x80..0xa0).contains(&b) || b == 0xad),
    }
}

/// Unicode's format characters (general category Cf, Unicode 15.1): they
/// print as nothing, yet reorder (U+202E shows a host backwards in `last`),
/// join or hide what follows. With the line and paragraph separators (Zl,
/// Zp), at which some terminals and viewers break a line.
const FORMAT: [(char, char); 21] = [
    ('\u{ad}', '\u{ad}'),
    ('\u{600}', '\u{605}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'),
    ('\u{890}', '\u{891}'),
    ('\u{8e2}', '\u{8e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{2028}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0020}', '\u{e007f}'),
];

fn is_format(c: char) -> bool {
    FORMAT.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::record::set_field;
    use proto::Kind;

    fn peer(uid: u32, gid: u32, groups: &[u32]) -> Peer {
        Peer {
            uid,
            gid,
            groups: groups.to_vec(),
            pid: Some(4242),
        }
    }

    fn rec(kind: Kind, user: &[u8], line: &[u8]) -> Record {
        let mut r = Record::EMPTY;
        r.kind = kind;
        r.pid = 1;
        r.tv_sec = 5;
        set_field(&mut r.user, user);
        set_field(&mut r.line, line);
        r
    }

    const D: Daemon = Daemon { gid: 43 };

    #[test]
    fn utmp_writers() {
        assert_eq!(may_write_utmp(&peer(0, 0, &[]), D), Ok(()));
        assert_eq!(may_write_utmp(&peer(1000, 43, &[]), D), Ok(()));
        assert_eq!(may_write_utmp(&peer(1000, 1000, &[5, 43]), D), Ok(()));
        assert_eq!(
            may_write_utmp(&peer(1000, 1000, &[5]), D),
            Err(Errno::EACCES)
        );
    }

    #[test]
    fn privacy_hides_other_users_hosts_from_non_root() {
        let mut r = rec(Kind::USER_PROCESS, b"bob", b"pts/2");
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
        set_field(&mut own.user, b"alice");
        assert_eq!(shown(&alice, true, &own, name_of), own);
    }

    #[test]
    fn readers() {
        let user = peer(1000, 1000, &[]);
        let member = peer(1000, 1000, &[43]);
        assert_eq!(may_read(&user, D, false, true), Ok(()));
        assert_eq!(may_read(&user, D, true, true), Err(Errno::EACCES));
        assert_eq!(may_read(&peer(0, 0, &[]), D, true, true), Ok(()));
        assert_eq!(may_read(&member, D, true, true), Err(Errno::EACCES));
        // A file others may not read (a btmp in wtmp's place).
        assert_eq!(may_read(&user, D, false, false), Err(Errno::EACCES));
        assert_eq!(may_read(&member, D, false, false), Ok(()));
        assert_eq!(may_read(&peer(0, 0, &[]), D, false, false), Ok(()));
        assert_eq!(may_rewrite_log(&peer(1000, 0, &[0])), Err(Errno::EACCES));
        assert_eq!(may_rewrite_log(&peer(0, 0, &[])), Ok(()));
    }

    #[test]
    fn appends_are_for_root_and_the_writers_group() {
        let (root, member, user) = (
            peer(0, 0, &[]),
            peer(1000, 1000, &[43]),
            peer(1000, 1000, &[]),
        );
        assert_eq!(may_append(&root, D, false), Ok(()));
        assert_eq!(may_append(&member, D, false), Ok(()));
        assert_eq!(may_append(&user, D, false), Err(Errno::EACCES));
        // btmp: root alone, even for the writers' group.
        assert_eq!(may_append(&root, D, true), Ok(()));
        assert_eq!(may_append(&member, D, true), Err(Errno::EACCES));
        assert_eq!(may_append(&user, D, true), Err(Errno::EACCES));
    }

    #[test]
    fn printable_text() {
        assert!(is_printable(b"host.example"));
        assert!(is_printable("müller".as_bytes()));
        assert!(is_printable("Ā".as_bytes()), "C4 80 is a letter, not C1");
        for bad in [
            &b"a\nb"[..],
            b"\x1b[2J",
            b"\x7f",
            b"\x9b2J",
            "\u{85}".as_bytes(),
            b"\xad",
        ] {
            assert!(!is_printable(bad), "{bad:?}");
        }
        // Format characters: bidi overrides and isolates, zero-width ones,
        // the BOM, the separators, tags.
        for c in [
            '\u{ad}',
            '\u{61c}',
            '\u{180e}',
            '\u{200b}',
            '\u{200d}',
            '\u{200f}',
            '\u{2028}',
            '\u{202a}',
            '\u{202e}',
            '\u{2060}',
            '\u{2066}',
            '\u{2069}',
            '\u{feff}',
            '\u{e0041}',
        ] {
            assert!(!is_printable(format!("a{c}b").as_bytes()), "{c:?}");
        }
        // Their neighbours print.
        for c in [
            '\u{ac}', '\u{ae}', '\u{200a}', '\u{2010}', '\u{2027}', '\u{202f}', '\u{fefe}',
        ] {
            assert!(is_printable(format!("a{c}b").as_bytes()), "{c:?}");
        }
    }
}
