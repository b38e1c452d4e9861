//! `mercador_cloud`: a home session (clouds.yaml or auth JSON), tokens at
//! home and on service providers through K2K, the multi-cloud catalogs.

use std::collections::HashMap;
use std::ffi::c_char;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use mercador_core::ErrorKind;
use mercador_core::k2k::{CloudResult, MultiCloud};
use mercador_core::keystone::{CloudConfig, Scope, Session, Token};
use secrecy::ExposeSecret as _;
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Failure, guard, mercador_result};
use crate::util::{block_on, c_string, handle, json_arg, opt_str_arg, out_arg, str_arg, write_json};

/// The default timeout of a handle's blocking calls.
const DEFAULT_TIMEOUT_MS: u64 = 60_000;

/// A cloud: one login on a home Keystone (a `clouds.yaml` cloud or an auth
/// JSON) and the sessions it opens through K2K on the service providers the
/// home token lists, each token cached until shortly before it expires.
/// Safe to share between threads. Release with [`mercador_cloud_free`].
pub struct mercador_cloud {
    clouds: MultiCloud,
    timeout_ms: AtomicU64,
    /// Sessions on service providers by service provider id, then project
    /// id (`""`: the default project), so a cached token costs no request.
    foreign: RwLock<HashMap<String, HashMap<String, Arc<Session>>>>,
}

impl mercador_cloud {
    fn new(config: &CloudConfig) -> Result<Self, Failure> {
        let session = Arc::new(config.session()?);
        Ok(Self {
            clouds: MultiCloud::new(session),
            timeout_ms: AtomicU64::new(DEFAULT_TIMEOUT_MS),
            foreign: RwLock::default(),
        })
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn home(&self) -> &Arc<Session> {
        self.clouds.home()
    }

    fn cached_session(&self, sp: &str, project: &str) -> Option<Arc<Session>> {
        let map = self.foreign.read().unwrap_or_else(|e| e.into_inner());
        map.get(sp).and_then(|m| m.get(project)).cloned()
    }

    /// The session on `sp` (a project id, or the default project).
    fn session_on(&self, sp: &str, project: Option<&str>) -> Result<Arc<Session>, Failure> {
        let key = project.unwrap_or("");
        if let Some(session) = self.cached_session(sp, key) {
            return Ok(session);
        }
        let open = || async {
            match project {
                Some(id) => self.clouds.session(sp, Scope::project_id(id)).await,
                None => self.clouds.default_session(sp).await,
            }
        };
        let session = block_on(self.timeout(), async {
            match open().await {
                // The service provider may have been added after the home
                // token was issued (its list is the token's): once, with a new one.
                Err(e) if e.kind() == ErrorKind::NotFound && self.home().cached_token().is_some() => {
                    self.home().clear();
                    open().await
                }
                other => other,
            }
        })?;
        let mut map = self.foreign.write().unwrap_or_else(|e| e.into_inner());
        Ok(map.entry(sp.to_owned()).or_default().entry(key.to_owned()).or_insert(session).clone())
    }

    /// A valid token of `session`: the cached one without entering the
    /// runtime, or a new one.
    fn token_of(&self, session: &Session) -> Result<Arc<Token>, Failure> {
        match session.cached_token() {
            Some(token) => Ok(token),
            None => block_on(self.timeout(), session.token()),
        }
    }
}

/// Loads cloud `name` from a `clouds.yaml` (`path`, or when NULL the first
/// of `$OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`,
/// `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`;
/// `secure.yaml` merged in) and writes a new handle to `*out`. Sends
/// nothing: the first token is issued on first use.
///
/// # Safety
/// `name` and `path` are NULL or NUL-terminated strings; `out` is NULL or
/// valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_cloud_from_clouds_yaml(
    name: *const c_char,
    path: *const c_char,
    out: *mut *mut mercador_cloud,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (name, path, out) = unsafe { (str_arg(name, "name")?, opt_str_arg(path, "path")?, out_arg(out, "out")?) };
        let config = CloudConfig::from_clouds_yaml(name, path.map(Path::new))?;
        *out = Box::into_raw(Box::new(mercador_cloud::new(&config)?));
        Ok(())
    })
}

/// Makes a cloud from an auth JSON: a `clouds.yaml` cloud entry as JSON,
/// e.g. `{"auth": {"auth_url": "https://keystone:5000/v3", "username":
/// "alice", "password": "...", "user_domain_name": "Default",
/// "project_name": "demo", "project_domain_name": "Default"},
/// "region_name": "RegionOne"}` (the `auth` keys may also be given at the
/// top level; application credentials and tokens as in `clouds.yaml`).
/// Writes a new handle to `*out`; sends nothing.
///
/// # Safety
/// `auth_json` is NULL or a NUL-terminated string; `out` is NULL or valid
/// for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_cloud_from_json(
    auth_json: *const c_char,
    out: *mut *mut mercador_cloud,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (entry, out) = unsafe { (json_arg(auth_json, "auth_json")?, out_arg(out, "out")?) };
        if !entry.is_object() {
            return Err(Failure::new(mercador_result::InvalidJson, "auth_json must be a JSON object"));
        }
        // The same reading as clouds.yaml's: JSON is YAML.
        let clouds = json!({ "clouds": { "json": entry } }).to_string();
        let config = CloudConfig::from_yaml_str(&clouds, None, "json").map_err(|e| {
            let mut failure = Failure::from(e);
            failure.message = format!("auth_json: {}", failure.message);
            failure
        })?;
        *out = Box::into_raw(Box::new(mercador_cloud::new(&config)?));
        Ok(())
    })
}

/// Releases a cloud. `NULL` does nothing. No call on it may be running or
/// follow.
///
/// # Safety
/// `cloud` is NULL or a handle made by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_cloud_free(cloud: *mut mercador_cloud) {
    if cloud.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: made by Box::into_raw here, not freed yet (the caller's contract).
        drop(unsafe { Box::from_raw(cloud) });
    }));
}

/// Sets how long a blocking call on this cloud (and on the service clients
/// made from it afterwards) may take, in milliseconds (default 60000).
/// 0 is refused (`MERCADOR_RESULT_INVALID_INPUT`).
///
/// # Safety
/// `cloud` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_cloud_set_timeout_ms(
    cloud: *const mercador_cloud,
    timeout_ms: u64,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract.
        let cloud = unsafe { handle(cloud, "cloud")? };
        if timeout_ms == 0 {
            return Err(Failure::new(mercador_result::InvalidInput, "timeout_ms must be at least 1"));
        }
        cloud.timeout_ms.store(timeout_ms, Ordering::Relaxed);
        Ok(())
    })
}

/// Issues a token: at home when `service_provider` is NULL, else on that
/// service provider (its id in the home Keystone, as listed by
/// [`mercador_cloud_service_providers`]) through K2K, scoped to project
/// `project_id` there, or when NULL to the project named like the home
/// project (else the first the federated user may reach). Tokens are
/// cached: a valid one is returned without a request.
///
/// Writes the token (the secret for `X-Auth-Token`; release it with
/// [`mercador_string_free`], which zeroes it) to `*out_token` and, when
/// `out_info_json` is not NULL, what Keystone says about it as JSON
/// (`expires_at`, `user`, `project`, `roles`, `catalog`,
/// `service_providers`...) to `*out_info_json`.
///
/// # Safety
/// `cloud` is NULL or a live handle; the strings are NULL or
/// NUL-terminated; the out-parameters are NULL or valid for writing a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_cloud_token(
    cloud: *const mercador_cloud,
    service_provider: *const c_char,
    project_id: *const c_char,
    out_token: *mut *mut c_char,
    out_info_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (cloud, sp, project, out_token) = unsafe {
            (
                handle(cloud, "cloud")?,
                opt_str_arg(service_provider, "service_provider")?,
                opt_str_arg(project_id, "project_id")?,
                out_arg(out_token, "out_token")?,
            )
        };
        // SAFETY: NULL means "not wanted"; else valid for writes (the caller's contract).
        let out_info = unsafe { out_info_json.as_mut() };
        let token = match sp {
            None => cloud.token_of(cloud.home())?,
            Some(sp) => {
                let session = cloud.session_on(sp, project)?;
                cloud.token_of(&session)?
            }
        };
        // Both outputs are made before either is written.
        let info = match out_info {
            Some(_) => Some(serde_json::to_string(token.info()).map_err(|e| {
                Failure::new(mercador_result::InvalidResponse, format!("cannot write the token's JSON: {e}"))
            })?),
            None => None,
        };
        let secret = c_string(token.secret().expose_secret())?;
        let info = match info.as_deref().map(c_string).transpose() {
            Ok(info) => info,
            Err(e) => {
                // SAFETY: just made by c_string, never handed out.
                unsafe { crate::util::mercador_string_free(secret) };
                return Err(e);
            }
        };
        *out_token = secret;
        if let (Some(out), Some(info)) = (out_info, info) {
            *out = info;
        }
        Ok(())
    })
}

/// Writes the service providers the home token lists (`[{"id", "auth_url",
/// "sp_url"}]`) as JSON to `*out_json`. The list is the cached home
/// token's: a service provider added since shows once a new home token is
/// issued (at its expiry, or by [`mercador_cloud_token`] asking for that
/// service provider, which renews the home token once when it is unknown).
///
/// # Safety
/// `cloud` is NULL or a live handle; `out_json` is NULL or valid for
/// writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_cloud_service_providers(
    cloud: *const mercador_cloud,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (cloud, out) = unsafe { (handle(cloud, "cloud")?, out_arg(out_json, "out_json")?) };
        let token = cloud.token_of(cloud.home())?;
        write_json(out, &token.service_providers)
    })
}

/// One cloud's answer of an aggregate, as JSON.
fn cloud_answers<T: Serialize>(answers: Vec<CloudResult<T>>, field: &str) -> Value {
    let rows = answers
        .into_iter()
        .map(|answer| {
            let mut row = json!({
                "cloud": answer.cloud.to_string(),
                "keystone": answer.keystone.map(|u| u.to_string()),
                "elapsed_ms": answer.elapsed.as_secs_f64() * 1000.0,
            });
            match answer.result {
                Ok(value) => row[field] = serde_json::to_value(value).unwrap_or(Value::Null),
                Err(e) => {
                    let code = mercador_result::from(e.kind());
                    row["error"] = json!({"result": code as i32, "kind": e.kind().as_str(), "message": e.to_string()});
                }
            }
            row
        })
        .collect();
    Value::Array(rows)
}

/// The catalogs of every cloud (home, then each service provider of the
/// home token through K2K with its default project), fetched at once:
/// writes `[{"cloud": "home" | <service provider id>, "keystone": <url>,
/// "elapsed_ms": <n>, "catalog": [...]}]` to `*out_json`, a cloud that
/// failed holding `"error": {"result", "kind", "message"}` instead of
/// `"catalog"`. Fails only when the home login does.
///
/// # Safety
/// `cloud` is NULL or a live handle; `out_json` is NULL or valid for
/// writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_cloud_catalogs(
    cloud: *const mercador_cloud,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (cloud, out) = unsafe { (handle(cloud, "cloud")?, out_arg(out_json, "out_json")?) };
        let answers = block_on(cloud.timeout(), cloud.clouds.catalogs())?;
        write_json(out, &cloud_answers(answers, "catalog"))
    })
}

/// The projects the user may reach on every cloud, as
/// [`mercador_cloud_catalogs`] (each row's `"projects"`).
///
/// # Safety
/// `cloud` is NULL or a live handle; `out_json` is NULL or valid for
/// writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_cloud_projects(
    cloud: *const mercador_cloud,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (cloud, out) = unsafe { (handle(cloud, "cloud")?, out_arg(out_json, "out_json")?) };
        let answers = block_on(cloud.timeout(), cloud.clouds.projects())?;
        write_json(out, &cloud_answers(answers, "projects"))
    })
}
