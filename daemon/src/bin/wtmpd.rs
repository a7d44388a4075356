//! utmps-wtmpd: appends one record to wtmp (or btmp) for one client.
fn main() -> std::process::ExitCode {
    daemon::main_of(daemon::args::Daemon::Wtmpd)
}
