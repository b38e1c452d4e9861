//! `mercador`: the one command line of Mercador, for both sides.
//!
//! - `mercador serve publisher|subscriber --config FILE` runs a service;
//! - the subscriber cloud's admins drive the subscriber service
//!   (`publisher`, `discover`, `subscribe`, `binding`);
//! - the publisher's admins drive its admin API (`vregion`, `partner`,
//!   `subscription`, `reconcile`);
//! - partners may drive the publisher's exchange API by hand
//!   (`exchange offer list`, `exchange subscribe`, `exchange subscription ...`);
//! - cloud users get K2K tokens and catalogs (`token issue`, `catalog list`),
//!   and the clouds.yaml regions of their vregions (`clouds-yaml`).
//!
//! Layout: [`auth`] (clouds.yaml / `OS_*` → session), [`client`] (HTTP
//! client of a service face, its JSON errors), [`output`] (table, json,
//! yaml, value; `-c`), [`error`] (exit codes), [`commands`] (one module per
//! area). See README.md.

mod auth;
mod client;
mod commands;
mod error;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use url::Url;

use crate::auth::AuthArgs;
use crate::commands::clouds::CloudsYamlArgs;
use crate::commands::exchange::ExchangeCommand;
use crate::commands::k2k::{CatalogCommand, TokenCommand};
use crate::commands::publisher::{PartnerCommand, SubscriptionCommand, VRegionCommand};
use crate::commands::serve::ServeCommand;
use crate::commands::subscriber::{BindingCommand, PublisherCommand, SubscribeArgs};
use crate::commands::{Context, clouds, exchange, k2k, publisher, serve, subscriber};
use crate::error::{CliError, EXIT_CODES_HELP};
use crate::output::{Output, OutputArgs};

/// Mercador: federate OpenStack clouds with Keystone-to-Keystone. A publisher
/// cloud offers virtual regions; a subscriber cloud binds them as regions of
/// its own Keystone, which its users reach with K2K.
///
/// Subscriber cloud's admins (through the subscriber service): publisher,
/// discover, subscribe, binding. Publisher cloud's admins (through the
/// publisher service): vregion, partner, subscription, reconcile. Partners by
/// hand (the publisher's exchange face): exchange. Cloud users: token,
/// catalog. Operators: serve.
///
/// Authenticates like the openstack CLI (clouds.yaml with --os-cloud or
/// OS_CLOUD, or OS_* variables) and finds the Mercador services in the
/// token's catalog, or at --url.
#[derive(Debug, Parser)]
#[command(name = "mercador", version, about, long_about, after_help = EXIT_CODES_HELP, max_term_width = 110)]
struct Cli {
    #[command(flatten)]
    auth: AuthArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// The Mercador service's root URL (e.g. http://b.example:8780), instead of
    /// looking it up in the catalog.
    #[arg(long, global = true, env = "MERCADOR_URL", value_name = "URL", help_heading = "Service")]
    url: Option<Url>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a Mercador service.
    #[command(subcommand)]
    Serve(ServeCommand),
    /// Subscriber admin: the publishers this cloud may subscribe at (register with
    /// the partner credential their admin handed over, list, show, remove).
    #[command(subcommand)]
    Publisher(PublisherCommand),
    /// Subscriber admin: the vregions every registered publisher offers to this cloud.
    /// A publisher that cannot be asked is reported on standard error (exit code 6),
    /// the others are listed all the same.
    Discover,
    /// Subscriber admin: bind a publisher's vregion as region ALIAS of this cloud's
    /// Keystone (subscription at the publisher, then service provider
    /// mercador-ALIAS, region ALIAS and its endpoints here).
    Subscribe(SubscribeArgs),
    /// Subscriber admin: the vregions bound as regions of this cloud (list, show,
    /// refresh, cancel, reconcile).
    #[command(subcommand)]
    Binding(BindingCommand),
    /// Publisher admin: virtual regions (define, publish, withdraw, delete).
    #[command(subcommand, name = "vregion")]
    VRegion(VRegionCommand),
    /// Publisher admin: partners (onboard with an application credential, remove).
    #[command(subcommand)]
    Partner(PartnerCommand),
    /// Publisher admin: every partner's subscriptions (list, show, revoke).
    #[command(subcommand)]
    Subscription(SubscriptionCommand),
    /// Publisher admin: resume interrupted operations now.
    Reconcile,
    /// Partner, by hand: the publisher's exchange face with the partner credential
    /// (offer list, subscribe, subscription list/show/refresh/cancel); sets up the
    /// publisher's Keystone only.
    #[command(subcommand)]
    Exchange(ExchangeCommand),
    /// Cloud user: tokens, at home or on a service provider through K2K.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Cloud user: service catalogs of the home cloud and its service providers.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Print (or --write into clouds.yaml) the regions of every vregion bound on
    /// your cloud, for the openstack CLI and openstacksdk with the mercador-k2k
    /// plugin of the Python package mercador: then `openstack --os-cloud CLOUD
    /// --os-region-name ALIAS ...` works in the vregion.
    #[command(name = "clouds-yaml")]
    CloudsYaml(CloudsYamlArgs),
}

async fn run(cli: Cli) -> (Result<Output, CliError>, Option<CliError>) {
    let ctx = Context { auth: cli.auth, url: cli.url };
    let result = match cli.command {
        Command::Serve(command) => serve::serve(command).await.map(|()| Output::Nothing),
        Command::Publisher(command) => subscriber::publisher(&ctx, command).await,
        Command::Discover => return subscriber::discover(&ctx).await,
        Command::Subscribe(args) => subscriber::subscribe(&ctx, args).await,
        Command::Binding(command) => subscriber::binding_command(&ctx, command).await,
        Command::VRegion(command) => publisher::vregion(&ctx, command).await,
        Command::Partner(command) => publisher::partner(&ctx, command).await,
        Command::Subscription(command) => publisher::subscription(&ctx, command).await,
        Command::Reconcile => publisher::reconcile(&ctx).await,
        Command::Exchange(command) => exchange::exchange(&ctx, command).await,
        Command::Token(command) => k2k::token(&ctx, command).await,
        Command::Catalog(command) => return k2k::catalog(&ctx, command).await,
        Command::CloudsYaml(args) => clouds::clouds_yaml(&ctx, args).await,
    };
    (result, None)
}

fn fail(e: &CliError) -> ExitCode {
    eprintln!("mercador: error: {e}");
    e.exit_code()
}

fn main() -> ExitCode {
    let cli = Cli::parse(); // exits 2 on a wrong command line
    let output_args = cli.output.clone();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&CliError::generic(format!("cannot start the async runtime: {e}"))),
    };
    let (result, partial) = runtime.block_on(run(cli));
    let code = match result.and_then(|output| output::print(&output, &output_args)) {
        Ok(()) => partial.map_or(ExitCode::SUCCESS, |e| e.exit_code()),
        Err(e) => fail(&e),
    };
    // Do not wait for stray background tasks (idle HTTP connections).
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}
