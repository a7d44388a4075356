//! Integration tests: the built shim and daemons against real programs.
//! Run through `scripts/test`, which builds everything they use.

mod deploy;
mod differential;
mod e2e;
mod faults;
mod hostile;
mod hosts;
mod launch;
mod matrix;
mod programs;
mod security;
mod symbols;
mod utempter;
