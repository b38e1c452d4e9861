//! Configuration of the subscriber service: a TOML file plus
//! `MERCADOR_<SECTION>__<KEY>` environment overrides, with the publisher's
//! conventions (see [`crate::config`]). `examples/config/subscriber.toml`
//! documents every key.
//!
//! `[keystone]`, `[database]` and `[secrets]` have the publisher's shape
//! (with Keystone A instead of B); `[server]` adds `refresh_interval_secs`;
//! `[federation]` names Keystone A's SAML identity provider.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use mercador_core::secrets::SecretsKey;
use mercador_core::subscriber::SubscriberConfig;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use url::Url;

use crate::config::{DatabaseSection, ENV_PREFIX, KeystoneSection, LogFormat, SecretsSection};

/// A configuration the subscriber service refuses, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

const KEY_HINT: &str = "generate one with `head -c 32 /dev/urandom | base64`";
const SECTIONS: &[&str] = &["server", "keystone", "federation", "database", "secrets", "testing"];

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
fn default_body_limit() -> usize {
    1024 * 1024
}
fn default_request_timeout() -> u64 {
    120
}
fn default_refresh_interval() -> u64 {
    300
}
fn default_reconcile_interval() -> u64 {
    30
}
fn default_shutdown_grace() -> u64 {
    30
}
fn default_log_filter() -> String {
    "info".into()
}
fn default_lease_ttl() -> u64 {
    120
}

fn opt_string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        I(i64),
        U(u64),
    }
    Ok(Option::<Scalar>::deserialize(d)?.map(|s| match s {
        Scalar::S(s) => s,
        Scalar::I(i) => i.to_string(),
        Scalar::U(u) => u.to_string(),
    }))
}

impl SubscriberServiceConfig {
    /// Reads `path` and the `MERCADOR_<SECTION>__<KEY>` variables, then checks the result.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        if !path.is_file() {
            return Err(error(format!(
                "{} does not exist or is not a file; start from examples/config/subscriber.toml",
                path.display()
            )));
        }
        let env = Env::prefixed(ENV_PREFIX).split("__").filter(|key| {
            key.as_str()
                .split_once('.')
                .is_some_and(|(section, _)| SECTIONS.iter().any(|s| s.eq_ignore_ascii_case(section)))
        });
        Self::from_figment(Figment::new().merge(Toml::file_exact(path)).merge(env), path)
    }

    /// Reads a configuration from TOML text (and no environment).
    pub fn from_toml_str(toml: &str, base_dir: &Path) -> Result<Self, ConfigError> {
        Self::from_figment(Figment::from(Toml::string(toml)), &base_dir.join("<inline>"))
    }

    fn from_figment(figment: Figment, path: &Path) -> Result<Self, ConfigError> {
        let mut config: Self = figment.extract().map_err(|e| {
            let all: Vec<String> = e.into_iter().map(|e| describe(&e)).collect();
            error(format!("{}: {}; see examples/config/subscriber.toml for every key", path.display(), all.join("; ")))
        })?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        config.base_dir = std::path::absolute(dir)
            .map_err(|e| error(format!("cannot resolve the directory of {}: {e}", path.display())))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |key: &str, what: &str| Err(error(format!("[{key}] {what}")));
        if !matches!(self.server.public_url.scheme(), "http" | "https") || self.server.public_url.cannot_be_a_base() {
            return err("server] public_url", "must be an http(s) URL, e.g. https://mercador-a.example.com:8781");
        }
        if self.server.body_limit < 1024 || self.server.body_limit > 64 * 1024 * 1024 {
            return err("server] body_limit", "must be between 1024 and 67108864 bytes (default 1048576)");
        }
        if self.server.request_timeout_secs == 0 {
            return err("server] request_timeout_secs", "must be at least 1 (default 120)");
        }
        if self.server.lease_ttl_secs < 10 {
            return err("server] lease_ttl_secs", "must be at least 10 (default 120)");
        }
        if self.keystone.cloud.trim().is_empty() {
            return err("keystone] cloud", "is empty; name the clouds.yaml entry of Keystone A's admin");
        }
        if self.keystone.admin_role.trim().is_empty() {
            return err("keystone] admin_role", "is empty; name the role of the API's admins (default admin)");
        }
        for p in &self.keystone.admin_projects {
            if !p.split_once('/').is_some_and(|(d, p)| !d.is_empty() && !p.is_empty()) {
                return err(
                    "keystone] admin_projects",
                    &format!("{p:?} is not \"<domain name>/<project name>\" (e.g. \"Default/admin\")"),
                );
            }
        }
        if self.keystone.token_cache_ttl_secs > 3600 {
            return err("keystone] token_cache_ttl_secs", "must be at most 3600 (default 300)");
        }
        if self.federation.entity_id.trim().is_empty() {
            return err("federation] entity_id", "is empty; give Keystone A's [saml] idp_entity_id");
        }
        if !matches!(self.federation.metadata_url.scheme(), "http" | "https") {
            return err(
                "federation] metadata_url",
                "must be an http(s) URL (<keystone A>/v3/OS-FEDERATION/saml2/metadata)",
            );
        }
        if let Some(step) = &self.testing.pause_after_step {
            crate::config::parse_pause(step).map_err(|e| error(format!("[testing] pause_after_step: {e}")))?;
        }
        self.secrets_key()?;
        Ok(())
    }

    /// A path of the file, resolved against the file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() { path.to_path_buf() } else { self.base_dir.join(path) }
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
        let s = &self.secrets;
        let Some(id) = s.key_id.as_deref().filter(|id| !id.is_empty()) else {
            return Err(error(
                "[secrets] key_id is missing: name the key (e.g. \"2026-01\"; bound to every value it seals, \
                 change it when the key changes)",
            ));
        };
        let key = match (&s.key, &s.key_file) {
            (Some(_), Some(_)) => return Err(error("[secrets] set key or key_file, not both")),
            (Some(key), None) => key.clone(),
            (None, Some(file)) => {
                let file = self.resolve(file);
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    error(format!("[secrets] key_file: cannot read {}: {e}; {KEY_HINT}", file.display()))
                })?;
                SecretString::from(text.trim().to_owned())
            }
            (None, None) => {
                return Err(error(format!(
                    "[secrets] key is missing: set key_file (a file holding the key) or the variable \
                     MERCADOR_SECRETS__KEY; {KEY_HINT}"
                )));
            }
        };
        if key.expose_secret().trim().is_empty() {
            return Err(error(format!("[secrets] the key is empty; {KEY_HINT}")));
        }
        SecretsKey::from_base64(id, &key).map_err(|e| error(format!("[secrets] {e}")))
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
        config.pause_after_step =
            self.testing.pause_after_step.as_deref().and_then(|s| crate::config::parse_pause(s).ok());
        config
    }
}

fn describe(e: &figment::Error) -> String {
    let key = e.path.join(".");
    let kind = e.kind.to_string();
    let hint = match &e.kind {
        figment::error::Kind::MissingField(field) => {
            let full = if key.is_empty() { field.to_string() } else { format!("{key}.{field}") };
            return format!("{full} is missing; set it (see the example)");
        }
        figment::error::Kind::UnknownField(..) => " (check its spelling and its section)",
        _ => "",
    };
    if key.is_empty() { format!("{kind}{hint}") } else { format!("{key}: {kind}{hint}") }
}

#[cfg(test)]
mod tests {
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
}
