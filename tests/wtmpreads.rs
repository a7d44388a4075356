//! Reading wtmp without waking a daemon: `who /var/log/wtmp` and a musl
//! reader read the file themselves where they may; scans of a wtmp that
//! grows under 16 writers are prefixes of it; a scan never mixes a
//! rotated file with its successor.

use crate::reads::{entries, preads_of_entries, traced, Steps};
use proto::Layout;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use util::{c_program, lines_with, Cc, Daemons, TempDir};

/// A glibc `who /var/log/wtmp` and a musl reader (`sequence`, built with
/// musl-gcc, getutent to the end) under strace over ten entries of the
/// wtmp served by daemons: the traces.
fn traced_readers(prepare: impl Fn(&Daemons)) -> Vec<(&'static str, String)> {
    let d = Daemons::start();
    std::fs::write(d.file("wtmp"), entries(0..10)).unwrap();
    prepare(&d);
    let dir = TempDir::new("strace-wtmp");
    let trace = dir.path().join("trace");
    let strace =
        |program: PathBuf, args: &[&str]| traced(&d, &trace, program.as_os_str()).args(args);
    let mut traces = Vec::new();
    let out = strace(PathBuf::from("who"), &["/var/log/wtmp"]).run();
    assert_eq!(lines_with(out.ok(), "reads.example").len(), 10, "{out}");
    traces.push((
        "coreutils who (glibc)",
        std::fs::read_to_string(&trace).unwrap(),
    ));
    let ops = "set\n".to_string() + &"get\n".repeat(11);
    let out = strace(c_program("sequence", Cc::Musl), &["/var/log/wtmp"])
        .stdin(ops.as_bytes())
        .run();
    assert_eq!(lines_with(out.ok(), "reads.example").len(), 10, "{out}");
    assert_eq!(lines_with(out.ok(), "get fail").len(), 1, "{out}");
    traces.push(("sequence (musl)", std::fs::read_to_string(&trace).unwrap()));
    traces
}

#[test]
fn who_reads_wtmp_without_a_daemon() {
    // wtmp open to everyone (0644 here, 0664 root:utmp on a system): the
    // shim maps wtmpd's generation file, reads the ten entries in one
    // pread and connects to no daemon. Nothing waits, so no call reads the
    // clock (a system call for the shim: one per getutxent, before).
    for (name, t) in traced_readers(|_| {}) {
        assert_eq!(lines_with(&t, "connect(").len(), 0, "{name}:\n{t}");
        assert_eq!(lines_with(&t, "clock_gettime(").len(), 0, "{name}:\n{t}");
        assert_eq!(lines_with(&t, ".wtmpd-socket.gen").len(), 1, "{name}:\n{t}");
        assert_eq!(preads_of_entries(&t), 1, "{name}:\n{t}");
    }
}

#[test]
fn a_wtmp_others_may_not_read_is_read_through_its_daemon() {
    // 0640: others may not read it, so neither may anyone read it
    // directly through the shim (root would be able to open it; what it
    // reads there must be what every user could). One connection to
    // wtmpd, no pread of the file.
    for (name, t) in traced_readers(|d| {
        std::fs::set_permissions(d.file("wtmp"), std::fs::Permissions::from_mode(0o640)).unwrap();
    }) {
        let connects = lines_with(&t, "connect(");
        assert_eq!(connects.len(), 1, "{name}:\n{t}");
        assert!(connects[0].contains(".wtmpd-socket"), "{name}:\n{t}");
        assert_eq!(preads_of_entries(&t), 0, "{name}:\n{t}");
    }
}

/// FNV-1a of each entry's pid and slot, as `churn scan` prints it.
fn fnv(hash: u64, pid: i32, slot: u32) -> u64 {
    let mut key = [0u8; 8];
    key[..4].copy_from_slice(&(pid as u32).to_le_bytes());
    key[4..].copy_from_slice(&slot.to_le_bytes());
    key.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(1_099_511_628_211)
    })
}

/// The hash of every prefix of the wtmp at `path` (glibc's layout):
/// `[k]` is that of its first `k` entries.
fn prefix_hashes(path: &Path) -> Vec<u64> {
    let bytes = std::fs::read(path).unwrap();
    let size = Layout::Glibc.size();
    assert_eq!(bytes.len() % size, 0, "a torn wtmp");
    let mut hashes = vec![14_695_981_039_346_656_037u64];
    for chunk in bytes.chunks_exact(size) {
        let r = Layout::Glibc.decode(chunk).unwrap();
        let line = String::from_utf8_lossy(r.line_str()).into_owned();
        let slot = line
            .strip_prefix("c/")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        hashes.push(fnv(*hashes.last().unwrap(), r.pid, slot));
    }
    hashes
}

#[test]
fn scans_of_a_wtmp_growing_under_sixteen_writers_are_prefixes_of_it() {
    // 10,000 self-checking entries, and 16 writers appending through wtmpd
    // while a glibc and a musl reader scan /var/log/wtmp through the API
    // (read directly: the file is open to everyone). Every entry read is
    // one a writer wrote whole, and every scan is exactly the first
    // entries of the final file: nothing torn, duplicated, reordered or
    // lost up to where it ended. A scan after the writers have stopped
    // reads all of it.
    let _heavy = util::heavy();
    let d = Daemons::start();
    let churn = c_program("churn", Cc::Gnu);
    let path = d.file("wtmp");
    let writers = crate::reads::churn_writers(&d, "wtmp", |seed| {
        ["append", "/var/log/wtmp", &seed.to_string(), "3000"].map(String::from)
    });
    let readers: Vec<_> = [Cc::Gnu, Cc::Musl]
        .into_iter()
        .map(|cc| {
            let run = d
                .cmd(c_program("churn", cc))
                .args(["scan", "/var/log/wtmp", "2500"])
                .timeout(Duration::from_secs(60));
            std::thread::spawn(move || run.run())
        })
        .collect();
    let scans: Vec<_> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let mut appended = 0;
    for w in writers {
        let out = w.join().unwrap();
        appended += crate::reads::counts(out.ok())["writes"];
    }
    let last = d.cmd(&churn).args(["scan", "/var/log/wtmp", "0"]).run();
    let hashes = prefix_hashes(&path);
    let total = hashes.len() - 1;
    assert_eq!(total as u64, 10_000 + appended, "appends lost");
    for out in scans.iter().chain([&last]) {
        let c = crate::reads::counts(out.ok().lines().last().unwrap_or(""));
        eprintln!("reader: {}", out.stdout.lines().last().unwrap_or(""));
        assert_eq!(c["bad"], 0, "torn or foreign entries: {out}");
        assert!(c["scans"] >= 1, "{out}");
        for l in lines_with(out.ok(), "scan ") {
            let f: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .map(|x| x.parse().unwrap())
                .collect();
            let (count, hash) = (f[0] as usize, f[1]);
            assert!(count >= 10_000 && count <= total, "{l}: of {total}");
            assert_eq!(hash, hashes[count], "{l}: not the first {count} entries");
        }
    }
    let whole = format!("scan {total} {}", hashes[total]);
    assert!(last.ok().contains(&whole), "{last}: want {whole}");
}

/// Sets the generation counter of `gen` odd (a daemon that died inside a
/// write) or even again.
fn stick(gen: &Path, odd: bool) {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(gen)
        .unwrap();
    let mut w = [0u8; 4];
    f.read_exact_at(&mut w, 8).unwrap();
    let seq = u32::from_ne_bytes(w);
    if (seq & 1 == 1) != odd {
        f.write_all_at(&seq.wrapping_add(1).to_ne_bytes(), 8)
            .unwrap();
    }
}

/// logrotate: the log renamed to `to`, a new one with `entries` in its
/// place, and an append through wtmpd, which then writes the new file
/// (and says so in the generation file's header).
fn rotate(d: &Daemons, to: &str, new: Vec<u8>) {
    let wtmp = d.file("wtmp");
    std::fs::rename(&wtmp, d.file(to)).unwrap();
    std::fs::write(&wtmp, new).unwrap();
    let before = std::fs::metadata(&wtmp).unwrap().len();
    d.cmd(c_program("churn", Cc::Gnu))
        .args(["append", "/var/log/wtmp", "7", "0"])
        .run()
        .ok();
    assert_eq!(
        std::fs::metadata(&wtmp).unwrap().len(),
        before + Layout::Glibc.size() as u64,
        "wtmpd did not follow the rotation"
    );
}

/// The `get`s of `n` entries `pts/K` from `from` on.
fn gets(from: usize, n: usize) -> Vec<String> {
    (from..from + n)
        .map(|k| format!("get ok pts/{k}"))
        .collect()
}

#[test]
fn a_scan_never_mixes_a_rotated_wtmp_with_the_new_one() {
    // glibc reads the descriptor it opened until endutxent: a reader
    // inside a 300-entry wtmp when logrotate renames it and creates a new
    // one reads the old file to its end. So does the shim, though the
    // rest of the old file comes in runs read after the rotation, once
    // wtmpd writes the new file.
    let dir = TempDir::new("rotate");
    let plain = dir.path().join("wtmp");
    std::fs::write(&plain, entries(0..300)).unwrap();
    let d = Daemons::start();
    std::fs::write(d.file("wtmp"), entries(0..300)).unwrap();
    let mut glibc = Steps::start(&plain, None);
    let mut ours = Steps::start(Path::new("/var/log/wtmp"), Some(&d));
    let mut want = vec!["set 0".to_string()];
    want.extend(gets(0, 5));
    let begin: Vec<_> = ["set"].into_iter().chain(["get"; 5]).collect();
    assert_eq!(glibc.ops(&begin), want);
    assert_eq!(ours.ops(&begin), want);
    std::fs::rename(&plain, dir.path().join("wtmp.1")).unwrap();
    std::fs::write(&plain, entries(1000..1200)).unwrap();
    rotate(&d, "wtmp.1", entries(1000..1200));
    let mut want = gets(5, 295);
    want.push("get fail".into());
    let rest = vec!["get"; 296];
    assert_eq!(glibc.ops(&rest), want, "glibc");
    assert_eq!(ours.ops(&rest), want, "the shim");
    // A new scan reads the new file (its first run of 128 entries).
    let mut want = vec!["set 0".to_string()];
    want.extend(gets(1000, 128));
    let begin: Vec<_> = ["set"].into_iter().chain(["get"; 128]).collect();
    let mut fresh = Steps::start(Path::new("/var/log/wtmp"), Some(&d));
    assert_eq!(fresh.ops(&begin), want);

    // A daemon that died inside a write leaves the counter odd: a reader
    // still in the file at the daemon's path asks the daemon ...
    let gen = d.file("wtmp.gen");
    stick(&gen, true);
    let mut stuck = Steps::start(Path::new("/var/log/wtmp"), Some(&d));
    assert_eq!(stuck.ops(&begin), want, "the daemon's answer");
    // ... but one whose file was rotated away may not (the daemon reads
    // the new file): its call fails at the deadline (EAGAIN), and the
    // next, once the counter moves, goes on in the same file.
    stick(&gen, false);
    rotate(&d, "wtmp.2", entries(2000..2005));
    stick(&gen, true);
    assert_eq!(fresh.raw("get"), "get fail 11");
    stick(&gen, false);
    assert_eq!(fresh.ops(&["get", "get"]), gets(1128, 2));
}

#[test]
fn a_torn_last_entry_ends_wtmp_as_in_glibc() {
    // A crash inside an append leaves part of an entry at the end: glibc's
    // read of it comes back short, and that is the end of the table.
    let mut torn = entries(0..3);
    torn.extend_from_slice(&entries(3..4)[..100]);
    let dir = TempDir::new("torn");
    let plain = dir.path().join("wtmp");
    std::fs::write(&plain, &torn).unwrap();
    let d = Daemons::start();
    std::fs::write(d.file("wtmp"), &torn).unwrap();
    let ops: Vec<_> = ["set"].into_iter().chain(["get"; 5]).collect();
    let mut want = vec!["set 0".to_string()];
    want.extend(gets(0, 3));
    want.extend(["get fail".to_string(), "get fail".to_string()]);
    assert_eq!(Steps::start(&plain, None).ops(&ops), want, "glibc");
    let mut ours = Steps::start(Path::new("/var/log/wtmp"), Some(&d));
    assert_eq!(ours.ops(&ops), want, "the shim");
}

#[test]
fn searches_of_wtmp_read_it_directly_as_glibc_would() {
    // getutxid and getutxline on wtmp (and utmp): glibc's search from the
    // cursor, run by the shim on the file itself, 16 entries per pread,
    // no daemon. The results, errno included, are glibc's on the same
    // file; the musl build finds the same entries.
    let ops = "set\nline pts/5\nline pts/5\nset\nid 7 7 -\nline pts/99\nset\nid 8 3 -\n";
    let dir = TempDir::new("searches");
    let plain = dir.path().join("wtmp");
    std::fs::write(&plain, entries(0..40)).unwrap();
    let glibc = util::Run::new(c_program("sequence", Cc::Gnu))
        .args([plain.as_os_str()])
        .stdin(ops.as_bytes())
        .run();
    let found: Vec<_> = glibc.ok().lines().filter(|l| l.contains(" ok ")).collect();
    assert_eq!(found.len(), 3, "{glibc}");
    let d = Daemons::start();
    for (file, path) in [("wtmp", "/var/log/wtmp"), ("utmp", "/var/run/utmp")] {
        std::fs::write(d.file(file), entries(0..40)).unwrap();
        for cc in Cc::ALL {
            let trace = dir.path().join("trace");
            let out = traced(&d, &trace, c_program("sequence", cc).as_os_str())
                .args([path])
                .stdin(ops.as_bytes())
                .run();
            let t = std::fs::read_to_string(&trace).unwrap();
            if cc == Cc::Gnu {
                assert_eq!(out.ok(), glibc.ok(), "{path}");
            }
            let lines: Vec<_> = out
                .ok()
                .lines()
                .map(|l| l.split(" [").next().unwrap())
                .collect();
            let want: Vec<_> = glibc
                .ok()
                .lines()
                .map(|l| l.split(" [").next().unwrap())
                .collect();
            assert_eq!(lines, want, "{path} {cc:?}");
            assert_eq!(lines_with(&t, "connect(").len(), 0, "{path} {cc:?}:\n{t}");
            assert!(preads_of_entries(&t) >= 3, "{path} {cc:?}:\n{t}");
        }
    }
}

#[test]
fn a_reader_follows_wtmpd_restarted_with_another_lock_file() {
    // A long-lived reader maps wtmpd's generation file once. Restarted
    // with another lock file (here with another log too), wtmpd publishes
    // another generation file as SOCKET.gen: the reader's next session
    // reads what the new daemon serves, not the old log through the old
    // page, which no writer bumps any more.
    let d = Daemons::start();
    std::fs::write(d.file("wtmp"), entries(0..3)).unwrap();
    std::fs::write(d.file("wtmp2"), entries(100..103)).unwrap();
    let mut reader = Steps::start(Path::new("/var/log/wtmp"), Some(&d));
    let scan: Vec<_> = ["set"].into_iter().chain(["get"; 4]).collect();
    let scanned = |from| {
        let mut want = vec!["set 0".to_string()];
        want.extend(gets(from, 3));
        want.push("get fail".into());
        want
    };
    assert_eq!(reader.ops(&scan), scanned(0));
    assert_eq!(reader.raw("end"), "end 0");
    let gen = d.file(".wtmpd-socket.gen");
    let old = std::fs::metadata(&gen).unwrap().ino();
    let wtmpd = d.pids()[1];
    util::Run::new("kill").args([wtmpd.to_string()]).run().ok();
    let stat = format!("/proc/{wtmpd}/stat");
    util::eventually("wtmpd to stop", || {
        let running = std::fs::read_to_string(&stat).is_ok_and(|s| !s.contains(") Z "));
        (!running).then_some(())
    });
    let _restarted = util::Guarded(
        std::process::Command::new(util::daemon("utmps-wtmpd"))
            .arg("--listen")
            .arg(d.file(".wtmpd-socket"))
            .arg("--lock")
            .arg(d.file("other.lock"))
            .arg(d.file("wtmp2"))
            .current_dir(d.dir.path())
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    util::eventually("a new generation file", || {
        std::fs::metadata(&gen)
            .is_ok_and(|m| m.ino() != old)
            .then_some(())
    });
    assert_eq!(
        reader.ops(&scan),
        scanned(100),
        "the old log through the old page"
    );
    // As a new reader reads it.
    let fresh = Steps::start(Path::new("/var/log/wtmp"), Some(&d)).ops(&scan);
    assert_eq!(fresh, scanned(100));
}
