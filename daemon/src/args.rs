//! Command line -> validated [`Config`]. Hand-rolled: the daemon starts once
//! per connection, so no argument framework is worth its start-up time.

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
}

/// The usage line of `which`.
pub fn usage(which: Daemon) -> String {
    let extra = match which {
        Daemon::Utmpd => " [--private]",
        Daemon::Wtmpd => " [--root-only] [--private]",
    };
    format!(
        "usage: {} [--listen SOCKET] [--format glibc|musl] [--lock LOCKFILE] [--timeout MS]{extra} [FILE]\n  \
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
                    Some("musl") | Some("utmps") => Layout::Musl,
                    _ => return Err(bad("--format is glibc or musl".into())),
                }
            }
            Some("--timeout") => {
                let v = value("--timeout")?;
                let ms: u64 = v
                    .to_str()
                    .and_then(|s| s.parse().ok())
                    .filter(|&ms| ms > 0)
                    .ok_or_else(|| bad(format!("--timeout: not a positive number: {v:?}")))?;
                timeout = Duration::from_millis(ms);
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
    })
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
    }

    #[test]
    fn errors_are_usage_errors() {
        for bad in [
            &["--format", "x"][..],
            &["--timeout", "0"],
            &["--bogus"],
            &["a", "b"],
            &["--listen"],
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
