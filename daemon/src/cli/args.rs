//! Command line -> validated [`Config`]. Hand-rolled: the daemon starts once
//! per connection, so no argument framework is worth its start-up time.

use crate::store::budget::Budget;
use crate::Failure;
use proto::Layout;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Which daemon this process is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Daemon {
    /// `utmps-utmpd`.
    Utmpd,
    /// `utmps-wtmpd`.
    Wtmpd,
}

impl Daemon {
    /// The program name.
    pub fn name(self) -> &'static str {
        match self {
            Daemon::Utmpd => "utmps-utmpd",
            Daemon::Wtmpd => "utmps-wtmpd",
        }
    }

    fn default_file(self) -> &'static str {
        match self {
            Daemon::Utmpd => "utmp",
            Daemon::Wtmpd => "wtmp",
        }
    }
}

/// Validated settings of one daemon process.
#[derive(Clone, Debug)]
pub struct Config {
    /// Which daemon.
    pub daemon: Daemon,
    /// The record file.
    pub file: PathBuf,
    /// The private lock file that serialises the daemons' writers.
    pub lock: PathBuf,
    /// Record layout of the file.
    pub layout: Layout,
    /// How long a client may stay silent, or take to send one request.
    pub timeout: Duration,
    /// `--listen SOCKET`: accept connections ourselves.
    pub listen: Option<PathBuf>,
    /// wtmpd: only root may append (the btmp policy).
    pub root_only: bool,
    /// Hide other users' `ut_host` and `ut_addr_v6` from non-root readers.
    pub private: bool,
    /// `--listen-fds`: listen on the sockets systemd passes (`LISTEN_FDS`).
    pub listen_fds: bool,
    /// How long an ordinary peer's connection may last in all.
    pub lifetime: Duration,
    /// An ordinary user's allowance of wtmp/btmp appends.
    pub budget: Budget,
    /// The listener's admission limits.
    pub limits: Limits,
}

/// Admission limits of the listener (s6-ipcserver's `-c` and `-C`, and a
/// rate): clients over them are refused before any work is done for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `-c`: ordinary clients at once, all users together.
    pub total: u32,
    /// `-C`: clients of one ordinary user at once.
    pub per_uid: u32,
    /// `--rate`: new connections per second of one ordinary user (with a
    /// burst of twice as many).
    pub rate: u32,
}

impl Limits {
    /// The defaults: s6-ipcserver's 40 per user, 1,000 in all, 50 new
    /// connections a second per user.
    pub const DEFAULT: Limits = Limits {
        total: 1000,
        per_uid: 40,
        rate: 50,
    };
}

/// The usage line of `which`.
pub fn usage(which: Daemon) -> String {
    let extra = match which {
        Daemon::Utmpd => " [--private]",
        Daemon::Wtmpd => " [--root-only] [--private] [--budget BURST/SECONDS]",
    };
    format!(
        "usage: {} [--listen SOCKET | --listen-fds] [-c MAXCONN] [-C MAXCONN_PER_USER] [--rate N] \
         [--format glibc|musl|utmps] [--lock LOCKFILE] [--timeout MS] [--lifetime MS]{extra} [FILE]\n  \
         FILE defaults to '{}' in the working directory; LOCKFILE to FILE.lock",
        which.name(),
        which.default_file()
    )
}

/// Parses the arguments after the program name.
pub fn parse(daemon: Daemon, argv: &[OsString]) -> Result<Config, Failure> {
    let mut file = None;
    let mut lock = None;
    let mut layout = Layout::native();
    let mut timeout = Duration::from_secs(30);
    let mut listen = None;
    let mut root_only = false;
    let mut private = false;
    let mut listen_fds = false;
    let mut lifetime = Duration::from_secs(60);
    let mut budget = Budget::DEFAULT;
    let mut limits = Limits::DEFAULT;
    let mut it = argv.iter();
    let bad = |m: String| Failure::Usage(m);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| bad(format!("{name} needs a value")))
        };
        match arg.to_str() {
            Some("--listen") => listen = Some(PathBuf::from(value("--listen")?)),
            Some("--lock") => lock = Some(PathBuf::from(value("--lock")?)),
            Some("--format") => {
                layout = match value("--format")?.to_str() {
                    Some("glibc") => Layout::Glibc,
                    Some("musl") => Layout::Musl,
                    // skarnet utmps' own files: its wire record, which is
                    // musl's struct except on i386 and big-endian hosts.
                    Some("utmps") => Layout::Wire,
                    _ => return Err(bad("--format is glibc, musl or utmps".into())),
                }
            }
            Some("--timeout") => {
                timeout = Duration::from_millis(positive("--timeout", value("--timeout")?)?)
            }
            Some("--lifetime") => {
                lifetime = Duration::from_millis(positive("--lifetime", value("--lifetime")?)?)
            }
            Some("--listen-fds") => listen_fds = true,
            Some("-c") => limits.total = positive("-c", value("-c")?)?,
            Some("-C") => limits.per_uid = positive("-C", value("-C")?)?,
            Some("--rate") => limits.rate = positive("--rate", value("--rate")?)?,
            Some("--budget") if daemon == Daemon::Wtmpd => {
                let v = value("--budget")?;
                let parsed = v
                    .to_str()
                    .and_then(|s| s.split_once('/'))
                    .and_then(|(b, p)| {
                        let burst = b.parse().ok().filter(|&b: &u32| b > 0)?;
                        let secs: u64 = p.parse().ok().filter(|&s| s > 0)?;
                        Some(Budget {
                            burst,
                            period_ms: secs.checked_mul(1000)?,
                        })
                    });
                budget = parsed.ok_or_else(|| bad(format!("--budget is BURST/SECONDS: {v:?}")))?;
            }
            Some("--root-only") if daemon == Daemon::Wtmpd => root_only = true,
            Some("--private") => private = true,
            Some("--help") | Some("-h") => return Err(bad("help requested".into())),
            Some(s) if s.starts_with('-') && s.len() > 1 => {
                return Err(bad(format!("unknown option {s}")))
            }
            _ if file.is_none() => file = Some(PathBuf::from(arg)),
            _ => return Err(bad(format!("unexpected argument {arg:?}"))),
        }
    }
    if listen.is_some() && listen_fds {
        return Err(bad("--listen and --listen-fds exclude each other".into()));
    }
    let file = file.unwrap_or_else(|| PathBuf::from(daemon.default_file()));
    let lock = lock.unwrap_or_else(|| {
        let mut s = file.clone().into_os_string();
        s.push(".lock");
        PathBuf::from(s)
    });
    Ok(Config {
        daemon,
        file,
        lock,
        layout,
        timeout,
        listen,
        root_only,
        private,
        listen_fds,
        lifetime,
        budget,
        limits,
    })
}

/// A positive number option.
fn positive<T: std::str::FromStr + Default + PartialOrd>(
    name: &str,
    v: OsString,
) -> Result<T, Failure> {
    v.to_str()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > T::default())
        .ok_or_else(|| Failure::Usage(format!("{name}: not a positive number: {v:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn defaults_follow_skarnet() {
        let c = parse(Daemon::Utmpd, &[]).unwrap();
        assert_eq!(c.file, PathBuf::from("utmp"));
        assert_eq!(c.lock, PathBuf::from("utmp.lock"));
        assert_eq!(c.layout, Layout::native());
        let c = parse(Daemon::Wtmpd, &args(&["btmp", "--root-only"])).unwrap();
        assert_eq!(c.file, PathBuf::from("btmp"));
        assert!(c.root_only);
    }

    #[test]
    fn options() {
        let c = parse(
            Daemon::Utmpd,
            &args(&[
                "--format",
                "musl",
                "--listen",
                "/s",
                "--lock",
                "/l",
                "--timeout",
                "50",
                "f",
            ]),
        )
        .unwrap();
        assert_eq!(c.layout, Layout::Musl);
        assert_eq!(c.listen, Some(PathBuf::from("/s")));
        assert_eq!(c.lock, PathBuf::from("/l"));
        assert_eq!(c.timeout, Duration::from_millis(50));
        let c = parse(
            Daemon::Wtmpd,
            &args(&[
                "-c",
                "9",
                "-C",
                "3",
                "--rate",
                "4",
                "--lifetime",
                "70",
                "--budget",
                "10/5",
                "--listen-fds",
            ]),
        )
        .unwrap();
        assert_eq!(
            c.limits,
            Limits {
                total: 9,
                per_uid: 3,
                rate: 4
            }
        );
        assert_eq!(c.lifetime, Duration::from_millis(70));
        assert_eq!(
            c.budget,
            Budget {
                burst: 10,
                period_ms: 5000
            }
        );
        assert!(c.listen_fds);
    }

    #[test]
    fn errors_are_usage_errors() {
        for bad in [
            &["--format", "x"][..],
            &["--timeout", "0"],
            &["--bogus"],
            &["a", "b"],
            &["--listen"],
            &["-C", "0"],
            &["--budget", "5"],
            &["--budget", "0/5"],
            &["--listen", "s", "--listen-fds"],
        ] {
            assert!(matches!(
                parse(Daemon::Wtmpd, &args(bad)),
                Err(Failure::Usage(_))
            ));
        }
        // --root-only is wtmpd's alone.
        assert!(parse(Daemon::Utmpd, &args(&["--root-only"])).is_err());
    }
}
