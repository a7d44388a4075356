//! Integration tests: the built shim and daemons against real programs.
//! Run through `scripts/test`, which builds everything they use.

mod e2e;
mod faults;
mod security;
mod symbols;
