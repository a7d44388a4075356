//! utmps-write: sends one record, built from the command line, to utmpd
//! and/or wtmpd (skarnet utmps' interface).
fn main() -> std::process::ExitCode {
    daemon::cli::write::main()
}
