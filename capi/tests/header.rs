//! The checked-in header (`capi/include/stack.h`) is what cbindgen makes
//! of the sources now. `STACK_UPDATE_HEADER=1` rewrites it instead.

use std::path::Path;

#[test]
fn the_header_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let path = dir.join("include/stack.h");
    if std::env::var_os("STACK_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let current = std::fs::read(&path).unwrap_or_default();
    assert!(
        current == fresh,
        "capi/include/stack.h is stale: run STACK_UPDATE_HEADER=1 cargo test -p stack-capi --test header"
    );
}
