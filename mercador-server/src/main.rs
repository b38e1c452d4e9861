//! `mercador-server publisher --config FILE`: runs the publisher service;
//! `mercador-server subscriber --config FILE`: runs the subscriber service.
//!
//! Exit status: 0 after a graceful stop, 1 when the service cannot start or
//! fails (the reason on standard error), 2 for a wrong command line.

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mercador_server::config::{LogFormat, PublisherServiceConfig};
use mercador_server::subscriber::config::SubscriberServiceConfig;

/// Mercador services.
#[derive(Debug, Parser)]
#[command(name = "mercador-server", version, about)]
struct Cli {
    #[command(subcommand)]
    service: Service,
}

#[derive(Debug, Subcommand)]
enum Service {
    /// The publisher service: admin and exchange APIs over the publisher engine.
    Publisher {
        /// The configuration file (TOML; see examples/config/publisher.toml).
        /// Every key can be overridden by MERCADOR_<SECTION>__<KEY>.
        #[arg(long, short, env = "MERCADOR_CONFIG", value_name = "FILE")]
        config: PathBuf,
    },
    /// The subscriber service: publishers, discovery and bindings for Keystone A's admins.
    Subscriber {
        /// The configuration file (TOML; see examples/config/subscriber.toml).
        /// Every key can be overridden by MERCADOR_<SECTION>__<KEY>.
        #[arg(long, short, env = "MERCADOR_CONFIG", value_name = "FILE")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.service {
        Service::Publisher { config } => run(
            "publisher",
            PublisherServiceConfig::load(&config),
            |c| (c.server.log_format, c.server.log_filter.clone()),
            mercador_server::serve,
        ),
        Service::Subscriber { config } => run(
            "subscriber",
            SubscriberServiceConfig::load(&config),
            |c| (c.server.log_format, c.server.log_filter.clone()),
            mercador_server::subscriber::serve,
        ),
    }
}

/// Starts the logs as `config` says, then runs `serve` on a new runtime.
fn run<C, E, F>(
    service: &str,
    config: Result<C, E>,
    logs: impl FnOnce(&C) -> (LogFormat, String),
    serve: impl FnOnce(C) -> F,
) -> ExitCode
where
    E: std::error::Error + 'static,
    F: Future<Output = anyhow::Result<()>>,
{
    let config = match config {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    let (format, filter) = logs(&config);
    if let Err(e) = mercador_server::logging::init(format, &filter) {
        return fail(&*e);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&e),
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "the {service} service stops");
            fail(&*e)
        }
    }
}

fn fail(e: &(dyn std::error::Error + 'static)) -> ExitCode {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    eprintln!("mercador-server: {message}");
    ExitCode::FAILURE
}
