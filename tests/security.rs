//! The daemons' policy, exercised by real users on real sockets.

use std::process::Command;
use util::{c_program, ensure_user, lines_with, Cc, Daemons, Run};

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
    for cc in Cc::ALL {
        let ctl = c_program("utmpctl", cc);
        let own = d
            .cmd(&ctl)
            .args(["wtmp", "/var/log/wtmp", "7", USER, "pts/80", "80", "1"])
            .user(USER)
            .run();
        assert_eq!(own.stdout.trim(), "ok", "own record: {own}");
        let before = std::fs::read(d.file("wtmp")).unwrap();
        for forged in [OTHER, "root", "nosuchuser", ""] {
            let o = d
                .cmd(&ctl)
                .args(["wtmp", "/var/log/wtmp", "7", forged, "pts/81", "81", "1"])
                .user(USER)
                .run();
            assert_eq!(o.stdout.trim(), "err 13", "record for {forged:?}: {o}");
        }
        assert_eq!(std::fs::read(d.file("wtmp")).unwrap(), before);
        // btmp: root alone.
        let o = d
            .cmd(&ctl)
            .args(["wtmp", "/var/log/btmp", "6", USER, "pts/80", "80", "1"])
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
