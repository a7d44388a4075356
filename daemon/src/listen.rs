//! `--listen SOCKET`: the embedded superserver. One child process per
//! client, which serves it on descriptors 0 and 1 exactly as under
//! s6-ipcserver or a systemd `Accept=yes` socket.

use crate::args::Config;
use crate::{serve, sys, Failure};
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;

/// Listens on `path` forever.
pub fn run(path: &Path, cfg: &Config) -> Result<(), Failure> {
    let sysfail =
        |what: &str, e: std::io::Error| Failure::System(format!("{what} {}: {e}", path.display()));
    // Replace a stale socket from an earlier run, never anything else.
    if let Ok(meta) = fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(Failure::Usage(format!(
                "{} exists and is not a socket",
                path.display()
            )));
        }
        fs::remove_file(path).map_err(|e| sysfail("remove", e))?;
    }
    let listener = UnixListener::bind(path).map_err(|e| sysfail("bind", e))?;
    // Everyone may connect; what they may do is the policy's business.
    fs::set_permissions(path, fs::Permissions::from_mode(0o666))
        .map_err(|e| sysfail("chmod", e))?;
    sys::reap_children_automatically().map_err(|e| sysfail("signal", e))?;
    // For every child (see serve::run), once.
    sys::ignore_sigxfsz();
    // Pre-fork: a standby child waits in accept(), so no fork sits between
    // a client's connect and its first reply. Once the standby has a
    // client it tells us through a pipe, and we fork the next one.
    let me = sys::getpid();
    loop {
        let (mut accepted, tell) = std::io::pipe().map_err(|e| sysfail("pipe", e))?;
        match sys::fork() {
            Ok(None) => {
                drop(accepted);
                // A standby must not outlive the listener (clients would
                // queue on a socket nobody serves).
                if !sys::die_with_parent(Some(me)) {
                    std::process::exit(0);
                }
                let code = standby(&listener, tell, cfg);
                std::process::exit(code);
            }
            Ok(Some(_)) => {
                drop(tell);
                let mut b = [0u8; 1];
                if !matches!(std::io::Read::read(&mut accepted, &mut b), Ok(1)) {
                    // The standby died before it got a client: do not spin.
                    std::thread::sleep(std::time::Duration::from_millis(100));
                } else {
                    // Fork the next standby a moment later, not in the
                    // middle of the new client's first exchange: on a small
                    // machine the fork competes with it for the CPU. Since
                    // reads take one round trip (`R`) and the standby warms
                    // up before it waits, 0.1 ms is best (measured with
                    // `who` at 10 records run back to back: 0.1 ms 1.16x to
                    // 1.21x of glibc, 0.4 ms 1.20x to 1.24x, no delay
                    // 1.23x, 1.5 ms 1.46x: the next client then waits for
                    // its standby). A client that arrives within that moment
                    // waits for it; a stalled client delays nobody beyond it.
                    std::thread::sleep(std::time::Duration::from_micros(100));
                }
            }
            Err(e) => {
                eprintln!("{}: warning: fork: {e}", cfg.daemon.name());
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

/// A standby child: accept one client, tell the parent, serve the client
/// on descriptors 0 and 1, return the exit code.
fn standby(listener: &UnixListener, tell: std::io::PipeWriter, cfg: &Config) -> i32 {
    serve::warm_up(cfg);
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // EMFILE and friends: report, back off, keep waiting.
                eprintln!("{}: warning: accept: {e}", cfg.daemon.name());
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    };
    // From here on the client is ours to finish, listener or not.
    sys::die_with_parent(None);
    // The child exits without dropping `listener`, so closing its
    // descriptor here is the only close.
    sys::close(listener.as_raw_fd());
    let _ = std::io::Write::write_all(&mut &tell, b"!");
    drop(tell);
    let fd = stream.as_raw_fd();
    if let Err(e) = sys::dup2(fd, 0).and_then(|()| sys::dup2(fd, 1)) {
        eprintln!("{}: dup2: {e}", cfg.daemon.name());
        return i32::from(crate::EXIT_SYSTEM);
    }
    drop(stream);
    match serve::run(cfg) {
        Ok(()) => 0,
        Err(f) => {
            if !matches!(f, Failure::Protocol(_)) {
                eprintln!("{}: {f:?}", cfg.daemon.name());
            }
            i32::from(f.code())
        }
    }
}
