//! Schemathesis against the subscriber's own OpenAPI document, as
//! `publisher_fuzz.rs` does for the publisher: generated requests (valid and
//! invalid) on every route must never get a server error, must get answers
//! that match the document (status codes, content types, bodies, headers),
//! invalid ones must be refused, and routes must enforce their
//! authentication.
//!
//! So that the generated requests reach more than "no such binding", the
//! subscriber is given a real publisher process (a partner for A and a
//! vregion offered to it) and one active binding before the run; half of
//! the generated publisher names and binding aliases are theirs
//! (schemathesis dictionaries, [`config`]). The run may refresh, cancel and
//! re-list them; whatever it leaves is cleaned up afterwards.
//!
//! The subscriber calls the publishers registered with it (discovery,
//! subscribe, refresh), and the fuzzer registers publishers at generated
//! URLs (`https://oc6bu.ikn.net/`...): a `before_call` hook ([`HOOKS`])
//! points every URL-like value of a registration at a closed port on
//! 127.0.0.1, so the run never sends anything off this machine.
//!
//! The run uses a fixed seed, so a failure replays the same way; the
//! schemathesis binary comes from the testbed's tools venv (`SCHEMATHESIS`
//! in its env file).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mercador_core::model::Name;
use mercador_tests::publisher::{a_entity_turn, free_entity_on_b, name, test_catalog};
use mercador_tests::{Cloud, Testbed};
use secrecy::SecretString;
use serde_json::json;
use support::{ApiClient, FuzzRun, PublisherOptions, PublisherProcess, SubscriberProcess, admin_token};

/// Where the publishers the fuzzer registers point: port 9 (discard) on
/// the loopback, where nothing listens.
const SINK: &str = "http://127.0.0.1:9/v3";

/// Schemathesis hooks: in the body of `POST /v1/publishers`, any string
/// of `keystone_url` or `exchange_url` that could be an absolute URL (it
/// has a `:`) becomes [`SINK`]; strings without one stay, as invalid
/// values the service must refuse.
const HOOKS: &str = r#"
import schemathesis

SINK = "http://127.0.0.1:9/v3"

@schemathesis.hook
def before_call(context, case, kwargs):
    if case.method.upper() != "POST" or case.operation.path != "/v1/publishers" or not isinstance(case.body, dict):
        return
    for field in ("keystone_url", "exchange_url"):
        value = case.body.get(field)
        if isinstance(value, str) and ":" in value:
            case.body[field] = SINK
"#;

/// The schemathesis configuration: half of the `{name}` of publishers and
/// bindings, of the `publisher` filter and of a subscription's `publisher`
/// are the seeded ones. Fewer refreshes of a binding are generated (a
/// refresh at the publisher takes about 2 s).
fn config(publisher: &Name, alias: &Name) -> String {
    format!(
        r#"
[dictionaries]
publishers = {{ values = ["{publisher}"] }}
aliases = {{ values = ["{alias}"] }}

[[operations]]
include-path-regex = "^/v1/publishers/"
parameters = {{ "path.name" = {{ dictionary = "publishers", probability = 0.5 }} }}

[[operations]]
include-path-regex = "^/v1/bindings/[^/]+$"
parameters = {{ "path.name" = {{ dictionary = "aliases", probability = 0.5 }} }}

[[operations]]
include-path-regex = "^/v1/bindings/[^/]+/refresh$"
parameters = {{ "path.name" = {{ dictionary = "aliases", probability = 0.5 }} }}
generation = {{ max-examples = 8 }}

[[operations]]
include-name = "GET /v1/bindings"
parameters = {{ "query.publisher" = {{ dictionary = "publishers", probability = 0.5 }} }}

[[operations]]
include-name = "POST /v1/bindings"
parameters = {{ "body.publisher" = {{ dictionary = "publishers", probability = 0.5 }} }}
"#
    )
}

fn schemathesis(service: &SubscriberProcess, token: &SecretString, publisher: &Name, alias: &Name) {
    let hooks = service.dir().join("fuzz_hooks.py");
    std::fs::write(&hooks, HOOKS).unwrap();
    let config_file = service.dir().join("schemathesis.toml");
    std::fs::write(&config_file, config(publisher, alias)).unwrap();
    let (hooks, config_file) = (hooks.to_str().unwrap(), config_file.to_str().unwrap());
    let how = FuzzRun { global: &["--config-file", config_file], env: &[("SCHEMATHESIS_HOOKS", hooks)], run: &[] };
    support::schemathesis(&service.url(), service.dir(), "schemathesis.txt", token, how);
}

#[tokio::test]
async fn generated_requests_never_break_the_subscriber() {
    let turn = a_entity_turn().await;
    let tb = Testbed::get();
    let entity_id = turn.entity_id().to_string();
    free_entity_on_b(&entity_id).await;

    // Publisher B: a partner for A and a vregion offered to it.
    let publisher = PublisherProcess::start(PublisherOptions::default()).await;
    let b_admin = ApiClient::new(publisher.url()).with_token(admin_token().await);
    test_catalog().await;
    let partner = name("fuzz-sub");
    let onboarded = b_admin.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
    let vregion = name("fuzz-vr");
    let spec = json!({
        "name": vregion, "region": tb.region(Cloud::B), "service_types": ["identity", "compute"],
        "roles": ["reader"], "max_subscriptions": 1, "partners": [partner],
    });
    b_admin.post("/v1/admin/vregions", &spec).await.expect(201);
    b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/publish")).await.expect(200);

    // Subscriber A, with B registered and one binding.
    let service = SubscriberProcess::start(turn.identity(), 0).await;
    let admin = tb.admin_session(Cloud::A).token().await.unwrap().secret().clone();
    let api = ApiClient::new(service.url()).with_token(admin.clone());

    // The document served is the one built in-process (`openapi_documents.rs` checks that one).
    let served = ApiClient::new(service.url()).get("/openapi.json").await.expect(200);
    let mut built = serde_json::to_value(mercador_server::subscriber::openapi().unwrap()).unwrap();
    built["servers"] = served["servers"].clone();
    assert_eq!(served, built);

    let b_name = name("fuzz-pub");
    let registration = json!({
        "name": b_name,
        "keystone_url": tb.url(Cloud::B),
        "exchange_url": publisher.url().join("v1/exchange").unwrap(),
        "application_credential_id": onboarded["application_credential_id"],
        "application_credential_secret": onboarded["application_credential_secret"],
    });
    api.post("/v1/publishers", &registration).await.expect(201);
    let alias = name("fuzz-alias");
    let bound = api.post("/v1/bindings", &json!({"publisher": b_name, "vregion": vregion, "alias": alias})).await;
    assert_eq!(bound.expect(201)["state"], "active");

    schemathesis(&service, &admin, &b_name, &alias);

    // Every publisher the run registered points at the sink.
    for p in api.get("/v1/publishers").await.expect(200).as_array().unwrap() {
        if p["name"] != b_name.as_str() {
            assert_eq!(p["keystone_url"], SINK, "{p}");
            assert!(p["exchange_url"].is_null() || p["exchange_url"] == SINK, "{p}");
        }
    }
    assert!(HOOKS.contains(SINK));

    // Clean up whatever the run left: live bindings, B's registration here,
    // the vregion and the partner at B.
    for b in api.get("/v1/bindings").await.expect(200).as_array().unwrap() {
        let final_state = ["cancelled", "revoked", "failed"].contains(&b["state"].as_str().unwrap());
        if !final_state {
            let cancelled = api.delete(&format!("/v1/bindings/{}?force=true", b["alias"].as_str().unwrap())).await;
            assert_eq!(cancelled.expect(200)["state"], "cancelled", "{b}");
        }
    }
    let removed = api.delete(&format!("/v1/publishers/{b_name}")).await;
    assert!([204, 404].contains(&removed.status), "{removed}");
    b_admin.post_empty(&format!("/v1/admin/vregions/{vregion}/withdraw")).await.expect(200);
    b_admin.delete(&format!("/v1/admin/vregions/{vregion}?purge=true")).await.expect(204);
    b_admin.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
    free_entity_on_b(&entity_id).await;
}
