//! Configuration of the publisher service: a TOML file plus environment
//! overrides.
//!
//! Every key of the file can be overridden by a variable
//! `MERCADOR_<SECTION>__<KEY>` (two underscores between section and key),
//! e.g. `MERCADOR_SERVER__LISTEN=0.0.0.0:8780` or `MERCADOR_SECRETS__KEY=...`.
//! Relative paths in the file are relative to the file's directory.
//! `examples/config/publisher.toml` documents every key.
//!
//! Errors name the key and say what to do. The secrets key is a
//! [`SecretString`]: `Debug` never shows it and it is never logged.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use mercador_core::keystone::CloudConfig;
use mercador_core::publisher::{PublisherConfig, ShibbolethMetadataDir};
use mercador_core::secrets::SecretsKey;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use url::Url;

/// Prefix of the environment variables that override the file.
pub const ENV_PREFIX: &str = "MERCADOR_";

/// How to generate a secrets key, repeated in every message about it.
pub(crate) const KEY_HINT: &str = "generate one with `head -c 32 /dev/urandom | base64`";

/// A configuration the service refuses, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

/// The whole configuration of the publisher service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublisherServiceConfig {
    /// `[server]`: listening, public URL, limits, logs.
    pub server: ServerSection,
    /// `[keystone]`: Keystone B and who is an admin of the API.
    pub keystone: KeystoneSection,
    /// `[federation]`: B's SAML service provider and the partners' place in Keystone.
    pub federation: FederationSection,
    /// `[database]`: where the publisher keeps its state.
    #[serde(default)]
    pub database: DatabaseSection,
    /// `[secrets]`: the key sealing stored secrets.
    pub secrets: SecretsSection,
    /// `[testing]`: hooks for the crash tests; leave empty in production.
    #[serde(default)]
    pub testing: TestingSection,
    /// The directory relative paths are resolved against (the file's).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Format of the logs on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line (for log collectors).
    Json,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address and port to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The service's URL as partners and admins reach it (registered in
    /// Keystone B's catalog as `<public_url>/v1/admin` and `.../v1/exchange`).
    pub public_url: Url,
    /// The Keystone B region the endpoints are registered in (default: the
    /// cloud's `region_name`).
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub region: Option<String>,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
    /// Longest a request may take, in seconds.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Seconds between two reconciliation passes (0: only the one at start).
    #[serde(default = "default_reconcile_interval")]
    pub reconcile_interval_secs: u64,
    /// Seconds between two enforcement passes (publisher only): each
    /// project of a published vregion's domain gets the vregion's quotas
    /// as its own limits and its listed images' memberships, so a project
    /// created by a federated user's first login has them within this
    /// delay (0: only at publish and change). See docs/enforcement.md.
    #[serde(default = "default_enforce_interval")]
    pub enforce_interval_secs: u64,
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
    /// How long a replica's lease on a partner's federation lasts, in seconds.
    #[serde(default = "default_lease_ttl")]
    pub lease_ttl_secs: u64,
}

/// `[keystone]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoneSection {
    /// The `clouds.yaml` entry of Keystone B's admin (project-scoped).
    pub cloud: String,
    /// The `clouds.yaml` file (default: the usual search: `OS_CLIENT_CONFIG_FILE`,
    /// `./clouds.yaml`, `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`).
    #[serde(default)]
    pub clouds_yaml: Option<PathBuf>,
    /// Keystone B's identity URL (`.../v3`) as partners reach it (default:
    /// the cloud's `auth_url`).
    #[serde(default)]
    pub public_url: Option<Url>,
    /// Callers whose token carries this role are admins of the API...
    #[serde(default = "default_admin_role")]
    pub admin_role: String,
    /// ...when the token is system-scoped or scoped to one of these projects
    /// (`"<domain name>/<project name>"`). Domain-scoped tokens never are.
    #[serde(default = "default_admin_projects")]
    pub admin_projects: Vec<String>,
    /// Longest a validated token is trusted without asking Keystone again, in seconds.
    #[serde(default = "default_token_cache_ttl")]
    pub token_cache_ttl_secs: u64,
    /// Most validated tokens kept in memory.
    #[serde(default = "default_token_cache_capacity")]
    pub token_cache_capacity: u64,
    /// Longest one request to this Keystone (and, on the subscriber, to a
    /// publisher) may take, in seconds (default 30): past it, the call
    /// fails as "too slow" and the service answers 503
    /// `keystone_unavailable` (or `publisher_unavailable`).
    #[serde(default = "default_keystone_timeout")]
    pub timeout_secs: u64,
}

/// `[federation]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationSection {
    /// B's SAML ECP endpoint (`.../Shibboleth.sso/SAML2/ECP`).
    pub sp_url: Url,
    /// Shibboleth's `LocalDynamic` metadata directory (the publisher writes
    /// one file per trusted identity provider).
    pub metadata_dir: PathBuf,
    /// The SAML SP's `Status` handler, asked before a subscribe or a
    /// refresh trusts metadata and by `/healthz` (default: `sp_url`'s
    /// `.../Shibboleth.sso/Status`). Shibboleth answers it only to the
    /// addresses in the handler's `acl` (the testbed's: 127.0.0.1).
    #[serde(default)]
    pub sp_status_url: Option<Url>,
    /// Longest the SP's status may take to answer, in seconds (default 10:
    /// Apache's mod_shib takes about 6 s to give up on a shibd that is not
    /// running): past it, the SP is too slow and the request answers 503
    /// `saml_sp_unavailable`.
    #[serde(default = "default_sp_check_timeout")]
    pub sp_check_timeout_secs: u64,
    /// `remote_id_attribute` of the protocols created (default: Keystone's
    /// `[saml2] remote_id_attribute`).
    #[serde(default)]
    pub remote_id_attribute: Option<String>,
    /// The Keystone domain holding partners' projects and users.
    #[serde(default = "default_partners_domain")]
    pub partners_domain: String,
    /// The role a partner's user gets on its project.
    #[serde(default = "default_partner_role")]
    pub partner_role: String,
    /// The role a vregion's local admin user gets on the vregion's domain
    /// (default `manager`, Keystone's domain-manager persona). Never a
    /// cloud-wide role: the service refuses to start with one.
    #[serde(default = "default_vregion_admin_role")]
    pub vregion_admin_role: String,
    /// Roles this cloud's own policy file honours in every scope, beyond
    /// Keystone's `admin` and `service`: the publisher hands out none of
    /// them, nor a role implying one.
    #[serde(default)]
    pub cloud_wide_roles: Vec<String>,
}

impl FederationSection {
    /// `sp_status_url`, or the one of `sp_url`.
    pub fn status_url(&self) -> Option<Url> {
        self.sp_status_url.clone().or_else(|| ShibbolethMetadataDir::status_url_of(&self.sp_url))
    }

    /// `sp_check_timeout_secs`.
    pub fn sp_check_timeout(&self) -> Duration {
        Duration::from_secs(self.sp_check_timeout_secs)
    }

    /// Checks the SP's status URL and its timeout.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !(1..=60).contains(&self.sp_check_timeout_secs) {
            return Err("[federation] sp_check_timeout_secs] must be between 1 and 60 (default 10)".into());
        }
        if self.status_url().is_none() {
            return Err(format!(
                "[federation] sp_status_url] is missing and sp_url {} has no /Shibboleth.sso/ to derive it from: \
                 give the SAML SP's Status handler (e.g. https://b.example/Shibboleth.sso/Status)",
                self.sp_url
            ));
        }
        Ok(())
    }
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    /// `sqlite:///abs/path.db` or `postgres://...` (default: SQLite file
    /// `mercador-publisher.db` next to the configuration file).
    #[serde(default)]
    pub url: Option<SecretString>,
    /// Longest a request waits for a database connection, in seconds
    /// (default 5): past it (the database stopped, unreachable or
    /// overloaded) the service answers 503 `database_unavailable`.
    #[serde(default = "default_acquire_timeout")]
    pub acquire_timeout_secs: u64,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self { url: None, acquire_timeout_secs: default_acquire_timeout() }
    }
}

impl DatabaseSection {
    /// Checks `acquire_timeout_secs`.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !(1..=120).contains(&self.acquire_timeout_secs) {
            return Err("[database] acquire_timeout_secs] must be between 1 and 120 (default 5)".into());
        }
        Ok(())
    }

    /// The pool's acquire timeout.
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.acquire_timeout_secs)
    }
}

/// `[secrets]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSection {
    /// The key's id (bound to every sealed value; change it with the key).
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub key_id: Option<String>,
    /// The key: 32 random bytes in base64. Prefer `key_file` or the
    /// `MERCADOR_SECRETS__KEY` variable to writing it here.
    #[serde(default)]
    pub key: Option<SecretString>,
    /// A file holding the key (base64).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

/// `[testing]`: test hooks. Leave empty in production.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestingSection {
    /// `"<step>:<duration>"`, e.g. `"identity_provider:30s"`: the engine
    /// pauses that long after the named subscribe step (crash tests kill the
    /// service there).
    #[serde(default)]
    pub pause_after_step: Option<String>,
}

pub(crate) fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8780))
}
pub(crate) fn default_body_limit() -> usize {
    1024 * 1024
}
pub(crate) fn default_request_timeout() -> u64 {
    120
}
pub(crate) fn default_reconcile_interval() -> u64 {
    30
}
pub(crate) fn default_enforce_interval() -> u64 {
    5
}
pub(crate) fn default_shutdown_grace() -> u64 {
    30
}
pub(crate) fn default_log_filter() -> String {
    "info".into()
}
pub(crate) fn default_lease_ttl() -> u64 {
    120
}
pub(crate) fn default_admin_role() -> String {
    "admin".into()
}
pub(crate) fn default_vregion_admin_role() -> String {
    "manager".into()
}
pub(crate) fn default_admin_projects() -> Vec<String> {
    vec!["Default/admin".into()]
}
pub(crate) fn default_token_cache_ttl() -> u64 {
    300
}
pub(crate) fn default_keystone_timeout() -> u64 {
    30
}
pub(crate) fn default_acquire_timeout() -> u64 {
    5
}
pub(crate) fn default_token_cache_capacity() -> u64 {
    10_000
}
pub(crate) fn default_sp_check_timeout() -> u64 {
    10
}
pub(crate) fn default_partners_domain() -> String {
    "mercador-partners".into()
}
pub(crate) fn default_partner_role() -> String {
    "member".into()
}

/// Strings that may look like numbers in the environment (`2026` as a key id).
pub(crate) fn opt_string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
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

const SECTIONS: &[&str] = &["server", "keystone", "federation", "database", "secrets", "testing"];

impl PublisherServiceConfig {
    /// Reads `path` and the `MERCADOR_<SECTION>__<KEY>` variables, then
    /// checks the result ([`Self::validate`]).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::from_figment(file_and_env(path, "publisher").map_err(ConfigError)?, path)
    }

    /// Reads a configuration from TOML text (and no environment); relative
    /// paths are relative to `base_dir`.
    pub fn from_toml_str(toml: &str, base_dir: &Path) -> Result<Self, ConfigError> {
        Self::from_figment(Figment::from(Toml::string(toml)), &base_dir.join("<inline>"))
    }

    fn from_figment(figment: Figment, path: &Path) -> Result<Self, ConfigError> {
        let (mut config, base_dir): (Self, _) = extract(figment, path, "publisher").map_err(ConfigError)?;
        config.base_dir = base_dir;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: values in range, paths that exist, the
    /// secrets key decoding to 32 bytes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        let (url_example, body_limit_note) =
            ("https://mercador.example.com:8780", "SAML metadata bodies need up to 256 KiB; ");
        check_server(
            &s.public_url,
            url_example,
            s.body_limit,
            body_limit_note,
            s.request_timeout_secs,
            s.lease_ttl_secs,
        )
        .map_err(ConfigError)?;
        self.keystone.validate("Keystone B").map_err(ConfigError)?;
        self.federation.validate().map_err(ConfigError)?;
        self.database.validate().map_err(ConfigError)?;
        self.testing.validate().map_err(ConfigError)?;
        self.secrets_key()?;
        Ok(())
    }

    /// A path of the file, resolved against the file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        resolve(&self.base_dir, path)
    }

    /// The database URL (default: SQLite next to the configuration file).
    pub fn database_url(&self) -> SecretString {
        match &self.database.url {
            Some(url) => url.clone(),
            None => SecretString::from(format!("sqlite://{}", self.base_dir.join("mercador-publisher.db").display())),
        }
    }

    /// The secrets key, from `key` or `key_file`; refuses a missing or
    /// invalid one, naming the setting.
    pub fn secrets_key(&self) -> Result<SecretsKey, ConfigError> {
        self.secrets.key(&self.base_dir).map_err(ConfigError)
    }

    /// `[testing] pause_after_step`, parsed.
    pub fn pause_after_step(&self) -> Option<(String, Duration)> {
        self.testing.pause()
    }

    /// The engine's configuration. `keystone_url` is Keystone B's URL as
    /// partners reach it (`[keystone] public_url`, or the cloud's `auth_url`).
    pub fn publisher_config(&self, keystone_url: Url) -> PublisherConfig {
        let f = &self.federation;
        let mut config = PublisherConfig::new(keystone_url, f.sp_url.clone());
        config.partners_domain = f.partners_domain.clone();
        config.partner_role = f.partner_role.clone();
        config.admin_role = f.vregion_admin_role.clone();
        config.cloud_wide_roles = f.cloud_wide_roles.clone();
        config.remote_id_attribute = f.remote_id_attribute.clone();
        if let Some(id) = &self.server.replica_id {
            config.replica_id = id.clone();
        }
        config.lease_ttl = Duration::from_secs(self.server.lease_ttl_secs);
        config.pause_after_step = self.pause_after_step();
        config
    }
}

/// `path` resolved against `base_dir` (the configuration file's directory).
pub(crate) fn resolve(base_dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_path_buf() } else { base_dir.join(path) }
}

/// The file at `path` overridden by the `MERCADOR_<SECTION>__<KEY>`
/// variables; `service` names the example (`examples/config/<service>.toml`).
pub(crate) fn file_and_env(path: &Path, service: &str) -> Result<Figment, String> {
    if !path.is_file() {
        return Err(format!(
            "{} does not exist or is not a file; start from examples/config/{service}.toml",
            path.display()
        ));
    }
    // Only variables naming a section: MERCADOR_TESTBED_ENV and the like are not ours.
    let env = Env::prefixed(ENV_PREFIX).split("__").filter(|key| {
        key.as_str()
            .split_once('.')
            .is_some_and(|(section, _)| SECTIONS.iter().any(|s| s.eq_ignore_ascii_case(section)))
    });
    Ok(Figment::new().merge(Toml::file_exact(path)).merge(env))
}

/// The configuration in `figment` (read from `path`) and the absolute
/// directory its relative paths are resolved against.
pub(crate) fn extract<T: serde::de::DeserializeOwned>(
    figment: Figment,
    path: &Path,
    service: &str,
) -> Result<(T, PathBuf), String> {
    let config: T = figment.extract().map_err(|e| {
        let all: Vec<String> = e.into_iter().map(|e| describe(&e)).collect();
        format!("{}: {}; see examples/config/{service}.toml for every key", path.display(), all.join("; "))
    })?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let base_dir =
        std::path::absolute(dir).map_err(|e| format!("cannot resolve the directory of {}: {e}", path.display()))?;
    Ok((config, base_dir))
}

/// Checks what serde cannot in the `[server]` keys both services have:
/// `public_url` an http(s) URL (`url_example` shows one), `body_limit`
/// between 1 KiB and 64 MiB (`body_limit_note` opens the parenthesis of its
/// message: what needs how much, ending in `; `), a request timeout of at
/// least 1 s, a lease TTL of at least 10 s. The message names the key.
pub(crate) fn check_server(
    public_url: &Url,
    url_example: &str,
    body_limit: usize,
    body_limit_note: &str,
    request_timeout_secs: u64,
    lease_ttl_secs: u64,
) -> Result<(), String> {
    let err = |key: &str, what: &str| Err(format!("[server] {key}] {what}"));
    if !matches!(public_url.scheme(), "http" | "https") || public_url.cannot_be_a_base() {
        return err("public_url", &format!("must be an http(s) URL, e.g. {url_example}"));
    }
    if !(1024..=64 * 1024 * 1024).contains(&body_limit) {
        return err(
            "body_limit",
            &format!("must be between 1024 and 67108864 bytes ({body_limit_note}default 1048576)"),
        );
    }
    if request_timeout_secs == 0 {
        return err("request_timeout_secs", "must be at least 1 (default 120)");
    }
    if lease_ttl_secs < 10 {
        return err("lease_ttl_secs", "must be at least 10 (default 120)");
    }
    Ok(())
}

impl TestingSection {
    /// Checks `pause_after_step`.
    pub(crate) fn validate(&self) -> Result<(), String> {
        match &self.pause_after_step {
            Some(step) => parse_pause(step).map(drop).map_err(|e| format!("[testing] pause_after_step: {e}")),
            None => Ok(()),
        }
    }

    /// `pause_after_step`, parsed (`None` when unset or invalid: [`Self::validate`] refuses it).
    pub(crate) fn pause(&self) -> Option<(String, Duration)> {
        self.pause_after_step.as_deref().and_then(|s| parse_pause(s).ok())
    }
}

impl KeystoneSection {
    /// The admin cloud `cloud` (from `clouds_yaml`, resolved against
    /// `base_dir`, else the usual search) and the region the service
    /// registers in: `[server] region` when set, else the cloud's
    /// `region_name`; `region_use` ends the message when neither is
    /// ("the Keystone B region to register the endpoints in").
    pub(crate) fn admin_cloud(
        &self,
        base_dir: &Path,
        region: Option<&String>,
        region_use: &str,
    ) -> anyhow::Result<(CloudConfig, String)> {
        use anyhow::Context as _;
        let cloud = match &self.clouds_yaml {
            Some(path) => CloudConfig::from_clouds_yaml(&self.cloud, Some(&resolve(base_dir, path))),
            None => CloudConfig::load(Some(&self.cloud)),
        }
        .with_context(|| format!("[keystone] cloud {:?}: cannot load it from clouds.yaml", self.cloud))?;
        let mut cloud = cloud;
        cloud.http.timeout = self.timeout();
        cloud.http.connect_timeout = cloud.http.connect_timeout.min(self.timeout());
        let region = match (region, &cloud.region_name) {
            (Some(region), _) | (None, Some(region)) => region.clone(),
            (None, None) => anyhow::bail!(
                "[server] region is missing and cloud {:?} has no region_name: name {region_use}",
                self.cloud
            ),
        };
        Ok((cloud, region))
    }

    /// `timeout_secs`.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// Checks what serde cannot; `keystone` names the Keystone ("Keystone B").
    pub(crate) fn validate(&self, keystone: &str) -> Result<(), String> {
        // "[keystone] cloud] ...": the services' wording since the start.
        let err = |key: &str, what: &str| Err(format!("[keystone] {key}] {what}"));
        if self.cloud.trim().is_empty() {
            return err("cloud", &format!("is empty; name the clouds.yaml entry of {keystone}'s admin"));
        }
        if self.admin_role.trim().is_empty() {
            return err("admin_role", "is empty; name the role of the API's admins (default admin)");
        }
        for p in &self.admin_projects {
            if !p.split_once('/').is_some_and(|(d, p)| !d.is_empty() && !p.is_empty()) {
                return err(
                    "admin_projects",
                    &format!("{p:?} is not \"<domain name>/<project name>\" (e.g. \"Default/admin\")"),
                );
            }
        }
        if self.token_cache_ttl_secs > 3600 {
            return err("token_cache_ttl_secs", "must be at most 3600 (default 300)");
        }
        if !(1..=600).contains(&self.timeout_secs) {
            return err("timeout_secs", "must be between 1 and 600 (default 30)");
        }
        Ok(())
    }
}

impl SecretsSection {
    /// The secrets key, from `key` or `key_file` (resolved against
    /// `base_dir`); refuses a missing or invalid one, naming the setting.
    pub(crate) fn key(&self, base_dir: &Path) -> Result<SecretsKey, String> {
        let Some(id) = self.key_id.as_deref().filter(|id| !id.is_empty()) else {
            return Err("[secrets] key_id is missing: name the key (e.g. \"2026-01\"; bound to every value it seals, \
                        change it when the key changes)"
                .into());
        };
        let key = match (&self.key, &self.key_file) {
            (Some(_), Some(_)) => return Err("[secrets] set key or key_file, not both".into()),
            (Some(key), None) => key.clone(),
            (None, Some(file)) => {
                let file = if file.is_absolute() { file.clone() } else { base_dir.join(file) };
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| format!("[secrets] key_file: cannot read {}: {e}; {KEY_HINT}", file.display()))?;
                SecretString::from(text.trim().to_owned())
            }
            (None, None) => {
                return Err(format!(
                    "[secrets] key is missing: set key_file (a file holding the key) or the variable \
                     MERCADOR_SECRETS__KEY; {KEY_HINT}"
                ));
            }
        };
        if key.expose_secret().trim().is_empty() {
            return Err(format!("[secrets] the key is empty; {KEY_HINT}"));
        }
        SecretsKey::from_base64(id, &key).map_err(|e| format!("[secrets] {e}"))
    }
}

/// One figment error as "key: what is wrong".
pub(crate) fn describe(e: &figment::Error) -> String {
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

/// `"<step>:<duration>"` with a duration like `30s`, `500ms`, `2m` or `30`.
pub fn parse_pause(value: &str) -> Result<(String, Duration), String> {
    let bad = || format!("{value:?} is not \"<step>:<duration>\" (e.g. \"identity_provider:30s\")");
    let (step, duration) = value.rsplit_once(':').ok_or_else(bad)?;
    let step = step.trim();
    if step.is_empty() {
        return Err(bad());
    }
    Ok((step.to_owned(), parse_duration(duration.trim()).ok_or_else(bad)?))
}

fn parse_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "" | "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n.checked_mul(60)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn minimal(extra: &str) -> String {
        format!(
            r#"
[server]
public_url = "http://127.0.0.1:8780"
[keystone]
cloud = "testbed-b"
[federation]
sp_url = "http://127.0.0.1:5002/Shibboleth.sso/SAML2/ECP"
metadata_dir = "shib/metadata"
[secrets]
key_id = "k1"
key = "{KEY}"
{extra}
"#
        )
    }

    #[test]
    fn defaults_and_relative_paths() {
        let c = PublisherServiceConfig::from_toml_str(&minimal(""), Path::new("/etc/mercador")).unwrap();
        assert_eq!(c.server.listen, default_listen());
        assert_eq!(c.server.body_limit, 1024 * 1024);
        assert_eq!(c.keystone.admin_role, "admin");
        assert_eq!(c.resolve(&c.federation.metadata_dir), Path::new("/etc/mercador/shib/metadata"));
        assert_eq!(c.database_url().expose_secret(), "sqlite:///etc/mercador/mercador-publisher.db");
        let pc = c.publisher_config(Url::parse("http://127.0.0.1:5002/v3").unwrap());
        assert_eq!(pc.partners_domain, "mercador-partners");
        assert!(pc.pause_after_step.is_none());
    }

    #[test]
    fn debug_never_shows_the_key_or_database_url() {
        let toml = minimal("[database]\nurl = \"postgres://u:hunter2@db/mercador\"");
        let c = PublisherServiceConfig::from_toml_str(&toml, Path::new("/x")).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains(KEY) && !debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn errors_name_the_key() {
        let e =
            PublisherServiceConfig::from_toml_str(&minimal("").replace("cloud = \"testbed-b\"", ""), Path::new("/"))
                .unwrap_err()
                .to_string();
        assert!(e.contains("keystone.cloud is missing"), "{e}");
        let e = PublisherServiceConfig::from_toml_str(&minimal("[server2]\nx = 1"), Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("server2"), "{e}");
        let toml = minimal("").replace("[server]", "[server]\nbody_limt = 5");
        let e = PublisherServiceConfig::from_toml_str(&toml, Path::new("/")).unwrap_err().to_string();
        assert!(e.contains("body_limt") && e.contains("spelling"), "{e}");
    }

    #[test]
    fn server_keys_out_of_range_are_refused() {
        let refused = |key: &str, value: &str| {
            let toml = minimal("").replace("[server]", &format!("[server]\n{key} = {value}"));
            PublisherServiceConfig::from_toml_str(&toml, Path::new("/")).unwrap_err().to_string()
        };
        assert_eq!(
            refused("body_limit", "10"),
            "configuration: [server] body_limit] must be between 1024 and 67108864 bytes (SAML metadata bodies need \
             up to 256 KiB; default 1048576)"
        );
        assert_eq!(
            refused("request_timeout_secs", "0"),
            "configuration: [server] request_timeout_secs] must be at least 1 (default 120)"
        );
        assert_eq!(
            refused("lease_ttl_secs", "9"),
            "configuration: [server] lease_ttl_secs] must be at least 10 (default 120)"
        );
        let toml = minimal("").replace("http://127.0.0.1:8780", "ftp://127.0.0.1:8780");
        let e = PublisherServiceConfig::from_toml_str(&toml, Path::new("/")).unwrap_err().to_string();
        assert_eq!(
            e,
            "configuration: [server] public_url] must be an http(s) URL, e.g. https://mercador.example.com:8780"
        );
        let edges = minimal("").replace("[server]", "[server]\nbody_limit = 1024\nlease_ttl_secs = 10");
        assert!(PublisherServiceConfig::from_toml_str(&edges, Path::new("/")).is_ok());
    }

    #[test]
    fn refuses_a_missing_or_bad_key() {
        let toml = minimal("").replace(&format!("key = \"{KEY}\""), "");
        let e = PublisherServiceConfig::from_toml_str(&toml, Path::new("/")).unwrap_err().to_string();
        assert!(e.contains("[secrets] key is missing") && e.contains("head -c 32 /dev/urandom | base64"), "{e}");
        let toml = minimal("").replace(KEY, "c2hvcnQ=");
        let e = PublisherServiceConfig::from_toml_str(&toml, Path::new("/")).unwrap_err().to_string();
        assert!(e.contains("[secrets]") && e.contains("not 32") && !e.contains("c2hvcnQ"), "{e}");
    }

    #[test]
    fn the_example_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/config/publisher.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("key_file = \"publisher.key\""));
        let text = text.replace("key_file = \"publisher.key\"", &format!("key = \"{KEY}\""));
        let c = PublisherServiceConfig::from_toml_str(&text, path.parent().unwrap()).unwrap();
        assert_eq!(c.server.region.as_deref(), Some("RegionTwo"));
        assert_eq!(c.keystone.cloud, "testbed-b");
    }

    #[test]
    fn pause_hook() {
        let c = PublisherServiceConfig::from_toml_str(
            &minimal("[testing]\npause_after_step = \"identity_provider:30s\""),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(c.pause_after_step(), Some(("identity_provider".into(), Duration::from_secs(30))));
        assert_eq!(parse_pause("trust:250ms").unwrap().1, Duration::from_millis(250));
        assert!(parse_pause("trust").is_err() && parse_pause(":3s").is_err() && parse_pause("a:3h").is_err());
        let e = PublisherServiceConfig::from_toml_str(&minimal("[testing]\npause_after_step = \"x\""), Path::new("/"))
            .unwrap_err();
        assert!(e.to_string().contains("pause_after_step"), "{e}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API
    fn environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("publisher.toml", &minimal(""))?;
            jail.set_env("MERCADOR_SERVER__LISTEN", "0.0.0.0:9999");
            jail.set_env("MERCADOR_SECRETS__KEY_ID", "2026");
            jail.set_env("MERCADOR_TESTBED_ENV", "/not/ours");
            let c = PublisherServiceConfig::load(&jail.directory().join("publisher.toml")).unwrap();
            assert_eq!(c.server.listen.port(), 9999);
            assert_eq!(c.secrets.key_id.as_deref(), Some("2026"));
            Ok(())
        });
    }
}
