// Every symbol the shim needs must resolve when it is linked, not when a
// program loads it: a missing one would break every preloaded process.
// (Not in the fuzzer's build, whose instrumented objects call into the
// fuzzing runtime that only the fuzz binary links.)
fn main() {
    if std::env::var_os("CARGO_FEATURE_FUZZ").is_none() {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,defs");
    }
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libutmps.so");
    // The daemons enable libc's "std" feature, and with it libc leaves
    // linking the C library to std, which this no_std crate does not have.
    println!("cargo:rustc-link-lib=dylib=c");
}
