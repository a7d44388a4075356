//! Reading utmp: the round trips a reader makes, and what it sees of
//! another process's writes (glibc reads the file again at every call).

use proto::record::set_field;
use proto::{Kind, Layout, Record};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;
use util::{c_program, lines_with, musl_real, shim, Cc, Daemons, Guarded, TempDir};

/// Entries `range` (USER_PROCESS of this live process on `pts/N`), in
/// glibc's layout: what the daemons' files hold on this host.
pub(crate) fn entries(range: std::ops::Range<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    for i in range {
        let mut r = Record::EMPTY;
        r.kind = Kind::USER_PROCESS;
        r.pid = std::process::id() as i32;
        set_field(&mut r.line, format!("pts/{i}").as_bytes());
        set_field(&mut r.id, format!("{i}").as_bytes());
        set_field(&mut r.user, b"root");
        set_field(&mut r.host, b"reads.example");
        r.tv_sec = 1_700_000_000 + i as i64;
        let mut b = [0u8; 400];
        Layout::Glibc.encode(&r, &mut b).unwrap();
        out.extend_from_slice(&b[..Layout::Glibc.size()]);
    }
    out
}

/// Another process's append: the bytes added to the file directly.
fn append(file: &Path, range: std::ops::Range<usize>) {
    let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    f.write_all(&entries(range)).unwrap();
}

/// `who` (coreutils, glibc; busybox, musl) under strace over ten entries
/// served by daemons started with `args`: the output, and the trace.
fn traced_who(args: &[&str], prepare: impl Fn(&Daemons)) -> Vec<(&'static str, String)> {
    let d = Daemons::start_with(args);
    std::fs::write(d.file("utmp"), entries(0..10)).unwrap();
    prepare(&d);
    let dir = TempDir::new("strace");
    let mut traces = Vec::new();
    for (name, who) in [
        ("coreutils who (glibc)", PathBuf::from("who")),
        ("busybox who (musl)", musl_real("busybox/who")),
    ] {
        let trace = dir.path().join("trace");
        let out = traced(&d, &trace, who.as_os_str()).run();
        assert_eq!(lines_with(out.ok(), "reads.example").len(), 10, "{out}");
        traces.push((name, std::fs::read_to_string(&trace).unwrap()));
    }
    traces
}

/// `program` under strace (its trace written to `trace`) and the shim,
/// pointed at `d`: the calls that show whom a reader asks and what it reads.
pub(crate) fn traced(d: &Daemons, trace: &Path, program: &OsStr) -> util::Run {
    d.cmd("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=connect,sendto,sendmsg,write,open,openat,pread64,clock_gettime",
            "-o",
        ])
        .args([trace.as_os_str(), program])
}

/// How many `pread`s a trace made of the record file (those that read
/// entries: strace shows the bytes, and each entry's line is `pts/N`).
pub(crate) fn preads_of_entries(t: &str) -> usize {
    t.lines()
        .filter(|l| l.contains("pread64(") && l.contains("pts/"))
        .count()
}

#[test]
fn who_reads_ten_entries_without_a_daemon() {
    // The file is open to everyone: the shim maps the generation file and
    // reads the records itself, in one pread, and wakes no daemon. Nothing
    // waits, so nothing reads the clock (a system call for the shim).
    for (name, t) in traced_who(&[], |_| {}) {
        assert_eq!(lines_with(&t, "clock_gettime(").len(), 0, "{name}:\n{t}");
        assert_eq!(
            lines_with(&t, "connect(").len(),
            0,
            "{name}: connections:\n{t}"
        );
        let gen = lines_with(&t, ".utmpd-socket.gen");
        assert_eq!(gen.len(), 1, "{name}: the generation file:\n{t}");
        let preads = preads_of_entries(&t);
        assert_eq!(preads, 1, "{name}: reads:\n{t}");
    }
}

#[test]
fn who_reads_ten_entries_in_one_request_under_private() {
    // --private: no direct reads (the daemon hides others' hosts), so the
    // shim asks utmpd: one connection, one request, the bulk read that
    // also reports the end.
    for (name, t) in traced_who(&["--private"], |_| {}) {
        assert_through_the_daemon(name, &t);
    }
}

/// The trace `t` shows one connection to utmpd with one request on it,
/// the bulk read that also reports the end, and no read of the file.
fn assert_through_the_daemon(name: &str, t: &str) {
    let connects = lines_with(t, ".utmpd-socket");
    let connects: Vec<_> = connects.iter().filter(|l| l.contains("connect(")).collect();
    assert_eq!(connects.len(), 1, "{name}: connections:\n{t}");
    let fd = connects[0]
        .split("connect(")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap();
    let requests: Vec<_> = t
        .lines()
        .filter(|l| {
            ["sendto(", "sendmsg(", "write("]
                .iter()
                .any(|call| l.contains(&format!("{call}{fd},")))
        })
        .collect();
    assert_eq!(requests.len(), 1, "{name}: requests:\n{t}");
    assert!(requests[0].contains("\"R\\0"), "{name}: {}", requests[0]);
    assert_eq!(preads_of_entries(t), 0, "{name}:\n{t}");
}

#[test]
fn a_generation_file_others_could_write_is_not_trusted() {
    // Writable by others, or owned by an ordinary user: anyone could make
    // it name any file, or keep its counter still while records change.
    // The shim then asks the daemon.
    let gen = |d: &Daemons| d.file(".utmpd-socket.gen");
    for (name, t) in traced_who(&[], |d| {
        let mode = std::fs::Permissions::from_mode(0o646);
        std::fs::set_permissions(gen(d), mode).unwrap();
    }) {
        assert_through_the_daemon(name, &t);
    }
    let uid = util::ensure_user("utmpsgen");
    for (name, t) in traced_who(&[], |d| {
        std::os::unix::fs::chown(gen(d), Some(uid), None).unwrap();
    }) {
        assert_through_the_daemon(name, &t);
    }
}

/// `sequence FILE` (tests/c/sequence.c) driven one operation at a time.
pub(crate) struct Steps {
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    _child: Guarded,
}

impl Steps {
    /// `sequence` on `file`, under the shim when `daemons` are given.
    pub(crate) fn start(file: &Path, daemons: Option<&Daemons>) -> Steps {
        let mut cmd = Command::new(c_program("sequence", Cc::Gnu));
        cmd.arg(file)
            .env_remove("LD_PRELOAD")
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if let Some(d) = daemons {
            cmd.env("LD_PRELOAD", shim());
            d.bind(&mut cmd);
        }
        let mut child = cmd.spawn().expect("spawn sequence");
        Steps {
            input: child.stdin.take().unwrap(),
            output: BufReader::new(child.stdout.take().unwrap()),
            _child: Guarded(child),
        }
    }

    /// Runs `op` and returns its result line, shortened to the status and
    /// the line of the entry returned (`get ok pts/3`, `get fail`).
    fn op(&mut self, op: &str) -> String {
        let line = self.raw(op);
        let f: Vec<_> = line.split_whitespace().collect();
        match f.as_slice() {
            [op, "ok", _, _, _, line, ..] => format!("{op} ok {line}"),
            [op, status, ..] => format!("{op} {status}"),
            _ => panic!("no answer to {op}: {line:?}"),
        }
    }

    /// Runs `op` and returns its whole result line, trimmed.
    pub(crate) fn raw(&mut self, op: &str) -> String {
        writeln!(self.input, "{op}").unwrap();
        self.input.flush().unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        line.trim().to_string()
    }

    pub(crate) fn ops(&mut self, ops: &[&str]) -> Vec<String> {
        ops.iter().map(|op| self.op(op)).collect()
    }
}

#[test]
fn an_entry_added_after_the_end_is_seen_as_glibc_sees_it() {
    // utmp, and wtmp (both read directly by the shim).
    for (file, path) in [("utmp", "/var/run/utmp"), ("wtmp", "/var/log/wtmp")] {
        seen_as_glibc_sees_it(file, Path::new(path));
    }
}

/// glibc itself on a plain file, and the shim reading `path`, the
/// daemons' `file`; another process appends while the reader is at the
/// end of the table.
fn seen_as_glibc_sees_it(file: &str, path: &Path) {
    let dir = TempDir::new("reads");
    let plain = dir.path().join(file);
    std::fs::write(&plain, entries(0..3)).unwrap();
    let d = Daemons::start();
    std::fs::write(d.file(file), entries(0..3)).unwrap();
    let mut glibc = Steps::start(&plain, None);
    let mut ours = Steps::start(path, Some(&d));

    let to_the_end = ["set", "get", "get", "get", "get"];
    let want = [
        "set 0",
        "get ok pts/0",
        "get ok pts/1",
        "get ok pts/2",
        "get fail",
    ];
    assert_eq!(glibc.ops(&to_the_end), want);
    assert_eq!(ours.ops(&to_the_end), want);
    // Written after the reader saw the end: glibc reads the file again at
    // the next call, and so does the shim (one request then).
    append(&plain, 3..4);
    append(&d.file(file), 3..4);
    let after = ["get", "get", "set", "get", "get", "get", "get", "get"];
    let want = [
        "get ok pts/3",
        "get fail",
        "set 0",
        "get ok pts/0",
        "get ok pts/1",
        "get ok pts/2",
        "get ok pts/3",
        "get fail",
    ];
    assert_eq!(glibc.ops(&after), want);
    assert_eq!(ours.ops(&after), want);

    // Written while the reader is inside the table: glibc returns it at
    // the next call that reaches it; the shim's bulk read saw the table
    // end before it, returns that end once, and the entry at the next
    // call (docs/PROTOCOL.md). Seen one call late, never lost.
    let start = ["set", "get", "get"];
    assert_eq!(glibc.ops(&start), ["set 0", "get ok pts/0", "get ok pts/1"]);
    assert_eq!(ours.ops(&start), ["set 0", "get ok pts/0", "get ok pts/1"]);
    append(&plain, 4..5);
    append(&d.file(file), 4..5);
    let rest = ["get", "get", "get", "get", "get"];
    assert_eq!(
        glibc.ops(&rest),
        [
            "get ok pts/2",
            "get ok pts/3",
            "get ok pts/4",
            "get fail",
            "get fail"
        ]
    );
    assert_eq!(
        ours.ops(&rest),
        [
            "get ok pts/2",
            "get ok pts/3",
            "get fail",
            "get ok pts/4",
            "get fail"
        ]
    );
}

/// `churn read`'s or `churn write`'s summary line as numbers by name.
pub(crate) fn counts(out: &str) -> std::collections::HashMap<String, u64> {
    let f: Vec<_> = out.split_whitespace().collect();
    f.chunks(2)
        .filter_map(|kv| Some((kv[0].to_string(), kv.get(1)?.parse().ok()?)))
        .collect()
}

/// The daemons' `file` filled with 10,000 self-checking entries
/// (tests/c/churn.c), then 16 `churn` writers started with `args(seed)`
/// (seeds 1 to 16) under the shim, given 300 ms to get going.
pub(crate) fn churn_writers<const N: usize>(
    d: &Daemons,
    file: &str,
    args: impl Fn(u32) -> [String; N],
) -> Vec<std::thread::JoinHandle<util::Output>> {
    let churn = c_program("churn", Cc::Gnu);
    util::Run::new(&churn)
        .args([
            OsStr::new("file"),
            d.file(file).as_os_str(),
            OsStr::new("10000"),
        ])
        .run()
        .ok();
    let writers = (1..=16)
        .map(|seed| {
            let run = d
                .cmd(&churn)
                .args(args(seed))
                .timeout(Duration::from_secs(60));
            std::thread::spawn(move || run.run())
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    writers
}

#[test]
fn scans_of_ten_thousand_entries_under_sixteen_writers_are_whole() {
    // 10,000 self-checking entries (tests/c/churn.c), rewritten by 16
    // writers through utmpd while a glibc and a musl reader scan the table
    // (read directly from the file: it is open to everyone). Every entry
    // read must be one a writer wrote whole, and every scan whole.
    let _heavy = util::heavy();
    const SLOTS: u64 = 10_000;
    let d = Daemons::start();
    let writers = churn_writers(&d, "utmp", |seed| {
        ["write", &SLOTS.to_string(), &seed.to_string(), "4000"].map(String::from)
    });
    let readers: Vec<_> = [Cc::Gnu, Cc::Musl]
        .into_iter()
        .map(|cc| {
            let run = d
                .cmd(c_program("churn", cc))
                .args(["read", "3000"])
                .timeout(Duration::from_secs(60));
            std::thread::spawn(move || run.run())
        })
        .collect();
    for r in readers {
        let out = r.join().unwrap();
        let c = counts(out.ok());
        eprintln!("reader: {}", out.stdout.trim());
        assert!(c["scans"] >= 1, "{out}");
        assert_eq!(c["bad"], 0, "torn or foreign entries: {out}");
        assert_eq!(c["records"], c["scans"] * SLOTS, "a scan not whole: {out}");
    }
    // The writers queue behind each other (each put searches 10,000
    // entries under the lock, then syncs): on a loaded machine one may
    // miss its 2 s deadline now and then, which is not what this checks.
    let (mut writes, mut errors) = (0, 0);
    for w in writers {
        let out = w.join().unwrap();
        let c = counts(out.ok());
        eprintln!("writer: {}", out.stdout.trim());
        assert!(c["writes"] > 0, "{out}");
        (writes, errors) = (writes + c["writes"], errors + c["errors"]);
    }
    assert!(
        errors * 20 <= writes,
        "{errors} failed writes of {}",
        writes + errors
    );
}
