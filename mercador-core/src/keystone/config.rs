//! Cloud configuration as the `openstack` CLI reads it: `clouds.yaml` (with
//! `secure.yaml` merged in) selected by `--os-cloud`/`OS_CLOUD`, or `OS_*`
//! environment variables.
//!
//! [`CloudSettings`] is the flat form (`project_name`, `region_name`, ...) a
//! cloud, the `OS_*` variables or command-line options give; settings given
//! on top of a cloud's are merged with [`CloudSettings::override_with`]
//! before [`CloudSettings::into_config`] works out the auth type, the scope
//! and the domain defaults, so an override replaces what it stands for (a
//! project id replaces the cloud's project name, a token the cloud's
//! password login, a domain scope the cloud's project scope).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;
use serde_yaml_ng::Value;
use url::Url;

use super::auth::{AppCredentialRef, Credentials, DirectAuth, DomainRef, NameOrId, Scope};
use super::catalog::Interface;
use super::error::{Error, Result};
use super::http::{HttpClient, HttpConfig};
use super::session::Session;

/// One cloud's connection settings. `Debug` redacts secrets.
#[derive(Debug, Clone)]
pub struct CloudConfig {
    /// Name in `clouds.yaml`, when it came from there.
    pub name: Option<String>,
    /// Identity endpoint.
    pub auth_url: Url,
    /// Credentials.
    pub credentials: Credentials,
    /// Scope.
    pub scope: Scope,
    /// Preferred region for catalog lookups.
    pub region_name: Option<String>,
    /// Preferred interface for catalog lookups.
    pub interface: Interface,
    /// Transport settings (`cacert`, `verify`).
    pub http: HttpConfig,
}

/// Flat settings: `auth` keys plus top-level ones, as strings.
type Settings = BTreeMap<String, String>;

/// The keys [`CloudSettings`] understands, as in `clouds.yaml` (the `auth`
/// section's and the top-level ones alike); `OS_<KEY>` in the environment.
pub const KEYS: &[&str] = &[
    "auth_url",
    "auth_type",
    "username",
    "user_id",
    "password",
    "user_domain_name",
    "user_domain_id",
    "project_name",
    "project_id",
    "tenant_name",
    "tenant_id",
    "project_domain_name",
    "project_domain_id",
    "domain_name",
    "domain_id",
    "default_domain",
    "system_scope",
    "token",
    "application_credential_id",
    "application_credential_name",
    "application_credential_secret",
    "region_name",
    "interface",
    "cacert",
    "insecure",
];

/// Keys whose values are secrets: never shown by `Debug`.
const SECRET_KEYS: &[&str] = &["password", "token", "application_credential_secret"];

/// Keys that name the same thing in different ways: an override of one
/// drops the others from the settings below it.
const ALTERNATIVES: &[&[&str]] = &[
    &["project_id", "project_name"],
    &["project_domain_id", "project_domain_name"],
    &["user_id", "username"],
    &["user_domain_id", "user_domain_name"],
    &["domain_id", "domain_name"],
    &["application_credential_id", "application_credential_name"],
    &["insecure", "verify"],
];

/// The kinds of scope: an override of one kind drops the others (a project
/// given on the command line replaces a cloud's domain or system scope, a
/// domain its project...).
const SCOPES: &[&[&str]] = &[&["project_id", "project_name"], &["domain_id", "domain_name"], &["system_scope"]];

/// A cloud's settings in flat form (the `auth` keys and the top-level ones of
/// `clouds.yaml`, or the `OS_*` variables without their prefix), before they
/// are checked and turned into a [`CloudConfig`]. Overrides (the `--os-*`
/// options of a command line) are merged in with [`Self::override_with`].
/// `Debug` redacts secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CloudSettings {
    /// The cloud's name in `clouds.yaml`, when it came from there.
    name: Option<String>,
    /// The `clouds.yaml` file it came from, when read from one (for errors).
    file: Option<PathBuf>,
    values: Settings,
}

impl std::fmt::Debug for CloudSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (k, v) in &self.values {
            if SECRET_KEYS.contains(&k.as_str()) {
                map.entry(k, &"<redacted>");
            } else {
                map.entry(k, v);
            }
        }
        map.finish()
    }
}

impl CloudSettings {
    /// No settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// The settings of cloud `cloud` of a `clouds.yaml` file: `path`, or the
    /// first of `OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`,
    /// `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`, with
    /// a `secure.yaml` found the same way (or `OS_CLIENT_SECURE_FILE`)
    /// merged over it.
    pub fn from_clouds_yaml(cloud: &str, path: Option<&Path>) -> Result<Self> {
        let candidates = search_paths("OS_CLIENT_CONFIG_FILE", "clouds.yaml");
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
                Error::Configuration(format!(
                    "cloud {cloud:?} asked for, but no clouds.yaml found (looked in {}); \
                     create one or set OS_CLIENT_CONFIG_FILE",
                    candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                ))
            })?,
        };
        let text = read(&path)?;
        let secure_path = search_paths("OS_CLIENT_SECURE_FILE", "secure.yaml").into_iter().find(|p| p.is_file());
        let secure = secure_path.as_deref().map(read).transpose()?;
        let mut settings = Self::from_yaml_str(&text, secure.as_deref(), cloud)
            .map_err(|e| Error::Configuration(format!("{}: {e}", path.display())))?;
        settings.file = Some(path);
        Ok(settings)
    }

    /// The `clouds.yaml` file these settings were read from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The settings of cloud `cloud` in `clouds.yaml` text, with optional
    /// `secure.yaml` text.
    pub fn from_yaml_str(clouds: &str, secure: Option<&str>, cloud: &str) -> Result<Self> {
        let mut doc: Value =
            serde_yaml_ng::from_str(clouds).map_err(|e| Error::Configuration(format!("invalid YAML: {e}")))?;
        if let Some(secure) = secure {
            let overlay: Value = serde_yaml_ng::from_str(secure)
                .map_err(|e| Error::Configuration(format!("invalid secure.yaml: {e}")))?;
            merge(&mut doc, overlay);
        }
        let clouds = doc
            .get("clouds")
            .and_then(Value::as_mapping)
            .ok_or_else(|| Error::Configuration("no top-level `clouds:` mapping".into()))?;
        let entry = clouds.get(cloud).ok_or_else(|| {
            let names: Vec<&str> = clouds.keys().filter_map(Value::as_str).collect();
            Error::Configuration(format!("no cloud named {cloud:?} (clouds defined: {})", names.join(", ")))
        })?;
        let mut values = Settings::new();
        if let Some(map) = entry.as_mapping() {
            for (k, v) in map {
                if let (Some(k), Some(v)) = (k.as_str(), scalar(v)) {
                    values.insert(k.to_owned(), v);
                }
            }
            if let Some(auth) = entry.get("auth").and_then(Value::as_mapping) {
                for (k, v) in auth {
                    if let (Some(k), Some(v)) = (k.as_str(), scalar(v)) {
                        values.insert(k.to_owned(), v);
                    }
                }
            }
        }
        let mut settings = Self { name: Some(cloud.to_owned()), file: None, values };
        settings.normalise();
        Ok(settings)
    }

    /// The `OS_<KEY>` variables (for every key of [`KEYS`]) that `lookup`
    /// finds non-empty; testable form of reading the environment.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut settings = Self::new();
        for key in KEYS {
            if let Some(v) = lookup(&var_name(key)).filter(|v| !v.is_empty()) {
                settings.values.insert((*key).to_owned(), v);
            }
        }
        settings.normalise();
        settings
    }

    /// Sets `key` (one of [`KEYS`], or `verify`) to `value`.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_owned(), value.into());
        self.normalise();
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The cloud's name in `clouds.yaml`, when the settings came from there.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Merges `overrides` over these settings, the way the `--os-*` options
    /// of the `openstack` CLI override a cloud's: each key given replaces
    /// this one's, and
    /// - the other ways of naming the same thing are dropped: a project id
    ///   replaces a project name (and the other way round), likewise user id
    ///   and user name, the id and name of the user's, the project's and the
    ///   scope's domain, application credential id and name, `insecure` and
    ///   `verify`;
    /// - a scope replaces the other kinds of scope: a project drops a domain
    ///   or system scope, a domain (`domain_id`, `domain_name`) drops a
    ///   project or system scope, `system_scope` drops a project or domain;
    /// - the credential given picks the auth type unless `auth_type` is
    ///   given too: a token (without a password) means `token`, an
    ///   application credential's secret or id `v3applicationcredential`, a
    ///   password `password`. The other credentials stay (and are unused),
    ///   as they do in the `openstack` CLI.
    ///
    /// What is not overridden (the project's domain when only the project's
    /// name is given, the region...) stays as it was.
    pub fn override_with(&mut self, overrides: &CloudSettings) {
        let given = |key: &str| overrides.values.contains_key(key);
        let mut dropped: Vec<&str> = Vec::new();
        for group in ALTERNATIVES.iter().filter(|group| group.iter().any(|k| given(k))) {
            dropped.extend(group.iter());
        }
        for scope in SCOPES.iter().filter(|scope| scope.iter().any(|k| given(k))) {
            dropped.extend(SCOPES.iter().filter(|other| *other != scope).flat_map(|other| other.iter()));
        }
        for key in dropped {
            if !given(key) {
                self.values.remove(key);
            }
        }
        let auth_type = overrides.get("auth_type").or_else(|| {
            if given("token") && !given("password") {
                Some("token")
            } else if given("application_credential_secret") || given("application_credential_id") {
                Some("v3applicationcredential")
            } else if given("password") {
                Some("password")
            } else {
                None
            }
        });
        if let Some(auth_type) = auth_type {
            self.values.insert("auth_type".to_owned(), auth_type.to_owned());
        }
        for (k, v) in &overrides.values {
            self.values.insert(k.clone(), v.clone());
        }
    }

    /// The `OS_*` variables that `lookup` finds set to something else than
    /// these settings hold (variable names only, never values): with a named
    /// cloud they are not applied, and a caller may say so.
    pub fn differing_vars(&self, lookup: impl Fn(&str) -> Option<String>) -> Vec<String> {
        let vars = Self::from_vars(lookup);
        KEYS.iter().filter(|k| vars.get(k).is_some_and(|v| self.get(k) != Some(v))).map(|k| var_name(k)).collect()
    }

    /// Checks the settings and works out credentials, scope, region,
    /// interface and transport. `origin` names where they came from in
    /// errors (`FILE: cloud "NAME"` is used when they came from `clouds.yaml`).
    pub fn into_config(self, origin: &str) -> Result<CloudConfig> {
        if self.values.is_empty() {
            return Err(no_cloud_configured());
        }
        let origin = match (&self.file, &self.name) {
            (Some(file), Some(name)) => format!("{}: cloud {name:?}", file.display()),
            (None, Some(name)) => format!("cloud {name:?}"),
            _ => origin.to_owned(),
        };
        let mut config = CloudConfig::from_settings(self.values, &origin)?;
        config.name = self.name;
        Ok(config)
    }

    /// When these settings name an `auth_type` but not its secret (the
    /// `--os-auth-type` of a command line), takes the secret from its `OS_*`
    /// variable as `lookup` finds it: `OS_PASSWORD`, `OS_TOKEN` or
    /// `OS_APPLICATION_CREDENTIAL_SECRET`.
    pub fn take_secret_from_vars(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        let key = match self.get("auth_type") {
            Some("password" | "v3password") => "password",
            Some("token" | "v3token") => "token",
            Some("v3applicationcredential" | "applicationcredential" | "application_credential") => {
                "application_credential_secret"
            }
            _ => return,
        };
        if self.get(key).is_none() {
            if let Some(value) = lookup(&var_name(key)).filter(|v| !v.is_empty()) {
                self.set(key, value);
            }
        }
    }

    /// v2-era aliases (`tenant_name`, `tenant_id`) become the v3 keys.
    fn normalise(&mut self) {
        for (old, new) in [("tenant_name", "project_name"), ("tenant_id", "project_id")] {
            if let Some(v) = self.values.remove(old) {
                self.values.entry(new.to_owned()).or_insert(v);
            }
        }
    }
}

/// `OS_<KEY>`.
fn var_name(key: &str) -> String {
    format!("OS_{}", key.to_ascii_uppercase())
}

impl CloudConfig {
    /// The cloud named `cloud`, or `OS_CLOUD`, from `clouds.yaml`; without
    /// either, the `OS_*` environment variables.
    pub fn load(cloud: Option<&str>) -> Result<Self> {
        match cloud.map(str::to_owned).or_else(|| std::env::var("OS_CLOUD").ok().filter(|s| !s.is_empty())) {
            Some(name) => Self::from_clouds_yaml(&name, None),
            None => Self::from_env(),
        }
    }

    /// The cloud `cloud` from a `clouds.yaml` file: `path`, or the first of
    /// `OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`, `~/.config/openstack/clouds.yaml`,
    /// `/etc/openstack/clouds.yaml`. A `secure.yaml` found the same way (or
    /// `OS_CLIENT_SECURE_FILE`) is merged over it. With overrides, see
    /// [`CloudSettings::override_with`].
    pub fn from_clouds_yaml(cloud: &str, path: Option<&Path>) -> Result<Self> {
        CloudSettings::from_clouds_yaml(cloud, path)?.into_config("clouds.yaml")
    }

    /// The cloud `cloud` from `clouds.yaml` text, with optional `secure.yaml` text.
    pub fn from_yaml_str(clouds: &str, secure: Option<&str>, cloud: &str) -> Result<Self> {
        CloudSettings::from_yaml_str(clouds, secure, cloud)?.into_config("clouds.yaml")
    }

    /// From the `OS_*` environment variables.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// From `OS_*` variables given by a lookup function (testable form of
    /// [`CloudConfig::from_env`]).
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        CloudSettings::from_vars(lookup).into_config("the OS_* environment")
    }

    fn from_settings(mut s: Settings, origin: &str) -> Result<Self> {
        let missing = |key: &str| {
            Error::Configuration(format!(
                "{origin} has no {key}: give it in clouds.yaml (secrets in secure.yaml) or as its OS_* variable"
            ))
        };
        // (v2-era aliases were made v3 keys by CloudSettings::normalise.)
        if let Some(d) = s.get("default_domain").cloned() {
            for key in ["user_domain_id", "project_domain_id"] {
                let name_key = key.replace("_id", "_name");
                if !s.contains_key(key) && !s.contains_key(&name_key) {
                    s.insert(key.to_owned(), d.clone());
                }
            }
        }
        let auth_url = s.get("auth_url").ok_or_else(|| missing("auth_url"))?;
        let auth_url = Url::parse(auth_url)
            .map_err(|e| Error::Configuration(format!("{origin}: auth_url {auth_url:?} is not a URL: {e}")))?;
        let domain = |id_key: &str, name_key: &str| -> Option<DomainRef> {
            s.get(id_key)
                .map(|v| DomainRef::Id(v.clone()))
                .or_else(|| s.get(name_key).map(|v| DomainRef::Name(v.clone())))
        };
        let user = || -> Result<NameOrId> {
            if let Some(id) = s.get("user_id") {
                return Ok(NameOrId::Id(id.clone()));
            }
            let name = s.get("username").ok_or_else(|| missing("username or user_id"))?;
            let domain = domain("user_domain_id", "user_domain_name")
                .ok_or_else(|| missing("user_domain_name or user_domain_id (needed with username)"))?;
            Ok(NameOrId::Name { name: name.clone(), domain })
        };
        let secret = |key: &str| s.get(key).map(|v| SecretString::from(v.clone())).ok_or_else(|| missing(key));

        let auth_type = s.get("auth_type").map(String::as_str).unwrap_or_else(|| {
            if s.contains_key("application_credential_secret") {
                "v3applicationcredential"
            } else if s.contains_key("token") && !s.contains_key("password") {
                "token"
            } else {
                "password"
            }
        });
        let credentials = match auth_type {
            "password" | "v3password" => Credentials::Password { user: user()?, password: secret("password")? },
            "token" | "v3token" => Credentials::Token { token: secret("token")? },
            "v3applicationcredential" | "applicationcredential" | "application_credential" => {
                let credential = if let Some(id) = s.get("application_credential_id") {
                    AppCredentialRef::Id(id.clone())
                } else {
                    let name = s
                        .get("application_credential_name")
                        .ok_or_else(|| missing("application_credential_id or application_credential_name"))?;
                    AppCredentialRef::Name { name: name.clone(), user: user()? }
                };
                Credentials::ApplicationCredential { credential, secret: secret("application_credential_secret")? }
            }
            other => {
                return Err(Error::Configuration(format!(
                    "{origin}: auth_type {other:?} is not supported; use password, token or v3applicationcredential"
                )));
            }
        };

        let scope = if matches!(credentials, Credentials::ApplicationCredential { .. }) {
            Scope::Unscoped
        } else if let Some(id) = s.get("project_id") {
            Scope::Project(NameOrId::Id(id.clone()))
        } else if let Some(name) = s.get("project_name") {
            let domain = domain("project_domain_id", "project_domain_name")
                .ok_or_else(|| missing("project_domain_name or project_domain_id (needed with project_name)"))?;
            Scope::Project(NameOrId::Name { name: name.clone(), domain })
        } else if let Some(d) = domain("domain_id", "domain_name") {
            Scope::Domain(d)
        } else if let Some(system) = s.get("system_scope") {
            if system != "all" {
                return Err(Error::Configuration(format!("{origin}: system_scope must be \"all\", not {system:?}")));
            }
            Scope::System
        } else {
            Scope::Unscoped
        };

        let interface = s.get("interface").map(|i| i.parse()).transpose()?.unwrap_or_default();
        let mut http = HttpConfig::default();
        if let Some(cacert) = s.get("cacert") {
            http.ca_certificate = Some(PathBuf::from(cacert));
        }
        let truthy = |v: &str| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on");
        if s.get("verify").is_some_and(|v| !truthy(v)) || s.get("insecure").is_some_and(|v| truthy(v)) {
            http.insecure = true;
        }
        Ok(Self {
            name: None,
            auth_url,
            credentials,
            scope,
            region_name: s.get("region_name").cloned(),
            interface,
            http,
        })
    }

    /// The authentication method these settings describe.
    pub fn auth_method(&self) -> Result<DirectAuth> {
        DirectAuth::new(&self.auth_url, self.credentials.clone())
    }

    /// A session with these settings.
    pub fn session(&self) -> Result<Session> {
        let http = HttpClient::new(&self.http)?;
        Ok(Session::with_http(http, Arc::new(self.auth_method()?), self.scope.clone())
            .endpoint_preference(self.interface, self.region_name.clone()))
    }
}

/// The error for no settings at all.
fn no_cloud_configured() -> Error {
    Error::Configuration(
        "no cloud configured: pass --os-cloud / set OS_CLOUD to a cloud of clouds.yaml, \
         or set OS_AUTH_URL and the OS_* credentials"
            .into(),
    )
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::Configuration(format!("cannot read {}: {e}", path.display())))
}

fn search_paths(env: &str, file: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os(env) {
        out.push(PathBuf::from(p));
    }
    out.push(PathBuf::from(file));
    if let Some(home) = std::env::var_os("HOME") {
        out.push(PathBuf::from(home).join(".config/openstack").join(file));
    }
    out.push(PathBuf::from("/etc/openstack").join(file));
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Deep-merges `overlay` into `base` (mappings merge, everything else replaces).
fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystone::auth::AuthMethod as _;
    use secrecy::ExposeSecret;

    const CLOUDS: &str = r#"
clouds:
  a-admin:
    auth:
      auth_url: http://127.0.0.1:5001/v3
      username: admin
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: internalURL
    identity_api_version: 3
  sys:
    auth:
      auth_url: http://k:5000
      user_id: u1
      password: pw
      system_scope: all
    verify: false
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: http://k:5000/v3
      application_credential_id: ac1
      application_credential_secret: shh
"#;
    const SECURE: &str = "clouds:\n  a-admin:\n    auth:\n      password: from-secure\n";

    #[test]
    fn clouds_yaml_with_secure_yaml() {
        let c = CloudConfig::from_yaml_str(CLOUDS, Some(SECURE), "a-admin").unwrap();
        assert_eq!(c.auth_url.as_str(), "http://127.0.0.1:5001/v3");
        assert_eq!(c.scope, Scope::project("admin", "Default"));
        assert_eq!(c.region_name.as_deref(), Some("RegionOne"));
        assert_eq!(c.interface, Interface::Internal);
        match &c.credentials {
            Credentials::Password { user, password } => {
                assert_eq!(*user, NameOrId::name_in("admin", "Default"));
                assert_eq!(password.expose_secret(), "from-secure");
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{c:?}").contains("from-secure"));
    }

    #[test]
    fn system_scope_and_verify() {
        let c = CloudConfig::from_yaml_str(CLOUDS, None, "sys").unwrap();
        assert_eq!(c.scope, Scope::System);
        assert!(c.http.insecure);
        assert_eq!(c.auth_method().unwrap().auth_url().as_str(), "http://k:5000/v3");
    }

    #[test]
    fn application_credential() {
        let c = CloudConfig::from_yaml_str(CLOUDS, None, "appcred").unwrap();
        assert!(
            matches!(c.credentials, Credentials::ApplicationCredential { credential: AppCredentialRef::Id(ref id), .. } if id == "ac1")
        );
        assert_eq!(c.scope, Scope::Unscoped);
    }

    #[test]
    fn errors_name_what_is_missing() {
        let e = CloudConfig::from_yaml_str(CLOUDS, None, "nope").unwrap_err();
        assert!(e.to_string().contains("clouds defined: a-admin, sys, appcred"), "{e}");
        let e = CloudConfig::from_yaml_str(CLOUDS, None, "a-admin").unwrap_err();
        assert!(e.to_string().contains("has no password"), "{e}");
    }

    #[test]
    fn os_env_variables() {
        let vars: BTreeMap<&str, &str> = [
            ("OS_AUTH_URL", "http://k:5000/v3"),
            ("OS_USERNAME", "demo"),
            ("OS_PASSWORD", "pw"),
            ("OS_TENANT_NAME", "demo"),
            ("OS_DEFAULT_DOMAIN", "default"),
            ("OS_REGION_NAME", "RegionTwo"),
        ]
        .into_iter()
        .collect();
        let c = CloudConfig::from_vars(|k| vars.get(k).map(|v| (*v).to_owned())).unwrap();
        assert_eq!(
            c.scope,
            Scope::Project(NameOrId::Name { name: "demo".into(), domain: DomainRef::Id("default".into()) })
        );
        assert_eq!(c.region_name.as_deref(), Some("RegionTwo"));
        let e = CloudConfig::from_vars(|_| None).unwrap_err();
        assert!(e.to_string().contains("OS_CLOUD"), "{e}");
    }

    /// `clouds.yaml`'s `a-admin` (with its password) and the overrides `pairs` merged over it.
    fn a_admin_with(pairs: &[(&str, &str)]) -> CloudSettings {
        let mut settings = CloudSettings::from_yaml_str(CLOUDS, Some(SECURE), "a-admin").unwrap();
        let mut overrides = CloudSettings::new();
        for (k, v) in pairs {
            overrides.set(k, *v);
        }
        settings.override_with(&overrides);
        settings
    }

    fn password_user(c: &CloudConfig) -> NameOrId {
        match &c.credentials {
            Credentials::Password { user, .. } => user.clone(),
            other => panic!("not a password login: {other:?}"),
        }
    }

    #[test]
    fn no_overrides_leave_the_cloud_as_it_is() {
        let merged = a_admin_with(&[]).into_config("x").unwrap();
        let plain = CloudConfig::from_yaml_str(CLOUDS, Some(SECURE), "a-admin").unwrap();
        assert_eq!(merged.scope, plain.scope);
        assert_eq!(merged.name.as_deref(), Some("a-admin"));
        assert_eq!(password_user(&merged), password_user(&plain));
    }

    #[test]
    fn a_project_name_overrides_the_clouds_keeping_its_domain() {
        let c = a_admin_with(&[("project_name", "demo")]).into_config("x").unwrap();
        assert_eq!(c.scope, Scope::project("demo", "Default"));
        assert_eq!(password_user(&c), NameOrId::name_in("admin", "Default"));
        assert_eq!(c.region_name.as_deref(), Some("RegionOne"));
        // With its own domain.
        let c = a_admin_with(&[("project_name", "demo"), ("project_domain_id", "d1")]).into_config("x").unwrap();
        assert_eq!(c.scope, Scope::Project(NameOrId::Name { name: "demo".into(), domain: DomainRef::Id("d1".into()) }));
        // The v2 alias counts as a project name.
        let c = a_admin_with(&[("tenant_name", "demo")]).into_config("x").unwrap();
        assert_eq!(c.scope, Scope::project("demo", "Default"));
    }

    #[test]
    fn a_project_id_replaces_the_clouds_project_name_and_back() {
        let settings = a_admin_with(&[("project_id", "p1")]);
        assert_eq!(settings.get("project_name"), None);
        assert_eq!(settings.into_config("x").unwrap().scope, Scope::Project(NameOrId::Id("p1".into())));
        // A cloud with a project id, overridden by a name.
        let mut cloud = CloudSettings::from_yaml_str(CLOUDS, Some(SECURE), "a-admin").unwrap();
        let mut id = CloudSettings::new();
        id.set("project_id", "p1");
        cloud.override_with(&id);
        let mut name = CloudSettings::new();
        name.set("project_name", "demo");
        cloud.override_with(&name);
        assert_eq!(cloud.get("project_id"), None);
        assert_eq!(cloud.into_config("x").unwrap().scope, Scope::project("demo", "Default"));
    }

    #[test]
    fn user_and_domain_overrides_replace_their_alternatives() {
        let settings = a_admin_with(&[("user_id", "u1")]);
        assert_eq!(settings.get("username"), None);
        assert_eq!(password_user(&settings.into_config("x").unwrap()), NameOrId::Id("u1".into()));
        let c = a_admin_with(&[("user_domain_id", "d1"), ("project_domain_id", "d2")]).into_config("x").unwrap();
        assert_eq!(password_user(&c), NameOrId::Name { name: "admin".into(), domain: DomainRef::Id("d1".into()) });
        assert_eq!(
            c.scope,
            Scope::Project(NameOrId::Name { name: "admin".into(), domain: DomainRef::Id("d2".into()) })
        );
        // A user name given on its own keeps the cloud's user domain.
        let c = a_admin_with(&[("username", "bob")]).into_config("x").unwrap();
        assert_eq!(password_user(&c), NameOrId::name_in("bob", "Default"));
    }

    #[test]
    fn a_scope_replaces_the_clouds_other_kind_of_scope() {
        let c = a_admin_with(&[("domain_name", "Default")]).into_config("x").unwrap();
        assert_eq!(c.scope, Scope::Domain(DomainRef::Name("Default".into())));
        let c = a_admin_with(&[("domain_id", "default")]).into_config("x").unwrap();
        assert_eq!(c.scope, Scope::Domain(DomainRef::Id("default".into())));
        let c = a_admin_with(&[("system_scope", "all")]).into_config("x").unwrap();
        assert_eq!(c.scope, Scope::System);
        // A system-scoped cloud given a project.
        let mut sys = CloudSettings::from_yaml_str(CLOUDS, None, "sys").unwrap();
        let mut project = CloudSettings::new();
        project.set("project_id", "p1");
        sys.override_with(&project);
        assert_eq!(sys.get("system_scope"), None);
        assert_eq!(sys.into_config("x").unwrap().scope, Scope::Project(NameOrId::Id("p1".into())));
        // A domain-scoped cloud given a project name (the project's domain from the cloud).
        let mut dom = a_admin_with(&[("domain_name", "Default")]);
        let mut project = CloudSettings::new();
        project.set("project_name", "demo");
        dom.override_with(&project);
        assert_eq!(dom.into_config("x").unwrap().scope, Scope::project("demo", "Default"));
        // A system scope other than "all" is refused.
        let e = a_admin_with(&[("system_scope", "some")]).into_config("x").unwrap_err();
        assert!(e.to_string().contains("system_scope must be \"all\""), "{e}");
    }

    #[test]
    fn a_token_replaces_the_password_login_and_keeps_the_scope() {
        for overrides in [&[("token", "tok-secret")][..], &[("auth_type", "token"), ("token", "tok-secret")]] {
            let c = a_admin_with(overrides).into_config("x").unwrap();
            match &c.credentials {
                Credentials::Token { token } => assert_eq!(token.expose_secret(), "tok-secret"),
                other => panic!("{other:?}"),
            }
            assert_eq!(c.scope, Scope::project("admin", "Default"));
            assert!(!format!("{c:?}").contains("tok-secret"));
        }
        // auth_type token without a token says what is missing.
        let e = a_admin_with(&[("auth_type", "token")]).into_config("x").unwrap_err();
        assert!(e.to_string().contains("cloud \"a-admin\" has no token"), "{e}");
        // Unsupported auth types are named.
        let e = a_admin_with(&[("auth_type", "v3oidcpassword")]).into_config("x").unwrap_err();
        assert!(e.to_string().contains("\"v3oidcpassword\" is not supported"), "{e}");
        // A password given on top of a token cloud logs in with the password again.
        let mut token_cloud = a_admin_with(&[("token", "tok-secret")]);
        let mut password = CloudSettings::new();
        password.set("password", "pw2");
        token_cloud.override_with(&password);
        assert_eq!(password_user(&token_cloud.into_config("x").unwrap()), NameOrId::name_in("admin", "Default"));
    }

    #[test]
    fn the_secret_of_a_named_auth_type_comes_from_its_variable() {
        let vars = |k: &str| (k == "OS_TOKEN").then(|| "tok-from-env".to_owned());
        let mut overrides = CloudSettings::new();
        overrides.set("auth_type", "token");
        overrides.take_secret_from_vars(vars);
        assert_eq!(overrides.get("token"), Some("tok-from-env"));
        // A secret given is kept; no auth type, no secret taken.
        overrides.set("token", "given");
        overrides.take_secret_from_vars(vars);
        assert_eq!(overrides.get("token"), Some("given"));
        let mut none = CloudSettings::new();
        none.take_secret_from_vars(vars);
        assert!(none.is_empty());
    }

    #[test]
    fn an_application_credential_replaces_the_password_login() {
        let c = a_admin_with(&[("application_credential_id", "ac9"), ("application_credential_secret", "s")])
            .into_config("x")
            .unwrap();
        assert!(matches!(c.credentials,
            Credentials::ApplicationCredential { credential: AppCredentialRef::Id(ref id), .. } if id == "ac9"));
        assert_eq!(c.scope, Scope::Unscoped);
        // A name replaces the cloud's id and needs the user.
        let mut appcred = CloudSettings::from_yaml_str(CLOUDS, None, "appcred").unwrap();
        let mut by_name = CloudSettings::new();
        by_name.set("application_credential_name", "mine");
        by_name.set("user_id", "u1");
        appcred.override_with(&by_name);
        let c = appcred.into_config("x").unwrap();
        assert!(matches!(c.credentials,
            Credentials::ApplicationCredential { credential: AppCredentialRef::Name { ref name, .. }, .. } if name == "mine"));
    }

    #[test]
    fn transport_overrides() {
        let c = a_admin_with(&[("insecure", "true"), ("cacert", "/etc/ca.pem")]).into_config("x").unwrap();
        assert!(c.http.insecure);
        assert_eq!(c.http.ca_certificate.as_deref(), Some(Path::new("/etc/ca.pem")));
        // `insecure: false` replaces a cloud's `verify: false`.
        let mut sys = CloudSettings::from_yaml_str(CLOUDS, None, "sys").unwrap();
        let mut secure = CloudSettings::new();
        secure.set("insecure", "false");
        sys.override_with(&secure);
        assert!(!sys.into_config("x").unwrap().http.insecure);
        let c = a_admin_with(&[("interface", "admin"), ("region_name", "R2"), ("auth_url", "http://k2:5000/v3")])
            .into_config("x")
            .unwrap();
        assert_eq!((c.interface, c.region_name.as_deref()), (Interface::Admin, Some("R2")));
        assert_eq!(c.auth_url.as_str(), "http://k2:5000/v3");
    }

    #[test]
    fn options_override_the_os_variables_the_same_way() {
        let vars: BTreeMap<&str, &str> = [
            ("OS_AUTH_URL", "http://k:5000/v3"),
            ("OS_USERNAME", "demo"),
            ("OS_PASSWORD", "pw"),
            ("OS_USER_DOMAIN_NAME", "Default"),
            ("OS_PROJECT_NAME", "demo"),
            ("OS_PROJECT_DOMAIN_NAME", "Default"),
        ]
        .into_iter()
        .collect();
        let mut settings = CloudSettings::from_vars(|k| vars.get(k).map(|v| (*v).to_owned()));
        assert_eq!(settings.name(), None);
        let mut options = CloudSettings::new();
        options.set("project_id", "p1");
        options.set("token", "tok");
        settings.override_with(&options);
        let c = settings.into_config("the OS_* environment").unwrap();
        assert_eq!(c.scope, Scope::Project(NameOrId::Id("p1".into())));
        assert!(matches!(c.credentials, Credentials::Token { .. }));
        let e = CloudSettings::new().into_config("the OS_* environment").unwrap_err();
        assert!(e.to_string().contains("OS_CLOUD"), "{e}");
    }

    #[test]
    fn differing_os_variables_are_named_without_their_values() {
        let cloud = CloudSettings::from_yaml_str(CLOUDS, Some(SECURE), "a-admin").unwrap();
        let vars: BTreeMap<&str, &str> = [
            ("OS_PROJECT_NAME", "admin"),       // the same as the cloud's
            ("OS_TENANT_NAME", "other"),        // the alias: the same key, OS_PROJECT_NAME wins
            ("OS_PASSWORD", "leftover-secret"), // differs
            ("OS_REGION_NAME", "RegionTwo"),    // differs
            ("OS_INTERFACE", ""),               // empty: not set
            ("OS_CLOUD", "elsewhere"),          // not a setting
        ]
        .into_iter()
        .collect();
        let names = cloud.differing_vars(|k| vars.get(k).map(|v| (*v).to_owned()));
        assert_eq!(names, ["OS_PASSWORD", "OS_REGION_NAME"]);
        assert!(!format!("{names:?} {cloud:?}").contains("secret"), "{cloud:?}");
    }
}
