//! wtmp rotation: `logrotate` renames wtmp while a process keeps its wtmpd
//! connection for appends (the shim's `A`); the appends after the rename
//! must reach the new file, not the renamed one; a stream of appends
//! while rotating loses nothing, for wtmp and btmp.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use util::{c_program, lines_with, Cc, Daemons, Guarded, Run, TempDir};

/// Runs the real logrotate on `file` with `directives`, forced.
fn logrotate(file: &std::path::Path, directives: &str) {
    logrotate_keeping(file, 2, directives);
}

/// A process that calls `updwtmpx(LOG)` (through the shim, pointed at
/// `d`) for each line written to its stdin, over one kept connection, and
/// prints "ok" or "err ERRNO" for each: its stdin and stdout.
fn appender(d: &Daemons, cc: Cc, log: &str) -> (Guarded, ChildStdin, BufReader<ChildStdout>) {
    let mut cmd = Command::new(c_program("utmpctl", cc));
    cmd.args(["appends", log])
        .env("LD_PRELOAD", util::shim())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    d.bind(&mut cmd);
    let mut child = Guarded(cmd.spawn().unwrap());
    let input = child.0.stdin.take().unwrap();
    let output = BufReader::new(child.0.stdout.take().unwrap());
    (child, input, output)
}

#[test]
fn a_kept_wtmp_connection_follows_logrotate() {
    for cc in Cc::ALL {
        let d = Daemons::start();
        let wtmp = d.file("wtmp");
        let (mut child, mut input, mut output) = appender(&d, cc, "/var/log/wtmp");
        // One process, one kept connection: each line is one updwtmpx.
        let mut append = |line: &str| {
            writeln!(input, "{line}").unwrap();
            let mut reply = String::new();
            output.read_line(&mut reply).unwrap();
            assert_eq!(reply.trim(), "ok", "{cc:?}: {line}");
        };
        let dump = |f: &str| {
            Run::new("utmpdump")
                .args([d.file(f)])
                .run()
                .ok()
                .to_string()
        };

        append("7 root pts/31 r31 31");
        // logrotate with `create`: rename, then a new empty file, root's.
        logrotate(&wtmp, "    create 0664 root utmp");
        let meta = std::fs::metadata(&wtmp).unwrap();
        assert_eq!(
            (meta.len(), meta.uid(), meta.mode() & 0o7777),
            (0, 0, 0o664)
        );
        append("8 root pts/31 r31 31");
        let (new, old) = (dump("wtmp"), dump("wtmp.1"));
        assert_eq!(lines_with(&new, "pts/31").len(), 1, "{cc:?}: {new}");
        assert!(
            new.contains("[8]"),
            "{cc:?}: the logout goes to the new file: {new}"
        );
        assert_eq!(lines_with(&old, "pts/31").len(), 1, "{cc:?}: {old}");
        assert!(old.contains("[7]"), "{cc:?}: {old}");

        // Without `create`: nothing at the path; the renamed file stays
        // the log (nothing lost) until a file appears at the path.
        logrotate(&wtmp, "    nocreate");
        assert!(!wtmp.exists());
        append("7 root pts/32 r32 32");
        assert!(!wtmp.exists(), "{cc:?}: the daemon made no file of its own");
        let renamed = dump("wtmp.1");
        assert!(renamed.contains("pts/32"), "{cc:?}: {renamed}");
        assert_eq!(lines_with(&dump("wtmp.2"), "pts/31").len(), 1);
        // What tmpfiles or an admin does: a new file; it takes over.
        std::fs::write(&wtmp, b"").unwrap();
        append("8 root pts/32 r32 32");
        let new = dump("wtmp");
        assert_eq!(lines_with(&new, "pts/").len(), 1, "{cc:?}: {new}");
        assert!(new.contains("[8]"), "{cc:?}: {new}");
        drop(input);
        let _ = child.0.wait();
    }
}

#[test]
fn nothing_is_lost_or_misplaced_when_logs_rotate_under_a_stream_of_appends() {
    // One process appends as fast as the daemon takes it, over one kept
    // connection, while logrotate rotates the log five times (`create`,
    // as Debian's own rules): every acknowledged record is in exactly one
    // of the files, whole, and the files follow each other in order.
    const N: usize = 3000;
    let d = Daemons::start();
    for log in ["wtmp", "btmp"] {
        let path = d.file(log);
        let (mut child, mut input, output) = appender(&d, Cc::Gnu, &format!("/var/log/{log}"));
        let feeder = std::thread::spawn(move || {
            for i in 1..=N {
                writeln!(input, "6 rot{} pts/7 r{} {i}", i % 100, i % 100).unwrap();
            }
        });
        let reader = std::thread::spawn(move || {
            output
                .lines()
                .map(|l| l.unwrap())
                .filter(|l| l == "ok")
                .count()
        });
        for _ in 0..5 {
            std::thread::sleep(std::time::Duration::from_millis(150));
            logrotate_keeping(&path, 10, "    create 0660 root utmp");
        }
        feeder.join().unwrap();
        let acknowledged = reader.join().unwrap();
        let _ = child.0.wait();
        assert_eq!(acknowledged, N, "{log}: every append acknowledged");
        // Oldest file first: wtmp.5 ... wtmp.1, then wtmp.
        let mut files: Vec<_> = (1..=5)
            .rev()
            .map(|k| d.file(&format!("{log}.{k}")))
            .collect();
        files.push(path.clone());
        let mut pids = Vec::new();
        for f in &files {
            let bytes = std::fs::read(f).unwrap_or_default();
            assert_eq!(bytes.len() % 384, 0, "{}: whole records only", f.display());
            for r in bytes.chunks_exact(384) {
                pids.push(i32::from_ne_bytes(r[4..8].try_into().unwrap()));
            }
        }
        let expected: Vec<i32> = (1..=N as i32).collect();
        assert_eq!(pids.len(), N, "{log}: records across the rotated files");
        assert_eq!(
            pids, expected,
            "{log}: each record once, in order, across the files"
        );
        // Nothing set aside either (logrotate's `create` moves a file it
        // finds at the path to `LOG-DATE.backup`).
        let strays: Vec<_> = std::fs::read_dir(d.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(log) && n.contains("backup"))
            .collect();
        assert!(strays.is_empty(), "{log}: {strays:?}");
        let rotated = files.iter().filter(|f| f.exists()).count();
        println!("rotation: {log}: {N} appends across {rotated} files while rotating 5 times");
    }
}

/// logrotate with `rotate KEEP`, forced.
fn logrotate_keeping(file: &std::path::Path, keep: u32, directives: &str) {
    let conf_dir = TempDir::new("logrotate");
    let conf = conf_dir.path().join("log.conf");
    std::fs::write(
        &conf,
        format!(
            "{} {{\n    rotate {keep}\n{directives}\n}}\n",
            file.display()
        ),
    )
    .unwrap();
    Run::new("logrotate")
        .args(["-f", "-s"])
        .args([conf_dir.path().join("state"), conf])
        .run()
        .ok();
}
