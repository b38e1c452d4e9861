//! The cost of a cached K2K token through the C ABI against the Rust API,
//! in one run on the testbed, and the peak memory of the C example.
//!
//! ```sh
//! testbed/testbed.sh start
//! cargo bench -p mercador-capi --bench cached_token
//! ```
//!
//! alice logs in on Keystone A and gets a K2K token on B (the K2K test
//! fixture's service provider); then, per case, batches of calls that all
//! find the token cached: the Rust API (`Session::token().await` in a loop
//! inside one `block_on`, and the synchronous `Session::cached_token()`),
//! and the C ABI's `mercador_cloud_token` (called through its `extern "C"`
//! symbol, as a C program does; the token copied into a string for C and
//! zeroed by `mercador_string_free`), without and with the token's JSON.
//! Then the example `mercador-k2k-token` is built (gcc -O2, against this
//! profile's library installed by install.sh) and run once for a K2K token
//! and the catalogs of both clouds; it reports its own VmHWM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a bench binary

use std::ffi::{CString, c_char};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use mercador::{mercador_cloud, mercador_cloud_free, mercador_cloud_from_json, mercador_cloud_token, mercador_result};
use mercador_core::k2k::MultiCloud;
use mercador_tests::federation::K2k;
use mercador_tests::{Testbed, peak_rss_mib};
use secrecy::ExposeSecret as _;

const BATCHES: usize = 21;
const PER_BATCH: usize = 20_000;

/// Median over batches of the mean time of one call, in ns.
fn measure(mut call: impl FnMut()) -> f64 {
    for _ in 0..PER_BATCH {
        call(); // warm-up
    }
    let mut per_call: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..PER_BATCH {
                call();
            }
            started.elapsed().as_nanos() as f64 / PER_BATCH as f64
        })
        .collect();
    per_call.sort_by(f64::total_cmp);
    per_call[BATCHES / 2]
}

fn alice_json() -> String {
    let tb = Testbed::get();
    let (user, password, project) = tb.demo_user();
    serde_json::json!({"auth": {
        "auth_url": tb.var("KEYSTONE_A_URL"), "username": user, "password": password.expose_secret(),
        "user_domain_name": "Default", "project_name": project, "project_domain_name": "Default",
    }})
    .to_string()
}

/// The example, built against this profile's library; its VmHWM in KiB.
fn example_peak_memory(sp: &str) -> f64 {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let scratch: PathBuf = std::env::temp_dir().join(format!("mercador-capi-bench-{}", std::process::id()));
    let prefix = scratch.join("prefix");
    let ok = Command::new("bash")
        .arg(repo.join("mercador-capi/install.sh"))
        .args(["--no-build", "--lib-dir"])
        .arg(deps)
        .arg("--prefix")
        .arg(&prefix)
        .status()
        .unwrap()
        .success();
    assert!(ok, "install.sh");
    let binary = scratch.join("mercador-k2k-token");
    let ok = Command::new("gcc")
        .args(["-O2", "-Wall", "-Wextra", "-Werror"])
        .arg(repo.join("mercador-capi/examples/mercador-k2k-token.c"))
        .arg(format!("-I{}", prefix.join("include").display()))
        .arg("-o")
        .arg(&binary)
        .arg(format!("-L{}", prefix.join("lib").display()))
        .arg("-lmercador")
        .arg(format!("-Wl,-rpath,{}", prefix.join("lib").display()))
        .status()
        .unwrap()
        .success();
    assert!(ok, "gcc the example");
    let out = Command::new(&binary)
        .args(["--service-provider", sp, "--peak-memory"])
        .env("MERCADOR_AUTH_JSON", alice_json())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the example failed: {stderr}");
    let _ = std::fs::remove_dir_all(&scratch);
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak memory"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("the example's peak memory")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let fixture = runtime.block_on(K2k::get());
    let sp = fixture.sp_id.clone();

    // Rust API: alice's MultiCloud, the default session on the SP.
    let clouds = MultiCloud::new(fixture.alice());
    let session = runtime.block_on(clouds.default_session(&sp)).unwrap();
    let first = runtime.block_on(session.token()).unwrap();
    println!("K2K token on {sp} (expires at {}), cached from here on", first.expires_at());
    let rust_async = runtime.block_on(async {
        // One block_on around the loop: what an async Rust program pays per call.
        let mut total = Vec::new();
        for _ in 0..BATCHES + 1 {
            let started = Instant::now();
            for _ in 0..PER_BATCH {
                std::hint::black_box(session.token().await.unwrap());
            }
            total.push(started.elapsed().as_nanos() as f64 / PER_BATCH as f64);
        }
        total.remove(0); // warm-up
        total.sort_by(f64::total_cmp);
        total[total.len() / 2]
    });
    let rust_sync = measure(|| {
        std::hint::black_box(session.cached_token().unwrap());
    });
    let rust_block_on = measure(|| {
        std::hint::black_box(runtime.block_on(session.token()).unwrap());
    });

    // C ABI: a cloud from alice's auth JSON, the same service provider.
    let json = CString::new(alice_json()).unwrap();
    let sp_c = CString::new(sp.clone()).unwrap();
    let mut cloud: *mut mercador_cloud = std::ptr::null_mut();
    // SAFETY: valid C strings and out-pointer.
    assert_eq!(unsafe { mercador_cloud_from_json(json.as_ptr(), &mut cloud) }, mercador_result::Ok);
    let token_through_c = |with_info: bool| {
        let mut token: *mut c_char = std::ptr::null_mut();
        let mut info: *mut c_char = std::ptr::null_mut();
        let info_out = if with_info { &mut info as *mut *mut c_char } else { std::ptr::null_mut() };
        // SAFETY: a live handle, a C string, valid out-pointers; the strings are freed below.
        let result = unsafe { mercador_cloud_token(cloud, sp_c.as_ptr(), std::ptr::null(), &mut token, info_out) };
        assert_eq!(result, mercador_result::Ok);
        // SAFETY: strings made by the library, freed once.
        unsafe {
            mercador::mercador_string_free(token);
            mercador::mercador_string_free(info);
        }
    };
    token_through_c(false); // the K2K login of this handle
    let c_abi = measure(|| token_through_c(false));
    let c_abi_info = measure(|| token_through_c(true));
    // SAFETY: made above, no call running.
    unsafe { mercador_cloud_free(cloud) };
    let bench_peak = peak_rss_mib();

    let example_kib = example_peak_memory(&sp);

    println!();
    println!("cached K2K token, ns per call (median of {BATCHES} batches of {PER_BATCH}):");
    println!("  Rust API, Session::token().await inside one block_on   {rust_async:>9.1}");
    println!("  Rust API, Session::cached_token() (sync)               {rust_sync:>9.1}");
    println!("  Rust API, runtime.block_on(Session::token()) per call  {rust_block_on:>9.1}");
    println!("  C ABI, mercador_cloud_token + mercador_string_free      {c_abi:>9.1}");
    println!("  C ABI, the same with the token's JSON (catalog)         {c_abi_info:>9.1}");
    println!();
    println!(
        "peak memory: the C example mercador-k2k-token {:.1} MiB (K2K token, catalogs of 2 clouds)",
        example_kib / 1024.0
    );
    println!("             this bench process {bench_peak:.1} MiB");
}
