//! Sessions written through the shim, read back by real programs.

use util::{c_program, lines_with, musl_real, Cc, Daemons, PtySession, Run};

/// Writes a USER_PROCESS entry for `s` as `user` through the shim.
fn login(d: &Daemons, cc: Cc, user: &str, s: &PtySession, host: &str) {
    let id = &s.line[s.line.len().saturating_sub(4)..];
    let out = d
        .cmd(c_program("utmpctl", cc))
        .args(["put", "7", user, &s.line, id, &s.pid.to_string(), host])
        .run();
    assert_eq!(out.ok().trim(), "ok", "{out}");
}

#[test]
fn real_programs_list_sessions_written_by_gcc_and_musl_writers() {
    let d = Daemons::start();
    let glibc_session = PtySession::start(None);
    let musl_session = PtySession::start(None);
    login(&d, Cc::Gnu, "root", &glibc_session, "glibc.example");
    login(&d, Cc::Musl, "root", &musl_session, "musl.example");
    let lines = [&glibc_session.line, &musl_session.line];

    // Debian's own glibc programs.
    let who = d.cmd("who").run();
    for (line, host) in [(lines[0], "glibc.example"), (lines[1], "musl.example")] {
        let l = lines_with(who.ok(), line);
        assert_eq!(l.len(), 1, "who: {who}");
        assert!(
            l[0].starts_with("root") && l[0].contains(host),
            "who: {who}"
        );
    }
    let users = d.cmd("users").run();
    assert_eq!(users.ok().trim(), "root root", "{users}");
    let pinky = d.cmd("pinky").run();
    for line in lines {
        assert_eq!(lines_with(pinky.ok(), line).len(), 1, "pinky: {pinky}");
    }
    let w = d.cmd("w").args(["-h"]).run();
    for line in lines {
        let l = lines_with(w.ok(), line);
        assert_eq!(l.len(), 1, "w: {w}");
        assert!(
            l[0].contains("sleep 600"),
            "w shows the session's process: {w}"
        );
    }

    // Real musl programs, unmodified.
    let mw = d.cmd(musl_real("procps/w")).args(["-h"]).run();
    for line in lines {
        assert_eq!(lines_with(mw.ok(), line).len(), 1, "musl procps w: {mw}");
    }
    let bwho = d.cmd(musl_real("busybox/who")).run();
    for line in lines {
        assert_eq!(lines_with(bwho.ok(), line).len(), 1, "busybox who: {bwho}");
    }
    let busers = d.cmd(musl_real("busybox/users")).run();
    assert_eq!(busers.ok().trim(), "root root", "busybox users: {busers}");

    // Our readers in both libcs see both writers' entries.
    for cc in Cc::ALL {
        let list = d.cmd(c_program("utmpctl", cc)).args(["list"]).run();
        for (line, host) in [(lines[0], "glibc.example"), (lines[1], "musl.example")] {
            let l = lines_with(list.ok(), line);
            assert_eq!(l.len(), 1, "{cc:?} reader: {list}");
            assert!(l[0].starts_with("7 root ") && l[0].contains(host), "{list}");
        }
    }
}

#[test]
fn files_stay_in_the_native_layout_for_direct_readers() {
    let d = Daemons::start();
    let s = PtySession::start(None);
    login(&d, Cc::Musl, "root", &s, "far.example");
    let out = d
        .cmd(c_program("utmpctl", Cc::Gnu))
        .args([
            "wtmp",
            "/var/log/wtmp",
            "7",
            "root",
            &s.line,
            "x",
            &s.pid.to_string(),
        ])
        .run();
    assert_eq!(out.ok().trim(), "ok", "{out}");
    // glibc's 384-byte records, whoever wrote them.
    assert_eq!(std::fs::metadata(d.file("utmp")).unwrap().len(), 384);
    assert_eq!(std::fs::metadata(d.file("wtmp")).unwrap().len(), 384);
    // Readers that open the files themselves, without the shim.
    let dump = Run::new("utmpdump").args([d.file("utmp")]).run();
    assert!(
        dump.ok().contains(&format!("[{}", s.line)) || dump.ok().contains(&s.line),
        "{dump}"
    );
    assert!(dump.ok().contains("far.example"), "{dump}");
    let last = Run::new("last")
        .args(["-f".as_ref(), d.file("wtmp").as_os_str()])
        .run();
    assert_eq!(lines_with(last.ok(), &s.line).len(), 1, "{last}");
    let who = Run::new("who").args([d.file("utmp")]).run();
    assert_eq!(lines_with(who.ok(), &s.line).len(), 1, "{who}");
}

#[test]
fn musl_layout_files_when_asked() {
    let d = Daemons::start_with(&["--format", "musl"]);
    let s = PtySession::start(None);
    login(&d, Cc::Gnu, "root", &s, "h");
    assert_eq!(std::fs::metadata(d.file("utmp")).unwrap().len(), 400);
    let list = d.cmd(c_program("utmpctl", Cc::Musl)).args(["list"]).run();
    assert_eq!(lines_with(list.ok(), &s.line).len(), 1, "{list}");
}

#[test]
fn search_and_update_follow_glibc() {
    let d = Daemons::start();
    for cc in Cc::ALL {
        let ctl = c_program("utmpctl", cc);
        let put = |args: &[&str]| {
            let o = d.cmd(&ctl).args(["put"]).args(args).run();
            assert_eq!(o.ok().trim(), "ok", "{o}");
        };
        put(&["6", "LOGIN", "tty7", "7", "100"]);
        put(&["7", "alice", "tty8", "8", "101"]);
        // Same id: overwrites the LOGIN_PROCESS slot.
        put(&["7", "bob", "tty7", "7", "102"]);
        let by_id = d.cmd(&ctl).args(["id", "8", "7"]).run();
        assert!(by_id.ok().starts_with("7 bob tty7 7 102"), "{by_id}");
        let by_line = d.cmd(&ctl).args(["line", "tty8"]).run();
        assert!(by_line.ok().starts_with("7 alice tty8 8 101"), "{by_line}");
        let missing = d.cmd(&ctl).args(["line", "tty9"]).run();
        assert_eq!(missing.stdout.trim(), "err 3", "ESRCH: {missing}");
        let invalid = d.cmd(&ctl).args(["id", "0", "7"]).run();
        assert_eq!(invalid.stdout.trim(), "err 22", "EINVAL: {invalid}");
        let list = d.cmd(&ctl).args(["list"]).run();
        assert_eq!(list.ok().lines().count(), 2, "{list}");
        // Start over for the other compiler.
        std::fs::write(d.file("utmp"), b"").unwrap();
    }
}
