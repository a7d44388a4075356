//! The daemons' policy, exercised by real users on real sockets.

use std::process::Command;
use util::{
    c_program, daemon, ensure_user, lines_with, Cc, Daemons, Guarded, PtySession, Run, TempDir,
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
    let sock = dir.path().join("utmpd.sock");
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

#[test]
fn wtmp_accepts_a_users_own_records_only() {
    ensure_user(USER);
    ensure_user(OTHER);
    let d = Daemons::start();
    // A terminal the user owns, and one of root's with a live session.
    let mine = PtySession::start(Some(USER));
    let roots = PtySession::start(None);
    let pid = std::process::id().to_string();
    for cc in Cc::ALL {
        let ctl = c_program("utmpctl", cc);
        let append = |args: &[&str]| {
            let mut all = vec!["wtmp", "/var/log/wtmp"];
            all.extend_from_slice(args);
            d.cmd(&ctl).args(all).user(USER).run()
        };
        let own = append(&["7", USER, &mine.line, "80", "80"]);
        assert_eq!(own.stdout.trim(), "ok", "own login: {own}");
        let own = append(&["8", "", &mine.line, "80", "80"]);
        assert_eq!(own.stdout.trim(), "ok", "own logout: {own}");
        let before = std::fs::read(d.file("wtmp")).unwrap();
        for (what, args) in [
            (
                "another user's name",
                vec!["7", OTHER, &mine.line, "81", "81"],
            ),
            ("root's name", vec!["7", "root", &mine.line, "81", "81"]),
            (
                "no such user",
                vec!["7", "nosuchuser", &mine.line, "81", "81"],
            ),
            ("no name", vec!["7", "", &mine.line, "81", "81"]),
            (
                "a terminal of root's",
                vec!["7", USER, &roots.line, "81", "81"],
            ),
            (
                "ending root's session",
                vec!["8", "", &roots.line, "81", "81"],
            ),
            (
                "ending root's session by name",
                vec!["8", "root", &roots.line, "81", &pid],
            ),
            (
                "a terminal that does not exist",
                vec!["7", USER, "pts/4095", "81", "81"],
            ),
            (
                "a line outside /dev",
                vec!["7", USER, "../tmp/x", "81", "81"],
            ),
            ("a boot record", vec!["2", USER, &mine.line, "~~", "0"]),
            ("a reboot", vec!["2", "reboot", "~", "~~", "0"]),
            ("a run level", vec!["1", "runlevel", "~", "~~", "0"]),
            ("a shutdown", vec!["1", "shutdown", "~", "~~", "0"]),
            ("a login process", vec!["6", USER, &mine.line, "81", "81"]),
            ("an init process", vec!["5", USER, &mine.line, "81", "81"]),
            ("accounting", vec!["9", USER, &mine.line, "81", "81"]),
        ] {
            let o = append(&args);
            assert_eq!(o.stdout.trim(), "err 13", "{what}: {o}");
        }
        // A newline in the host would print a forged line in `last`; an
        // escape would reach root's terminal; a right-to-left override
        // would show the host backwards.
        for host in [
            "x\nroot     pts/7        192.168.1.66",
            "\x1b]2;owned\x07",
            "\u{202e}1.861.291",
        ] {
            let o = append(&["7", USER, &mine.line, "82", "82", host]);
            assert_eq!(o.stdout.trim(), "err 22", "host {host:?}: {o}");
        }
        assert_eq!(std::fs::read(d.file("wtmp")).unwrap(), before, "{cc:?}");
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
    let last = Run::new("last")
        .args(["-w".as_ref(), "-f".as_ref(), d.file("wtmp").as_os_str()])
        .run();
    assert_eq!(lines_with(last.ok(), USER).len(), 2, "{last}");
    assert!(!last.stdout.contains(OTHER), "{last}");
    let lastb = Run::new("lastb")
        .args(["-w".as_ref(), "-f".as_ref(), d.file("btmp").as_os_str()])
        .run();
    assert_eq!(lines_with(lastb.ok(), "UNKNOWN").len(), 2, "{lastb}");
}

/// An ordinary user's record carries the daemon's time and the user's own
/// pid, whatever the user says: no back-dated or future history.
#[test]
fn the_daemon_stamps_ordinary_users_records() {
    ensure_user(USER);
    let d = Daemons::start();
    let mine = PtySession::start(Some(USER));
    let o = d
        .cmd(c_program("utmpctl", Cc::Gnu))
        .args([
            "wtmp",
            "/var/log/wtmp",
            "7",
            USER,
            &mine.line,
            "83",
            "1",
            "h",
            "86400",
        ])
        .user(USER)
        .run();
    assert_eq!(o.stdout.trim(), "ok", "{o}");
    // Root's record is written as it comes.
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
    let dump = Run::new("utmpdump").args([d.file("wtmp")]).run();
    let out = dump.ok();
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{dump}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let year = 1970 + now / 31_556_952;
    assert!(
        lines[0].contains(&format!("{year}")),
        "not stamped now: {dump}"
    );
    assert!(
        !lines[0].contains("[00001]"),
        "the pid must be the peer's: {dump}"
    );
    assert!(lines[1].contains("1970-01-02"), "root's time kept: {dump}");
    assert!(lines[1].contains("[00001]"), "root's pid kept: {dump}");
}

/// Refused appends look nobody up: the type, the line and its owner are
/// checked first, and the only name looked up is the peer's own, by uid,
/// once per connection, never a `ut_user` the client sent (with LDAP or
/// sssd each look-up is a directory query). strace counts the daemon's
/// opens of /etc/passwd.
#[test]
fn refused_appends_look_nobody_up() {
    ensure_user(USER);
    let dir = TempDir::new("lookups");
    let sock = dir.path().join("wtmpd.sock");
    let trace = dir.path().join("trace");
    let strace = Guarded(
        Command::new("strace")
            .args(["-f", "-qq", "-e", "trace=openat", "-o"])
            .arg(&trace)
            .arg(daemon("utmps-wtmpd"))
            .arg("--listen")
            .arg(&sock)
            .arg(dir.path().join("wtmp"))
            .spawn()
            .unwrap(),
    );
    // A tracee outlives its killed tracer: the daemon is ended first.
    let _daemon = KillOnDrop(util::eventually("the traced daemon", || {
        util::children_of(strace.0.id()).first().copied()
    }));
    util::wait_for(&sock);
    let mine = PtySession::start(Some(USER));
    let appends = |lines: String| {
        let o = Run::new(c_program("utmpctl", Cc::Gnu))
            .preload()
            .env("UTMPS_WTMPD_SOCKET", &sock)
            .args(["appends", "/var/log/wtmp"])
            .user(USER)
            .stdin(lines.as_bytes())
            .run();
        o.ok().to_string()
    };
    let opens_reach = |n: usize| {
        util::eventually("the opens of /etc/passwd", || {
            let t = std::fs::read_to_string(&trace).unwrap();
            let opens = lines_with(&t, "\"/etc/passwd\"").len();
            (opens >= n).then_some(opens)
        })
    };
    // Her own logins and logouts, one connection: one look-up.
    let own = format!("7 {USER} {0} 80 1\n8 {USER} {0} 80 1\n", mine.line).repeat(10);
    assert_eq!(lines_with(&appends(own.clone()), "ok").len(), 20);
    assert_eq!(opens_reach(1), 1);
    // 2,000 refusals: reboots in 1,000 names, logins on a terminal not hers.
    let refused: String = (0..1000)
        .map(|i| format!("2 user{i} ~ ~~ 0\n7 {USER} tty1 t1 1\n"))
        .collect();
    let out = appends(refused);
    assert_eq!(lines_with(&out, "err 13").len(), 2000, "{out}");
    // Another connection of hers: the second look-up, and no more, so the
    // 2,000 refusals (traced before it) made none.
    assert_eq!(lines_with(&appends(own), "ok").len(), 20);
    assert_eq!(opens_reach(2), 2);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(opens_reach(2), 2);
}

/// Kills process `.0` (SIGKILL) on drop.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .status();
    }
}
