// Link arguments of libutmps.so. Every symbol the shim needs must resolve
// when it is linked, not when a program loads it: a missing one would
// break every preloaded process (`-z defs`). The others make loading it
// cheap, since with /etc/ld.so.preload every exec on the machine pays for
// it (README, Performance, measures each):
//
// - GNU ld with `-z noseparate-code` and `-z norelro`: two LOAD segments
//   (code with read-only data; data) instead of four, and no RELRO
//   `mprotect`. Each segment is an mmap, a VMA and a page fault per exec.
//   GNU ld because its option means the same on every toolchain: rustc
//   1.89 links with the system's ld, 1.90 and later with rust-lld, whose
//   layout flags differ (`--no-rosegment`).
// - `-nostartfiles`: no crtbeginS.o/crtendS.o, whose `.init`/`.fini`,
//   TM-clone and `__cxa_finalize` hooks serve C++ and gcc, not this
//   library: four fewer symbol lookups at load, no destructor at exit.
// - `-Bsymbolic-functions`: the shim's own calls between exports (the
//   utmp.h names call the utmpx ones) bind at link time, as glibc's
//   internal aliases do, instead of by a symbol lookup at every load.
//
// (Not in the fuzzer's build, whose instrumented objects call into the
// fuzzing runtime that only the fuzz binary links.)
fn main() {
    if std::env::var_os("CARGO_FEATURE_FUZZ").is_none() {
        for arg in [
            "-Wl,-z,defs",
            "-fuse-ld=bfd",
            "-Wl,-z,noseparate-code",
            "-Wl,-z,norelro",
            "-nostartfiles",
            "-Wl,-Bsymbolic-functions",
        ] {
            println!("cargo:rustc-cdylib-link-arg={arg}");
        }
    }
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libutmps.so");
    // The daemons enable libc's "std" feature, and with it libc leaves
    // linking the C library to std, which this no_std crate does not have.
    println!("cargo:rustc-link-lib=dylib=c");
}
