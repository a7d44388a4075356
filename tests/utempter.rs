//! libutempter's API without its setgid helper: tmux, screen and a test
//! program as unprivileged users, and what they may not do.

use std::process::{Command, Stdio};
use util::{
    c_program, c_program_with, ensure_user, eventually, lines_with, open_pty_of, Cc, Daemons,
    Guarded, Run, TempDir,
};

const USER: &str = "utmpstest1";
const OTHER: &str = "utmpstest2";

/// The utmp entries, as our musl reader lists them.
fn entries(d: &Daemons) -> String {
    d.cmd(c_program("utmpctl", Cc::Musl))
        .args(["list"])
        .run()
        .ok()
        .to_string()
}

/// `utmpdump` of wtmp once it holds `n` records for `line` (the shim
/// appends after utmpd answers, so they may trail the utmp entry).
fn wtmp_records(d: &Daemons, line: &str, n: usize) -> String {
    let dump = eventually("the wtmp records", || {
        let dump = Run::new("utmpdump").args([d.file("wtmp")]).run();
        let out = dump.ok().to_string();
        (lines_with(&out, line).len() >= n).then_some(out)
    });
    assert_eq!(lines_with(&dump, line).len(), n, "{dump}");
    dump
}

/// A command run as `user` with the shim and the daemons' sockets.
pub fn as_user(d: &Daemons, user: &str, program: &str) -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        &format!("--reuid={user}"),
        &format!("--regid={user}"),
        "--init-groups",
        program,
    ])
    .env("LD_PRELOAD", util::shim())
    .env("HOME", format!("/home/{user}"))
    .env("TERM", "xterm")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    d.bind(&mut c);
    c
}

#[test]
fn tmux_sessions_of_an_ordinary_user_come_and_go() {
    ensure_user(USER);
    let d = Daemons::start();
    let dir = TempDir::new("tmux");
    let sock = dir.private_dir("t", USER).join("tmux.sock");
    let st = as_user(&d, USER, "tmux")
        .args(["-S".as_ref(), sock.as_os_str()])
        .args(["new-session", "-d", "-s", "t", "sleep 600"])
        .status()
        .unwrap();
    assert!(st.success());
    let kill_server = || {
        let _ = as_user(&d, USER, "tmux")
            .args(["-S".as_ref(), sock.as_os_str()])
            .arg("kill-server")
            .status();
    };
    let line = eventually("tmux's USER_PROCESS entry", || {
        let who = d.cmd("who").run();
        let l = lines_with(who.ok(), USER).first().map(|l| l.to_string());
        l.filter(|l| l.contains("(tmux("))
            .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
    });
    let st = as_user(&d, USER, "tmux")
        .args(["-S".as_ref(), sock.as_os_str()])
        .args(["kill-session", "-t", "t"])
        .status()
        .unwrap();
    kill_server();
    assert!(st.success());
    eventually("the entry to turn into DEAD_PROCESS", || {
        entries(&d)
            .lines()
            .any(|l| l.starts_with(&format!("8 {USER} {line} ")))
            .then_some(())
    });
    let who = d.cmd("who").run();
    assert!(lines_with(who.ok(), USER).is_empty(), "{who}");
    // The shim appends to wtmp after utmpd has answered: wait for it.
    let dump = wtmp_records(&d, &line, 2);
    let recs: Vec<_> = lines_with(&dump, &line);
    assert!(
        recs[0].starts_with("[7]") && recs[0].contains(USER) && recs[1].starts_with("[8]"),
        "{dump}"
    );
    let last = Run::new("last")
        .args(["-w".as_ref(), "-f".as_ref(), d.file("wtmp").as_os_str()])
        .run();
    assert_eq!(lines_with(last.ok(), USER).len(), 1, "{last}");
}

#[test]
fn every_window_of_a_busy_tmux_session_is_recorded_within_the_limits() {
    let _heavy = util::heavy();
    // The per-user limits (40 clients at once, 50 connections a second,
    // the append budget) must not cost a normal session a window: 40
    // windows opened at once, then all closed.
    const WINDOWS: usize = 40;
    ensure_user(USER);
    let d = Daemons::start();
    let dir = TempDir::new("tmux40");
    let sock = dir.private_dir("t", USER).join("tmux.sock");
    let tmux = || {
        let mut c = as_user(&d, USER, "tmux");
        c.args(["-S".as_ref(), sock.as_os_str()]);
        c
    };
    let mut args = vec!["new-session", "-d", "-s", "t", "sleep 600"];
    for _ in 1..WINDOWS {
        args.extend([";", "new-window", "-t", "t", "sleep 600"]);
    }
    assert!(tmux().args(&args).status().unwrap().success());
    let lines = eventually("an entry for every window", || {
        let who = d.cmd("who").run();
        let l: Vec<String> = lines_with(who.ok(), "(tmux(")
            .iter()
            .filter(|l| l.starts_with(USER))
            .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
            .collect();
        (l.len() == WINDOWS).then_some(l)
    });
    let _ = tmux().arg("kill-server").status();
    eventually("every window's DEAD_PROCESS entry", || {
        let e = entries(&d);
        lines
            .iter()
            .all(|line| {
                e.lines()
                    .any(|l| l.starts_with(&format!("8 {USER} {line} ")))
            })
            .then_some(())
    });
    let dump = eventually("a login and a logout per window in wtmp", || {
        let dump = Run::new("utmpdump").args([d.file("wtmp")]).run();
        let out = dump.ok().to_string();
        (lines_with(&out, USER).len() >= 2 * WINDOWS).then_some(out)
    });
    for line in &lines {
        let recs = lines_with(&dump, &format!("[{line:<12}]"));
        assert!(
            recs.len() == 2 && recs[0].starts_with("[7]") && recs[1].starts_with("[8]"),
            "{line}: {dump}"
        );
    }
}

#[test]
fn screen_windows_of_an_ordinary_user_come_and_go() {
    // screen logs its windows in while a display is attached and out when
    // it detaches (screen's own design): attach it to a pty with `script`.
    ensure_user(USER);
    let d = Daemons::start();
    let dir = TempDir::new("screen");
    let screendir = dir.private_dir("s", USER);
    let mut attached = as_user(&d, USER, "script");
    attached
        .args(["-qfc", "screen -S t sleep 600", "/dev/null"])
        .env("SCREENDIR", &screendir)
        .stdin(Stdio::piped());
    let _display = Guarded(attached.spawn().unwrap());
    let screen = |cmd: &str| {
        as_user(&d, USER, "screen")
            .env("SCREENDIR", &screendir)
            .args(["-S", "t", "-X", cmd])
            .status()
            .unwrap()
    };
    let line = eventually("screen's USER_PROCESS entry", || {
        let who = d.cmd("who").run();
        lines_with(who.ok(), USER)
            .first()
            .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
    });
    assert!(screen("detach").success());
    eventually("the detached window's DEAD_PROCESS entry", || {
        entries(&d)
            .lines()
            .any(|l| l.starts_with(&format!("8 {USER} {line} ")))
            .then_some(())
    });
    assert!(screen("quit").success());
    let dump = wtmp_records(&d, &line, 2);
    let recs = lines_with(&dump, &line);
    assert!(
        recs[0].starts_with("[7]") && recs[1].starts_with("[8]"),
        "{dump}"
    );
}

#[test]
fn only_the_owner_of_a_pty_may_add_or_remove_its_entry() {
    ensure_user(USER);
    ensure_user(OTHER);
    let d = Daemons::start();
    let prog = c_program_with("utempter", Cc::Gnu, &["-lutempter"]);
    let (master, slave) = open_pty_of(USER);
    let line = slave.trim_start_matches("/dev/").to_string();
    let run = |user: &str, args: &[&str]| {
        d.cmd(&prog)
            .args(args)
            .user(user)
            .stdin_file(master.try_clone().unwrap())
            .env("LOGNAME", "root")
            .env("USER", "root")
            .run()
    };
    // Someone else's pty: refused, nothing written.
    let o = run(OTHER, &["add", "0", "intruder"]);
    assert_eq!(o.ok().trim(), "0", "{o}");
    assert!(
        !std::fs::read(d.file("utmp"))
            .map(|b| !b.is_empty())
            .unwrap_or(false),
        "utmp written"
    );
    // The owner: the entry names them, whatever their environment says.
    let o = run(USER, &["add", "0", "owner.example"]);
    assert_eq!(o.ok().trim(), "1", "{o}");
    let list = entries(&d);
    let l = lines_with(&list, &line);
    assert_eq!(l.len(), 1, "{list}");
    assert!(
        l[0].starts_with(&format!("7 {USER} {line} ")) && l[0].contains("owner.example"),
        "{list}"
    );
    let before = std::fs::read(d.file("utmp")).unwrap();
    // The other user cannot remove it either.
    let o = run(OTHER, &["remove", "0"]);
    assert_eq!(o.ok().trim(), "0", "{o}");
    assert_eq!(std::fs::read(d.file("utmp")).unwrap(), before);
    // Nor write any entry directly.
    let o = d
        .cmd(c_program("utmpctl", Cc::Gnu))
        .args(["put", "8", OTHER, &line, "x", "1"])
        .user(OTHER)
        .run();
    assert_eq!(o.stdout.trim(), "err 13", "{o}");
    assert_eq!(std::fs::read(d.file("utmp")).unwrap(), before);
    // Something that is not a pty master proves nothing.
    let file = std::fs::File::open("/etc/passwd").unwrap();
    let o = d
        .cmd(&prog)
        .args(["add", "0", "x"])
        .user(USER)
        .stdin_file(file)
        .run();
    assert_eq!(o.ok().trim(), "0", "{o}");
    // The owner removes it.
    let o = run(USER, &["remove", "0"]);
    assert_eq!(o.ok().trim(), "1", "{o}");
    assert!(lines_with(&entries(&d), &line)[0].starts_with(&format!("8 {USER} {line} ")));
    let o = run(USER, &["add-remove", "0"]);
    assert_eq!(o.ok().trim(), "1 1", "{o}");
    // wtmp: the owner's four records, nothing from the other user.
    let dump = Run::new("utmpdump").args([d.file("wtmp")]).run();
    assert_eq!(lines_with(dump.ok(), USER).len(), 4, "{dump}");
    assert!(
        !dump.stdout.contains(OTHER) && !dump.stdout.contains("intruder"),
        "{dump}"
    );
}

#[test]
fn without_a_daemon_tmux_and_screen_still_work() {
    ensure_user(USER);
    let dir = TempDir::new("nodaemon");
    let missing = dir.path().join("missing.sock");
    let run_as = |program: &str| {
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={USER}"),
            &format!("--regid={USER}"),
            "--init-groups",
            program,
        ])
        .env("LD_PRELOAD", util::shim())
        .env("HOME", format!("/home/{USER}"))
        .env("TERM", "xterm")
        .env("UTMPS_UTMPD_SOCKET", &missing)
        .env("UTMPS_WTMPD_SOCKET", &missing)
        .stdin(Stdio::null());
        c
    };
    let sock = dir.private_dir("t", USER).join("tmux.sock");
    let tmux = |args: &[&str]| {
        run_as("tmux")
            .args(["-S".as_ref(), sock.as_os_str()])
            .args(args)
            .output()
            .unwrap()
    };
    assert!(tmux(&["new-session", "-d", "-s", "n", "sleep 600"])
        .status
        .success());
    let ls = tmux(&["list-sessions"]);
    assert!(
        String::from_utf8_lossy(&ls.stdout).starts_with("n: 1 windows"),
        "{ls:?}"
    );
    assert!(tmux(&["kill-server"]).status.success());

    let screendir = dir.private_dir("s", USER);
    let mut attached = run_as("script");
    attached
        .args(["-qfc", "screen -S n sleep 600", "/dev/null"])
        .env("SCREENDIR", &screendir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    let _display = Guarded(attached.spawn().unwrap());
    eventually("screen to run", || {
        let ls = run_as("screen")
            .env("SCREENDIR", &screendir)
            .arg("-ls")
            .output()
            .unwrap();
        String::from_utf8_lossy(&ls.stdout)
            .contains(".n\t")
            .then_some(())
    });
    let quit = run_as("screen")
        .env("SCREENDIR", &screendir)
        .args(["-S", "n", "-X", "quit"])
        .status()
        .unwrap();
    assert!(quit.success());
}

/// A user can mount a devpts instance of their own (`unshare -Urm`, `mount
/// -t devpts -o newinstance`), where pty numbers restart at 0 and every
/// slave is theirs. A master from there names a `pts/N` that is not its
/// terminal: the daemon proves the slave is the device at `/dev/pts/N` in
/// its own view, so root's entry on that line stays root's.
#[test]
fn a_private_devpts_instance_proves_nothing() {
    ensure_user(USER);
    let d = Daemons::start();
    let root = util::PtySession::start(None);
    let n: u32 = root.line.trim_start_matches("pts/").parse().unwrap();
    let o = d.utmpctl(
        Cc::Gnu,
        &[
            "put",
            "7",
            "root",
            &root.line,
            "rt",
            &root.pid.to_string(),
            "root.example",
        ],
    );
    assert_eq!(o, "ok");
    let utmp_before = std::fs::read(d.file("utmp")).unwrap();
    let wtmp_before = std::fs::read(d.file("wtmp")).unwrap();
    let prog = c_program_with("utempter", Cc::Gnu, &["-lutempter"]);
    let attacker = c_program("attacker", Cc::Gnu);
    let inside = format!(
        "mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts && \
         exec {} pty {n} {} add 0 evil.example",
        attacker.display(),
        prog.display()
    );
    // The user's own namespace where the kernel allows it (Debian's
    // default), else one root prepares for the user: the daemon sees the
    // same thing, a master of a foreign devpts instance.
    let userns = Run::new("unshare").args(["-Urm", "true"]).user(USER).run();
    let o = if userns.status.success() {
        d.cmd("unshare")
            .args(["-Urm", "sh", "-c", &inside])
            .user(USER)
            .run()
    } else {
        let setup = format!(
            "mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts && \
             exec setpriv --reuid={USER} --regid={USER} --init-groups {} pty {n} {} add 0 evil.example",
            attacker.display(),
            prog.display()
        );
        d.cmd("unshare").args(["-m", "sh", "-c", &setup]).run()
    };
    assert_eq!(o.stdout.trim(), "0", "the add must fail: {o}");
    assert_eq!(
        std::fs::read(d.file("utmp")).unwrap(),
        utmp_before,
        "utmp changed"
    );
    assert_eq!(
        std::fs::read(d.file("wtmp")).unwrap(),
        wtmp_before,
        "wtmp changed"
    );
    let list = entries(&d);
    let l = lines_with(&list, &root.line);
    assert_eq!(l.len(), 1, "{list}");
    assert!(
        l[0].starts_with(&format!("7 root {} ", root.line)),
        "{list}"
    );
    // A host with a control or format character (a right-to-left
    // override, a zero-width space, a BOM) is refused on the user's real
    // pty: `who` and `last` would print it.
    let (master, _) = open_pty_of(USER);
    for host in [
        "tmux\n7 root pts/0",
        "moc.elpmaxe\u{202e}",
        "root\u{200b}.example",
        "\u{feff}host",
    ] {
        let o = d
            .cmd(&prog)
            .args(["add", "0", host])
            .user(USER)
            .stdin_file(master.try_clone().unwrap())
            .run();
        assert_eq!(o.ok().trim(), "0", "{host:?}: {o}");
    }
    assert_eq!(std::fs::read(d.file("utmp")).unwrap(), utmp_before);
}

/// xterm adds its terminal before its child unlocks the pty (the order of
/// posix_openpt, grantpt, utempter_add_record, unlockpt): the entry is
/// written, as libutempter's setgid helper writes it, and the slave opens.
#[test]
fn a_pty_added_before_unlockpt_is_recorded() {
    ensure_user(USER);
    let d = Daemons::start();
    let prog = c_program_with("utempter", Cc::Gnu, &["-lutempter"]);
    let o = d.cmd(&prog).args(["locked", ":87"]).user(USER).run();
    let out = o.ok().trim().to_string();
    let f: Vec<_> = out.split(' ').collect();
    assert!(f.len() == 3 && f[0] == "1" && f[2] == "opens", "{o}");
    let list = entries(&d);
    assert!(
        lines_with(&list, f[1])
            .iter()
            .any(|l| l.starts_with(&format!("7 {USER} {} ", f[1])) && l.contains(":87")),
        "{list}"
    );
}

#[test]
fn a_terminal_killed_as_its_entry_is_added_leaves_both_wtmp_records() {
    // xterm removes its entry in its SIGTERM handler and exits. Killed
    // while the shim is adding that entry (here: a timer 100 us into the
    // call), the handler ran mid-call, found no entry added and exited:
    // the utmp entry stayed and wtmp lost the login, the logout or both
    // (libutempter's helper, a process of its own, finishes its writes).
    // The shim holds signals back for the call: the handler runs after
    // it, and removes what was added.
    // On a loaded machine the timer may also fire before the call begins:
    // then nothing is added (exit status 4, the handler's removal found
    // nothing) and nothing may be recorded either. What may never be is
    // the handler in the middle: a removal that finds nothing while the
    // entry or its login record lands anyway.
    ensure_user(USER);
    let d = Daemons::start();
    let prog = c_program_with("utempter", Cc::Gnu, &["-lutempter"]);
    let mut added = 0;
    for round in 0..10 {
        let o = d.cmd(&prog).args(["killed", ":88"]).user(USER).run();
        let line = o.stdout.trim().to_string();
        assert!(line.starts_with("pts/"), "round {round}: {o}");
        let field = format!("[{line:<12}]");
        match o.status.code() {
            Some(0) => {
                added += 1;
                // The login and the logout, in that order.
                let dump = wtmp_records(&d, &field, 2);
                let kinds: Vec<_> = lines_with(&dump, &field)
                    .iter()
                    .map(|l| l[..3].to_string())
                    .collect();
                assert_eq!(kinds, ["[7]", "[8]"], "round {round}: {dump}");
            }
            Some(4) => {
                // Killed before the call: give a late write time to land.
                std::thread::sleep(std::time::Duration::from_millis(300));
                let dump = Run::new("utmpdump").args([d.file("wtmp")]).run();
                assert!(
                    lines_with(dump.ok(), &field).is_empty(),
                    "round {round}: recorded, yet the handler found nothing added: {dump}"
                );
            }
            _ => panic!("round {round}: {o}"),
        }
        let list = entries(&d);
        assert!(
            !lines_with(&list, &line).iter().any(|l| l.starts_with("7 ")),
            "round {round}: the entry stayed: {list}"
        );
        // The next round may get the same pty: start from an empty wtmp.
        std::fs::write(d.file("wtmp"), b"").unwrap();
    }
    assert!(added > 0, "the timer never fired inside the call");
}

/// libutempter's setgid helper, run by hand by a user with the shim
/// preloaded system-wide, reaches the daemons as group utmp: 5,000 runs
/// past the user's budget write no more than the budget allows, charged
/// to the user's own uid whatever the group.
#[test]
fn the_setgid_helper_run_by_hand_is_held_to_the_users_budget() {
    let _heavy = util::heavy();
    let helper = "/usr/lib/x86_64-linux-gnu/utempter/utempter";
    assert!(
        std::path::Path::new(helper).exists(),
        "libutempter's helper is missing (Debian package libutempter0)"
    );
    ensure_user(USER);
    // The daemons with group utmp, as installed: the helper's egid then
    // opens the writers' lane.
    let d = TempDir::new("helper-daemons");
    let mut daemons = Vec::new();
    for (bin, sock, file, extra) in [
        ("utmps-utmpd", ".utmpd-socket", "utmp", &[][..]),
        (
            "utmps-wtmpd",
            ".wtmpd-socket",
            "wtmp",
            &["--budget", "50/3600"][..],
        ),
    ] {
        let mut c = Command::new("setpriv");
        c.args(["--regid=utmp", "--clear-groups"])
            .arg(util::daemon(bin))
            .args(extra)
            .arg("--listen")
            .arg(d.path().join(sock))
            .arg(d.path().join(file))
            .current_dir(d.path());
        daemons.push(Guarded(c.spawn().unwrap()));
        util::wait_for(&d.path().join(sock));
    }
    let dir = TempDir::new("helper");
    let prog = c_program_with("utempter", Cc::Gnu, &["-lutempter"]);
    let script = r#"
setpriv --reuid="$USER" --regid="$USER" --init-groups "$PROG" helper 5000 "$HELPER"
umount /etc
"#;
    let o = util::preloaded_system_wide(dir.path(), script)
        .env("USER", USER)
        .env("PROG", &prog)
        .env("HELPER", helper)
        .sockets_in(d.path())
        .timeout(std::time::Duration::from_secs(300))
        .run();
    assert!(
        !std::path::Path::new("/etc/ld.so.preload").exists(),
        "the machine's preload file appeared"
    );
    assert_eq!(o.ok().trim(), "ran 5000 ok 5000", "{o}");
    let dump = Run::new("utmpdump").args([d.path().join("wtmp")]).run();
    let theirs = lines_with(dump.ok(), USER).len();
    println!("5,000 runs of the setgid helper: {theirs} wtmp records ({o})");
    assert!(theirs > 0, "the helper never reached wtmpd: {o}");
    assert!(theirs <= 50, "{theirs} records past a budget of 50");
}
