//! The shim inside demanding hosts: threads, fork, a changed environment.

use util::{c_program, Cc, Daemons, Run};

fn fill(d: &Daemons, n: usize) {
    for i in 0..n {
        let line = format!("pts/{i}");
        let o = d
            .cmd(c_program("utmpctl", Cc::Gnu))
            .args(["put", "7", "root", &line, &format!("{i}"), "1"])
            .run();
        assert_eq!(o.ok().trim(), "ok");
    }
}

#[test]
fn fork_mid_iteration_both_continue() {
    // Read directly from the file, and (--private) through utmpd, where
    // the child must not use its parent's connection.
    for args in [&[][..], &["--private"][..]] {
        fork_mid_iteration(&Daemons::start_with(args));
    }
}

fn fork_mid_iteration(d: &Daemons) {
    fill(d, 300); // more than one bulk read
    for cc in Cc::ALL {
        let o = d.cmd(c_program("hostile", cc)).args(["fork"]).run();
        let out = o.ok();
        assert!(out.starts_with("first pts/0\n"), "{o}");
        for who in ["C", "P"] {
            let seen: Vec<_> = out
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("{who} ")))
                .collect();
            let want: Vec<_> = (1..300).map(|i| format!("pts/{i}")).collect();
            assert_eq!(seen, want, "{cc:?} {who}: {o}");
        }
    }
}

#[test]
fn eight_threads_at_once() {
    let d = Daemons::start();
    fill(&d, 20);
    for cc in Cc::ALL {
        let o = d.cmd(c_program("hostile", cc)).args(["threads", "8"]).run();
        assert_eq!(o.ok().trim(), "ok", "{cc:?}: {o}");
        // Whole, valid records only.
        let bytes = std::fs::read(d.file("utmp")).unwrap();
        assert_eq!(bytes.len() % 384, 0);
        for rec in bytes.chunks(384) {
            let r = proto::Layout::Glibc.decode(rec).unwrap();
            assert_eq!(r.user_str(), b"root");
            let line = String::from_utf8_lossy(r.line_str()).into_owned();
            assert!(
                line.starts_with("pts/") || line.starts_with("thr/"),
                "{line}"
            );
        }
    }
}

#[test]
fn signals_interrupting_calls_break_nothing() {
    let d = Daemons::start();
    for cc in Cc::ALL {
        let o = d
            .cmd(c_program("hostile", cc))
            .args(["signals", "300"])
            .run();
        let out = o.ok();
        let ticks: u64 = out
            .trim()
            .strip_prefix("ok ")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        assert!(
            ticks > 100,
            "{cc:?}: the timer must have interrupted calls: {o}"
        );
    }
    // Whole records only, and every append present.
    let wtmp = std::fs::metadata(d.file("wtmp")).unwrap().len();
    assert_eq!(wtmp, 2 * 300 * 384);
}

/// The `UTMPS_*` variables are those the process was started with, read
/// on its first call (not at load: README, Performance): a program that
/// clears its environment, as `login` does, or sets them anew still
/// reaches the daemons its environment named at exec.
#[test]
fn the_variables_are_those_of_the_exec() {
    const USER: &str = "utmpstest1";
    util::ensure_user(USER);
    let d = Daemons::start();
    fill(&d, 3);
    for cc in Cc::ALL {
        let mut r = Run::new(c_program("utmpctl", cc)).preload().user(USER);
        for (k, v) in d.env() {
            r = r.env(k, v);
        }
        let o = r.args(["clearenv", "list"]).run();
        assert_eq!(o.stdout.lines().count(), 3, "{cc:?}: {o}");
        assert!(o.stdout.contains(" pts/2 "), "{cc:?}: {o}");
    }
}
