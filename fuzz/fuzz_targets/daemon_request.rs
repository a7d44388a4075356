//! The daemons' request handling: any byte stream from any peer, through
//! the same loop as a real connection (`serve_bytes`), against a real file.
//! Invariants: no panic; the file holds whole records; an ordinary peer
//! with no user name changes nothing.
#![no_main]

use daemon::cli::args::{parse, Daemon};
use daemon::accept::peer::Peer;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // tmpfs when there is one: the daemon syncs every write.
        let base = ["/dev/shm", "/tmp"].iter().map(PathBuf::from).find(|p| p.is_dir()).unwrap();
        let d = base.join(format!("utmps-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

fn seed() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..4u8 {
        let mut r = proto::Record::EMPTY;
        r.kind = proto::Kind(5 + i16::from(i));
        proto::record::set_field(&mut r.line, &[b't', b'0' + i]);
        proto::record::set_field(&mut r.id, &[b'0' + i]);
        proto::record::set_field(&mut r.user, b"root");
        let mut b = [0u8; 400];
        proto::Layout::native().encode(&r, &mut b).unwrap();
        out.extend_from_slice(&b[..proto::Layout::native().size()]);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else { return };
    let which = if flags & 1 == 0 { Daemon::Utmpd } else { Daemon::Wtmpd };
    let root = flags & 2 == 0;
    let file = dir().join("records");
    let lock = dir().join("records.lock");
    let before = seed();
    std::fs::write(&file, &before).unwrap();
    // --private and --root-only refuse a file others may read.
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut args: Vec<std::ffi::OsString> = vec!["--lock".into(), lock.into(), file.clone().into()];
    if flags & 4 != 0 {
        args.push("--private".into());
    }
    if flags & 8 != 0 && which == Daemon::Wtmpd {
        args.push("--root-only".into());
    }
    let cfg = parse(which, &args).unwrap();
    let uid = if root { 0 } else { 4_242_424 };
    let peer = Peer {
        uid,
        gid: uid,
        groups: Vec::new(),
        pid: Some(1),
    };
    let _ = daemon::serve::session::serve_bytes(&cfg, peer, input);
    let after = std::fs::read(&file).unwrap();
    assert_eq!(after.len() % proto::Layout::native().size(), 0, "torn record");
    if !root {
        assert_eq!(after, before, "an ordinary peer changed the file");
    }
});
