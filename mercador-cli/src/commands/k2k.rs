//! Keystone-to-Keystone for a cloud user (CSU): tokens and catalogs of the
//! home cloud and of its service providers, through
//! `mercador_core::k2k::MultiCloud` (one login at home, one K2K session per
//! service provider).
//!
//! ```text
//! mercador token issue [--service-provider SP [--project NAME [--project-domain DOMAIN]]]
//! mercador catalog list [--all-clouds | --service-provider SP]
//! ```
//!
//! `token issue` never prints the token itself unless asked for with
//! `-c id` (e.g. `export OS_TOKEN=$(mercador token issue -f value -c id)`):
//! a token is a password for its lifetime.

use std::sync::Arc;

use clap::Subcommand;
use mercador_core::k2k::{CloudId, MultiCloud};
use mercador_core::keystone::token::Token;
use mercador_core::keystone::{Scope, Session};
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use super::Context;
use crate::error::{CliError, CliResult, Kind};
use crate::output::{Output, Section};

const CATALOG_COLUMNS: &[&str] = &["type", "name", "interface", "region", "url"];

/// `mercador token ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Get a token: from the home cloud, or with K2K from one of its service
    /// providers. Shows expiry, project, user and roles; the token itself only
    /// with `-c id`.
    Issue {
        /// A service provider of the home cloud (its id there); the token is
        /// obtained with K2K.
        #[arg(long, value_name = "SP")]
        service_provider: Option<String>,
        /// Project to scope to on the service provider (default: the project with
        /// the home project's name, else the first one the user can reach).
        #[arg(long, value_name = "NAME", requires = "service_provider")]
        project: Option<String>,
        /// The project's domain on the service provider (name).
        #[arg(long, value_name = "DOMAIN", requires = "project", default_value = "Default")]
        project_domain: String,
    },
}

/// `mercador catalog ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum CatalogCommand {
    /// List the service catalog, one section per cloud. A cloud that fails is
    /// reported in its section (and on standard error) without hiding the
    /// others; the exit code is then that of the first failure.
    List {
        /// The home cloud and every service provider in the home token.
        #[arg(long, conflicts_with = "service_provider")]
        all_clouds: bool,
        /// The home cloud and this service provider only.
        #[arg(long, value_name = "SP")]
        service_provider: Option<String>,
    },
}

/// The token's facts (null ones left out); the token itself under `id`.
fn token_record(token: &Token, cloud: &str, keystone: &str) -> Value {
    let info = token.info();
    let project = info.project.as_ref();
    let mut record = json!({
        "cloud": cloud,
        "keystone": keystone,
        "expires": info.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "id": token.secret().expose_secret(),
        "project_id": project.map(|p| p.id.clone()),
        "project": project.and_then(|p| p.name.clone()),
        "project_domain": project.and_then(|p| p.domain.as_ref()).and_then(|d| d.name.clone()),
        "domain": info.domain.as_ref().and_then(|d| d.name.clone()),
        "system": info.is_system_scoped().then_some("all"),
        "user_id": info.user.id,
        "user": info.user.name,
        "user_domain": info.user.domain.as_ref().and_then(|d| d.name.clone()),
        "roles": info.role_names(),
        "federated": info.is_federated(),
    });
    if let Some(map) = record.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    record
}

/// Runs a `token` command.
pub(crate) async fn token(ctx: &Context, command: TokenCommand) -> CliResult<Output> {
    let TokenCommand::Issue { service_provider, project, project_domain } = command;
    let home = ctx.session()?;
    let (session, cloud): (Arc<Session>, String) = match &service_provider {
        None => (home, "home".to_owned()),
        Some(sp) => {
            let multi = MultiCloud::new(home);
            let session = match &project {
                Some(name) => multi.session(sp, Scope::project(name.clone(), project_domain.clone())).await?,
                None => multi.default_session(sp).await?,
            };
            (session, sp.clone())
        }
    };
    let token = session.token().await?;
    let keystone = session.auth_url().to_string();
    Ok(Output::Record { value: token_record(&token, &cloud, &keystone), hidden: &["id"] })
}

fn catalog_rows(catalog: &mercador_core::keystone::Catalog) -> Vec<Value> {
    let mut rows = Vec::new();
    for service in &catalog.services {
        for endpoint in &service.endpoints {
            rows.push(json!({
                "type": service.service_type,
                "name": service.name,
                "interface": endpoint.interface.as_str(),
                "region": endpoint.region(),
                "url": endpoint.url.as_str(),
                "service_id": service.id,
                "endpoint_id": endpoint.id,
            }));
        }
    }
    rows
}

/// Runs a `catalog` command; the error, when some cloud failed, comes with
/// the output of all of them.
pub(crate) async fn catalog(ctx: &Context, command: CatalogCommand) -> (CliResult<Output>, Option<CliError>) {
    match catalog_sections(ctx, command).await {
        Ok((sections, first_error)) => (Ok(Output::Sections(sections)), first_error),
        Err(e) => (Err(e), None),
    }
}

async fn catalog_sections(ctx: &Context, command: CatalogCommand) -> CliResult<(Vec<Section>, Option<CliError>)> {
    let CatalogCommand::List { all_clouds, service_provider } = command;
    let multi = MultiCloud::new(ctx.session()?);
    let results = if all_clouds {
        multi.catalogs().await?
    } else {
        let sps = multi.service_providers().await?;
        let chosen: Vec<_> = match &service_provider {
            None => Vec::new(),
            Some(id) => {
                let sp = sps.iter().find(|sp| &sp.id == id).ok_or_else(|| {
                    CliError::new(
                        Kind::NotFound,
                        format!(
                            "no service provider {id:?} in the home token (enabled ones: {})",
                            if sps.is_empty() {
                                "none".to_owned()
                            } else {
                                sps.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
                            }
                        ),
                    )
                })?;
                vec![sp.clone()]
            }
        };
        multi.catalogs_of(&chosen).await?
    };
    let mut first_error = None;
    let mut sections = Vec::new();
    for result in results {
        let title = match &result.cloud {
            CloudId::Home => "home".to_owned(),
            CloudId::ServiceProvider(id) => id.clone(),
        };
        let mut about = Map::new();
        if let Some(keystone) = &result.keystone {
            about.insert("keystone".into(), Value::String(keystone.to_string()));
        }
        about.insert("elapsed_ms".into(), json!(result.elapsed.as_millis() as u64));
        let rows = match result.result {
            Ok(catalog) => Ok(catalog_rows(&catalog)),
            Err(e) => {
                let e = CliError::from(e);
                eprintln!("mercador: cloud {title}: {e}");
                let message = e.message.clone();
                first_error.get_or_insert(e.context(format!("cloud {title}")));
                Err(message)
            }
        };
        sections.push(Section { title, about, rows, columns: CATALOG_COLUMNS });
    }
    Ok((sections, first_error))
}
