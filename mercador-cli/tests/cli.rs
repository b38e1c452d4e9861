//! The real `mercador` binary against a real publisher service (itself run
//! as `mercador serve publisher`) and a real subscriber service (`mercador
//! serve subscriber`) on the running testbed.
//!
//! Clouds come from the testbed's clouds.yaml (`testbed-b`: B's admin,
//! `testbed-a`: A's admin, `testbed-a-alice`: a user of A); the partner's
//! cloud is a clouds.yaml written from `partner onboard -f json`. The tests
//! take turns (one lock): each publisher registers itself in Keystone B's
//! catalog, where the CLI finds it, and the K2K tests subscribe with
//! Keystone A's real entity id.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs, unreachable_pub)]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The support module of mercador-server's tests starts
/// `env!("CARGO_BIN_EXE_mercador-server") publisher --config FILE`; here that
/// is `mercador serve publisher --config FILE`, through a small wrapper.
macro_rules! env {
    ("CARGO_BIN_EXE_mercador-server") => {
        $crate::server_wrapper()
    };
    ($name:tt) => {
        ::std::env!($name)
    };
}

#[path = "../../mercador-server/tests/support/mod.rs"]
mod support;

use mercador_core::keystone::IdentityApi as _;
use mercador_core::keystone::ensure;
use mercador_core::keystone::types::{Filter, NewRegion, NewServiceProvider};
use mercador_tests::publisher::{a_entity_turn, a_entity_turn_of, fake_metadata, free_entity_on_b, test_catalog};
use mercador_tests::{Cloud, Testbed, unique};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use support::{PublisherOptions, PublisherProcess, SubscriberOptions, SubscriberProcess};

const MERCADOR: &str = env!("CARGO_BIN_EXE_mercador");

/// A script that runs `mercador serve "$@"` (exec: the process is mercador's).
fn server_wrapper() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("mercador-cli-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mercador-server");
        std::fs::write(&path, format!("#!/bin/sh\nexec '{MERCADOR}' serve \"$@\"\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    })
}

/// One run of the CLI.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    what: String,
}

impl Run {
    /// Asserts success; returns standard output. A failure shows the
    /// command, the code and standard error (never standard output, which
    /// may hold secrets).
    #[track_caller]
    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "{}: exit {}; stderr:\n{}", self.what, self.code, self.stderr);
        &self.stdout
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("{}: not JSON: {e}", self.what))
    }

    #[track_caller]
    fn fails_with(&self, code: i32, needle: &str) {
        assert_eq!(self.code, code, "{}: expected exit {code}; stderr:\n{}", self.what, self.stderr);
        assert!(self.stderr.contains(needle), "{}: stderr lacks {needle:?}:\n{}", self.what, self.stderr);
    }
}

/// Runs `mercador --os-cloud CLOUD ARGS` with `clouds` as clouds.yaml.
fn mercador(clouds: &Path, cloud: &str, args: &[&str]) -> Run {
    mercador_with(clouds, cloud, &[], args)
}

/// [`mercador`] with more environment variables.
fn mercador_with(clouds: &Path, cloud: &str, vars: &[(&str, &str)], args: &[&str]) -> Run {
    let mut command = Command::new(MERCADOR);
    command
        .env("OS_CLIENT_CONFIG_FILE", clouds)
        .env_remove("OS_CLOUD")
        .env_remove("MERCADOR_URL")
        .env_remove("MERCADOR_CREDENTIAL_SECRET");
    for (key, _) in std::env::vars() {
        if key.starts_with("OS_") && key != "OS_CLIENT_CONFIG_FILE" {
            command.env_remove(key);
        }
    }
    command.envs(vars.iter().copied());
    if !cloud.is_empty() {
        command.args(["--os-cloud", cloud]);
    }
    let output = command.args(args).output().expect("run mercador");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        what: format!("mercador --os-cloud {cloud} {}", args.join(" ")),
    }
}

/// Runs the testbed's real `openstack` CLI with `--os-cloud CLOUD` (the
/// testbed's clouds.yaml); a failure is returned, not a panic.
fn openstack(cloud: &str, args: &[&str]) -> Run {
    let tb = Testbed::get();
    let mut command = Command::new(tb.var("OPENSTACK_CLI"));
    command.env("OS_CLIENT_CONFIG_FILE", tb.clouds_yaml()).env_remove("OS_CLOUD");
    for (key, _) in std::env::vars() {
        if key.starts_with("OS_") && key != "OS_CLIENT_CONFIG_FILE" {
            command.env_remove(key);
        }
    }
    let output = command.args(["--os-cloud", cloud]).args(args).output().expect("run openstack");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        what: format!("openstack --os-cloud {cloud} {}", args.join(" ")),
    }
}

/// What a test's runs printed, checked for secrets at the end.
#[derive(Default)]
struct Transcript(RefCell<Vec<String>>);

impl Transcript {
    /// Keeps the run's output (both streams).
    fn keep(&self, run: Run) -> Run {
        self.0.borrow_mut().push(format!("{}\n{}\n{}", run.what, run.stdout, run.stderr));
        run
    }

    /// Keeps only the run's standard error (its output exists to hand a secret over).
    fn keep_stderr(&self, run: &Run) {
        self.0.borrow_mut().push(format!("{}\n{}", run.what, run.stderr));
    }

    /// Asserts that no kept output holds any of `secrets` (named for the message).
    #[track_caller]
    fn assert_free_of(&self, secrets: &[(&str, &str)]) {
        for text in self.0.borrow().iter() {
            for (name, secret) in secrets {
                assert!(
                    !secret.is_empty() && !text.contains(secret),
                    "{name} printed by: {}",
                    text.lines().next().unwrap()
                );
            }
        }
    }
}

fn testbed_clouds() -> PathBuf {
    Testbed::get().clouds_yaml()
}

/// A throwaway region of Keystone B where the test's publisher registers
/// its faces, so that catalog lookups find this publisher whatever else
/// runs on the shared testbed; `clouds` is the testbed's clouds.yaml with
/// cloud `testbed-b` preferring that region.
struct CatalogRegion {
    id: String,
    clouds: PathBuf,
}

impl CatalogRegion {
    async fn create(dir: &Path) -> Self {
        let tb = Testbed::get();
        let id = unique("mercador-cli-region");
        let region = NewRegion { id: Some(id.clone()), description: None, parent_region_id: None };
        tb.admin(Cloud::B).create_region(&region).await.unwrap();
        let text = std::fs::read_to_string(testbed_clouds()).unwrap();
        let b_region = format!("region_name: {}", tb.region(Cloud::B));
        assert!(text.contains(&b_region), "the testbed's clouds.yaml has no {b_region}");
        let clouds = dir.join("clouds.yaml");
        std::fs::write(&clouds, text.replace(&b_region, &format!("region_name: {id}"))).unwrap();
        Self { id, clouds }
    }

    fn options(&self) -> PublisherOptions {
        PublisherOptions { region: Some(self.id.clone()), ..PublisherOptions::default() }
    }

    /// As B's admin.
    fn admin(&self, args: &[&str]) -> Run {
        mercador(&self.clouds, "testbed-b", args)
    }

    /// Deletes the publisher's endpoints in the region, then the region.
    async fn delete(self) {
        let b = Testbed::get().admin(Cloud::B);
        for endpoint in b.list_endpoints(&Filter::new().region_id(&self.id)).await.unwrap() {
            b.delete_endpoint(&endpoint.id).await.unwrap();
        }
        b.delete_region(&self.id).await.unwrap();
    }
}

/// A clouds.yaml with the partner's application credential (cloud `partner`).
fn partner_clouds(dir: &Path, onboarded: &Value, region: &str) -> PathBuf {
    let path = dir.join("partner-clouds.yaml");
    let text = format!(
        "clouds:\n  partner:\n    auth_type: v3applicationcredential\n    auth:\n      auth_url: {}\n      \
         application_credential_id: {}\n      application_credential_secret: {}\n    region_name: {}\n    \
         interface: public\n",
        onboarded["auth_url"].as_str().unwrap(),
        onboarded["application_credential_id"].as_str().unwrap(),
        onboarded["application_credential_secret"].as_str().unwrap(),
        region,
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn write_spec(dir: &Path, file: &str, vregion: &str, partner: &str) -> PathBuf {
    let path = dir.join(file);
    let text = format!(
        "name: {vregion}\ndescription: Lisbon, Tier III\nregion: {region}\nservice_types: [identity]\n\
         roles: [reader]\nmetadata:\n  country: PT\nmax_subscriptions: 1\npartners: [{partner}]\n",
        region = Testbed::get().region(Cloud::B)
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn names(value: &Value, key: &str) -> Vec<String> {
    value.as_array().unwrap().iter().map(|v| v[key].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn admin_and_partner_faces_output_formats_and_exit_codes() {
    let _turn = a_entity_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let region = CatalogRegion::create(dir.path()).await;
    let admin = |args: &[&str]| region.admin(args);
    let publisher = PublisherProcess::start(region.options()).await;
    let url = publisher.url().to_string();
    let partner = unique("acme");
    let vregion = unique("lisbon");

    // The service answers through `mercador serve publisher` (the wrapper).
    assert!(publisher.log().contains("registered in Keystone's catalog"), "{}", publisher.log_tail(20));

    // Onboard: the credential is printed once, and the CLI says so.
    let onboard = admin(&["partner", "onboard", &partner, "--description", "Acme", "-f", "json"]);
    let onboarded = onboard.json();
    assert_eq!(onboarded["name"], partner.as_str());
    assert!(onboarded["application_credential_secret"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(onboard.stderr.contains("shown only now"), "{}", onboard.stderr);
    let listed = admin(&["partner", "list", "-f", "json"]).json();
    assert!(names(&listed, "name").contains(&partner));
    let values = admin(&["partner", "list", "-f", "value", "-c", "name"]);
    assert!(values.ok().lines().any(|l| l == partner), "{}", values.stdout);
    assert!(!admin(&["partner", "list"]).ok().contains("secret"), "the list shows no secret");

    // vregion create from YAML (catalog discovery), list, show, publish.
    let spec = write_spec(dir.path(), "spec.yaml", &vregion, &partner);
    let created = admin(&["vregion", "create", "--file", spec.to_str().unwrap(), "-f", "json"]).json();
    assert_eq!((created["name"].as_str(), created["state"].as_str()), (Some(vregion.as_str()), Some("draft")));
    let table = admin(&["vregion", "list"]);
    assert!(table.ok().contains(&vregion) && table.stdout.contains("| name"), "{}", table.stdout);
    // set: replace the draft's spec (the name comes from the command line when absent).
    let changed = std::fs::read_to_string(&spec)
        .unwrap()
        .replace(&format!("name: {vregion}\n"), "")
        .replace("Tier III", "Tier IV");
    let respec = dir.path().join("respec.yaml");
    std::fs::write(&respec, changed).unwrap();
    let set =
        admin(&["vregion", "set", &vregion, "--file", respec.to_str().unwrap(), "-f", "value", "-c", "description"]);
    assert_eq!(set.ok().trim(), "Lisbon, Tier IV");
    admin(&["vregion", "set", "other-name", "--file", spec.to_str().unwrap()]).fails_with(2, "cannot be renamed");
    let state = admin(&["vregion", "show", &vregion, "-f", "value", "-c", "state"]);
    assert_eq!(state.ok().trim(), "draft");
    let published = admin(&["vregion", "publish", &vregion, "-f", "json"]);
    assert_eq!(published.json()["state"], "published");
    assert!(published.stderr.contains("done in") && published.stderr.contains(" ms"), "{}", published.stderr);
    let yaml = admin(&["vregion", "show", &vregion, "-f", "yaml", "-c", "name", "-c", "State"]);
    assert_eq!(yaml.ok(), format!("name: {vregion}\nstate: published\n"));

    // --url instead of the catalog; both faces; a dead URL is "unavailable".
    let by_url = admin(&["vregion", "list", "--url", &url, "-f", "value", "-c", "name"]);
    assert!(by_url.ok().lines().any(|l| l == vregion));
    let face_url = format!("{}v1/admin", url);
    assert_eq!(
        admin(&["vregion", "show", &vregion, "--url", &face_url, "-f", "value", "-c", "name"]).ok().trim(),
        vregion
    );
    admin(&["vregion", "list", "--url", "http://127.0.0.1:9/"]).fails_with(6, "127.0.0.1:9");

    // Exit codes: not found, authentication, bad column, bad spec.
    admin(&["vregion", "show", "no-such-vregion"]).fails_with(3, "not_found");
    mercador(&testbed_clouds(), "no-such-cloud", &["vregion", "list"]).fails_with(5, "no cloud named");
    let alice_on_b = mercador(&testbed_clouds(), "testbed-a-alice", &["vregion", "list", "--url", &url]);
    alice_on_b.fails_with(5, "invalid_token");
    let wrong_password = Command::new(MERCADOR)
        .env_remove("OS_CLOUD")
        .env("OS_AUTH_URL", Testbed::get().url(Cloud::B).as_str())
        .env("OS_USERNAME", "admin")
        .env("OS_PASSWORD", "not-the-password")
        .env("OS_USER_DOMAIN_NAME", "Default")
        .env("OS_PROJECT_NAME", "admin")
        .env("OS_PROJECT_DOMAIN_NAME", "Default")
        .args(["vregion", "list", "--url", &url])
        .output()
        .unwrap();
    assert_eq!(wrong_password.status.code(), Some(5), "{}", String::from_utf8_lossy(&wrong_password.stderr));
    assert!(!String::from_utf8_lossy(&wrong_password.stderr).contains("not-the-password"), "no secret in errors");
    admin(&["vregion", "list", "-c", "nope"]).fails_with(2, "the columns are: name, state");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, format!("name: {}\nregion: RegionTwo\nservice_types: [identity]\n", unique("bad"))).unwrap();
    admin(&["vregion", "create", "--file", bad.to_str().unwrap()]).fails_with(2, "missing field `roles`");
    let spec_text = format!(
        "name: {}\nregion: RegionTwo\nservice_types: [\"Not A Type\"]\nroles: [reader]\nmax_subscriptions: 1\npartners: []\n",
        unique("bad")
    );
    std::fs::write(&bad, spec_text).unwrap();
    let refused = admin(&["vregion", "create", "--file", bad.to_str().unwrap()]);
    refused.fails_with(2, "service_types[0]");
    std::fs::write(&bad, "name: [unclosed\n").unwrap();
    admin(&["vregion", "create", "--file", bad.to_str().unwrap()]).fails_with(2, "invalid YAML");
    admin(&["vregion", "create", "--file", "/no/such/spec.yaml"]).fails_with(2, "cannot read the spec file");
    admin(&["vregion", "frobnicate"]).fails_with(2, "unrecognized subcommand");
    mercador(&testbed_clouds(), "", &["serve", "subscriber", "--config", "/dev/null"])
        .fails_with(2, "start from examples/config/subscriber.toml");

    // The partner: offers, subscribe with synthetic metadata, its subscriptions, cancel.
    let clouds = partner_clouds(dir.path(), &onboarded, &region.id);
    let as_partner = |args: &[&str]| mercador(&clouds, "partner", args);
    let offers = as_partner(&["exchange", "offer", "list", "-f", "json"]).json();
    assert_eq!(names(&offers, "name"), [vregion.as_str()]);
    assert_eq!(offers[0]["places_left"], 1);
    as_partner(&["vregion", "list"]).fails_with(5, "admin_required");
    let entity = format!("https://{}.example.org/idp", unique("fake"));
    let metadata = dir.path().join("metadata.xml");
    std::fs::write(&metadata, fake_metadata(&entity)).unwrap();
    let subscribed = as_partner(&[
        "exchange",
        "subscribe",
        &vregion,
        "--entity-id",
        &entity,
        "--metadata-file",
        metadata.to_str().unwrap(),
        "-f",
        "json",
    ]);
    let access = subscribed.json();
    assert!(subscribed.stderr.contains("done in"), "{}", subscribed.stderr);
    assert_eq!(access["state"], "active");
    assert!(access["admin_password"].as_str().is_some_and(|p| !p.is_empty()), "the password comes once");
    assert!(access.get("objects").is_none(), "objects only with -c");
    let id = access["id"].as_str().unwrap().to_owned();
    let again = as_partner(&[
        "exchange",
        "subscribe",
        &vregion,
        "--entity-id",
        &entity,
        "--metadata-file",
        metadata.to_str().unwrap(),
    ]);
    again.fails_with(4, "refresh");
    let mine = as_partner(&["exchange", "subscription", "list", "-f", "value", "-c", "id", "-c", "state"]);
    assert_eq!(mine.ok().trim(), format!("{id} active"));
    let theirs = admin(&["subscription", "list", "--partner", &partner, "-f", "json"]).json();
    assert_eq!(names(&theirs, "id"), [id.as_str()]);
    as_partner(&["exchange", "subscription", "show", "no-such-id"]).fails_with(3, "not_found");
    // refresh: a new admin token, the password is not shown again.
    let refreshed = as_partner(&["exchange", "subscription", "refresh", &id, "-f", "json"]);
    let refreshed_access = refreshed.json();
    assert!(refreshed.stderr.contains("done in"), "{}", refreshed.stderr);
    assert!(refreshed_access.get("admin_password").is_none(), "the password is returned once");
    assert!(refreshed_access["admin_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(refreshed_access["repaired"], json!([]));

    // The admin revokes it; the partner sees it revoked; reconcile has nothing to do.
    let revoked = admin(&["subscription", "revoke", &id, "--purge", "-f", "value", "-c", "state"]);
    assert_eq!(revoked.ok().trim(), "revoked");
    assert!(revoked.stderr.contains("revoking subscription") && revoked.stderr.contains("done in"));
    let seen = as_partner(&["exchange", "subscription", "show", &id, "-f", "value", "-c", "state"]);
    assert_eq!(seen.ok().trim(), "revoked");
    let reconciled = admin(&["reconcile", "-f", "json"]).json();
    assert!(reconciled["failed"].as_array().is_some_and(Vec::is_empty), "{reconciled}");

    // Clean up: withdraw, delete (purge), remove the partner.
    admin(&["vregion", "withdraw", &vregion]).ok();
    admin(&["vregion", "delete", &vregion, "--purge"]).ok();
    admin(&["vregion", "show", &vregion]).fails_with(3, "not_found");
    admin(&["partner", "remove", &partner]).ok();
    admin(&["partner", "show", &partner]).fails_with(3, "not_found");
    drop(publisher);
    region.delete().await;
}

#[tokio::test]
async fn k2k_token_issue_and_catalogs_of_every_cloud() {
    let _turn = a_entity_turn_of(0).await; // alice logs in through testbed-a-alice: identity 0
    let tb = Testbed::get();
    let entity_id = tb.var("KEYSTONE_A_IDP_ENTITY_ID").to_owned();
    free_entity_on_b(&entity_id).await;
    let dir = tempfile::tempdir().unwrap();
    let region = CatalogRegion::create(dir.path()).await;
    let admin = |args: &[&str]| region.admin(args);
    let publisher = PublisherProcess::start(region.options()).await;
    let partner = unique("widget");
    let vregion = unique("porto");

    // The publisher's flow, all through the CLI.
    let onboarded = admin(&["partner", "onboard", &partner, "-f", "json"]).json();
    let spec = write_spec(dir.path(), "spec.yaml", &vregion, &partner);
    admin(&["vregion", "create", "--file", spec.to_str().unwrap()]).ok();
    admin(&["vregion", "publish", &vregion]).ok();
    let clouds = partner_clouds(dir.path(), &onboarded, &region.id);
    let access = mercador(
        &clouds,
        "partner",
        &[
            "exchange",
            "subscribe",
            &vregion,
            "--entity-id",
            &entity_id,
            "--metadata-url",
            tb.var("KEYSTONE_A_IDP_METADATA_URL"),
            "--keystone-url",
            tb.url(Cloud::A).as_str(),
            "-f",
            "json",
        ],
    )
    .json();
    let id = access["id"].as_str().unwrap().to_owned();

    // The subscriber's side, by hand: a service provider on A (and a dead one).
    let a = tb.admin(Cloud::A);
    let sp = unique("cli-sp");
    let dead = unique("cli-dead-sp");
    for (sp_id, auth_url, sp_url) in [
        (&sp, access["k2k_auth_url"].as_str().unwrap().to_owned(), access["k2k_sp_url"].as_str().unwrap().to_owned()),
        (
            &dead,
            "http://127.0.0.1:9/v3/OS-FEDERATION/identity_providers/x/protocols/saml2/auth".to_owned(),
            "http://127.0.0.1:9/Shibboleth.sso/SAML2/ECP".to_owned(),
        ),
    ] {
        ensure::ensure_service_provider(
            &a,
            sp_id,
            &NewServiceProvider { auth_url, sp_url, enabled: true, description: None, relay_state_prefix: None },
        )
        .await
        .unwrap();
    }

    let alice = |args: &[&str]| mercador(&testbed_clouds(), "testbed-a-alice", args);
    let (user, _, project) = tb.demo_user();

    // token issue at home: no token id unless asked for.
    let home = alice(&["token", "issue", "-f", "json"]).json();
    assert_eq!((home["user"].as_str(), home["project"].as_str()), (Some(user.as_str()), Some(project.as_str())));
    assert!(home.get("id").is_none(), "the token id only with -c id");
    assert!(home["expires"].as_str().is_some());
    let token_id = alice(&["token", "issue", "-f", "value", "-c", "id"]);
    assert!(token_id.ok().trim().len() > 20);

    // token issue on the service provider, through K2K.
    let on_b = alice(&["token", "issue", "--service-provider", &sp, "-f", "json"]).json();
    assert_eq!(on_b["federated"], true);
    assert_eq!(on_b["project"], project.as_str(), "the project of the home project's name");
    assert_eq!(on_b["roles"], json!(["reader"]), "only the vregion's roles");
    assert_eq!(on_b["cloud"], sp.as_str());
    let explicit = alice(&["token", "issue", "--service-provider", &sp, "--project", &project, "--project-domain"]);
    assert_eq!(explicit.code, 2, "--project-domain needs a value: {}", explicit.stderr);
    let domain = access["domain_name"].as_str().unwrap();
    let scoped = alice(&[
        "token",
        "issue",
        "--service-provider",
        &sp,
        "--project",
        &project,
        "--project-domain",
        domain,
        "-f",
        "value",
        "-c",
        "project",
    ]);
    assert_eq!(scoped.ok().trim(), project);
    alice(&["token", "issue", "--service-provider", "no-such-sp"]).fails_with(3, "no-such-sp");
    // A SAML SP that refuses connections is an outage of it: exit 6, named.
    let down = alice(&["token", "issue", "--service-provider", &dead]);
    down.fails_with(6, "shibboleth_sp is down");
    assert!(down.stderr.contains("http://127.0.0.1:9/Shibboleth.sso/SAML2/ECP"), "names the SP: {}", down.stderr);

    // catalog list: home only, one service provider, every cloud (the dead one reported).
    let home_only = alice(&["catalog", "list", "-f", "json"]).json();
    assert_eq!(names(&home_only, "cloud"), ["home"]);
    assert!(names(&home_only[0]["entries"], "type").contains(&"identity".to_owned()));
    let one = alice(&["catalog", "list", "--service-provider", &sp, "-f", "json"]).json();
    assert_eq!(names(&one, "cloud"), ["home".to_owned(), sp.clone()]);
    assert!(one[1].get("error").is_none(), "{}", one[1]);
    let b_url = tb.url(Cloud::B).to_string();
    assert!(
        one[1]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "identity" && b_url.starts_with(e["url"].as_str().unwrap().trim_end_matches('/'))),
        "B's catalog through K2K: {}",
        one[1]
    );
    let all_run = alice(&["catalog", "list", "--all-clouds", "-f", "json"]);
    assert!(all_run.stderr.contains(&format!("cloud {dead}")), "{}", all_run.stderr);
    let all: Value = serde_json::from_str(&all_run.stdout).unwrap();
    // The first failing cloud decides the exit code: the dead one, unless
    // A holds other broken service providers (another test's, on the shared testbed).
    let failed = all.as_array().unwrap().iter().filter(|s| s.get("error").is_some()).count();
    let expected = if failed == 1 { 6 } else { all_run.code.max(1) };
    assert_eq!(all_run.code, expected, "{failed} cloud(s) failed; stderr:\n{}", all_run.stderr);
    let section = |name: &str| all.as_array().unwrap().iter().find(|s| s["cloud"] == name).cloned().unwrap();
    assert!(section("home")["entries"].as_array().is_some_and(|e| !e.is_empty()));
    assert!(section(&sp)["entries"].as_array().is_some_and(|e| !e.is_empty()), "{}", section(&sp));
    assert!(section(&dead)["error"].as_str().is_some(), "{}", section(&dead));
    let table = alice(&["catalog", "list", "--service-provider", &sp]);
    assert!(table.ok().contains("# home (") && table.stdout.contains(&format!("# {sp} (")), "{}", table.stdout);

    // Clean up: cancel (K2K stops), the service providers, the vregion, the partner.
    let cancelled =
        mercador(&clouds, "partner", &["exchange", "subscription", "cancel", &id, "-f", "value", "-c", "state"]);
    assert_eq!(cancelled.ok().trim(), "cancelled");
    let after = alice(&["token", "issue", "--service-provider", &sp]);
    assert_ne!(after.code, 0, "K2K must fail after cancel: {}", after.stderr);
    a.delete_service_provider(&sp).await.unwrap();
    a.delete_service_provider(&dead).await.unwrap();
    admin(&["vregion", "withdraw", &vregion]).ok();
    admin(&["vregion", "delete", &vregion, "--purge"]).ok();
    admin(&["partner", "remove", &partner]).ok();
    drop(publisher);
    region.delete().await;
}

#[test]
fn subscriber_commands_refuse_bad_command_lines() {
    let clouds = testbed_clouds();
    let dead = "http://127.0.0.1:9/";
    let register =
        ["publisher", "register", "acme", "--keystone-url", "http://127.0.0.1:9/v3", "--credential-id", "c1"];
    // No secret source: the three ways are named, before anything is sent.
    let run = mercador(&clouds, "testbed-a", &[&register[..], &["--url", dead]].concat());
    run.fails_with(2, "--credential-secret-file");
    assert!(run.stderr.contains("MERCADOR_CREDENTIAL_SECRET") && run.stderr.contains("terminal"), "{}", run.stderr);
    // Never as a value on the command line.
    mercador(&clouds, "testbed-a", &[&register[..], &["--credential-secret", "s3cr3t"]].concat())
        .fails_with(2, "unexpected argument");
    let empty = tempfile::NamedTempFile::new().unwrap();
    let run = mercador(
        &clouds,
        "testbed-a",
        &[&register[..], &["--credential-secret-file", empty.path().to_str().unwrap(), "--url", dead]].concat(),
    );
    run.fails_with(2, "is empty");
    // With a secret, the dead URL is "unavailable"; the secret is not echoed.
    let run = mercador_with(
        &clouds,
        "testbed-a",
        &[("MERCADOR_CREDENTIAL_SECRET", "not-a-real-secret")],
        &[&register[..], &["--url", dead]].concat(),
    );
    run.fails_with(6, "127.0.0.1:9");
    assert!(!run.stderr.contains("not-a-real-secret"), "{}", run.stderr);
    // refresh takes an alias or --all, not both; subscribe needs both names.
    mercador(&clouds, "testbed-a", &["binding", "refresh"]).fails_with(2, "ALIAS");
    mercador(&clouds, "testbed-a", &["binding", "refresh", "x", "--all"]).fails_with(2, "cannot be used with");
    mercador(&clouds, "testbed-a", &["subscribe", "only-publisher"]).fails_with(2, "VREGION");
    // The partner face moved under `exchange`.
    mercador(&clouds, "testbed-b", &["offer", "list"]).fails_with(2, "unrecognized subcommand");
    mercador(&clouds, "testbed-b", &["exchange", "offer", "list", "--url", dead]).fails_with(6, "127.0.0.1:9");
    // --help says who each command is for.
    let help = mercador(&clouds, "", &["--help"]);
    for needle in ["Subscriber admin", "Publisher admin", "Partner, by hand", "Cloud user"] {
        assert!(help.ok().contains(needle), "--help lacks {needle:?}:\n{}", help.stdout);
    }
}

/// The demo's story, through the CLI only: B's admin offers a vregion to A;
/// A's admin registers B, discovers and subscribes; the `openstack` CLI
/// sees the region and service provider on A and alice gets K2K tokens;
/// A's admin cancels and all of it is gone. No run prints a secret it
/// does not exist to hand over.
#[tokio::test]
async fn subscriber_side_the_demo_story_end_to_end() {
    let turn = a_entity_turn().await;
    let tb = Testbed::get();
    let entity_id = turn.entity_id().to_owned();
    // alice logs in to the Keystone A of the test's SAML identity.
    let alice_at = turn.keystone_url().to_string();
    let alice_at = ["--os-auth-url", alice_at.as_str()];
    free_entity_on_b(&entity_id).await;
    test_catalog().await; // a compute endpoint in B's region
    let dir = tempfile::tempdir().unwrap();
    let region = CatalogRegion::create(dir.path()).await;
    let mut publisher = PublisherProcess::start(region.options()).await;
    // The subscriber registers in a throwaway region of A (another
    // subscriber started on the shared testbed takes the entry of A's own
    // region): `--os-region-name` finds this one in the catalog.
    let a_region = unique("mercador-cli-sub-region");
    let a = tb.admin(Cloud::A);
    a.create_region(&NewRegion { id: Some(a_region.clone()), description: None, parent_region_id: None })
        .await
        .unwrap();
    let options = SubscriberOptions {
        identity: Some(turn.identity().clone()),
        refresh_interval_secs: 3600,
        region: Some(a_region.clone()),
        ..SubscriberOptions::default()
    };
    let subscriber = SubscriberProcess::start_with(options).await; // `mercador serve subscriber`, through the wrapper
    let subscriber_url = subscriber.url().to_string();
    let clouds = testbed_clouds();
    let transcript = Transcript::default();
    let b_admin = |args: &[&str]| transcript.keep(region.admin(args));
    // A's admin reaches this test's subscriber by --url; the catalog lookup
    // is checked once, right after the start.
    let a_admin =
        |args: &[&str]| transcript.keep(mercador(&clouds, "testbed-a", &[args, &["--url", &subscriber_url]].concat()));
    let alice = |args: &[&str]| transcript.keep(mercador(&clouds, "testbed-a-alice", &[&alice_at, args].concat()));
    let os = |cloud: &str, args: &[&str]| {
        let at: &[&str] = if cloud == "testbed-a-alice" { &alice_at } else { &[] };
        transcript.keep(openstack(cloud, &[at, args].concat()))
    };
    let publisher_name = unique("demo-pub");
    let partner = unique("demo-partner");
    let vregion = unique("demo-lisbon");
    let alias = unique("demo-alias");
    let sp = format!("mercador-{alias}");

    // 1. B's admin: a partner for A, a vregion offered to it.
    let onboard = region.admin(&["partner", "onboard", &partner, "-f", "json"]);
    transcript.keep_stderr(&onboard);
    let onboarded = onboard.json();
    let credential_id = onboarded["application_credential_id"].as_str().unwrap().to_owned();
    let secret = onboarded["application_credential_secret"].as_str().unwrap().to_owned();
    let spec = dir.path().join("vregion.yaml");
    let spec_text = format!(
        "name: {vregion}\ndescription: the demo's vregion\nregion: {}\nservice_types: [identity, compute]\n\
         roles: [member, reader]\nmax_subscriptions: 1\npartners: [{partner}]\n",
        tb.region(Cloud::B)
    );
    std::fs::write(&spec, spec_text).unwrap();
    b_admin(&["vregion", "create", "--file", spec.to_str().unwrap()]).ok();
    b_admin(&["vregion", "publish", &vregion]).ok();

    // 2. A's admin: register B with the credential (secret from a file), discover.
    let secret_file = dir.path().join("credential-secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    let b_url = tb.url(Cloud::B).to_string();
    let exchange_url = publisher.url().join("v1/exchange").unwrap().to_string();
    let register = [
        "publisher",
        "register",
        &publisher_name,
        "--keystone-url",
        &b_url,
        "--credential-id",
        &credential_id,
        "--credential-secret-file",
        secret_file.to_str().unwrap(),
        "--exchange-url",
        &exchange_url,
    ];
    let registered = a_admin(&[&register[..], &["-f", "json"]].concat()).json();
    assert_eq!(registered["name"], publisher_name.as_str());
    assert_eq!(registered["application_credential_id"], credential_id.as_str());
    a_admin(&register).fails_with(4, "already registered");
    let by_catalog = transcript.keep(mercador(
        &clouds,
        "testbed-a",
        &["--os-region-name", &a_region, "publisher", "list", "-f", "value", "-c", "name"],
    ));
    assert!(
        by_catalog.ok().lines().any(|l| l == publisher_name),
        "found as mercador-subscriber: {}",
        by_catalog.stdout
    );
    let shown = a_admin(&["publisher", "show", &publisher_name, "-f", "value", "-c", "keystone_url"]);
    assert_eq!(shown.ok().trim(), b_url);
    a_admin(&["publisher", "show", "nope"]).fails_with(3, "not_found");
    let offers = a_admin(&["discover", "-f", "json"]).json();
    let offer = offers.as_array().unwrap().iter().find(|o| o["name"] == vregion.as_str()).cloned();
    let offer = offer.unwrap_or_else(|| panic!("discover lacks {vregion}: {offers}"));
    assert_eq!((offer["publisher"].as_str(), offer["places_left"].as_u64()), (Some(publisher_name.as_str()), Some(1)));
    let table = a_admin(&["discover"]);
    assert!(table.ok().contains(&vregion) && table.stdout.contains("| publisher"), "{}", table.stdout);

    // A publisher whose Keystone is a dead port (secret from the environment):
    // named on standard error, the others still listed, exit code 6.
    let dead = unique("demo-dead");
    let dead_secret = "dead-publisher-secret";
    transcript
        .keep(mercador_with(
            &clouds,
            "testbed-a",
            &[("MERCADOR_CREDENTIAL_SECRET", dead_secret)],
            &[
                "publisher",
                "register",
                &dead,
                "--keystone-url",
                "http://127.0.0.1:9/v3",
                "--credential-id",
                "nobody",
                "--url",
                &subscriber_url,
            ],
        ))
        .ok();
    let partial = a_admin(&["discover", "-f", "value", "-c", "publisher", "-c", "name"]);
    assert_eq!(partial.code, 6, "a failed publisher makes exit code 6; stderr:\n{}", partial.stderr);
    assert!(partial.stderr.contains(&format!("publisher {dead}: ")), "{}", partial.stderr);
    assert!(!partial.stderr.contains(&format!("publisher {publisher_name}")), "{}", partial.stderr);
    assert!(partial.stdout.lines().any(|l| l == format!("{publisher_name} {vregion}")), "{}", partial.stdout);
    a_admin(&["publisher", "remove", &dead]).ok();
    assert_eq!(a_admin(&["discover"]).code, 0);

    // Subscribe: region ALIAS and service provider mercador-ALIAS on A.
    a_admin(&["binding", "show", "nope"]).fails_with(3, "not_found");
    a_admin(&["subscribe", &publisher_name, "no-such-vregion", "--alias", &unique("demo-none")]).fails_with(3, "");
    let subscribed = a_admin(&["subscribe", &publisher_name, &vregion, "--alias", &alias, "-f", "json"]);
    let bound = subscribed.json();
    assert!(subscribed.stderr.contains("done in") && subscribed.stderr.contains(&sp), "{}", subscribed.stderr);
    assert_eq!(bound["state"], "active", "{bound}");
    assert_eq!((bound["alias"].as_str(), bound["region"].as_str()), (Some(alias.as_str()), Some(alias.as_str())));
    assert_eq!(bound["service_provider"], sp.as_str());
    let types: Vec<&str> =
        bound["endpoints"].as_array().unwrap().iter().map(|e| e["service_type"].as_str().unwrap()).collect();
    assert!(types.contains(&"identity") && types.contains(&"compute"), "{bound}");
    assert!(bound.get("objects").is_none(), "objects only with -c objects");
    let listed = a_admin(&["binding", "list", "-f", "value", "-c", "alias", "-c", "state"]);
    assert_eq!(listed.ok().trim(), format!("{alias} active"));
    let by_publisher = a_admin(&["binding", "list", "--publisher", &publisher_name]);
    assert!(by_publisher.ok().contains(&alias) && by_publisher.stdout.contains("| alias"), "{}", by_publisher.stdout);
    assert_eq!(a_admin(&["binding", "show", &alias, "-f", "value", "-c", "state"]).ok().trim(), "active");
    let offers = a_admin(&["discover", "-f", "json"]).json();
    assert!(
        offers.as_array().unwrap().iter().any(|o| o["name"] == vregion.as_str() && o["bound_as"] == alias.as_str())
    );
    let refreshed = a_admin(&["binding", "refresh", &alias, "-f", "json"]);
    let outcome = refreshed.json();
    assert!(refreshed.stderr.contains("done in"), "{}", refreshed.stderr);
    assert_eq!((outcome["revoked"].as_bool(), outcome["state"].as_str()), (Some(false), Some("active")), "{outcome}");
    let report = a_admin(&["binding", "refresh", "--all", "-f", "json"]).json();
    assert_eq!(report["healthy"], json!([alias]), "{report}");
    let reconciled = a_admin(&["binding", "reconcile", "-f", "json"]).json();
    assert_eq!(reconciled["failed"], json!([]), "{reconciled}");

    // 3. Clients no one here wrote: the openstack CLI sees the region and the
    // service provider; alice gets K2K tokens through both CLIs.
    let regions = os("testbed-a", &["region", "list", "-f", "value", "-c", "Region"]);
    assert!(regions.ok().lines().any(|l| l == alias), "region list:\n{}", regions.stdout);
    let sps = os("testbed-a", &["service", "provider", "list", "-f", "value", "-c", "ID"]);
    assert!(sps.ok().lines().any(|l| l == sp), "service provider list:\n{}", sps.stdout);
    let (_, _, project) = tb.demo_user();
    let k2k = alice(&["token", "issue", "--service-provider", &sp, "-f", "json"]).json();
    assert_eq!((k2k["federated"].as_bool(), k2k["project"].as_str()), (Some(true), Some(project.as_str())), "{k2k}");
    let roles = k2k["roles"].as_array().unwrap();
    assert!(!roles.is_empty() && roles.iter().all(|r| r == "member" || r == "reader"), "the vregion's roles: {k2k}");
    let domain = k2k["project_domain"].as_str().unwrap().to_owned();
    let k2k_args = mercador_tests::k2k_token_project_id_args(&sp, &project, &domain);
    let by_openstack = os("testbed-a-alice", &k2k_args);
    assert_eq!(by_openstack.ok().trim(), k2k["project_id"].as_str().unwrap());
    let catalogs = alice(&["catalog", "list", "--service-provider", &sp, "-f", "json"]).json();
    let section = |cloud: &str| catalogs.as_array().unwrap().iter().find(|c| c["cloud"] == cloud).cloned().unwrap();
    let home = section("home");
    assert!(
        home["entries"].as_array().unwrap().iter().any(|e| e["region"] == alias.as_str() && e["type"] == "compute"),
        "the vregion's endpoints in A's catalog: {home}"
    );
    let on_b = section(&sp);
    assert!(on_b["entries"].as_array().is_some_and(|e| !e.is_empty()), "B's catalog through K2K: {on_b}");

    // 4. A's admin cancels: the region, the service provider and K2K are gone.
    let cancelled = a_admin(&["binding", "cancel", &alias, "-f", "value", "-c", "state"]);
    assert_eq!(cancelled.ok().trim(), "cancelled");
    assert!(cancelled.stderr.contains(&format!("cancelling binding {alias}")) && cancelled.stderr.contains("done in"));
    let regions = os("testbed-a", &["region", "list", "-f", "value", "-c", "Region"]);
    assert!(!regions.ok().lines().any(|l| l == alias), "region list:\n{}", regions.stdout);
    let sps = os("testbed-a", &["service", "provider", "list", "-f", "value", "-c", "ID"]);
    assert!(!sps.ok().lines().any(|l| l == sp), "service provider list:\n{}", sps.stdout);
    let refused = alice(&["token", "issue", "--service-provider", &sp]);
    assert_ne!(refused.code, 0, "K2K must fail after cancel: {}", refused.stdout);
    let refused = os("testbed-a-alice", &k2k_args);
    assert_ne!(refused.code, 0, "K2K must fail after cancel: {}", refused.stdout);
    // The refused subscription above left a failed binding: finished ones show with --all only.
    assert_eq!(a_admin(&["binding", "list", "-f", "value", "-c", "alias"]).ok().trim(), "", "finished ones hidden");
    let all = a_admin(&["binding", "list", "--all", "-f", "value", "-c", "alias", "-c", "state"]);
    assert!(all.ok().lines().any(|l| l == format!("{alias} cancelled")), "{}", all.stdout);
    assert!(all.stdout.lines().any(|l| l.ends_with(" failed")), "{}", all.stdout);
    a_admin(&["binding", "cancel", "nope", "--force"]).fails_with(3, "not_found");

    // A publisher gone: cancel is refused (the CLI names --force), --force
    // removes A's side anyway; B's admin revokes the abandoned subscription.
    let alias2 = unique("demo-alias2");
    let bound = a_admin(&["subscribe", &publisher_name, &vregion, "--alias", &alias2, "-f", "json"]).json();
    assert_eq!(bound["state"], "active", "{bound}");
    let remote = bound["remote_subscription_id"].as_str().unwrap().to_owned();
    publisher.terminate().await;
    let blocked = a_admin(&["binding", "cancel", &alias2]);
    assert_eq!(
        blocked.code, 7,
        "the publisher is unreachable: the cancel goes on in the background; stderr:\n{}",
        blocked.stderr
    );
    assert!(blocked.stderr.contains("continues in the background"), "{}", blocked.stderr);
    assert!(blocked.stderr.contains(&format!("mercador binding cancel {alias2} --force")), "{}", blocked.stderr);
    let forced = a_admin(&["binding", "cancel", &alias2, "--force", "-f", "value", "-c", "state"]);
    assert_eq!(forced.ok().trim(), "cancelled");
    assert!(forced.stderr.contains("(forced)") && forced.stderr.contains("done in"), "{}", forced.stderr);
    let regions = os("testbed-a", &["region", "list", "-f", "value", "-c", "Region"]);
    assert!(!regions.ok().lines().any(|l| l == alias2), "region list:\n{}", regions.stdout);
    publisher.restart().await;
    b_admin(&["subscription", "revoke", &remote, "--purge"]).ok();

    // Clean up: the publisher here, the vregion and the partner at B.
    a_admin(&["publisher", "remove", &publisher_name]).ok();
    a_admin(&["publisher", "show", &publisher_name]).fails_with(3, "not_found");
    b_admin(&["vregion", "withdraw", &vregion]).ok();
    b_admin(&["vregion", "delete", &vregion, "--purge"]).ok();
    b_admin(&["partner", "remove", &partner]).ok();

    // 5. No run printed a secret; neither did the services' logs.
    let a_password = tb.admin_password(Cloud::A);
    let b_password = tb.admin_password(Cloud::B);
    let alice_password = tb.demo_user().1;
    transcript.assert_free_of(&[
        ("the partner credential's secret", &secret),
        ("the dead publisher's secret", dead_secret),
        ("A's admin password", a_password.expose_secret()),
        ("B's admin password", b_password.expose_secret()),
        ("alice's password", alice_password.expose_secret()),
    ]);
    assert!(!subscriber.log().contains(&secret), "the credential secret in the subscriber's log");
    assert!(!subscriber.log().contains(dead_secret), "a credential secret in the subscriber's log");
    drop(subscriber);
    drop(publisher);
    region.delete().await;
    for endpoint in a.list_endpoints(&Filter::new().region_id(&a_region)).await.unwrap() {
        a.delete_endpoint(&endpoint.id).await.unwrap();
    }
    a.delete_region(&a_region).await.unwrap();
    free_entity_on_b(&entity_id).await;
}

/// Authentication as the `openstack` CLI does it: `--os-*` options override
/// a named cloud (a project name or id replaces the cloud's project, a
/// domain or the system replaces its project scope, `--os-auth-type token`
/// takes `OS_TOKEN` in place of the cloud's password), the `openstack` CLI
/// agreeing on the project; `OS_*` variables left over beside a named cloud
/// are named on standard error and not applied; without a cloud the options
/// override the `OS_*` variables. Needs no Mercador service: `token issue`
/// talks to Keystone A only.
#[tokio::test]
async fn authentication_options_override_a_cloud_like_the_openstack_clis() {
    use mercador_core::keystone::types::{Actor, DomainUpdate, NewDomain, NewProject, Target};

    let tb = Testbed::get();
    let a = tb.admin(Cloud::A);
    let (user, password, home_project) = tb.demo_user();
    let clouds = testbed_clouds();
    let transcript = Transcript::default();
    let alice = |vars: &[(&str, &str)], args: &[&str]| {
        transcript.keep(mercador_with(&clouds, "testbed-a-alice", vars, &[&["token", "issue"], args].concat()))
    };

    // A second project and a domain for alice (member), removed at the end.
    let member = a.list_roles(&Filter::new().name("member")).await.unwrap().remove(0).id;
    let alice_id = a.list_users(&Filter::new().name(&user).domain_id("default")).await.unwrap().remove(0).id;
    let project_name = unique("cli-auth-project");
    let project = a
        .create_project(&NewProject {
            name: project_name.clone(),
            domain_id: "default".into(),
            description: None,
            enabled: true,
            parent_id: None,
            tags: Vec::new(),
        })
        .await
        .unwrap();
    let domain_name = unique("cli-auth-domain");
    let domain =
        a.create_domain(&NewDomain { name: domain_name.clone(), description: None, enabled: true }).await.unwrap();
    let alice_actor = Actor::User(alice_id.clone());
    a.grant_role(&member, &alice_actor, &Target::Project(project.id.clone())).await.unwrap();
    a.grant_role(&member, &alice_actor, &Target::Domain(domain.id.clone())).await.unwrap();

    // The cloud as it is: alice in her home project.
    let home = alice(&[], &["-f", "json"]).json();
    assert_eq!((home["user"].as_str(), home["project"].as_str()), (Some(user.as_str()), Some(home_project.as_str())));

    // A project by name, then by id, in place of the cloud's; the openstack CLI agrees.
    let by_name = alice(&[], &["--os-project-name", &project_name, "-f", "json"]).json();
    assert_eq!(by_name["project_id"], project.id.as_str(), "{by_name}");
    let theirs = openstack("testbed-a-alice", &["--os-project-name", &project_name, "token", "issue", "-f", "json"]);
    let theirs: Value = serde_json::from_str(theirs.ok()).unwrap();
    assert_eq!(theirs["project_id"], project.id.as_str());
    let by_id = alice(&[], &["--os-project-id", &project.id, "-f", "value", "-c", "project"]);
    assert_eq!(by_id.ok().trim(), project_name);

    // A domain scope, then the system scope, in place of the cloud's project.
    let on_domain = alice(&[], &["--os-domain-name", &domain_name, "-f", "json"]).json();
    assert_eq!(on_domain["domain"], domain_name.as_str(), "{on_domain}");
    assert!(on_domain.get("project").is_none(), "a domain scope replaces the project: {on_domain}");
    let admin_system =
        transcript.keep(mercador(&clouds, "testbed-a", &["--os-system-scope", "all", "token", "issue", "-f", "json"]));
    let admin_system = admin_system.json();
    assert_eq!(admin_system["system"], "all", "{admin_system}");
    assert!(admin_system.get("project").is_none(), "{admin_system}");

    // A token in place of the cloud's password: OS_TOKEN, with the cloud's scope.
    let token_run = mercador(&clouds, "testbed-a-alice", &["token", "issue", "-f", "value", "-c", "id"]); // stdout: the token
    transcript.keep_stderr(&token_run);
    let token = token_run.ok().trim().to_owned();
    let with_token = alice(&[("OS_TOKEN", &token)], &["--os-auth-type", "token", "-f", "json"]).json();
    assert_eq!(with_token["user_id"], alice_id.as_str());
    assert_eq!(with_token["project"], home_project.as_str());
    alice(&[], &["--os-auth-type", "token"]).fails_with(5, "has no token: give it in clouds.yaml");

    // OS_* left over beside a named cloud: named (never their values), not applied.
    let leftover = "leftover-not-the-password";
    let noted = alice(&[("OS_PROJECT_NAME", &project_name), ("OS_PASSWORD", leftover)], &["-f", "json"]);
    assert_eq!(noted.json()["project"], home_project.as_str(), "the variables are not applied");
    assert!(
        noted.stderr.contains("OS_PASSWORD, OS_PROJECT_NAME") && noted.stderr.contains("not used"),
        "{}",
        noted.stderr
    );

    // Without a cloud: the options override the OS_* variables.
    let vars = [
        ("OS_AUTH_URL", tb.url(Cloud::A).to_string()),
        ("OS_USERNAME", user.clone()),
        ("OS_PASSWORD", password.expose_secret().to_owned()),
        ("OS_USER_DOMAIN_NAME", "Default".to_owned()),
        ("OS_PROJECT_NAME", home_project.clone()),
        ("OS_PROJECT_DOMAIN_NAME", "Default".to_owned()),
    ];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let from_vars =
        transcript.keep(mercador_with(&clouds, "", &vars, &["token", "issue", "-f", "value", "-c", "project"]));
    assert_eq!(from_vars.ok().trim(), home_project);
    let overridden = transcript.keep(mercador_with(
        &clouds,
        "",
        &vars,
        &["--os-project-id", &project.id, "token", "issue", "-f", "value", "-c", "project"],
    ));
    assert_eq!(overridden.ok().trim(), project_name);

    transcript.assert_free_of(&[
        ("alice's password", password.expose_secret()),
        ("the leftover password", leftover),
        ("alice's token", &token),
    ]);
    a.delete_project(&project.id).await.unwrap();
    a.update_domain(&domain.id, &DomainUpdate { enabled: Some(false), ..DomainUpdate::default() }).await.unwrap();
    a.delete_domain(&domain.id).await.unwrap();
}

/// The operator's view of a Keystone outage (docs/outages.md): with
/// Keystone B frozen under the publisher (`SIGSTOP` to a private Keystone
/// process of the test, over the testbed's Keystone B), `mercador
/// subscribe` says that the subscribe continues in the background and how
/// to follow it, and exits 7; thawed, the binding converges by itself. With
/// Keystone B stopped, `mercador binding cancel` exits 7 the same way;
/// started again, the binding ends cancelled and nothing is left on either
/// Keystone.
#[tokio::test]
async fn keystone_b_frozen_then_stopped_the_cli_exits_7_and_the_binding_converges() {
    use mercador_tests::keystone_process::PrivateKeystone;
    use std::time::{Duration, Instant};
    use support::{ApiClient, admin_token};

    let turn = a_entity_turn().await;
    let tb = Testbed::get();
    let entity_id = turn.entity_id().to_owned();
    free_entity_on_b(&entity_id).await;
    test_catalog().await;
    let mut keystone_b = PrivateKeystone::of_b().await;
    let dir = tempfile::tempdir().unwrap();
    // The publisher reaches Keystone B on the private process; partners
    // and K2K keep the testbed's.
    let b_url = tb.url(Cloud::B).to_string();
    let clouds_b = dir.path().join("clouds-b.yaml");
    let text = std::fs::read_to_string(testbed_clouds()).unwrap();
    std::fs::write(
        &clouds_b,
        text.replace(b_url.trim_end_matches('/'), keystone_b.url().as_str().trim_end_matches('/')),
    )
    .unwrap();
    let env = vec![
        ("MERCADOR_KEYSTONE__TIMEOUT_SECS".to_owned(), "5".to_owned()),
        ("MERCADOR_KEYSTONE__CLOUDS_YAML".to_owned(), clouds_b.display().to_string()),
        ("MERCADOR_KEYSTONE__PUBLIC_URL".to_owned(), b_url.clone()),
    ];
    let publisher =
        PublisherProcess::start(PublisherOptions { env, reconcile_interval_secs: 5, ..PublisherOptions::default() })
            .await;
    let subscriber = SubscriberProcess::start_with(SubscriberOptions {
        identity: Some(turn.identity().clone()),
        reconcile_interval_secs: 5,
        env: vec![("MERCADOR_KEYSTONE__TIMEOUT_SECS".to_owned(), "5".to_owned())],
        ..SubscriberOptions::default()
    })
    .await;
    let b_admin = ApiClient::new(publisher.url()).with_token(admin_token().await);
    let partner = unique("cli-out-p");
    let onboarded = b_admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
    let secret = onboarded["application_credential_secret"].as_str().unwrap().to_owned();
    let vregion = unique("cli-out-vr");
    let spec = json!({
        "name": vregion, "region": tb.region(Cloud::B), "service_types": ["identity", "compute"],
        "roles": ["reader"], "max_subscriptions": 1, "partners": [partner],
    });
    b_admin.post("/v1/admin/vregions", &spec).await.expect(201);
    b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/publish")).await.expect(200);
    let domain = b_admin.get(&format!("/v1/admin/vregions/{vregion}")).await.expect(200)["domain_id"]
        .as_str()
        .map(str::to_owned);
    let a_token = tb.admin_session(Cloud::A).token().await.unwrap().secret().clone();
    let api = ApiClient::new(subscriber.url()).with_token(a_token);
    let publisher_name = unique("cli-out-pub");
    let registration = json!({
        "name": publisher_name, "keystone_url": b_url,
        "exchange_url": publisher.url().join("v1/exchange").unwrap(),
        "application_credential_id": onboarded["application_credential_id"],
        "application_credential_secret": secret,
    });
    api.post("/v1/publishers", &registration).await.expect(201);
    let clouds = testbed_clouds();
    let subscriber_url = subscriber.url().to_string();
    let a_admin = |args: &[&str]| mercador(&clouds, "testbed-a", &[args, &["--url", &subscriber_url]].concat());
    let state_of =
        |alias: &str| a_admin(&["binding", "show", alias, "-f", "value", "-c", "state"]).ok().trim().to_owned();
    let wait_for = |alias: &str, state: &str| {
        let deadline = Instant::now() + Duration::from_secs(180);
        while state_of(alias) != state {
            assert!(Instant::now() < deadline, "binding {alias} not {state} within 180 s");
            std::thread::sleep(Duration::from_secs(1));
        }
    };

    // Subscribe with Keystone B frozen: exit 7, what goes on and how to follow it.
    let alias = unique("cli-out-al");
    keystone_b.freeze();
    let start = Instant::now();
    let subscribe = a_admin(&["subscribe", &publisher_name, &vregion, "--alias", &alias]);
    let took = start.elapsed();
    subscribe.fails_with(7, "continues in the background (state provisioning, step remote_subscribe)");
    assert!(subscribe.stderr.contains("Keystone B is too slow"), "{}", subscribe.stderr);
    assert!(subscribe.stderr.contains(&format!("mercador binding show {alias}")), "{}", subscribe.stderr);
    assert!(took < Duration::from_secs(60), "mercador subscribe took {took:?} with Keystone B frozen");
    println!("mercador subscribe with Keystone B frozen: exit 7 after {took:?}");
    assert_eq!(state_of(&alias), "provisioning");
    keystone_b.thaw();
    wait_for(&alias, "active");

    // Cancel with Keystone B stopped: exit 7; started again: cancelled.
    keystone_b.stop();
    let start = Instant::now();
    let cancel = a_admin(&["binding", "cancel", &alias]);
    cancel.fails_with(7, "continues in the background (state cancelling");
    assert!(cancel.stderr.contains("Keystone B cannot be reached"), "{}", cancel.stderr);
    assert!(start.elapsed() < Duration::from_secs(60), "mercador binding cancel took {:?}", start.elapsed());
    println!("mercador binding cancel with Keystone B stopped: exit 7 after {:?}", start.elapsed());
    keystone_b.start().await;
    wait_for(&alias, "cancelled");
    for run in [&subscribe, &cancel] {
        assert!(!run.stderr.contains(&secret) && !run.stdout.contains(&secret), "the credential secret printed");
    }

    // Nothing left on either Keystone.
    let a = tb.admin(Cloud::A);
    assert!(a.get_service_provider(&format!("mercador-{alias}")).await.is_err(), "A's service provider left");
    assert!(a.get_region(&alias).await.is_err(), "A's region left");
    let b = tb.admin(Cloud::B);
    let idps = b.list_identity_providers().await.unwrap();
    assert!(!idps.iter().any(|i| i.remote_ids.iter().any(|r| r == &entity_id)), "B's identity provider left");
    if let Some(domain) = domain {
        assert_eq!(b.list_users(&Filter::new().domain_id(&domain)).await.unwrap().len(), 0, "users left on B");
    }
    api.delete(&format!("/v1/publishers/{publisher_name}")).await;
    b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/withdraw")).await.expect(200);
    b_admin.delete(&format!("/v1/admin/vregions/{vregion}?purge=true")).await.expect(204);
    b_admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
    free_entity_on_b(&entity_id).await;
}
