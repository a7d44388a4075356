//! Telling the administrator, once, that the daemon cannot open its
//! record file (after a `mv`, `rm` or `chmod` that left it root's alone),
//! and how to fix it. Every client is a process of its own, so "once" is
//! kept in the private lock file: the state of the file last reported
//! (identity, owner, mode, error), at [`NOTE`]; a line is printed only
//! when that changes.

use crate::store::files::{self, Audience, Me};
use crate::sys::{self, ByteLock};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Where the note lives in the lock file: past the budget table (16 KiB),
/// far before the scan slots' bytes (2^40). Its first byte is also locked
/// (without waiting) while it is read and written.
const NOTE: u64 = 32 << 10;
const MAGIC: &[u8; 8] = b"utmpsnt1";
const LEN: usize = 8 + 8 + 8 + 4 + 4 + 4 + 4;

/// Reports `e`, the daemon's failure to open `file`, unless this very
/// state of the file was reported already.
pub fn once(name: &str, file: &Path, lock: &Path, audience: Audience, e: &io::Error) {
    let st = rustix::fs::lstat(file).ok();
    let mut key = [0u8; LEN];
    key[..8].copy_from_slice(MAGIC);
    if let Some(st) = &st {
        key[8..16].copy_from_slice(&st.st_dev.to_le_bytes());
        key[16..24].copy_from_slice(&st.st_ino.to_le_bytes());
        key[24..28].copy_from_slice(&st.st_mode.to_le_bytes());
        key[28..32].copy_from_slice(&st.st_uid.to_le_bytes());
        key[32..36].copy_from_slice(&st.st_gid.to_le_bytes());
    }
    // FNV-1a of the error's text: another error is another state.
    let what = e.to_string().bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    key[36..40].copy_from_slice(&what.to_le_bytes());
    let say = || {
        crate::say!(
            "{name}: warning: {}",
            message(file, audience, st.as_ref(), e)
        )
    };
    let Ok(lock) = files::open_lock_if_there(lock, Me::current()) else {
        return say();
    };
    // Another process reporting the same failure right now: theirs.
    if !sys::byte_lock(&lock, NOTE, ByteLock::Exclusive).unwrap_or(false) {
        return;
    }
    let mut seen = [0u8; LEN];
    let known = lock.read_exact_at(&mut seen, NOTE).is_ok() && seen == key;
    if !known {
        say();
        let _ = lock.write_all_at(&key, NOTE);
    }
    let _ = sys::byte_lock(&lock, NOTE, ByteLock::Release);
}

/// The line: what is wrong, what happens to records meanwhile, the fix.
fn message(
    file: &Path,
    audience: Audience,
    st: Option<&rustix::fs::Stat>,
    e: &io::Error,
) -> String {
    let path = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let path = path.display();
    let (uid, gid) = sys::effective_ids();
    let group = sys::group_name(gid).map_or_else(
        || gid.to_string(),
        |g| String::from_utf8_lossy(&g).into_owned(),
    );
    let mode = match audience {
        Audience::Everyone => "0664",
        Audience::Group | Audience::Owner => "0660",
    };
    let meanwhile = "meanwhile only records from root (whose libutmps opens the file itself and hands it over) land; \
                     others are lost, as glibc loses them for everyone but root";
    // A refusal of the file itself (a link, a foreign owner: files.rs) or
    // another error: said as it is.
    if e.kind() != io::ErrorKind::PermissionDenied || files::is_refusal(e) {
        return format!("{e}; no record reaches it until that is fixed");
    }
    match st {
        Some(st) => format!(
            "{e}: the daemon (uid {uid}, gid {gid}) cannot write it (uid {}, gid {}, mode {:04o}); \
             {meanwhile}. Fix: chown root:{group} {path}; chmod {mode} {path}",
            st.st_uid,
            st.st_gid,
            st.st_mode & 0o7777
        ),
        None => format!(
            "{path}: missing, and the daemon (uid {uid}) may not create it ({e}); \
             root's next record creates it root:{group} {mode}. \
             To create it now: install -o root -g {group} -m {mode} /dev/null {path}"
        ),
    }
}
