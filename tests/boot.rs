//! Boot, run-level and shutdown records from the shipped definitions: the
//! services run for real in a private mount namespace (fresh /run, the
//! test's own /var/log), and the records are read back with Debian's
//! who, last and utmpdump. A restart of the daemons adds nothing; a new
//! boot id (bind-mounted over the kernel's) writes again.

use crate::deploy::{chpst_dir, ensure_utmp_user, in_namespace, services, OPENRC_RUN};
use std::path::Path;
use util::{lines_with, Run, TempDir};

/// (BOOT_TIME, RUN_LVL runlevel, RUN_LVL shutdown) records in wtmp.
fn history(log: &Path) -> (usize, usize, usize) {
    let dump = Run::new("utmpdump").args([log.join("wtmp")]).run();
    let out = dump.ok();
    let count = |kind: &str, user: &str| {
        out.lines()
            .filter(|l| l.starts_with(kind) && l.contains(&format!("[{user}")))
            .filter(|l| l.contains("[~~  ]") && l.contains("[~     "))
            .count()
    };
    (
        count("[2] ", "reboot"),
        count("[1] ", "runlevel"),
        count("[1] ", "shutdown"),
    )
}

/// The output of `sh` between `== name` and the next `==` line.
fn section<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    out.lines()
        .skip_while(|l| *l != format!("== {name}"))
        .skip(1)
        .take_while(|l| !l.starts_with("== "))
        .collect()
}

fn words(l: &str) -> Vec<&str> {
    l.split_whitespace().collect()
}

/// The kernel's boot time as who prints it (C locale, UTC).
fn boot_time_as_who_shows_it() -> (String, String) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let btime = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .unwrap()
        .to_string();
    let who = Run::new("date")
        .args(["-u", "-d", &format!("@{btime}"), "+%b %e %H:%M"])
        .run();
    let dump = Run::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{btime}"),
            "+%Y-%m-%dT%H:%M:%S,000000",
        ])
        .run();
    (words(who.ok()).join(" "), dump.ok().trim().to_string())
}

#[test]
fn s6_services_record_the_boot_once_per_boot_id_and_the_shutdown() {
    ensure_utmp_user();
    let svc = services();
    let log = TempDir::new("boot-s6");
    let body = r#"
s6=$SERVICES/usr/share/utmps/services/s6
for d in utmpd wtmpd btmpd; do
    sh "$s6/utmps-$d/run" >"/run/$d.log" 2>&1 &
    eval "pid_$d=\$!"
    pids="$pids $!"
done
wait_log /run/wtmpd.log "recorded (run level 3)"
echo "== first boot"
LD_PRELOAD=$SHIM who -b
LD_PRELOAD=$SHIM who -r
# wtmpd ends and s6-supervise runs ./run again: nothing new.
kill "$pid_wtmpd"
wait "$pid_wtmpd" || true
sh "$s6/utmps-wtmpd/run" >/run/wtmpd2.log 2>&1 &
pids="$pids $!"
wait_log /run/wtmpd2.log "recorded already"
wait_sock /run/utmps/.wtmpd-socket
# The next boot, with /run kept: another boot id.
echo 5c2b0c5e-0000-4000-8000-000000000001 >/run/boot_id
mount --bind /run/boot_id /proc/sys/kernel/random/boot_id
"$SERVICES/usr/sbin/utmps-boot" boot 5
echo "== second boot"
LD_PRELOAD=$SHIM who -b
LD_PRELOAD=$SHIM who -r
"$SERVICES/usr/sbin/utmps-boot" shutdown
"$SERVICES/usr/sbin/utmps-boot" shutdown
"#;
    let o = in_namespace(log.path(), svc.path(), body);
    let out = o.ok();
    let (who_time, dump_time) = boot_time_as_who_shows_it();
    for boot in ["first boot", "second boot"] {
        let s = section(out, boot);
        let level = if boot == "first boot" { "3" } else { "5" };
        assert!(
            s.len() == 2
                && words(s[0]).join(" ") == format!("system boot {who_time}")
                && words(s[1]).get(..2) == Some(&["run-level", level][..]),
            "{boot}: {o}"
        );
    }
    assert!(o.stderr.contains("shutdown of boot"), "{o}");
    assert!(o.stderr.contains("is recorded already"), "{o}");
    assert_eq!(history(log.path()), (2, 2, 1), "{o}");
    // The boot record carries the kernel's boot time.
    let dump = Run::new("utmpdump").args([log.path().join("wtmp")]).run();
    let boots = lines_with(dump.ok(), "[reboot");
    assert!(
        boots.iter().all(|l| l.contains(&dump_time)),
        "{dump_time}: {dump}"
    );
    let last = Run::new("last")
        .args(["-x", "-f"])
        .args([log.path().join("wtmp")])
        .run();
    let out = last.ok();
    for (what, n) in [
        ("reboot   system boot", 2),
        ("runlevel (to lvl 3)", 1),
        ("runlevel (to lvl 5)", 1),
        ("shutdown system down", 1),
    ] {
        assert_eq!(lines_with(out, what).len(), n, "{what}: {last}");
    }
    let last = Run::new("last")
        .args(["reboot", "-f"])
        .args([log.path().join("wtmp")])
        .run();
    assert_eq!(lines_with(last.ok(), "system boot").len(), 2, "{last}");
}

#[test]
fn the_s6_rc_oneshot_records_the_boot_up_and_the_shutdown_down() {
    ensure_utmp_user();
    let svc = services();
    let s6rc = svc.path().join("usr/share/utmps/services/s6-rc");
    // The bundle holds it, and it depends on services that exist.
    let contents = std::fs::read_to_string(s6rc.join("utmps/contents")).unwrap();
    assert!(contents.lines().any(|l| l == "utmps-boot"), "{contents}");
    for dep in std::fs::read_dir(s6rc.join("utmps-boot/dependencies.d")).unwrap() {
        let name = dep.unwrap().file_name();
        assert!(
            s6rc.join(&name).join("run").exists(),
            "dependency {name:?} is no longrun"
        );
    }
    let log = TempDir::new("boot-s6rc");
    // s6-rc runs a oneshot's up and down files with execlineb -P.
    let body = r#"
s6=$SERVICES/usr/share/utmps/services/s6
for d in utmpd wtmpd btmpd; do
    sh "$s6/utmps-$d/run" >"/run/$d.log" 2>&1 &
    pids="$pids $!"
done
oneshot=$SERVICES/usr/share/utmps/services/s6-rc/utmps-boot
execlineb -P "$oneshot/up" 2>/run/up.log
cat /run/up.log >&2
# The longrun's own writer and the oneshot: one of them writes, the other
# finds it written.
wait_log /run/wtmpd.log "utmps-boot: "
grep -q "recorded (run level 3)" /run/up.log || wait_log /run/wtmpd.log "recorded (run level 3)"
execlineb -P "$oneshot/down"
"#;
    let o = in_namespace(log.path(), svc.path(), body);
    o.ok();
    assert_eq!(history(log.path()), (1, 1, 1), "{o}");
}

#[test]
fn the_openrc_service_records_the_boot_and_only_a_real_shutdown() {
    ensure_utmp_user();
    let svc = services();
    let log = TempDir::new("boot-openrc");
    let body = format!(
        r#"{OPENRC_RUN}
rc=$SERVICES/usr/share/utmps/services/openrc
for d in utmpd wtmpd btmpd; do
    pids="$pids $(openrc_run "$rc/utmps-$d" start)"
done
openrc_run "$rc/utmps-boot" start
openrc_run "$rc/utmps-boot" start
# An administrator stops it: no shutdown record.
RC_RUNLEVEL=default openrc_run "$rc/utmps-boot" stop
echo "== after a plain stop"
utmpdump /var/log/wtmp 2>/dev/null | grep -c '\[shutdown' || true
# The system goes down.
RC_RUNLEVEL=shutdown openrc_run "$rc/utmps-boot" stop
echo "== who"
LD_PRELOAD=$SHIM who -b
"#
    );
    let o = in_namespace(log.path(), svc.path(), &body);
    let out = o.ok();
    assert_eq!(section(out, "after a plain stop"), ["0"], "{o}");
    assert_eq!(
        lines_with(&section(out, "who").join("\n"), "system boot").len(),
        1
    );
    assert_eq!(history(log.path()), (1, 1, 1), "{o}");
}

#[test]
fn the_runit_service_records_the_boot_and_the_shutdown_in_stage_3_only() {
    ensure_utmp_user();
    let svc = services();
    let log = TempDir::new("boot-runit");
    let bin = chpst_dir();
    // /etc/runit/stopit, executable while runit takes the system down
    // (runit(8)), lives in a tmpfs of the namespace.
    let body = format!(
        r#"
export PATH="{}:$PATH"
mkdir -p /etc/runit
mount -t tmpfs tmpfs /etc/runit
install -m 000 /dev/null /etc/runit/stopit
runit=$SERVICES/usr/share/utmps/services/runit
start() {{
    (cd "$runit/utmps-$1" && exec ./run) >>"/run/$1.log" 2>&1 &
    eval "pid_$1=\$!"
    pids="$pids $!"
}}
for d in utmpd wtmpd btmpd; do start $d; done
wait_log /run/wtmpd.log "recorded (run level 3)"
# sv stop: runsv sends TERM; the system is not going down.
kill -TERM "$pid_wtmpd"
wait "$pid_wtmpd" || true
echo "== after sv stop"
utmpdump /var/log/wtmp 2>/dev/null | grep -c '\[shutdown' || true
start wtmpd
wait_log /run/wtmpd.log "recorded already"
# Stage 3: runit made stopit executable, then stops the services.
chmod 100 /etc/runit/stopit
kill -TERM "$pid_wtmpd"
wait "$pid_wtmpd" || true
echo "== log"
cat /run/wtmpd.log
"#,
        bin.path().display()
    );
    let o = in_namespace(log.path(), svc.path(), &body);
    let out = o.ok();
    assert_eq!(section(out, "after sv stop"), ["0"], "{o}");
    assert!(out.contains("shutdown of boot"), "{o}");
    assert_eq!(history(log.path()), (1, 1, 1), "{o}");
}

/// systemd's own resolution of the boot transaction (`systemd --test`,
/// run as an ordinary user, as it demands) with the units enabled by
/// `systemctl --root`: its lines about our units and about
/// systemd-update-utmp, and any ordering cycle it had to break.
fn systemd_transaction(svc: &Path) -> String {
    let o = Run::new("systemctl")
        .args([format!("--root={}", svc.display())])
        .args([
            "enable",
            "utmps-utmpd.socket",
            "utmps-wtmpd.socket",
            "utmps-btmpd.socket",
            "utmps-utmpd-priv.socket",
            "utmps-wtmpd-priv.socket",
            "utmps-btmpd-priv.socket",
        ])
        .run();
    o.ok();
    let path = format!(
        "{}:{}:",
        svc.join("etc/systemd/system").display(),
        svc.join("usr/lib/systemd/system").display()
    );
    // It wants a /run/systemd of its own: a private /run.
    let o = Run::new("unshare")
        .args(["-m", "sh", "-c"])
        .args([concat!(
            "mount -t tmpfs tmpfs /run && install -d -o nobody /run/systemd && ",
            "exec setpriv --reuid=nobody --regid=nogroup --clear-groups ",
            "/lib/systemd/systemd --test --system --no-pager"
        )])
        .env("SYSTEMD_UNIT_PATH", path)
        .env("SYSTEMD_LOG_TARGET", "console")
        .run();
    assert!(o.status.success(), "{o}");
    format!("{}{}", o.stdout, o.stderr)
}

/// The dump of one unit in a `systemd --test` output.
fn unit_dump<'a>(out: &'a str, unit: &str) -> Vec<&'a str> {
    out.lines()
        .skip_while(|l| l.trim() != format!("-> Unit {unit}:"))
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with("-> "))
        .map(str::trim)
        .collect()
}

#[test]
fn systemd_listens_before_systemd_update_utmp_without_an_ordering_cycle() {
    let svc = services();
    let out = systemd_transaction(svc.path());
    assert!(!out.contains("ordering cycle"), "{out}");
    let utmp = unit_dump(&out, "systemd-update-utmp.service");
    for d in [
        "utmpd",
        "wtmpd",
        "btmpd",
        "utmpd-priv",
        "wtmpd-priv",
        "btmpd-priv",
    ] {
        let socket = format!("utmps-{d}.socket");
        assert!(
            out.contains(&format!("Action: {socket} -> start")),
            "{socket} not started at boot"
        );
        assert!(
            unit_dump(&out, &socket).contains(&"Before: systemd-update-utmp.service (origin-file)"),
            "{socket}: {:?}",
            unit_dump(&out, &socket)
        );
        assert!(
            utmp.iter()
                .any(|l| l.starts_with(&format!("After: {socket}"))),
            "{utmp:?}"
        );
    }
    assert!(out.contains("Action: systemd-update-utmp.service -> start"));
    // The check can fail: with the default dependencies back (after
    // sysinit.target), systemd finds the cycle and drops our socket.
    let unit = svc.path().join("usr/lib/systemd/system/utmps-wtmpd.socket");
    let text = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(&unit, text.replace("DefaultDependencies=no", "")).unwrap();
    let out = systemd_transaction(svc.path());
    let cycle: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("Found ordering cycle") || l.contains("Found dependency on"))
        .collect();
    assert!(
        cycle.iter().any(|l| l.contains("utmps-wtmpd.socket/start")),
        "{out}"
    );
}

#[test]
fn utmps_boot_tells_an_ordinary_user_it_wrote_nothing() {
    const USER: &str = "utmpstest1";
    util::ensure_user(USER);
    let d = util::Daemons::start();
    let dir = TempDir::new("boot-user");
    let script = dir.path().join("utmps-boot");
    let text = std::fs::read_to_string(util::repo().join("scripts/utmps-boot")).unwrap();
    let bindir = util::daemon("utmps-write");
    let bindir = bindir.parent().unwrap().to_str().unwrap();
    std::fs::write(&script, text.replace("@BINDIR@", bindir)).unwrap();
    for args in [&["boot"][..], &["shutdown"]] {
        let o = Run::new("sh")
            .args([script.as_os_str()])
            .args(args)
            .env("UTMPS_BOOT_WAIT", "1")
            .sockets_in(d.dir.path())
            .user(USER)
            .run();
        assert_eq!(o.status.code(), Some(111), "{o}");
        assert!(
            o.stderr.contains("cannot claim") && o.stderr.contains("run as root"),
            "{o}"
        );
    }
    for f in ["utmp", "wtmp"] {
        let len = std::fs::metadata(d.file(f)).map(|m| m.len()).unwrap_or(0);
        assert_eq!(len, 0, "{f} written");
    }
}
