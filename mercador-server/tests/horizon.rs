//! What A's users see in Horizon: a real OpenStack Dashboard in front of
//! Keystone A (started by the testbed, `HORIZON_URL`), driven over HTTP as
//! a browser would (cookies, the login form with its CSRF token, redirects
//! followed), while a real publisher process over Keystone B and a real
//! subscriber process over Keystone A bind a vregion.
//!
//! - before the binding, alice's region menu holds A's own regions only,
//!   and her keystone-provider menu has no `mercador-<alias>`;
//! - after it, the region menu lists the alias and the keystone-provider
//!   menu the service provider `mercador-<alias>`;
//! - alice switches to that provider through Horizon's own view (a K2K
//!   login done by Horizon over what Mercador configured) and Horizon shows
//!   her project in the vregion's domain on B; she switches back to A;
//! - after the cancel, a new login shows neither.
//!
//! The menus are read from the elements Horizon renders for them: the
//! "Regions:" list of the project/region context selector
//! (`ul.context-selection`), built from the regions of the catalog's
//! non-identity endpoints and shown when there are two or more, and
//! `ul#keystone_provider_list`, built from the token's service providers
//! plus A itself (`HORIZON_KEYSTONE_PROVIDER_IDP_ID`).
//!
//! The test binds with Keystone A's real SAML entity id, so it holds
//! [`a_entity_turn`] for its whole run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use mercador_core::keystone::types::Filter;
use mercador_core::keystone::{HttpClient, HttpConfig, IdentityApi};
use mercador_tests::publisher::{a_entity_turn_of, alice, free_entity_on_b, name, test_catalog};
use mercador_tests::{Cloud, Testbed};
use reqwest::Method;
use scraper::{ElementRef, Html, Selector};
use secrecy::ExposeSecret;
use serde_json::json;
use support::{ApiClient, PublisherOptions, PublisherProcess, SubscriberProcess, admin_token, keystone_b};
use url::Url;

/// One browser session of Horizon: its own cookie jar, redirects followed.
struct Browser {
    base: Url,
    http: reqwest::Client,
}

/// A page Horizon answered with, after the redirects.
struct Page {
    status: u16,
    url: Url,
    html: Html,
}

/// One entry of Horizon's keystone-provider menu.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Provider {
    /// The provider id (from the link's `/auth/switch_keystone_provider/<id>/`).
    id: String,
    /// The name shown.
    name: String,
    /// Marked as the current provider (`fa-check`).
    current: bool,
    /// The link's path and query, as a browser would follow it.
    href: String,
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("selector {css}: {e}"))
}

fn text_of(element: ElementRef<'_>) -> String {
    element.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Browser {
    fn new() -> Self {
        // mercador-core's client installs the TLS crypto provider reqwest is built to need.
        let _ = HttpClient::new(&HttpConfig::default()).expect("HTTP client");
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::limited(10))
            .timeout(Duration::from_secs(120))
            .build()
            .expect("browser client");
        let base = Url::parse(Testbed::get().var("HORIZON_URL")).expect("HORIZON_URL");
        Self { base, http }
    }

    async fn send(&self, builder: reqwest::RequestBuilder) -> Page {
        let response = builder.send().await.unwrap_or_else(|e| panic!("Horizon did not answer: {e}"));
        let status = response.status().as_u16();
        let url = response.url().clone();
        let body = response.text().await.expect("Horizon's page");
        Page { status, url, html: Html::parse_document(&body) }
    }

    /// `GET` of a path (with its query) of Horizon.
    async fn get(&self, path: &str) -> Page {
        self.send(self.http.get(self.base.join(path).expect("url"))).await
    }

    /// Fills and posts Horizon's login form as a browser would (every
    /// input of the form, the CSRF token among them, with user name and
    /// password typed in); returns the page it lands on. Panics with
    /// Horizon's message when the login is refused.
    async fn log_in(&self, user: &str, password: &str) -> Page {
        let form_page = self.get("auth/login/").await;
        assert_eq!(form_page.status, 200, "the login page: HTTP {}", form_page.status);
        let form = form_page.html.select(&selector("form[action=\"/auth/login/\"]")).next().expect("the login form");
        let mut fields: Vec<(String, String)> = Vec::new();
        for input in form.select(&selector("input[name]")) {
            let field = input.value().attr("name").unwrap().to_owned();
            let value = match field.as_str() {
                "username" => user.to_owned(),
                "password" => password.to_owned(),
                _ => input.value().attr("value").unwrap_or_default().to_owned(),
            };
            fields.push((field, value));
        }
        assert!(fields.iter().any(|(k, v)| k == "csrfmiddlewaretoken" && !v.is_empty()), "no CSRF token in the form");
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish();
        let login_url = self.base.join("auth/login/").expect("url");
        let request = self
            .http
            .request(Method::POST, login_url.clone())
            .header("Referer", login_url.as_str())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        let page = self.send(request).await;
        assert!(
            page.status == 200 && page.url.path() != "/auth/login/",
            "the login of {user} was refused: HTTP {} at {}; Horizon says: {:?}",
            page.status,
            page.url,
            page.messages()
        );
        page
    }
}

impl Page {
    /// Horizon's region menu: the names in the "Regions:" list of the
    /// context selector, or `None` when Horizon renders none (fewer than
    /// two regions). Each entry must link to Horizon's region switch.
    fn region_menu(&self) -> Option<BTreeSet<String>> {
        let menus: Vec<ElementRef<'_>> = self
            .html
            .select(&selector("ul.context-selection ul.dropdown-menu"))
            .filter(|menu| {
                menu.select(&selector("li.dropdown-header")).next().is_some_and(|h| text_of(h) == "Regions:")
            })
            .collect();
        assert!(menus.len() <= 1, "more than one region menu at {}", self.url);
        let menu = menus.first()?;
        let mut regions = BTreeSet::new();
        for link in menu.select(&selector("li > a")) {
            let region = text_of(link.select(&selector("span.region-name")).next().expect("span.region-name"));
            let href = link.value().attr("href").unwrap_or_default();
            assert!(
                href.starts_with(&format!("/auth/switch_services_region/{region}/")),
                "region {region} links to {href}"
            );
            regions.insert(region);
        }
        Some(regions)
    }

    /// Horizon's keystone-provider menu (`ul#keystone_provider_list`), empty
    /// when Horizon renders none (the token names no service provider).
    fn keystone_providers(&self) -> Vec<Provider> {
        let Some(menu) = self.html.select(&selector("ul#keystone_provider_list")).next() else {
            return Vec::new();
        };
        menu.select(&selector("li > a"))
            .map(|link| {
                let href = link.value().attr("href").unwrap_or_default().to_owned();
                let id = href
                    .strip_prefix("/auth/switch_keystone_provider/")
                    .and_then(|rest| rest.split_once('/'))
                    .map(|(id, _)| id.to_owned())
                    .unwrap_or_else(|| panic!("a provider links to {href}"));
                let name = text_of(link.select(&selector("span.region-name")).next().expect("span.region-name"));
                let current = link.select(&selector("span.fa-check")).next().is_some();
                Provider { id, name, current, href }
            })
            .collect()
    }

    /// The ids of the providers in the keystone-provider menu.
    fn provider_ids(&self) -> BTreeSet<String> {
        self.keystone_providers().into_iter().map(|p| p.id).collect()
    }

    /// The provider `id` of the keystone-provider menu.
    fn provider(&self, id: &str) -> Option<Provider> {
        self.keystone_providers().into_iter().find(|p| p.id == id)
    }

    /// The provider marked current.
    fn current_provider(&self) -> Option<Provider> {
        self.keystone_providers().into_iter().find(|p| p.current)
    }

    /// The project shown in the header's context selector.
    fn current_project(&self) -> String {
        text_of(self.html.select(&selector("span.context-project")).next().expect("span.context-project"))
    }

    /// Identity -> Projects: `(id, name)` of each row of the projects table.
    fn project_rows(&self) -> Vec<(String, String)> {
        self.html
            .select(&selector("table#tenants tbody tr[data-object-id]"))
            .map(|row| {
                let v = row.value();
                (v.attr("data-object-id").unwrap().to_owned(), v.attr("data-display").unwrap_or_default().to_owned())
            })
            .collect()
    }

    /// Horizon's messages on the page (alerts), for failure reports.
    fn messages(&self) -> Vec<String> {
        self.html.select(&selector(".messages .alert, .alert-danger, .alert-warning")).map(text_of).collect()
    }
}

/// The regions Horizon builds its region menu from: those of the
/// non-identity endpoints in alice's catalog on A (a fresh token).
async fn service_regions_of_alice() -> BTreeSet<String> {
    let token = alice().token().await.expect("alice's token on A");
    token
        .catalog()
        .services
        .iter()
        .filter(|s| s.service_type != "identity")
        .flat_map(|s| &s.endpoints)
        .filter_map(|e| e.region().map(str::to_owned))
        .collect()
}

/// The region menu Horizon renders for a catalog with these regions.
fn menu_for(regions: &BTreeSet<String>) -> Option<BTreeSet<String>> {
    (regions.len() > 1).then(|| regions.clone())
}

/// alice logs in to Horizon in a new browser; the region menu must be the
/// one A's catalog makes (read just before and just after the login, as
/// other tests may change A's catalog meanwhile). Returns the browser and
/// the page she landed on.
async fn alice_logs_in() -> (Browser, Page) {
    let (user, password, _) = Testbed::get().demo_user();
    let before = service_regions_of_alice().await;
    let browser = Browser::new();
    let page = browser.log_in(&user, password.expose_secret()).await;
    let after = service_regions_of_alice().await;
    let menu = page.region_menu();
    assert!(
        menu == menu_for(&before) || menu == menu_for(&after),
        "Horizon's region menu {menu:?} is not what A's catalog makes ({before:?}, then {after:?})"
    );
    (browser, page)
}

#[tokio::test]
async fn a_bound_vregion_in_horizon_region_and_provider_menus_and_horizon_k2k_into_it() {
    let started = Instant::now();
    let turn = a_entity_turn_of(0).await; // Horizon logs in to the Keystone A of identity 0
    let tb = Testbed::get();
    let entity_id = turn.entity_id().to_string();
    free_entity_on_b(&entity_id).await;
    let idp_id = tb.var("HORIZON_KEYSTONE_PROVIDER_IDP_ID").to_owned();
    let (_, alice_password, alice_project) = tb.demo_user();

    // Publisher B: a partner for A and a vregion with compute (a non-identity
    // service, so that Horizon shows it) offered to it.
    let publisher = PublisherProcess::start(PublisherOptions::default()).await;
    let b_admin = ApiClient::new(publisher.url()).with_token(admin_token().await);
    test_catalog().await;
    let partner = name("hz-partner");
    let onboarded = b_admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
    let secret = onboarded["application_credential_secret"].as_str().unwrap().to_owned();
    let vregion = name("hz-vr");
    b_admin
        .post(
            "/v1/admin/vregions",
            &json!({
                "name": vregion,
                "region": tb.region(Cloud::B),
                "service_types": ["identity", "compute"],
                "roles": ["reader"],
                "max_subscriptions": 1,
                "partners": [partner],
            }),
        )
        .await
        .expect(201);
    b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/publish")).await.expect(200);
    let view = b_admin.get(&format!("/v1/admin/vregions/{vregion}")).await.expect(200);
    let vregion_domain = view["domain_id"].as_str().expect("a published vregion has a domain").to_owned();

    // Subscriber A with B registered.
    let service = SubscriberProcess::start(turn.identity(), 300).await;
    let a_token = tb.admin_session(Cloud::A).token().await.unwrap().secret().clone();
    let api = ApiClient::new(service.url()).with_token(a_token.clone());
    let b_name = name("hz-pub");
    api.post(
        "/v1/publishers",
        &json!({
            "name": b_name,
            "keystone_url": tb.url(Cloud::B),
            "exchange_url": publisher.url().join("v1/exchange").unwrap(),
            "application_credential_id": onboarded["application_credential_id"],
            "application_credential_secret": secret,
        }),
    )
    .await
    .expect(201);
    let alias = name("hz-x");
    let sp = format!("mercador-{alias}");

    // Before the binding: A's own regions only, no mercador-<alias>.
    let (_, page) = alice_logs_in().await;
    assert!(!page.region_menu().unwrap_or_default().contains(alias.as_str()));
    assert!(!page.provider_ids().contains(&sp), "{sp} before the binding: {:?}", page.keystone_providers());
    eprintln!("before the binding: region menu {:?}, providers {:?}", page.region_menu(), page.provider_ids());

    // Bind.
    let bound =
        api.post("/v1/bindings", &json!({"publisher": b_name, "vregion": vregion, "alias": alias})).await.expect(201);
    assert_eq!(bound["state"], "active", "{bound}");

    // alice's Horizon: the alias in the region menu, mercador-<alias> in the
    // provider menu, and A itself as the current provider.
    let (browser, page) = alice_logs_in().await;
    let menu = page.region_menu().unwrap_or_else(|| panic!("no region menu after the binding at {}", page.url));
    assert!(menu.contains(alias.as_str()), "region menu {menu:?} without {alias}");
    assert!(menu.contains(tb.region(Cloud::A)), "region menu {menu:?} without A's {}", tb.region(Cloud::A));
    let providers = page.keystone_providers();
    let to_b = page.provider(&sp).unwrap_or_else(|| panic!("no {sp} in {providers:?}"));
    assert_eq!(to_b.name, sp, "{providers:?}");
    assert_eq!(page.current_provider().map(|p| p.id), Some(idp_id.clone()), "{providers:?}");
    assert_eq!(page.current_project(), alice_project, "alice starts in her project on A");
    eprintln!("after the binding: region menu {menu:?}, providers {providers:?}");

    // The switch to mercador-<alias>: Horizon's own K2K login into B.
    let switch_started = Instant::now();
    let on_b = browser.get(&to_b.href).await;
    let switch_took = switch_started.elapsed();
    assert_eq!(on_b.status, 200, "after the switch: HTTP {} at {}; {:?}", on_b.status, on_b.url, on_b.messages());
    assert_eq!(
        on_b.current_provider().map(|p| p.id),
        Some(sp.clone()),
        "Horizon did not switch to {sp} (at {}); Horizon says: {:?}",
        on_b.url,
        on_b.messages()
    );
    let rows = on_b.project_rows();
    assert!(!rows.is_empty(), "Identity -> Projects lists nothing on B at {}; {:?}", on_b.url, on_b.messages());
    let b = keystone_b();
    for (id, project_name) in &rows {
        let project = b.get_project(id).await.unwrap_or_else(|e| panic!("project {project_name} ({id}) on B: {e}"));
        assert_eq!(project.domain_id, vregion_domain, "alice's project {project_name} on B is in the vregion domain");
    }
    assert!(rows.iter().any(|(_, n)| *n == alice_project), "her project {alice_project} on B: {rows:?}");
    assert_eq!(on_b.current_project(), alice_project, "Horizon's current project on B");
    eprintln!("Horizon's switch to {sp} took {switch_took:?}; projects on B: {rows:?}");

    // And back to A (a token login at A with the session's base token).
    let back = on_b.provider(&idp_id).unwrap_or_else(|| panic!("no {idp_id} in {:?}", on_b.keystone_providers()));
    let on_a = browser.get(&back.href).await;
    assert_eq!(on_a.current_provider().map(|p| p.id), Some(idp_id.clone()), "{:?}", on_a.messages());
    let demo = tb.admin(Cloud::A).list_projects(&Filter::new().name(&alice_project)).await.unwrap();
    assert_eq!(demo.len(), 1, "alice's project on A: {demo:?}");
    assert_eq!(on_a.project_rows(), vec![(demo[0].id.clone(), alice_project.clone())], "back on A");

    // Cancel: a new login shows neither the region nor the provider.
    let cancelled = api.delete(&format!("/v1/bindings/{alias}")).await.expect(200);
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    let (_, page) = alice_logs_in().await;
    assert!(
        !page.region_menu().unwrap_or_default().contains(alias.as_str()),
        "{alias} still in the region menu: {:?}",
        page.region_menu()
    );
    assert!(!page.provider_ids().contains(&sp), "{sp} still in the provider menu: {:?}", page.keystone_providers());

    // Clean up: publisher removed at A, vregion and partner at B.
    let answer = api.send(api.builder(Method::DELETE, &format!("/v1/publishers/{b_name}"))).await;
    assert_eq!(answer.status, 204, "{answer}");
    b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/withdraw")).await.expect(200);
    b_admin.delete(&format!("/v1/admin/vregions/{vregion}?purge=true")).await.expect(204);
    b_admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
    free_entity_on_b(&entity_id).await;

    // Neither Horizon's logs nor the services' hold alice's password or A's token.
    let logs = std::path::PathBuf::from(tb.var("MERCADOR_TESTBED_STATE")).join("logs");
    for file in ["horizon.log", "uwsgi-horizon.log"] {
        let text = std::fs::read_to_string(logs.join(file)).unwrap_or_default();
        assert!(!text.contains(alice_password.expose_secret()), "alice's password in {file}");
    }
    assert!(!service.log().contains(a_token.expose_secret()), "A's token in the subscriber log");
    eprintln!("the Horizon test took {:?}", started.elapsed());
}
