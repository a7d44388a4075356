//! The shim's symbol tables: loadable by musl, exporting the API.

use std::collections::BTreeSet;
use util::{lines_with, shim, Run};

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
        need.contains("syscall"),
        "the check saw the shim's imports: {need:?}"
    );
}

#[test]
fn imports_only_what_no_system_call_replaces() {
    // Every import is a symbol lookup in every exec under
    // /etc/ld.so.preload (README, Performance): plain system calls go
    // through `syscall`, and a new import must be worth it.
    let need = symbols(&["-D", "--undefined-only"], &shim());
    let allowed = [
        "syscall",
        "__errno_location",
        "ttyname_r",
        "gnu_get_libc_version",
        // Emitted by the compiler.
        "memcpy",
        "memset",
    ];
    let extra: Vec<_> = need
        .iter()
        .filter(|s| !allowed.contains(&s.as_str()))
        .collect();
    assert!(extra.is_empty(), "imports past the list: {extra:?}");
    assert!(need.contains("syscall"), "{need:?}");
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

/// `GLIBC_2.17` as `(2, 17)`; `None` for other version names.
fn glibc_version(name: &str) -> Option<(u32, u32)> {
    let (major, minor) = name.strip_prefix("GLIBC_")?.split_once('.')?;
    // GLIBC_2.2.5: the third number never matters against 2.17.
    let minor = minor.split('.').next()?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[test]
fn loads_on_every_glibc_from_2_17() {
    // The version needs (`readelf -V`): what the loader checks before it
    // maps anything. A version newer than the host's glibc (dlsym became
    // GLIBC_2.34) fails the load of every process that preloads the shim.
    let out = Run::new("readelf")
        .args(["-VW".as_ref(), shim().as_os_str()])
        .run();
    let needs: Vec<_> = out
        .ok()
        .lines()
        .skip_while(|l| !l.contains("Version needs section"))
        .filter_map(|l| l.split("Name: ").nth(1))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        needs.contains(&"GLIBC_2.2.5"),
        "no version needs read: {needs:?}"
    );
    let too_new: Vec<_> = needs
        .iter()
        .filter(|n| glibc_version(n).is_none_or(|v| v > (2, 17)))
        .collect();
    assert!(
        too_new.is_empty(),
        "versions newer than GLIBC_2.17: {too_new:?}"
    );
    // And every versioned import, to name the symbol that needs one.
    let syms = Run::new("readelf")
        .args(["--dyn-syms".as_ref(), "-W".as_ref(), shim().as_os_str()])
        .run();
    let newer: Vec<_> = syms
        .ok()
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|s| {
            s.split_once("@GLIBC_")
                .and_then(|(_, v)| glibc_version(&format!("GLIBC_{v}")))
                .is_some_and(|v| v > (2, 17))
        })
        .collect();
    assert!(newer.is_empty(), "imports newer than GLIBC_2.17: {newer:?}");
}

#[test]
fn the_glibc_probe_is_a_weak_reference() {
    // musl has no gnu_get_libc_version: a strong reference would fail the
    // load of every musl process.
    let out = Run::new("nm")
        .args([
            "-D".as_ref(),
            "--undefined-only".as_ref(),
            shim().as_os_str(),
        ])
        .run();
    let probe = lines_with(out.ok(), "gnu_get_libc_version");
    assert_eq!(probe.len(), 1, "{probe:?}");
    assert!(probe[0].trim_start().starts_with("w "), "{probe:?}");
    assert!(
        lines_with(out.ok(), "dlsym").is_empty(),
        "dlsym is GLIBC_2.34"
    );
}

#[test]
fn loading_maps_two_segments_and_writes_one_page() {
    // What every exec pays under /etc/ld.so.preload (README, Performance;
    // shim/build.rs): two LOAD segments, no RELRO mprotect, writable data
    // in one page of the file (the page the relocations write) and no
    // zero-filled pages (the big buffers are mapped on the first call),
    // but a little .bss in it, no constructor, no crtbegin/crtend hooks.
    let out = Run::new("readelf")
        .args(["-lW".as_ref(), shim().as_os_str()])
        .run();
    let loads: Vec<_> = lines_with(out.ok(), "LOAD");
    assert_eq!(loads.len(), 2, "{}", out.ok());
    assert!(lines_with(out.ok(), "GNU_RELRO").is_empty(), "{}", out.ok());
    let rw = loads
        .iter()
        .find(|l| l.contains("RW"))
        .expect("an RW segment");
    let filesz = u64::from_str_radix(
        rw.split_whitespace()
            .nth(4)
            .and_then(|s| s.strip_prefix("0x"))
            .expect("FileSiz"),
        16,
    )
    .unwrap();
    assert!(filesz < 4096, "initialised data of {filesz} bytes: {rw}");
    let field = |i: usize| {
        let v = rw
            .split_whitespace()
            .nth(i)
            .and_then(|s| s.strip_prefix("0x"));
        u64::from_str_radix(v.expect("a LOAD field"), 16).unwrap()
    };
    let (vaddr, memsz) = (field(2), field(5));
    let file_end = (vaddr + filesz).div_ceil(4096) * 4096;
    assert!(
        vaddr + memsz <= file_end,
        "zero-filled pages past the file: {rw}"
    );
    // A little .bss in that page: the loader's first touch of it is then
    // the write that zeroes it (one copy-on-write fault), not a read of
    // `.dynamic` (a second fault before the relocations write).
    assert!(memsz > filesz, "no .bss after .data: {rw}");
    // No constructor: nothing of the shim runs at load (the variables
    // are read by the first call).
    let dynamic = Run::new("readelf")
        .args(["-dW".as_ref(), shim().as_os_str()])
        .run();
    for tag in ["(INIT)", "(INIT_ARRAY)", "(PREINIT_ARRAY)"] {
        assert!(!dynamic.ok().contains(tag), "{tag}: {}", dynamic.ok());
    }
    let dynsyms = symbols(&["-D"], &shim());
    for crt in [
        "__cxa_finalize",
        "__gmon_start__",
        "_ITM_registerTMCloneTable",
    ] {
        assert!(!dynsyms.contains(crt), "{crt}: linked with crt files");
    }
}
