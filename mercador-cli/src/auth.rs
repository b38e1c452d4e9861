//! Authentication like the `openstack` CLI: a cloud of `clouds.yaml`
//! (`--os-cloud` or `OS_CLOUD`; the file from `OS_CLIENT_CONFIG_FILE`,
//! `./clouds.yaml`, `~/.config/openstack/clouds.yaml` or
//! `/etc/openstack/clouds.yaml`, with `secure.yaml` merged in), or the
//! `OS_*` variables; the `--os-*` options given on the command line override
//! either.
//!
//! The parsing and the merging are `mercador_core::keystone::config`'s
//! ([`CloudSettings::override_with`]): an option replaces what it stands for,
//! so `--os-project-id` replaces a cloud's `project_name`, `--os-token` its
//! password login, `--os-domain-name` its project scope.
//!
//! With a named cloud, the `OS_*` variables (other than `OS_CLOUD` and
//! `OS_CLIENT_CONFIG_FILE`/`OS_CLIENT_SECURE_FILE`) are **not** applied,
//! except the secret of an auth type the command line names:
//! `--os-auth-type token` takes `OS_TOKEN` (`password`: `OS_PASSWORD`,
//! `v3applicationcredential`: `OS_APPLICATION_CREDENTIAL_SECRET`) unless the
//! hidden option gives it. The
//! `openstack` CLI applies some of them over the cloud (they are its
//! options' defaults: `OS_PROJECT_NAME` does, `OS_AUTH_URL` does not), so
//! variables left over from an openrc silently change a cloud the command
//! line names, or send the cloud's password along with another login. Here a
//! cloud name means that cloud, plus what the command line says; a variable
//! set to something else than the cloud has is named (never its value) in a
//! note on standard error, so the difference from the `openstack` CLI does
//! not go unnoticed.

use std::sync::Arc;

use clap::Args;
use mercador_core::keystone::config::CloudSettings;
use mercador_core::keystone::{CloudConfig, Interface, Session};
use url::Url;

use crate::error::{CliError, CliResult};

/// The `--os-*` options. Without a cloud, each falls back on its `OS_*`
/// variable; with one (`--os-cloud`, `OS_CLOUD`), they override the cloud's
/// settings and the variables are not used.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct AuthArgs {
    /// The cloud of clouds.yaml to use [env: OS_CLOUD]. The --os-* options given override its
    /// settings (--os-project-id replaces its project name, --os-domain-name its project scope,
    /// --os-auth-type token its password...); the OS_* variables do not, unlike the openstack CLI
    /// (those that differ are named on standard error), except the secret of --os-auth-type:
    /// OS_TOKEN, OS_PASSWORD or OS_APPLICATION_CREDENTIAL_SECRET.
    #[arg(long, global = true, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) os_cloud: Option<String>,
    /// Keystone URL [env: OS_AUTH_URL].
    #[arg(long, global = true, value_name = "URL", help_heading = "Authentication")]
    pub(crate) os_auth_url: Option<Url>,
    /// Authentication type: password, token or v3applicationcredential (default: from the
    /// credentials given) [env: OS_AUTH_TYPE].
    ///
    /// Secrets: --os-password, --os-token and --os-application-credential-secret are accepted but
    /// hidden from this help: other users see command lines (ps) and shells keep them in their
    /// history. Prefer OS_PASSWORD, OS_TOKEN, OS_APPLICATION_CREDENTIAL_SECRET or clouds.yaml
    /// (secure.yaml).
    #[arg(long, global = true, value_name = "TYPE", help_heading = "Authentication")]
    pub(crate) os_auth_type: Option<String>,
    /// User name [env: OS_USERNAME].
    #[arg(long, global = true, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) os_username: Option<String>,
    /// User id, instead of the name [env: OS_USER_ID].
    #[arg(long, global = true, value_name = "ID", help_heading = "Authentication")]
    pub(crate) os_user_id: Option<String>,
    /// Password; prefer OS_PASSWORD or clouds.yaml, which other users cannot see in `ps` [env: OS_PASSWORD].
    #[arg(long, global = true, value_name = "PASSWORD", hide = true, help_heading = "Authentication")]
    pub(crate) os_password: Option<String>,
    /// The user's domain [env: OS_USER_DOMAIN_NAME].
    #[arg(long, global = true, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) os_user_domain_name: Option<String>,
    /// The user's domain, by id [env: OS_USER_DOMAIN_ID].
    #[arg(long, global = true, value_name = "ID", help_heading = "Authentication")]
    pub(crate) os_user_domain_id: Option<String>,
    /// Project to scope to [env: OS_PROJECT_NAME].
    #[arg(long, global = true, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) os_project_name: Option<String>,
    /// Project to scope to, by id [env: OS_PROJECT_ID].
    #[arg(long, global = true, value_name = "ID", help_heading = "Authentication")]
    pub(crate) os_project_id: Option<String>,
    /// The project's domain [env: OS_PROJECT_DOMAIN_NAME].
    #[arg(long, global = true, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) os_project_domain_name: Option<String>,
    /// The project's domain, by id [env: OS_PROJECT_DOMAIN_ID].
    #[arg(long, global = true, value_name = "ID", help_heading = "Authentication")]
    pub(crate) os_project_domain_id: Option<String>,
    /// Domain to scope to, instead of a project [env: OS_DOMAIN_NAME].
    #[arg(long, global = true, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) os_domain_name: Option<String>,
    /// Domain to scope to, by id [env: OS_DOMAIN_ID].
    #[arg(long, global = true, value_name = "ID", help_heading = "Authentication")]
    pub(crate) os_domain_id: Option<String>,
    /// Scope to the system: all [env: OS_SYSTEM_SCOPE].
    #[arg(long, global = true, value_name = "SCOPE", help_heading = "Authentication")]
    pub(crate) os_system_scope: Option<String>,
    /// Token to authenticate with (auth type token); prefer OS_TOKEN, which other users cannot see in `ps` [env: OS_TOKEN].
    #[arg(long, global = true, value_name = "TOKEN", hide = true, help_heading = "Authentication")]
    pub(crate) os_token: Option<String>,
    /// Application credential id (a partner's credential) [env: OS_APPLICATION_CREDENTIAL_ID].
    #[arg(long, global = true, value_name = "ID", help_heading = "Authentication")]
    pub(crate) os_application_credential_id: Option<String>,
    /// Application credential name (with the user) [env: OS_APPLICATION_CREDENTIAL_NAME].
    #[arg(long, global = true, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) os_application_credential_name: Option<String>,
    /// Application credential secret; prefer the variable [env: OS_APPLICATION_CREDENTIAL_SECRET].
    #[arg(long, global = true, value_name = "SECRET", hide = true, help_heading = "Authentication")]
    pub(crate) os_application_credential_secret: Option<String>,
    /// Region for catalog lookups [env: OS_REGION_NAME].
    #[arg(long, global = true, value_name = "NAME", help_heading = "Authentication")]
    pub(crate) os_region_name: Option<String>,
    /// Endpoint interface for catalog lookups: public, internal, admin [env: OS_INTERFACE].
    #[arg(long, global = true, value_name = "INTERFACE", help_heading = "Authentication")]
    pub(crate) os_interface: Option<String>,
    /// CA certificate bundle (PEM) to verify Keystone's and the services' TLS certificates
    /// [env: OS_CACERT].
    #[arg(long, global = true, value_name = "FILE", help_heading = "Authentication")]
    pub(crate) os_cacert: Option<String>,
    /// Do not verify TLS certificates [env: OS_INSECURE].
    #[arg(long, global = true, help_heading = "Authentication")]
    pub(crate) insecure: bool,
}

impl AuthArgs {
    /// The options given on the command line, as settings (keys of
    /// `mercador_core::keystone::config::KEYS`).
    fn overrides(&self) -> CliResult<CloudSettings> {
        let mut settings = CloudSettings::new();
        if let Some(interface) = &self.os_interface {
            interface.parse::<Interface>()?; // named as an option's value, before a cloud's errors
        }
        let options = [
            ("auth_url", self.os_auth_url.as_ref().map(Url::to_string)),
            ("auth_type", self.os_auth_type.clone()),
            ("username", self.os_username.clone()),
            ("user_id", self.os_user_id.clone()),
            ("password", self.os_password.clone()),
            ("user_domain_name", self.os_user_domain_name.clone()),
            ("user_domain_id", self.os_user_domain_id.clone()),
            ("project_name", self.os_project_name.clone()),
            ("project_id", self.os_project_id.clone()),
            ("project_domain_name", self.os_project_domain_name.clone()),
            ("project_domain_id", self.os_project_domain_id.clone()),
            ("domain_name", self.os_domain_name.clone()),
            ("domain_id", self.os_domain_id.clone()),
            ("system_scope", self.os_system_scope.clone()),
            ("token", self.os_token.clone()),
            ("application_credential_id", self.os_application_credential_id.clone()),
            ("application_credential_name", self.os_application_credential_name.clone()),
            ("application_credential_secret", self.os_application_credential_secret.clone()),
            ("region_name", self.os_region_name.clone()),
            ("interface", self.os_interface.clone()),
            ("cacert", self.os_cacert.clone()),
            ("insecure", self.insecure.then(|| "true".to_owned())),
        ];
        for (key, value) in options {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                settings.set(key, value);
            }
        }
        // The secret of the auth type the command line asks for comes from
        // its variable (its option is hidden, and best not used).
        settings.take_secret_from_vars(|key| std::env::var(key).ok());
        Ok(settings)
    }

    /// The cloud named by `--os-cloud` or `OS_CLOUD`, if any.
    pub(crate) fn cloud_name(&self) -> Option<String> {
        self.os_cloud.clone().or_else(|| std::env::var("OS_CLOUD").ok()).filter(|c| !c.trim().is_empty())
    }

    /// The cloud configuration these options and the environment describe.
    pub(crate) fn cloud_config(&self) -> CliResult<CloudConfig> {
        let overrides = self.overrides()?;
        let config = match self.cloud_name() {
            Some(name) => {
                let mut settings = CloudSettings::from_clouds_yaml(&name, None)?;
                settings.override_with(&overrides);
                let ignored = settings.differing_vars(|key| std::env::var(key).ok());
                if !ignored.is_empty() {
                    eprintln!(
                        "mercador: note: with cloud {name:?}, {} from the environment {} not used \
                         (the openstack CLI would apply some); pass --os-* options to override the cloud",
                        ignored.join(", "),
                        if ignored.len() == 1 { "is" } else { "are" }
                    );
                }
                settings.into_config("clouds.yaml")?
            }
            None => {
                let mut settings = CloudSettings::from_vars(|key| std::env::var(key).ok());
                settings.override_with(&overrides);
                settings.into_config("the OS_* environment and --os-* options")?
            }
        };
        Ok(config)
    }

    /// A session on the home Keystone (nothing is sent until a token is needed).
    pub(crate) fn session(&self) -> CliResult<Arc<Session>> {
        let config = self.cloud_config()?;
        Ok(Arc::new(config.session().map_err(|e| CliError::from(e).context("cannot set up the HTTP client"))?))
    }
}
