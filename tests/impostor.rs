//! Whom a client talks to: a user's own server ("impostor") never hears
//! from root, nor from another user, whatever the environment says; the
//! shim and utmps-write check the server's credentials before they send.

use std::path::{Path, PathBuf};
use util::{
    as_user, c_program, daemon, ensure_user, lines_with, repo, spawn_until_line, Cc, Daemons,
    Guarded, Run, TempDir,
};

const USER: &str = "utmpstest1";
const OTHER: &str = "utmpstest2";

/// A fake daemon run by `user` on `u/imp.sock` in `dir` (a directory of
/// the user's, open to others), logging every client to `u/imp.log`
/// ("uid UID bytes N fds M").
fn impostor(dir: &TempDir, user: &str) -> (Guarded, PathBuf, PathBuf) {
    let home = dir.path().join("u");
    std::fs::create_dir(&home).unwrap();
    let st = std::process::Command::new("chown")
        .arg(user)
        .arg(&home)
        .status()
        .unwrap();
    assert!(st.success());
    let (sock, log) = (home.join("imp.sock"), home.join("imp.log"));
    let mut c = as_user(user, c_program("attacker", Cc::Gnu));
    c.arg("impostor").arg(&sock).arg(&log);
    let (child, line) = spawn_until_line(c);
    assert_eq!(line, "listening");
    (child, sock, log)
}

/// The impostor's log: one line per client.
fn heard(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

#[test]
fn root_ignores_a_users_sockets_after_su() {
    ensure_user(USER);
    let d = Daemons::start();
    let dir = TempDir::new("impostor");
    let (_imp, sock, log) = impostor(&dir, USER);
    // The user's variables reach root through a plain su (which keeps
    // the environment); the shim is preloaded system-wide, here through a
    // copy of /etc bind-mounted in this namespace alone. Root's tmux (its
    // window's pty master goes with `T`), login and utmps-boot must all
    // go to the daemons at the default sockets.
    let script = r#"
sed "s|@BINDIR@|$BINDIR|" "$REPO/scripts/utmps-boot" > "$DIR/utmps-boot"
export UTMPS_UTMPD_SOCKET="$IMP" UTMPS_WTMPD_SOCKET="$IMP" UTMPS_BTMPD_SOCKET="$IMP" \
    UTMPS_TIMEOUT_MS=1 UTMPS_BOOT_WAIT=1 TERM=xterm
su -c "tmux -S '$DIR/tmux.sock' new-session -d -s imp 'sleep 600'" root
for _ in $(seq 200); do
    who | grep -q "tmux(" && break
    sleep 0.05
done
echo "== who"
who
tmux -S "$DIR/tmux.sock" kill-server
echo exit | su -c "script -qfc 'login -f root' /dev/null" root >/dev/null
su -c "sh '$DIR/utmps-boot' boot" root
echo "== boot"
who -b
umount /etc
"#;
    let o = util::preloaded_system_wide(dir.path(), script)
        .env("IMP", &sock)
        .env("BINDIR", daemon("utmps-write").parent().unwrap())
        .env("REPO", repo())
        .sockets_in(d.dir.path())
        .run();
    let out = o.ok();
    assert!(
        !std::path::Path::new("/etc/ld.so.preload").exists(),
        "the machine's preload file appeared"
    );
    assert_eq!(heard(&log), "", "the impostor heard root: {o}");
    let who = out.split("== who").nth(1).unwrap_or("");
    assert!(
        lines_with(who, "root").iter().any(|l| l.contains("tmux(")),
        "{o}"
    );
    let boot = out.split("== boot").nth(1).unwrap_or("");
    assert!(boot.contains("system boot"), "{o}");
    let last = Run::new("last")
        .args(["-w".as_ref(), "-f".as_ref(), d.file("wtmp").as_os_str()])
        .run();
    let last = last.ok();
    assert!(
        lines_with(last, "root").iter().any(|l| l.contains("pts/")),
        "root's login and tmux window in wtmp: {last}"
    );
    assert!(lines_with(last, "reboot").len() == 1, "{last}");
}

#[test]
fn a_users_server_hears_that_user_alone() {
    ensure_user(USER);
    ensure_user(OTHER);
    let d = Daemons::start();
    let dir = TempDir::new("impostor");
    let (_imp, sock, log) = impostor(&dir, USER);
    let uid = |u: &str| ensure_user(u).to_string();
    // tmux sends its window's pty master with `T`; who reads.
    let session = |user: &str| {
        let tmux = dir.private_dir(&format!("tmux-{user}"), user).join("s");
        let run = |args: &[&str]| {
            Run::new("tmux")
                .preload()
                .env("UTMPS_UTMPD_SOCKET", &sock)
                .env("UTMPS_WTMPD_SOCKET", &sock)
                .env("UTMPS_TIMEOUT_MS", "500")
                .env("HOME", "/")
                .env("TERM", "xterm")
                .args(["-S".as_ref(), tmux.as_os_str()])
                .args(args)
                .user(user)
                .run()
        };
        run(&["new-session", "-d", "-s", "s", "sleep 2"]).ok();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let _ = run(&["kill-server"]);
        Run::new("who")
            .preload()
            .env("UTMPS_UTMPD_SOCKET", &sock)
            .env("UTMPS_TIMEOUT_MS", "500")
            .user(user)
            .run();
        // The impostor takes its clients one at a time.
        std::thread::sleep(std::time::Duration::from_millis(1500));
    };
    session(USER);
    let own = heard(&log);
    assert!(
        !own.is_empty(),
        "the user's own processes follow the variable"
    );
    assert!(
        own.lines()
            .all(|l| l.starts_with(&format!("uid {} ", uid(USER)))),
        "{own}"
    );
    assert!(
        own.lines().any(|l| !l.ends_with(" fds 0")),
        "tmux's `T` went to the user's own server: {own}"
    );
    // Another user pointed at it: refused before a byte, let alone a pty.
    session(OTHER);
    let o = Run::new(daemon("utmps-write"))
        .args(["-w".as_ref(), "-W".as_ref(), sock.as_os_str()])
        .args(["-t", "1000", "x", "DEAD_PROCESS", "pts/9"])
        .user(OTHER)
        .run();
    assert_eq!(o.status.code(), Some(111), "{o}");
    assert!(o.stderr.contains("neither root nor"), "{o}");
    // It could connect (that is how the credentials are learned), and
    // sent nothing.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let all = heard(&log);
    let others = all.strip_prefix(own.as_str()).unwrap_or(&all);
    assert!(!others.is_empty(), "{all}");
    assert!(
        others
            .lines()
            .all(|l| l == format!("uid {} bytes 0 fds 0", uid(OTHER))),
        "another user sent to the server: {all}"
    );
    // The daemons' own still serve the other user.
    let o = d.cmd("who").user(OTHER).run();
    assert!(o.status.success(), "{o}");
}
