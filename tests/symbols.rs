//! The shim's symbol tables: loadable by musl, exporting the API.

use std::collections::BTreeSet;
use util::{shim, Run};

fn symbols(args: &[&str], file: &std::path::Path) -> BTreeSet<String> {
    let out = Run::new("nm").args(args).args([file]).run();
    out.ok()
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|s| s.split('@').next().unwrap_or(s).to_string())
        .collect()
}

#[test]
fn every_undefined_symbol_is_in_musl_libc() {
    let musl = std::path::Path::new("/usr/lib/x86_64-linux-musl/libc.so");
    assert!(musl.exists(), "musl is not installed");
    let have = symbols(&["-D", "--defined-only"], musl);
    let need = symbols(&["-D", "--undefined-only"], &shim());
    // Weak references that are allowed to stay unresolved.
    let weak: BTreeSet<String> = Run::new("nm")
        .args(["-D", "--undefined-only"])
        .args([shim()])
        .run()
        .ok()
        .lines()
        .filter(|l| l.trim_start().starts_with("w "))
        .filter_map(|l| l.split_whitespace().last())
        .map(|s| s.split('@').next().unwrap_or(s).to_string())
        .collect();
    let missing: Vec<_> = need
        .iter()
        .filter(|s| !have.contains(*s) && !weak.contains(*s))
        .collect();
    assert!(missing.is_empty(), "not in musl's libc.so: {missing:?}");
    assert!(
        need.contains("socket"),
        "the check saw the shim's imports: {need:?}"
    );
}

#[test]
fn only_the_c_library_is_needed() {
    let out = Run::new("readelf")
        .args(["-d".as_ref(), shim().as_os_str()])
        .run();
    let needed: Vec<_> = out
        .ok()
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .collect();
    assert_eq!(needed.len(), 1, "{needed:?}");
    assert!(needed[0].contains("[libc.so.6]"), "{needed:?}");
}

#[test]
fn exports_every_entry_point() {
    let exported = symbols(&["-D", "--defined-only"], &shim());
    for f in [
        "setutxent",
        "getutxent",
        "getutxid",
        "getutxline",
        "pututxline",
        "endutxent",
        "updwtmpx",
        "setutent",
        "getutent",
        "getutid",
        "getutline",
        "pututline",
        "endutent",
        "updwtmp",
    ] {
        assert!(exported.contains(f), "{f} not exported: {exported:?}");
    }
}

#[test]
fn the_headers_declare_exactly_what_the_shim_exports() {
    let exported = symbols(&["-D", "--defined-only"], &shim());
    let mut declared = BTreeSet::new();
    for h in ["utmpx.h", "utmp.h"] {
        let text = std::fs::read_to_string(util::repo().join("headers").join(h)).unwrap();
        for line in text.lines() {
            let line = line.trim();
            // Function declarations: "type name(args);"
            if line.ends_with(");") && !line.starts_with('#') && !line.starts_with("/*") {
                let before = &line[..line.find('(').unwrap()];
                let name = before.rsplit([' ', '*']).next().unwrap();
                declared.insert(name.to_string());
            }
        }
    }
    assert_eq!(declared, exported, "headers/ and nm -D libutmps.so differ");
}
