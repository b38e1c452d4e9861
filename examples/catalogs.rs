//! Prints the service catalog of each cloud named on the command line, read
//! from `clouds.yaml` like the `openstack` CLI does (`OS_CLIENT_CONFIG_FILE`
//! selects the file). The clouds are queried concurrently.
//!
//! ```sh
//! OS_CLIENT_CONFIG_FILE=testbed/state/clouds.yaml \
//!     cargo run -p mercador-examples --example catalogs -- testbed-a testbed-b
//! ```

#![allow(clippy::print_stdout)] // an example prints

use std::time::Instant;

use anyhow::Context as _;
use mercador_core::keystone::CloudConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let clouds: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(!clouds.is_empty(), "usage: catalogs CLOUD [CLOUD...]  (names of clouds.yaml entries)");
    let tasks = clouds.iter().map(|name| async move {
        let started = Instant::now();
        let config = CloudConfig::load(Some(name)).with_context(|| format!("cloud {name}"))?;
        let token = config.session()?.token().await.with_context(|| format!("cloud {name}"))?;
        anyhow::Ok((name, config, token, started.elapsed()))
    });
    for result in futures::future::join_all(tasks).await {
        let (name, config, token, elapsed) = result?;
        println!(
            "== {name}: {} (user {}, scope {}, token valid until {}, login {:.0} ms)",
            config.auth_url,
            token.user.name.as_deref().unwrap_or(&token.user.id),
            config.scope,
            token.expires_at().format("%H:%M:%S UTC"),
            elapsed.as_secs_f64() * 1000.0
        );
        println!("   {:<12} {:<12} {:<10} {:<12} URL", "TYPE", "NAME", "INTERFACE", "REGION");
        for service in &token.catalog().services {
            for endpoint in &service.endpoints {
                println!(
                    "   {:<12} {:<12} {:<10} {:<12} {}",
                    service.service_type,
                    service.name.as_deref().unwrap_or("-"),
                    endpoint.interface,
                    endpoint.region().unwrap_or("-"),
                    endpoint.url
                );
            }
        }
    }
    Ok(())
}
