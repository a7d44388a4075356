//! glibc's matching rules (login/utmp_file.c and utmp-equal.h), the one
//! definition used by the daemon, the shim's plain-file backend and the tests.

use crate::record::{Kind, Record, ID_SIZE, LINE_SIZE};

/// `strncmp(a, b, n) == 0` over two fixed-size fields: equal up to and
/// including the first NUL (or over the whole field when there is none).
fn field_eq(a: &[u8], b: &[u8]) -> bool {
    for (x, y) in a.iter().zip(b.iter()) {
        if x != y {
            return false;
        }
        if *x == 0 {
            return true;
        }
    }
    true
}

/// Whether `ut_type` is one `getutxid` accepts (others give `EINVAL`).
pub fn is_valid_id_query(kind: Kind) -> bool {
    kind.is_clock() || kind.is_process()
}

/// `getutxid`'s and `pututxline`'s test: does `entry` answer `query`?
///
/// Clock and run-level types match any entry of the same type. Process
/// types match an entry of any process type with the same `ut_id` when
/// both ids are set, else with the same `ut_line`. Nothing else matches.
pub fn matches_id(query: &Record, entry: &Record) -> bool {
    if query.kind.is_clock() {
        return query.kind == entry.kind;
    }
    if !(query.kind.is_process() && entry.kind.is_process()) {
        return false;
    }
    if query.id[0] != 0 && entry.id[0] != 0 {
        field_eq(&query.id[..ID_SIZE], &entry.id)
    } else {
        field_eq(&query.line[..LINE_SIZE], &entry.line)
    }
}

/// `getutxline`'s test: a LOGIN_PROCESS or USER_PROCESS entry on `line`.
pub fn matches_line(line: &[u8; LINE_SIZE], entry: &Record) -> bool {
    matches!(entry.kind, Kind::LOGIN_PROCESS | Kind::USER_PROCESS) && field_eq(line, &entry.line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::set_field;

    fn rec(kind: Kind, id: &[u8], line: &[u8]) -> Record {
        let mut r = Record::EMPTY;
        r.kind = kind;
        set_field(&mut r.id, id);
        set_field(&mut r.line, line);
        r
    }

    #[test]
    fn clock_types_match_by_type_only() {
        let q = rec(Kind::BOOT_TIME, b"x", b"a");
        assert!(matches_id(&q, &rec(Kind::BOOT_TIME, b"", b"zz")));
        assert!(!matches_id(&q, &rec(Kind::RUN_LVL, b"x", b"a")));
    }

    #[test]
    fn process_types_match_by_id_then_line() {
        let q = rec(Kind::USER_PROCESS, b"ts/1", b"pts/1");
        assert!(matches_id(&q, &rec(Kind::DEAD_PROCESS, b"ts/1", b"other")));
        assert!(!matches_id(
            &q,
            &rec(Kind::LOGIN_PROCESS, b"ts/2", b"pts/1")
        ));
        // One id empty: fall back to the line.
        assert!(matches_id(&q, &rec(Kind::INIT_PROCESS, b"", b"pts/1")));
        let q = rec(Kind::USER_PROCESS, b"", b"pts/1");
        assert!(matches_id(&q, &rec(Kind::USER_PROCESS, b"ts/9", b"pts/1")));
        // Non-process entries never match a process query.
        assert!(!matches_id(&q, &rec(Kind::EMPTY, b"", b"pts/1")));
        assert!(!matches_id(&rec(Kind::EMPTY, b"", b"pts/1"), &q));
    }

    #[test]
    fn strncmp_semantics_stop_at_nul() {
        let mut a = rec(Kind::USER_PROCESS, b"", b"tty1");
        let b = rec(Kind::USER_PROCESS, b"", b"tty1");
        a.line[10] = b'g'; // garbage after the NUL is ignored
        assert!(matches_id(&a, &b));
        assert!(matches_line(&a.line, &b));
    }

    #[test]
    fn line_matches_only_login_and_user() {
        let line = rec(Kind::EMPTY, b"", b"tty3").line;
        assert!(matches_line(&line, &rec(Kind::LOGIN_PROCESS, b"", b"tty3")));
        assert!(matches_line(&line, &rec(Kind::USER_PROCESS, b"", b"tty3")));
        assert!(!matches_line(&line, &rec(Kind::DEAD_PROCESS, b"", b"tty3")));
        assert!(!matches_line(&line, &rec(Kind::USER_PROCESS, b"", b"tty4")));
    }

    #[test]
    fn valid_id_queries() {
        assert!(!is_valid_id_query(Kind::EMPTY));
        assert!(!is_valid_id_query(Kind::ACCOUNTING));
        assert!(is_valid_id_query(Kind::NEW_TIME));
        assert!(is_valid_id_query(Kind::DEAD_PROCESS));
    }
}
