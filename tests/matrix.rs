//! The permission matrix: every operation on utmp, wtmp and btmp by root,
//! a member of the daemons' group (through a supplementary group), and two
//! ordinary users, against the expected allow/deny; the files' bytes are
//! checked after every refusal.

use std::process::Command;
use util::{c_program, ensure_user, wait_for, Cc, Guarded, PtySession, Run, TempDir};

const GROUP: &str = "utmpstestgrp";
const MEMBER: &str = "utmpstest3";
const USER1: &str = "utmpstest1";
const USER2: &str = "utmpstest2";

#[test]
fn who_may_do_what() {
    for u in [MEMBER, USER1, USER2] {
        ensure_user(u);
    }
    let st = Command::new("groupadd")
        .args(["-f", GROUP])
        .status()
        .unwrap();
    assert!(st.success());
    let st = Command::new("usermod")
        .args(["-aG", GROUP, MEMBER])
        .status()
        .unwrap();
    assert!(st.success());
    // The three daemons with GROUP as their effective group, as a real
    // installation runs them with group utmp.
    let dir = TempDir::new("matrix");
    let d = dir.path();
    let mut procs = Vec::new();
    for (bin, sock, file, extra) in [
        ("utmps-utmpd", ".utmpd-socket", "utmp", None),
        ("utmps-wtmpd", ".wtmpd-socket", "wtmp", None),
        ("utmps-wtmpd", ".btmpd-socket", "btmp", Some("--root-only")),
    ] {
        let mut c = Command::new("setpriv");
        c.arg(format!("--regid={GROUP}"))
            .arg("--clear-groups")
            .arg(util::daemon(bin));
        c.arg("--listen")
            .arg(d.join(sock))
            .args(extra)
            .arg(d.join(file))
            .current_dir(d);
        procs.push(Guarded(c.spawn().unwrap()));
        wait_for(&d.join(sock));
    }
    let run = |user: &str, prog: &str, args: &[&str], stdin: Option<&str>| -> String {
        let mut r = Run::new(c_program(prog, Cc::Gnu))
            .preload()
            .sockets_in(d)
            .args(args);
        if user != "root" {
            r = r.user(user);
        }
        if let Some(s) = stdin {
            r = r.stdin(s.as_bytes());
        }
        r.run().stdout
    };
    // Something in every file first, written by root.
    assert_eq!(
        run(
            "root",
            "utmpctl",
            &["put", "7", "root", "tty1", "1", "1"],
            None
        )
        .trim(),
        "ok"
    );
    assert_eq!(
        run(
            "root",
            "utmpctl",
            &["wtmp", "/var/log/wtmp", "7", "root", "tty1", "1", "1"],
            None
        )
        .trim(),
        "ok"
    );
    assert_eq!(
        run(
            "root",
            "utmpctl",
            &["wtmp", "/var/log/btmp", "6", "x", "tty1", "1", "1"],
            None
        )
        .trim(),
        "ok"
    );

    // (operation, file it may change, program, args with {me} for the user's
    // own name, stdin, allowed for [root, member, user1, user2])
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a [&'a str],
        Option<&'a str>,
        [bool; 4],
    );
    let cases: &[Case] = &[
        ("read utmp", "utmp", "utmpctl", &["list"], None, [true; 4]),
        (
            "add a utmp entry",
            "utmp",
            "utmpctl",
            &["put", "7", "{me}", "pts/70", "p70", "1"],
            None,
            [true, true, false, false],
        ),
        (
            "overwrite root's utmp entry",
            "utmp",
            "utmpctl",
            &["put", "8", "", "tty1", "1", "1"],
            None,
            [true, true, false, false],
        ),
        (
            "append an own wtmp record",
            "wtmp",
            "utmpctl",
            &["wtmp", "/var/log/wtmp", "7", "{me}", "{tty}", "1", "1"],
            None,
            [true, true, false, false],
        ),
        (
            "append an own logout",
            "wtmp",
            "utmpctl",
            &["wtmp", "/var/log/wtmp", "8", "", "{tty}", "1", "1"],
            None,
            [true, true, false, false],
        ),
        (
            "append root's wtmp record",
            "wtmp",
            "utmpctl",
            &["wtmp", "/var/log/wtmp", "7", "root", "{tty}", "1", "1"],
            None,
            [true, true, false, false],
        ),
        (
            "append another user's wtmp record",
            "wtmp",
            "utmpctl",
            &[
                "wtmp",
                "/var/log/wtmp",
                "7",
                "utmpstest2",
                "{tty}",
                "1",
                "1",
            ],
            None,
            [true, true, false, false],
        ),
        (
            "end root's session in wtmp",
            "wtmp",
            "utmpctl",
            &["wtmp", "/var/log/wtmp", "8", "", "{roottty}", "1", "1"],
            None,
            [true, true, false, false],
        ),
        (
            "append a boot record",
            "wtmp",
            "utmpctl",
            &["wtmp", "/var/log/wtmp", "2", "reboot", "~", "~~", "0"],
            None,
            [true, true, false, false],
        ),
        (
            "read wtmp",
            "wtmp",
            "sequence",
            &["/var/log/wtmp"],
            Some("get\n"),
            [true; 4],
        ),
        (
            "rewrite wtmp in place",
            "wtmp",
            "sequence",
            &["/var/log/wtmp"],
            Some("put 7 1 tty1 1 {me} - 1 2 3 4 a\n"),
            [true, false, false, false],
        ),
        (
            "append to btmp",
            "btmp",
            "utmpctl",
            &["wtmp", "/var/log/btmp", "6", "{me}", "{tty}", "1", "1"],
            None,
            [true, false, false, false],
        ),
        (
            "read btmp",
            "btmp",
            "sequence",
            &["/var/log/btmp"],
            Some("get\n"),
            [true, false, false, false],
        ),
    ];
    let users = ["root", MEMBER, USER1, USER2];
    // Each user's own terminal ({tty}), with a live session.
    let ttys: Vec<PtySession> = users
        .iter()
        .map(|u| PtySession::start((*u != "root").then_some(*u)))
        .collect();
    let mut checked = 0;
    for (name, file, prog, args, stdin, allowed) in cases {
        for ((who, &allow), tty) in users.iter().zip(allowed).zip(&ttys) {
            let args: Vec<String> = args
                .iter()
                .map(|a| {
                    a.replace("{me}", who)
                        .replace("{tty}", &tty.line)
                        .replace("{roottty}", &ttys[0].line)
                })
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let stdin = stdin.map(|s| s.replace("{me}", who));
            let before = std::fs::read(d.join(file)).unwrap();
            let out = run(who, prog, &args, stdin.as_deref());
            let first = out.lines().next().unwrap_or("");
            // EACCES, as glibc's own open() of the file would give.
            let refused = first == "err 13"
                || first.starts_with("get fail 13")
                || first.starts_with("put fail 13");
            assert_eq!(!refused, allow, "{name} by {who}: {out:?}");
            if refused {
                assert_eq!(
                    std::fs::read(d.join(file)).unwrap(),
                    before,
                    "{name} by {who}: refused, but {file} changed"
                );
            } else {
                assert!(
                    !first.starts_with("err") && !first.contains("fail"),
                    "{name} by {who}: {out:?}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, cases.len() * 4);
    println!("{checked} permission cases checked");
}
