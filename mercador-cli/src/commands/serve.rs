//! `mercador serve publisher|subscriber --config FILE`: runs a Mercador
//! service in the foreground (logs on standard error; SIGTERM or SIGINT stop
//! it gracefully). The same code as the `mercador-server publisher` and
//! `mercador-server subscriber` binaries.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use mercador_server::config::PublisherServiceConfig;
use mercador_server::subscriber::config::SubscriberServiceConfig;

use crate::error::{CliError, CliResult};

/// `mercador serve ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ServeCommand {
    /// The publisher service: admin and exchange APIs over the publisher engine.
    Publisher(ServeArgs),
    /// The subscriber service: publishers, discovery and bindings for Keystone A's admins.
    Subscriber(ServeArgs),
}

/// Options of a service.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The configuration file (TOML; see examples/config/publisher.toml or
    /// examples/config/subscriber.toml). Every
    /// key can be overridden by MERCADOR_<SECTION>__<KEY>.
    #[arg(long, short = 'C', env = "MERCADOR_CONFIG", value_name = "FILE")]
    pub(crate) config: PathBuf,
}

/// Runs the service until it is stopped.
pub(crate) async fn serve(command: ServeCommand) -> CliResult<()> {
    match command {
        ServeCommand::Publisher(args) => {
            let config = PublisherServiceConfig::load(&args.config).map_err(|e| CliError::usage(e.to_string()))?;
            mercador_server::logging::init(config.server.log_format, &config.server.log_filter)
                .map_err(|e| CliError::usage(format!("{e:#}")))?;
            mercador_server::serve(config)
                .await
                .map_err(|e| CliError::generic(format!("the publisher service stops: {e:#}")))
        }
        ServeCommand::Subscriber(args) => {
            let config = SubscriberServiceConfig::load(&args.config).map_err(|e| CliError::usage(e.to_string()))?;
            mercador_server::logging::init(config.server.log_format, &config.server.log_filter)
                .map_err(|e| CliError::usage(format!("{e:#}")))?;
            mercador_server::subscriber::serve(config)
                .await
                .map_err(|e| CliError::generic(format!("the subscriber service stops: {e:#}")))
        }
    }
}
