//! The suite itself: it runs where nothing it does reaches the machine.

use util::Run;

/// The test process is in a mount namespace of its own (see
/// `util::isolate_from_the_machine`), so the users it adds and the files
/// it writes under `/etc`, `/home`, `/run` and `/var/log` vanish with it.
#[test]
fn the_suite_cannot_touch_the_machines_files() {
    let own = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    // The parent (cargo, or whatever started the tests) is in the machine's.
    let parent = std::os::unix::process::parent_id();
    let machine = std::fs::read_link(format!("/proc/{parent}/ns/mnt")).unwrap();
    assert_ne!(
        own, machine,
        "the tests run in the machine's mount namespace"
    );
    let o = Run::new("findmnt")
        .args(["--list", "-n", "-o", "TARGET,FSTYPE"])
        .run();
    let out = o.ok();
    for (dir, fs) in [
        ("/etc", "overlay"),
        ("/home", "tmpfs"),
        ("/run", "tmpfs"),
        ("/var/log", "tmpfs"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == [dir, fs]),
            "{dir} is not a private {fs}: {o}"
        );
    }
    // A user made here is not the machine's.
    util::ensure_user("utmpstest1");
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(passwd.contains("\nutmpstest1:"));
    let upper = util::target_dir().join("test-namespace/etc-upper/passwd");
    assert!(upper.exists(), "useradd did not write the overlay's copy");
}

/// Test users run the built programs wherever the clone is (`/root`,
/// mode 0700, included): the suite reaches them through its view.
#[test]
fn test_users_reach_the_build_from_any_clone() {
    util::ensure_user("utmpstest1");
    for p in [util::shim(), util::daemon("utmps-utmpd"), util::repo()] {
        assert!(p.starts_with("/home/.utmps-rs"), "{}", p.display());
        let o = Run::new("test")
            .args(["-r".as_ref(), p.as_os_str()])
            .user("utmpstest1")
            .run();
        assert!(o.status.success(), "{}: {o}", p.display());
    }
}
