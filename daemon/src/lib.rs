//! The daemons: one client per process on stdin/stdout (UCSPI/inetd model),
//! started by a superserver or by their own `--listen`; and utmps-write,
//! the command-line client ([`cli::write`], [`cli::client`]).
//!
//! System calls go through rustix (typed descriptors and errnos). Unsafe
//! code is denied everywhere but [`sys`], the one module that calls the C
//! library for what neither std nor rustix offers (fork, signal handlers,
//! passwd look-ups, `SO_PEERGROUPS`).
#![deny(unsafe_code)]

/// `eprintln!` that cannot fail: a daemon's log may be a file past the
/// process's size limit (EFBIG), a full disk or a logger that has gone
/// (EPIPE), and `eprintln!` panics then, which aborts the daemon without
/// a word. A line that cannot be written is dropped.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Taking connections: the embedded superserver, who the peer is, and
/// who gets a daemon process.
pub mod accept {
    pub mod admission;
    pub mod listen;
    pub mod peer;
}
/// The command lines: the daemons' options and utmps-write.
pub mod cli {
    pub mod args;
    pub mod client;
    pub mod write;
}
#[cfg(test)]
mod scratch;
/// One client's session: requests, who may make them, pty proofs.
pub mod serve {
    pub mod policy;
    pub mod pty;
    pub mod session;
}
/// The files: opening them safely, the writers' lock, records, budgets.
pub mod store {
    pub mod budget;
    pub mod files;
    pub mod lock;
    pub mod notice;
    pub mod records;
}
pub mod sys;

/// Exit code for usage and environment errors (skarnet's convention).
pub const EXIT_USAGE: u8 = 100;
/// Exit code for system errors.
pub const EXIT_SYSTEM: u8 = 111;
/// Exit code for protocol errors.
pub const EXIT_PROTOCOL: u8 = 1;

/// Why a daemon process ends, mapped to an exit code in one place.
#[derive(Debug)]
pub enum Failure {
    /// Bad command line or environment.
    Usage(String),
    /// A system call failed.
    System(String),
    /// The client broke the protocol or went silent.
    Protocol(String),
}

impl Failure {
    pub fn code(&self) -> u8 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::System(_) => EXIT_SYSTEM,
            Failure::Protocol(_) => EXIT_PROTOCOL,
        }
    }
}

/// A daemon's C `main`, for binaries built without std's runtime set-up:
/// one process starts per connection, and that set-up (the main thread's
/// stack guard, found by reading /proc/self/maps; SIGSEGV and SIGBUS
/// handlers on an alternate stack) is a dozen system calls before the
/// first useful one. SIGPIPE is ignored as std's runtime would (a client
/// gone is an EPIPE, not a death), and SIGXFSZ (a file-size limit fails
/// the write with EFBIG, not the daemon), once for the process and every
/// process it forks; nothing is written through std's
/// buffered stdout, so nothing is left to flush at exit, and it exits
/// without the C library's exit handlers ([`sys::exit_now`]). `argv` is the C
/// `main`'s (std's `args_os` is empty without its runtime on musl).
pub fn c_main(which: cli::args::Daemon, argv: Vec<std::ffi::OsString>) -> i32 {
    sys::ignore_sigpipe();
    sys::ignore_sigxfsz();
    sys::exit_now(i32::from(exit_code_of(which, argv)))
}

/// `argv` with the program's name first.
fn exit_code_of(which: cli::args::Daemon, mut argv: Vec<std::ffi::OsString>) -> u8 {
    let prog = which.name();
    if !argv.is_empty() {
        argv.remove(0);
    }
    let result = cli::args::parse(which, &argv).and_then(|cfg| {
        if cfg.listen.is_some() || cfg.listen_fds {
            accept::listen::run(&cfg)
        } else {
            serve::session::run(&cfg)
        }
    });
    match result {
        Ok(()) => 0,
        Err(f) => {
            let (Failure::Usage(m) | Failure::System(m) | Failure::Protocol(m)) = &f;
            say!("{prog}: fatal: {m}");
            if matches!(f, Failure::Usage(_)) {
                say!("{}", cli::args::usage(which));
            }
            f.code()
        }
    }
}
