//! utmps-write: skarnet's interface against real daemons, and what the
//! records it writes look like to who, last and utmpdump.

use std::io::Read;
use std::os::unix::net::UnixListener;
use util::{daemon, ensure_user, lines_with, Daemons, Guarded, Output, Run, TempDir};

const USER: &str = "utmpstest1";

/// utmps-write pointed at `d`'s daemons (at the default sockets).
fn write(d: &Daemons, args: &[&str]) -> Run {
    Run::new(daemon("utmps-write"))
        .args(args)
        .sockets_in(d.dir.path())
}

fn dump(d: &Daemons, file: &str) -> String {
    Run::new("utmpdump")
        .args([d.file(file)])
        .run()
        .ok()
        .to_string()
}

/// A TAI64N label (`@` + 24 hex digits) for a Unix time, as tai64n(8)
/// writes it after 2017: TAI = UTC + 37 s.
fn tai64n(unix: u64, nano: u32) -> String {
    format!("@{:016x}{:08x}", (1u64 << 62) + unix + 37, nano)
}

#[test]
fn boot_run_level_and_shutdown_records_as_who_and_last_show_them() {
    let d = Daemons::start();
    let kernel = "6.1.0-utmps-test";
    // What init writes on a glibc host (sysvinit, systemd-update-utmp):
    // user reboot / runlevel / shutdown, line ~, id ~~.
    let boot = write(
        &d,
        &[
            "-uw",
            "-l",
            "reboot",
            "-p",
            "0",
            "-h",
            kernel,
            "-T",
            "2026-01-02T03:04:05",
            "~~",
            "BOOT_TIME",
            "~",
        ],
    )
    .run();
    assert_eq!(boot.ok(), "", "{boot}");
    // Run level 3 after none ('N'), stamped with a TAI64N label.
    let level = (b'3' as u32 + 256 * b'N' as u32).to_string();
    let stamp = tai64n(1_767_323_046, 250_000_000); // 2026-01-02T03:04:06.25Z
    let o = write(
        &d,
        &[
            "-u", "-w", "-l", "runlevel", "-p", &level, "-h", kernel, "-T", &stamp, "~~",
            "RUN_LVL", "~",
        ],
    )
    .run();
    o.ok();

    let who = d.cmd("who").args(["-b"]).run();
    assert_eq!(
        who.ok().split_whitespace().collect::<Vec<_>>(),
        ["system", "boot", "Jan", "2", "03:04"],
        "{who}"
    );
    let who = d.cmd("who").args(["-r"]).run();
    assert_eq!(
        who.ok().split_whitespace().collect::<Vec<_>>(),
        ["run-level", "3", "Jan", "2", "03:04", "last=S"],
        "{who}"
    );
    let wtmp = dump(&d, "wtmp");
    assert!(
        wtmp.contains("[2] [00000] [~~  ] [reboot  ] [~           ]")
            && wtmp.contains("[2026-01-02T03:04:05,000000+00:00]")
            && wtmp.contains(&format!("[1] [{level:0>5}] [~~  ] [runlevel] [~"))
            && wtmp.contains("[2026-01-02T03:04:06,250000+00:00]")
            && lines_with(&wtmp, kernel).len() == 2,
        "{wtmp}"
    );

    // The shutdown record goes to wtmp alone.
    let o = write(
        &d,
        &[
            "-w",
            "-l",
            "shutdown",
            "-p",
            "0",
            "-h",
            kernel,
            "-T",
            "2026-01-02T05:00:00",
            "~~",
            "RUN_LVL",
            "~",
        ],
    )
    .run();
    o.ok();
    let last = Run::new("last")
        .args(["-x", "-f"])
        .args([d.file("wtmp")])
        .run();
    let out = last.ok();
    for (what, n) in [
        ("shutdown system down", 1),
        ("runlevel (to lvl 3)", 1),
        ("reboot   system boot", 1),
    ] {
        let l = lines_with(out, what);
        assert!(l.len() == n && l[0].contains(kernel), "{what}: {last}");
    }
    let last = Run::new("last")
        .args(["reboot", "-f"])
        .args([d.file("wtmp")])
        .run();
    assert_eq!(lines_with(last.ok(), "system boot").len(), 1, "{last}");
    // utmp keeps one BOOT_TIME and one RUN_LVL entry; the shutdown record
    // did not go there.
    let utmp = dump(&d, "utmp");
    assert_eq!(utmp.lines().count(), 2, "{utmp}");
    assert!(!utmp.contains("shutdown"), "{utmp}");
}

#[test]
fn addresses_hosts_and_defaults_reach_the_record() {
    ensure_user(USER);
    let d = Daemons::start();
    write(
        &d,
        &[
            "-u",
            "-i",
            "192.0.2.7",
            "-h",
            "v4.example",
            "p1",
            "USER_PROCESS",
            "pts/71",
        ],
    )
    .run()
    .ok();
    write(
        &d,
        &["-u", "-i", "2001:db8::7", "p2", "user_process", "pts/72"],
    )
    .run()
    .ok();
    let utmp = dump(&d, "utmp");
    let v4 = lines_with(&utmp, "pts/71");
    assert!(
        v4.len() == 1 && v4[0].contains("[v4.example") && v4[0].contains("[192.0.2.7"),
        "{utmp}"
    );
    let v6 = lines_with(&utmp, "pts/72");
    assert!(v6.len() == 1 && v6[0].contains("[2001:db8::7"), "{utmp}");
    // Without -l and -p: the caller's name (getpwuid) and utmps-write's
    // pid.
    write(&d, &["-w", "p3", "USER_PROCESS", "pts/73"])
        .run()
        .ok();
    let wtmp = dump(&d, "wtmp");
    let l = lines_with(&wtmp, "pts/73");
    assert!(
        l.len() == 1 && l[0].contains("[root") && !l[0].starts_with("[7] [00000]"),
        "{wtmp}"
    );
    // An ordinary user appends nothing to wtmp, even on a terminal of
    // their own (as with glibc: wtmp is not theirs to write).
    let mine = util::PtySession::start(Some(USER));
    let o = write(&d, &["-w", "p4", "USER_PROCESS", &mine.line])
        .user(USER)
        .run();
    assert_eq!(o.status.code(), Some(111), "{o}");
    assert_eq!(dump(&d, "wtmp"), wtmp);
}

#[test]
fn an_ordinary_user_may_not_write_boot_time_to_utmp() {
    ensure_user(USER);
    let d = Daemons::start();
    let args = ["-u", "-l", "reboot", "-p", "0", "~~", "BOOT_TIME", "~"];
    let before = std::fs::read(d.file("utmp")).unwrap_or_default();
    let o = write(&d, &args).user(USER).run();
    assert_eq!(o.status.code(), Some(111), "{o}");
    assert_eq!(
        o.stderr, "utmps-write: fatal: unable to write utmp entry: Permission denied\n",
        "{o}"
    );
    assert_eq!(
        std::fs::read(d.file("utmp")).unwrap_or_default(),
        before,
        "a refused write changed utmp"
    );
    let who = d.cmd("who").args(["-b"]).run();
    assert_eq!(who.ok(), "", "{who}");
    // Root may.
    write(&d, &args).run().ok();
    let who = d.cmd("who").args(["-b"]).run();
    assert_eq!(lines_with(who.ok(), "system boot").len(), 1, "{who}");
}

fn fails(o: &Output, code: i32, stderr: &str) {
    assert_eq!(o.status.code(), Some(code), "{o}");
    assert_eq!(o.stderr, stderr, "{o}");
    assert_eq!(o.stdout, "", "{o}");
}

#[test]
fn usage_and_system_errors_as_skarnet_reports_them() {
    let d = Daemons::start();
    let usage = "utmps-write: usage: utmps-write [ -u ] [ -w ] [ -U utmpd-socket ] \
                 [ -W wtmpd-socket ] [ -t timeout ] [ -T timestamp ] [ -h host ] [ -i ip ] \
                 [ -l user ] [ -p pid ] id type line\n";
    for args in [
        &[][..],
        &["-u", "a", "EMPTY"],
        &["-q", "-u", "a", "EMPTY", "b"],
        &["-u", "-T", "tomorrow", "a", "EMPTY", "b"],
        &["-u", "-t", "-5", "a", "EMPTY", "b"],
    ] {
        fails(&write(&d, args).run(), 100, usage);
    }
    let fatal = |m: &str| format!("utmps-write: fatal: {m}\n");
    fails(
        &write(&d, &["a", "EMPTY", "b"]).run(),
        100,
        &fatal("at least one of -u or -w must be used"),
    );
    fails(
        &write(&d, &["-u", "a", "LOGGED_IN", "b"]).run(),
        100,
        &fatal("invalid ut_type: LOGGED_IN"),
    );
    fails(
        &write(&d, &["-u", "-i", "300.1.1.1", "a", "EMPTY", "b"]).run(),
        100,
        &fatal("invalid IP address: 300.1.1.1"),
    );
    // Nobody listening.
    let none = d.dir.path().join("none.sock");
    let none = none.to_str().unwrap();
    fails(
        &write(&d, &["-u", "-U", none, "a", "EMPTY", "b"]).run(),
        111,
        &fatal(&format!(
            "unable to connect to utmpd at {none}: No such file or directory"
        )),
    );
    fails(
        &write(&d, &["-w", "-W", none, "a", "EMPTY", "b"]).run(),
        111,
        &fatal(&format!(
            "unable to write wtmp entry via wtmpd at {none}: No such file or directory"
        )),
    );
    // A daemon that accepts and never answers: -t bounds the wait.
    let mute = d.dir.path().join("mute.sock");
    let listener = UnixListener::bind(&mute).unwrap();
    let held = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let o = write(
        &d,
        &[
            "-u",
            "-t",
            "300",
            "-U",
            mute.to_str().unwrap(),
            "a",
            "EMPTY",
            "b",
        ],
    )
    .run();
    fails(
        &o,
        111,
        &fatal("unable to write utmp entry: Connection timed out"),
    );
    drop(held.join());
}

#[test]
fn only_base_protocol_requests_so_skarnets_daemons_serve_it() {
    // s6-ipcserver runs the daemon behind a tee that keeps every byte the
    // client sent: one `E` + record to utmpd, one `+` + record to wtmpd,
    // nothing of our extensions.
    let dir = TempDir::new("base");
    let d = dir.path();
    let mut procs = Vec::new();
    for (bin, sock, file) in [
        ("utmps-utmpd", "u.sock", "utmp"),
        ("utmps-wtmpd", "w.sock", "wtmp"),
    ] {
        let script = format!(
            "tee -a {log} | exec {bin} {file}",
            log = d.join(format!("{file}.sent")).display(),
            bin = daemon(bin).display(),
            file = d.join(file).display(),
        );
        procs.push(Guarded(
            std::process::Command::new("s6-ipcserver")
                .arg(d.join(sock))
                .args(["sh", "-c", &script])
                .spawn()
                .unwrap(),
        ));
        util::wait_for(&d.join(sock));
    }
    let o = Run::new(daemon("utmps-write"))
        .args(["-uw", "-U"])
        .args([d.join("u.sock")])
        .args(["-W".as_ref(), d.join("w.sock").as_os_str()])
        .args(["-l", "root", "-p", "7", "id1", "USER_PROCESS", "pts/74"])
        .run();
    o.ok();
    for (file, op) in [("utmp", b'E'), ("wtmp", b'+')] {
        let sent = util::eventually(&format!("{file}.sent"), || {
            let mut b = Vec::new();
            std::fs::File::open(d.join(format!("{file}.sent")))
                .ok()?
                .read_to_end(&mut b)
                .ok()?;
            (b.len() == 401).then_some(b)
        });
        assert_eq!(sent[0], op, "{file}");
        let mut rec = [0u8; 400];
        rec.copy_from_slice(&sent[1..]);
        let r = proto::codec::decode_record(&rec);
        assert_eq!(
            (r.kind, r.pid, r.user_str(), r.line_str(), &r.id),
            (
                proto::Kind::USER_PROCESS,
                7,
                &b"root"[..],
                &b"pts/74"[..],
                b"id1\0"
            ),
        );
    }
    let utmp = Run::new("utmpdump").args([d.join("utmp")]).run();
    assert_eq!(lines_with(utmp.ok(), "pts/74").len(), 1, "{utmp}");
    drop(procs);
}
