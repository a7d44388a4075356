//! The data model shared by the shim and the daemons: one record type, the
//! C layouts it is stored in, the wire codec and glibc's matching rules.
//!
//! Everything here is `no_std`, allocation-free and safe, so the shim can
//! use it inside any process and the daemon can trust it with hostile input.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(test)]
extern crate std;

pub mod codec;
pub mod errno;
pub mod generation;
pub mod layout;
pub mod matching;
pub mod record;
pub mod table;
pub mod trust;

pub use errno::Errno;
pub use layout::Layout;
pub use record::{Kind, Record};

/// Appended to a daemon's socket path, names its privileged twin: a socket
/// only root and the writers' group may open (mode 0660), whose backlog no
/// ordinary user can fill. Clients try it first for writes.
pub const PRIVILEGED_SOCKET_SUFFIX: &str = ".priv";
