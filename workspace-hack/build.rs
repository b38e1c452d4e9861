//! Empty: cargo resolves `[build-dependencies]` (syn's host features) only
//! for a package that has a build script.
fn main() {}
