//! libutempter's API without its setgid helper: tmux, screen and a test
//! program as unprivileged users, and what they may not do.

use std::process::{Command, Stdio};
use util::{
    c_program, c_program_with, ensure_user, eventually, lines_with, open_pty, Cc, Daemons, Guarded,
    Run, TempDir,
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
fn as_user(d: &Daemons, user: &str, program: &str) -> Command {
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
    for (k, v) in d.env() {
        c.env(k, v);
    }
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
    let (master, slave) = open_pty();
    let line = slave.trim_start_matches("/dev/").to_string();
    assert!(Command::new("chown")
        .arg(USER)
        .arg(&slave)
        .status()
        .unwrap()
        .success());
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
