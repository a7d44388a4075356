//! utmps-utmpd: serves the utmp database to one client on stdin/stdout.
fn main() -> std::process::ExitCode {
    daemon::main_of(daemon::args::Daemon::Utmpd)
}
