//! wtmp rotation: `logrotate` renames wtmp while a process keeps its wtmpd
//! connection for appends (the shim's `A`); the appends after the rename
//! must reach the new file, not the renamed one.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use util::{c_program, lines_with, Cc, Daemons, Guarded, Run, TempDir};

/// Runs the real logrotate on `file` with `directives`, forced.
fn logrotate(file: &std::path::Path, directives: &str) {
    let conf_dir = TempDir::new("logrotate");
    let conf = conf_dir.path().join("wtmp.conf");
    std::fs::write(
        &conf,
        format!("{} {{\n    rotate 2\n{directives}\n}}\n", file.display()),
    )
    .unwrap();
    Run::new("logrotate")
        .args(["-f", "-s"])
        .args([conf_dir.path().join("state"), conf])
        .run()
        .ok();
}

#[test]
fn a_kept_wtmp_connection_follows_logrotate() {
    for cc in Cc::ALL {
        let d = Daemons::start();
        let wtmp = d.file("wtmp");
        let mut cmd = Command::new(c_program("utmpctl", cc));
        cmd.args(["appends", "/var/log/wtmp"])
            .env("LD_PRELOAD", util::shim())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        for (k, v) in d.env() {
            cmd.env(k, v);
        }
        let mut child = Guarded(cmd.spawn().unwrap());
        let mut input = child.0.stdin.take().unwrap();
        let mut output = BufReader::new(child.0.stdout.take().unwrap());
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

        // Without `create`: the path is gone until the next append.
        logrotate(&wtmp, "    nocreate");
        assert!(!wtmp.exists());
        append("7 root pts/32 r32 32");
        let new = dump("wtmp");
        assert_eq!(lines_with(&new, "pts/").len(), 1, "{cc:?}: {new}");
        assert!(new.contains("pts/32"), "{cc:?}: {new}");
        assert_eq!(lines_with(&dump("wtmp.1"), "pts/31").len(), 1);
        assert_eq!(lines_with(&dump("wtmp.2"), "pts/31").len(), 1);
        drop(input);
        let _ = child.0.wait();
    }
}
