#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // test support: failing loudly is the point
//! Support for the integration tests: the running testbed (two real
//! Keystones, B behind Apache + Shibboleth) as described by the env file that
//! `testbed/testbed.sh start` writes, admin sessions on both clouds, the real
//! `openstack` CLI, and unique names so runs never collide.
//!
//! The tests never skip: without a running testbed they fail and say how to
//! start it.

pub mod federation;
pub mod keystone_process;
pub mod publisher;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use mercador_core::keystone::{Credentials, DirectAuth, KeystoneClient, Scope, Session};
use secrecy::SecretString;
use url::Url;

/// The running testbed.
#[derive(Debug)]
pub struct Testbed {
    vars: BTreeMap<String, String>,
    env_file: PathBuf,
}

/// One SAML identity of Keystone A: a Keystone A process with its own
/// entity id, over A's database (users, projects and service providers are
/// shared by all identities).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// 0 for the Keystone A on `KEYSTONE_A_URL`.
    pub index: usize,
    /// Identity v3 URL of this process (a K2K login through it is asserted
    /// with its entity id).
    pub keystone_url: Url,
    /// Its `[saml] idp_entity_id`.
    pub entity_id: String,
    /// Its SAML metadata.
    pub metadata_url: Url,
}

/// One of the two clouds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// Keystone A: the identity provider (the subscriber's cloud).
    A,
    /// Keystone B: the service provider behind Shibboleth (the publisher's cloud).
    B,
}

impl Cloud {
    fn prefix(self) -> &'static str {
        match self {
            Cloud::A => "KEYSTONE_A",
            Cloud::B => "KEYSTONE_B",
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The env file `testbed/testbed.sh env` prints (it prints the path even
/// when the file is not written yet, then fails); panics when the script
/// cannot run.
fn testbed_env_file() -> PathBuf {
    let script = repo_root().join("testbed/testbed.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("env")
        .stderr(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} env: {e}", script.display()));
    let path = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
    assert!(!path.is_empty(), "{} env printed no path", script.display());
    PathBuf::from(path)
}

impl Testbed {
    /// The testbed described by `$MERCADOR_TESTBED_ENV`, or else by the env
    /// file `testbed/testbed.sh env` names (`$MERCADOR_TESTBED_STATE/testbed.env`,
    /// or the default state dir's, which may be outside the checkout: see
    /// testbed/README.md). Panics with instructions when there is none.
    pub fn get() -> &'static Testbed {
        static TESTBED: OnceLock<Testbed> = OnceLock::new();
        TESTBED.get_or_init(|| {
            let env_file = std::env::var_os("MERCADOR_TESTBED_ENV").map(PathBuf::from).unwrap_or_else(testbed_env_file);
            let text = std::fs::read_to_string(&env_file).unwrap_or_else(|e| {
                panic!(
                    "no testbed: cannot read {} ({e}). Start it with `testbed/testbed.sh start` \
                     (or run the whole suite with `./scripts/test`)",
                    env_file.display()
                )
            });
            let vars = text
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            Testbed { vars, env_file }
        })
    }

    /// A value of the env file; panics naming the key when absent.
    pub fn var(&self, key: &str) -> &str {
        self.vars.get(key).unwrap_or_else(|| panic!("{} has no {key}; restart the testbed", self.env_file.display()))
    }

    /// URL of the testbed's PostgreSQL database `mercador` (with its
    /// password; its role may create databases); panics with instructions
    /// when the env file has none.
    pub fn postgres_url(&self) -> &str {
        self.vars.get("MERCADOR_POSTGRES_URL").map(String::as_str).unwrap_or_else(|| {
            panic!(
                "{} has no MERCADOR_POSTGRES_URL: the testbed's PostgreSQL is not set up. \
                 Run `testbed/testbed.sh start` (it starts only PostgreSQL when the Keystones already run)",
                self.env_file.display()
            )
        })
    }

    /// Keystone A's SAML identities: the testbed runs several Keystone A
    /// processes over A's database (`KEYSTONE_A_IDENTITIES`), each with its
    /// own `[saml] idp_entity_id` and signing key; identity 0 is the one on
    /// `KEYSTONE_A_URL`. Take one with
    /// [`publisher::a_entity_turn`](crate::publisher::a_entity_turn).
    pub fn identities(&self) -> Vec<Identity> {
        let n = self.vars.get("KEYSTONE_A_IDENTITIES").and_then(|v| v.parse().ok()).unwrap_or(1);
        (0..n).map(|i| self.identity(i)).collect()
    }

    /// Keystone A's SAML identity `index` (0: the one on `KEYSTONE_A_URL`).
    pub fn identity(&self, index: usize) -> Identity {
        let var = |suffix: &str| {
            let key = if index == 0 {
                format!("KEYSTONE_A_{suffix}")
            } else {
                format!("KEYSTONE_A_IDP_{index}_{}", suffix.trim_start_matches("IDP_"))
            };
            self.var(&key).to_owned()
        };
        let url =
            |suffix: &str| Url::parse(&var(suffix)).unwrap_or_else(|e| panic!("{suffix} of identity {index}: {e}"));
        Identity {
            index,
            keystone_url: url("URL"),
            entity_id: var("IDP_ENTITY_ID"),
            metadata_url: url("IDP_METADATA_URL"),
        }
    }

    /// Identity v3 URL of a cloud.
    pub fn url(&self, cloud: Cloud) -> Url {
        let key = format!("{}_URL", cloud.prefix());
        Url::parse(self.var(&key)).unwrap_or_else(|e| panic!("{key} is not a URL: {e}"))
    }

    /// The bootstrap region of a cloud.
    pub fn region(&self, cloud: Cloud) -> &str {
        self.var(&format!("{}_REGION", cloud.prefix()))
    }

    /// Admin password of a cloud.
    pub fn admin_password(&self, cloud: Cloud) -> SecretString {
        SecretString::from(self.var(&format!("{}_ADMIN_PASSWORD", cloud.prefix())).to_owned())
    }

    /// Password credentials of the cloud's admin (domain Default).
    pub fn admin_credentials(&self, cloud: Cloud) -> Credentials {
        Credentials::password("admin", "Default", self.admin_password(cloud))
    }

    /// A new session of the cloud's admin with `scope`.
    pub fn session(&self, cloud: Cloud, credentials: Credentials, scope: Scope) -> Arc<Session> {
        let auth = DirectAuth::new(&self.url(cloud), credentials).expect("auth url");
        Arc::new(Session::new(Arc::new(auth), scope).expect("session"))
    }

    /// A new session of the cloud's admin, scoped to project admin.
    pub fn admin_session(&self, cloud: Cloud) -> Arc<Session> {
        self.session(cloud, self.admin_credentials(cloud), Scope::project("admin", "Default"))
    }

    /// A Keystone client of the cloud's admin (project admin).
    pub fn admin(&self, cloud: Cloud) -> KeystoneClient {
        KeystoneClient::new(self.admin_session(cloud))
    }

    /// The demo user of A: (name, password, project).
    pub fn demo_user(&self) -> (String, SecretString, String) {
        (
            self.var("KEYSTONE_A_DEMO_USER").to_owned(),
            SecretString::from(self.var("KEYSTONE_A_DEMO_PASSWORD").to_owned()),
            self.var("KEYSTONE_A_DEMO_PROJECT").to_owned(),
        )
    }

    /// The `clouds.yaml` the testbed wrote (clouds `testbed-a`, `testbed-b`, `testbed-a-alice`).
    pub fn clouds_yaml(&self) -> PathBuf {
        PathBuf::from(self.var("MERCADOR_TESTBED_STATE")).join("clouds.yaml")
    }

    /// Runs the real `openstack` CLI as the admin of `cloud` and returns its
    /// stdout; panics with its stderr when it fails.
    pub fn openstack(&self, cloud: Cloud, args: &[&str]) -> String {
        let name = match cloud {
            Cloud::A => "testbed-a",
            Cloud::B => "testbed-b",
        };
        self.openstack_as(name, args)
    }

    /// Runs the real `openstack` CLI with `--os-cloud name`.
    pub fn openstack_as(&self, cloud_name: &str, args: &[&str]) -> String {
        let output = Command::new(self.var("OPENSTACK_CLI"))
            .args(["--os-cloud", cloud_name])
            .args(args)
            .env("OS_CLIENT_CONFIG_FILE", self.clouds_yaml())
            .env_remove("OS_CLOUD")
            .output()
            .expect("run the openstack CLI");
        assert!(
            output.status.success(),
            "openstack {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// The `openstack` CLI's arguments for a K2K token through
/// `service_provider` into `project` of `domain` there (`--os-service-provider
/// ... token issue`), printing only the token's project id, never the token.
pub fn k2k_token_project_id_args<'a>(service_provider: &'a str, project: &'a str, domain: &'a str) -> [&'a str; 12] {
    [
        "--os-service-provider",
        service_provider,
        "--os-remote-project-name",
        project,
        "--os-remote-project-domain-name",
        domain,
        "token",
        "issue",
        "-f",
        "value",
        "-c",
        "project_id",
    ]
}

/// A name unique to this test run and call: `prefix-<pid>-<n>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}-{}-{n}-{:x}", std::process::id(), nanos & 0xffff)
}

/// Peak resident memory of this process (VmHWM), in MiB; 0 where
/// `/proc/self/status` does not tell.
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Peak resident memory of the largest child process waited for so far
/// (e.g. the `openstack` CLI runs of a benchmark), in MiB, from
/// `getrusage(RUSAGE_CHILDREN)`.
pub fn children_peak_rss_mib() -> f64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map_or(0.0, |usage| usage.max_rss() as f64 / 1024.0)
}

/// The median of benchmark samples (sorts them).
pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// A duration in milliseconds.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
