// Every symbol the shim needs must resolve when it is linked, not when a
// program loads it: a missing one would break every preloaded process.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,defs");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libutmps.so");
    // The daemons enable libc's "std" feature, and with it libc leaves
    // linking the C library to std, which this no_std crate does not have.
    println!("cargo:rustc-link-lib=dylib=c");
}
