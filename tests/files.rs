//! The daemons' files: modes that mean what the options say, and no file a
//! daemon should not touch (links, foreign or world-writable files).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;
use util::{daemon, ensure_user, Daemons, Run, TempDir};

const USER: &str = "utmpstest1";

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o7777
}

/// `--listen` on `file`, given time to fail: its output.
fn listen_once(bin: &str, dir: &std::path::Path, args: &[&str]) -> util::Output {
    Run::new(daemon(bin))
        .args(["--listen".as_ref(), dir.join("d.sock").as_os_str()])
        .args(args)
        .timeout(Duration::from_secs(10))
        .run()
}

/// One request over pipes as root (s6-ipcserver's variables): the reply.
fn on_pipes(bin: &str, args: &[&str], input: &[u8]) -> util::Output {
    Run::new(daemon(bin))
        .args(args)
        .env("PROTO", "IPC")
        .env("IPCREMOTEEUID", "0")
        .env("IPCREMOTEEGID", "0")
        .stdin(input)
        .run()
}

#[test]
fn private_and_root_only_files_are_kept_from_others() {
    ensure_user(USER);
    let d = Daemons::start_with(&["--private"]);
    // Something in each file, so the daemons have created them.
    assert_eq!(
        d.utmpctl(util::Cc::Gnu, &["put", "7", "root", "tty1", "1", "1", "h"]),
        "ok"
    );
    for f in ["wtmp", "btmp"] {
        let path = format!("/var/log/{f}");
        assert_eq!(
            d.utmpctl(
                util::Cc::Gnu,
                &["wtmp", &path, "7", "root", "tty1", "1", "1"]
            ),
            "ok"
        );
    }
    assert_eq!(mode(&d.file("utmp")), 0o640);
    assert_eq!(mode(&d.file("wtmp")), 0o640);
    assert_eq!(mode(&d.file("btmp")), 0o600);
    // Nobody else reads them directly (`utmpdump FILE` bypasses the daemons).
    for f in ["utmp", "wtmp", "btmp"] {
        let o = Run::new("utmpdump").args([d.file(f)]).user(USER).run();
        assert!(!o.status.success(), "{f}: {o}");
        assert!(o.stderr.contains("Permission denied"), "{f}: {o}");
    }
    // Through the daemon the user sees the entry, without its host.
    let o = d
        .cmd(util::c_program("utmpctl", util::Cc::Gnu))
        .args(["list"])
        .user(USER)
        .run();
    assert!(o.ok().starts_with("7 root tty1 "), "{o}");
    assert!(!o.stdout.contains(" h "), "{o}");
}

#[test]
fn files_that_do_not_fit_the_options_are_refused() {
    let dir = TempDir::new("unfit");
    let p = dir.path();
    // --private on a file others may read.
    std::fs::write(p.join("utmp"), b"").unwrap();
    std::fs::set_permissions(p.join("utmp"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = listen_once(
        "utmps-utmpd",
        p,
        &["--private", p.join("utmp").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(111), "{o}");
    assert!(
        o.stderr
            .contains("readable by others, which --private forbids"),
        "{o}"
    );
    // And one connection at a time (a superserver's): every request fails
    // with EACCES, nothing is read.
    let o = on_pipes(
        "utmps-utmpd",
        &["--private", p.join("utmp").to_str().unwrap()],
        b"e",
    );
    assert_eq!(o.stdout.as_bytes(), b"\x0d", "{o}");
    // --root-only (btmp) on a file others may read; root:group 0660 is fine.
    std::fs::write(p.join("btmp"), b"").unwrap();
    std::fs::set_permissions(p.join("btmp"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let btmp = p.join("btmp");
    let o = on_pipes(
        "utmps-wtmpd",
        &["--root-only", btmp.to_str().unwrap()],
        b"e",
    );
    assert_eq!(o.stdout.as_bytes(), b"\x0d", "{o}");
    std::fs::set_permissions(&btmp, std::fs::Permissions::from_mode(0o660)).unwrap();
    let o = on_pipes(
        "utmps-wtmpd",
        &["--root-only", btmp.to_str().unwrap()],
        b"e",
    );
    assert_eq!(
        o.stdout.as_bytes(),
        b"\x03",
        "ESRCH: the file is served: {o}"
    );
    // A world-writable record file.
    std::fs::set_permissions(p.join("utmp"), std::fs::Permissions::from_mode(0o666)).unwrap();
    let o = on_pipes("utmps-utmpd", &[p.join("utmp").to_str().unwrap()], b"e");
    assert_eq!(o.stdout.as_bytes(), b"\x0d", "{o}");
    assert!(o.stderr.contains("writable by others"), "{o}");
}

/// A link planted where the record file should be: a root daemon must not
/// write through it (seen: a copy of /etc/passwd gained a uid-0 line).
#[test]
fn links_planted_for_the_daemon_are_refused() {
    let dir = TempDir::new("links");
    let p = dir.path();
    let precious = p.join("passwd-copy");
    std::fs::copy("/etc/passwd", &precious).unwrap();
    let before = std::fs::read(&precious).unwrap();
    std::os::unix::fs::symlink(&precious, p.join("wtmp")).unwrap();
    let mut append = vec![b'+'];
    let mut rec = proto::Record::EMPTY;
    rec.kind = proto::Kind::USER_PROCESS;
    proto::record::set_field(&mut rec.user, b"evil");
    let mut b = [0u8; 400];
    proto::codec::encode_record(&rec, &mut b);
    append.extend_from_slice(&b);
    let o = on_pipes("utmps-wtmpd", &[p.join("wtmp").to_str().unwrap()], &append);
    assert_eq!(o.stdout.as_bytes(), b"\x0d", "{o}");
    assert!(o.stderr.contains("symbolic link"), "{o}");
    let o = listen_once("utmps-wtmpd", p, &[p.join("wtmp").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(111), "{o}");
    // A hard link, and a link as the lock file.
    std::fs::remove_file(p.join("wtmp")).unwrap();
    std::fs::hard_link(&precious, p.join("wtmp")).unwrap();
    let o = on_pipes("utmps-wtmpd", &[p.join("wtmp").to_str().unwrap()], &append);
    assert_eq!(o.stdout.as_bytes(), b"\x0d", "{o}");
    std::fs::remove_file(p.join("wtmp")).unwrap();
    std::os::unix::fs::symlink(&precious, p.join("wtmp.lock")).unwrap();
    let o = on_pipes("utmps-wtmpd", &[p.join("wtmp").to_str().unwrap()], &append);
    assert_ne!(o.stdout.as_bytes(), b"\x00", "{o}");
    assert_eq!(
        std::fs::read(&precious).unwrap(),
        before,
        "the linked file changed"
    );
    assert_eq!(mode(&precious), 0o644);
}

#[test]
fn a_directory_others_or_its_group_can_write_is_reported() {
    let dir = TempDir::new("openDir");
    for (name, mode, warning) in [
        ("open", 0o1777, "is writable by others"),
        ("group", 0o2775, "is writable by its group"),
    ] {
        let open = dir.path().join(name);
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(mode)).unwrap();
        let sock = dir.path().join(format!("{name}.sock"));
        let log = dir.path().join(format!("{name}.log"));
        let _d = util::Guarded(
            std::process::Command::new(daemon("utmps-utmpd"))
                .arg("--listen")
                .arg(&sock)
                .arg(open.join("utmp"))
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap(),
        );
        util::wait_for(&sock);
        let warned = util::eventually("the warning", || {
            let s = std::fs::read_to_string(&log).unwrap();
            s.contains(warning).then_some(s)
        });
        assert!(warned.contains(open.to_str().unwrap()), "{warned}");
    }
}

/// A btmp renamed over wtmp (possible where the log directory is writable
/// by a group) keeps its mode, `root:utmp 0660`: wtmpd serves it as glibc's
/// own `open()` would, to root alone here, and says why in its log; an
/// ordinary reader gets `EACCES`, not the failed logins in it.
#[test]
fn a_btmp_in_wtmps_place_is_not_served_to_everyone() {
    ensure_user(USER);
    let d = Daemons::start();
    let ctl = util::c_program("utmpctl", util::Cc::Gnu);
    let o = d
        .cmd(&ctl)
        .args(["wtmp", "/var/log/btmp", "6", "root", "pts/80", "80", "1"])
        .args(["hunter2.example"])
        .run();
    assert_eq!(o.stdout.trim(), "ok", "{o}");
    std::fs::set_permissions(d.file("btmp"), std::fs::Permissions::from_mode(0o660)).unwrap();
    std::fs::rename(d.file("btmp"), d.file("wtmp")).unwrap();
    let read = |user: Option<&str>| {
        let mut r = d
            .cmd(util::c_program("sequence", util::Cc::Gnu))
            .args(["/var/log/wtmp"])
            .stdin(b"set\nget\n");
        if let Some(u) = user {
            r = r.user(u);
        }
        r.run()
    };
    let o = read(Some(USER));
    assert!(o.stdout.contains("get fail 13"), "EACCES expected: {o}");
    assert!(!o.stdout.contains("hunter2"), "{o}");
    let o = read(None);
    assert!(o.stdout.contains("hunter2.example"), "root reads it: {o}");
    let (_, wtmpd) = d
        .env()
        .into_iter()
        .find(|(k, _)| k == "UTMPS_WTMPD_SOCKET")
        .unwrap();
    let mut log = wtmpd;
    log.push(".log");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains("refused a read by uid") && log.contains("mode 0660: others may not read it"),
        "{log}"
    );
    // Made readable by others, it is served to everyone again.
    std::fs::set_permissions(d.file("wtmp"), std::fs::Permissions::from_mode(0o664)).unwrap();
    let o = read(Some(USER));
    assert!(o.stdout.contains("hunter2.example"), "{o}");
}
