//! The daemons under each superserver, and their peer identification.

use util::{
    c_program, c_program_with, daemon, ensure_user, lines_with, open_pty_of, Cc, Daemons, Launcher,
    PtySession, Run, TempDir,
};

#[test]
fn every_launcher_serves_the_shim() {
    let user = "utmpstest1";
    ensure_user(user);
    for launcher in Launcher::ALL {
        let d = Daemons::start_via(launcher, &[]);
        let s = PtySession::start(None);
        for cc in Cc::ALL {
            let o = d
                .cmd(c_program("utmpctl", cc))
                .args([
                    "put",
                    "7",
                    "root",
                    &s.line,
                    "l",
                    &s.pid.to_string(),
                    "launch.example",
                ])
                .run();
            assert_eq!(o.ok().trim(), "ok", "{launcher:?}: {o}");
        }
        let who = d.cmd("who").run();
        assert_eq!(
            lines_with(who.ok(), "launch.example").len(),
            1,
            "{launcher:?}: {who}"
        );
        // The peer's identity comes through every launcher.
        let o = d
            .cmd(c_program("utmpctl", Cc::Gnu))
            .args(["put", "7", user, "pts/77", "77", "1"])
            .user(user)
            .run();
        assert_eq!(o.stdout.trim(), "err 13", "{launcher:?}: {o}");
        // Their own terminal is theirs (`T`, the master as proof, to utmpd
        // and wtmpd); wtmp is not theirs to append to.
        let (master, slave) = open_pty_of(user);
        let o = d
            .cmd(c_program_with("utempter", Cc::Gnu, &["-lutempter"]))
            .args(["add", "0", "l"])
            .user(user)
            .stdin_file(master)
            .run();
        assert_eq!(o.ok().trim(), "1", "{launcher:?}: {o}");
        let dump = Run::new("utmpdump").args([d.file("wtmp")]).run();
        let line = slave.trim_start_matches("/dev/");
        let recs = lines_with(dump.ok(), line);
        assert!(
            recs.len() == 1 && recs[0].contains(&format!("[{user}")),
            "{launcher:?}: {dump}"
        );
        let o = d
            .cmd(c_program("utmpctl", Cc::Musl))
            .args(["wtmp", "/var/log/wtmp", "7", user, line, "77", "1"])
            .user(user)
            .run();
        assert_eq!(o.stdout.trim(), "err 13", "{launcher:?}: {o}");
    }
}

/// utmpd on pipes: no kernel credentials, so s6-ipcserver's variables.
fn on_pipes(env: &[(&str, &str)], input: &[u8]) -> util::Output {
    let dir = TempDir::new("pipes");
    let mut r = Run::new(daemon("utmps-utmpd"))
        .args([dir.path().join("utmp")])
        .stdin(input);
    for (k, v) in env {
        r = r.env(k, v);
    }
    r.run()
}

#[test]
fn without_a_socket_the_ipc_variables_identify_the_peer() {
    let ipc = |uid: &'static str| {
        [
            ("PROTO", "IPC"),
            ("IPCREMOTEEUID", uid),
            ("IPCREMOTEEGID", uid),
        ]
    };
    let o = on_pipes(&ipc("0"), b"V");
    assert!(o.status.success(), "{o}");
    // Version 1; capabilities B, I/L/P, T, R.
    assert_eq!(
        o.stdout.as_bytes(),
        b"\x00\x00\x00\x00\x01\x00\x00\x00\x0f",
        "{o}"
    );
    // A non-root peer named by the variables may read but not write.
    let mut put = vec![b'E'];
    put.extend_from_slice(&[0u8; 400]);
    put[1] = 7;
    let o = on_pipes(&ipc("1000"), &put);
    assert_eq!(o.stdout.as_bytes(), b"\x0d", "EACCES: {o}");
    let o = on_pipes(&ipc("0"), &put);
    assert_eq!(o.stdout.as_bytes(), b"\x00", "{o}");
}

#[test]
fn with_no_way_to_identify_the_peer_the_daemon_refuses() {
    let o = on_pipes(&[], b"V");
    assert_eq!(o.status.code(), Some(100), "{o}");
    assert!(o.stderr.contains("cannot identify the client"), "{o}");
    assert_eq!(o.stdout, "", "{o}");
}

#[test]
fn an_unknown_opcode_gets_eproto_and_the_daemon_exits() {
    let ipc = [
        ("PROTO", "IPC"),
        ("IPCREMOTEEUID", "0"),
        ("IPCREMOTEEGID", "0"),
    ];
    let o = on_pipes(&ipc, b"rZe");
    assert_eq!(
        o.stdout.as_bytes(),
        b"\x00\x47",
        "status 0 for r, EPROTO for Z, nothing after: {o}"
    );
    assert_eq!(o.status.code(), Some(1), "{o}");
    let o = on_pipes(&ipc, b"E\x07\x00");
    assert_eq!(o.stdout, "", "a request cut short gets no reply: {o}");
    assert_eq!(o.status.code(), Some(1), "{o}");
}
