//! The daemons' files: modes that mean what the options say, and no file a
//! daemon should not touch (links, foreign or world-writable files).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;
use util::{daemon, ensure_user, Daemons, Run, TempDir};

const USER: &str = "utmpstest1";

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o7777
}

/// `--listen` on a record file it must not serve: the listener says why
/// at its start and keeps listening (a supervisor would otherwise restart
/// it in a loop); its clients get the refusal ([`on_pipes`]). Its log.
fn listen_refusing(bin: &str, dir: &std::path::Path, args: &[&str]) -> String {
    let sock = dir.join("d.sock");
    let log = dir.join("d.log");
    let child = std::process::Command::new(daemon(bin))
        .arg("--listen")
        .arg(&sock)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut child = util::Guarded(child);
    util::wait_for(&sock);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the listener exited: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    drop(child);
    let _ = std::fs::remove_file(&sock);
    let _ = std::fs::remove_file(dir.join("d.sock.priv"));
    std::fs::read_to_string(&log).unwrap()
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
    let log = listen_refusing(
        "utmps-utmpd",
        p,
        &["--private", p.join("utmp").to_str().unwrap()],
    );
    assert!(
        log.contains("readable by others, which --private forbids"),
        "{log}"
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
    let log = listen_refusing("utmps-wtmpd", p, &[p.join("wtmp").to_str().unwrap()]);
    assert!(log.contains("symbolic link"), "{log}");
    // A hard link, and a link as the lock file.
    std::fs::remove_file(p.join("wtmp")).unwrap();
    std::fs::hard_link(&precious, p.join("wtmp")).unwrap();
    let o = on_pipes("utmps-wtmpd", &[p.join("wtmp").to_str().unwrap()], &append);
    assert_eq!(o.stdout.as_bytes(), b"\x0d", "{o}");
    std::fs::remove_file(p.join("wtmp")).unwrap();
    // (The listener above made the daemon's own.)
    let _ = std::fs::remove_file(p.join("wtmp.lock"));
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

/// Bind-mounts a file read-only over itself for as long as it lives (in
/// the suite's own mount namespace), as a read-only /var/log would make it.
struct ReadOnly(std::ffi::CString);

impl ReadOnly {
    fn mount(path: &std::path::Path) -> ReadOnly {
        use std::os::unix::ffi::OsStrExt;
        let p = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
        // SAFETY: C strings that outlive the calls; null data and fstype.
        let ok = unsafe {
            libc::mount(
                p.as_ptr(),
                p.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ) == 0
                && libc::mount(
                    std::ptr::null(),
                    p.as_ptr(),
                    std::ptr::null(),
                    flags,
                    std::ptr::null(),
                ) == 0
        };
        assert!(
            ok,
            "bind-mount {} read-only: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        ReadOnly(p)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        // SAFETY: a C string that outlives the call.
        unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
    }
}

#[test]
fn a_log_on_a_read_only_file_system_is_read_as_it_is_and_refuses_writers_as_glibc_does() {
    let d = Daemons::start();
    let ctl = util::c_program("utmpctl", util::Cc::Gnu);
    let login = ["7", "root", "pts/81", "81", "81", "before.example"];
    assert_eq!(
        d.utmpctl(
            util::Cc::Gnu,
            &[&["wtmp", "/var/log/wtmp"][..], &login].concat()
        ),
        "ok"
    );
    // glibc's own, on a copy under the same mount.
    let glibc = TempDir::new("rofs");
    let copy = glibc.path().join("wtmp");
    std::fs::copy(d.file("wtmp"), &copy).unwrap();
    let _ro = (ReadOnly::mount(&d.file("wtmp")), ReadOnly::mount(&copy));

    let late = ["7", "root", "pts/82", "82", "82", "after.example"];
    let theirs = Run::new(&ctl)
        .args(["wtmp".as_ref(), copy.as_os_str()])
        .args(late)
        .run();
    let ours = d.cmd(&ctl).args(["wtmp", "/var/log/wtmp"]).args(late).run();
    assert_eq!(theirs.stdout.trim(), "err 30", "glibc: EROFS: {theirs}");
    assert_eq!(
        ours.stdout.trim(),
        theirs.stdout.trim(),
        "through the daemon: {ours}"
    );

    // Readers still see what is there, as glibc's do.
    let seq = util::c_program("sequence", util::Cc::Gnu);
    let read = b"set\nget\nget\n";
    let theirs = Run::new(&seq).args([&copy]).stdin(read).run();
    let ours = d.cmd(&seq).args(["/var/log/wtmp"]).stdin(read).run();
    assert!(theirs.stdout.contains("before.example"), "{theirs}");
    assert_eq!(
        ours.stdout, theirs.stdout,
        "through the daemon: {ours}\nglibc: {theirs}"
    );
    // The daemon keeps serving (no restart needed, none happened).
    for p in d.pids() {
        assert!(
            std::path::Path::new(&format!("/proc/{p}")).exists(),
            "daemon {p} died"
        );
    }
}

/// A daemon whose log has gone (its logger died: `EPIPE`; or a log file
/// past its size limit: `EFBIG`) still serves: a line it cannot write is
/// dropped. `eprintln!` panicked there, and the daemon aborted without a
/// word (found by the file-size test, whose daemon logged to a file).
#[test]
fn a_daemon_whose_log_has_gone_still_serves() {
    let dir = TempDir::new("nolog");
    let p = dir.path();
    // Others may write the directory: the listener warns at its start.
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let sock = p.join(".wtmpd-socket");
    let child = std::process::Command::new(daemon("utmps-wtmpd"))
        .arg("--listen")
        .arg(&sock)
        .arg(p.join("wtmp"))
        .stdin(std::process::Stdio::null())
        .stderr(writer)
        .spawn()
        .unwrap();
    let mut child = util::Guarded(child);
    util::wait_for(&sock);
    let ctl = util::c_program("utmpctl", util::Cc::Gnu);
    let o = Run::new(&ctl)
        .preload()
        .sockets_in(p)
        .args([
            "wtmp",
            "/var/log/wtmp",
            "7",
            "root",
            "pts/90",
            "90",
            "90",
            "nolog.example",
        ])
        .run();
    assert_eq!(o.stdout.trim(), "ok", "{o}");
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the daemon died with its log"
    );
    let dump = Run::new("utmpdump").args([p.join("wtmp")]).run();
    assert!(dump.ok().contains("nolog.example"), "{dump}");
}
