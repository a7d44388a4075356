//! Installation, the wrapper, the headers with -lutmps, and the shipped
//! service definitions run as distributions would (in a private mount
//! namespace, so /run and /var/log are the test's own).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use util::{
    c_program, ensure_user, lines_with, repo, target_dir, Cc, Daemons, PtySession, Run, TempDir,
};

/// The documented file list of an install with PREFIX=/usr (README).
const FILES: &[&str] = &[
    "/usr/bin/utmps-run",
    "/usr/bin/utmps-write",
    "/usr/include/utmps/utmp.h",
    "/usr/include/utmps/utmpx.h",
    "/usr/lib/libutmps.so",
    "/usr/lib/pkgconfig/utmps.pc",
    "/usr/lib/systemd/system/utmps-btmpd-priv.socket",
    "/usr/lib/systemd/system/utmps-btmpd.service",
    "/usr/lib/systemd/system/utmps-btmpd.socket",
    "/usr/lib/systemd/system/utmps-utmpd-priv.socket",
    "/usr/lib/systemd/system/utmps-utmpd.service",
    "/usr/lib/systemd/system/utmps-utmpd.socket",
    "/usr/lib/systemd/system/utmps-wtmpd-priv.socket",
    "/usr/lib/systemd/system/utmps-wtmpd.service",
    "/usr/lib/systemd/system/utmps-wtmpd.socket",
    "/usr/lib/tmpfiles.d/utmps.conf",
    "/usr/sbin/utmps-boot",
    "/usr/sbin/utmps-utmpd",
    "/usr/sbin/utmps-wtmpd",
    "/usr/share/man/man1/utmps-run.1",
    "/usr/share/man/man1/utmps-write.1",
    "/usr/share/man/man3/libutmps.3",
    "/usr/share/man/man8/utmps-boot.8",
    "/usr/share/man/man8/utmps-utmpd.8",
    "/usr/share/man/man8/utmps-wtmpd.8",
    "/usr/share/utmps/MANIFEST",
    "/usr/share/utmps/services/openrc/utmps-boot",
    "/usr/share/utmps/services/openrc/utmps-btmpd",
    "/usr/share/utmps/services/openrc/utmps-utmpd",
    "/usr/share/utmps/services/openrc/utmps-wtmpd",
    "/usr/share/utmps/services/runit/utmps-btmpd/run",
    "/usr/share/utmps/services/runit/utmps-utmpd/run",
    "/usr/share/utmps/services/runit/utmps-wtmpd/run",
    "/usr/share/utmps/services/s6-rc/utmps-boot/dependencies.d/utmps-utmpd",
    "/usr/share/utmps/services/s6-rc/utmps-boot/dependencies.d/utmps-wtmpd",
    "/usr/share/utmps/services/s6-rc/utmps-boot/down",
    "/usr/share/utmps/services/s6-rc/utmps-boot/type",
    "/usr/share/utmps/services/s6-rc/utmps-boot/up",
    "/usr/share/utmps/services/s6-rc/utmps-btmpd/run",
    "/usr/share/utmps/services/s6-rc/utmps-btmpd/type",
    "/usr/share/utmps/services/s6-rc/utmps-utmpd/run",
    "/usr/share/utmps/services/s6-rc/utmps-utmpd/type",
    "/usr/share/utmps/services/s6-rc/utmps-wtmpd/run",
    "/usr/share/utmps/services/s6-rc/utmps-wtmpd/type",
    "/usr/share/utmps/services/s6-rc/utmps/contents",
    "/usr/share/utmps/services/s6-rc/utmps/type",
    "/usr/share/utmps/services/s6/utmps-btmpd/run",
    "/usr/share/utmps/services/s6/utmps-utmpd/run",
    "/usr/share/utmps/services/s6/utmps-wtmpd/run",
    "/usr/share/utmps/services/systemd/utmps-btmpd-priv.socket",
    "/usr/share/utmps/services/systemd/utmps-btmpd.service",
    "/usr/share/utmps/services/systemd/utmps-btmpd.socket",
    "/usr/share/utmps/services/systemd/utmps-utmpd-priv.socket",
    "/usr/share/utmps/services/systemd/utmps-utmpd.service",
    "/usr/share/utmps/services/systemd/utmps-utmpd.socket",
    "/usr/share/utmps/services/systemd/utmps-wtmpd-priv.socket",
    "/usr/share/utmps/services/systemd/utmps-wtmpd.service",
    "/usr/share/utmps/services/systemd/utmps-wtmpd.socket",
    "/usr/share/utmps/services/systemd/utmps.conf",
    "/usr/share/utmps/services/sysvinit/utmps-boot",
    "/usr/share/utmps/services/sysvinit/utmps-btmpd",
    "/usr/share/utmps/services/sysvinit/utmps-utmpd",
    "/usr/share/utmps/services/sysvinit/utmps-wtmpd",
];

fn script(name: &str, destdir: &Path) -> Run {
    Run::new(repo().join("scripts").join(name))
        .env("DESTDIR", destdir)
        .env("PREFIX", "/usr")
        .env("BUILDDIR", target_dir())
}

fn files_under(root: &Path) -> Vec<String> {
    let out = Run::new("find")
        .args([root.as_os_str(), "-type".as_ref(), "f".as_ref()])
        .run();
    let mut v: Vec<String> = out
        .ok()
        .lines()
        .map(|l| l.strip_prefix(root.to_str().unwrap()).unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn install_gives_the_documented_files_and_uninstall_takes_them_back() {
    let dest = TempDir::new("dest");
    script("install", dest.path()).run().ok();
    assert_eq!(files_under(dest.path()), FILES);
    let manifest = std::fs::read_to_string(dest.path().join("usr/share/utmps/MANIFEST")).unwrap();
    assert_eq!(manifest.lines().collect::<Vec<_>>(), FILES);
    // Paths were substituted.
    let unit = std::fs::read_to_string(
        dest.path()
            .join("usr/lib/systemd/system/utmps-utmpd.service"),
    )
    .unwrap();
    assert!(
        unit.contains("ExecStart=/usr/sbin/utmps-utmpd --listen-fds "),
        "{unit}"
    );
    let pc = std::fs::read_to_string(dest.path().join("usr/lib/pkgconfig/utmps.pc")).unwrap();
    assert!(
        pc.contains("libdir=/usr/lib") && pc.contains("Version: 0.1.0"),
        "{pc}"
    );
    script("uninstall", dest.path()).run().ok();
    assert_eq!(files_under(dest.path()), Vec::<String>::new());
}

#[test]
fn the_preload_step_is_idempotent_undone_exactly_and_refuses_a_broken_library() {
    let dest = TempDir::new("preload");
    std::fs::create_dir_all(dest.path().join("etc")).unwrap();
    let file = dest.path().join("etc/ld.so.preload");
    std::fs::write(&file, "/usr/lib/other-preload.so\n").unwrap();
    for _ in 0..2 {
        let o = script("install", dest.path()).args(["--preload"]).run();
        o.ok();
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "/usr/lib/other-preload.so\n/usr/lib/libutmps.so\n"
    );
    script("uninstall", dest.path())
        .args(["--preload"])
        .run()
        .ok();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "/usr/lib/other-preload.so\n"
    );

    // A library that does not load is never preloaded.
    let broken = TempDir::new("broken");
    for f in ["utmps-utmpd", "utmps-wtmpd", "utmps-write"] {
        std::fs::copy(target_dir().join(f), broken.path().join(f)).unwrap();
    }
    std::fs::write(broken.path().join("libutmps.so"), b"\x7fELF not really").unwrap();
    let dest = TempDir::new("preload-broken");
    let o = script("install", dest.path())
        .env("BUILDDIR", broken.path())
        .args(["--preload"])
        .run();
    assert_eq!(o.status.code(), Some(111), "{o}");
    assert!(o.stderr.contains("refusing to preload"), "{o}");
    assert!(!dest.path().join("etc/ld.so.preload").exists());
}

/// libutempter's setgid helper would let a user reach the daemons as
/// group utmp: `--preload` takes the bit away through dpkg-statoverride
/// (so a package upgrade keeps it off), and uninstalling gives it back.
#[test]
fn the_preload_step_takes_the_setgid_bit_of_libutempters_helper() {
    let dest = TempDir::new("utempter");
    let d = dest.path();
    let helper = d.join("usr/lib/x86_64-linux-gnu/utempter/utempter");
    std::fs::create_dir_all(helper.parent().unwrap()).unwrap();
    std::fs::create_dir_all(d.join("var/lib/dpkg")).unwrap();
    std::fs::write(d.join("var/lib/dpkg/status"), b"").unwrap();
    std::fs::write(&helper, b"").unwrap();
    let st = std::process::Command::new("chgrp")
        .args(["utmp".as_ref(), helper.as_os_str()])
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o2755)).unwrap();
    let mode = || std::fs::metadata(&helper).unwrap().permissions().mode() & 0o7777;
    let overrides = || {
        Run::new("dpkg-statoverride")
            .args(["--root".as_ref(), d.as_os_str(), "--list".as_ref()])
            .run()
            .stdout
    };
    for _ in 0..2 {
        script("install", d).args(["--preload"]).run().ok();
        assert_eq!(mode(), 0o755);
    }
    let listed = overrides();
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        ["root utmp 755 /usr/lib/x86_64-linux-gnu/utempter/utempter"],
        "{listed}"
    );
    script("uninstall", d).args(["--preload"]).run().ok();
    assert_eq!(mode(), 0o2755);
    assert_eq!(overrides(), "");
}

#[test]
fn live_steps_create_the_utmp_user_in_the_target_root_only() {
    let dest = TempDir::new("live");
    std::fs::create_dir_all(dest.path().join("etc")).unwrap();
    for f in ["passwd", "group", "shadow", "gshadow", "login.defs"] {
        std::fs::copy(Path::new("/etc").join(f), dest.path().join("etc").join(f)).unwrap();
    }
    let real_passwd = std::fs::read("/etc/passwd").unwrap();
    let real_group = std::fs::read("/etc/group").unwrap();
    // A root-owned wtmp of another mode is there already; btmp is not.
    std::fs::create_dir_all(dest.path().join("var/log")).unwrap();
    std::fs::write(dest.path().join("var/log/wtmp"), [7u8; 384]).unwrap();
    script("install", dest.path()).args(["--live"]).run().ok();
    let passwd = std::fs::read_to_string(dest.path().join("etc/passwd")).unwrap();
    let user = passwd
        .lines()
        .find(|l| l.starts_with("utmp:"))
        .expect("utmp user");
    let meta = std::fs::metadata(dest.path().join("run/utmps")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.uid().to_string(), user.split(':').nth(2).unwrap());
    assert_eq!(
        std::fs::read("/etc/passwd").unwrap(),
        real_passwd,
        "the real /etc/passwd changed"
    );
    assert_eq!(
        std::fs::read("/etc/group").unwrap(),
        real_group,
        "the real /etc/group changed"
    );
    // The logs: root:utmp 0664 and 0660 (utmp of the target root), the
    // existing wtmp's content kept.
    let group = std::fs::read_to_string(dest.path().join("etc/group")).unwrap();
    let gid: u32 = group
        .lines()
        .find_map(|l| l.strip_prefix("utmp:"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|g| g.parse().ok())
        .expect("utmp group");
    for (log, mode) in [("wtmp", 0o664), ("btmp", 0o660)] {
        let m = std::fs::metadata(dest.path().join("var/log").join(log)).unwrap();
        assert_eq!(
            (m.uid(), m.gid(), m.mode() & 0o7777),
            (0, gid, mode),
            "{log}"
        );
    }
    assert_eq!(
        std::fs::read(dest.path().join("var/log/wtmp")).unwrap(),
        [7u8; 384]
    );
    // Idempotent.
    script("install", dest.path()).args(["--live"]).run().ok();
    let again = std::fs::read_to_string(dest.path().join("etc/passwd")).unwrap();
    assert_eq!(again, passwd);
}

#[test]
fn utmps_run_from_the_source_tree_and_installed() {
    let d = Daemons::start();
    let s = PtySession::start(None);
    let o = d
        .cmd(c_program("utmpctl", Cc::Gnu))
        .args([
            "put",
            "7",
            "root",
            &s.line,
            "r",
            &s.pid.to_string(),
            "run.example",
        ])
        .run();
    assert_eq!(o.ok().trim(), "ok");
    let dest = TempDir::new("run");
    script("install", dest.path()).run().ok();
    for wrapper in [
        repo().join("scripts/utmps-run"),
        dest.path().join("usr/bin/utmps-run"),
    ] {
        for prog in ["who", "w"] {
            let o = Run::new(&wrapper)
                .args([prog])
                .sockets_in(d.dir.path())
                .run();
            assert_eq!(
                lines_with(o.ok(), &s.line).len(),
                1,
                "{}: {o}",
                wrapper.display()
            );
        }
        // An existing LD_PRELOAD is kept, after ours.
        let o = Run::new(&wrapper)
            .env("LD_PRELOAD", "libc.so.6")
            .args(["sh", "-c", "echo $LD_PRELOAD"])
            .run();
        let v = o.ok().trim().to_string();
        assert!(v.ends_with("libutmps.so libc.so.6"), "{v}");
    }
    let o = Run::new(repo().join("scripts/utmps-run")).run();
    assert_eq!(o.status.code(), Some(100), "{o}");
}

#[test]
fn programs_built_against_the_headers_link_with_lutmps() {
    let d = Daemons::start();
    let dest = TempDir::new("pc");
    script("install", dest.path()).run().ok();
    let flags = Run::new("pkg-config")
        .env("PKG_CONFIG_PATH", dest.path().join("usr/lib/pkgconfig"))
        .env("PKG_CONFIG_SYSROOT_DIR", dest.path())
        .args(["--cflags", "--libs", "utmps"])
        .run();
    let flags: Vec<String> = flags.ok().split_whitespace().map(String::from).collect();
    assert!(
        flags.iter().any(|f| f.ends_with("/usr/include/utmps")),
        "{flags:?}"
    );
    let libdir = dest.path().join("usr/lib");
    for (cc, size) in [("gcc", "384"), ("musl-gcc", "400")] {
        let out = dest.path().join(format!("headers-{cc}"));
        let st = Command::new(cc)
            .args(["-O2", "-Wall", "-Wno-stringop-truncation", "-o"])
            .arg(&out)
            .arg(repo().join("tests/c/headers.c"))
            .args(&flags)
            .arg(format!("-Wl,-rpath,{}", libdir.display()))
            .status()
            .unwrap();
        assert!(st.success(), "{cc}");
        let needed = Run::new("readelf")
            .args(["-d".as_ref(), out.as_os_str()])
            .run();
        assert!(needed.ok().contains("[libutmps.so]"), "{needed}");
        // No preload: the library is linked in.
        let layout = Run::new(&out).args(["layout"]).run();
        assert!(
            layout.ok().starts_with(&format!("{size} {size} 76 ")),
            "{cc}: {layout}"
        );
        let with_env = |args: &[&str]| Run::new(&out).args(args).sockets_in(d.dir.path()).run();
        let line = format!("pts/{size}");
        assert_eq!(with_env(&["login", &line, "root"]).ok().trim(), "ok");
        let list = with_env(&["list"]);
        assert!(
            list.ok().contains(&format!("7 root {line}")),
            "{cc}: {list}"
        );
        assert_eq!(with_env(&["logout", &line]).ok().trim(), "1", "{cc}");
        let list = with_env(&["list"]);
        assert!(list.ok().contains(&format!("8  {line}")), "{cc}: {list}");
    }
    let dump = Run::new("utmpdump").args([d.file("wtmp")]).run();
    assert_eq!(lines_with(dump.ok(), "headers.example").len(), 2, "{dump}");
}

/// Makes sure the `utmp` system user the shipped services run as exists.
pub(crate) fn ensure_utmp_user() {
    // Tests run in parallel; useradd must run once.
    static ONCE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = ONCE.lock().unwrap_or_else(|e| e.into_inner());
    if Command::new("id")
        .arg("utmp")
        .output()
        .unwrap()
        .status
        .success()
    {
        return;
    }
    let _ = Command::new("groupadd")
        .args(["-f", "--system", "utmp"])
        .status();
    let st = Command::new("useradd")
        .args([
            "--system",
            "-g",
            "utmp",
            "-M",
            "-d",
            "/run/utmps",
            "-s",
            "/usr/sbin/nologin",
            "utmp",
        ])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Runs `body` (sh) in a private mount and PID namespace where /run is a
/// fresh tmpfs and /var/log is `log`: the shipped services use their real
/// paths there and never touch the machine's, and none outlives the body.
pub(crate) fn in_namespace(log: &Path, services: &Path, body: &str) -> util::Output {
    let prelude = r#"
set -eu
mount -t tmpfs tmpfs /run
mount --bind "$LOGDIR" /var/log
pids=
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_sock() { i=0; while [ ! -S "$1" ]; do i=$((i+1)); [ $i -lt 500 ] || { echo "no $1" >&2; exit 1; }; sleep 0.01; done; }
wait_log() { i=0; until grep -q "$2" "$1" 2>/dev/null; do i=$((i+1)); [ $i -lt 3000 ] || { echo "no '$2' in $1:" >&2; cat "$1" >&2; exit 1; }; sleep 0.01; done; }
"#;
    // A PID namespace too, whose init is the shell: if the body is killed
    // (a timeout), every service it started goes with it (--kill-child).
    Run::new("unshare")
        .args(["-m", "-p", "-f", "--kill-child", "--mount-proc"])
        .args(["sh", "-c", &format!("{prelude}{body}")])
        .env("LOGDIR", log)
        .env("SERVICES", services)
        .env("SHIM", util::shim())
        .env("CTL", c_program("utmpctl", Cc::Gnu))
        .env("MUSLCTL", c_program("utmpctl", Cc::Musl))
        .run()
}

/// The shipped service definitions, installed with PREFIX=DIR/usr (no
/// DESTDIR), so the paths in them name the installed programs.
pub(crate) fn services() -> TempDir {
    let dest = TempDir::new("svc");
    Run::new(repo().join("scripts/install"))
        .env("DESTDIR", "")
        .env("PREFIX", dest.path().join("usr"))
        .env("BUILDDIR", target_dir())
        .run()
        .ok();
    dest
}

/// The shipped s6 run scripts of the three daemons, started in the
/// background (their pids in `$pids`), once their sockets are there.
const START_S6_SERVICES: &str = r#"
for d in utmpd wtmpd btmpd; do
    sh "$SERVICES/usr/share/utmps/services/s6/utmps-$d/run" >"/run/$d.log" 2>&1 &
    pids="$pids $!"
done
for d in utmpd wtmpd btmpd; do wait_sock /run/utmps/.$d-socket; done
"#;

const CLIENT_CHECKS: &str = r#"
# The shim with no UTMPS_* variables: the default sockets of the contract.
LD_PRELOAD=$SHIM "$CTL" put 7 root pts/61 61 1 ns.example
LD_PRELOAD=$SHIM "$MUSLCTL" wtmp /var/log/wtmp 7 root pts/61 61 1
LD_PRELOAD=$SHIM "$MUSLCTL" wtmp /var/log/btmp 6 UNKNOWN pts/61 61 1
LD_PRELOAD=$SHIM setpriv --reuid=utmpstest1 --regid=utmpstest1 --init-groups "$CTL" put 7 utmpstest1 pts/62 62 1 || true
LD_PRELOAD=$SHIM "$MUSLCTL" list
ls -ln /run/utmps/utmp /var/log/wtmp /var/log/btmp
"#;

fn check_client_output(o: &util::Output, how: &str) {
    let out = o.ok();
    let id = |flag: &str| {
        let o = Command::new("id").args([flag, "utmp"]).output().unwrap();
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    assert_eq!(out.lines().filter(|l| *l == "ok").count(), 3, "{how}: {o}");
    assert!(
        out.contains("err 13"),
        "{how}: a user's write must be refused: {o}"
    );
    assert!(out.contains("7 root pts/61 61 1 ns.example"), "{how}: {o}");
    // utmp is the daemons' own; the logs are root:utmp, as distributions
    // ship them, and the daemons (user and group utmp) wrote them through
    // the group.
    let (uid, gid) = (id("-u"), id("-g"));
    for (f, mode, owner) in [
        ("/run/utmps/utmp", "-rw-r--r--", uid.as_str()),
        ("/var/log/wtmp", "-rw-rw-r--", "0"),
        ("/var/log/btmp", "-rw-rw----", "0"),
    ] {
        let l = lines_with(out, f);
        let fields: Vec<&str> = l
            .first()
            .map(|l| l.split_whitespace().collect())
            .unwrap_or_default();
        assert!(
            l.len() == 1
                && fields[0] == mode
                && fields[2] == owner
                && (owner != "0" || fields[3] == gid),
            "{how}: {f} {mode} {owner}: {o}"
        );
    }
}

/// The privileged twins of the sockets: `ls -ln /run/utmps/` shows them
/// 0660, group utmp.
fn check_privileged_sockets(o: &util::Output, how: &str) {
    let gid = Command::new("id").args(["-g", "utmp"]).output().unwrap();
    let gid = String::from_utf8(gid.stdout).unwrap().trim().to_string();
    for d in ["utmpd", "wtmpd", "btmpd"] {
        let l = lines_with(o.ok(), &format!(".{d}-socket.priv"));
        let fields: Vec<&str> = l
            .first()
            .map(|l| l.split_whitespace().collect())
            .unwrap_or_default();
        assert!(
            l.len() == 1 && fields[0] == "srw-rw----" && fields[3] == gid,
            "{how}: {d}'s privileged socket: {o}"
        );
    }
}

/// sshd's check before it writes a failed login to btmp itself
/// (loginrec.c): owned by root, nothing for others, no group execute.
fn sshd_would_write(btmp: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(btmp).unwrap();
    m.uid() == 0 && m.mode() & 0o017 == 0
}

fn check_logs(log: &Path) {
    assert!(sshd_would_write(&log.join("btmp")));
    let dump = Run::new("utmpdump").args([log.join("wtmp")]).run();
    assert_eq!(lines_with(dump.ok(), "pts/61").len(), 1, "{dump}");
    let dump = Run::new("utmpdump").args([log.join("btmp")]).run();
    assert_eq!(lines_with(dump.ok(), "UNKNOWN").len(), 1, "{dump}");
}

#[test]
fn the_shipped_s6_services_run_under_s6_supervision() {
    ensure_utmp_user();
    ensure_user("utmpstest1");
    let svc = services();
    let log = TempDir::new("s6log");
    // Logs as an earlier utmps-rs left them (utmp's) and as a distribution
    // may (root's, another mode): both end root:utmp.
    let logs = r#"
install -o utmp -g utmp -m 0644 /dev/null /var/log/wtmp
install -m 0600 /dev/null /var/log/btmp
"#;
    let body = r#"
# The boot records the wtmpd service has written (tests/boot.rs).
wait_log /run/wtmpd.log "utmps-boot: boot"
ls -lna /run/utmps/
"#;
    let o = in_namespace(
        log.path(),
        svc.path(),
        &format!("{logs}{START_S6_SERVICES}{body}{CLIENT_CHECKS}"),
    );
    check_client_output(&o, "s6");
    check_logs(log.path());
    check_privileged_sockets(&o, "s6");
}

#[test]
fn failed_logins_from_sshd_and_su_land_in_btmp_with_the_shipped_ownership() {
    // sshd writes btmp itself (and refuses a btmp that is not root's or is
    // open to others); su writes it through the API, so through the shim
    // when that is preloaded system-wide. With the shipped s6 services
    // (btmp root:utmp 0660) both failed logins reach the one btmp, `lastb`
    // shows them, and an ordinary user's `lslogins` still works.
    ensure_utmp_user();
    ensure_user("utmpstest1");
    ensure_user("utmpstest2");
    ensure_user("sshd");
    let sshd = target_dir().parent().expect("target").join("openssh");
    assert!(
        sshd.join("usr/sbin/sshd").exists(),
        "no sshd: run scripts/fetch-sshd {}",
        sshd.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let svc = services();
    let log = TempDir::new("btmplog");
    let body = format!(
        r#"
SSHD_ROOT={sshd}
PORT={port}
install -m 0600 /dev/null /var/log/btmp
{START_S6_SERVICES}
ls -ln /var/log/btmp
# Debian's sshd on a loopback port; one wrong password.
K=/run/sshtest
mkdir -p $K /run/sshd
chmod 0755 /run/sshd
ssh-keygen -q -t ed25519 -N '' -f $K/host
printf '%s\n' "Port $PORT" "ListenAddress 127.0.0.1" "HostKey $K/host" "UsePAM no" \
    "PasswordAuthentication yes" "KbdInteractiveAuthentication no" "PidFile none" >$K/sshd_config
LD_LIBRARY_PATH=$SSHD_ROOT/usr/lib/x86_64-linux-gnu $SSHD_ROOT/usr/sbin/sshd -D -e -f $K/sshd_config 2>$K/sshd.log &
pids="$pids $!"
wait_log $K/sshd.log "Server listening"
printf '#!/bin/sh\necho wrong-password\n' >$K/askpass
chmod 0755 $K/askpass
HOME=$K SSH_ASKPASS=$K/askpass SSH_ASKPASS_REQUIRE=force setsid ssh -p $PORT \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o PreferredAuthentications=password -o NumberOfPasswordPrompts=1 \
    utmpstest1@127.0.0.1 true </dev/null >/dev/null 2>&1 || true
wait_log $K/sshd.log "Failed password for .*utmpstest1"
echo "sshd complaints: $(grep -c 'Excess permission' $K/sshd.log || true)"
# su is setuid root: the shim only through /etc/ld.so.preload, here in a
# copy of /etc bind-mounted in this namespace alone.
cp -a /etc /run/etc
echo "$SHIM" >/run/etc/ld.so.preload
mount --bind /run/etc /etc
# Only ever the copy: /etc is now the bind mount from this namespace's /run.
[ "$(stat -c %d:%i /etc)" = "$(stat -c %d:%i /run/etc)" ] || exit 1
# strace -u runs it as utmpstest1 with su's setuid bit honoured, and shows
# where su's record goes: to btmpd's socket, not to the file.
echo wrong-password | strace -f -u utmpstest1 -e trace=connect,openat -o $K/su.trace \
    script -qec "su -c true utmpstest2" /dev/null >/dev/null 2>&1 || true
umount /etc
echo "su to btmpd: $(grep -c 'connect(.*btmpd-socket' $K/su.trace || true)"
echo "su opens btmp: $(grep -c 'openat(.*/var/log/btmp' $K/su.trace || true)"
echo "== lastb"
LD_PRELOAD=$SHIM lastb -w
echo "== lslogins"
LD_PRELOAD=$SHIM setpriv --reuid=utmpstest1 --regid=utmpstest1 --init-groups lslogins utmpstest1 >/dev/null
echo "lslogins exit $?"
"#,
        sshd = sshd.display()
    );
    let o = in_namespace(log.path(), svc.path(), &body);
    let out = o.ok();
    assert!(out.contains("sshd complaints: 0"), "{o}");
    assert!(
        lines_with(out, "/var/log/btmp")
            .first()
            .is_some_and(|l| l.starts_with("-rw-rw---- 1 0 ")),
        "btmp root:utmp 0660: {o}"
    );
    let lastb = out.split("== lastb").nth(1).unwrap_or("");
    let ssh = lines_with(lastb, "utmpstest1");
    assert!(
        ssh.len() == 1 && ssh[0].contains("ssh:notty") && ssh[0].contains("127.0.0.1"),
        "sshd's failed login: {o}"
    );
    let su = lines_with(lastb, "utmpstest2");
    assert!(
        su.len() == 1 && su[0].contains("pts/"),
        "su's failed login: {o}"
    );
    assert!(out.contains("lslogins exit 0"), "{o}");
    assert!(
        !out.contains("su to btmpd: 0") && out.contains("su opens btmp: 0"),
        "su's record through the shim: {o}"
    );
    assert!(
        !std::path::Path::new("/etc/ld.so.preload").exists(),
        "the machine's preload file appeared"
    );
    println!("btmp after sshd's and su's failed logins:{lastb}");
}

#[test]
fn the_shipped_systemd_units_run_under_systemd_socket_activate() {
    ensure_utmp_user();
    ensure_user("utmpstest1");
    let svc = svc_dir_with_units();
    let log = TempDir::new("sdlog");
    // What systemd does with the units: tmpfiles.d, then for each daemon
    // its two sockets (Accept=no: with their names, modes and owners)
    // passed to the service's ExecStart, run as its User/Group in its
    // WorkingDirectory.
    let body = r#"
systemd-tmpfiles --create "$SERVICES/usr/lib/tmpfiles.d/utmps.conf"
unit() { sed -n "s/^$2=//p" "$SERVICES/usr/lib/systemd/system/$1"; }
for d in utmpd wtmpd btmpd; do
    pub=$(unit utmps-$d.socket ListenStream)
    priv=$(unit utmps-$d-priv.socket ListenStream)
    [ "$(unit utmps-$d.socket Accept)" = no ] && [ "$(unit utmps-$d-priv.socket Accept)" = no ]
    names=$(unit utmps-$d.socket FileDescriptorName):$(unit utmps-$d-priv.socket FileDescriptorName)
    exec_start=$(unit utmps-$d.service ExecStart)
    user=$(unit utmps-$d.service User)
    group=$(unit utmps-$d.service Group)
    dir=$(unit utmps-$d.service WorkingDirectory)
    systemd-socket-activate -l "$pub" -l "$priv" --fdname="$names" \
        sh -c "cd $dir && exec setpriv --reuid=$user --regid=$group --clear-groups $exec_start" >/dev/null 2>&1 &
    pids="$pids $!"
    wait_sock "$pub"; wait_sock "$priv"
    for s in utmps-$d.socket utmps-$d-priv.socket; do
        path=$(unit $s ListenStream)
        chown "$(unit $s SocketUser):$(unit $s SocketGroup)" "$path"
        chmod "$(unit $s SocketMode)" "$path"
    done
done
ls -lna /run/utmps/
"#;
    let o = in_namespace(log.path(), svc.path(), &format!("{body}{CLIENT_CHECKS}"));
    check_client_output(&o, "systemd");
    check_logs(log.path());
    check_privileged_sockets(&o, "systemd");
}

fn svc_dir_with_units() -> TempDir {
    let svc = services();
    assert!(svc
        .path()
        .join(PathBuf::from("usr/lib/systemd/system/utmps-utmpd.socket"))
        .exists());
    svc
}

/// What OpenRC's openrc-run does for our scripts, in sh (OpenRC itself is
/// not packaged for this Debian without replacing its init): its helper
/// functions, and `start` / `stop` as openrc-run runs them: `start_pre`,
/// then the script's own `start`, or else its `command` with
/// `command_args` in `directory` as `command_user`, in the background.
pub(crate) const OPENRC_RUN: &str = r#"
ebegin() { :; }
eend() { return "${1:-0}"; }
einfo() { echo "$*"; }
ewarn() { echo "$*" >&2; }
eerror() { echo "$*" >&2; }
checkpath() {
    kind= owner= mode=
    while [ $# -gt 1 ]; do
        case $1 in
            -d) kind=d ;; -f) kind=f ;;
            -o) owner=$2; shift ;; -m) mode=$2; shift ;;
            *) echo "checkpath stand-in: $1?" >&2; return 1 ;;
        esac
        shift
    done
    if [ ! -e "$1" ]; then
        if [ "$kind" = d ]; then mkdir -p "$1"; else : > "$1"; fi
    fi
    if [ -n "$owner" ]; then chown "$owner" "$1"; fi
    if [ -n "$mode" ]; then chmod "$mode" "$1"; fi
}
is_function() { [ "$(type "$1" 2>/dev/null | head -n 1)" = "$1 is a shell function" ]; }
# openrc_run SCRIPT start|stop: prints the pid of a started daemon.
openrc_run() (
    . "$1"
    case $2 in
    start)
        if is_function start_pre; then start_pre >&2; fi
        if is_function start; then start >&2; exit; fi
        cd "${directory:-/}"
        setpriv --reuid="${command_user%:*}" --regid="${command_user#*:}" --init-groups \
            $command $command_args >/dev/null 2>&1 &
        echo $!
        ;;
    stop)
        if is_function stop; then stop >&2; fi
        ;;
    esac
)
"#;

#[test]
fn the_shipped_openrc_scripts_run_with_an_openrc_run_stand_in() {
    ensure_utmp_user();
    ensure_user("utmpstest1");
    let svc = services();
    let log = TempDir::new("rclog");
    let body = format!(
        r#"{OPENRC_RUN}
install -m 0644 /dev/null /var/log/wtmp
for d in utmpd wtmpd btmpd; do
    pids="$pids $(openrc_run "$SERVICES/usr/share/utmps/services/openrc/utmps-$d" start)"
done
for d in utmpd wtmpd btmpd; do wait_sock /run/utmps/.$d-socket; done
"#
    );
    let o = in_namespace(log.path(), svc.path(), &format!("{body}{CLIENT_CHECKS}"));
    check_client_output(&o, "openrc");
    check_logs(log.path());
}

/// runit's chpst, for the one form our run scripts use: `-u user:group`
/// (uid, gid, and the group as the only supplementary group).
pub(crate) const CHPST: &str = r#"#!/bin/sh
[ "$1" = -u ] || { echo "chpst stand-in: $1?" >&2; exit 100; }
u=${2%%:*} g=${2#*:}
shift 2
exec setpriv --reuid="$u" --regid="$g" --groups="$g" "$@"
"#;

/// A directory with the chpst stand-in, for PATH.
pub(crate) fn chpst_dir() -> TempDir {
    let bin = TempDir::new("chpst");
    let chpst = bin.path().join("chpst");
    std::fs::write(&chpst, CHPST).unwrap();
    std::fs::set_permissions(&chpst, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn the_shipped_runit_services_run_with_a_chpst_stand_in() {
    ensure_utmp_user();
    ensure_user("utmpstest1");
    let svc = services();
    let log = TempDir::new("runitlog");
    let bin = chpst_dir();
    // Logs as an earlier utmps-rs left them: utmp's.
    let body = format!(
        r#"
export PATH="{}:$PATH"
install -o utmp -g utmp -m 0644 /dev/null /var/log/wtmp
install -o utmp -g utmp -m 0600 /dev/null /var/log/btmp
for d in utmpd wtmpd btmpd; do
    # runsv runs ./run in the service directory.
    (cd "$SERVICES/usr/share/utmps/services/runit/utmps-$d" && exec ./run) >"/run/$d.log" 2>&1 &
    pids="$pids $!"
done
for d in utmpd wtmpd btmpd; do wait_sock /run/utmps/.$d-socket; done
wait_log /run/wtmpd.log "utmps-boot: boot"
"#,
        bin.path().display()
    );
    let o = in_namespace(log.path(), svc.path(), &format!("{body}{CLIENT_CHECKS}"));
    check_client_output(&o, "runit");
    check_logs(log.path());
}
