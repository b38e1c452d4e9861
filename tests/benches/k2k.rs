//! K2K benchmark: mercador-core against keystoneauth1, in one run, on the
//! testbed. Prints median and p95 latency of each case side by side, the
//! server-side time of the fresh paths (from Keystone A's uwsgi log and
//! Keystone B's Apache log), and the peak memory of both clients.
//!
//! ```sh
//! testbed/testbed.sh start
//! cargo bench -p mercador-tests --bench k2k
//! ```
//!
//! `MERCADOR_BENCH_SCALE=0.2` runs fewer iterations (a quick look).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a bench binary

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mercador_core::k2k::{Keystone2Keystone, MultiCloud};
use mercador_core::keystone::token::TokenServiceProvider;
use mercador_core::keystone::types::NewServiceProvider;
use mercador_core::keystone::{Credentials, DirectAuth, HttpClient, HttpConfig, IdentityApi, Scope, Session, ensure};
use mercador_tests::federation::K2k;
use mercador_tests::{Cloud, Testbed, ms, peak_rss_mib};
use secrecy::ExposeSecret;
use url::Url;

const AGGREGATES: [usize; 3] = [1, 5, 20];

#[derive(Clone, Copy)]
struct Stats {
    median: f64,
    p95: f64,
}

fn stats(samples: &[f64]) -> Stats {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let at = |q: f64| s[((s.len() as f64 - 1.0) * q).round() as usize];
    Stats { median: at(0.5), p95: at(0.95) }
}

/// Milliseconds with 3 decimals, or microseconds below 0.01 ms.
fn show(ms: f64) -> String {
    if ms < 0.01 { format!("{:.2}us", ms * 1000.0) } else { format!("{ms:.3}") }
}

/// Sum of server-side durations (ms) logged after the given offsets:
/// Keystone A's uwsgi (`in N msecs`) and Keystone B's Apache (`Nus`).
struct ServerLogs {
    a: PathBuf,
    b: PathBuf,
}

impl ServerLogs {
    fn offsets(&self) -> (u64, u64) {
        let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        (len(&self.a), len(&self.b))
    }

    fn since(&self, (a, b): (u64, u64)) -> (f64, usize) {
        std::thread::sleep(Duration::from_millis(200)); // let the servers write their lines
        let tail = |p: &Path, from: u64| {
            let bytes = std::fs::read(p).unwrap_or_default();
            String::from_utf8_lossy(&bytes[(from as usize).min(bytes.len())..]).into_owned()
        };
        let mut total = 0.0;
        let mut requests = 0;
        for line in tail(&self.a, a).lines() {
            if let Some(n) = line.split("bytes in ").nth(1).and_then(|r| r.split(" msecs").next()) {
                if let Ok(v) = n.trim().parse::<f64>() {
                    total += v;
                    requests += 1;
                }
            }
        }
        for line in tail(&self.b, b).lines() {
            if let Some(v) =
                line.rsplit(' ').next().and_then(|f| f.strip_suffix("us")).and_then(|v| v.parse::<f64>().ok())
            {
                total += v / 1000.0;
                requests += 1;
            }
        }
        (total, requests)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let tb = Testbed::get();
    let fx = K2k::get().await;
    let scale: f64 = std::env::var("MERCADOR_BENCH_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0);
    let n = |base: usize| ((base as f64 * scale).round() as usize).max(3);
    let (iterations, cached_iterations, aggregate_iterations) = (n(15), n(10_000), n(8));
    let state = PathBuf::from(tb.var("MERCADOR_TESTBED_STATE"));
    let logs = ServerLogs { a: state.join("logs/uwsgi-a.log"), b: state.join("logs/apache-b-access.log") };
    let (user, password, project) = tb.demo_user();
    let scope = Scope::project(&fx.project_name, &fx.domain_name);

    // N service providers on A, all federating with B (ids mercador-bench-sp-<i>).
    let a = tb.admin(Cloud::A);
    let max = *AGGREGATES.iter().max().unwrap();
    let sp_ids: Vec<String> = (0..max).map(|i| format!("mercador-bench-sp-{i:02}")).collect();
    for id in &sp_ids {
        ensure::ensure_service_provider(
            &a,
            id,
            &NewServiceProvider {
                auth_url: fx.sp_auth_url.clone(),
                sp_url: fx.sp_url.clone(),
                enabled: true,
                description: Some("K2K benchmark".into()),
                relay_state_prefix: None,
            },
        )
        .await
        .unwrap();
    }
    let sps: Vec<TokenServiceProvider> = sp_ids
        .iter()
        .map(|id| TokenServiceProvider {
            id: id.clone(),
            auth_url: Url::parse(&fx.sp_auth_url).unwrap(),
            sp_url: Url::parse(&fx.sp_url).unwrap(),
        })
        .collect();

    // One HTTP client for the whole process, as an application has; every
    // "fresh" iteration still gets a new session (no cached token).
    let http = HttpClient::new(&HttpConfig::default()).unwrap();
    let alice = || {
        let auth =
            DirectAuth::new(&tb.url(Cloud::A), Credentials::password(&user, "Default", password.clone())).unwrap();
        Arc::new(Session::with_http(http.clone(), Arc::new(auth), Scope::project(&project, "Default")))
    };
    let mut ours: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut server: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    println!("running mercador-core ...");

    // 1. fresh: password login on A, then K2K.
    let before = logs.offsets();
    let mut samples = Vec::new();
    for _ in 0..iterations {
        let t = Instant::now();
        let home = alice();
        let k2k = Arc::new(Keystone2Keystone::new(home.clone(), &fx.sp_id).await.unwrap());
        let on_b = Session::with_http(home.http().clone(), k2k, scope.clone());
        on_b.token().await.unwrap();
        samples.push(ms(t.elapsed()));
    }
    let (total, requests) = logs.since(before);
    server.insert("fresh".into(), (total / iterations as f64, requests / iterations));
    ours.insert("fresh".into(), samples);

    // 2. the IdP token is cached.
    let home = alice();
    home.token().await.unwrap();
    let before = logs.offsets();
    let mut samples = Vec::new();
    for _ in 0..iterations {
        let t = Instant::now();
        let k2k = Arc::new(Keystone2Keystone::new(home.clone(), &fx.sp_id).await.unwrap());
        Session::with_http(home.http().clone(), k2k, scope.clone()).token().await.unwrap();
        samples.push(ms(t.elapsed()));
    }
    let (total, requests) = logs.since(before);
    server.insert("idp_cached".into(), (total / iterations as f64, requests / iterations));
    ours.insert("idp_cached".into(), samples);

    // 3. the SP token is cached.
    let k2k = Arc::new(Keystone2Keystone::new(home.clone(), &fx.sp_id).await.unwrap());
    let on_b = Session::with_http(home.http().clone(), k2k, scope.clone());
    on_b.token().await.unwrap();
    let mut samples = Vec::with_capacity(cached_iterations);
    for _ in 0..cached_iterations {
        let t = Instant::now();
        let token = on_b.token().await.unwrap();
        std::hint::black_box(token);
        samples.push(ms(t.elapsed()));
    }
    ours.insert("sp_cached".into(), samples);

    // 4. catalogs of N service providers, concurrently (plus home, cached).
    for count in AGGREGATES {
        let mut samples = Vec::new();
        for _ in 0..aggregate_iterations {
            let clouds = MultiCloud::new(home.clone());
            let t = Instant::now();
            let all = clouds.catalogs_of(&sps[..count]).await.unwrap();
            samples.push(ms(t.elapsed()));
            assert!(all.iter().all(|c| c.result.is_ok()), "every cloud answered: {all:?}");
        }
        ours.insert(format!("aggregate_{count}"), samples);
    }
    let our_rss = peak_rss_mib();

    // keystoneauth1, same cases, same testbed, one process.
    println!("running keystoneauth1 ...");
    let aggregate: BTreeMap<String, Vec<String>> =
        AGGREGATES.iter().map(|c| (c.to_string(), sp_ids[..*c].to_vec())).collect();
    let input = serde_json::json!({
        "idp_url": tb.url(Cloud::A).as_str(), "user": user, "password": password.expose_secret(), "project": project,
        "sp": fx.sp_id, "sp_project": fx.project_name, "sp_project_domain": fx.domain_name,
        "iterations": iterations, "cached_iterations": cached_iterations,
        "aggregate_iterations": aggregate_iterations, "aggregate": aggregate,
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/k2k_keystoneauth.py");
    let mut child = Command::new(tb.var("TESTBED_PYTHON"))
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the keystoneauth1 side failed");
    let theirs: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let their_rss = theirs.get("peak_rss_mib").and_then(serde_json::Value::as_f64).unwrap_or(0.0);

    for id in &sp_ids {
        a.delete_service_provider(id).await.unwrap();
    }

    // ---- report
    let cases = [
        ("fresh", "fresh K2K token (password login on A + K2K)"),
        ("idp_cached", "K2K token, IdP token cached"),
        ("sp_cached", "cached SP token"),
        ("aggregate_1", "aggregated catalog, N=1 SP"),
        ("aggregate_5", "aggregated catalog, N=5 SPs"),
        ("aggregate_20", "aggregated catalog, N=20 SPs"),
    ];
    println!();
    println!(
        "{:<46} {:>22} {:>22} {:>8}   server-side (A uwsgi + B Apache)",
        "case (ms)", "mercador median / p95", "keystoneauth1 med/p95", "speedup"
    );
    for (key, label) in cases {
        let o = stats(&ours[key]);
        let t: Vec<f64> = theirs[key].as_array().unwrap().iter().filter_map(serde_json::Value::as_f64).collect();
        let t = stats(&t);
        let server = server
            .get(key)
            .map(|(ms, reqs)| {
                format!("{ms:.1} ms in {reqs} requests; client overhead {:.1}%", (o.median / ms - 1.0) * 100.0)
            })
            .unwrap_or_default();
        println!(
            "{label:<46} {:>10} / {:<10} {:>10} / {:<10} {:>7.1}x   {server}",
            show(o.median),
            show(o.p95),
            show(t.median),
            show(t.p95),
            t.median / o.median
        );
    }
    let single = stats(&ours["idp_cached"]).median;
    println!(
        "\naggregation: N=20 median {:.1} ms vs one cloud {:.1} ms (sum of 20 would be {:.0} ms)",
        stats(&ours["aggregate_20"]).median,
        single,
        single * 20.0
    );
    println!("peak memory (VmHWM): mercador {our_rss:.1} MiB, keystoneauth1 (python) {their_rss:.1} MiB");
    println!(
        "iterations: fresh/idp_cached {iterations}, cached {cached_iterations}, aggregated {aggregate_iterations} per N"
    );
}
