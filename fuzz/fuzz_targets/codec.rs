//! Everything that parses wire bytes: requests (the daemons' side) and the
//! reply pieces the shim decodes (cursors, records, versions), and the two
//! record layouts. Invariants: no panic; a decoded request re-encodes to
//! the same bytes' meaning.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto::codec::{self, CURSOR_SIZE, MAX_REQUEST, RECORD_SIZE};

fuzz_target!(|data: &[u8]| {
    if let Some((&op, body)) = data.split_first() {
        if let Ok(req) = codec::decode_request(op, body) {
            let mut buf = [0u8; MAX_REQUEST];
            let n = codec::encode_request(&req, &mut buf);
            assert_eq!(codec::decode_request(buf[0], &buf[1..n]), Ok(req));
        }
    }
    if let Ok(b) = <&[u8; CURSOR_SIZE]>::try_from(data.get(..CURSOR_SIZE).unwrap_or_default()) {
        if let Ok(c) = codec::decode_cursor(b) {
            assert_eq!(codec::decode_cursor(&codec::encode_cursor(&c)), Ok(c));
        }
    }
    if let Ok(b) = <&[u8; RECORD_SIZE]>::try_from(data.get(..RECORD_SIZE).unwrap_or_default()) {
        let _ = codec::decode_record(b);
    }
    if let Ok(b) = <&[u8; 8]>::try_from(data.get(..8).unwrap_or_default()) {
        let _ = codec::decode_version(b);
    }
    let _ = proto::Layout::Glibc.decode(data);
    let _ = proto::Layout::Musl.decode(data);
});
