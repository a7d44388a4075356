//! Real login programs and log readers under the shim.

use std::process::{Command, Stdio};
use util::{
    c_program, ensure_user, eventually, lines_with, musl_real, open_pty, Cc, Daemons, Guarded, Run,
    TempDir,
};

const USER: &str = "utmpstest1";

#[test]
fn shadow_login_records_a_session_and_it_ends_with_the_logout() {
    ensure_user(USER);
    let d = Daemons::start();
    let mark = TempDir::new("login");
    let done = mark.path().join("done");
    // `script` gives login a pseudo-terminal; the commands wait for our mark.
    let commands = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; exit\n",
        done.display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qfc", &format!("login -f {USER}"), "/dev/null"])
        .env("LD_PRELOAD", util::shim())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    d.bind(&mut cmd);
    let mut child = Guarded(cmd.spawn().unwrap());
    use std::io::Write;
    child
        .0
        .stdin
        .as_mut()
        .unwrap()
        .write_all(commands.as_bytes())
        .unwrap();
    let line = eventually("login's USER_PROCESS entry in who", || {
        let who = d.cmd("who").run();
        lines_with(who.ok(), USER)
            .first()
            .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
    });
    assert!(line.starts_with("pts/"), "{line}");
    std::fs::write(&done, b"").unwrap();
    let status = eventually("login to exit", || child.0.try_wait().unwrap());
    assert!(status.success(), "{status}");
    let who = d.cmd("who").run();
    assert!(
        lines_with(who.ok(), USER).is_empty(),
        "still logged in after logout: {who}"
    );
    let last = Run::new("last")
        .args(["-w".as_ref(), "-f".as_ref(), d.file("wtmp").as_os_str()])
        .run();
    let l = lines_with(last.ok(), USER);
    assert_eq!(l.len(), 1, "{last}");
    assert!(
        l[0].contains(&line) && !l[0].contains("still logged in"),
        "{last}"
    );
}

#[test]
fn agetty_records_its_login_process_glibc_and_musl() {
    let d = Daemons::start();
    for agetty in [
        std::path::PathBuf::from("/sbin/agetty"),
        musl_real("util-linux/agetty"),
    ] {
        let (_master, slave) = open_pty();
        let line = slave.trim_start_matches("/dev/").to_string();
        let mut cmd = Command::new("setsid");
        cmd.arg(&agetty)
            .args(["--noclear", "-L", &line, "9600", "vt100"])
            .env("LD_PRELOAD", util::shim())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        d.bind(&mut cmd);
        let _getty = Guarded(cmd.spawn().unwrap());
        let entry = eventually("agetty's LOGIN_PROCESS entry", || {
            let list = d.cmd(c_program("utmpctl", Cc::Musl)).args(["list"]).run();
            lines_with(list.ok(), &line)
                .iter()
                .find(|l| l.starts_with("6 LOGIN "))
                .map(|l| l.to_string())
        });
        assert!(entry.contains(&line), "{entry}");
        // agetty appends to wtmp after it writes utmp: the record may land
        // a moment after the entry is visible.
        eventually(
            &format!("{agetty:?}'s LOGIN_PROCESS record in wtmp"),
            || {
                let dump = Run::new("utmpdump").args([d.file("wtmp")]).run();
                dump.ok()
                    .lines()
                    .any(|l| l.starts_with("[6]") && l.contains("LOGIN") && l.contains(&line))
                    .then_some(())
            },
        );
    }
}

#[test]
fn glibc_login_logout_logwtmp_are_served() {
    let d = Daemons::start();
    let (_master, slave) = open_pty();
    let line = slave.trim_start_matches("/dev/").to_string();
    let prog = c_program("libutil", Cc::Gnu);
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&slave)
        .unwrap();
    let o = d
        .cmd(&prog)
        .args(["login", "root", "libutil.example"])
        .stdin_file(tty)
        .run();
    assert_eq!(o.ok().trim(), slave, "{o}");
    let list = d.cmd(c_program("utmpctl", Cc::Gnu)).args(["list"]).run();
    let l = lines_with(list.ok(), &line);
    assert_eq!(l.len(), 1, "{list}");
    assert!(
        l[0].starts_with("7 root ") && l[0].contains("libutil.example"),
        "{list}"
    );

    let o = d.cmd(&prog).args(["logout", &line]).run();
    assert_eq!(o.ok().trim(), "1", "{o}");
    let list = d.cmd(c_program("utmpctl", Cc::Gnu)).args(["list"]).run();
    let l = lines_with(list.ok(), &line);
    assert!(
        l.len() == 1 && l[0].starts_with("8  "),
        "DEAD_PROCESS without user: {list}"
    );
    let o = d.cmd(&prog).args(["logout", &line]).run();
    assert_eq!(o.ok().trim(), "0", "nothing left to log out: {o}");

    let o = d
        .cmd(&prog)
        .args(["logwtmp", "pts/99", "root", "lw.example"])
        .run();
    assert_eq!(o.ok().trim(), "done");
    let dump = Run::new("utmpdump").args([d.file("wtmp")]).run();
    let recs: Vec<_> = dump.ok().lines().collect();
    assert_eq!(recs.len(), 2, "login's and logwtmp's records: {dump}");
    assert!(
        recs[0].starts_with("[7]") && recs[0].contains(&line),
        "{dump}"
    );
    assert!(
        recs[1].starts_with("[7]") && recs[1].contains("pts/99") && recs[1].contains("lw.example"),
        "{dump}"
    );
}

#[test]
fn history_reads_through_the_shim_and_direct_readers_agree() {
    let d = Daemons::start();
    let ctl = c_program("utmpctl", Cc::Gnu);
    for (file, kind, user) in [
        ("/var/log/wtmp", "7", "root"),
        ("/var/log/wtmp", "8", "-"),
        ("/var/log/btmp", "6", "baduser"),
    ] {
        let user = if user == "-" { "" } else { user };
        let o = d
            .cmd(&ctl)
            .args(["wtmp", file, kind, user, "pts/5", "5", "1"])
            .run();
        assert_eq!(o.ok().trim(), "ok", "{o}");
    }
    // Direct readers of the daemon-written files.
    let dump = Run::new("utmpdump").args([d.file("wtmp")]).run();
    assert_eq!(dump.ok().lines().count(), 2, "{dump}");
    let last = Run::new("last")
        .args(["-f".as_ref(), d.file("wtmp").as_os_str()])
        .run();
    assert_eq!(lines_with(last.ok(), "pts/5").len(), 1, "{last}");
    let lastb = Run::new("lastb")
        .args(["-f".as_ref(), d.file("btmp").as_os_str()])
        .run();
    assert_eq!(lines_with(lastb.ok(), "baduser").len(), 1, "{lastb}");
    // who FILE through the shim: the wtmp name goes to wtmpd, which serves
    // its own file (never the system's); another path is read in-process.
    for cc in [None, Some(Cc::Gnu), Some(Cc::Musl)] {
        let out = match cc {
            None => d.cmd("who").args(["/var/log/wtmp"]).run(),
            Some(cc) => {
                let o = d
                    .cmd(c_program("sequence", cc))
                    .args(["/var/log/wtmp"])
                    .stdin(b"get\nget\nget\n")
                    .run();
                assert_eq!(
                    o.ok().lines().filter(|l| l.starts_with("get ok")).count(),
                    2,
                    "{o}"
                );
                continue;
            }
        };
        assert_eq!(
            lines_with(out.ok(), "pts/5").len(),
            1,
            "who /var/log/wtmp: {out}"
        );
    }
    let copy = TempDir::new("copy");
    std::fs::copy(d.file("wtmp"), copy.path().join("wtmp")).unwrap();
    let who = d.cmd("who").args([copy.path().join("wtmp")]).run();
    assert_eq!(
        lines_with(who.ok(), "pts/5").len(),
        1,
        "who PLAINFILE: {who}"
    );
    // btmp is root's alone to read.
    ensure_user(USER);
    let o = d
        .cmd(c_program("sequence", Cc::Gnu))
        .args(["/var/log/btmp"])
        .stdin(b"get\n")
        .user(USER)
        .run();
    // EACCES, as glibc's own open() of the file gives (util-linux
    // lslogins aborts on anything else).
    assert_eq!(o.ok().trim(), "get fail 13", "{o}");
    let o = d
        .cmd(c_program("sequence", Cc::Gnu))
        .args(["/var/log/btmp"])
        .stdin(b"get\n")
        .run();
    assert!(o.ok().starts_with("get ok"), "{o}");
}

#[test]
fn lslogins_run_by_an_ordinary_user_skips_the_unreadable_btmp() {
    // util-linux lslogins reads wtmp and btmp with utmpxname + getutxent
    // and aborts on any failure but EACCES, which is what glibc's own
    // open() of a root:utmp 0660 btmp gives an ordinary user.
    ensure_user(USER);
    let d = Daemons::start();
    let o = d
        .cmd(c_program("utmpctl", Cc::Gnu))
        .args(["wtmp", "/var/log/btmp", "6", USER, "pts/9", "9", "9"])
        .run();
    assert_eq!(o.ok().trim(), "ok");
    let user = d
        .cmd("lslogins")
        .args(["--failed", "--output=USER,FAILED-LOGIN"])
        .user(USER)
        .run();
    assert!(user.status.success(), "{user}");
    assert!(user.stdout.contains(USER), "{user}");
    // (Root's lslogins is not run here: util-linux 2.38 sizes its buffer
    // from a stat() of the path, and /var/log/btmp in the test namespace
    // is not the daemon's file.)
}

/// Real xterm under Xvfb, as an ordinary user, twice: `xterm -ls -e CMD`
/// and a plain `xterm` (its shell, ended by SIGTERM). Run with the shim,
/// then with glibc and libutempter's setgid helper on files of a private
/// namespace: `who` while it runs and `last` after must say the same.
#[test]
fn xterm_is_recorded_as_glibc_and_the_setgid_helper_record_it() {
    ensure_user(USER);
    let script = r#"
set -eu
mount -t tmpfs tmpfs /tmp
if [ "$MODE" = glibc ]; then
    mount -t tmpfs tmpfs /run
    mount -t tmpfs tmpfs /var/log
    install -m 664 -g utmp /dev/null /run/utmp
    install -m 664 -g utmp /dev/null /var/log/wtmp
    unset LD_PRELOAD
fi
Xvfb -displayfd 3 -nolisten tcp -ac -screen 0 640x480x8 3>/tmp/display 2>/tmp/xvfb.log &
x=$!
trap 'kill $x' EXIT
for _ in $(seq 200); do [ -s /tmp/display ] && break; sleep 0.05; done
export DISPLAY=":$(cat /tmp/display)"
# Always in the background: the exec makes $! xterm itself.
as_user() { exec setpriv --reuid="$USER" --regid="$USER" --init-groups env HOME=/tmp "$@"; }
seen() { for _ in $(seq 200); do who | grep -q "$1" && return 0; sleep 0.05; done; return 1; }
gone() { for _ in $(seq 200); do who | grep -q "$1" || return 0; sleep 0.05; done; return 1; }
as_user xterm -ls -e sh -c 'while [ ! -e /tmp/done1 ]; do sleep 0.05; done' &
seen "$USER"
echo "== who -ls"
who
touch /tmp/done1
wait $!
gone "$USER"
as_user xterm &
t=$!
seen "$USER"
echo "== who plain"
who
kill $t
wait $t || true
gone "$USER"
echo "== last"
last -w -f "$WTMP"
"#;
    let run = |mode: &str| {
        let d = Daemons::start();
        // (the daemons' directory is /run/utmps there: /tmp is hidden)
        let wtmp = match mode {
            "glibc" => "/var/log/wtmp",
            _ => "/run/utmps/wtmp",
        };
        let o = d
            .cmd("unshare")
            .args(["-m", "sh", "-c", script])
            .env("MODE", mode)
            .env("USER", USER)
            .env("WTMP", wtmp)
            .timeout(std::time::Duration::from_secs(60))
            .run();
        // USER pts/N DATE TIME (:D): the user, the line's kind and the host.
        let words = |section: &str| -> Vec<String> {
            let part = o.ok().split(section).nth(1).unwrap_or("");
            let part = part.split("== ").next().unwrap_or("");
            lines_with(part, USER)
                .iter()
                .map(|l| {
                    let w: Vec<_> = l.split_whitespace().collect();
                    let line = w[1].trim_end_matches(char::is_numeric);
                    let host = w.iter().find(|w| w.starts_with("(:") || w.starts_with(':'));
                    format!(
                        "{} {line} {}",
                        w[0],
                        host.map_or("-", |h| h.trim_matches(['(', ')']))
                    )
                })
                .collect()
        };
        let ended = lines_with(o.ok().split("== last").nth(1).unwrap_or(""), USER)
            .iter()
            .filter(|l| !l.contains("still logged in"))
            .count();
        (
            words("== who -ls"),
            words("== who plain"),
            words("== last"),
            ended,
        )
    };
    let ours = run("shim");
    let glibc = run("glibc");
    println!("xterm, who and last through the shim: {ours:?}");
    assert_eq!(ours, glibc);
    assert_eq!(ours.0.len(), 1, "{ours:?}");
    assert_eq!(ours.3, 2, "both sessions ended in wtmp: {ours:?}");
}
