//! `--listen SOCKET` and `--listen-fds`: the embedded superserver. Every
//! connection is accepted by a daemon process that learns who the client
//! is from the kernel and decides ([`crate::accept::admission`]) before doing any
//! work for it: a client over its limits gets one refusal byte and is
//! closed, without a fork, so draining a flood costs a few system calls a
//! connection.
//!
//! Two roles. The **listener** keeps the books (who is served, per user)
//! and forks a **standby**, which waits on the listening sockets with a
//! copy of the books, decides on each new client itself, refuses whom the
//! listener would refuse, and serves the first client it admits on
//! descriptors 0 and 1, exactly as under s6-ipcserver. So a client's
//! first exchange wakes one daemon process, not two (a hand-over through
//! the listener cost a third wake-up per round trip). The two talk over a
//! `SOCK_SEQPACKET` pair ([`Report`]): the listener tells the standby which
//! clients ended, the standby tells the listener whom it admitted; only
//! then is the next standby forked, from books that count that client, so
//! no copy ever under-counts. While no standby waits, the listener accepts
//! and decides itself and forks a process per admitted client.
//!
//! Two sockets: the public one (mode 0666) and a privileged twin (`.priv`
//! appended, mode 0660, the daemon's group) that only root and the
//! writers' group can reach, and that the client tries first for writes.
//! Its backlog is out of ordinary users' reach, and it is drained first:
//! whoever accepts takes every waiting privileged connection, then at most
//! a batch of public ones, before it looks at the privileged socket again.

use crate::accept::admission::Admission;
use crate::accept::peer::Peer;
use crate::cli::args::{Config, Daemon};
use crate::serve::session::Settle;
use crate::serve::{policy, session};
use crate::store::records::Store;
use crate::store::{files, notice};
use crate::{sys, Failure};
use proto::codec::REFUSED;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno as RErrno;
use rustix::net::{
    accept_with, send, socketpair, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType,
};
use std::os::unix::ffi::OsStrExt;
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

/// When the next standby is forked: as soon as a client's process ends
/// (its session is over, so the fork competes with nobody's exchange;
/// forked 0.4 ms after a client arrived, the fork landed in that client's
/// first exchange whenever it took longer, and cost it 0.3 ms), and at the
/// latest this long after the last standby took its client. Meanwhile the
/// listener accepts itself, so no client waits for it.
const STANDBY_FALLBACK: Duration = Duration::from_millis(2);

/// How long after a standby could not be forked, or ended without a
/// client, the next is tried: not in a loop.
const STANDBY_RETRY: Duration = Duration::from_millis(100);

/// The privileged twin of socket `path`.
pub fn privileged_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(proto::PRIVILEGED_SOCKET_SUFFIX);
    PathBuf::from(s)
}

/// Listens on `cfg.listen` and its privileged twin, or on the sockets
/// systemd passes (`--listen-fds`), forever.
pub fn run(cfg: &Config) -> Result<(), Failure> {
    // Taken first: they are descriptors 3 on, which opening files would use.
    let inherited = match cfg.listen {
        Some(_) => None,
        None => Some(inherit()?),
    };
    // Refuse to start on a lock file that is not fit: it is the daemon's
    // own, and without it writers are not serialised. A record file that
    // cannot be opened, or only for reading (a read-only or missing
    // /var/log; root's alone after a `mv` or `chmod`; a file refused), is
    // reported once with its fix ([`notice`]) and served as it is: each
    // connection opens it anew and answers with the errno glibc's own
    // open() would give (root's records still reach a log root's shim can
    // open, through the descriptor it hands over: `Session::append`), so
    // the daemon serves it as soon as it is fit, and no supervisor
    // restarts it in a loop meanwhile.
    let audience = session::audience(cfg);
    let mut store = match Store::open(&cfg.file, &cfg.lock, cfg.layout, audience) {
        Ok(store) => {
            if let Some(e) = store.read_only_error() {
                notice::once(cfg.daemon.name(), &cfg.file, &cfg.lock, audience, &e);
            }
            if audience == files::Audience::Everyone && !store.open_to_others() {
                crate::say!("{}: warning: {}", cfg.daemon.name(), store.closed_warning());
            }
            Some(store)
        }
        Err(e) => {
            files::open_lock(&cfg.lock, files::Me::current())
                .map_err(|e| Failure::System(e.to_string()))?;
            notice::once(cfg.daemon.name(), &cfg.file, &cfg.lock, audience, &e);
            None
        }
    };
    // Clients read the record file themselves where the generation file
    // beside the socket lets them (proto::generation): published whatever
    // the previous run left there, before `--listen`'s sockets appear (not
    // for a file that cannot be opened: its clients ask the daemon).
    let publish = |store: &mut Option<Store>, socket: Option<PathBuf>| {
        let (Some(store), Some(socket)) = (store.as_mut(), socket) else {
            return;
        };
        if let Err(e) = store.publish(&crate::store::lock::Patient, &socket) {
            crate::say!(
                "{}: warning: {e}: clients read through the daemon",
                cfg.daemon.name()
            );
        }
    };
    let listeners = match (inherited, &cfg.listen) {
        (Some(listeners), _) => {
            publish(&mut store, public_path(&listeners));
            listeners
        }
        // The privileged socket first: once the public one appears, both
        // are there.
        (None, Some(path)) => {
            publish(&mut store, Some(path.clone()));
            vec![
                bind(&privileged_path(path), Lane::Privileged)?,
                bind(path, Lane::Public)?,
            ]
        }
        (None, None) => Vec::new(),
    };
    // An append log gets root's reserve from the start.
    if let (Daemon::Wtmpd, Some(store)) = (cfg.daemon, &store) {
        store.keep_reserve();
    }
    drop(store);
    for p in [&cfg.file, &cfg.lock] {
        if let Some(w) = files::directory_warning(p) {
            crate::say!("{}: warning: {w}", cfg.daemon.name());
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

/// The name the kernel gives the first public socket systemd passed.
fn public_path(listeners: &[Listener]) -> Option<PathBuf> {
    let l = listeners.iter().find(|l| l.lane == Lane::Public)?;
    let addr = rustix::net::getsockname(&l.fd).ok()?;
    let unix = rustix::net::SocketAddrUnix::try_from(addr).ok()?;
    let path = unix.path()?;
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(path.to_bytes())))
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

/// A forked process waiting for a client on the listening sockets, and
/// the listener's end of the socket the two talk over (see [`Report`]).
struct Standby {
    pid: i32,
    control: OwnedFd,
}

/// What the listener and its standby tell each other, one message each
/// (a `SOCK_SEQPACKET` pair keeps them apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Report {
    /// Listener to standby: process `pid` has ended, its client no longer
    /// counts.
    Ended(i32),
    /// Standby to listener: it has admitted a client of `uid` and serves
    /// it now; the listener counts it and forks the next standby.
    Admitted { uid: u32, privileged: bool },
    /// Standby to listener: it refused a client of `uid` and logged why;
    /// the next standby's books know, so the line is not repeated.
    Refused(u32),
}

impl Report {
    fn encode(self) -> [u8; 5] {
        match self {
            Report::Ended(pid) => {
                let p = pid.to_le_bytes();
                [b'e', p[0], p[1], p[2], p[3]]
            }
            Report::Admitted { uid, privileged } => {
                let u = uid.to_le_bytes();
                [if privileged { b'P' } else { b'A' }, u[0], u[1], u[2], u[3]]
            }
            Report::Refused(uid) => {
                let u = uid.to_le_bytes();
                [b'r', u[0], u[1], u[2], u[3]]
            }
        }
    }

    fn decode(b: &[u8]) -> Option<Report> {
        let [kind, a, b_, c, d] = *b else { return None };
        let n = [a, b_, c, d];
        match kind {
            b'e' => Some(Report::Ended(i32::from_le_bytes(n))),
            b'A' | b'P' => Some(Report::Admitted {
                uid: u32::from_le_bytes(n),
                privileged: kind == b'P',
            }),
            b'r' => Some(Report::Refused(u32::from_le_bytes(n))),
            _ => None,
        }
    }
}

/// Sends one report without waiting.
fn send_report(control: &OwnedFd, r: Report) -> rustix::io::Result<()> {
    send(
        control,
        &r.encode(),
        SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
    )
    .map(|_| ())
}

/// The next report waiting on `control`: `Ok(None)` if there is none yet,
/// `Err` once the other side has gone.
fn next_report(control: &OwnedFd) -> Result<Option<Report>, ()> {
    let mut buf = [0u8; 8];
    loop {
        match rustix::net::recv(control, &mut buf, RecvFlags::DONTWAIT) {
            Ok((0, _)) => return Err(()),
            Ok((n, _)) => return Ok(Report::decode(&buf[..n.min(buf.len())])),
            Err(RErrno::INTR) => continue,
            Err(RErrno::AGAIN) => return Ok(None),
            Err(_) => return Err(()),
        }
    }
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
    /// The listener's loop. While a standby waits, the standby accepts
    /// (so a client's first exchange wakes one daemon process, not two)
    /// and the listener only keeps the books: it tells the standby which
    /// clients ended and learns whom the standby admitted. Without one
    /// (between a client and the next fork), it accepts itself.
    fn run(mut self) -> Result<(), Failure> {
        // The privileged lane first, every round.
        self.listeners.sort_by_key(|l| l.lane != Lane::Privileged);
        loop {
            if self.standby.is_none() && self.standby_due.is_some_and(|t| Instant::now() >= t) {
                self.standby_due = None;
                self.standby = self.fork_standby();
                if self.standby.is_none() {
                    self.standby_due = Some(Instant::now() + STANDBY_RETRY);
                }
            }
            let timeout = self
                .standby_due
                .map(|t| t.saturating_duration_since(Instant::now()));
            let ready = self.wait(timeout)?;
            if ready.control {
                self.collect_reports();
            }
            if ready.children {
                self.reap();
            }
            // (Listeners are polled only while no standby waits.)
            for (i, &r) in ready.listeners.iter().enumerate() {
                if r {
                    self.drain(i);
                }
            }
        }
    }

    /// Waits for a child's end and, with a standby, for its reports;
    /// without one, for connections.
    fn wait(&self, timeout: Option<Duration>) -> Result<Ready, Failure> {
        let mut fds = vec![PollFd::new(self.children.fd(), PollFlags::IN)];
        match &self.standby {
            Some(s) => fds.push(PollFd::new(&s.control, PollFlags::IN)),
            None => fds.extend(
                self.listeners
                    .iter()
                    .map(|l| PollFd::new(&l.fd, PollFlags::IN)),
            ),
        }
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
        let mut ready = fds.iter().map(|f| !f.revents().is_empty());
        let children = ready.next().unwrap_or(false);
        Ok(match self.standby {
            Some(_) => Ready {
                children,
                control: ready.next().unwrap_or(false),
                listeners: Vec::new(),
            },
            None => Ready {
                children,
                control: false,
                listeners: ready.collect(),
            },
        })
    }

    /// Takes in what the standby reported: the refusals it logged, then
    /// the client it admitted, or its end.
    fn collect_reports(&mut self) {
        let Some(s) = &self.standby else { return };
        let pid = s.pid;
        let next = match next_report(&s.control) {
            Ok(None) => return,
            Ok(Some(Report::Refused(uid))) => {
                self.admission.logged_at(uid, Instant::now());
                return self.collect_reports();
            }
            Ok(Some(Report::Admitted { uid, privileged })) => {
                // Charge the user's rate as the standby did in its copy.
                let _ = self.admission.admit(uid, privileged, Instant::now());
                self.admission.started(pid, uid, privileged);
                STANDBY_FALLBACK
            }
            // Nothing else comes this way; the standby is not fit.
            Ok(Some(Report::Ended(_))) => {
                sys::kill(pid);
                STANDBY_RETRY
            }
            // It died waiting; its end is reaped as usual.
            Err(()) => STANDBY_RETRY,
        };
        self.standby = None;
        self.standby_due.get_or_insert(Instant::now() + next);
    }

    /// Accounts for every child that has ended, and tells the standby.
    fn reap(&mut self) {
        self.children.clear();
        // A standby's report is sent before it can end: count its client
        // before its end, or the end would be forgotten.
        self.collect_reports();
        while let Some(pid) = sys::reap_one() {
            self.admission.ended(pid);
            match &self.standby {
                Some(s) if s.pid == pid => {
                    self.collect_reports();
                    self.standby = None;
                    self.standby_due
                        .get_or_insert(Instant::now() + STANDBY_RETRY);
                }
                Some(s) => {
                    if send_report(&s.control, Report::Ended(pid)).is_err() {
                        // The standby reads its reports whenever it wakes;
                        // one this far behind would refuse on stale
                        // counts: replace it (its client, if it took one
                        // meanwhile, is counted through its report).
                        self.collect_reports();
                        if let Some(s) = &self.standby {
                            sys::kill(s.pid);
                        }
                    }
                }
                // A session is over: now is a good time for the next
                // standby (see [`STANDBY_FALLBACK`]).
                None => {
                    if let Some(due) = &mut self.standby_due {
                        *due = (*due).min(Instant::now());
                    }
                }
            }
        }
    }

    /// Accepts what is waiting on listener `i` (a batch, for the public
    /// one) and serves each admitted client in a new process.
    fn drain(&mut self, i: usize) {
        for _ in 0..self.batch(i) {
            let Some(conn) = self.accept(i) else { return };
            if let Ok((peer, privileged)) = self.judge(&conn) {
                let uid = peer.uid;
                if let Some(pid) = self.serve_in_child(conn, peer) {
                    self.admission.started(pid, uid, privileged);
                }
            }
        }
    }

    /// How many connections are taken from listener `i` before the
    /// privileged one is looked at again: all of its own, a batch of the
    /// public one.
    fn batch(&self, i: usize) -> usize {
        match self.listeners[i].lane {
            Lane::Privileged => usize::MAX,
            Lane::Public => PUBLIC_BATCH,
        }
    }

    /// The next connection waiting on listener `i`, if any.
    fn accept(&self, i: usize) -> Option<OwnedFd> {
        loop {
            match accept_with(&self.listeners[i].fd, SocketFlags::CLOEXEC) {
                Ok(c) => return Some(c),
                Err(RErrno::AGAIN) => return None,
                Err(RErrno::INTR) | Err(RErrno::CONNABORTED) => continue,
                Err(e) => {
                    // EMFILE and friends: report, back off, keep going.
                    crate::say!("{}: warning: accept: {e}", self.cfg.daemon.name());
                    std::thread::sleep(Duration::from_millis(10));
                    return None;
                }
            }
        }
    }

    /// Decides on one new client: who it is and whether it is privileged,
    /// if admitted. If not, it has been refused, and the error names the
    /// user whose refusal was logged now (once a minute per user: an
    /// administrator sees why that user's `who` was empty).
    fn judge(&mut self, conn: &OwnedFd) -> Result<(Peer, bool), Option<u32>> {
        let Ok(peer) = crate::accept::peer::of_socket(conn.as_fd()) else {
            refuse(conn);
            return Err(None);
        };
        let privileged = policy::is_privileged(&peer, self.me);
        let now = Instant::now();
        match self.admission.admit(peer.uid, privileged, now) {
            Ok(()) => Ok((peer, privileged)),
            Err(why) => {
                refuse(conn);
                if !self.admission.log_due(peer.uid, now) {
                    return Err(None);
                }
                crate::say!(
                    "{}: uid {} refused: {}",
                    self.cfg.daemon.name(),
                    peer.uid,
                    why.describe(&self.cfg.limits)
                );
                Err(Some(peer.uid))
            }
        }
    }

    /// Serves `conn`, a client of `peer`, in a new process: its pid.
    fn serve_in_child(&self, conn: OwnedFd, peer: Peer) -> Option<i32> {
        let cfg = self.cfg;
        match self.fork_child() {
            Ok(None) => {
                self.close_listeners();
                let code = serve_client(&conn, peer, cfg, Settle::nothing());
                sys::exit_now(code);
            }
            Ok(Some(pid)) => Some(pid),
            Err(e) => {
                crate::say!("{}: warning: fork: {e}", cfg.daemon.name());
                None
            }
        }
    }

    /// Forks a standby: `None` if the fork failed.
    fn fork_standby(&mut self) -> Option<Standby> {
        let (ours, theirs) = socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .ok()?;
        let parent = sys::getpid();
        match self.fork_child() {
            Ok(None) => {
                drop(ours);
                let code = self.be_standby(theirs, parent);
                sys::exit_now(code);
            }
            Ok(Some(pid)) => Some(Standby { pid, control: ours }),
            Err(e) => {
                crate::say!("{}: warning: fork: {e}", self.cfg.daemon.name());
                None
            }
        }
    }

    /// The standby's life: accepts on the listening sockets (privileged
    /// lane first), decides on its copy of the books, which the listener
    /// keeps current, refuses whom the listener would have refused, and
    /// serves the first client it admits. Returns the exit code.
    fn be_standby(&mut self, control: OwnedFd, parent: i32) -> i32 {
        // A standby must not outlive the listener until it has a client.
        if !sys::die_with_parent(Some(parent)) {
            return 0;
        }
        // The pages a request touches become ours before a client waits.
        session::warm_up(self.cfg);
        loop {
            let mut fds = vec![PollFd::new(&control, PollFlags::IN)];
            fds.extend(
                self.listeners
                    .iter()
                    .map(|l| PollFd::new(&l.fd, PollFlags::IN)),
            );
            match poll(&mut fds, None) {
                Ok(_) | Err(RErrno::INTR) => {}
                Err(_) => return i32::from(crate::EXIT_SYSTEM),
            }
            let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            drop(fds);
            // What the listener said first: slots may have come free.
            if ready[0] && !self.take_in_ends(&control) {
                // The listener has gone.
                return 0;
            }
            for i in 0..self.listeners.len() {
                if !ready[i + 1] {
                    continue;
                }
                for _ in 0..self.batch(i) {
                    let Some(conn) = self.accept(i) else { break };
                    let (peer, privileged) = match self.judge(&conn) {
                        Ok(admitted) => admitted,
                        Err(logged) => {
                            if let Some(uid) = logged {
                                let _ = send_report(&control, Report::Refused(uid));
                            }
                            continue;
                        }
                    };
                    // From here on the client is ours to finish, listener
                    // or not.
                    sys::die_with_parent(None);
                    // The listener counts the client once it has the
                    // report (if it has just gone, the client is still
                    // served).
                    let uid = peer.uid;
                    let listeners: Vec<i32> =
                        self.listeners.iter().map(|l| l.fd.as_raw_fd()).collect();
                    let settle = Settle::new(move || {
                        let _ = send_report(&control, Report::Admitted { uid, privileged });
                        drop(control);
                        listeners.into_iter().for_each(sys::close);
                    });
                    return serve_client(&conn, peer, self.cfg, settle);
                }
            }
        }
    }

    /// In a standby: takes in the ends the listener reported; false once
    /// the listener has gone.
    fn take_in_ends(&mut self, control: &OwnedFd) -> bool {
        loop {
            match next_report(control) {
                Ok(Some(Report::Ended(pid))) => self.admission.ended(pid),
                Ok(Some(Report::Admitted { .. } | Report::Refused(_))) => {}
                Ok(None) => return true,
                Err(()) => return false,
            }
        }
    }

    /// Forks; in the child, lets go of the listener's child signal. The
    /// listener forks only while no standby waits, so no control socket
    /// is open; the listening sockets stay, for a standby.
    fn fork_child(&self) -> std::io::Result<Option<i32>> {
        let pid = sys::fork()?;
        if pid.is_none() {
            self.children.forget_in_child();
        }
        Ok(pid)
    }

    /// In a child about to serve: closes the listening sockets.
    fn close_listeners(&self) {
        for l in &self.listeners {
            sys::close(l.fd.as_raw_fd());
        }
    }
}

/// What [`Server::wait`] found ready.
struct Ready {
    children: bool,
    control: bool,
    listeners: Vec<bool>,
}

/// Sends the refusal byte, without waiting for anything; the caller
/// closes. The client reads the byte before it sees the connection
/// closed, even if its request was never read (Linux queues the reset
/// behind the data).
fn refuse(conn: &OwnedFd) {
    let _ = send(
        conn,
        &[REFUSED.to_wire()],
        SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
    );
}

/// Serves `client`, connected from `peer`, on descriptors 0 and 1, owing
/// `settle`: the exit code.
fn serve_client(client: &OwnedFd, peer: Peer, cfg: &Config, settle: Settle) -> i32 {
    let fd: BorrowedFd = client.as_fd();
    if let Err(e) = rustix::stdio::dup2_stdin(fd).and_then(|()| rustix::stdio::dup2_stdout(fd)) {
        crate::say!("{}: dup2: {e}", cfg.daemon.name());
        return i32::from(crate::EXIT_SYSTEM);
    }
    match session::run_for(cfg, peer, settle) {
        Ok(()) => 0,
        Err(f) => {
            if !matches!(f, Failure::Protocol(_)) {
                crate::say!("{}: {f:?}", cfg.daemon.name());
            }
            i32::from(f.code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_travel_whole() {
        for r in [
            Report::Ended(4_000_000),
            Report::Refused(1000),
            Report::Admitted {
                uid: 0,
                privileged: true,
            },
            Report::Admitted {
                uid: u32::MAX,
                privileged: false,
            },
        ] {
            assert_eq!(Report::decode(&r.encode()), Some(r));
        }
        // Anything else is no report.
        assert_eq!(Report::decode(b"x1234"), None);
        assert_eq!(Report::decode(b"e12"), None);
    }
}
