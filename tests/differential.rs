//! The same long call sequences against glibc's own implementation (no
//! shim, a temporary file), through the shim's plain-file path, and
//! through the shim and utmpd: identical results, errnos, records and files.

use proto::Layout;
use std::fmt::Write;
use util::{c_program, Cc, Daemons, Rng, Run, TempDir};

/// A sequence of `n` operations: every record type (and invalid ones),
/// empty and full-length fields, ids and lines, repeated puts, misses,
/// rewinds and closes.
fn sequence(seed: u64, n: usize) -> String {
    let full_line = "L".repeat(32);
    let full_user = "U".repeat(32);
    let full_host = "H".repeat(256);
    let lines = ["tty1", "tty2", "pts/0", "pts/1", "pts/10", "-", &full_line];
    let ids = ["1", "2", "ts/0", "abcd", "-"];
    let users = ["root", "alice", "LOGIN", "-", &full_user];
    let hosts = ["-", "h.example", &full_host];
    let types = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "-1"];
    let process = ["5", "6", "7", "8"];
    let mut r = Rng(seed);
    let mut ops = String::new();
    for _ in 0..n {
        let kind = if r.below(3) == 0 {
            r.pick(&types)
        } else {
            r.pick(&process)
        };
        let _ = match r.below(100) {
            0..=29 => writeln!(
                ops,
                "put {kind} {} {} {} {} {} {} {} {} {} {:x}",
                r.below(100_000),
                r.pick(&lines),
                r.pick(&ids),
                r.pick(&users),
                r.pick(&hosts),
                1_700_000_000 + r.below(1_000_000),
                r.below(1_000_000),
                r.below(300),
                r.below(1000),
                r.next_u64() as u32
            ),
            30..=46 => writeln!(ops, "get"),
            47..=51 => writeln!(ops, "getr"),
            52..=61 => writeln!(ops, "id {kind} {} {}", r.pick(&ids), r.pick(&lines)),
            62..=64 => writeln!(ops, "idr {kind} {} {}", r.pick(&ids), r.pick(&lines)),
            65..=74 => writeln!(ops, "line {}", r.pick(&lines)),
            75..=77 => writeln!(ops, "liner {}", r.pick(&lines)),
            78..=93 => writeln!(ops, "set"),
            _ => writeln!(ops, "end"),
        };
    }
    ops
}

fn run(r: Run, ops: &str) -> String {
    let out = r.stdin(ops.as_bytes()).run();
    out.ok().to_string()
}

/// The first difference between two outputs, with the operations around it.
fn assert_same(want: &str, got: &str, ops: &str, what: &str) {
    if want == got {
        return;
    }
    let (w, g): (Vec<_>, Vec<_>) = (want.lines().collect(), got.lines().collect());
    let i = w
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(g.len()));
    let ops: Vec<_> = ops.lines().collect();
    let from = i.saturating_sub(5);
    panic!(
        "{what}: differs from glibc at operation {i} ({:?})\n  recent ops: {:?}\n  glibc: {:?}\n  ours:  {:?}",
        ops.get(i),
        &ops[from..i.min(ops.len())],
        w.get(i),
        g.get(i)
    );
}

fn records(bytes: &[u8], layout: Layout) -> Vec<proto::Record> {
    assert_eq!(bytes.len() % layout.size(), 0);
    bytes
        .chunks(layout.size())
        .map(|c| layout.decode(c).unwrap())
        .collect()
}

#[test]
fn glibc_and_the_shim_agree_call_for_call() {
    for seed in [1, 2, 3, 0x5eed] {
        let ops = sequence(seed, 600);
        let dir = TempDir::new("diff");
        let file = |name: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, b"").unwrap();
            p
        };

        // glibc itself.
        let glibc_file = file("glibc");
        let want = run(
            Run::new(c_program("sequence", Cc::Gnu)).args([&glibc_file]),
            &ops,
        );
        let glibc_bytes = std::fs::read(&glibc_file).unwrap();
        assert!(
            glibc_bytes.len() >= 384 * 5,
            "a sequence that writes little tests little"
        );

        // The shim's plain-file path, glibc and musl hosts.
        let shim_file = file("shim-gnu");
        let got = run(
            Run::new(c_program("sequence", Cc::Gnu))
                .preload()
                .args([&shim_file]),
            &ops,
        );
        assert_same(&want, &got, &ops, &format!("seed {seed}, plain file, gcc"));
        assert_eq!(
            std::fs::read(&shim_file).unwrap(),
            glibc_bytes,
            "seed {seed}: plain file bytes"
        );

        let musl_file = file("shim-musl");
        let got = run(
            Run::new(c_program("sequence", Cc::Musl))
                .preload()
                .args([&musl_file]),
            &ops,
        );
        assert_same(
            &want,
            &got,
            &ops,
            &format!("seed {seed}, plain file, musl-gcc"),
        );
        assert_eq!(
            records(&std::fs::read(&musl_file).unwrap(), Layout::Musl),
            records(&glibc_bytes, Layout::Glibc),
            "seed {seed}: musl plain file records"
        );

        // Through utmpd, glibc and musl clients; the daemon's file is in
        // the host's (glibc) layout.
        for cc in Cc::ALL {
            let d = Daemons::start();
            let got = run(
                d.cmd(c_program("sequence", cc)).args(["/var/run/utmp"]),
                &ops,
            );
            assert_same(&want, &got, &ops, &format!("seed {seed}, utmpd, {cc:?}"));
            assert_eq!(
                std::fs::read(d.file("utmp")).unwrap(),
                glibc_bytes,
                "seed {seed}: utmpd file, {cc:?}"
            );
        }
    }
}
