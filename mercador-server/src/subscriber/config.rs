//! Configuration of the subscriber service: a TOML file plus
//! `MERCADOR_<SECTION>__<KEY>` environment overrides, with the publisher's
//! conventions (see [`crate::config`]). `examples/config/subscriber.toml`
//! documents every key.
//!
//! `[keystone]`, `[database]` and `[secrets]` have the publisher's shape
//! (with Keystone A instead of B); `[server]` adds `refresh_interval_secs`;
//! `[federation]` names Keystone A's SAML identity provider. Loading,
//! error wording, `[keystone]` checks and the secrets key are the
//! publisher's ([`crate::config`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Toml};
use mercador_core::secrets::SecretsKey;
use mercador_core::subscriber::SubscriberConfig;
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use crate::config::{
    DatabaseSection, KeystoneSection, LogFormat, SecretsSection, check_server, default_body_limit, default_lease_ttl,
    default_log_filter, default_reconcile_interval, default_request_timeout, default_shutdown_grace, extract,
    file_and_env, opt_string_or_number,
};

/// A configuration the subscriber service refuses, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

fn error(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// The whole configuration of the subscriber service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriberServiceConfig {
    /// `[server]`: listening, public URL, intervals, limits, logs.
    pub server: ServerSection,
    /// `[keystone]`: Keystone A's admin cloud and who is an admin of the API.
    pub keystone: KeystoneSection,
    /// `[federation]`: Keystone A's SAML identity provider.
    pub federation: FederationSection,
    /// `[database]`: where the subscriber keeps its state.
    #[serde(default)]
    pub database: DatabaseSection,
    /// `[secrets]`: the key sealing stored secrets.
    pub secrets: SecretsSection,
    /// `[testing]`: hooks for the crash tests; leave empty in production.
    #[serde(default)]
    pub testing: crate::config::TestingSection,
    /// The directory relative paths are resolved against (the file's).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address and port to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The service's URL as admins reach it (registered in Keystone A's
    /// catalog as `<public_url>/v1`, service type `mercador-subscriber`).
    pub public_url: Url,
    /// The Keystone A region the endpoint is registered in (default: the
    /// cloud's `region_name`).
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub region: Option<String>,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
    /// Longest a request may take, in seconds.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Seconds between two refreshes of every binding (a publisher's
    /// revocation is cleaned up on A within this time; 0: never).
    #[serde(default = "default_refresh_interval")]
    pub refresh_interval_secs: u64,
    /// Seconds between two reconciliation passes (0: only the one at start).
    #[serde(default = "default_reconcile_interval")]
    pub reconcile_interval_secs: u64,
    /// On SIGTERM/SIGINT, how long running requests may go on, in seconds.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_secs: u64,
    /// `pretty` or `json`.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Log filter (`RUST_LOG` syntax; `RUST_LOG` wins when set).
    #[serde(default = "default_log_filter")]
    pub log_filter: String,
    /// This replica's id for leases (default: random at each start).
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub replica_id: Option<String>,
    /// How long a replica's lease on a binding lasts, in seconds.
    #[serde(default = "default_lease_ttl")]
    pub lease_ttl_secs: u64,
}

/// `[federation]`: Keystone A as a SAML identity provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationSection {
    /// Keystone A's SAML entity id (its `[saml] idp_entity_id`).
    pub entity_id: String,
    /// Where publishers fetch A's SAML metadata
    /// (`<keystone A>/v3/OS-FEDERATION/saml2/metadata`).
    pub metadata_url: Url,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8781))
}
fn default_refresh_interval() -> u64 {
    300
}

impl SubscriberServiceConfig {
    /// Reads `path` and the `MERCADOR_<SECTION>__<KEY>` variables, then checks the result.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::from_figment(file_and_env(path, "subscriber").map_err(error)?, path)
    }

    /// Reads a configuration from TOML text (and no environment).
    pub fn from_toml_str(toml: &str, base_dir: &Path) -> Result<Self, ConfigError> {
        Self::from_figment(Figment::from(Toml::string(toml)), &base_dir.join("<inline>"))
    }

    fn from_figment(figment: Figment, path: &Path) -> Result<Self, ConfigError> {
        let (mut config, base_dir): (Self, _) = extract(figment, path, "subscriber").map_err(error)?;
        config.base_dir = base_dir;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |key: &str, what: &str| Err(error(format!("[{key}] {what}")));
        let s = &self.server;
        let url_example = "https://mercador-a.example.com:8781";
        check_server(&s.public_url, url_example, s.body_limit, "", s.request_timeout_secs, s.lease_ttl_secs)
            .map_err(error)?;
        self.keystone.validate("Keystone A").map_err(error)?;
        self.database.validate().map_err(error)?;
        if self.federation.entity_id.trim().is_empty() {
            return err("federation] entity_id", "is empty; give Keystone A's [saml] idp_entity_id");
        }
        if !matches!(self.federation.metadata_url.scheme(), "http" | "https") {
            return err(
                "federation] metadata_url",
                "must be an http(s) URL (<keystone A>/v3/OS-FEDERATION/saml2/metadata)",
            );
        }
        self.testing.validate().map_err(error)?;
        self.secrets_key()?;
        Ok(())
    }

    /// A path of the file, resolved against the file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        crate::config::resolve(&self.base_dir, path)
    }

    /// The database URL (default: SQLite `mercador-subscriber.db` next to the file).
    pub fn database_url(&self) -> SecretString {
        match &self.database.url {
            Some(url) => url.clone(),
            None => SecretString::from(format!("sqlite://{}", self.base_dir.join("mercador-subscriber.db").display())),
        }
    }

    /// The secrets key, from `key` or `key_file` (the publisher's rules).
    pub fn secrets_key(&self) -> Result<SecretsKey, ConfigError> {
        self.secrets.key(&self.base_dir).map_err(error)
    }

    /// The engine's configuration; `keystone_url` is Keystone A's URL as
    /// publishers see it.
    pub fn subscriber_config(&self, keystone_url: Url) -> SubscriberConfig {
        let f = &self.federation;
        let mut config = SubscriberConfig::new(keystone_url, f.entity_id.clone(), f.metadata_url.clone());
        config.refresh_interval = Duration::from_secs(self.server.refresh_interval_secs);
        if let Some(id) = &self.server.replica_id {
            config.replica_id = id.clone();
        }
        config.lease_ttl = Duration::from_secs(self.server.lease_ttl_secs);
        config.pause_after_step = self.testing.pause();
        config
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn the_example_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/config/subscriber.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("key_file = \"subscriber.key\""));
        let text = text.replace("key_file = \"subscriber.key\"", &format!("key = \"{KEY}\""));
        let c = SubscriberServiceConfig::from_toml_str(&text, Path::new("/etc/mercador")).unwrap();
        assert_eq!(c.keystone.cloud, "testbed-a");
        assert_eq!(c.server.refresh_interval_secs, 300);
        assert_eq!(c.database_url().expose_secret(), "sqlite:///etc/mercador/mercador-subscriber.db");
        let debug = format!("{c:?}");
        assert!(!debug.contains(KEY), "{debug}");
        let e = SubscriberServiceConfig::from_toml_str(&text.replace(KEY, ""), Path::new("/")).unwrap_err().to_string();
        assert!(e.contains("[secrets]"), "{e}");
        let e = SubscriberServiceConfig::from_toml_str(
            &text.replace("[federation]", "[federation]\nentity = 1"),
            Path::new("/"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("entity") && e.contains("spelling"), "{e}");
    }

    #[test]
    fn server_keys_are_checked_as_the_publisher_does_in_its_own_words() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/config/subscriber.toml");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("key_file = \"subscriber.key\"", &format!("key = \"{KEY}\""));
        let refused =
            |toml: String| SubscriberServiceConfig::from_toml_str(&toml, Path::new("/")).unwrap_err().to_string();
        assert_eq!(
            refused(text.replace("body_limit = 1048576", "body_limit = 100000000")),
            "configuration: [server] body_limit] must be between 1024 and 67108864 bytes (default 1048576)"
        );
        assert_eq!(
            refused(text.replace("[server]", "[server]\nlease_ttl_secs = 1")),
            "configuration: [server] lease_ttl_secs] must be at least 10 (default 120)"
        );
        assert_eq!(
            refused(text.replace("http://127.0.0.1:8781", "mailto:a@b")),
            "configuration: [server] public_url] must be an http(s) URL, e.g. https://mercador-a.example.com:8781"
        );
        assert!(
            refused(text.replace("[testing]", "[testing]\npause_after_step = \"x\""))
                .contains("[testing] pause_after_step")
        );
    }
}
