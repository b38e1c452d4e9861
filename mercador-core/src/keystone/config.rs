//! Cloud configuration as the `openstack` CLI reads it: `clouds.yaml` (with
//! `secure.yaml` merged in) selected by `--os-cloud`/`OS_CLOUD`, or `OS_*`
//! environment variables.

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
    /// `OS_CLIENT_SECURE_FILE`) is merged over it.
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
        Self::from_yaml_str(&text, secure.as_deref(), cloud)
            .map_err(|e| Error::Configuration(format!("{}: {e}", path.display())))
    }

    /// The cloud `cloud` from `clouds.yaml` text, with optional `secure.yaml` text.
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
        let mut settings = Settings::new();
        if let Some(map) = entry.as_mapping() {
            for (k, v) in map {
                if let (Some(k), Some(v)) = (k.as_str(), scalar(v)) {
                    settings.insert(k.to_owned(), v);
                }
            }
            if let Some(auth) = entry.get("auth").and_then(Value::as_mapping) {
                for (k, v) in auth {
                    if let (Some(k), Some(v)) = (k.as_str(), scalar(v)) {
                        settings.insert(k.to_owned(), v);
                    }
                }
            }
        }
        let mut config = Self::from_settings(settings, &format!("cloud {cloud:?}"))?;
        config.name = Some(cloud.to_owned());
        Ok(config)
    }

    /// From the `OS_*` environment variables.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// From `OS_*` variables given by a lookup function (testable form of
    /// [`CloudConfig::from_env`]).
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        const KEYS: &[&str] = &[
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
        let mut settings = Settings::new();
        for key in KEYS {
            if let Some(v) = lookup(&format!("OS_{}", key.to_ascii_uppercase())).filter(|v| !v.is_empty()) {
                settings.insert((*key).to_owned(), v);
            }
        }
        if settings.is_empty() {
            return Err(Error::Configuration(
                "no cloud configured: pass --os-cloud / set OS_CLOUD to a cloud of clouds.yaml, \
                 or set OS_AUTH_URL and the OS_* credentials"
                    .into(),
            ));
        }
        Self::from_settings(settings, "the OS_* environment")
    }

    fn from_settings(mut s: Settings, origin: &str) -> Result<Self> {
        let missing = |key: &str| Error::Configuration(format!("{origin} has no {key}"));
        // v2-era aliases.
        for (old, new) in [("tenant_name", "project_name"), ("tenant_id", "project_id")] {
            if let Some(v) = s.remove(old) {
                s.entry(new.to_owned()).or_insert(v);
            }
        }
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
}
