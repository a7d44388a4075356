//! Who is on the other end: from the kernel when stdin is a Unix socket,
//! else from an s6-ipcserver-style environment.

use crate::sys;
use crate::Failure;
use std::env;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The client's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Effective uid at connect time.
    pub uid: u32,
    /// Effective gid at connect time.
    pub gid: u32,
    /// Supplementary groups (empty when unknown).
    pub groups: Vec<u32>,
    /// Process id, when the kernel told us.
    pub pid: Option<i32>,
}

impl Peer {
    /// Whether the peer's effective or supplementary groups include `gid`.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

/// The peer of connected Unix socket `fd`, as the kernel knows it.
pub fn of_socket(fd: BorrowedFd) -> rustix::io::Result<Peer> {
    let cred = rustix::net::sockopt::socket_peercred(fd)?;
    Ok(Peer {
        uid: cred.uid.as_raw(),
        gid: cred.gid.as_raw(),
        // Root's groups decide nothing (root is privileged anyway). Kernels
        // before 4.13 lack SO_PEERGROUPS: fall back to the primary group.
        groups: match cred.uid.as_raw() {
            0 => Vec::new(),
            _ => sys::peer_groups(fd.as_raw_fd()).unwrap_or_default(),
        },
        pid: Some(cred.pid.as_raw_nonzero().get()),
    })
}

/// Identifies the client on descriptor 0.
pub fn identify() -> Result<Peer, Failure> {
    match of_socket(rustix::stdio::stdin()) {
        Ok(peer) => Ok(peer),
        Err(
            rustix::io::Errno::NOTSOCK
            | rustix::io::Errno::NOPROTOOPT
            | rustix::io::Errno::OPNOTSUPP,
        ) => from_env(|k| env::var(k).ok()),
        Err(e) => Err(Failure::System(format!(
            "cannot read the client's credentials: {e}"
        ))),
    }
}

/// The s6-ipcserver fallback: `PROTO=IPC`, `IPCREMOTEEUID`, `IPCREMOTEEGID`.
pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Peer, Failure> {
    let refuse = || {
        Failure::Usage(
            "cannot identify the client: stdin is not a Unix socket and \
             PROTO=IPC with IPCREMOTEEUID/IPCREMOTEEGID is not set"
                .into(),
        )
    };
    if var("PROTO").as_deref() != Some("IPC") {
        return Err(refuse());
    }
    let num = |k: &str| var(k).and_then(|v| v.parse::<u32>().ok());
    let (uid, gid) = num("IPCREMOTEEUID")
        .zip(num("IPCREMOTEEGID"))
        .ok_or_else(refuse)?;
    Ok(Peer {
        uid,
        gid,
        groups: Vec::new(),
        pid: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_fallback_needs_all_three_variables() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let p = from_env(env(&[
            ("PROTO", "IPC"),
            ("IPCREMOTEEUID", "1000"),
            ("IPCREMOTEEGID", "43"),
        ]))
        .unwrap();
        assert_eq!((p.uid, p.gid), (1000, 43));
        assert!(p.in_group(43) && !p.in_group(0));
        assert!(from_env(env(&[("IPCREMOTEEUID", "0"), ("IPCREMOTEEGID", "0")])).is_err());
        assert!(from_env(env(&[("PROTO", "IPC"), ("IPCREMOTEEUID", "0")])).is_err());
        assert!(from_env(env(&[
            ("PROTO", "TCP"),
            ("IPCREMOTEEUID", "0"),
            ("IPCREMOTEEGID", "0")
        ]))
        .is_err());
    }
}
