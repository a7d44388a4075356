//! proto's `struct utmpx` table against each architecture's own C
//! compiler: for every Debian 13 release architecture, glibc's and musl's
//! struct and skarnet utmps' wire struct are compiled (tests/c/layout.c,
//! `gcc -S` only, nothing runs) and their `sizeof`, `_Alignof` and every
//! `offsetof` and field width compared with `proto::layout::shape_of`.
//!
//! Compilers: Debian 12's cross gcc with its own glibc 2.36 headers, and
//! the same gcc on Debian 13's unpacked libc6-dev (glibc 2.41) and musl-dev
//! (scripts/fetch-arch-headers puts them under target/arch/headers).

use proto::layout::{shape_of, Arch, Layout, Shape};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A Debian architecture: its Rust table row, its cross gcc, the multiarch
/// directories of its glibc and musl headers.
struct Target {
    deb: &'static str,
    arch: Arch,
    gcc: &'static str,
    glibc_dir: &'static str,
    musl_dir: &'static str,
    bits32: bool,
}

const TARGETS: [Target; 8] = [
    Target {
        deb: "amd64",
        arch: Arch::X86_64,
        gcc: "x86_64-linux-gnu-gcc",
        glibc_dir: "x86_64-linux-gnu",
        musl_dir: "x86_64-linux-musl",
        bits32: false,
    },
    Target {
        deb: "i386",
        arch: Arch::X86,
        gcc: "i686-linux-gnu-gcc",
        glibc_dir: "i386-linux-gnu",
        musl_dir: "i386-linux-musl",
        bits32: true,
    },
    Target {
        deb: "arm64",
        arch: Arch::Aarch64,
        gcc: "aarch64-linux-gnu-gcc",
        glibc_dir: "aarch64-linux-gnu",
        musl_dir: "aarch64-linux-musl",
        bits32: false,
    },
    Target {
        deb: "armel",
        arch: Arch::Arm,
        gcc: "arm-linux-gnueabi-gcc",
        glibc_dir: "arm-linux-gnueabi",
        musl_dir: "arm-linux-musleabi",
        bits32: true,
    },
    Target {
        deb: "armhf",
        arch: Arch::Arm,
        gcc: "arm-linux-gnueabihf-gcc",
        glibc_dir: "arm-linux-gnueabihf",
        musl_dir: "arm-linux-musleabihf",
        bits32: true,
    },
    Target {
        deb: "ppc64el",
        arch: Arch::Powerpc64le,
        gcc: "powerpc64le-linux-gnu-gcc",
        glibc_dir: "powerpc64le-linux-gnu",
        musl_dir: "powerpc64le-linux-musl",
        bits32: false,
    },
    Target {
        deb: "riscv64",
        arch: Arch::Riscv64,
        gcc: "riscv64-linux-gnu-gcc",
        glibc_dir: "riscv64-linux-gnu",
        musl_dir: "riscv64-linux-musl",
        bits32: false,
    },
    Target {
        deb: "s390x",
        arch: Arch::S390x,
        gcc: "s390x-linux-gnu-gcc",
        glibc_dir: "s390x-linux-gnu",
        musl_dir: "s390x-linux-musl",
        bits32: false,
    },
];

fn headers() -> PathBuf {
    if let Some(d) = std::env::var_os("UTMPS_ARCH_HEADERS") {
        return PathBuf::from(d);
    }
    // target/<profile>/deps/tests-HASH
    let exe = std::env::current_exe().expect("current_exe");
    let target = exe.ancestors().nth(3).expect("target directory");
    target.join("arch/headers")
}

/// The probe's `@@name value` lines, compiled with `gcc` and `flags`.
fn probe(gcc: &str, flags: &[String]) -> BTreeMap<String, usize> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("c/layout.c");
    let out = Command::new(gcc)
        .args(["-S", "-o", "-"])
        .args(flags)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("{gcc}: {e} (scripts/fetch-arch-headers installs it)"));
    assert!(
        out.status.success(),
        "{gcc} {flags:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(rest) = line.split("@@").nth(1) else {
            continue;
        };
        let mut words = rest.trim_end_matches('"').split_whitespace();
        let (Some(name), Some(value)) = (words.next(), words.next()) else {
            panic!("{line}");
        };
        // `$384` on x86, `#384` elsewhere, or a plain `384`.
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        m.insert(name.to_string(), digits.parse().expect(line));
    }
    assert_eq!(m.len(), 19, "{gcc} {flags:?}: {m:?}");
    m
}

/// The probe's numbers in the Rust table's terms.
fn as_shape(m: &BTreeMap<String, usize>) -> Shape {
    let g = |k: &str| m[k];
    assert_eq!(g("ut_tv.tv_sec_size"), g("ut_tv.tv_usec_size"), "{m:?}");
    assert_eq!(g("RESERVED_size"), 20, "{m:?}");
    Shape {
        size: g("size"),
        align: g("align"),
        kind: g("ut_type"),
        pid: g("ut_pid"),
        line: g("ut_line"),
        id: g("ut_id"),
        user: g("ut_user"),
        host: g("ut_host"),
        exit: g("ut_exit"),
        session: g("ut_session"),
        session_width: g("ut_session_size"),
        tv_sec: g("ut_tv.tv_sec"),
        tv_usec: g("ut_tv.tv_usec"),
        tv_width: g("ut_tv.tv_sec_size"),
        addr: g("ut_addr_v6"),
        reserved: g("RESERVED"),
    }
}

/// Compiler flags for the headers of a Debian 13 package unpacked at
/// `root`, in multiarch directory `dir`, instead of the compiler's own.
fn unpacked(gcc: &str, root: &Path, dir: &str) -> Vec<String> {
    let out = Command::new(gcc)
        .arg("-print-file-name=include")
        .output()
        .expect(gcc);
    let own = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let inc = root.join("usr/include");
    vec![
        "-nostdinc".into(),
        "-isystem".into(),
        own,
        "-isystem".into(),
        inc.join(dir).display().to_string(),
        "-isystem".into(),
        inc.display().to_string(),
    ]
}

#[test]
fn every_layout_matches_its_c_compiler() {
    let dir = headers();
    let mut checked = Vec::new();
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    let mut check = |t: &Target, layout: Layout, what: &str, m: BTreeMap<String, usize>| {
        let want = shape_of(t.arch, layout);
        assert_eq!(m["big_endian"] == 1, t.arch.big_endian(), "{}", t.deb);
        let got = as_shape(&m);
        if got != want {
            wrong.push(format!(
                "{} {layout:?} ({what}):\n  C:    {got:?}\n  Rust: {want:?}",
                t.deb
            ));
        }
        checked.push(format!(
            "{} {layout:?} ({what}): {} B, ut_tv at {} ({}-bit), ut_addr_v6 at {}",
            t.deb,
            got.size,
            got.tv_sec,
            got.tv_width * 8,
            got.addr
        ));
    };
    for t in &TARGETS {
        let d = dir.join(t.deb);
        assert!(
            d.join(".done").exists(),
            "{} is missing: run scripts/fetch-arch-headers",
            d.display()
        );
        // glibc, Debian 12's headers of the cross compiler.
        check(t, Layout::Glibc, "glibc 2.36", probe(t.gcc, &[]));
        // glibc, Debian 13's, with the default and (32-bit) a 64-bit time_t:
        // since 2.40 the struct does not depend on _TIME_BITS.
        let glibc = d.join("glibc");
        if glibc.join("usr/include").exists() {
            let flags = unpacked(t.gcc, &glibc, t.glibc_dir);
            check(t, Layout::Glibc, "glibc 2.41", probe(t.gcc, &flags));
            if t.bits32 {
                let mut f = flags.clone();
                f.extend(["-D_TIME_BITS=64".into(), "-D_FILE_OFFSET_BITS=64".into()]);
                check(
                    t,
                    Layout::Glibc,
                    "glibc 2.41, _TIME_BITS=64",
                    probe(t.gcc, &f),
                );
            }
        } else {
            missing.push(format!("{}: Debian 13 glibc", t.deb));
        }
        let musl = d.join("musl");
        if musl.join("usr/include").exists() {
            let mut flags = unpacked(t.gcc, &musl, t.musl_dir);
            check(t, Layout::Musl, "musl", probe(t.gcc, &flags));
            flags.push("-DWIRE".into());
            check(t, Layout::Wire, "utmps on musl", probe(t.gcc, &flags));
        } else {
            missing.push(format!("{}: Debian 13 musl", t.deb));
        }
    }
    eprintln!("checked:\n  {}", checked.join("\n  "));
    if !missing.is_empty() {
        // The mirror lacked the package when scripts/fetch-arch-headers ran.
        eprintln!("not checked (no package):\n  {}", missing.join("\n  "));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Every architecture's glibc through its cross compiler, and musl
    // wherever Debian 13 packages it (all eight).
    assert!(checked.len() >= 8 + 2 * 8 - missing.len(), "{checked:?}");
}
