//! The daemons' policy, exercised by real users on real sockets.

use std::process::Command;
use util::{
    c_program, daemon, ensure_user, lines_with, open_pty_of, Cc, Daemons, PtySession, Run, TempDir,
};

const USER: &str = "utmpstest1";
const OTHER: &str = "utmpstest2";

#[test]
fn ordinary_users_cannot_write_utmp_and_leave_it_untouched() {
    ensure_user(USER);
    let d = Daemons::start();
    assert_eq!(
        d.utmpctl(Cc::Gnu, &["put", "7", "root", "pts/90", "90", "1"]),
        "ok"
    );
    let before = std::fs::read(d.file("utmp")).unwrap();
    for cc in Cc::ALL {
        for args in [
            ["put", "7", USER, "pts/91", "91", "1"], // a new entry
            ["put", "8", "", "pts/90", "90", "1"],   // overwrite root's
        ] {
            let o = d.cmd(c_program("utmpctl", cc)).args(args).user(USER).run();
            // EACCES: what glibc's own open() of the file would give.
            assert_eq!(o.stdout.trim(), "err 13", "EACCES expected: {o}");
            assert_eq!(
                std::fs::read(d.file("utmp")).unwrap(),
                before,
                "file changed by a refused write"
            );
        }
        // Reading stays open to everyone.
        let o = d
            .cmd(c_program("utmpctl", cc))
            .args(["list"])
            .user(USER)
            .run();
        assert_eq!(lines_with(o.ok(), "pts/90").len(), 1, "{o}");
    }
}

#[test]
fn members_of_the_daemons_group_may_write_utmp() {
    let group = "utmpstestgrp";
    let member = "utmpstest3";
    ensure_user(member);
    let st = Command::new("groupadd")
        .args(["-f", group])
        .status()
        .unwrap();
    assert!(st.success());
    let st = Command::new("usermod")
        .args(["-aG", group, member])
        .status()
        .unwrap();
    assert!(st.success());
    // utmpd running with that group as its effective group.
    let dir = util::TempDir::new("grp");
    let sock = dir.path().join(".utmpd-socket");
    let _daemon = util::Guarded(
        Command::new("setpriv")
            .arg(format!("--regid={group}"))
            .arg("--clear-groups")
            .arg(util::daemon("utmps-utmpd"))
            .arg("--listen")
            .arg(&sock)
            .arg(dir.path().join("utmp"))
            .spawn()
            .unwrap(),
    );
    util::wait_for(&sock);
    let put = |user: &str, line: &str| {
        Run::new(c_program("utmpctl", Cc::Musl))
            .preload()
            .env("UTMPS_UTMPD_SOCKET", &sock)
            .args(["put", "7", user, line, "g", "1"])
            .user(user)
            .run()
            .stdout
    };
    assert_eq!(put(member, "pts/95").trim(), "ok");
    ensure_user(USER);
    assert_eq!(put(USER, "pts/96").trim(), "err 13");
}

/// glibc lets an ordinary user write no wtmp at all (its `open()` of
/// `root:utmp 0664` fails with `EACCES`), and neither do the daemons: not
/// even a login or logout of the user's own on a terminal they own (with
/// only the slave of a live session, a user could mark it ended). Their
/// sessions reach wtmp through `T`, with the terminal's master
/// (tests/utempter.rs).
#[test]
fn ordinary_users_append_nothing_to_wtmp_directly() {
    ensure_user(USER);
    ensure_user(OTHER);
    let d = Daemons::start();
    // A terminal the user owns, and one of root's with a live session.
    let mine = PtySession::start(Some(USER));
    let roots = PtySession::start(None);
    for cc in Cc::ALL {
        let ctl = c_program("utmpctl", cc);
        let append = |args: &[&str]| {
            let mut all = vec!["wtmp", "/var/log/wtmp"];
            all.extend_from_slice(args);
            d.cmd(&ctl).args(all).user(USER).run()
        };
        let before = std::fs::read(d.file("wtmp")).unwrap_or_default();
        for (what, args) in [
            ("an own login", vec!["7", USER, &mine.line, "80", "80"]),
            ("an own logout", vec!["8", "", &mine.line, "80", "80"]),
            (
                "an own logout by name",
                vec!["8", USER, &mine.line, "80", "80"],
            ),
            (
                "another user's name",
                vec!["7", OTHER, &mine.line, "81", "81"],
            ),
            ("root's name", vec!["7", "root", &mine.line, "81", "81"]),
            (
                "ending root's session",
                vec!["8", "", &roots.line, "81", "81"],
            ),
            ("a reboot", vec!["2", "reboot", "~", "~~", "0"]),
            ("a shutdown", vec!["1", "shutdown", "~", "~~", "0"]),
            ("a login process", vec!["6", USER, &mine.line, "81", "81"]),
            // Refused as the rest, whatever the text.
            (
                "a newline in the host",
                vec!["7", USER, &mine.line, "82", "82", "x\nroot  pts/7"],
            ),
        ] {
            let o = append(&args);
            assert_eq!(o.stdout.trim(), "err 13", "{what}: {o}");
        }
        assert_eq!(
            std::fs::read(d.file("wtmp")).unwrap_or_default(),
            before,
            "{cc:?}"
        );
        // btmp: root alone.
        let o = d
            .cmd(&ctl)
            .args(["wtmp", "/var/log/btmp", "6", USER, &mine.line, "80", "80"])
            .user(USER)
            .run();
        assert_eq!(o.stdout.trim(), "err 13", "btmp: {o}");
        let o = d
            .cmd(&ctl)
            .args(["wtmp", "/var/log/btmp", "6", "UNKNOWN", "pts/80", "80", "1"])
            .run();
        assert_eq!(o.stdout.trim(), "ok", "btmp as root: {o}");
    }
    let lastb = Run::new("lastb")
        .args(["-w".as_ref(), "-f".as_ref(), d.file("btmp").as_os_str()])
        .run();
    assert_eq!(lines_with(lastb.ok(), "UNKNOWN").len(), 2, "{lastb}");
}

/// An ordinary user's wtmp record (through `T`) carries the daemon's time
/// and the user's own pid; root's is written as it comes.
#[test]
fn the_daemon_stamps_ordinary_users_records() {
    ensure_user(USER);
    let d = Daemons::start();
    let (master, _) = open_pty_of(USER);
    let o = d
        .cmd(util::c_program_with("utempter", Cc::Gnu, &["-lutempter"]))
        .args(["add", "0", "h"])
        .user(USER)
        .stdin_file(master)
        .run();
    assert_eq!(o.ok().trim(), "1", "{o}");
    let o = d
        .cmd(c_program("utmpctl", Cc::Gnu))
        .args([
            "wtmp",
            "/var/log/wtmp",
            "7",
            "root",
            "tty9",
            "83",
            "1",
            "h",
            "86400",
        ])
        .run();
    assert_eq!(o.stdout.trim(), "ok", "{o}");
    let dump = util::eventually("both records", || {
        let dump = Run::new("utmpdump").args([d.file("wtmp")]).run();
        (dump.ok().lines().count() == 2).then_some(dump)
    });
    let out = dump.ok();
    let lines: Vec<_> = out.lines().collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let year = 1970 + now / 31_556_952;
    assert!(
        lines[0].contains(USER) && lines[0].contains(&format!("{year}")),
        "not stamped now: {dump}"
    );
    assert!(
        !lines[0].contains("[00000]") && !lines[0].contains("[00001]"),
        "the pid must be the peer's: {dump}"
    );
    assert!(lines[1].contains("1970-01-02"), "root's time kept: {dump}");
    assert!(lines[1].contains("[00001]"), "root's pid kept: {dump}");
}

/// Refused appends look nobody up, and the only name looked up is the
/// peer's own, by uid, once per connection (`T`), never a `ut_user` the
/// client sent (with LDAP or sssd each look-up is a directory query).
/// strace counts the opens of /etc/passwd by wtmpd's processes.
#[test]
fn refused_appends_look_nobody_up() {
    ensure_user(USER);
    let d = Daemons::start();
    let dir = TempDir::new("lookups");
    let sock = dir.path().join("wtmpd.sock");
    let trace = dir.path().join("trace");
    let mut strace = Command::new("strace");
    strace
        .args(["-f", "-qq", "-e", "trace=openat", "-o"])
        .arg(&trace)
        .arg(daemon("utmps-wtmpd"))
        .arg("--listen")
        .arg(&sock)
        .arg(dir.path().join("wtmp"));
    let _daemon = Traced::spawn(strace, &sock);
    util::wait_for(&sock);
    let (master, slave) = open_pty_of(USER);
    let line = slave.trim_start_matches("/dev/").to_string();
    let utempter = |args: &[&str]| {
        let o = d
            .cmd(util::c_program_with("utempter", Cc::Gnu, &["-lutempter"]))
            .env("UTMPS_WTMPD_SOCKET", &sock)
            .args(args)
            .user(USER)
            .stdin_file(master.try_clone().unwrap())
            .run();
        assert_eq!(o.ok().trim(), "1", "{o}");
    };
    let opens_reach = |n: usize| {
        util::eventually("the opens of /etc/passwd", || {
            let t = std::fs::read_to_string(&trace).unwrap();
            let opens = lines_with(&t, "\"/etc/passwd\"").len();
            (opens >= n).then_some(opens)
        })
    };
    // Her session through `T`, one connection: one look-up.
    utempter(&["add", "0", "h"]);
    assert_eq!(opens_reach(1), 1);
    // 200 refusals, a connection each (an ordinary user's append
    // connection is not kept; 50 new ones a second): reboots in 100
    // names, logins of hers on her own terminal.
    let refused: String = (0..100)
        .map(|i| format!("2 user{i} ~ ~~ 0\n7 {USER} {line} t1 1\n"))
        .collect();
    let o = Run::new(c_program("utmpctl", Cc::Gnu))
        .preload()
        .env("UTMPS_WTMPD_SOCKET", &sock)
        .args(["appends", "/var/log/wtmp"])
        .user(USER)
        .stdin(refused.as_bytes())
        .run();
    assert_eq!(lines_with(o.ok(), "err 13").len(), 200, "{o}");
    // Her logout, another connection: the second look-up, and no more, so
    // the 200 refusals (traced before it) made none.
    utempter(&["remove", "0"]);
    assert_eq!(opens_reach(2), 2);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(opens_reach(2), 2);
    let wtmp = std::fs::metadata(dir.path().join("wtmp")).unwrap().len();
    assert_eq!(wtmp, 2 * 384, "her login and logout alone");
}

/// A program run under strace, ended on drop: every process whose command
/// line names `mark` (the program and its forks), then strace once it has
/// seen them go. Killed first, strace leaves its tracees running.
struct Traced {
    strace: std::process::Child,
    mark: String,
}

impl Traced {
    fn spawn(mut strace: Command, mark: &std::path::Path) -> Traced {
        Traced {
            strace: strace.spawn().unwrap(),
            mark: mark.to_string_lossy().into_owned(),
        }
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < until && matches!(self.strace.try_wait(), Ok(None)) {
            for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
                let ours = String::from_utf8_lossy(&cmd).contains(&self.mark);
                if ours && pid as u32 != self.strace.id() {
                    // SAFETY: kill(2) on a pid whose command line names
                    // this test's own directory.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.strace.kill();
        let _ = self.strace.wait();
    }
}
