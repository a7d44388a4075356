//! `--listen SOCKET` and `--listen-fds`: the embedded superserver. It
//! accepts every connection itself, learns who the client is from the
//! kernel, and decides ([`crate::admission`]) before doing any work for it:
//! a client over its limits gets one refusal byte and is closed, without a
//! fork, so draining a flood costs three system calls a connection. An
//! admitted client is handed to a pre-forked standby process, which serves
//! it on descriptors 0 and 1 exactly as under s6-ipcserver.
//!
//! Two sockets: the public one (mode 0666) and a privileged twin (`.priv`
//! appended, mode 0660, the daemon's group) that only root and the
//! writers' group can reach, and that the client tries first for writes.
//! Its backlog is out of ordinary users' reach, and it is drained first.

use crate::admission::Admission;
use crate::args::Config;
use crate::store::Store;
use crate::{files, policy, serve, sys, Failure};
use proto::codec::REFUSED;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno as RErrno;
use rustix::net::{
    accept_with, recvmsg, send, sendmsg, socketpair, AddressFamily, RecvAncillaryBuffer,
    RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
    SocketFlags, SocketType,
};
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Which clients a socket is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Everyone (mode 0666).
    Public,
    /// Root and the writers' group (mode 0660, group of the daemon).
    Privileged,
}

/// A listening socket.
pub struct Listener {
    /// The socket, non-blocking.
    pub fd: OwnedFd,
    /// Who it is for.
    pub lane: Lane,
}

/// Connections accepted from the public socket before the privileged one
/// is looked at again.
const PUBLIC_BATCH: usize = 64;

/// How long after a client arrives the next standby is forked: not while
/// the new client's first exchange (typically < 0.4 ms) runs, which the
/// fork would compete with for the CPU on a small machine (measured: `who`
/// 1.53x -> 1.42x of glibc at 10 records).
const STANDBY_DELAY: Duration = Duration::from_micros(400);

/// The privileged twin of socket `path`.
pub fn privileged_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(proto::PRIVILEGED_SOCKET_SUFFIX);
    PathBuf::from(s)
}

/// Listens on `cfg.listen` and its privileged twin, or on the sockets
/// systemd passes (`--listen-fds`), forever.
pub fn run(cfg: &Config) -> Result<(), Failure> {
    let listeners = match &cfg.listen {
        // The privileged socket first: once the public one appears, both
        // are there.
        Some(path) => vec![
            bind(&privileged_path(path), Lane::Privileged)?,
            bind(path, Lane::Public)?,
        ],
        None => inherit()?,
    };
    // Refuse to start on a record or lock file that is not fit.
    Store::open(&cfg.file, &cfg.lock, cfg.layout, serve::audience(cfg))
        .map_err(|e| Failure::System(e.to_string()))?;
    for p in [&cfg.file, &cfg.lock] {
        if let Some(w) = files::directory_warning(p) {
            eprintln!("{}: warning: {w}", cfg.daemon.name());
        }
    }
    let children =
        sys::ChildSignal::install().map_err(|e| Failure::System(format!("SIGCHLD: {e}")))?;
    Server {
        cfg,
        listeners,
        children,
        admission: Admission::new(cfg.limits),
        me: policy::Daemon {
            gid: sys::effective_ids().1,
        },
        standby: None,
        standby_due: Some(Instant::now()),
    }
    .run()
}

/// Binds `path` with its lane's mode from the start (through the umask,
/// never a `chmod` by name afterwards, which a link planted in between
/// could redirect), replacing a stale socket and nothing else.
fn bind(path: &Path, lane: Lane) -> Result<Listener, Failure> {
    let fail =
        |what: &str, e: std::io::Error| Failure::System(format!("{what} {}: {e}", path.display()));
    if let Ok(st) = rustix::fs::lstat(path) {
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Socket {
            return Err(Failure::Usage(format!(
                "{} exists and is not a socket",
                path.display()
            )));
        }
        rustix::fs::unlink(path).map_err(|e| fail("remove", e.into()))?;
    }
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .map_err(|e| fail("socket", e.into()))?;
    let addr = rustix::net::SocketAddrUnix::new(path).map_err(|e| fail("address", e.into()))?;
    // Everyone may connect to the public socket (what they may do is the
    // policy's business); the privileged one is the daemon's group's.
    let mask = match lane {
        Lane::Public => 0o111,
        Lane::Privileged => 0o117,
    };
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask));
    let bound = rustix::net::bind(&fd, &addr);
    rustix::process::umask(old);
    bound.map_err(|e| fail("bind", e.into()))?;
    rustix::net::listen(&fd, libc::SOMAXCONN).map_err(|e| fail("listen", e.into()))?;
    Ok(Listener { fd, lane })
}

/// The listening sockets systemd passes (sd_listen_fds(3)): descriptors 3
/// on, `LISTEN_FDS` of them, for this process (`LISTEN_PID`); one named
/// `priv` (`FileDescriptorName=priv`) is the privileged lane.
fn inherit() -> Result<Vec<Listener>, Failure> {
    let var = |k: &str| std::env::var(k).ok();
    let me = sys::getpid().to_string();
    if var("LISTEN_PID").as_deref() != Some(me.as_str()) {
        return Err(Failure::Usage(
            "--listen-fds: no sockets passed to this process (LISTEN_PID)".into(),
        ));
    }
    let n: i32 = var("LISTEN_FDS")
        .and_then(|v| v.parse().ok())
        .filter(|&n| (1..=16).contains(&n))
        .ok_or_else(|| Failure::Usage("--listen-fds: LISTEN_FDS is not 1 to 16".into()))?;
    let names = var("LISTEN_FDNAMES").unwrap_or_default();
    let names: Vec<&str> = names.split(':').collect();
    for k in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(k);
    }
    (0..n)
        .map(|i| {
            let fd = sys::take_fd(3 + i);
            let lane = match names.get(i as usize) {
                Some(&"priv") => Lane::Privileged,
                _ => Lane::Public,
            };
            rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC)
                .and_then(|()| {
                    let fl = rustix::fs::fcntl_getfl(&fd)?;
                    rustix::fs::fcntl_setfl(&fd, fl | rustix::fs::OFlags::NONBLOCK)
                })
                .map_err(|e| Failure::System(format!("--listen-fds: descriptor {}: {e}", 3 + i)))?;
            Ok(Listener { fd, lane })
        })
        .collect()
}

/// A forked process waiting for a client, and the socket to hand it over.
struct Standby {
    pid: i32,
    control: OwnedFd,
}

struct Server<'a> {
    cfg: &'a Config,
    listeners: Vec<Listener>,
    children: sys::ChildSignal,
    admission: Admission,
    me: policy::Daemon,
    standby: Option<Standby>,
    standby_due: Option<Instant>,
}

impl Server<'_> {
    fn run(mut self) -> Result<(), Failure> {
        // The privileged lane first, every round.
        self.listeners.sort_by_key(|l| l.lane != Lane::Privileged);
        loop {
            if self.standby.is_none() && self.standby_due.is_some_and(|t| Instant::now() >= t) {
                self.standby_due = None;
                self.standby = self.fork_standby();
                if self.standby.is_none() {
                    self.standby_due = Some(Instant::now() + Duration::from_millis(100));
                }
            }
            let timeout = self
                .standby_due
                .map(|t| t.saturating_duration_since(Instant::now()));
            let ready = self.wait(timeout)?;
            if ready.last().copied().unwrap_or(false) {
                self.reap();
            }
            for i in 0..self.listeners.len() {
                if ready.get(i).copied().unwrap_or(false) {
                    self.drain(i);
                }
            }
        }
    }

    /// Waits for connections or a child's end: readiness of each listener,
    /// then of the child signal.
    fn wait(&self, timeout: Option<Duration>) -> Result<Vec<bool>, Failure> {
        let mut fds: Vec<PollFd> = self
            .listeners
            .iter()
            .map(|l| PollFd::new(&l.fd, PollFlags::IN))
            .collect();
        fds.push(PollFd::new(self.children.fd(), PollFlags::IN));
        let ts = timeout.map(|t| {
            Timespec::try_from(t).unwrap_or(Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            })
        });
        match poll(&mut fds, ts.as_ref()) {
            Ok(_) | Err(RErrno::INTR) => {}
            Err(e) => return Err(Failure::System(format!("poll: {e}"))),
        }
        Ok(fds.iter().map(|f| !f.revents().is_empty()).collect())
    }

    /// Accounts for every child that has ended.
    fn reap(&mut self) {
        self.children.clear();
        while let Some(pid) = sys::reap_one() {
            self.admission.ended(pid);
            if self.standby.as_ref().is_some_and(|s| s.pid == pid) {
                self.standby = None;
                self.standby_due
                    .get_or_insert(Instant::now() + Duration::from_millis(100));
            }
        }
    }

    /// Accepts what is waiting on listener `i` (a batch, for the public one).
    fn drain(&mut self, i: usize) {
        let lane = self.listeners[i].lane;
        let mut n = 0;
        while lane == Lane::Privileged || n < PUBLIC_BATCH {
            n += 1;
            let conn = match accept_with(&self.listeners[i].fd, SocketFlags::CLOEXEC) {
                Ok(c) => c,
                Err(RErrno::AGAIN) | Err(RErrno::INTR) => return,
                Err(RErrno::CONNABORTED) => continue,
                Err(e) => {
                    // EMFILE and friends: report, back off, keep going.
                    eprintln!("{}: warning: accept: {e}", self.cfg.daemon.name());
                    std::thread::sleep(Duration::from_millis(10));
                    return;
                }
            };
            self.admit(conn);
        }
    }

    /// Decides on one new client.
    fn admit(&mut self, conn: OwnedFd) {
        let Ok(cred) = rustix::net::sockopt::socket_peercred(&conn) else {
            return refuse(conn);
        };
        let uid = cred.uid.as_raw();
        let peer = crate::peer::Peer {
            uid,
            gid: cred.gid.as_raw(),
            groups: if uid == 0 {
                Vec::new()
            } else {
                sys::peer_groups(conn.as_raw_fd()).unwrap_or_default()
            },
            pid: Some(cred.pid.as_raw_nonzero().get()),
        };
        let privileged = policy::is_privileged(&peer, self.me);
        if self
            .admission
            .admit(uid, privileged, Instant::now())
            .is_err()
        {
            return refuse(conn);
        }
        if let Some(pid) = self.hand_over(conn) {
            self.admission.started(pid, uid, privileged);
        }
    }

    /// Gives the client to the standby, or to a new child when there is
    /// none: the pid now serving it.
    fn hand_over(&mut self, conn: OwnedFd) -> Option<i32> {
        if let Some(s) = self.standby.take() {
            self.standby_due
                .get_or_insert(Instant::now() + STANDBY_DELAY);
            if pass_fd(&s.control, &conn).is_ok() {
                return Some(s.pid);
            }
            // The standby died meanwhile; its end is reaped as usual.
        }
        let cfg = self.cfg;
        match self.fork_child() {
            Ok(None) => {
                let code = serve_client(&conn, cfg);
                std::process::exit(code);
            }
            Ok(Some(pid)) => Some(pid),
            Err(e) => {
                eprintln!("{}: warning: fork: {e}", cfg.daemon.name());
                None
            }
        }
    }

    /// Forks a standby: `None` if the fork failed.
    fn fork_standby(&self) -> Option<Standby> {
        let (ours, theirs) = socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .ok()?;
        let parent = sys::getpid();
        match self.fork_child() {
            Ok(None) => {
                drop(ours);
                let code = standby(theirs, parent, self.cfg);
                std::process::exit(code);
            }
            Ok(Some(pid)) => Some(Standby { pid, control: ours }),
            Err(e) => {
                eprintln!("{}: warning: fork: {e}", self.cfg.daemon.name());
                None
            }
        }
    }

    /// Forks; in the child, closes what is the listener's alone.
    fn fork_child(&self) -> std::io::Result<Option<i32>> {
        let pid = sys::fork()?;
        if pid.is_none() {
            for l in &self.listeners {
                sys::close(l.fd.as_raw_fd());
            }
            if let Some(s) = &self.standby {
                sys::close(s.control.as_raw_fd());
            }
            self.children.forget_in_child();
        }
        Ok(pid)
    }
}

/// Sends the refusal byte and closes, without waiting for anything. The
/// client reads the byte before it sees the connection closed, even if
/// its request was never read (Linux queues the reset behind the data).
fn refuse(conn: OwnedFd) {
    let _ = send(
        &conn,
        &[REFUSED.to_wire()],
        SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
    );
}

/// Hands `conn` to a standby through its control socket.
fn pass_fd(control: &OwnedFd, conn: &OwnedFd) -> rustix::io::Result<()> {
    let fds = [conn.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = SendAncillaryBuffer::new(&mut space);
    cmsg.push(SendAncillaryMessage::ScmRights(&fds));
    sendmsg(
        control,
        &[IoSlice::new(b"c")],
        &mut cmsg,
        SendFlags::NOSIGNAL,
    )?;
    Ok(())
}

/// A standby: waits for the listener to hand it a client, serves it,
/// returns the exit code.
fn standby(control: OwnedFd, parent: i32, cfg: &Config) -> i32 {
    // A standby must not outlive the listener until it has a client.
    if !sys::die_with_parent(Some(parent)) {
        return 0;
    }
    // The pages a request touches become ours before a client waits.
    serve::warm_up(cfg);
    let mut byte = [0u8; 1];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    let got = loop {
        let mut iov = [IoSliceMut::new(&mut byte)];
        match recvmsg(&control, &mut iov, &mut cmsg, RecvFlags::CMSG_CLOEXEC) {
            Err(RErrno::INTR) => continue,
            other => break other,
        }
    };
    let client = match got {
        Ok(_) => cmsg.drain().find_map(|m| match m {
            RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
            _ => None,
        }),
        Err(_) => None,
    };
    // The listener went away, or sent nothing usable.
    let Some(client) = client else { return 0 };
    drop(control);
    // From here on the client is ours to finish, listener or not.
    sys::die_with_parent(None);
    serve_client(&client, cfg)
}

/// Serves `client` on descriptors 0 and 1: the exit code.
fn serve_client(client: &OwnedFd, cfg: &Config) -> i32 {
    let fd: BorrowedFd = client.as_fd();
    if let Err(e) = rustix::stdio::dup2_stdin(fd).and_then(|()| rustix::stdio::dup2_stdout(fd)) {
        eprintln!("{}: dup2: {e}", cfg.daemon.name());
        return i32::from(crate::EXIT_SYSTEM);
    }
    match serve::run(cfg) {
        Ok(()) => 0,
        Err(f) => {
            if !matches!(f, Failure::Protocol(_)) {
                eprintln!("{}: {f:?}", cfg.daemon.name());
            }
            i32::from(f.code())
        }
    }
}
