//! `include/dyag.h` must be exactly what cbindgen generates from
//! `src/ffi/` with `cbindgen.toml`: CI fails when the header is stale.
//! `DYAG_UPDATE_HEADER=1 cargo test --test capi_header` (or
//! scripts/gen-header.sh) rewrites it instead.

use std::path::PathBuf;

fn generate() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    // mod.rs names the other files of src/ffi; cbindgen follows the `mod` lines.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen cannot read src/ffi");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}

#[test]
fn the_header_matches_the_rust_sources() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("include/dyag.h");
    let fresh = generate();
    if std::env::var_os("DYAG_UPDATE_HEADER").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != fresh {
        let line = current
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .map_or(current.lines().count().min(fresh.lines().count()) + 1, |i| i + 1);
        panic!(
            "{} is stale (first difference at line {line}); regenerate it with scripts/gen-header.sh \
             (DYAG_UPDATE_HEADER=1 cargo test --test capi_header) and commit it",
            path.display()
        );
    }
}
