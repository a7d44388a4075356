//! Names the (architecture, C library) pair being built for, so that a pair
//! without a known `struct utmpx` layout stops the build with an error that
//! says which one (see `src/layout/mod.rs`). Cargo gives `CARGO_CFG_*` to
//! build scripts only.
use std::env;

fn main() {
    for (var, out) in [
        ("CARGO_CFG_TARGET_ARCH", "UTMPS_TARGET_ARCH"),
        ("CARGO_CFG_TARGET_ENV", "UTMPS_TARGET_ENV"),
        ("CARGO_CFG_TARGET_ENDIAN", "UTMPS_TARGET_ENDIAN"),
        (
            "CARGO_CFG_TARGET_POINTER_WIDTH",
            "UTMPS_TARGET_POINTER_WIDTH",
        ),
    ] {
        let v = env::var(var).unwrap_or_default();
        println!("cargo:rustc-env={out}={v}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
