//! The publisher's admin face (`/v1/admin`, catalog type
//! `mercador-publisher`): for the publisher cloud's admins.
//!
//! ```text
//! mercador vregion list | show NAME | create --file SPEC | set NAME --file SPEC
//!                  | delete NAME [--purge] | publish NAME | withdraw NAME
//! mercador partner list | show NAME | onboard NAME [--description TEXT] | remove NAME
//! mercador subscription list [--partner NAME] | show ID | revoke ID [--purge]
//! mercador reconcile
//! ```

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{Map, Value};

use super::{Context, Progress};
use crate::error::{CliError, CliResult};
use crate::output::Output;

const VREGION_COLUMNS: &[&str] =
    &["name", "state", "region", "service_types", "places_taken", "max_subscriptions", "partners"];
const PARTNER_COLUMNS: &[&str] = &["name", "state", "description", "project_id", "created_at"];
const SUBSCRIPTION_COLUMNS: &[&str] = &["id", "vregion", "partner", "state", "step", "updated_at"];

/// `mercador vregion ...`: the virtual regions this publisher defines.
#[derive(Debug, Subcommand)]
pub(crate) enum VRegionCommand {
    /// List every vregion.
    List,
    /// Show one vregion (spec, state, domain, places taken).
    Show {
        /// The vregion's name.
        name: String,
    },
    /// Define a vregion (state draft) from a spec file.
    #[command(after_help = SPEC_HELP)]
    Create {
        /// The spec: YAML, or JSON when the name ends with .json.
        #[arg(long, short = 'F', value_name = "SPEC")]
        file: PathBuf,
    },
    /// Replace a vregion's spec (a published vregion's quotas converge at once).
    #[command(after_help = SPEC_HELP)]
    Set {
        /// The vregion's name.
        name: String,
        /// The new spec: YAML, or JSON when the name ends with .json.
        #[arg(long, short = 'F', value_name = "SPEC")]
        file: PathBuf,
    },
    /// Delete a vregion without subscriptions (its Keystone domain is disabled, or deleted with --purge).
    Delete {
        /// The vregion's name.
        name: String,
        /// Delete the vregion's Keystone domain and what it holds, instead of disabling it.
        #[arg(long)]
        purge: bool,
    },
    /// Publish a vregion: create its domain and quotas on Keystone, offer it to its partners.
    Publish {
        /// The vregion's name.
        name: String,
        /// Adopt an existing, empty Keystone domain of the spec's name that
        /// Mercador did not create (deleting the vregion then disables or
        /// deletes it); without it such a domain is refused.
        #[arg(long)]
        adopt_domain: bool,
    },
    /// Withdraw a vregion: no new subscriptions (existing ones keep working).
    Withdraw {
        /// The vregion's name.
        name: String,
    },
}

const SPEC_HELP: &str = "\
A spec file, e.g. lisbon.yaml:
  name: lisbon
  description: Lisbon, Tier III
  region: RegionTwo              # a region of this Keystone
  service_types: [identity, compute]
  roles: [member, reader]        # roles federated users may get (never admin)
  quotas: [{resource: class:VCPU, limit: 16}]
  metadata: {country: PT}
  max_subscriptions: 1
  partners: [acme]               # partners it is offered to";

/// `mercador partner ...`: the subscriber providers this publisher deals with.
#[derive(Debug, Subcommand)]
pub(crate) enum PartnerCommand {
    /// List every partner.
    List,
    /// Show one partner.
    Show {
        /// The partner's name.
        name: String,
    },
    /// Onboard a partner: project, user and application credential on Keystone.
    /// The credential's secret is printed this once; hand it to the partner.
    Onboard {
        /// The partner's name (lowercase letters, digits, '-').
        name: String,
        /// A description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Remove a partner without subscriptions (its credential stops working).
    Remove {
        /// The partner's name.
        name: String,
    },
}

/// `mercador subscription ...`: every partner's subscriptions (admin view).
#[derive(Debug, Subcommand)]
pub(crate) enum SubscriptionCommand {
    /// List subscriptions, of every partner or of one.
    List {
        /// Only this partner's.
        #[arg(long, value_name = "NAME")]
        partner: Option<String>,
    },
    /// Show one subscription (state, step, the Keystone objects it owns).
    Show {
        /// The subscription id.
        id: String,
    },
    /// Revoke a subscription: remove its federation and admin user; the
    /// federated users' projects are disabled (deleted with --purge).
    Revoke {
        /// The subscription id.
        id: String,
        /// Delete the federated users' projects instead of disabling them.
        #[arg(long)]
        purge: bool,
    },
}

/// Reads a spec file: JSON when its name ends with `.json`, YAML otherwise.
pub(crate) fn read_spec(path: &Path) -> CliResult<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read the spec file {}: {e}", path.display())))?;
    let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let value: Value = if is_json {
        serde_json::from_str(&text).map_err(|e| CliError::usage(format!("{}: invalid JSON: {e}", path.display())))?
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| CliError::usage(format!("{}: invalid YAML: {e}", path.display())))?
    };
    if !value.is_object() {
        return Err(CliError::usage(format!(
            "{}: a vregion spec is a mapping (name, region, service_types...), not {}",
            path.display(),
            match value {
                Value::Array(_) => "a list",
                Value::Null => "empty",
                _ => "a single value",
            }
        )));
    }
    Ok(value)
}

/// Runs a `vregion` command.
pub(crate) async fn vregion(ctx: &Context, command: VRegionCommand) -> CliResult<Output> {
    let api = ctx.admin().await?;
    Ok(match command {
        VRegionCommand::List => Output::list(api.list_vregions().await?, VREGION_COLUMNS),
        VRegionCommand::Show { name } => Output::record(api.get_vregion(&name).await?),
        VRegionCommand::Create { file } => {
            let spec = read_spec(&file)?;
            Output::record(api.create_vregion(&spec).await.map_err(|e| CliError::from(e).context(file.display()))?)
        }
        VRegionCommand::Set { name, file } => {
            let mut spec = read_spec(&file)?;
            if let Some(map) = spec.as_object_mut() {
                match map.get("name").and_then(Value::as_str) {
                    None => {
                        map.insert("name".into(), Value::String(name.clone()));
                    }
                    Some(n) if n != name => {
                        return Err(CliError::usage(format!(
                            "{}: the spec is of vregion {n:?}, not {name:?} (a vregion cannot be renamed)",
                            file.display()
                        )));
                    }
                    Some(_) => {}
                }
            }
            Output::record(
                api.replace_vregion(&name, &spec).await.map_err(|e| CliError::from(e).context(file.display()))?,
            )
        }
        VRegionCommand::Delete { name, purge } => {
            let progress = Progress::start(format!("deleting vregion {name}"));
            api.delete_vregion(&name, purge).await?;
            progress.done();
            Output::Nothing
        }
        VRegionCommand::Publish { name, adopt_domain } => {
            let progress = Progress::start(format!("publishing vregion {name}"));
            let answer = api.publish_vregion(&name, adopt_domain).await?;
            progress.done();
            Output::record(answer)
        }
        VRegionCommand::Withdraw { name } => Output::record(api.withdraw_vregion(&name).await?),
    })
}

/// Flattens the onboarding answer: the partner's fields, then the credential.
fn flatten_onboarded(answer: Value) -> Value {
    let mut out = Map::new();
    let Value::Object(mut answer) = answer else { return answer };
    if let Some(Value::Object(partner)) = answer.remove("partner") {
        out.extend(partner);
    }
    out.extend(answer);
    Value::Object(out)
}

/// Runs a `partner` command.
pub(crate) async fn partner(ctx: &Context, command: PartnerCommand) -> CliResult<Output> {
    let api = ctx.admin().await?;
    Ok(match command {
        PartnerCommand::List => Output::list(api.list_partners().await?, PARTNER_COLUMNS),
        PartnerCommand::Show { name } => Output::record(api.get_partner(&name).await?),
        PartnerCommand::Onboard { name, description } => {
            let progress = Progress::start(format!("onboarding partner {name}"));
            let answer = api.onboard_partner(&name, &description).await?;
            progress.done();
            eprintln!(
                "The application credential secret is shown only now; the publisher does not keep it. \
                 Hand it to the partner, e.g. as a clouds.yaml entry with auth_type: v3applicationcredential."
            );
            Output::record(flatten_onboarded(answer))
        }
        PartnerCommand::Remove { name } => {
            let progress = Progress::start(format!("removing partner {name}"));
            api.remove_partner(&name).await?;
            progress.done();
            Output::Nothing
        }
    })
}

/// Runs a `subscription` command.
pub(crate) async fn subscription(ctx: &Context, command: SubscriptionCommand) -> CliResult<Output> {
    let api = ctx.admin().await?;
    Ok(match command {
        SubscriptionCommand::List { partner } => {
            Output::list(api.list_subscriptions(partner.as_deref()).await?, SUBSCRIPTION_COLUMNS)
        }
        SubscriptionCommand::Show { id } => Output::record(api.get_subscription(&id).await?),
        SubscriptionCommand::Revoke { id, purge } => {
            let progress = Progress::start(format!("revoking subscription {id}"));
            let answer = api.revoke_subscription(&id, purge).await?;
            progress.done();
            Output::record(answer)
        }
    })
}

/// Runs `reconcile`: the service resumes interrupted operations now.
pub(crate) async fn reconcile(ctx: &Context) -> CliResult<Output> {
    let api = ctx.admin().await?;
    let progress = Progress::start("reconciling");
    let answer = api.reconcile().await?;
    progress.done();
    Ok(Output::record(answer))
}
