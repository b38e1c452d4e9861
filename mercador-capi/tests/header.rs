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

/// The C test programs (tests/c) and the example call every function the
/// header declares, so a new entry point comes with its C test.
#[test]
fn every_entry_point_is_called_by_the_c_tests() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = std::fs::read_to_string(crate_dir.join("include/mercador.h")).expect("read the header");
    let mut c_code = String::new();
    for dir in ["tests/c", "examples"] {
        for entry in std::fs::read_dir(crate_dir.join(dir)).expect("list the C sources") {
            let path = entry.expect("a C source").path();
            if path.extension().is_some_and(|e| e == "c") {
                c_code.push_str(&std::fs::read_to_string(&path).expect("read a C source"));
            }
        }
    }
    // Declarations start at the line's beginning: `<type> mercador_x(`.
    let functions: Vec<&str> = header
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && !l.starts_with("typedef"))
        .filter_map(|l| l.split('(').next())
        .filter_map(|l| l.rsplit([' ', '*']).next())
        .filter(|name| name.starts_with("mercador_"))
        .collect();
    assert!(functions.len() > 40, "too few declarations found: {functions:?}");
    let missing: Vec<&&str> = functions.iter().filter(|f| !c_code.contains(&format!("{f}("))).collect();
    assert!(missing.is_empty(), "entry points no C test calls: {missing:?}");
}
