//! A log that the daemons (user `utmp`) cannot open: an administrator's
//! `chmod`/`chown`, a `mv` of a file of root's over it, an `rm`. Root's
//! records still land (its shim hands the daemon its own descriptor of the
//! file, or creates a missing log), as glibc's direct writes do; what
//! glibc loses (a writers'-group member's records to a file only root may
//! write) is lost the same way; the daemon says so once, with the fix.
//! Each scenario runs twice on the same operations, in a private mount
//! namespace with its own /var/log and /run/utmps: through the shim and
//! the daemons, and with glibc alone; `last`/`lastb` must agree.

use std::process::Command;
use util::{c_program, daemon, ensure_user, shim, Cc, Run, TempDir};

/// A member of group `utmp` who is not root.
const MEMBER: &str = "utmpstest1";

/// The operations, for `wtmp` or `btmp` (`$L`); `$SHIM` empty runs glibc
/// alone. Prints each append's result and, after each operation, what
/// `last` shows.
const SCENARIO: &str = r#"
set -eu
umask 022
mount -t tmpfs -o mode=0755 tmpfs /var/log
mount -t tmpfs -o mode=0755 tmpfs /run/utmps
chown utmp:utmp /run/utmps
install -o root -g utmp -m 0664 /dev/null /var/log/wtmp
install -o root -g utmp -m 0660 /dev/null /var/log/btmp
cd /var/log
if [ -n "$SHIM" ]; then
    export LD_PRELOAD="$SHIM"
    for d in wtmp btmp; do
        opt=; [ $d = btmp ] && opt=--root-only
        LD_PRELOAD= setpriv --reuid=utmp --regid=utmp --init-groups --pdeathsig KILL \
            "$WTMPD" $opt --listen /run/utmps/.${d}d-socket --lock /run/utmps/$d.lock $d \
            2>>"$OUT/$d.log" &
    done
    while [ ! -S /run/utmps/.wtmpd-socket ] || [ ! -S /run/utmps/.btmpd-socket ]; do sleep 0.01; done
fi
M=0664 LAST=last
[ $L = btmp ] && M=0660 LAST=lastb
n=0
root() { n=$((n+1)); printf 'root %s: ' "$1"; "$CTL" wtmp /var/log/$L 7 "$1" pts/$n p$n 1 h$n 1700000000 || true; }
member() {
    [ $L = wtmp ] || return 0
    n=$((n+1)); printf 'member %s: ' "$1"
    setpriv --reuid=$MEMBER --regid=$MEMBER --groups=utmp "$CTL" wtmp /var/log/$L 7 "$1" pts/$n p$n 1 h$n 1700000000 || true
}
# utmps-write (as utmps-boot writes boot records), to wtmp; glibc's own
# updwtmpx in the glibc run.
writer() {
    [ $L = wtmp ] || return 0
    n=$((n+1)); printf 'writer %s: ' "$1"
    if [ -n "$SHIM" ]; then
        LD_PRELOAD= "$WRITE" -w -l "$1" -p 1 -h h$n -T 1700000000 p$n USER_PROCESS pts/$n && echo ok || true
    else
        "$CTL" wtmp /var/log/$L 7 "$1" pts/$n p$n 1 h$n 1700000000 || true
    fi
}
show() {
    echo "== $1: $(stat -c '%U:%G %a' /var/log/$L 2>&1)"; LD_PRELOAD= $LAST -f /var/log/$L -w --time-format notime 2>&1 | grep -v ' begins' | sed 's/ *$//'
    # An ordinary user's reader (getutxent): the file itself with glibc,
    # the daemon under the shim, which serves a log it may only read.
    [ $L = btmp ] || { echo "-- who:"; setpriv --reuid=nobody --regid=nogroup --clear-groups who /var/log/$L 2>&1 | sed 's/ *$//'; }
}
root before; member early; show fine
chown root:root /var/log/$L; chmod 0644 /var/log/$L
root chmod1; member chmod2; root chmod3; writer wchmod; show chmod
chown root:utmp /var/log/$L; chmod $M /var/log/$L
root fixed; show fixed
LD_PRELOAD= utmpdump /var/log/$L 2>/dev/null | LD_PRELOAD= utmpdump -r > /var/log/$L.new 2>/dev/null
mv /var/log/$L.new /var/log/$L
root mv1; member mv2; root mv3; writer wmv; show mv
rm /var/log/$L
member rm1; root rm2; member rm3; root rm4; show rm
rm -f /var/log/$L
writer wrm; show again
"#;

/// The scenario on log `l`, through the shim and the daemons or not:
/// its transcript, and the daemon's log.
fn scenario(l: &str, ours: bool, cc: Cc) -> (String, String) {
    let dir = shared_dir(&format!("unwritable-{l}"));
    let o = Run::new("unshare")
        .args(["-m", "sh", "-c", SCENARIO])
        .env("L", l)
        .env("SHIM", if ours { shim() } else { "".into() })
        .env("WTMPD", daemon("utmps-wtmpd"))
        .env("CTL", c_program("utmpctl", cc))
        .env("WRITE", daemon("utmps-write"))
        .env("MEMBER", MEMBER)
        .env("OUT", dir.path())
        .run();
    let log = std::fs::read_to_string(dir.path().join(format!("{l}.log"))).unwrap_or_default();
    assert!(o.status.success(), "{o}\n{log}");
    (o.stdout, log)
}

/// The part of `transcript` from `== from` to the next `==` line, or from
/// the start when `from` is empty.
fn section<'a>(transcript: &'a str, from: &str) -> Vec<&'a str> {
    transcript
        .lines()
        .skip_while(|l| !from.is_empty() && !l.starts_with(&format!("== {from}:")))
        .skip(usize::from(!from.is_empty()))
        .take_while(|l| !l.starts_with("==") && !l.starts_with("-- who:"))
        .collect()
}

/// A temporary directory the daemons (user `utmp`) and the member may write.
fn shared_dir(tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    let chmod = Command::new("chmod")
        .args(["0777".as_ref(), dir.path().as_os_str()])
        .status()
        .unwrap();
    assert!(chmod.success());
    dir
}

fn setup() {
    ensure_user(MEMBER);
    crate::deploy::ensure_utmp_user();
}

#[test]
fn after_chmod_and_mv_the_logs_get_what_glibc_writes() {
    setup();
    for l in ["wtmp", "btmp"] {
        let (glibc, _) = scenario(l, false, Cc::Gnu);
        // The shim in a glibc and in a musl program.
        for cc in Cc::ALL {
            let (ours, log) = scenario(l, true, cc);
            println!(
                "{l}, ours ({cc:?}):\n{ours}\n{l}, glibc:\n{glibc}\n{l}, the daemon's log:\n{log}"
            );
            // Up to the `rm`: what `last` shows, and the member's refusals.
            // glibc's `updwtmpx` returns nothing and leaves ENOENT behind when
            // it wrote (its look for a `wtmpx` beside the file): a success.
            let upto_rm = |t: &str| {
                t.lines()
                    .take_while(|l| !l.starts_with("member rm1") && !l.starts_with("root rm2"))
                    .filter(|l| !l.starts_with("root ") && !l.starts_with("writer "))
                    .map(|l| l.replace(&format!(": err {}", libc::ENOENT), ": ok"))
                    .collect::<Vec<_>>()
            };
            assert_eq!(upto_rm(&ours), upto_rm(&glibc), "{l} {cc:?}");
            let roots = ours
                .lines()
                .filter(|r| r.starts_with("root ") && !r.contains(" rm"));
            for r in roots {
                assert!(r.ends_with(": ok"), "{l}: {r}");
            }
            // Root's records after chmod and mv are there, in order.
            let mv = section(&ours, "mv");
            let mut expected = vec!["before", "chmod1", "chmod3", "fixed", "mv1", "mv3"];
            if l == "wtmp" {
                expected.extend(["early", "wchmod", "wmv"]);
            }
            for who in expected {
                assert_eq!(
                    mv.iter().filter(|r| r.starts_with(who)).count(),
                    1,
                    "{l}: {who}: {mv:?}"
                );
            }
            // The daemon said it once per state of the file, with the fix.
            let warnings: Vec<_> = log.lines().filter(|r| r.contains("warning")).collect();
            let mode = if l == "wtmp" { "0664" } else { "0660" };
            let fix = format!("Fix: chown root:utmp /var/log/{l}; chmod {mode} /var/log/{l}");
            assert_eq!(
                warnings.iter().filter(|w| w.contains(&fix)).count(),
                2,
                "{l}: chmod and mv, once each: {log}"
            );
            assert_eq!(warnings.len(), 3, "{l}: and once for rm: {log}");
        }
    }
}

#[test]
fn after_rm_roots_next_record_makes_the_log_anew() {
    setup();
    for l in ["wtmp", "btmp"] {
        let (ours, _) = scenario(l, true, Cc::Musl);
        let (glibc, _) = scenario(l, false, Cc::Gnu);
        println!("{l}, ours:\n{ours}\n{l}, glibc:\n{glibc}");
        let eacces = format!("err {}", libc::EACCES);
        let line = |t: &str, who: &str| {
            t.lines()
                .find(|r| r.contains(&format!(" {who}: ")))
                .map(|r| r.split(": ").nth(1).unwrap_or("").to_string())
        };
        // glibc creates nothing: every record after the rm is lost.
        assert!(
            section(&glibc, "rm").concat().contains("No such file"),
            "{glibc}"
        );
        assert!(glibc.contains("== rm: stat: cannot"), "{glibc}");
        // Ours: root's first record makes it, root:utmp with the
        // distributions' mode, and the daemon can write it again.
        assert_eq!(line(&ours, "rm2").as_deref(), Some("ok"));
        assert_eq!(line(&ours, "rm4").as_deref(), Some("ok"));
        let mode = if l == "wtmp" { "664" } else { "660" };
        let head = ours.lines().find(|r| r.starts_with("== rm:")).unwrap_or("");
        assert_eq!(head, format!("== rm: root:utmp {mode}"), "{ours}");
        let rm = section(&ours, "rm");
        let mut want = vec!["rm2", "rm4"];
        if l == "wtmp" {
            // A member may not create it (the daemon's EACCES, where
            // glibc's open gives ENOENT); once root has, the daemon
            // writes for them again.
            assert_eq!(line(&ours, "rm1").as_deref(), Some(eacces.as_str()));
            assert_eq!(line(&ours, "rm3").as_deref(), Some("ok"));
            want.push("rm3");
        }
        want.sort();
        let mut got: Vec<_> = rm
            .iter()
            .filter_map(|r| r.split_whitespace().next())
            .filter(|w| w.starts_with("rm"))
            .collect();
        got.sort();
        assert_eq!(got, want, "{l}: {rm:?}");
        if l == "wtmp" {
            // utmps-write (boot records) makes it anew as the shim does.
            assert_eq!(line(&ours, "wrm").as_deref(), Some("ok"));
            let again = section(&ours, "again");
            assert!(again.iter().any(|r| r.starts_with("wrm ")), "{again:?}");
            assert!(ours.contains("== again: root:utmp 664"), "{ours}");
        }
    }
}

/// The start of a script: /var/log and /run/utmps of its own, wtmp made
/// with `install -o OWNERSHIP`, and wtmpd alone on it as user utmp.
fn wtmpd_alone(ownership: &str) -> String {
    format!(
        r#"
set -eu
umask 022
mount -t tmpfs -o mode=0755 tmpfs /var/log
mount -t tmpfs -o mode=0755 tmpfs /run/utmps
chown utmp:utmp /run/utmps
install -o {ownership} /dev/null /var/log/wtmp
cd /var/log
setpriv --reuid=utmp --regid=utmp --init-groups --pdeathsig KILL \
    "$WTMPD" --listen /run/utmps/.wtmpd-socket --lock /run/utmps/wtmp.lock wtmp 2>>"$OUT/wtmpd.log" &
while [ ! -S /run/utmps/.wtmpd-socket ]; do sleep 0.01; done
"#
    )
}

#[test]
fn only_the_log_itself_is_taken_and_no_link_is_followed() {
    setup();
    let dir = shared_dir("unwritable-attack");
    let script = &format!(
        "{}{}",
        wtmpd_alone("root -g root -m 0644"),
        r#"
member() { setpriv --reuid=$MEMBER --regid=$MEMBER --groups=utmp "$@"; }
# A writers'-group member hands over a file of their own, then the log
# opened for reading only: neither is written.
member sh -c 'echo precious > "$OUT/mine"'
echo "own file: $(member "$ATTACKER" handover /run/utmps/.wtmpd-socket "$OUT/mine" 1)"
echo "read-only log: $(member "$ATTACKER" handover /run/utmps/.wtmpd-socket /var/log/wtmp 0)"
echo "sizes: $(stat -c %s "$OUT/mine" /var/log/wtmp | tr '\n' ' ')"
# A link in the log's place: root's record is lost, nothing is followed.
install -o root -g utmp -m 0664 /dev/null "$OUT/target"
rm /var/log/wtmp; ln -s "$OUT/target" /var/log/wtmp
echo "root through a link: $(LD_PRELOAD="$SHIM" "$CTL" wtmp /var/log/wtmp 7 root pts/1 p1 1 || true)"
echo "target: $(stat -c %s "$OUT/target")"
"#
    );
    let o = Run::new("unshare")
        .args(["-m", "sh", "-c", script])
        .env("SHIM", shim())
        .env("WTMPD", daemon("utmps-wtmpd"))
        .env("CTL", c_program("utmpctl", Cc::Gnu))
        .env("MEMBER", MEMBER)
        .env("ATTACKER", c_program("attacker", Cc::Gnu))
        .env("OUT", dir.path())
        .run();
    let log = std::fs::read_to_string(dir.path().join("wtmpd.log")).unwrap_or_default();
    println!("{o}\n{log}");
    let out = o.ok();
    let eacces = libc::EACCES;
    assert!(out.contains(&format!("own file: {eacces}\n")), "{out}");
    assert!(out.contains(&format!("read-only log: {eacces}\n")), "{out}");
    assert!(out.contains("sizes: 9 0 "), "{out}");
    assert!(
        out.contains(&format!("root through a link: err {eacces}")),
        "{out}"
    );
    assert!(out.contains("target: 0"), "{out}");
    assert!(log.contains("not the file at wtmp"), "{log}");
    assert!(log.contains("not open for writing"), "{log}");
}

/// One root process keeps its wtmpd connection (`A`) across a `mv` of a
/// file of root's over wtmp and an `rm`: each append lands, in the file
/// at the path, as glibc's (which opens the path anew for each record).
#[test]
fn a_kept_connection_hands_over_on_the_same_connection() {
    setup();
    let dir = shared_dir("unwritable-kept");
    let script = &format!(
        "{}{}",
        wtmpd_alone("root -g utmp -m 0664"),
        r#"
mkfifo "$OUT/in"
LD_PRELOAD="$SHIM" "$CTL" appends /var/log/wtmp < "$OUT/in" > "$OUT/results" &
exec 4>"$OUT/in"
n=0
append() {
    n=$((n+1)); echo "7 $1 pts/$n k$n 1" >&4
    for _ in $(seq 500); do [ "$(wc -l < "$OUT/results")" -ge $n ] && return 0; sleep 0.01; done
    return 1
}
append kept1
install -o root -g root -m 0644 /dev/null /var/log/wtmp.new; mv /var/log/wtmp.new /var/log/wtmp
append kept2
echo "after mv: $(last -f /var/log/wtmp -w | grep -c kept)"
rm /var/log/wtmp
append kept3
exec 4>&-
wait $!
echo "results: $(tr '\n' ' ' < "$OUT/results")"
echo "file: $(stat -c '%U:%G %a' /var/log/wtmp)"
last -f /var/log/wtmp -w --time-format notime | grep kept
"#
    );
    let o = Run::new("unshare")
        .args(["-m", "sh", "-c", script])
        .env("SHIM", shim())
        .env("WTMPD", daemon("utmps-wtmpd"))
        .env("CTL", c_program("utmpctl", Cc::Gnu))
        .env("OUT", dir.path())
        .run();
    let out = o.ok();
    assert!(out.contains("results: ok ok ok "), "{o}");
    // The file moved over wtmp got kept2 alone; the new one, made by the
    // shim after the rm, kept3 alone.
    assert!(out.contains("after mv: 1\n"), "{o}");
    assert!(out.contains("file: root:utmp 664"), "{o}");
    let users: Vec<_> = out.lines().filter_map(|l| l.strip_prefix("kept")).collect();
    assert_eq!(users.len(), 1, "only kept3 in the new file: {o}");
    assert!(users[0].starts_with('3'), "{o}");
}
