//! The C ABI (`mercador-capi`) from C programs, against the testbed and the
//! real services: the programs of `mercador-capi/tests/c/` are compiled
//! with `-Wall -Wextra -Werror` and AddressSanitizer + UndefinedBehaviorSanitizer,
//! linked against the library installed by `mercador-capi/install.sh` into a
//! scratch prefix (so the install step and the pkg-config file are tested
//! too), and run; each prints one `ok`/`not ok` line per check (TAP) and a
//! closing `# N passed, M failed`.
//!
//! - `misuse_and_errors_under_sanitizers`: every entry point with NULL
//!   handles, invalid UTF-8, malformed JSON; 401, an unreachable Keystone,
//!   a timeout (no service needed);
//! - `misuse_and_errors_under_valgrind`: the same program without
//!   sanitizers under valgrind: no error, no leak (definite or indirect);
//! - `story_through_the_c_abi`: a publisher and a subscriber service
//!   started here, every operation of their faces, 403, 404, 409, K2K
//!   tokens and catalogs, 8 threads sharing one handle, and the example
//!   `mercador-k2k-token` (built with pkg-config) run plainly and under
//!   valgrind.
//!
//! Needs gcc, pkg-config and valgrind (`scripts/lib/c-deps.sh` installs
//! them). libmercador comes from this test's build (`target/<profile>/deps`:
//! mercador-capi is a dev-dependency of this crate).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: failing loudly is the point

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mercador_tests::publisher::{a_entity_turn, free_entity_on_b};
use mercador_tests::{Cloud, Testbed, unique};
use secrecy::ExposeSecret as _;
use serde_json::json;
use support::{PublisherOptions, PublisherProcess, SubscriberProcess};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Where the C programs and the scratch prefix go.
fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("mercador-capi-c")
}

/// The library installed by install.sh into the scratch prefix (once per
/// run of this binary).
fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let deps = Path::new(env!("CARGO_BIN_EXE_mercador-server")).parent().unwrap().join("deps");
        assert!(
            deps.join("libmercador.so").is_file(),
            "{} is missing: mercador-capi (a dev-dependency) was not built",
            deps.join("libmercador.so").display()
        );
        let prefix = scratch().join(format!("prefix-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(scratch());
        let out = Command::new("bash")
            .arg(repo().join("mercador-capi/install.sh"))
            .args(["--no-build", "--profile", "debug", "--lib-dir"])
            .arg(&deps)
            .arg("--prefix")
            .arg(&prefix)
            .output()
            .expect("run mercador-capi/install.sh");
        assert!(out.status.success(), "install.sh failed: {}", String::from_utf8_lossy(&out.stderr));
        prefix
    })
}

fn tool(name: &str) -> &str {
    let found = Command::new("sh").args(["-c", &format!("command -v {name}")]).output().unwrap();
    assert!(
        found.status.success(),
        "{name} is not installed: run scripts/lib/c-deps.sh (installs gcc, pkg-config and valgrind)"
    );
    name
}

/// `pkg-config --cflags --libs mercador` of the scratch prefix.
fn pkg_config() -> Vec<String> {
    let prefix = prefix();
    let out = Command::new(tool("pkg-config"))
        .args(["--cflags", "--libs", "mercador"])
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .output()
        .unwrap();
    assert!(out.status.success(), "pkg-config: {}", String::from_utf8_lossy(&out.stderr));
    let mut flags: Vec<String> = String::from_utf8(out.stdout).unwrap().split_whitespace().map(str::to_owned).collect();
    flags.push(format!("-Wl,-rpath,{}", prefix.join("lib").display()));
    flags
}

/// Compiles C sources with `-Wall -Wextra -Werror` (and sanitizers when
/// asked) against the installed library.
fn compile(name: &str, sources: &[&str], sanitizers: bool) -> PathBuf {
    let out = scratch().join(format!("{name}-{}", std::process::id()));
    let mut cc = Command::new(tool("gcc"));
    cc.args(["-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror", "-g", "-O1", "-pthread"]);
    if sanitizers {
        cc.args(["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"]);
    }
    cc.args(sources.iter().map(|s| repo().join(s))).arg("-o").arg(&out).args(pkg_config());
    let result = cc.output().expect("run gcc");
    assert!(
        result.status.success(),
        "gcc {name} failed:\n{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

/// Runs a C test program (optionally under `wrapper`) and checks its TAP
/// output: every check passed, at least `min_checks` of them.
fn run(program: &Path, wrapper: &[&str], env: &[(&str, String)], min_checks: usize) {
    let mut command = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(program);
            c
        }
        None => Command::new(program),
    };
    command
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        .env_remove("OS_CLOUD");
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().expect("run the C program");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = format!("--- {} ---\n{stdout}\n--- stderr ---\n{stderr}", program.display());
    let passed = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("not ok ")).collect();
    assert!(failed.is_empty(), "{} check(s) failed:\n{}\n{report}", failed.len(), failed.join("\n"));
    assert!(out.status.success(), "exited with {}\n{report}", out.status);
    assert!(stdout.contains(&format!("# {passed} passed, 0 failed")), "no closing line: it stopped early\n{report}");
    assert!(passed >= min_checks, "only {passed} checks ran (expected {min_checks} or more)\n{report}");
    for (key, value) in env {
        if key.contains("AUTH_JSON") {
            let auth: serde_json::Value = serde_json::from_str(value).unwrap();
            let password = auth["auth"]["password"].as_str().unwrap_or("\u{0}");
            assert!(!stdout.contains(password) && !stderr.contains(password), "a password in the output");
        }
    }
}

/// alice's auth JSON on the Keystone A at `url` (an identity's), with her
/// password or another.
fn alice_json(url: &str, password: Option<&str>) -> String {
    let tb = Testbed::get();
    let (user, real, project) = tb.demo_user();
    json!({"auth": {
        "auth_url": url,
        "username": user,
        "password": password.unwrap_or(real.expose_secret()),
        "user_domain_name": "Default",
        "project_name": project,
        "project_domain_name": "Default",
    }})
    .to_string()
}

fn misuse_env() -> Vec<(&'static str, String)> {
    let tb = Testbed::get();
    let a = tb.url(Cloud::A).to_string();
    vec![
        ("MERCADOR_T_CLOUDS_YAML", tb.clouds_yaml().display().to_string()),
        ("MERCADOR_T_ALICE_AUTH_JSON", alice_json(&a, None)),
        ("MERCADOR_T_ALICE_BAD_AUTH_JSON", alice_json(&a, Some(&unique("wrong-password")))),
    ]
}

const VALGRIND: &[&str] = &[
    "valgrind",
    "--quiet",
    "--error-exitcode=99",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite,indirect",
    "--show-leak-kinds=definite,indirect",
];

#[test]
fn misuse_and_errors_under_sanitizers() {
    let program = compile("misuse-asan", &["mercador-capi/tests/c/misuse.c"], true);
    run(&program, &[], &misuse_env(), 150);
}

#[test]
fn misuse_and_errors_under_valgrind() {
    let program = compile("misuse", &["mercador-capi/tests/c/misuse.c"], false);
    tool("valgrind");
    run(&program, VALGRIND, &misuse_env(), 150);
}

#[tokio::test]
async fn story_through_the_c_abi() {
    let turn = a_entity_turn().await;
    free_entity_on_b(turn.entity_id()).await;
    let tb = Testbed::get();
    let example = compile("mercador-k2k-token", &["mercador-capi/examples/mercador-k2k-token.c"], false);
    let story = compile("story-asan", &["mercador-capi/tests/c/story.c"], true);
    let publisher = PublisherProcess::start(PublisherOptions::default()).await;
    let subscriber = SubscriberProcess::start(turn.identity(), 300).await;
    let a_url = turn.keystone_url().to_string();
    let alice = alice_json(&a_url, None);
    let env = vec![
        ("MERCADOR_T_CLOUDS_YAML", tb.clouds_yaml().display().to_string()),
        ("MERCADOR_T_PUBLISHER_URL", publisher.url().to_string()),
        ("MERCADOR_T_SUBSCRIBER_URL", subscriber.url().to_string()),
        ("MERCADOR_T_B_URL", tb.url(Cloud::B).to_string()),
        ("MERCADOR_T_B_REGION", tb.region(Cloud::B).to_owned()),
        ("MERCADOR_T_A_URL", a_url),
        ("MERCADOR_T_ENTITY_ID", turn.entity_id().to_owned()),
        ("MERCADOR_T_METADATA_URL", turn.metadata_url().to_string()),
        ("MERCADOR_T_ALICE_AUTH_JSON", alice.clone()),
        ("MERCADOR_T_PREFIX", unique("capi")),
        ("MERCADOR_T_EXAMPLE", example.display().to_string()),
        ("MERCADOR_T_VALGRIND", VALGRIND.join(" ")),
        // For the example the story runs: alice's cloud.
        ("MERCADOR_AUTH_JSON", alice),
    ];
    let program = story.clone();
    tokio::task::spawn_blocking(move || run(&program, &[], &env, 100)).await.unwrap();
    // No token, secret or password in the services' logs.
    for log in [publisher.log(), subscriber.log()] {
        assert!(!log.contains(tb.demo_user().1.expose_secret()), "alice's password in a log");
    }
    free_entity_on_b(turn.entity_id()).await;
}
