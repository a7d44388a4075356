//! The shim's reply parsing: a daemon that answers anything at all (here,
//! the fuzzer's bytes) to the session's reads, searches and writes, through
//! the shim's own state machine (bulk headers, cursors, records, statuses).
//! Invariants: no panic, no hang past the deadline.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    utmps::fuzz_replies(data);
});
