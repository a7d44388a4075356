//! One user's many terminal servers (tmux, screen) and idle writers: no
//! login is lost to the daemons' per-user limits, which bound work, not
//! how many of the user's processes once wrote a record.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use util::{c_program, children_of, ensure_user, lines_with, Cc, Daemons, Guarded, Run, TempDir};

const USER: &str = "utmpstest1";
const TMUX: usize = 200;
const SCREEN: usize = 100;
// Every third server is a screen session.
const _: () = assert!(TMUX == 2 * SCREEN);

/// `program` run as `USER` with the shim and the daemons' sockets.
fn as_user(d: &Daemons, program: impl AsRef<std::path::Path>) -> Command {
    let program = program.as_ref().to_str().expect("UTF-8 path");
    crate::utempter::as_user(d, USER, program)
}

/// Polls `f` every 100 ms for up to `secs` until it returns `Ok`; the
/// last `Err` says what was missing.
fn within<T>(secs: u64, what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) => assert!(
                start.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {what}: {e}"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sets its flag when dropped, also when a test panics.
struct Raise<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for Raise<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The lines of `USER`'s utmp entries of the types in `types`.
fn entries(d: &Daemons, types: &[&str]) -> Vec<String> {
    let o = d.cmd(c_program("utmpctl", Cc::Musl)).args(["list"]).run();
    o.ok()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (ty, user, line) = (f.next()?, f.next()?, f.next()?);
            (types.contains(&ty) && user == USER).then(|| line.to_string())
        })
        .collect()
}

/// wtmp as `utmpdump` shows it.
fn wtmp(d: &Daemons) -> String {
    Run::new("utmpdump")
        .args([d.file("wtmp")])
        .run()
        .ok()
        .to_string()
}

/// tmux servers, which outlive their clients: each is ended through its
/// socket when this drops, also when a test fails.
struct Servers<'a, F: Fn(usize) -> Command> {
    /// A tmux command on server `i`'s socket.
    tmux: &'a F,
    which: Vec<usize>,
}

impl<F: Fn(usize) -> Command> Drop for Servers<'_, F> {
    fn drop(&mut self) {
        for &i in &self.which {
            let _ = (self.tmux)(i).arg("kill-server").status();
        }
    }
}

/// Runs `jobs` on `threads` threads, each taking every `threads`-th.
fn in_parallel(threads: usize, jobs: usize, job: impl Fn(usize) + Sync) {
    std::thread::scope(|s| {
        for t in 0..threads {
            let job = &job;
            s.spawn(move || (t..jobs).step_by(threads).for_each(job));
        }
    });
}

/// 200 tmux servers and 100 attached screen sessions of one ordinary user,
/// started as fast as four launchers go (faster than the daemons' 50 new
/// connections a second: each start is one connection to utmpd and one
/// to wtmpd), then ended one after another, 40 a second: every utmp
/// entry, every wtmp login and every logout is there, and the user never
/// has more daemon processes than `-C`. The append budget is raised to exactly the 600
/// records this takes (the default lets a user add 200 at once; that
/// bound is not what this test is about).
#[test]
fn three_hundred_terminal_servers_of_one_user_are_recorded_whole() {
    let _heavy = util::heavy();
    ensure_user(USER);
    let budget = format!("{}/60", 2 * (TMUX + SCREEN));
    let d = Daemons::start_full(util::Launcher::Listen, &[], &["--budget", &budget]);
    let dir = TempDir::new("many");
    let socks = dir.private_dir("t", USER);
    let tmux = |i: usize| {
        let mut c = as_user(&d, "tmux");
        c.arg("-S").arg(socks.join(format!("t{i}")));
        c
    };
    let _servers = Servers {
        tmux: &tmux,
        which: (0..TMUX + SCREEN).filter(|i| i % 3 != 2).collect(),
    };
    // The most daemon processes seen at once, per daemon, while it runs.
    let done = std::sync::atomic::AtomicBool::new(false);
    let listeners = d.pids();
    let (peak, started, early) = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                for &l in &listeners[..2] {
                    peak = peak.max(children_of(l).len());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        });
        let _stop = Raise(&done);
        let start = Instant::now();
        let screens = std::sync::Mutex::new(Vec::new());
        in_parallel(4, TMUX + SCREEN, |i| {
            if i % 3 == 2 {
                // screen logs its window in while a display is attached.
                let mut c = as_user(&d, "script");
                c.args(["-qfc", &format!("screen -S s{i} sleep 600"), "/dev/null"])
                    .env("SCREENDIR", &socks)
                    .stdin(Stdio::piped());
                let child = Guarded(c.spawn().unwrap());
                screens.lock().unwrap().push((i, child));
            } else {
                let st = tmux(i).args(["new-session", "-d", "sleep 600"]).status();
                assert!(st.unwrap().success(), "tmux {i}");
            }
        });
        let started = start.elapsed();
        // Every window's entry and login, however long the daemons took.
        // A screen window can end early (screen logs it out when its
        // display goes away) and its pty serve a later window: the entry
        // is per line, so every login's line must have one, of type 7 or
        // 8, and the lines may be fewer than the logins.
        let lines = within(60, "an entry and a login for every server", || {
            let lines = entries(&d, &["7", "8"]);
            let w = wtmp(&d);
            let logins = lines_with(&w, "[7]");
            let missing: Vec<_> = logins
                .iter()
                .filter(|l| !lines.iter().any(|e| l.contains(&format!("[{e:<12}]"))))
                .collect();
            if logins.len() == TMUX + SCREEN && missing.is_empty() {
                Ok(lines)
            } else {
                Err(format!(
                    "{} entries, {} logins; logins without an entry: {missing:?}",
                    lines.len(),
                    logins.len(),
                ))
            }
        });
        let early = lines_with(&wtmp(&d), "[8]").len();
        // The end: the servers quit one after another, at most 40 a
        // second. Quit all within a second, 300 logouts need 300 new
        // connections to each daemon, more than `--rate 50` and its burst
        // allow within the 2 s deadline: the rate bounds them (README).
        let screens = screens.into_inner().unwrap();
        let quit_all = || {
            for i in 0..TMUX + SCREEN {
                let t = Instant::now();
                if i % 3 == 2 {
                    let _ = as_user(&d, "screen")
                        .env("SCREENDIR", &socks)
                        .args(["-S", &format!("s{i}"), "-X", "quit"])
                        .status();
                } else {
                    let _ = tmux(i).arg("kill-server").status();
                }
                std::thread::sleep(Duration::from_millis(25).saturating_sub(t.elapsed()));
            }
        };
        quit_all();
        // A quit command can fail on a loaded machine (a server slow to
        // answer its socket) and leave its server running: the record is
        // not lost, the server has not ended. Asked once more, later; the
        // servers that did quit are not there to answer.
        let asked_again = std::cell::Cell::new(false);
        let waiting = Instant::now();
        let w = within(60, "a logout for every server", || {
            let w = wtmp(&d);
            let logouts = lines_with(&w, "[8]").len();
            if logouts >= TMUX + SCREEN {
                Ok(w)
            } else {
                if !asked_again.get() && waiting.elapsed() > Duration::from_secs(10) {
                    asked_again.set(true);
                    quit_all();
                }
                Err(format!("{logouts} logouts"))
            }
        });
        // Each line: logins and logouts in turn, as many of each.
        for line in &lines {
            let recs = lines_with(&w, &format!("[{line:<12}]"));
            let kinds: Vec<_> = recs.iter().map(|r| &r[..3]).collect();
            assert!(
                !kinds.is_empty()
                    && kinds.chunks(2).all(|p| p == ["[7]", "[8]"])
                    && recs[0].contains(USER),
                "{line}: {w}"
            );
        }
        drop(_stop);
        drop(screens);
        (sampler.join().unwrap(), started, early)
    });
    // The user's daemon processes stayed within -C 40 (and the standby).
    assert!(peak <= 40 + 2, "{peak} daemon processes for one user");
    println!(
        "{TMUX} tmux + {SCREEN} screen started in {started:?} ({early} screen windows \
         logged out early by screen); at most {peak} daemon processes per daemon"
    );
}

/// An `updwtmpx(LOG)` per line written to its stdin.
struct Appender(Guarded);

impl Appender {
    fn spawn(mut cmd: Command) -> Appender {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        Appender(Guarded(cmd.spawn().unwrap()))
    }

    /// Appends `line` ("TYPE USER LINE ID PID"), and the program's answer.
    fn append(&mut self, line: &str) -> String {
        let child: &mut Child = &mut self.0 .0;
        writeln!(child.stdin.as_mut().unwrap(), "{line}").unwrap();
        let mut reply = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut reply)
            .unwrap();
        reply.trim().to_string()
    }
}

/// Processes of an ordinary user that tried `updwtmpx` themselves (a
/// server built without libutempter; refused, as glibc's `open()` of wtmp
/// refuses them) and live on hold no daemon process: with `-C 5`, eight
/// of them, each after its append, and then the user's tmux login is
/// recorded. A kept connection held a daemon process per process until
/// the daemon's idle timeout (30 s), counted against `-C`.
#[test]
fn idle_writers_do_not_lock_their_user_out() {
    ensure_user(USER);
    let d = Daemons::start_with(&["-C", "5"]);
    let utmpctl = c_program("utmpctl", Cc::Gnu);
    let mut idle = Vec::new();
    for i in 0..8 {
        let mut c = as_user(&d, &utmpctl);
        c.args(["appends", "/var/log/wtmp"]);
        let mut a = Appender::spawn(c);
        let r = a.append(&format!("7 {USER} pts/9{i} u{i} 1"));
        assert_eq!(r, format!("err {}", libc::EACCES), "idle writer {i}");
        idle.push(a);
    }
    let dir = TempDir::new("idle");
    let sock = dir.private_dir("t", USER).join("tmux");
    let st = as_user(&d, "tmux")
        .arg("-S")
        .arg(&sock)
        .args(["new-session", "-d", "sleep 600"])
        .status()
        .unwrap();
    assert!(st.success());
    let line = within(10, "the user's tmux entry", || {
        entries(&d, &["7"]).pop().ok_or_else(|| "none".to_string())
    });
    let w = within(10, "the user's wtmp login", || {
        let w = wtmp(&d);
        match lines_with(&w, &format!("[{line:<12}]")).is_empty() {
            false => Ok(w),
            true => Err(w),
        }
    });
    assert_eq!(lines_with(&w, "[7]").len(), 1, "{w}");
    let _ = as_user(&d, "tmux")
        .arg("-S")
        .arg(&sock)
        .arg("kill-server")
        .status();
    drop(idle);
}

/// A login refused for its user's rate waits for a token within its
/// deadline instead of being lost: with `--rate 2` (a burst of 4), 12
/// tmux servers started at once, with a 10 s deadline, each get their
/// entry and their login, and the daemon did refuse some of them.
#[test]
fn a_login_over_the_rate_waits_for_its_turn() {
    const N: usize = 12;
    ensure_user(USER);
    let d = Daemons::start_with(&["--rate", "2"]);
    let dir = TempDir::new("rate");
    let socks = dir.private_dir("t", USER);
    let tmux = |i: usize| {
        let mut c = as_user(&d, "tmux");
        c.env("UTMPS_TIMEOUT_MS", "10000")
            .arg("-S")
            .arg(socks.join(format!("t{i}")));
        c
    };
    let _servers = Servers {
        tmux: &tmux,
        which: (0..N).collect(),
    };
    let clients: Vec<_> = (0..N)
        .map(|i| {
            tmux(i)
                .args(["new-session", "-d", "sleep 600"])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in clients {
        assert!(c.wait().unwrap().success());
    }
    within(30, "an entry and a login for every server", || {
        let lines = entries(&d, &["7"]);
        let logins = lines_with(&wtmp(&d), "[7]").len();
        match (lines.len(), logins) {
            (N, N) => Ok(()),
            other => Err(format!("(entries, logins) {other:?}")),
        }
    });
    let log = std::fs::read_to_string(d.file(".utmpd-socket.log")).unwrap();
    assert_eq!(
        lines_with(&log, "faster than 2 a second").len(),
        1,
        "no refusal to wait through: {log}"
    );
}
