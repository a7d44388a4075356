//! Hostile input, faults and hostile neighbours: the daemons answer or
//! hang up in bounded time, refused requests change nothing, locks held by
//! users stall nobody, a full disk loses nothing, and setuid programs do
//! not trust the environment.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use util::{
    c_program, daemon, ensure_user, lines_with, Cc, Daemons, Guarded, PtySession, Rng, Run, TempDir,
};

/// A record file with a few entries, written by root through utmpd.
fn seeded(dir: &TempDir, name: &str) -> std::path::PathBuf {
    let f = dir.path().join(name);
    let mut input = Vec::new();
    for i in 0..5u8 {
        let mut r = proto::Record::EMPTY;
        r.kind = proto::Kind::USER_PROCESS;
        proto::record::set_field(&mut r.line, format!("tty{i}").as_bytes());
        proto::record::set_field(&mut r.user, b"root");
        let mut b = [0u8; 400];
        proto::codec::encode_record(&r, &mut b);
        input.push(b'P');
        input.extend_from_slice(&proto::codec::encode_cursor(
            &proto::table::Cursor::default(),
        ));
        input.extend_from_slice(&b);
    }
    let bin = if name == "utmp" {
        "utmps-utmpd"
    } else {
        "utmps-wtmpd"
    };
    let o = Run::new(daemon(bin))
        .args([&f])
        .env("PROTO", "IPC")
        .env("IPCREMOTEEUID", "0")
        .env("IPCREMOTEEGID", "0")
        .stdin(&input)
        .run();
    assert!(o.status.success(), "{o}");
    assert_eq!(std::fs::metadata(&f).unwrap().len(), 5 * 384);
    f
}

#[test]
fn random_and_malformed_requests_change_nothing_and_end_in_bounded_time() {
    let dir = TempDir::new("fuzz");
    let utmp = seeded(&dir, "utmp");
    let wtmp = dir.path().join("wtmp");
    std::fs::copy(&utmp, &wtmp).unwrap();
    let before = (std::fs::read(&utmp).unwrap(), std::fs::read(&wtmp).unwrap());
    let ops = b"reilEBILPVAT+";
    let mut rng = Rng(0x5eed_f00d);
    let cases = 400;
    let (mut answered, mut closed) = (0, 0);
    for case in 0..cases {
        let len = (rng.next_u64() % 1500) as usize;
        let mut input: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if case % 2 == 0 && !input.is_empty() {
            // Well-formed opcodes with random, truncated or oversized bodies.
            input[0] = ops[(rng.next_u64() % ops.len() as u64) as usize];
        }
        for (bin, file) in [("utmps-utmpd", &utmp), ("utmps-wtmpd", &wtmp)] {
            // An ordinary peer (a uid with no user name): nothing it sends may write.
            let o = Run::new(daemon(bin))
                .args(["--timeout".as_ref(), "500".as_ref(), file.as_os_str()])
                .env("PROTO", "IPC")
                .env("IPCREMOTEEUID", "4242424")
                .env("IPCREMOTEEGID", "4242424")
                .stdin(&input)
                .timeout(Duration::from_secs(10))
                .run();
            let code = o.status.code();
            assert!(
                matches!(code, Some(0) | Some(1)),
                "case {case} {bin}: crashed or failed: {o}"
            );
            assert!(!o.stderr.contains("panicked"), "case {case} {bin}: {o}");
            if o.stdout.is_empty() {
                closed += 1;
            } else {
                answered += 1;
            }
        }
        assert_eq!(
            std::fs::read(&utmp).unwrap(),
            before.0,
            "case {case}: utmp changed"
        );
        assert_eq!(
            std::fs::read(&wtmp).unwrap(),
            before.1,
            "case {case}: wtmp changed"
        );
    }
    println!(
        "{} hostile inputs: {answered} answered, {closed} closed without a reply, 0 crashes",
        cases * 2
    );
    assert!(answered > 100 && closed > 100, "{answered} {closed}");
}

#[test]
fn silent_and_stalled_clients_cannot_keep_a_daemon() {
    let dir = TempDir::new("stall");
    let utmp = seeded(&dir, "utmp");
    for input in [&b""[..], b"E\x07\x00\x00", b"P"] {
        let start = Instant::now();
        let mut child = Command::new(daemon("utmps-utmpd"))
            .args(["--timeout".as_ref(), "300".as_ref(), utmp.as_os_str()])
            .env("PROTO", "IPC")
            .env("IPCREMOTEEUID", "0")
            .env("IPCREMOTEEGID", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Send part of a request, or nothing, and keep the pipe open.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
        let status = util::eventually("the daemon to give up on its client", || {
            child.try_wait().unwrap()
        });
        assert_eq!(status.code(), Some(1), "{input:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
        drop(stdin);
    }
}

#[test]
fn locks_held_by_an_ordinary_user_stall_no_writer() {
    let user = "utmpstest1";
    ensure_user(user);
    let d = Daemons::start();
    let ctl = c_program("utmpctl", Cc::Gnu);
    assert_eq!(
        d.utmpctl(Cc::Gnu, &["put", "7", "root", "pts/1", "1", "1"]),
        "ok"
    );
    let o = d
        .cmd(&ctl)
        .args(["wtmp", "/var/log/wtmp", "7", "root", "pts/1", "1", "1"])
        .run();
    assert_eq!(o.ok().trim(), "ok");
    // The user locks everything they can open: the world-readable record
    // files. The daemons' lock files are not readable by them.
    let mut locker = Guarded(
        Command::new("setpriv")
            .args([
                &format!("--reuid={user}"),
                &format!("--regid={user}"),
                "--init-groups",
            ])
            .arg(c_program("locker", Cc::Gnu))
            .args([
                d.file("utmp"),
                d.file("wtmp"),
                d.file("utmp.lock"),
                d.file("wtmp.lock"),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(locker.0.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        out.read_line(&mut l).unwrap();
        if l.trim() == "locked" || l.is_empty() {
            break;
        }
        lines.push(l);
    }
    assert_eq!(
        lines.len(),
        2,
        "the lock files must be out of reach: {lines:?}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("cannot open") && l.contains(".lock")),
        "{lines:?}"
    );
    // Every write still succeeds within the shim's deadline.
    for i in 0..20 {
        let line = format!("pts/{i}");
        let o = d
            .cmd(&ctl)
            .args(["put", "7", "root", &line, &i.to_string(), "1"])
            .run();
        assert_eq!(o.ok().trim(), "ok", "{o}");
        let o = d
            .cmd(&ctl)
            .args(["wtmp", "/var/log/wtmp", "7", "root", &line, "1", "1"])
            .run();
        assert_eq!(o.ok().trim(), "ok", "{o}");
    }
}

/// `rounds` times a wtmp append and a utmp put on line pts/N, through the
/// shim against the daemons whose sockets are in `dir`: each result ("ok"
/// or "err ERRNO").
fn login_logout_rounds(cc: Cc, dir: &std::path::Path, rounds: usize) -> Vec<String> {
    let run = |args: &[&str]| {
        Run::new(c_program("utmpctl", cc))
            .preload()
            .sockets_in(dir)
            .args(args)
            .run()
            .stdout
            .trim()
            .to_string()
    };
    let mut results = Vec::new();
    for i in 0..rounds {
        let line = format!("pts/{i}");
        results.push(run(&[
            "wtmp",
            "/var/log/wtmp",
            "7",
            "root",
            &line,
            "1",
            "1",
        ]));
        results.push(run(&["put", "7", "root", &line, &i.to_string(), "1"]));
    }
    results
}

#[test]
fn a_file_size_limit_fails_the_write_and_leaves_whole_records() {
    let dir = TempDir::new("fsize");
    let sock = dir.path().join(".wtmpd-socket");
    let usock = dir.path().join(".utmpd-socket");
    // Room for three records and a bit.
    let limit = (3 * 384 + 100).to_string();
    let spawn = |bin: &str, s: &std::path::Path, file: &str| {
        Guarded(
            Command::new("prlimit")
                .arg(format!("--fsize={limit}"))
                .arg(daemon(bin))
                .arg("--listen")
                .arg(s)
                .arg(dir.path().join(file))
                .current_dir(dir.path())
                .spawn()
                .unwrap(),
        )
    };
    let mut w = spawn("utmps-wtmpd", &sock, "wtmp");
    let _u = spawn("utmps-utmpd", &usock, "utmp");
    for _ in 0..1000 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if !sock.exists() {
        let pid = w.0.id();
        let status = w.0.try_wait();
        let kids =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        let mut what = format!("status {status:?} children [{kids}]");
        for p in std::iter::once(pid.to_string()).chain(kids.split_whitespace().map(str::to_string))
        {
            let wchan = std::fs::read_to_string(format!("/proc/{p}/wchan")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let cmd = std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default();
            what += &format!("\n{p}: {cmd:?} wchan {wchan} stat {stat}");
        }
        let ls = Run::new("ls")
            .args(["-la".as_ref(), dir.path().as_os_str()])
            .run();
        panic!("wtmpd never listened: {what}\n{ls}");
    }
    util::wait_for(&usock);
    let results = login_logout_rounds(Cc::Musl, dir.path(), 5);
    let efbig = format!("err {}", libc::EFBIG);
    assert_eq!(
        results,
        ["ok", "ok", "ok", "ok", "ok", "ok", &efbig, &efbig, &efbig, &efbig],
        "{results:?}"
    );
    for f in ["wtmp", "utmp"] {
        let len = std::fs::metadata(dir.path().join(f)).unwrap().len();
        assert_eq!(len, 3 * 384, "{f}: a partial record was left");
        let dump = Run::new("utmpdump").args([dir.path().join(f)]).run();
        assert_eq!(dump.ok().lines().count(), 3, "{dump}");
    }
}

#[test]
fn privacy_mode_hides_other_users_hosts_from_ordinary_readers() {
    let (alice, bob) = ("utmpstest1", "utmpstest2");
    ensure_user(alice);
    ensure_user(bob);
    let d = Daemons::start_with(&["--private"]);
    let ctl = c_program("utmpctl", Cc::Gnu);
    let sessions = [PtySession::start(None), PtySession::start(None)];
    for (user, s) in [alice, bob].iter().zip(&sessions) {
        let host = format!("{user}.example");
        let o = d
            .cmd(&ctl)
            .args([
                "put",
                "7",
                user,
                &s.line,
                &s.line[4..],
                &s.pid.to_string(),
                &host,
            ])
            .run();
        assert_eq!(o.ok().trim(), "ok");
    }
    for cc in Cc::ALL {
        let o = d
            .cmd(c_program("utmpctl", cc))
            .args(["list"])
            .user(alice)
            .run();
        assert!(
            o.ok().contains("utmpstest1.example"),
            "own host visible: {o}"
        );
        assert!(
            !o.ok().contains("utmpstest2.example"),
            "other host hidden: {o}"
        );
        assert_eq!(
            lines_with(o.ok(), bob).len(),
            1,
            "the entry itself stays: {o}"
        );
        let o = d
            .cmd(c_program("utmpctl", cc))
            .args(["line", &sessions[1].line])
            .user(alice)
            .run();
        assert!(!o.ok().contains("utmpstest2.example"), "{o}");
    }
    let who = d.cmd("who").args(["--lookup"]).user(alice).run();
    assert!(!who.ok().contains("utmpstest2.example"), "{who}");
    let root = d.cmd(&ctl).args(["list"]).run();
    assert!(
        root.ok().contains("utmpstest2.example"),
        "root sees all: {root}"
    );
}

/// Copies of utmpctl (glibc) in a new temporary directory, one per
/// `(name, mode)`, for the set-id tests.
fn set_id_copies(tag: &str, copies: &[(&str, u32)]) -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let ctl = c_program("utmpctl", Cc::Gnu);
    let dir = TempDir::new(tag);
    for (name, mode) in copies {
        let p = dir.path().join(name);
        std::fs::copy(&ctl, &p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
    }
    for sub in ["upper", "work"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
    }
    dir
}

/// `body` (sh, `set -eu`) run in a private mount namespace where /run is a
/// new tmpfs and /etc an overlay whose upper layer is in `dir`, with an
/// /etc/ld.so.preload naming the shim: the only way the shim enters a
/// set-id program, provided without ever writing the machine's /etc.
/// `as_user CMD...` runs CMD as `$USERNAME`.
fn in_preloaded_namespace(dir: &TempDir, user: &str, body: &str) -> Run {
    let script = r#"
set -eu
mount -t tmpfs tmpfs /run
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$DIR/upper,workdir=$DIR/work" /etc
# Only ever write the overlay's copy.
mountpoint -q /etc || { echo "no overlay on /etc" >&2; exit 1; }
# (the suite's own overlay may be below: the last line is the top mount)
findmnt -n -o FSTYPE,OPTIONS /etc | tail -n 1 | grep -q "^overlay .*upperdir=$DIR/upper" || exit 1
echo "$SHIM" > /etc/ld.so.preload
as_user() { setpriv --reuid="$USERNAME" --regid="$USERNAME" --init-groups "$@"; }
"#
    .to_string()
        + body;
    Run::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .env("DIR", dir.path())
        .env("SHIM", util::shim())
        .env("USERNAME", user)
        .env("UTMPD", daemon("utmps-utmpd"))
}

#[test]
fn setuid_programs_ignore_the_utmps_variables() {
    // (And setgid ones.) The shim goes into a setuid program only through
    // ld.so.preload: see `in_preloaded_namespace`.
    let user = "utmpstest1";
    ensure_user(user);
    let d = Daemons::start();
    assert_eq!(
        d.utmpctl(Cc::Gnu, &["put", "7", "root", "pts/5", "5", "1"]),
        "ok"
    );
    // Setgid (root's group): the same uid, only `AT_SECURE` tells.
    let dir = set_id_copies(
        "suid",
        &[
            ("utmpctl-plain", 0o755),
            ("utmpctl-setuid", 0o4755),
            ("utmpctl-setgid", 0o2755),
        ],
    );
    let body = r#"
# A utmpd on the default socket, with its own entry.
mkdir -p /run/utmps "$DIR/ns"
(cd "$DIR/ns" && exec "$UTMPD" --listen /run/utmps/.utmpd-socket) &
daemon=$!
trap 'kill $daemon' EXIT
while [ ! -S /run/utmps/.utmpd-socket ]; do sleep 0.01; done
"$DIR/utmpctl-plain" put 7 root pts/9 9 1 >/dev/null
for prog in "$DIR/utmpctl-plain" "$DIR/utmpctl-setuid" "$DIR/utmpctl-setgid"; do
    as_user env UTMPS_UTMPD_SOCKET="$SOCK" "$prog" list || true
done
"#;
    let o = in_preloaded_namespace(&dir, user, body)
        .env("SOCK", d.file(".utmpd-socket"))
        .run();
    let out = o.ok();
    let l: Vec<_> = out.lines().collect();
    assert_eq!(l.len(), 3, "{o}");
    // The plain program follows UTMPS_UTMPD_SOCKET to the test daemon.
    assert!(l[0].starts_with("7 root pts/5"), "{o}");
    // The setuid one has the shim too, but ignores the variable and uses
    // the default socket.
    assert!(l[1].starts_with("7 root pts/9"), "{o}");
    assert!(l[2].starts_with("7 root pts/9"), "setgid: {o}");
    assert!(
        !std::path::Path::new("/etc/ld.so.preload").exists(),
        "the machine's preload file appeared"
    );
}

#[test]
fn setgid_programs_refuse_a_users_own_server_at_the_default_socket() {
    // What `AT_SECURE` alone decides: a setgid program keeps its user's uid,
    // so only the kernel's secure-execution flag tells the shim that a
    // server of that uid is not to be trusted. The user's own utmpd listens
    // on the default socket, in a root-owned world-writable /run/utmps of a
    // private namespace (so the user is not the daemons' account): the
    // plain program talks to it, the setgid copy must refuse it, directly
    // (its generation file) and through the socket.
    let user = "utmpstest1";
    ensure_user(user);
    let dir = set_id_copies(
        "sgid",
        &[("utmpctl-plain", 0o755), ("utmpctl-setgid", 0o2755)],
    );
    let body = r#"
mkdir -m 1777 /run/utmps
# The user's own utmpd, on the default socket, with the user's entry.
(cd /run/utmps && exec setpriv --reuid="$USERNAME" --regid="$USERNAME" --init-groups "$UTMPD" --listen /run/utmps/.utmpd-socket) &
daemon=$!
trap 'kill $daemon' EXIT
while [ ! -S /run/utmps/.utmpd-socket ]; do sleep 0.01; done
as_user "$DIR/utmpctl-plain" put 7 "$USERNAME" pts/7 7 1 >/dev/null
# Its generation file offers direct reads, which the setgid copy must refuse too.
test -s /run/utmps/.utmpd-socket.gen
for prog in "$DIR/utmpctl-plain" "$DIR/utmpctl-setgid"; do
    as_user "$prog" list || true
done
"#;
    let o = in_preloaded_namespace(&dir, user, body).run();
    let out = o.ok();
    let l: Vec<_> = out.lines().collect();
    assert_eq!(l.len(), 2, "{o}");
    assert!(l[0].starts_with(&format!("7 {user} pts/7")), "plain: {o}");
    assert_eq!(l[1], "err 111", "setgid talked to its user's server: {o}");
    assert!(
        !std::path::Path::new("/etc/ld.so.preload").exists(),
        "the machine's preload file appeared"
    );
}

fn records(path: &std::path::Path) -> Vec<proto::Record> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        bytes.len() % 384,
        0,
        "{}: not whole records",
        path.display()
    );
    bytes
        .chunks(384)
        .map(|c| proto::Layout::Glibc.decode(c).unwrap())
        .collect()
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_write() {
    let d = Daemons::start();
    let listeners: Vec<u32> = d.pids();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let killer = std::thread::spawn(move || {
        let mut rng = Rng(42);
        let mut kills = 0;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_micros(200 + rng.next_u64() % 3000));
            for &l in &listeners {
                for pid in util::children_of(l) {
                    if rng.next_u64() % 2 == 0 {
                        // SAFETY: kill(2) on a pid we just listed as our daemon's child.
                        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                        kills += 1;
                    }
                }
            }
        }
        kills
    });
    let n = 1500;
    let o = d
        .cmd(c_program("hostile", Cc::Gnu))
        .args(["writes", &n.to_string(), "k"])
        .timeout(Duration::from_secs(120))
        .run();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let kills = killer.join().unwrap();
    let out = o.ok();
    let acked = |kind: &str| -> Vec<usize> {
        out.lines()
            .filter_map(|l| {
                let f: Vec<_> = l.split(' ').collect();
                (f[0] == kind && f[2] == "ok").then(|| f[1].parse().unwrap())
            })
            .collect()
    };
    let (puts, appends) = (acked("put"), acked("wtmp"));
    let line = |r: &proto::Record| String::from_utf8_lossy(r.line_str()).into_owned();
    let utmp: std::collections::HashSet<String> =
        records(&d.file("utmp")).iter().map(line).collect();
    let wtmp: Vec<String> = records(&d.file("wtmp")).iter().map(line).collect();
    for i in &puts {
        assert!(
            utmp.contains(&format!("k/{i}")),
            "acknowledged put {i} lost"
        );
    }
    for i in &appends {
        assert_eq!(
            wtmp.iter().filter(|l| **l == format!("k/{i}")).count(),
            1,
            "acknowledged append {i}"
        );
    }
    assert!(
        utmp.iter().chain(&wtmp).all(|l| l.starts_with("k/")),
        "torn or foreign record"
    );
    println!(
        "{kills} daemon processes killed; {} of {n} puts and {} of {n} appends acknowledged, all present; files whole",
        puts.len(),
        appends.len()
    );
    assert!(kills > 10, "the killer must have hit daemons: {kills}");
}

#[test]
fn sixteen_concurrent_writers_match_the_serial_model() {
    let d = Daemons::start();
    let (writers, ops) = (16, 1000);
    let procs: Vec<_> = (0..writers)
        .map(|w| {
            let mut c = Command::new(c_program("hostile", Cc::Musl));
            c.args(["mixed", &ops.to_string(), &w.to_string()])
                .env("LD_PRELOAD", util::shim())
                .stdout(Stdio::piped());
            d.bind(&mut c);
            c.spawn().unwrap()
        })
        .collect();
    for p in procs {
        let out = p.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
    }
    // The serial model: each slot holds its writer's last put; wtmp holds
    // every append exactly once.
    let mut want = std::collections::BTreeMap::new();
    let mut appends = Vec::new();
    for w in 0..writers {
        for k in 0..ops {
            let slot = (k / 3) % 8;
            match k % 3 {
                0 => {
                    let kind = if (k / 24) % 2 == 1 { 8 } else { 7 };
                    want.insert(format!("m{w}/{slot}"), (kind, k));
                }
                2 => appends.push((format!("m{w}/{slot}"), k)),
                _ => {}
            }
        }
    }
    let got: std::collections::BTreeMap<_, _> = records(&d.file("utmp"))
        .iter()
        .map(|r| {
            (
                String::from_utf8_lossy(r.line_str()).into_owned(),
                (r.kind.0, r.pid),
            )
        })
        .collect();
    assert_eq!(
        records(&d.file("utmp")).len(),
        writers * 8,
        "one slot per line, no duplicates"
    );
    assert_eq!(got, want);
    let mut wtmp: Vec<_> = records(&d.file("wtmp"))
        .iter()
        .map(|r| (String::from_utf8_lossy(r.line_str()).into_owned(), r.pid))
        .collect();
    wtmp.sort();
    appends.sort();
    assert_eq!(wtmp, appends);
}

#[test]
fn a_full_disk_fails_the_write_and_leaves_whole_records() {
    // The daemons' files on a 16 KiB tmpfs (8 KiB of it their two
    // generation files), mounted in a private mount namespace of their
    // own; the sockets stay outside for the client.
    let dir = TempDir::new("enospc");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let script = r#"
set -eu
mount -t tmpfs -o size=16k tmpfs "$DATA"
cd "$DATA"
# Both die with this shell, which the test kills.
setpriv --pdeathsig KILL "$UTMPD" --listen "$DIR/.utmpd-socket" utmp &
setpriv --pdeathsig KILL "$WTMPD" --listen "$DIR/.wtmpd-socket" wtmp &
wait
"#;
    let _daemons = Guarded(
        Command::new("unshare")
            .args(["-m", "sh", "-c", script])
            .env("DATA", &data)
            .env("DIR", dir.path())
            .env("UTMPD", daemon("utmps-utmpd"))
            .env("WTMPD", daemon("utmps-wtmpd"))
            .spawn()
            .unwrap(),
    );
    for s in [".utmpd-socket", ".wtmpd-socket"] {
        util::wait_for(&dir.path().join(s));
    }
    let appends = login_logout_rounds(Cc::Gnu, dir.path(), 15);
    let ok = appends.iter().filter(|r| *r == "ok").count();
    let full = format!("err {}", libc::ENOSPC);
    assert!((10..30).contains(&ok), "{appends:?}");
    assert!(
        appends[ok..].iter().all(|r| *r == full),
        "after the first failure, all fail with ENOSPC: {appends:?}"
    );
    // What was acknowledged is there, whole; nothing partial.
    let sizes = Run::new("nsenter")
        .args([
            "--target",
            &_daemons.0.id().to_string(),
            "--mount",
            "stat",
            "-c",
            "%s",
        ])
        .args([data.join("utmp"), data.join("wtmp")])
        .run();
    let s: Vec<u64> = sizes
        .ok()
        .lines()
        .take(2)
        .map(|l| l.trim().parse().unwrap())
        .collect();
    let (utmp_recs, wtmp_recs) = (s[0] / 384, s[1] / 384);
    assert_eq!(s[0] % 384, 0, "utmp: a partial record");
    assert_eq!(s[1] % 384, 0, "wtmp: a partial record");
    assert_eq!(
        (utmp_recs + wtmp_recs) as usize,
        ok,
        "every acknowledged write, and only those"
    );
}

#[test]
fn the_committed_corpus_of_edge_cases_changes_nothing() {
    let dir = TempDir::new("corpus");
    let utmp = seeded(&dir, "utmp");
    let wtmp = dir.path().join("wtmp");
    std::fs::copy(&utmp, &wtmp).unwrap();
    let before = (std::fs::read(&utmp).unwrap(), std::fs::read(&wtmp).unwrap());
    let corpus = util::repo().join("tests/corpus");
    let mut n = 0;
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "bin") {
            continue;
        }
        let input = std::fs::read(&path).unwrap();
        for (bin, file) in [("utmps-utmpd", &utmp), ("utmps-wtmpd", &wtmp)] {
            let o = Run::new(daemon(bin))
                .args(["--timeout".as_ref(), "300".as_ref(), file.as_os_str()])
                .env("PROTO", "IPC")
                .env("IPCREMOTEEUID", "4242424")
                .env("IPCREMOTEEGID", "4242424")
                .stdin(&input)
                .timeout(Duration::from_secs(10))
                .run();
            assert!(
                matches!(o.status.code(), Some(0) | Some(1)),
                "{}: {bin}: {o}",
                path.display()
            );
            n += 1;
        }
        assert_eq!(
            std::fs::read(&utmp).unwrap(),
            before.0,
            "{}",
            path.display()
        );
        assert_eq!(
            std::fs::read(&wtmp).unwrap(),
            before.1,
            "{}",
            path.display()
        );
        // Root may write, but nothing may crash the daemon or tear a record.
        let scratch = dir.path().join("scratch");
        std::fs::copy(&utmp, &scratch).unwrap();
        let o = Run::new(daemon("utmps-utmpd"))
            .args(["--timeout".as_ref(), "300".as_ref(), scratch.as_os_str()])
            .env("PROTO", "IPC")
            .env("IPCREMOTEEUID", "0")
            .env("IPCREMOTEEGID", "0")
            .stdin(&input)
            .run();
        assert!(
            matches!(o.status.code(), Some(0) | Some(1)),
            "{} as root: {o}",
            path.display()
        );
        assert_eq!(
            std::fs::metadata(&scratch).unwrap().len() % 384,
            0,
            "{}",
            path.display()
        );
    }
    assert!(n >= 30, "{n}");
}

/// A small ext4 mounted on `dir/fs` for one test (5% reserved for root),
/// unmounted when dropped.
struct SmallExt4(std::path::PathBuf);

impl SmallExt4 {
    fn new(dir: &TempDir) -> SmallExt4 {
        let img = dir.path().join("fs.img");
        let mnt = dir.path().join("fs");
        std::fs::create_dir(&mnt).unwrap();
        std::fs::File::create(&img)
            .unwrap()
            .set_len(8 << 20)
            .unwrap();
        let mkfs = Run::new("mkfs.ext4")
            .args(["-q", "-F", "-m", "5"])
            .args([&img])
            .run();
        mkfs.ok();
        Run::new("mount")
            .args([
                "-o".as_ref(),
                "loop".as_ref(),
                img.as_os_str(),
                mnt.as_os_str(),
            ])
            .run()
            .ok();
        SmallExt4(mnt)
    }
}

impl Drop for SmallExt4 {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A user fills the log's file system through a directory anyone may
/// write; root's records still land, as glibc's root writers' land in the
/// blocks ext4 keeps for root: wtmpd (as user utmp, no capability) keeps
/// blocks allocated past the end of the log for them, which ordinary
/// users' appends, stopped at the floor, cannot take.
#[test]
fn roots_records_land_when_a_user_filled_the_disk_as_glibcs_do() {
    const USER: &str = "utmpstest1";
    ensure_user(USER);
    crate::deploy::ensure_utmp_user();
    let dir = TempDir::new("reserve");
    let st = Command::new("chown")
        .args(["utmp:utmp".as_ref(), dir.path().as_os_str()])
        .status()
        .unwrap();
    assert!(st.success());
    let fs = SmallExt4::new(&dir);
    let wtmp = fs.0.join("wtmp");
    let plain = fs.0.join("wtmp-glibc");
    for f in [&wtmp, &plain] {
        Run::new("install")
            .args(["-o", "root", "-g", "utmp", "-m", "0664", "/dev/null"])
            .args([f])
            .run()
            .ok();
    }
    Run::new("install")
        .args(["-d", "-m", "1777"])
        .args([fs.0.join("tmp")])
        .run()
        .ok();
    let sock = dir.path().join(".wtmpd-socket");
    let mut c = Command::new("setpriv");
    c.args(["--reuid=utmp", "--regid=utmp", "--init-groups"])
        .arg(daemon("utmps-wtmpd"))
        .arg("--listen")
        .arg(&sock)
        .arg("--lock")
        .arg(dir.path().join("wtmp.lock"))
        .arg(&wtmp)
        .current_dir(dir.path())
        .stderr(Stdio::null());
    let _wtmpd = Guarded(c.spawn().unwrap());
    util::wait_for(&sock);
    // The user writes until the file system refuses them, twice (what
    // delayed allocation held back comes free after a sync).
    for n in 0..2 {
        let fill = Run::new("dd")
            .args([
                "if=/dev/zero".to_string(),
                "bs=4k".to_string(),
                format!("of={}", fs.0.join(format!("tmp/fill{n}")).display()),
                "conv=fsync".to_string(),
            ])
            .user(USER)
            .run();
        assert!(fill.stderr.contains("No space left"), "{fill}");
    }
    let append = |path: &std::path::Path, i: usize, shim: bool| {
        let mut r = Run::new(c_program("utmpctl", Cc::Gnu));
        if shim {
            r = r.preload().sockets_in(dir.path());
        }
        r.args(["wtmp".as_ref(), path.as_os_str()])
            .args(["7", "root", "tty1", &format!("r{i}"), "1"])
            .run()
            .stdout
            .trim()
            .to_string()
    };
    // glibc itself, as root, on the same file system.
    let glibc: Vec<_> = (0..12).map(|i| append(&plain, i, false)).collect();
    let ours: Vec<_> = (0..12)
        .map(|i| append(std::path::Path::new("/var/log/wtmp"), i, true))
        .collect();
    println!("a full file system: glibc's root appends {glibc:?}, ours {ours:?}");
    assert_eq!(ours, glibc);
    assert!(ours.iter().all(|r| r == "ok"), "{ours:?}");
    assert_eq!(std::fs::metadata(&wtmp).unwrap().len(), 12 * 384);
}
