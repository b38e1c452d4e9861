//! The publisher's partner face (`/v1/exchange`, catalog type
//! `mercador-exchange`): for a subscriber provider, authenticated with the
//! application credential the publisher handed over at onboarding.
//!
//! ```text
//! mercador exchange offer list
//! mercador exchange subscribe VREGION --entity-id URI (--metadata-file FILE | --metadata-url URL) [--keystone-url URL]
//! mercador exchange subscription list | show ID | refresh ID | cancel ID
//! ```
//!
//! The subscriber service (`mercador subscribe`, `binding ...`) does all of
//! this for a subscriber cloud's admins and sets up their Keystone too; these
//! commands are the partner face by hand.

use std::io::Read as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{Map, Value};
use url::Url;

use mercador_core::client::SubscribeRequest;

use super::{Context, Progress};
use crate::error::{CliError, CliResult};
use crate::output::Output;

const OFFER_COLUMNS: &[&str] = &["name", "region", "service_types", "roles", "places_left", "subscription_id"];
const SUBSCRIPTION_COLUMNS: &[&str] = &["id", "vregion", "state", "step", "updated_at"];
/// Fields of a subscription's access shown only with `-c`.
const ACCESS_HIDDEN: &[&str] = &["objects", "entity_id", "partner", "created_at"];

/// `mercador exchange offer ...`: what the publisher offers to the caller.
#[derive(Debug, Subcommand)]
pub(crate) enum OfferCommand {
    /// List the vregions the publisher offers to the caller (with places left
    /// and the caller's subscription, if any).
    List,
}

/// `mercador exchange subscribe VREGION ...`.
#[derive(Debug, Args)]
pub(crate) struct SubscribeArgs {
    /// The offered vregion to subscribe to.
    pub(crate) vregion: String,
    /// The subscriber Keystone's SAML identity provider entity id (an absolute URI).
    #[arg(long, value_name = "URI")]
    pub(crate) entity_id: String,
    /// The identity provider's SAML metadata, from this file ('-' reads standard input).
    #[arg(long, value_name = "FILE", conflicts_with = "metadata_url", required_unless_present = "metadata_url")]
    pub(crate) metadata_file: Option<PathBuf>,
    /// The identity provider's SAML metadata, fetched by the publisher from this URL
    /// (e.g. https://keystone-a/v3/OS-FEDERATION/saml2/metadata).
    #[arg(long, value_name = "URL")]
    pub(crate) metadata_url: Option<Url>,
    /// The subscriber's Keystone URL (recorded by the publisher).
    #[arg(long, value_name = "URL")]
    pub(crate) keystone_url: Option<Url>,
}

/// `mercador exchange ...`: the publisher's partner face, with the partner's
/// application credential.
#[allow(clippy::large_enum_variant)] // parsed once per run
#[derive(Debug, Subcommand)]
pub(crate) enum ExchangeCommand {
    /// The vregions the publisher offers to you.
    #[command(subcommand)]
    Offer(OfferCommand),
    /// Subscribe to an offered vregion: the publisher creates the identity
    /// provider, mapping and vregion admin on its Keystone for your Keystone's
    /// SAML identity (your own Keystone is not touched: `mercador subscribe`
    /// through the subscriber service does both).
    Subscribe(SubscribeArgs),
    /// Your subscriptions at this publisher (list, show, refresh, cancel).
    #[command(subcommand)]
    Subscription(ExchangeSubscriptionCommand),
}

/// `mercador exchange subscription ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ExchangeSubscriptionCommand {
    /// List the caller's subscriptions.
    List,
    /// Show one of the caller's subscriptions.
    Show {
        /// The subscription id.
        id: String,
    },
    /// Repair what drifted on the publisher's Keystone and get a new admin token.
    Refresh {
        /// The subscription id.
        id: String,
    },
    /// Cancel a subscription: the publisher removes the federation and the admin user.
    Cancel {
        /// The subscription id.
        id: String,
    },
}

/// Flattens the publisher's access answer (subscribe, refresh) for `-c` and
/// tables: the subscription's fields, then `keystone_url`, `region`,
/// `domain_name`, `k2k_*`, `admin_*`, `services`, `repaired`.
fn flatten_access(answer: Value) -> Value {
    let Value::Object(answer) = answer else { return answer };
    let mut out = Map::new();
    for (key, value) in answer {
        match (key.as_str(), value) {
            ("subscription", Value::Object(sub)) => out.extend(sub),
            ("k2k" | "admin", Value::Object(inner)) => {
                for (k, v) in inner {
                    out.insert(format!("{key}_{k}"), v);
                }
            }
            (_, value) => {
                out.insert(key, value);
            }
        }
    }
    Value::Object(out)
}

fn access(answer: Value) -> Output {
    Output::Record { value: flatten_access(answer), hidden: ACCESS_HIDDEN }
}

fn read_metadata(path: &PathBuf) -> CliResult<String> {
    let mut text = String::new();
    let result = if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    result.map_err(|e| CliError::usage(format!("cannot read the metadata file {}: {e}", path.display())))?;
    Ok(text)
}

/// Runs `exchange offer list`.
async fn offer(ctx: &Context, command: OfferCommand) -> CliResult<Output> {
    let api = ctx.exchange().await?;
    match command {
        OfferCommand::List => Ok(Output::list(api.list_offers().await?, OFFER_COLUMNS)),
    }
}

/// Runs `exchange subscribe`.
async fn subscribe(ctx: &Context, args: SubscribeArgs) -> CliResult<Output> {
    let metadata = args.metadata_file.as_ref().map(read_metadata).transpose()?;
    let api = ctx.exchange().await?;
    let request = SubscribeRequest {
        vregion: args.vregion.clone(),
        entity_id: args.entity_id,
        metadata,
        metadata_url: args.metadata_url.as_ref().map(ToString::to_string),
        keystone_url: args.keystone_url.as_ref().map(ToString::to_string),
    };
    let progress = Progress::start(format!("subscribing to vregion {}", args.vregion));
    let answer = api.subscribe(&request).await?;
    progress.done();
    eprintln!(
        "The vregion admin's password is shown only now (with a token for that admin); store it. \
         `mercador exchange subscription refresh ID` gives new tokens."
    );
    Ok(access(answer))
}

/// Runs an `exchange` command.
pub(crate) async fn exchange(ctx: &Context, command: ExchangeCommand) -> CliResult<Output> {
    let command = match command {
        ExchangeCommand::Offer(command) => return offer(ctx, command).await,
        ExchangeCommand::Subscribe(args) => return subscribe(ctx, args).await,
        ExchangeCommand::Subscription(command) => command,
    };
    let api = ctx.exchange().await?;
    Ok(match command {
        ExchangeSubscriptionCommand::List => Output::list(api.list_subscriptions().await?, SUBSCRIPTION_COLUMNS),
        ExchangeSubscriptionCommand::Show { id } => Output::record(api.get_subscription(&id).await?),
        ExchangeSubscriptionCommand::Refresh { id } => {
            let progress = Progress::start(format!("refreshing subscription {id}"));
            let answer = api.refresh_subscription(&id).await?;
            progress.done();
            access(answer)
        }
        ExchangeSubscriptionCommand::Cancel { id } => {
            let progress = Progress::start(format!("cancelling subscription {id}"));
            let answer = api.cancel_subscription(&id).await?;
            progress.done();
            Output::record(answer)
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn access_is_flattened_with_prefixes() {
        let flat = flatten_access(json!({
            "subscription": {"id": "s1", "state": "active"},
            "k2k": {"auth_url": "http://b/auth", "sp_url": "http://b/ecp"},
            "admin": {"user_name": "u", "token": "t"},
            "region": "RegionTwo"
        }));
        assert_eq!(
            flat,
            json!({"id": "s1", "state": "active", "k2k_auth_url": "http://b/auth", "k2k_sp_url": "http://b/ecp",
                   "admin_user_name": "u", "admin_token": "t", "region": "RegionTwo"})
        );
    }
}
