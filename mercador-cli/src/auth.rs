//! Authentication like the `openstack` CLI: a cloud of `clouds.yaml`
//! (`--os-cloud` or `OS_CLOUD`; the file from `OS_CLIENT_CONFIG_FILE`,
//! `./clouds.yaml`, `~/.config/openstack/clouds.yaml` or
//! `/etc/openstack/clouds.yaml`, with `secure.yaml` merged in), or the
//! `OS_*` variables, which the `--os-*` options override.
//!
//! The parsing is `mercador_core::keystone::CloudConfig`'s; this module only
//! adds the command-line options. With a cloud of `clouds.yaml`,
//! `--os-auth-url`, `--os-region-name` and `--os-interface` override the
//! cloud's values; the credential options apply when no cloud is named.

use std::sync::Arc;

use clap::Args;
use mercador_core::keystone::{CloudConfig, Interface, Session};
use url::Url;

use crate::error::{CliError, CliResult};

/// The `--os-*` options (each also read from its `OS_*` variable).
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct AuthArgs {
    /// The cloud of clouds.yaml to use [env: OS_CLOUD].
    #[arg(long, global = true, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) os_cloud: Option<String>,
    /// Keystone URL [env: OS_AUTH_URL].
    #[arg(long, global = true, value_name = "URL", help_heading = "Authentication")]
    pub(crate) os_auth_url: Option<Url>,
    /// User name [env: OS_USERNAME].
    #[arg(long, global = true, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) os_username: Option<String>,
    /// Password; prefer OS_PASSWORD or clouds.yaml, which other users cannot see in `ps` [env: OS_PASSWORD].
    #[arg(long, global = true, value_name = "PASSWORD", hide = true, help_heading = "Authentication")]
    pub(crate) os_password: Option<String>,
    /// The user's domain [env: OS_USER_DOMAIN_NAME].
    #[arg(long, global = true, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) os_user_domain_name: Option<String>,
    /// Project to scope to [env: OS_PROJECT_NAME].
    #[arg(long, global = true, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) os_project_name: Option<String>,
    /// The project's domain [env: OS_PROJECT_DOMAIN_NAME].
    #[arg(long, global = true, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) os_project_domain_name: Option<String>,
    /// Application credential id (a partner's credential) [env: OS_APPLICATION_CREDENTIAL_ID].
    #[arg(long, global = true, value_name = "ID", help_heading = "Authentication")]
    pub(crate) os_application_credential_id: Option<String>,
    /// Application credential secret; prefer the variable [env: OS_APPLICATION_CREDENTIAL_SECRET].
    #[arg(long, global = true, value_name = "SECRET", hide = true, help_heading = "Authentication")]
    pub(crate) os_application_credential_secret: Option<String>,
    /// Region for catalog lookups [env: OS_REGION_NAME].
    #[arg(long, global = true, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) os_region_name: Option<String>,
    /// Endpoint interface for catalog lookups: public, internal, admin [env: OS_INTERFACE].
    #[arg(long, global = true, value_name = "INTERFACE", help_heading = "Authentication")]
    pub(crate) os_interface: Option<String>,
}

impl AuthArgs {
    /// The option that stands for `OS_<KEY>`, if given.
    fn flag(&self, key: &str) -> Option<String> {
        match key {
            "OS_AUTH_URL" => self.os_auth_url.as_ref().map(Url::to_string),
            "OS_USERNAME" => self.os_username.clone(),
            "OS_PASSWORD" => self.os_password.clone(),
            "OS_USER_DOMAIN_NAME" => self.os_user_domain_name.clone(),
            "OS_PROJECT_NAME" => self.os_project_name.clone(),
            "OS_PROJECT_DOMAIN_NAME" => self.os_project_domain_name.clone(),
            "OS_APPLICATION_CREDENTIAL_ID" => self.os_application_credential_id.clone(),
            "OS_APPLICATION_CREDENTIAL_SECRET" => self.os_application_credential_secret.clone(),
            "OS_REGION_NAME" => self.os_region_name.clone(),
            "OS_INTERFACE" => self.os_interface.clone(),
            _ => None,
        }
    }

    /// The cloud configuration these options and the environment describe.
    pub(crate) fn cloud_config(&self) -> CliResult<CloudConfig> {
        let cloud = self.os_cloud.clone().or_else(|| std::env::var("OS_CLOUD").ok()).filter(|c| !c.trim().is_empty());
        let mut config = match &cloud {
            Some(name) => CloudConfig::from_clouds_yaml(name, None)?,
            None => CloudConfig::from_vars(|key| self.flag(key).or_else(|| std::env::var(key).ok()))?,
        };
        if cloud.is_some() {
            if let Some(url) = &self.os_auth_url {
                config.auth_url = url.clone();
            }
            if let Some(region) = &self.os_region_name {
                config.region_name = Some(region.clone());
            }
            if let Some(interface) = &self.os_interface {
                config.interface = interface.parse::<Interface>()?;
            }
        }
        Ok(config)
    }

    /// A session on the home Keystone (nothing is sent until a token is needed).
    pub(crate) fn session(&self) -> CliResult<Arc<Session>> {
        let config = self.cloud_config()?;
        Ok(Arc::new(config.session().map_err(|e| CliError::from(e).context("cannot set up the HTTP client"))?))
    }
}
