//! Talking to a daemon: connect, send, receive, each bounded by the call's
//! deadline. A socket here is always non-blocking, so nothing can hang the
//! host program past its deadline.

use crate::config;
use crate::sys::{self, Fd};
use core::cell::Cell;
use proto::codec::{self, Request, MAX_REQUEST};
use proto::Errno;

/// A call's deadline: `ms` milliseconds from the first time the call
/// looks at the clock, which is where it may first wait (a poll, a busy
/// lock, a write under way). A call that never waits (a `getutxent`
/// served from memory or read from the file itself) reads no clock:
/// `clock_gettime` is a system call for the shim, which imports no vDSO,
/// and was one per `getutxent` before. The start is shared by the copies
/// (`at`), so every wait of a call counts against the same end.
#[derive(Clone, Copy, Debug)]
pub struct Deadline<'a> {
    ms: u64,
    /// The end in monotonic milliseconds; 0 until the clock is first read.
    at: &'a Cell<u64>,
}

impl<'a> Deadline<'a> {
    /// `ms` milliseconds from the first look at the clock; `at` holds the
    /// end once known (a new cell holding 0).
    pub fn new(ms: u64, at: &'a Cell<u64>) -> Deadline<'a> {
        Deadline { ms, at }
    }

    /// Milliseconds left, 0 when expired.
    pub fn remaining(self) -> u64 {
        let now = sys::monotonic_ms();
        let end = match self.at.get() {
            0 => {
                let end = now.saturating_add(self.ms).max(1);
                self.at.set(end);
                end
            }
            end => end,
        };
        end.saturating_sub(now)
    }

    /// Whether the deadline has passed.
    pub fn expired(self) -> bool {
        self.remaining() == 0
    }
}

/// A connection to one daemon.
#[derive(Debug)]
pub struct Conn {
    fd: Fd,
    /// Through the privileged twin: a process of root's or the writers'
    /// group, served from their own pool, with no per-user limit.
    privileged: bool,
}

impl Conn {
    /// A connection over an open socket (the fuzzer's socketpair).
    #[cfg(feature = "fuzz")]
    pub fn from_fd(fd: Fd) -> Conn {
        Conn {
            fd,
            privileged: false,
        }
    }

    /// Connects to the daemon at socket `path`, through its privileged
    /// twin when this process may open it (root, the writers' group): a
    /// listener keeps that one out of ordinary users' reach, so no flood
    /// of theirs delays a login. Others are refused it at once
    /// (`EACCES`) and take the public socket.
    pub fn connect(path: &[u8], deadline: Deadline) -> Result<Conn, Errno> {
        let fd = sys::unix_socket()?;
        let mut twin = [0u8; 108];
        let suffix = proto::PRIVILEGED_SOCKET_SUFFIX.as_bytes();
        if let Some(privileged) = twin.get_mut(..path.len() + suffix.len()) {
            let (head, tail) = privileged.split_at_mut(path.len());
            head.copy_from_slice(path);
            tail.copy_from_slice(suffix);
            // A failed connect leaves the socket unconnected: reuse it.
            if Self::connect_fd(&fd, privileged, deadline).is_ok() {
                verify(&fd)?;
                return Ok(Conn {
                    fd,
                    privileged: true,
                });
            }
        }
        Self::connect_fd(&fd, path, deadline)?;
        verify(&fd)?;
        Ok(Conn {
            fd,
            privileged: false,
        })
    }

    /// Whether the daemon serves this connection from the privileged pool.
    pub fn is_privileged(&self) -> bool {
        self.privileged
    }

    /// Connects `fd` to `path`, waiting for room in a full backlog.
    fn connect_fd(fd: &Fd, path: &[u8], deadline: Deadline) -> Result<(), Errno> {
        loop {
            match sys::connect_unix(fd, path) {
                Ok(()) => return Ok(()),
                // A Unix socket whose backlog is full: wait for room.
                Err(e) if e == Errno::EAGAIN || e == Errno::EINTR => {
                    if deadline.expired() {
                        return Err(Errno::ETIMEDOUT);
                    }
                    sys::sleep_us(1000);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends one request whole.
    pub fn send(&self, req: &Request, deadline: Deadline) -> Result<(), Errno> {
        let mut buf = [0u8; MAX_REQUEST];
        let n = codec::encode_request(req, &mut buf);
        self.send_all(buf.get(..n).unwrap_or_default(), deadline)
    }

    /// Sends `bytes` whole, waiting for room until `deadline`.
    fn send_all(&self, mut rest: &[u8], deadline: Deadline) -> Result<(), Errno> {
        while !rest.is_empty() {
            match sys::send(&self.fd, rest) {
                Ok(k) => rest = rest.get(k..).unwrap_or_default(),
                Err(e) if e == Errno::EAGAIN || e == Errno::EINTR => {
                    self.wait(libc::POLLOUT, deadline)?;
                }
                Err(e) => return Err(self.refused_or(e)),
            }
        }
        Ok(())
    }

    /// A send failed with `e`: a listener that refused us (over its
    /// limits) closed the connection after its refusal byte, which is
    /// still there to read. `EUSERS` then, not a lost daemon.
    fn refused_or(&self, e: Errno) -> Errno {
        let mut b = [0u8; 1];
        match sys::recv(&self.fd, &mut b) {
            Ok(1) if b[0] == codec::REFUSED.to_wire() => codec::REFUSED,
            _ => e,
        }
    }

    /// Sends one request with descriptor `pass` attached to its first byte.
    pub fn send_with_fd(
        &self,
        req: &Request,
        pass: libc::c_int,
        deadline: Deadline,
    ) -> Result<(), Errno> {
        let mut buf = [0u8; MAX_REQUEST];
        let n = codec::encode_request(req, &mut buf);
        let bytes = buf.get(..n).unwrap_or_default();
        let sent = loop {
            match sys::send_with_fd(&self.fd, bytes, pass) {
                Ok(k) => break k,
                Err(e) if e == Errno::EAGAIN || e == Errno::EINTR => {
                    self.wait(libc::POLLOUT, deadline)?;
                }
                Err(e) => return Err(self.refused_or(e)),
            }
        };
        // The descriptor went with the first bytes; the rest is plain.
        self.send_all(bytes.get(sent..).unwrap_or_default(), deadline)
    }

    /// Sends one request, with descriptor `pass` attached if any.
    pub fn send_maybe_with_fd(
        &self,
        req: &Request,
        pass: Option<&Fd>,
        deadline: Deadline,
    ) -> Result<(), Errno> {
        match pass {
            Some(fd) => self.send_with_fd(req, fd.raw(), deadline),
            None => self.send(req, deadline),
        }
    }

    /// Receives exactly `buf.len()` bytes. A peer that closes first gives
    /// `ECONNRESET`.
    pub fn recv(&self, buf: &mut [u8], deadline: Deadline) -> Result<(), Errno> {
        let mut done = 0;
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            match sys::recv(&self.fd, rest) {
                Ok(0) => return Err(Errno::ECONNRESET),
                Ok(k) => done += k,
                Err(e) if e == Errno::EAGAIN || e == Errno::EINTR => {
                    self.wait(libc::POLLIN, deadline)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Receives a status byte: `Ok(Ok(()))` for success, `Ok(Err(errno))`
    /// for a daemon's refusal, `Err` when the transport failed.
    /// A listener's refusal (over its limits) is `Err(EUSERS)`, and a
    /// request the daemon did not perform because the connection outlived
    /// its lifetime is `Err(ECONNABORTED)`: the caller may send it again on
    /// a new connection.
    pub fn recv_status(&self, deadline: Deadline) -> Result<Result<(), Errno>, Errno> {
        let mut b = [0u8; 1];
        self.recv(&mut b, deadline)?;
        match Errno::from_wire(b[0]) {
            codec::REFUSED => Err(codec::REFUSED),
            codec::EXPIRED => Err(codec::EXPIRED),
            _ => Ok(codec::check_status(b[0])),
        }
    }

    /// Receives a big-endian u64 (an extension reply's cursor).
    pub fn recv_u64(&self, deadline: Deadline) -> Result<u64, Errno> {
        let mut b = [0u8; 8];
        self.recv(&mut b, deadline)?;
        Ok(u64::from_be_bytes(b))
    }

    /// Whether the daemon has closed this idle connection (its idle
    /// timeout, a restart): it never speaks unasked, so anything readable
    /// means end of file or an error.
    pub fn is_closed(&self) -> bool {
        !matches!(sys::poll(&self.fd, libc::POLLIN, 0), Ok(false))
    }

    /// Waits for `events` until `deadline`; a signal that interrupts the
    /// wait does not end it (the host's signals are not our errors).
    fn wait(&self, events: libc::c_short, deadline: Deadline) -> Result<(), Errno> {
        loop {
            let left = deadline.remaining();
            if left == 0 {
                return Err(Errno::ETIMEDOUT);
            }
            match sys::poll(&self.fd, events, left) {
                Ok(true) => return Ok(()),
                Ok(false) => return Err(Errno::ETIMEDOUT),
                Err(e) if e == Errno::EINTR => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Refuses, before anything is sent, a server this process may not talk
/// to ([`proto::trust`]): `ECONNREFUSED`, as if none listened.
fn verify(fd: &Fd) -> Result<(), Errno> {
    if config::may_talk_to(sys::peer_uid(fd)?) {
        Ok(())
    } else {
        Err(Errno::ECONNREFUSED)
    }
}

/// Whether a transport error means the daemon went away (it exited after
/// its idle timeout, was restarted, or does not know an opcode).
pub fn is_lost(e: Errno) -> bool {
    e == Errno::ECONNRESET || e == Errno::EPIPE
}

/// The first pause before a refused exchange is tried again, and the
/// longest: a refusal for a user's rate clears within 1/rate s (20 ms at
/// the default 50), one for a count when one of the connections ends.
const PAUSE_FIRST_US: u64 = 2_000;
const PAUSE_MAX_US: u64 = 32_000;

/// Runs exchange `f` on a new connection to the daemon at `socket`, and
/// returns the connection with what `f` gave. A listener that refused the
/// connection (over its limits) did nothing for it, so the exchange is
/// tried again on a new connection after a growing pause, while the
/// deadline allows: a record waits for its turn instead of being lost.
/// A refusal still there at the deadline is the call's error (`EUSERS`).
pub fn exchange<T>(
    socket: &[u8],
    deadline: Deadline,
    f: impl Fn(&Conn) -> Result<T, Errno>,
) -> Result<(Conn, Result<T, Errno>), Errno> {
    let mut pause = PAUSE_FIRST_US;
    let mut refused = false;
    loop {
        // A try after a refusal that runs out of time (the deadline came
        // before the daemon's answer) fails for the refusal, as a refusal
        // at the deadline does: not ETIMEDOUT, which would say the daemon
        // hung.
        let timed_out = |e: &Errno| refused && *e == Errno::ETIMEDOUT;
        let conn = match Conn::connect(socket, deadline) {
            Err(e) if timed_out(&e) => return Err(codec::REFUSED),
            conn => conn?,
        };
        let r = f(&conn);
        match r.as_ref().err() {
            Some(e) if *e == codec::REFUSED => refused = true,
            Some(e) if timed_out(e) => return Err(codec::REFUSED),
            _ => return Ok((conn, r)),
        }
        drop(conn);
        // Half the pause and a random part of the other half (the clock's
        // microseconds): waiters that were refused together do not all
        // come back together.
        let half = pause / 2;
        let nap = half + sys::realtime().1.unsigned_abs() % (half + 1);
        if deadline.remaining().saturating_mul(1000) <= nap {
            return Err(codec::REFUSED);
        }
        sys::sleep_us(nap);
        pause = (pause * 2).min(PAUSE_MAX_US);
    }
}

/// wtmpd's whole conversation: connect, append one record (with the log's
/// descriptor `log` attached, if any), read the status.
pub fn append(
    socket: &[u8],
    record: &proto::Record,
    log: Option<&Fd>,
    deadline: Deadline,
) -> Result<(), Errno> {
    let (_, status) = exchange(socket, deadline, |c| {
        c.send_maybe_with_fd(&Request::Append(*record), log, deadline)?;
        c.recv_status(deadline)
    })?;
    status?
}
