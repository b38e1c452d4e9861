//! Gives libmercador.so its soname (`libmercador.so.<major>`; 0 while the
//! version is 0.x, where every minor version may break the ABI: then
//! `libmercador.so.0.<minor>`), so programs linked against one ABI never
//! load another. `install.sh` installs the file and its links.

fn main() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let minor = env!("CARGO_PKG_VERSION_MINOR");
    let soname = if major == "0" { format!("libmercador.so.0.{minor}") } else { format!("libmercador.so.{major}") };
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
