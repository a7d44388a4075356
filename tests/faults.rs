//! Missing, hung and foreign daemons: the shim answers with the libc error
//! convention within its deadline, and readers carry on with nothing.

use proto::codec::{self, Request, RECORD_SIZE};
use proto::table::{self, Storage, Table};
use proto::{Errno, Layout};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use util::{c_program, lines_with, musl_real, Cc, PtySession, Run, TempDir};

const USER: &str = "utmpsfault";

/// Runs `program` under the shim with every socket pointing at `sock`, as
/// an ordinary user: root ignores the variables.
fn at(sock: &std::path::Path, program: impl AsRef<std::ffi::OsStr>) -> Run {
    util::ensure_user(USER);
    Run::new(program)
        .preload()
        .user(USER)
        .env("UTMPS_UTMPD_SOCKET", sock)
        .env("UTMPS_WTMPD_SOCKET", sock)
        .env("UTMPS_BTMPD_SOCKET", sock)
        .env("UTMPS_TIMEOUT_MS", "300")
}

/// A fake daemon's socket, open to everyone as a daemon's public one is
/// (the clients run as an ordinary user).
fn listen(sock: &std::path::Path) -> UnixListener {
    let l = UnixListener::bind(sock).unwrap();
    std::fs::set_permissions(sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    l
}

/// Every call fails with `errno`, and the readers show an empty list.
fn assert_unavailable(sock: &std::path::Path, errno: i32) {
    for cc in Cc::ALL {
        let ctl = c_program("utmpctl", cc);
        let list = at(sock, &ctl).args(["list"]).run();
        assert_eq!(list.stdout.trim(), format!("err {errno}"), "{list}");
        let put = at(sock, &ctl)
            .args(["put", "7", "root", "pts/1", "1", "1"])
            .run();
        assert_eq!(put.stdout.trim(), format!("err {errno}"), "{put}");
        let line = at(sock, &ctl).args(["line", "pts/1"]).run();
        assert_eq!(line.stdout.trim(), format!("err {errno}"), "{line}");
        let wtmp = at(sock, &ctl)
            .args(["wtmp", "/var/log/wtmp", "7", "root", "pts/1", "1", "1"])
            .run();
        assert_eq!(wtmp.stdout.trim(), format!("err {errno}"), "{wtmp}");
        // Each of these makes a few calls of 300 ms at most.
        for o in [&list, &put, &line, &wtmp] {
            assert!(o.elapsed < Duration::from_secs(3), "past the deadline: {o}");
        }
    }
    for (prog, args) in [("who", &[][..]), ("users", &[]), ("w", &["-h"])] {
        let o = at(sock, prog).args(args).run();
        assert_eq!(o.ok().trim(), "", "{o}");
    }
    let o = at(sock, musl_real("procps/w")).args(["-h"]).run();
    assert_eq!(o.ok().trim(), "", "{o}");
    let o = at(sock, musl_real("busybox/who")).run();
    assert!(o.status.success() && o.stdout.lines().count() <= 1, "{o}");
}

#[test]
fn no_daemon_no_socket() {
    let dir = TempDir::new("nosock");
    assert_unavailable(&dir.path().join("missing.sock"), libc::ENOENT);
}

#[test]
fn no_daemon_stale_socket() {
    let dir = TempDir::new("stale");
    let sock = dir.path().join("stale.sock");
    drop(listen(&sock));
    assert_unavailable(&sock, libc::ECONNREFUSED);
}

/// A server that accepts connections and never answers.
struct Hung {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Hung {
    fn start(sock: &std::path::Path) -> Hung {
        let listener = listen(sock);
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => held.push(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Hung {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Hung {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn hung_daemon_times_out() {
    let dir = TempDir::new("hung");
    let sock = dir.path().join("hung.sock");
    let _server = Hung::start(&sock);
    assert_unavailable(&sock, libc::ETIMEDOUT);
}

/// A model of skarnet utmps 0.1.3's utmpd (not packaged in Debian 12):
/// the base protocol only, the cursor in the server, and an unknown
/// opcode closes the connection without a reply.
struct Skarnet {
    _listener_thread: std::thread::JoinHandle<()>,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Storage for Shared {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let v = self.0.lock().unwrap();
        let src = v.get(offset as usize..).unwrap_or_default();
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        let mut v = self.0.lock().unwrap();
        let end = offset as usize + buf.len();
        if v.len() < end {
            v.resize(end, 0);
        }
        v[offset as usize..end].copy_from_slice(buf);
        Ok(buf.len())
    }
    fn size(&mut self) -> Result<u64, Errno> {
        Ok(self.0.lock().unwrap().len() as u64)
    }
    fn truncate(&mut self, len: u64) -> Result<(), Errno> {
        self.0.lock().unwrap().resize(len as usize, 0);
        Ok(())
    }
}

impl Skarnet {
    fn start(sock: &std::path::Path) -> Skarnet {
        let listener = listen(sock);
        let data = Shared::default();
        let t = std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let data = data.clone();
                std::thread::spawn(move || Skarnet::serve(stream, data));
            }
        });
        Skarnet {
            _listener_thread: t,
        }
    }

    fn serve(mut s: UnixStream, data: Shared) {
        let mut t = Table::new(data, Layout::Musl);
        let mut cursor = table::Cursor::default();
        loop {
            let mut op = [0u8; 1];
            if s.read_exact(&mut op).is_err() {
                return;
            }
            let req = match codec::body_len(op[0]) {
                Some(n) if !matches!(op[0], b'V' | b'B' | b'R' | b'I' | b'L' | b'P') => {
                    let mut body = vec![0u8; n];
                    s.read_exact(&mut body).unwrap();
                    codec::decode_request(op[0], &body).unwrap()
                }
                _ => return, // unknown opcode: hang up
            };
            let found = |r: Result<Option<proto::Record>, Errno>| -> Vec<u8> {
                match r.unwrap() {
                    Some(rec) => {
                        let mut b = [0u8; RECORD_SIZE];
                        codec::encode_record(&rec, &mut b);
                        let mut out = vec![0];
                        out.extend_from_slice(&b);
                        out
                    }
                    None => vec![libc::ESRCH as u8],
                }
            };
            let reply = match req {
                Request::Rewind => {
                    cursor.rewind();
                    vec![0]
                }
                Request::Next => found(table::next(&mut t, &mut cursor)),
                Request::FindId { kind, id } => {
                    let mut q = proto::Record::EMPTY;
                    q.kind = proto::Kind(kind);
                    q.id = id;
                    found(table::find_id(&mut t, &mut cursor, &q))
                }
                Request::FindLine { line } => found(table::find_line(&mut t, &mut cursor, &line)),
                Request::Put(r) => {
                    table::put(&mut t, &mut cursor, &r).unwrap();
                    vec![0]
                }
                _ => return,
            };
            if s.write_all(&reply).is_err() {
                return;
            }
        }
    }
}

#[test]
fn a_skarnet_daemon_is_served_with_the_base_protocol() {
    let dir = TempDir::new("skarnet");
    let sock = dir.path().join(".utmpd-socket");
    let _server = Skarnet::start(&sock);
    let sessions = [PtySession::start(None), PtySession::start(None)];
    for (cc, s) in Cc::ALL.iter().zip(&sessions) {
        let o = at(&sock, c_program("utmpctl", *cc))
            .args([
                "put",
                "7",
                "root",
                &s.line,
                "sk",
                &s.pid.to_string(),
                "skarnet.example",
            ])
            .run();
        assert_eq!(o.ok().trim(), "ok", "{o}");
    }
    // The second put matched the first by id ("sk") and replaced it.
    let who = at(&sock, "who").run();
    assert_eq!(lines_with(who.ok(), "skarnet.example").len(), 1, "{who}");
    assert_eq!(lines_with(who.ok(), &sessions[1].line).len(), 1, "{who}");
    for cc in Cc::ALL {
        let o = at(&sock, c_program("utmpctl", cc))
            .args(["line", &sessions[1].line])
            .run();
        assert!(o.ok().starts_with("7 root "), "{o}");
        let o = at(&sock, c_program("utmpctl", cc)).args(["list"]).run();
        assert_eq!(o.ok().lines().count(), 1, "{o}");
    }
}

/// An older daemon of ours, from before `R`: a proxy to a real utmpd
/// that answers a connection's first request `R` as our daemons answer
/// an opcode they do not know (EPROTO, then the connection closes) and
/// passes any other connection through. Counts the `R` requests refused.
fn older_daemon(sock: &std::path::Path, upstream: std::path::PathBuf) -> Arc<Mutex<usize>> {
    let listener = listen(sock);
    let refused = Arc::new(Mutex::new(0));
    let count = refused.clone();
    std::thread::spawn(move || {
        for mut client in listener.incoming().flatten() {
            let mut op = [0u8; 1];
            if client.read_exact(&mut op).is_err() {
                continue;
            }
            if op[0] == b'R' {
                *count.lock().unwrap() += 1;
                let _ = client.write_all(&[libc::EPROTO as u8]);
                continue;
            }
            let Ok(mut daemon) = UnixStream::connect(&upstream) else {
                continue;
            };
            let _ = daemon.write_all(&op);
            let (mut c2, mut d2) = (client.try_clone().unwrap(), daemon.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut d2);
                let _ = d2.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut daemon, &mut client);
            });
        }
    });
    refused
}

#[test]
fn an_older_daemon_of_ours_is_read_with_b() {
    let d = util::Daemons::start();
    let dir = TempDir::new("older");
    let sock = dir.path().join("older.sock");
    let refused = older_daemon(&sock, d.file(".utmpd-socket"));
    let s = PtySession::start(None);
    let put = d.utmpctl(
        Cc::Gnu,
        &[
            "put",
            "7",
            "root",
            &s.line,
            "ol",
            &s.pid.to_string(),
            "older.example",
        ],
    );
    assert_eq!(put, "ok");
    for cc in Cc::ALL {
        let list = at(&sock, c_program("utmpctl", cc)).args(["list"]).run();
        assert_eq!(lines_with(list.ok(), "older.example").len(), 1, "{list}");
    }
    let who = at(&sock, "who").run();
    assert_eq!(lines_with(who.ok(), &s.line).len(), 1, "{who}");
    // Each process asked once, then read with `B`.
    assert_eq!(*refused.lock().unwrap(), 3);
}

/// A daemon that answers every request with random bytes: sometimes
/// nothing, sometimes a plausible header with absurd counts, cursors or
/// records, sometimes a truncated reply, then it hangs up or stalls.
fn random_replier(sock: &std::path::Path, seed: u64) -> Arc<AtomicBool> {
    let listener = listen(sock);
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        let mut rng = util::Rng(seed);
        let mut held = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            let Ok((mut s, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            };
            let _ = s.set_nonblocking(false);
            let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
            let mut req = [0u8; 1024];
            let _ = s.read(&mut req);
            let len = match rng.below(4) {
                0 => 0,
                1 => 1 + rng.below(12) as usize,
                _ => rng.below(4000) as usize,
            };
            let mut reply: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if !reply.is_empty() && rng.below(2) == 0 {
                reply[0] = 0; // a success status, so the rest gets parsed
            }
            let _ = s.write_all(&reply);
            if rng.below(3) == 0 {
                held.push(s); // stall: keep it open, say nothing more
            }
        }
    });
    stop
}

#[test]
fn random_replies_from_a_hostile_daemon_never_crash_or_hang_the_host() {
    let mut runs = 0;
    for seed in 1..=20u64 {
        let dir = TempDir::new("replies");
        let sock = dir.path().join("evil.sock");
        let stop = random_replier(&sock, seed);
        for cc in Cc::ALL {
            for args in [
                &["list"][..],
                &["put", "7", "root", "pts/1", "1", "1"],
                &["line", "pts/1"],
                &["id", "8", "1"],
                &["wtmp", "/var/log/wtmp", "7", "root", "pts/1", "1", "1"],
            ] {
                let o = at(&sock, c_program("utmpctl", cc))
                    .env("UTMPS_TIMEOUT_MS", "100")
                    .args(args)
                    .run();
                assert!(
                    o.status.code().is_some(),
                    "seed {seed} {cc:?} {args:?}: killed by a signal: {o}"
                );
                assert!(o.elapsed < Duration::from_secs(5), "seed {seed}: {o}");
                runs += 1;
            }
        }
        let o = at(&sock, "who").env("UTMPS_TIMEOUT_MS", "100").run();
        assert!(o.status.code().is_some(), "seed {seed}: who: {o}");
        stop.store(true, Ordering::Relaxed);
    }
    println!("{runs} client runs against random replies: 0 crashes, 0 hangs");
}
