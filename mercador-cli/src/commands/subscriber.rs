//! The subscriber service's API (`/v1`, catalog type `mercador-subscriber`
//! on Keystone A): for the subscriber cloud's admins, who register the
//! publishers whose admins handed them a partner credential, discover what
//! those publishers offer, and bind a vregion as a region of their own
//! Keystone (a service provider `mercador-<alias>`, a region `<alias>` and
//! its endpoints), which the cloud's users then reach with K2K.
//!
//! ```text
//! mercador publisher register NAME --keystone-url URL --credential-id ID
//!                    [--credential-secret-file FILE] [--exchange-url URL]
//! mercador publisher list | show NAME | remove NAME
//! mercador discover
//! mercador subscribe PUBLISHER VREGION [--alias ALIAS]
//! mercador binding list [--publisher NAME] [--all] | show ALIAS
//!                  | refresh (ALIAS | --all) | cancel ALIAS [--force] | reconcile
//! ```
//!
//! The credential's secret is read from a file (`-` for standard input),
//! `MERCADOR_CREDENTIAL_SECRET`, or a prompt on a terminal; never from a
//! command-line value, which `ps` and shell histories show.

use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};
use url::Url;

use mercador_core::client::NewPublisher;

use super::{Context, Progress};
use crate::error::{CliError, CliResult, Kind};
use crate::output::Output;

const PUBLISHER_COLUMNS: &[&str] = &["name", "keystone_url", "exchange_url", "application_credential_id", "created_at"];
const OFFER_COLUMNS: &[&str] = &["publisher", "name", "region", "service_types", "roles", "places_left", "bound_as"];
const BINDING_COLUMNS: &[&str] =
    &["alias", "publisher", "vregion", "state", "remote_region", "service_provider", "updated_at"];
/// Fields of a binding shown only with `-c`.
const BINDING_HIDDEN: &[&str] = &["objects"];
/// Binding states after which nothing more happens (hidden by `binding list` without `--all`).
const FINAL_STATES: &[&str] = &["cancelled", "revoked", "failed"];

/// The variable `publisher register` reads the credential's secret from.
pub(crate) const SECRET_ENV: &str = "MERCADOR_CREDENTIAL_SECRET";

/// `mercador publisher ...`: the publishers this cloud may subscribe at.
#[allow(clippy::large_enum_variant)] // parsed once per run
#[derive(Debug, Subcommand)]
pub(crate) enum PublisherCommand {
    /// Register a publisher with the partner credential its admin handed over
    /// (`mercador partner onboard` on its side). The secret is stored sealed by
    /// the subscriber service and never shown again; nothing changes on
    /// Keystone, and the publisher is first asked at `mercador discover`.
    #[command(after_help = SECRET_HELP)]
    Register(RegisterArgs),
    /// List the registered publishers (never their secrets).
    List,
    /// Show one registered publisher.
    Show {
        /// The publisher's local name.
        name: String,
    },
    /// Forget a publisher (refused while it has live bindings: cancel them first).
    Remove {
        /// The publisher's local name.
        name: String,
    },
}

const SECRET_HELP: &str = "\
The application credential's secret, in this order:
  --credential-secret-file FILE    the file's content ('-' reads standard input)
  MERCADOR_CREDENTIAL_SECRET       the environment variable
  a prompt                         when standard input is a terminal (not echoed)
It is never given as a command-line value, which `ps` and shell histories show.";

/// `mercador publisher register NAME ...`.
#[derive(Debug, Args)]
pub(crate) struct RegisterArgs {
    /// The publisher's local name (lowercase letters, digits, '-').
    pub(crate) name: String,
    /// The publisher's Keystone URL (e.g. https://keystone.b.example/v3).
    #[arg(long, value_name = "URL")]
    pub(crate) keystone_url: Url,
    /// The partner application credential's id (`application_credential_id` of `partner onboard`).
    #[arg(long, value_name = "ID")]
    pub(crate) credential_id: String,
    /// Read the credential's secret from this file ('-' reads standard input).
    #[arg(long, value_name = "FILE")]
    pub(crate) credential_secret_file: Option<PathBuf>,
    /// The publisher's exchange API (e.g. https://b.example:8780/v1/exchange), when it
    /// should not be looked up in the publisher's catalog (type mercador-exchange).
    #[arg(long, value_name = "URL")]
    pub(crate) exchange_url: Option<Url>,
}

/// `mercador subscribe PUBLISHER VREGION [--alias ALIAS]`.
#[derive(Debug, Args)]
pub(crate) struct SubscribeArgs {
    /// The registered publisher offering the vregion.
    pub(crate) publisher: String,
    /// The vregion to bind (see `mercador discover`).
    pub(crate) vregion: String,
    /// The region id on this cloud's Keystone (also names the service provider
    /// mercador-ALIAS); default: the vregion's name.
    #[arg(long, value_name = "ALIAS")]
    pub(crate) alias: Option<String>,
}

/// `mercador binding ...`: the vregions bound as regions of this cloud.
#[derive(Debug, Subcommand)]
pub(crate) enum BindingCommand {
    /// List the bindings (those still alive unless --all).
    List {
        /// Only this publisher's.
        #[arg(long, value_name = "NAME")]
        publisher: Option<String>,
        /// Also the finished ones (cancelled, revoked, failed).
        #[arg(long)]
        all: bool,
    },
    /// Show one binding (state, region, service provider, endpoints; the Keystone
    /// objects it owns with -c objects).
    Show {
        /// The binding's alias (its region on this cloud).
        alias: String,
    },
    /// Refresh now: notice a revocation by the publisher (this cloud's region,
    /// endpoints and service provider are then removed) and repair what drifted
    /// on either Keystone. The service also does this on its own, periodically.
    Refresh {
        /// The binding's alias.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        alias: Option<String>,
        /// Every binding.
        #[arg(long)]
        all: bool,
    },
    /// Cancel a binding: the subscription at the publisher, then this cloud's
    /// region, endpoints and service provider (K2K to it stops).
    Cancel {
        /// The binding's alias.
        alias: String,
        /// Also when the publisher cannot be told (gone for good): remove this
        /// cloud's objects anyway; the publisher keeps its side until its admin
        /// revokes it.
        #[arg(long)]
        force: bool,
    },
    /// Resume whatever an interruption left half done (the service also does this
    /// at start and periodically).
    Reconcile,
}

fn rows(value: Value) -> Vec<Value> {
    match value {
        Value::Array(rows) => rows,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn binding(value: Value) -> Output {
    Output::Record { value, hidden: BINDING_HIDDEN }
}

/// Reads the credential's secret: `file` (`-`: standard input), else
/// [`SECRET_ENV`], else a prompt when standard input is a terminal.
/// Surrounding white space (a file's final newline) is dropped.
fn credential_secret(file: Option<&Path>) -> CliResult<SecretString> {
    let (secret, source) = if let Some(path) = file {
        let mut text = String::new();
        let read = if path.as_os_str() == "-" {
            std::io::stdin().read_to_string(&mut text).map(|_| ())
        } else {
            std::fs::read_to_string(path).map(|t| text = t)
        };
        read.map_err(|e| CliError::usage(format!("cannot read the credential secret file {}: {e}", path.display())))?;
        (SecretString::from(text.trim()), format!("the credential secret file {}", path.display()))
    } else if let Some(value) = std::env::var_os(SECRET_ENV) {
        let value = value.into_string().map_err(|_| CliError::usage(format!("{SECRET_ENV} is not valid UTF-8")))?;
        (SecretString::from(value.trim()), SECRET_ENV.to_owned())
    } else if std::io::stdin().is_terminal() {
        let typed = rpassword::prompt_password("Application credential secret (not echoed): ")
            .map_err(|e| CliError::usage(format!("cannot read the credential secret from the terminal: {e}")))?;
        (SecretString::from(typed.trim()), "the prompt".to_owned())
    } else {
        return Err(CliError::usage(format!(
            "no application credential secret: give --credential-secret-file FILE ('-' reads standard input), \
             set {SECRET_ENV}, or run on a terminal to be prompted"
        )));
    };
    if secret.expose_secret().is_empty() {
        return Err(CliError::usage(format!("the application credential secret from {source} is empty")));
    }
    Ok(secret)
}

/// Runs a `publisher` command.
pub(crate) async fn publisher(ctx: &Context, command: PublisherCommand) -> CliResult<Output> {
    // The secret is read before any network work, so a missing one fails fast.
    let secret = match &command {
        PublisherCommand::Register(args) => Some(credential_secret(args.credential_secret_file.as_deref())?),
        _ => None,
    };
    let api = ctx.subscriber().await?;
    Ok(match command {
        PublisherCommand::Register(args) => {
            let publisher = NewPublisher {
                name: args.name,
                keystone_url: args.keystone_url.to_string(),
                application_credential_id: args.credential_id,
                application_credential_secret: secret.unwrap_or_else(|| SecretString::from("")),
                exchange_url: args.exchange_url.as_ref().map(ToString::to_string),
            };
            Output::record(api.register_publisher(&publisher).await?)
        }
        PublisherCommand::List => Output::list(api.list_publishers().await?, PUBLISHER_COLUMNS),
        PublisherCommand::Show { name } => Output::record(api.get_publisher(&name).await?),
        PublisherCommand::Remove { name } => {
            api.remove_publisher(&name).await?;
            eprintln!("publisher {name} removed");
            Output::Nothing
        }
    })
}

/// Runs `discover`: the offers of every publisher that answered; each one
/// that failed is reported on standard error, and makes the exit code 6.
pub(crate) async fn discover(ctx: &Context) -> (CliResult<Output>, Option<CliError>) {
    let answer = match ctx.subscriber().await {
        Ok(api) => api.discover().await.map_err(CliError::from),
        Err(e) => Err(e),
    };
    let mut answer = match answer {
        Ok(Value::Object(answer)) => answer,
        Ok(other) => {
            return (Err(CliError::generic(format!("GET discovery: unexpected answer {other}"))), None);
        }
        Err(e) => return (Err(e), None),
    };
    let offers = rows(answer.remove("offers").unwrap_or(Value::Null));
    let mut failed = Vec::new();
    for error in rows(answer.remove("errors").unwrap_or(Value::Null)) {
        let field = |key: &str| error.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let publisher = field("publisher");
        eprintln!("mercador: publisher {publisher}: {}: {}", field("code"), field("message"));
        failed.push(publisher);
    }
    let partial = (!failed.is_empty()).then(|| {
        CliError::new(
            Kind::Unavailable,
            format!("{} publisher(s) could not be asked: {}", failed.len(), failed.join(", ")),
        )
    });
    (Ok(Output::list(offers, OFFER_COLUMNS)), partial)
}

/// Runs `subscribe`: binds a vregion as a region of this cloud.
pub(crate) async fn subscribe(ctx: &Context, args: SubscribeArgs) -> CliResult<Output> {
    let api = ctx.subscriber().await?;
    let alias = args.alias.unwrap_or_else(|| args.vregion.clone());
    let progress = Progress::start(format!(
        "subscribing to vregion {} of publisher {} as region {alias}",
        args.vregion, args.publisher
    ));
    let answer = api.bind(&args.publisher, &args.vregion, &alias).await?;
    progress.done();
    let sp = answer.get("service_provider").and_then(Value::as_str).unwrap_or_default();
    if !sp.is_empty() {
        eprintln!(
            "This cloud's users reach region {alias} through the service provider {sp} \
             (e.g. openstack --os-service-provider {sp} ..., mercador token issue --service-provider {sp})."
        );
    }
    Ok(binding(answer))
}

/// Flattens a refresh outcome: the binding's fields, then `repaired`,
/// `repaired_by_publisher` and `revoked`.
fn flatten_refresh(answer: Value) -> Value {
    let Value::Object(mut answer) = answer else { return answer };
    let mut out = Map::new();
    if let Some(Value::Object(binding)) = answer.remove("binding") {
        out.extend(binding);
    }
    out.extend(answer);
    Value::Object(out)
}

/// Runs a `binding` command.
pub(crate) async fn binding_command(ctx: &Context, command: BindingCommand) -> CliResult<Output> {
    let api = ctx.subscriber().await?;
    Ok(match command {
        BindingCommand::List { publisher, all } => {
            let mut bindings = api.list_bindings(publisher.as_deref()).await?;
            if !all {
                bindings.retain(|b| !b.get("state").and_then(Value::as_str).is_some_and(|s| FINAL_STATES.contains(&s)));
            }
            Output::list(bindings, BINDING_COLUMNS)
        }
        BindingCommand::Show { alias } => binding(api.get_binding(&alias).await?),
        BindingCommand::Refresh { alias: Some(alias), all: false } => {
            let progress = Progress::start(format!("refreshing binding {alias}"));
            let answer = api.refresh_binding(&alias).await?;
            progress.done();
            binding(flatten_refresh(answer))
        }
        BindingCommand::Refresh { .. } => {
            let progress = Progress::start("refreshing every binding");
            let answer = api.refresh_all().await?;
            progress.done();
            Output::record(answer)
        }
        BindingCommand::Cancel { alias, force } => {
            let progress =
                Progress::start(format!("cancelling binding {alias}{}", if force { " (forced)" } else { "" }));
            let answer = api.cancel_binding(&alias, force).await.map_err(|e| {
                let mut e = CliError::from(e);
                // The service says when the publisher blocks the cancel; name the CLI's way.
                if !force && e.message.contains("force=true") {
                    e.message.push_str(&format!(
                        "\n  (a publisher gone for good: `mercador binding cancel {alias} --force` removes this \
                         cloud's side anyway)"
                    ));
                }
                e
            })?;
            progress.done();
            binding(answer)
        }
        BindingCommand::Reconcile => {
            let progress = Progress::start("reconciling the bindings");
            let answer = api.reconcile().await?;
            progress.done();
            Output::record(answer)
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn refresh_outcome_is_flattened() {
        let flat = flatten_refresh(json!({
            "binding": {"alias": "lisbon", "state": "active"},
            "repaired": ["region"], "repaired_by_publisher": [], "revoked": false
        }));
        assert_eq!(
            flat,
            json!({"alias": "lisbon", "state": "active", "repaired": ["region"], "repaired_by_publisher": [],
                   "revoked": false})
        );
    }

    #[test]
    fn the_secret_comes_from_a_file_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cr3t\n").unwrap();
        assert_eq!(credential_secret(Some(&path)).unwrap().expose_secret(), "s3cr3t");
        std::fs::write(&path, "\n").unwrap();
        let e = credential_secret(Some(&path)).unwrap_err();
        assert_eq!(e.kind, Kind::Usage);
        assert!(e.message.contains("is empty") && !e.message.contains("s3cr3t"), "{e}");
        let e = credential_secret(Some(Path::new("/no/such/secret"))).unwrap_err();
        assert!(e.message.contains("cannot read the credential secret file"), "{e}");
    }
}
