//! What the publisher hands a partner keeps it inside its vregion, on the
//! real Keystone B, through its HTTP API and through the `openstack` CLI:
//! the vregion admin user (`manager` on the vregion domain), a federated
//! user holding every role the vregion allows (`manager`, `member`,
//! `reader`, through a real K2K login from Keystone A), and the partner's
//! application credential. The vregion admin manages projects, users,
//! groups and role assignments inside its domain; every attempt outside it
//! is refused. Also: a role that reaches beyond the vregion is refused at
//! definition and before a subscription, and an `admin` grant left by an
//! earlier version is taken away by refresh and by reconcile.

use std::process::Command;
use std::sync::Arc;

use mercador_core::k2k::Keystone2Keystone;
use mercador_core::keystone::types::{Actor, Filter, NewProject, NewRole, NewUser, RoleAssignmentFilter, Target};
use mercador_core::keystone::{Credentials, HttpClient, HttpConfig, IdentityApi, Scope};
use mercador_core::model::{SubscriptionState, VRegionSpec};
use mercador_core::publisher::{NewPartner, PublisherConfig, PublisherError};
use mercador_tests::publisher::{
    a_entity_turn, engine, engine_with, free_entity_on_b, name, session_with, sqlite_url, test_catalog, users_domain_of,
};
use mercador_tests::{Cloud, Testbed, unique};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

fn spec(name: &mercador_core::model::Name, partners: &[&mercador_core::model::Name], roles: &[&str]) -> VRegionSpec {
    serde_json::from_value(json!({
        "name": name,
        "region": Testbed::get().region(Cloud::B),
        "service_types": ["identity", "compute"],
        "roles": roles,
        "quotas": [{"resource": "class:VCPU", "limit": 16}],
        "max_subscriptions": 1,
        "partners": partners,
    }))
    .unwrap()
}

/// Someone holding what the publisher handed out.
struct Holder {
    label: &'static str,
    token: SecretString,
    user_id: String,
    /// The domain it administers, if any.
    domain: Option<String>,
    /// The project its token is scoped to, if any.
    project: Option<String>,
    /// The `openstack` CLI's authentication for it (`OS_*` variables).
    cli_env: Vec<(&'static str, String)>,
}

/// The items of a Keystone B list made with `token`, or `None` when
/// Keystone refuses it (403).
async fn listed(http: &reqwest::Client, token: &SecretString, path: &str, key: &str) -> Option<Vec<Value>> {
    let url = format!("{}/{path}", Testbed::get().url(Cloud::B).as_str().trim_end_matches('/'));
    let response = http.get(url).header("X-Auth-Token", token.expose_secret()).send().await.unwrap();
    match response.status().as_u16() {
        403 => None,
        200 => Some(response.json::<Value>().await.unwrap()[key].as_array().unwrap().clone()),
        other => panic!("GET /v3/{path}: HTTP {other}"),
    }
}

/// Status of a Keystone B request made with `token`.
async fn status(http: &reqwest::Client, token: &SecretString, method: Method, path: &str, body: Option<&Value>) -> u16 {
    let url = format!("{}/{path}", Testbed::get().url(Cloud::B).as_str().trim_end_matches('/'));
    let mut request = http.request(method, url).header("X-Auth-Token", token.expose_secret());
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap().status().as_u16()
}

/// Runs the `openstack` CLI against Keystone B with `env` (no clouds.yaml,
/// no `OS_*` of the caller); returns (success, stdout, stderr).
fn openstack(env: &[(&str, String)], args: &[&str]) -> (bool, String, String) {
    let tb = Testbed::get();
    let mut command = Command::new(tb.var("OPENSTACK_CLI"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OS_") {
            command.env_remove(key);
        }
    }
    command.env("OS_CLIENT_CONFIG_FILE", "/dev/null").env("OS_AUTH_URL", tb.url(Cloud::B).as_str());
    command.env("OS_IDENTITY_API_VERSION", "3").env("OS_INTERFACE", "public");
    let output = command.envs(env.iter().map(|(k, v)| (*k, v.as_str()))).args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        format!("{} ({})", String::from_utf8_lossy(&output.stderr), output.status),
    )
}

/// The CLI fails: Keystone's policy refuses the request (403), or the CLI
/// cannot even see what the command names (it looks a domain or a user up
/// first, and Keystone hides it). The callers check that nothing changed.
fn refused_by_cli(holder: &Holder, args: &[&str]) {
    let (ok, out, err) = openstack(&holder.cli_env, args);
    assert!(!ok, "{}: `openstack {}` must be refused, it printed {out}", holder.label, args.join(" "));
    assert!(!err.contains("Traceback"), "{}: `openstack {}` crashed: {err}", holder.label, args.join(" "));
}

fn allowed_by_cli(holder: &Holder, args: &[&str]) -> String {
    let (ok, out, err) = openstack(&holder.cli_env, args);
    assert!(ok, "{}: `openstack {}` must be allowed: {err}", holder.label, args.join(" "));
    out
}

#[tokio::test]
async fn what_a_partner_holds_stays_inside_its_vregion() {
    let turn = a_entity_turn().await;
    let tb = Testbed::get();
    let (a, b) = (tb.admin(Cloud::A), tb.admin(Cloud::B));
    let engine = engine(&sqlite_url()).await;
    free_entity_on_b(turn.entity_id()).await;
    test_catalog().await;
    let http = HttpClient::new(&HttpConfig::default()).unwrap().reqwest().clone();
    let role_of = |roles: &[mercador_core::keystone::types::Role], n: &str| {
        roles.iter().find(|r| r.name == n && r.domain_id.is_none()).unwrap().id.clone()
    };

    // carol of A holds manager, member and reader on her project at A:
    // every role the vregion allows.
    let carol = unique("carol");
    let carol_password = SecretString::from(unique("pw"));
    let a_roles = a.list_roles(&Filter::new()).await.unwrap();
    let a_project = a
        .create_project(&NewProject {
            name: unique("carolp"),
            domain_id: "default".into(),
            description: None,
            enabled: true,
            parent_id: None,
            tags: Vec::new(),
        })
        .await
        .unwrap();
    let carol_user = a
        .create_user(&NewUser {
            name: carol.clone(),
            domain_id: "default".into(),
            password: Some(carol_password.clone()),
            description: None,
            default_project_id: None,
            enabled: true,
        })
        .await
        .unwrap();
    for role in ["manager", "member", "reader"] {
        let target = Target::Project(a_project.id.clone());
        a.grant_role(&role_of(&a_roles, role), &Actor::User(carol_user.id.clone()), &target).await.unwrap();
    }

    // B publishes the vregion (and another one, to reach for).
    let partner = name("conf");
    let onboarded =
        engine.onboard_partner(NewPartner { name: partner.clone(), description: String::new() }).await.unwrap();
    let vregion = spec(&name("conf"), &[&partner], &["manager", "member", "reader"]);
    let other = spec(&name("other"), &[], &["reader"]);
    for v in [&vregion, &other] {
        engine.create_vregion(v.clone()).await.unwrap();
    }
    let domain_id = engine.publish_vregion(&vregion.name).await.unwrap().domain_id.unwrap();
    let other_domain = engine.publish_vregion(&other.name).await.unwrap().domain_id.unwrap();
    let access = engine.subscribe(&partner, turn.subscribe_request(&vregion.name)).await.unwrap();
    let admin_password = access.admin.password.clone().unwrap().0;
    let users_domain = users_domain_of(&partner).await;

    // The subscriber's service provider on A, by hand; carol logs in to B.
    let sp_id = turn.service_provider_on_a(&access, "conf-sp").await;
    let carol_at_a = turn.session(
        Credentials::password(&carol, "Default", carol_password.clone()),
        Scope::project(a_project.name.clone(), "Default"),
    );
    let k2k = Keystone2Keystone::new(carol_at_a, &sp_id).await.unwrap();
    let projects = k2k.projects().await.unwrap();
    assert_eq!(projects.len(), 1, "{projects:?}");
    assert_eq!(projects[0].domain_id, domain_id);
    let federated = session_with(Arc::new(k2k), Scope::project_id(projects[0].id.clone())).token().await.unwrap();
    let mut roles = federated.role_names();
    roles.sort_unstable();
    assert_eq!(roles, ["manager", "member", "reader"], "every role the vregion allows");

    let partner_token = tb
        .session(
            Cloud::B,
            Credentials::application_credential(
                &onboarded.application_credential_id,
                onboarded.application_credential_secret.0.clone(),
            ),
            Scope::Unscoped,
        )
        .token()
        .await
        .unwrap();

    let holders = [
        Holder {
            label: "the vregion admin",
            token: access.admin.token.0.clone(),
            user_id: access.admin.user_id.clone(),
            domain: Some(domain_id.clone()),
            project: None,
            cli_env: vec![
                ("OS_AUTH_TYPE", "password".into()),
                ("OS_USER_ID", access.admin.user_id.clone()),
                ("OS_PASSWORD", admin_password.expose_secret().to_string()),
                ("OS_DOMAIN_ID", domain_id.clone()),
            ],
        },
        Holder {
            label: "a federated user with every vregion role",
            token: federated.secret().clone(),
            user_id: federated.user.id.clone(),
            domain: None,
            project: Some(projects[0].id.clone()),
            cli_env: vec![
                ("OS_AUTH_TYPE", "v3token".into()),
                ("OS_TOKEN", federated.secret().expose_secret().to_string()),
                ("OS_PROJECT_ID", projects[0].id.clone()),
            ],
        },
        Holder {
            label: "the partner's application credential",
            token: partner_token.secret().clone(),
            user_id: partner_token.user.id.clone(),
            domain: None,
            project: partner_token.project.as_ref().map(|p| p.id.clone()),
            cli_env: vec![
                ("OS_AUTH_TYPE", "v3applicationcredential".into()),
                ("OS_APPLICATION_CREDENTIAL_ID", onboarded.application_credential_id.clone()),
                (
                    "OS_APPLICATION_CREDENTIAL_SECRET",
                    onboarded.application_credential_secret.0.expose_secret().to_string(),
                ),
            ],
        },
    ];

    // What B holds outside the vregion.
    let b_roles = b.list_roles(&Filter::new()).await.unwrap();
    let (admin_role, manager_role, member_role) =
        (role_of(&b_roles, "admin"), role_of(&b_roles, "manager"), role_of(&b_roles, "member"));
    let service_role = role_of(&b_roles, "service");
    let b_admin_project =
        b.list_projects(&Filter::new().name("admin").domain_id("default")).await.unwrap().remove(0).id;
    let b_admin_user = b.list_users(&Filter::new().name("admin").domain_id("default")).await.unwrap().remove(0).id;
    let limit = b.list_limits(&Filter::new().domain_id(&domain_id)).await.unwrap().remove(0);
    let endpoint = b.list_endpoints(&Filter::new()).await.unwrap().remove(0).id;
    let idp = format!("mercador-{partner}");

    for holder in &holders {
        let me = &holder.user_id;
        let new_project = |domain: &str| json!({"project": {"name": unique("x"), "domain_id": domain}});
        let new_user = |domain: &str| json!({"user": {"name": unique("x"), "domain_id": domain}});
        let refused: Vec<(Method, String, Option<Value>)> = vec![
            (Method::POST, "projects".into(), Some(new_project("default"))),
            (Method::POST, "projects".into(), Some(new_project(&other_domain))),
            (Method::POST, "projects".into(), Some(new_project(&users_domain))),
            (Method::PUT, format!("projects/{b_admin_project}/users/{me}/roles/{admin_role}"), None),
            (Method::PUT, format!("projects/{b_admin_project}/users/{me}/roles/{member_role}"), None),
            (Method::PUT, format!("domains/{domain_id}/users/{me}/roles/{admin_role}"), None),
            (Method::PUT, format!("domains/{other_domain}/users/{me}/roles/{manager_role}"), None),
            (Method::GET, format!("projects/{b_admin_project}"), None),
            (Method::GET, format!("users/{b_admin_user}"), None),
            (Method::PATCH, format!("users/{b_admin_user}"), Some(json!({"user": {"enabled": true}}))),
            (Method::POST, "users".into(), Some(new_user("default"))),
            (Method::POST, "users".into(), Some(new_user(&other_domain))),
            (Method::GET, "domains/default".into(), None),
            (Method::POST, "domains".into(), Some(json!({"domain": {"name": unique("x")}}))),
            (Method::PATCH, format!("domains/{domain_id}"), Some(json!({"domain": {"enabled": true}}))),
            (Method::GET, "OS-FEDERATION/identity_providers".into(), None),
            (Method::GET, format!("OS-FEDERATION/identity_providers/{idp}"), None),
            (
                Method::PUT,
                format!("OS-FEDERATION/identity_providers/{}", unique("x")),
                Some(json!({"identity_provider": {"remote_ids": [unique("https://x.example/")], "enabled": true}})),
            ),
            (Method::GET, "OS-FEDERATION/mappings".into(), None),
            (Method::DELETE, format!("OS-FEDERATION/identity_providers/{idp}"), None),
            (Method::PATCH, format!("limits/{}", limit.id), Some(json!({"limit": {"resource_limit": 100000}}))),
            (
                Method::POST,
                "limits".into(),
                Some(json!({"limits": [{"service_id": limit.service_id, "region_id": limit.region_id,
                    "resource_name": "class:VCPU", "resource_limit": 100000, "domain_id": other_domain}]})),
            ),
            (
                Method::POST,
                "registered_limits".into(),
                Some(json!({"registered_limits": [{"service_id": limit.service_id,
                    "resource_name": unique("x"), "default_limit": 1}]})),
            ),
            (Method::POST, "services".into(), Some(json!({"service": {"type": unique("x")}}))),
            (
                Method::POST,
                "endpoints".into(),
                Some(json!({"endpoint": {"service_id": limit.service_id, "interface": "public",
                    "url": "http://127.0.0.1:9/x"}})),
            ),
            (Method::DELETE, format!("endpoints/{endpoint}"), None),
            (Method::POST, "regions".into(), Some(json!({"region": {"id": unique("x")}}))),
            (Method::POST, "roles".into(), Some(json!({"role": {"name": unique("x")}}))),
        ];
        for (method, path, body) in refused {
            let got = status(&http, &holder.token, method.clone(), &path, body.as_ref()).await;
            assert_eq!(got, 403, "{}: {method} /v3/{path} must be refused", holder.label);
        }
        // Unfiltered lists: refused, or filtered by Keystone to what the
        // holder may see.
        let vregion_projects: Vec<String> =
            b.list_projects(&Filter::new().domain_id(&domain_id)).await.unwrap().into_iter().map(|p| p.id).collect();
        for (path, key) in [
            ("projects".to_string(), "projects"),
            ("projects?domain_id=default".into(), "projects"),
            (format!("projects?domain_id={other_domain}"), "projects"),
            ("users".into(), "users"),
            ("users?domain_id=default".into(), "users"),
            (format!("users?domain_id={users_domain}"), "users"),
            ("groups".into(), "groups"),
            ("groups?domain_id=default".into(), "groups"),
            ("domains".into(), "domains"),
            ("role_assignments".into(), "role_assignments"),
            ("role_assignments?scope.domain.id=default".into(), "role_assignments"),
            (format!("role_assignments?user.id={b_admin_user}"), "role_assignments"),
            (format!("role_assignments?scope.domain.id={other_domain}"), "role_assignments"),
            ("OS-FEDERATION/projects".into(), "projects"),
            ("auth/projects".into(), "projects"),
            ("auth/domains".into(), "domains"),
        ] {
            let Some(items) = listed(&http, &holder.token, &path, key).await else { continue };
            for item in &items {
                let inside = match (holder.domain.as_deref(), key) {
                    (Some(d), "projects" | "users" | "groups") => item["domain_id"] == d,
                    (Some(d), "domains") => item["id"] == d,
                    (Some(d), _) => {
                        item["scope"]["domain"]["id"] == d
                            || vregion_projects.iter().any(|p| item["scope"]["project"]["id"] == p.as_str())
                    }
                    (None, "projects") => Some(item["id"].as_str().unwrap()) == holder.project.as_deref(),
                    (None, "users") => item["id"] == me.as_str(),
                    (None, _) => item["user"]["id"] == me.as_str(),
                };
                assert!(inside, "{}: GET /v3/{path} shows what lies outside: {item}", holder.label);
            }
        }
        let project_name = unique("x");
        refused_by_cli(holder, &["project", "create", "--domain", "default", &project_name]);
        assert!(b.list_projects(&Filter::new().name(&project_name)).await.unwrap().is_empty());
        // openstacksdk 4.22 ignores a refused role assignment (exit 0,
        // nothing printed): what matters is that Keystone refused it.
        openstack(&holder.cli_env, &["role", "add", "--project", &b_admin_project, "--user", me, "admin"]);
        let actor = Actor::User(me.clone());
        assert!(!b.check_role(&admin_role, &actor, &Target::Project(b_admin_project.clone())).await.unwrap());
        assert!(!b.check_role(&admin_role, &actor, &Target::Domain(domain_id.clone())).await.unwrap());
    }
    // CLI lists: refused, or filtered by Keystone to what the holder may
    // see (the CLI runs in parallel: each run is a Python start).
    let outside = ["default", &other_domain, &users_domain, &idp, &b_admin_project, &b_admin_user];
    std::thread::scope(|scope| {
        for holder in &holders {
            for args in [
                &["domain", "list"][..],
                &["project", "list"],
                &["identity", "provider", "list"],
                &["role", "assignment", "list"],
            ] {
                let outside = &outside;
                scope.spawn(move || {
                    let (ok, out, err) = openstack(&holder.cli_env, args);
                    let command = args.join(" ");
                    assert!(!err.contains("Traceback"), "{}: `openstack {command}` crashed: {err}", holder.label);
                    let out = out.to_lowercase();
                    for item in outside {
                        let shown = ok && out.contains(&item.to_lowercase());
                        assert!(!shown, "{}: `openstack {command}` shows {item}: {out}", holder.label);
                    }
                });
            }
        }
    });
    let [vregion_admin, ..] = &holders;
    let region = unique("x");
    refused_by_cli(vregion_admin, &["region", "create", &region]);
    assert!(b.get_region(&region).await.unwrap_err().is_not_found());
    refused_by_cli(vregion_admin, &["limit", "set", "--resource-limit", "100000", &limit.id]);
    assert_eq!(b.get_limit(&limit.id).await.unwrap().resource_limit, limit.resource_limit);

    // Inside its domain, the vregion admin manages projects, users, groups
    // and role assignments (HTTP API).
    let token = &vregion_admin.token;
    let post = |path: &'static str, body: Value| {
        let http = http.clone();
        async move {
            let url = format!("{}/{path}", tb.url(Cloud::B).as_str().trim_end_matches('/'));
            let response =
                http.post(url).header("X-Auth-Token", token.expose_secret()).json(&body).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 201, "the vregion admin may POST /v3/{path}");
            response.json::<Value>().await.unwrap()
        }
    };
    let project = post("projects", json!({"project": {"name": unique("team"), "domain_id": domain_id}})).await;
    let project_id = project["project"]["id"].as_str().unwrap().to_string();
    let user =
        post("users", json!({"user": {"name": unique("dev"), "domain_id": domain_id, "password": unique("pw")}})).await;
    let user_id = user["user"]["id"].as_str().unwrap().to_string();
    let group = post("groups", json!({"group": {"name": unique("devs"), "domain_id": domain_id}})).await;
    let group_id = group["group"]["id"].as_str().unwrap().to_string();
    for (method, path) in [
        (Method::PUT, format!("groups/{group_id}/users/{user_id}")),
        (Method::PUT, format!("projects/{project_id}/users/{user_id}/roles/{member_role}")),
        (Method::PUT, format!("projects/{project_id}/groups/{group_id}/roles/{member_role}")),
        (Method::PUT, format!("domains/{domain_id}/users/{user_id}/roles/{manager_role}")),
        (Method::GET, format!("projects?domain_id={domain_id}")),
        (Method::GET, format!("users?domain_id={domain_id}")),
        (Method::GET, format!("groups?domain_id={domain_id}")),
        (Method::GET, format!("role_assignments?scope.project.id={project_id}")),
        (Method::PATCH, format!("projects/{project_id}")),
        (Method::DELETE, format!("projects/{project_id}/users/{user_id}/roles/{member_role}")),
        (Method::DELETE, format!("groups/{group_id}/users/{user_id}")),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"project": {"description": "the vregion's team"}}));
        let got = status(&http, token, method.clone(), &path, body.as_ref()).await;
        assert!((200..300).contains(&got), "the vregion admin may {method} /v3/{path}: {got}");
    }
    // ... but grants only manager, member and reader (Keystone's
    // domain_managed_target_role), and nothing to users of other domains.
    let path = format!("projects/{project_id}/users/{user_id}/roles/{admin_role}");
    assert_eq!(status(&http, token, Method::PUT, &path, None).await, 403, "PUT /v3/{path}");
    let path = format!("projects/{project_id}/users/{b_admin_user}/roles/{member_role}");
    assert_eq!(status(&http, token, Method::PUT, &path, None).await, 403, "PUT /v3/{path}");
    let path = format!("projects/{project_id}/users/{}/roles/{member_role}", federated.user.id);
    assert_eq!(status(&http, token, Method::PUT, &path, None).await, 403, "a federated user is in another domain");

    // The same through the openstack CLI.
    let cli_project = unique("team");
    allowed_by_cli(vregion_admin, &["project", "create", "--domain", &domain_id, &cli_project]);
    let cli_user = unique("dev");
    allowed_by_cli(vregion_admin, &["user", "create", "--domain", &domain_id, "--password", &unique("pw"), &cli_user]);
    let (cli_user_id, cli_project_id) = {
        let found = b.list_users(&Filter::new().name(&cli_user).domain_id(&domain_id)).await.unwrap();
        let project = b.list_projects(&Filter::new().name(&cli_project).domain_id(&domain_id)).await.unwrap();
        (found[0].id.clone(), project[0].id.clone())
    };
    allowed_by_cli(vregion_admin, &["role", "add", "--project", &cli_project_id, "--user", &cli_user_id, "member"]);
    let roles_listed = allowed_by_cli(
        vregion_admin,
        &["role", "assignment", "list", "--project", &cli_project_id, "--names", "-f", "value", "-c", "Role"],
    );
    assert_eq!(roles_listed.trim(), "member");
    openstack(&vregion_admin.cli_env, &["role", "add", "--project", &cli_project_id, "--user", &cli_user_id, "admin"]);
    let target = Target::Project(cli_project_id.clone());
    assert!(!b.check_role(&admin_role, &Actor::User(cli_user_id.clone()), &target).await.unwrap());
    allowed_by_cli(vregion_admin, &["user", "delete", &cli_user_id]);
    // The rest through the API (each CLI run costs a Python start).
    for path in [format!("users/{user_id}"), format!("groups/{group_id}")] {
        assert_eq!(status(&http, token, Method::DELETE, &path, None).await, 204, "DELETE /v3/{path}");
    }
    for id in [&cli_project_id, &project_id] {
        let disable = json!({"project": {"enabled": false}});
        let got = status(&http, token, Method::PATCH, &format!("projects/{id}"), Some(&disable)).await;
        assert_eq!(got, 200, "the vregion admin may disable its project");
        assert_eq!(status(&http, token, Method::DELETE, &format!("projects/{id}"), None).await, 204);
    }

    // An earlier version granted admin on the vregion domain: refresh takes
    // it away (and reconcile does for every active subscription).
    let admin_user = Actor::User(access.admin.user_id.clone());
    b.grant_role(&admin_role, &admin_user, &Target::Domain(domain_id.clone())).await.unwrap();
    let refreshed = engine.refresh(&partner, &access.subscription.id).await.unwrap();
    let removed = format!("cloud-wide role admin on domain {domain_id} of mercador-admin-{partner} removed");
    assert!(refreshed.repaired.contains(&removed), "{:?}", refreshed.repaired);
    assert!(!b.check_role(&admin_role, &admin_user, &Target::Domain(domain_id.clone())).await.unwrap());
    assert!(b.check_role(&manager_role, &admin_user, &Target::Domain(domain_id.clone())).await.unwrap());
    b.grant_role(&admin_role, &admin_user, &Target::Domain(domain_id.clone())).await.unwrap();
    b.grant_role(&admin_role, &admin_user, &Target::Project(b_admin_project.clone())).await.unwrap();
    let report = engine.reconcile().await.unwrap();
    let id = &access.subscription.id;
    for grant in [format!("admin on domain {domain_id}"), format!("admin on project {b_admin_project}")] {
        assert!(report.confined.contains(&format!("{id}: {grant}")), "{:?}", report.confined);
    }
    let filter = RoleAssignmentFilter { user_id: Some(access.admin.user_id.clone()), ..Default::default() };
    let left: Vec<_> = b.list_role_assignments(&filter).await.unwrap().into_iter().map(|a| a.role.id).collect();
    assert_eq!(
        left,
        std::slice::from_ref(&manager_role),
        "the vregion admin holds manager on its domain, nothing else"
    );

    // A role that implies service (Keystone refuses to let a role imply
    // admin) is refused at definition and before a subscription (when
    // Keystone's implied roles change afterwards); the configuration may
    // name more cloud-wide roles.
    let operator = b.create_role(&NewRole { name: unique("operator"), domain_id: None, description: None }).await;
    let operator = operator.unwrap();
    let bad = spec(&name("bad"), &[&partner], &["reader", &operator.name]);
    b.create_implied_role(&operator.id, &service_role).await.unwrap();
    let e = engine.create_vregion(bad.clone()).await.unwrap_err();
    let PublisherError::Invalid(errors) = &e else { panic!("{e}") };
    assert_eq!(errors.len(), 1, "{e}");
    assert_eq!(errors[0].field, "roles[1]", "{e}");
    assert!(errors[0].message.contains(&format!("{:?} implies \"service\"", operator.name)), "{e}");
    b.delete_implied_role(&operator.id, &service_role).await.unwrap();
    engine.create_vregion(bad.clone()).await.expect("without the implication the role is confined");
    engine.publish_vregion(&bad.name).await.unwrap();
    b.create_implied_role(&operator.id, &service_role).await.unwrap();
    let report = engine.check_confinement().await.unwrap();
    assert!(report.configuration.is_empty(), "{report:?}");
    assert_eq!(report.vregions.len(), 1, "{report:?}");
    assert!(report.vregions[0].starts_with(&format!("vregion {}: roles[1]", bad.name)), "{report:?}");
    let e = engine.subscribe(&partner, turn.subscribe_request(&bad.name)).await.unwrap_err();
    assert!(matches!(e, PublisherError::Conflict(_)) && e.to_string().contains(&operator.name), "{e}");
    b.delete_implied_role(&operator.id, &service_role).await.unwrap();

    let mut strict = PublisherConfig::new(tb.url(Cloud::B), tb.var("KEYSTONE_B_ECP_URL").parse().unwrap());
    strict.cloud_wide_roles = vec!["Member".into()];
    let strict = engine_with(&sqlite_url(), strict).await;
    let report = strict.check_confinement().await.unwrap();
    assert_eq!(report.configuration.len(), 2, "manager implies member; the partner role is member: {report:?}");
    assert!(report.configuration[0].starts_with("[federation] vregion_admin_role: \"manager\" implies \"member\""));
    let e = strict.onboard_partner(NewPartner { name: name("strict"), description: String::new() }).await;
    assert!(e.unwrap_err().to_string().contains("partner_role"));

    // Clean up.
    assert_eq!(engine.cancel(&partner, &access.subscription.id).await.unwrap().state, SubscriptionState::Cancelled);
    a.delete_service_provider(&sp_id).await.unwrap();
    a.delete_user(&carol_user.id).await.unwrap();
    a.delete_project(&a_project.id).await.unwrap();
    for v in [&vregion, &other, &bad] {
        engine.withdraw_vregion(&v.name).await.unwrap();
        engine.delete_vregion(&v.name, true).await.unwrap();
    }
    b.delete_role(&operator.id).await.unwrap();
    engine.remove_partner(&partner).await.unwrap();
}
