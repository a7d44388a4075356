//! utmps-write: skarnet utmps' command-line writer, with its interface,
//! defaults, messages and exit codes (100 usage, 111 system). It builds one
//! record from its arguments and sends it with the base protocol (`E` to
//! utmpd, `+` to wtmpd), so it works against skarnet's daemons as well as
//! ours; the daemons decide whether the caller may write it.
//!
//! Additions (documented in utmps-write(8)): `-T` also takes Unix seconds
//! and an ISO 8601 UTC time, a TAI64N label is converted to UTC with the
//! leap-second table, and the default sockets follow the shim's
//! `UTMPS_UTMPD_SOCKET` and `UTMPS_WTMPD_SOCKET`, as the shim does: not
//! for root, whose environment may be a user's (`su`). Either way the
//! server's credentials are checked before anything is sent. A wtmpd
//! that cannot open its log gets the append again with utmps-write's own
//! descriptor of `/var/log/wtmp` ([`client::open_log`]), as the shim's.

use crate::cli::client::{self, Deadline};
use crate::sys;
use proto::codec::Request;
use proto::record::set_field;
use proto::{Kind, Record};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

/// skarnet's usage line.
pub const USAGE: &str = "utmps-write [ -u ] [ -w ] [ -U utmpd-socket ] [ -W wtmpd-socket ] \
                         [ -t timeout ] [ -T timestamp ] [ -h host ] [ -i ip ] [ -l user ] \
                         [ -p pid ] id type line";

/// Why utmps-write stops.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// Bad command line: the usage line, exit 100.
    Usage,
    /// A one-line message with an exit code (100 or 111).
    Fatal(u8, String),
}

/// What to write where.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// `-u`: utmpd's socket.
    pub utmp: Option<PathBuf>,
    /// `-w`: wtmpd's socket.
    pub wtmp: Option<PathBuf>,
    /// `-t`: the whole run's time limit; `None` (or `-t 0`) waits forever.
    pub timeout: Option<Duration>,
    /// The record.
    pub record: Record,
}

/// What the environment supplies where no option does.
pub struct Defaults {
    /// utmpd's socket.
    pub utmpd: PathBuf,
    /// wtmpd's socket.
    pub wtmpd: PathBuf,
    /// Now: seconds and microseconds since the epoch.
    pub now: (i64, i64),
    /// This process's pid.
    pub pid: i32,
}

/// The `ut_type` names skarnet accepts, compared without case.
const TYPES: [(&str, Kind); 10] = [
    ("ACCOUNTING", Kind::ACCOUNTING),
    ("BOOT_TIME", Kind::BOOT_TIME),
    ("DEAD_PROCESS", Kind::DEAD_PROCESS),
    ("EMPTY", Kind::EMPTY),
    ("INIT_PROCESS", Kind::INIT_PROCESS),
    ("LOGIN_PROCESS", Kind::LOGIN_PROCESS),
    ("NEW_TIME", Kind::NEW_TIME),
    ("OLD_TIME", Kind::OLD_TIME),
    ("RUN_LVL", Kind::RUN_LVL),
    ("USER_PROCESS", Kind::USER_PROCESS),
];

/// Parses the arguments after the program name, as skarnet's
/// `subgetopt`: options first (bundled or not, a value attached or in the
/// next argument), `--` ends them, then `id type line` (more operands are
/// ignored, as skarnet does). `user` names the caller when `-l` does not.
pub fn parse(
    args: &[OsString],
    d: &Defaults,
    user: impl FnOnce() -> Option<Vec<u8>>,
) -> Result<Plan, Error> {
    let (mut want_utmp, mut want_wtmp) = (false, false);
    let (mut utmpd, mut wtmpd) = (d.utmpd.clone(), d.wtmpd.clone());
    let mut timeout = None;
    let mut stamp: Option<&OsStr> = None;
    let mut ip: Option<&OsStr> = None;
    let mut login: Option<&OsStr> = None;
    let mut record = Record::EMPTY;
    record.pid = -1;
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let a = arg.as_bytes();
        if a == b"--" {
            i += 1;
            break;
        }
        if a.len() < 2 || a[0] != b'-' {
            break;
        }
        i += 1;
        let mut j = 1;
        while j < a.len() {
            let opt = a[j];
            j += 1;
            if opt == b'u' || opt == b'w' {
                if opt == b'u' {
                    want_utmp = true;
                } else {
                    want_wtmp = true;
                }
                continue;
            }
            if !b"UWtThilp".contains(&opt) {
                return Err(Error::Usage);
            }
            // The value: the rest of this argument, else the next one.
            let value: &OsStr = if j < a.len() {
                OsStr::from_bytes(&a[j..])
            } else {
                i += 1;
                args.get(i - 1).ok_or(Error::Usage)?
            };
            j = a.len();
            match opt {
                b'U' => utmpd = PathBuf::from(value),
                b'W' => wtmpd = PathBuf::from(value),
                b't' => {
                    let ms: u64 = number(value).ok_or(Error::Usage)?;
                    timeout = (ms > 0).then(|| Duration::from_millis(ms));
                }
                b'T' => stamp = Some(value),
                b'h' => set_field(&mut record.host, value.as_bytes()),
                b'i' => ip = Some(value),
                b'l' => login = Some(value),
                _ => record.pid = number(value).ok_or(Error::Usage)?,
            }
        }
    }
    let [id, kind, line, ..] = args.get(i..).unwrap_or_default() else {
        return Err(Error::Usage);
    };
    if !want_utmp && !want_wtmp {
        return Err(Error::Fatal(
            100,
            "at least one of -u or -w must be used".into(),
        ));
    }
    record.kind = TYPES
        .iter()
        .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(kind.as_bytes()))
        .map(|&(_, k)| k)
        .ok_or_else(|| Error::Fatal(100, format!("invalid ut_type: {}", kind.to_string_lossy())))?;
    set_field(&mut record.id, id.as_bytes());
    set_field(&mut record.line, line.as_bytes());
    if let Some(ip) = ip {
        record.addr_v6 = ip.to_str().and_then(parse_ip).ok_or_else(|| {
            Error::Fatal(100, format!("invalid IP address: {}", ip.to_string_lossy()))
        })?;
    }
    if record.pid == -1 {
        record.pid = d.pid;
    }
    match login {
        Some(l) => set_field(&mut record.user, l.as_bytes()),
        None => {
            if let Some(name) = user() {
                set_field(&mut record.user, &name);
            }
        }
    }
    (record.tv_sec, record.tv_usec) = match stamp {
        Some(s) => s.to_str().and_then(parse_time).ok_or(Error::Usage)?,
        None => d.now,
    };
    Ok(Plan {
        utmp: want_utmp.then_some(utmpd),
        wtmp: want_wtmp.then_some(wtmpd),
        timeout,
        record,
    })
}

/// A decimal number (a leading `-` where the type allows one).
fn number<T: std::str::FromStr>(s: &OsStr) -> Option<T> {
    s.to_str()
        .filter(|s| !s.starts_with('+'))
        .and_then(|s| s.parse().ok())
}

/// An IPv6 or IPv4 address as `ut_addr_v6` holds it: the address's bytes
/// in network order in the array's memory (an IPv4 address in the first
/// word), as login programs copy a `struct in6_addr` or `in_addr` there.
fn parse_ip(s: &str) -> Option<[u32; 4]> {
    let mut bytes = [0u8; 16];
    if let Ok(a) = s.parse::<std::net::Ipv6Addr>() {
        bytes = a.octets();
    } else {
        let a = s.parse::<std::net::Ipv4Addr>().ok()?;
        bytes[..4].copy_from_slice(&a.octets());
    }
    let word = |i: usize| u32::from_ne_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    Some([word(0), word(4), word(8), word(12)])
}

/// The Unix (UTC) times at which each leap second took effect: TAI - UTC
/// was 10 s before the first and grew by one at each (IERS Bulletin C, as
/// tzdata's `leap-seconds.list`; none since 2017).
const LEAP_SECONDS: [i64; 27] = [
    78796800, 94694400, 126230400, 157766400, 189302400, 220924800, 252460800, 283996800,
    315532800, 362793600, 394329600, 425865600, 489024000, 567993600, 631152000, 662688000,
    709948800, 741484800, 773020800, 820454400, 867715200, 915148800, 1136073600, 1230768000,
    1341100800, 1435708800, 1483228800,
];

/// UTC seconds of `tai`, seconds since 1970-01-01 00:00:00 TAI.
fn utc_from_tai(tai: i64) -> i64 {
    let passed = LEAP_SECONDS
        .iter()
        .zip(1..)
        .filter(|&(&utc, n)| tai >= utc + 10 + n)
        .count() as i64;
    tai - 10 - passed
}

/// `-T`: a TAI64N label (`@` and 24 hex digits, skarnet's form), Unix
/// seconds (`1700000000[.123456]`), or an ISO 8601 UTC time
/// (`2026-11-25T08:00:00[.123456][Z]`, a space for the `T` too). Times
/// before 1970 are refused.
pub fn parse_time(s: &str) -> Option<(i64, i64)> {
    if let Some(hex) = s.strip_prefix('@') {
        if hex.len() != 24 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let label = u64::from_str_radix(&hex[..16], 16).ok()?;
        let nano = u32::from_str_radix(&hex[16..], 16).ok()?;
        if nano >= 1_000_000_000 {
            return None;
        }
        let tai = i64::try_from(label.checked_sub(1 << 62)?).ok()?;
        let sec = utc_from_tai(tai);
        return (sec >= 0).then_some((sec, i64::from(nano / 1000)));
    }
    let (main, frac) = match s.split_once('.') {
        Some((m, f)) => (m, f.strip_suffix('Z').unwrap_or(f)),
        None => (s.strip_suffix('Z').unwrap_or(s), ""),
    };
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (s.contains('.') && frac.is_empty()) {
        return None;
    }
    let usec = format!("{:0<6}", &frac[..frac.len().min(6)]).parse().ok()?;
    let sec = if !main.is_empty() && main.bytes().all(|b| b.is_ascii_digit()) {
        if s.ends_with('Z') {
            return None;
        }
        main.parse().ok()?
    } else {
        iso_seconds(main)?
    };
    Some((sec, usec))
}

/// `YYYY-MM-DD[T ]HH:MM:SS` in UTC, as seconds since the epoch.
fn iso_seconds(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let field = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (h, min, sec) = (field(11..13)?, field(14..16)?, field(17..19)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let days_in_month = *month_days.get(usize::try_from(m).ok()?.checked_sub(1)?)?;
    if y < 1970 || d < 1 || d > days_in_month || h > 23 || min > 59 || sec > 59 {
        return None;
    }
    // Days from 1970-01-01 to the date (H. Hinnant's days_from_civil).
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(days * 86_400 + h * 3600 + min * 60 + sec)
}

/// Sends the record: to utmpd first, then to wtmpd, within one deadline,
/// as skarnet's does.
pub fn run(plan: &Plan) -> Result<(), Error> {
    let deadline: Deadline = plan.timeout.map(|t| Instant::now() + t);
    if let Some(sock) = &plan.utmp {
        let mut s = client::connect(sock, deadline).map_err(|e| {
            Error::Fatal(
                111,
                format!(
                    "unable to connect to utmpd at {}: {}",
                    sock.display(),
                    strerror(&e)
                ),
            )
        })?;
        client::request_status(&mut s, &Request::Put(plan.record), deadline).map_err(|e| {
            Error::Fatal(111, format!("unable to write utmp entry: {}", strerror(&e)))
        })?;
    }
    if let Some(sock) = &plan.wtmp {
        let append = |log| {
            client::connect(sock, deadline).and_then(|mut s| {
                client::request_status_with(&mut s, &Request::Append(plan.record), log, deadline)
            })
        };
        // A wtmpd that cannot open its log (root's alone, or deleted):
        // once more with our own descriptor of it, as the shim does.
        match append(None) {
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => match client::open_log() {
                Ok(log) => append(Some(&log)),
                Err(_) => Err(e),
            },
            r => r,
        }
        .map_err(|e| {
            Error::Fatal(
                111,
                format!(
                    "unable to write wtmp entry via wtmpd at {}: {}",
                    sock.display(),
                    strerror(&e)
                ),
            )
        })?;
    }
    Ok(())
}

/// The C library's message for an error, without Rust's " (os error N)".
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(at) => s[..at].to_string(),
        None => s,
    }
}

/// utmps-write's `main`.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let trust_env = sys::caller() != proto::trust::Caller::Privileged;
    let socket = |var: &str, default: &str| {
        std::env::var_os(var)
            .filter(|v| trust_env && !v.is_empty())
            .map_or_else(|| PathBuf::from(default), PathBuf::from)
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let defaults = Defaults {
        utmpd: socket("UTMPS_UTMPD_SOCKET", "/run/utmps/.utmpd-socket"),
        wtmpd: socket("UTMPS_WTMPD_SOCKET", "/run/utmps/.wtmpd-socket"),
        now: (
            i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
            i64::from(now.subsec_micros()),
        ),
        pid: sys::getpid(),
    };
    let result =
        parse(&args, &defaults, || sys::user_name(sys::real_uid())).and_then(|plan| run(&plan));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Usage) => {
            crate::say!("utmps-write: usage: {USAGE}");
            ExitCode::from(crate::EXIT_USAGE)
        }
        Err(Error::Fatal(code, message)) => {
            crate::say!("utmps-write: fatal: {message}");
            ExitCode::from(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            utmpd: "/u".into(),
            wtmpd: "/w".into(),
            now: (1_700_000_000, 42),
            pid: 4242,
        }
    }

    fn parse_args(v: &[&str]) -> Result<Plan, Error> {
        let args: Vec<OsString> = v.iter().map(OsString::from).collect();
        parse(&args, &defaults(), || Some(b"me".to_vec()))
    }

    #[test]
    fn skarnet_defaults() {
        let p = parse_args(&["-u", "~~", "boot_time", "~"]).unwrap();
        assert_eq!(p.utmp, Some(PathBuf::from("/u")));
        assert_eq!(p.wtmp, None);
        assert_eq!(p.timeout, None);
        let r = p.record;
        assert_eq!(r.kind, Kind::BOOT_TIME);
        assert_eq!(
            (r.pid, r.user_str(), r.line_str()),
            (4242, &b"me"[..], &b"~"[..])
        );
        assert_eq!(&r.id, b"~~\0\0");
        assert_eq!((r.tv_sec, r.tv_usec), (1_700_000_000, 42));
        assert_eq!((r.host[0], r.addr_v6), (0, [0; 4]));
    }

    #[test]
    fn options_bundled_attached_or_separate() {
        let p = parse_args(&[
            "-uw",
            "-U/s/u",
            "-W",
            "/s/w",
            "-t500",
            "-l",
            "reboot",
            "-p0",
            "-h",
            "6.1.0",
            "-T",
            "1700000001.5",
            "--",
            "~~",
            "RUN_LVL",
            "~",
            "ignored",
        ])
        .unwrap();
        assert_eq!(p.utmp, Some(PathBuf::from("/s/u")));
        assert_eq!(p.wtmp, Some(PathBuf::from("/s/w")));
        assert_eq!(p.timeout, Some(Duration::from_millis(500)));
        let r = p.record;
        assert_eq!(
            (r.kind, r.pid, r.user_str()),
            (Kind::RUN_LVL, 0, &b"reboot"[..])
        );
        assert_eq!(&r.host[..6], b"6.1.0\0");
        assert_eq!((r.tv_sec, r.tv_usec), (1_700_000_001, 500_000));
        // -t 0 waits forever; -p -1 is "this process", as skarnet's.
        let p = parse_args(&["-w", "-t", "0", "-p", "-1", "a", "EMPTY", "b"]).unwrap();
        assert_eq!((p.timeout, p.record.pid), (None, 4242));
        // Long values are cut to the field, as strncpy.
        let p = parse_args(&["-w", "abcdef", "EMPTY", &"x".repeat(40)]).unwrap();
        assert_eq!(&p.record.id, b"abcd");
        assert_eq!(p.record.line, [b'x'; 32]);
    }

    #[test]
    fn errors_and_their_exit_codes() {
        for bad in [
            &[][..],
            &["-u", "a", "EMPTY"],
            &["-x", "-u", "a", "EMPTY", "b"],
            &["-u", "-t", "soon", "a", "EMPTY", "b"],
            &["-u", "-p", "x", "a", "EMPTY", "b"],
            &["-u", "-T", "yesterday", "a", "EMPTY", "b"],
            &["-u", "-t"],
        ] {
            assert_eq!(parse_args(bad), Err(Error::Usage), "{bad:?}");
        }
        let fatal = |v: &[&str]| match parse_args(v) {
            Err(Error::Fatal(code, m)) => (code, m),
            other => panic!("{v:?}: {other:?}"),
        };
        assert_eq!(
            fatal(&["a", "EMPTY", "b"]),
            (100, "at least one of -u or -w must be used".into())
        );
        assert_eq!(
            fatal(&["-u", "a", "7", "b"]),
            (100, "invalid ut_type: 7".into())
        );
        assert_eq!(
            fatal(&["-u", "-i", "1.2.3", "a", "EMPTY", "b"]),
            (100, "invalid IP address: 1.2.3".into())
        );
    }

    #[test]
    fn addresses_are_stored_in_network_order() {
        let v4 = parse_ip("192.0.2.1").unwrap();
        assert_eq!(v4[0].to_ne_bytes(), [192, 0, 2, 1]);
        assert_eq!(&v4[1..], [0, 0, 0]);
        let v6 = parse_ip("2001:db8::1").unwrap();
        assert_eq!(v6[0].to_ne_bytes(), [0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(v6[3].to_ne_bytes(), [0, 0, 0, 1]);
        assert_eq!(parse_ip("::"), Some([0; 4]));
        assert_eq!(parse_ip("example.org"), None);
    }

    #[test]
    fn tai64n_labels_become_utc() {
        // A label as tai64n(8) or s6 write it for 2023-11-14T22:13:20.5Z:
        // 2^62 + the Unix time + TAI - UTC (37 s since 2017).
        let label = format!(
            "@{:016x}{:08x}",
            (1u64 << 62) + 1_700_000_000 + 37,
            500_000_000
        );
        assert_eq!(parse_time(&label), Some((1_700_000_000, 500_000)));
        // Before the first leap second TAI - UTC was 10 s; in 1980, 19 s.
        let at = |unix: i64, offset: i64| {
            format!("@{:016x}{:08x}", (1u64 << 62) + (unix + offset) as u64, 0)
        };
        assert_eq!(parse_time(&at(0, 10)), Some((0, 0)));
        assert_eq!(parse_time(&at(315_532_800, 19)), Some((315_532_800, 0)));
        assert_eq!(parse_time(&at(1_483_228_799, 36)), Some((1_483_228_799, 0)));
        for bad in [
            "@400000006553f1a5",
            "@4000000065537125xyz00000",
            "@3fffffffffffffff00000000",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        // Nanoseconds past a second.
        assert_eq!(
            parse_time(&format!("@{:016x}{:08x}", 1u64 << 62, 1_000_000_000u32)),
            None
        );
    }

    #[test]
    fn the_leap_second_table_is_the_iers_one() {
        // Each entry is the first second of a January or July, UTC.
        for &t in &LEAP_SECONDS {
            let (days, rest) = (t.div_euclid(86_400), t.rem_euclid(86_400));
            assert_eq!(rest, 0);
            let found = (1972..2018).any(|y| {
                [1, 7].iter().any(|&m| {
                    iso_seconds(&format!("{y}-{m:02}-01T00:00:00")) == Some(days * 86_400)
                })
            });
            assert!(found, "{t}");
        }
        assert_eq!(LEAP_SECONDS.len(), 37 - 10);
        // And tzdata's list, where installed (NTP seconds, TAI - UTC).
        if let Ok(list) = std::fs::read_to_string("/usr/share/zoneinfo/leap-seconds.list") {
            let from_tzdata: Vec<(i64, i64)> = list
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| {
                    let mut f = l.split_whitespace();
                    let ntp: i64 = f.next()?.parse().ok()?;
                    Some((ntp - 2_208_988_800, f.next()?.parse().ok()?))
                })
                .collect();
            let ours: Vec<(i64, i64)> = LEAP_SECONDS.iter().copied().zip(11..).collect();
            assert_eq!(from_tzdata[1..], ours[..]);
        }
    }

    #[test]
    fn human_times() {
        assert_eq!(parse_time("1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(parse_time("1700000000.25"), Some((1_700_000_000, 250_000)));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Some((1_700_000_000, 0)));
        assert_eq!(
            parse_time("2023-11-14 22:13:20.1234567"),
            Some((1_700_000_000, 123_456))
        );
        assert_eq!(parse_time("2024-02-29T00:00:00"), Some((1_709_164_800, 0)));
        for bad in [
            "",
            ".5",
            "1.",
            "-5",
            "17e8",
            "2023-02-29T00:00:00",
            "2023-11-14T24:00:00",
            "1969-12-31T23:59:59",
            "2023-11-14",
            "2023-11-14T22:13:20+01:00",
            "1700000000Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
