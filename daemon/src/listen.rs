//! `--listen SOCKET`: the embedded superserver. Accepts connections and
//! forks one child per client, which serves it on descriptors 0 and 1
//! exactly as under s6-ipcserver or a systemd `Accept=yes` socket.

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
    loop {
        let (stream, _) = match listener.accept() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // EMFILE and friends: report, back off, keep serving.
                eprintln!("{}: warning: accept: {e}", cfg.daemon.name());
                std::thread::sleep(std::time::Duration::from_millis(100));
                continue;
            }
        };
        match sys::fork() {
            Ok(None) => {
                drop(listener);
                let fd = stream.as_raw_fd();
                let code = match sys::dup2(fd, 0).and_then(|()| sys::dup2(fd, 1)) {
                    Ok(()) => {
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
                    Err(e) => {
                        eprintln!("{}: dup2: {e}", cfg.daemon.name());
                        i32::from(crate::EXIT_SYSTEM)
                    }
                };
                std::process::exit(code);
            }
            Ok(Some(_)) => drop(stream),
            Err(e) => {
                eprintln!("{}: warning: fork: {e}", cfg.daemon.name());
                drop(stream);
            }
        }
    }
}
