//! The daemons: one client per process on stdin/stdout (UCSPI/inetd model),
//! started by a superserver or by their own `--listen`; and utmps-write,
//! the command-line client ([`write`], [`client`]).
//!
//! System calls go through rustix (typed descriptors and errnos). Unsafe
//! code is denied everywhere but [`sys`], the one module that calls the C
//! library for what neither std nor rustix offers (fork, signal handlers,
//! passwd look-ups, `SO_PEERGROUPS`).
#![deny(unsafe_code)]

pub mod admission;
pub mod args;
pub mod budget;
pub mod client;
pub mod files;
pub mod listen;
pub mod lock;
pub mod peer;
pub mod policy;
pub mod pty;
pub mod serve;
pub mod store;
pub mod sys;
pub mod write;

use std::process::ExitCode;

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

/// Runs a daemon's `main`: parse, run, report, exit.
pub fn main_of(which: args::Daemon) -> ExitCode {
    let prog = which.name();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let result = args::parse(which, &argv).and_then(|cfg| {
        if cfg.listen.is_some() || cfg.listen_fds {
            listen::run(&cfg)
        } else {
            serve::run(&cfg)
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            let (Failure::Usage(m) | Failure::System(m) | Failure::Protocol(m)) = &f;
            eprintln!("{prog}: fatal: {m}");
            if matches!(f, Failure::Usage(_)) {
                eprintln!("{}", args::usage(which));
            }
            ExitCode::from(f.code())
        }
    }
}
