//! `include/mercador.h` is what cbindgen makes of the sources: the committed
//! header never drifts from the ABI. After a change of the ABI, regenerate
//! it with `MERCADOR_CAPI_BLESS=1 cargo test -p mercador-capi --test header`.

#![allow(clippy::expect_used, clippy::panic)] // a test: failing loudly is the point

use std::path::Path;

#[test]
fn header_is_what_cbindgen_generates() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let path = crate_dir.join("include/mercador.h");
    if std::env::var_os("MERCADOR_CAPI_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/mercador.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    if committed != generated {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mercador.h");
        std::fs::write(&tmp, &generated).expect("write the generated header");
        panic!(
            "include/mercador.h differs from what cbindgen generates from the sources (generated: {}; \
             compare with `diff -u {} {}`). Regenerate it with \
             `MERCADOR_CAPI_BLESS=1 cargo test -p mercador-capi --test header` and commit it.",
            tmp.display(),
            path.display(),
            tmp.display()
        );
    }
}
