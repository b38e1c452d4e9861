//! Both services' OpenAPI documents, built in-process the way
//! `GET /openapi.json` builds them (no testbed needed):
//!
//! - every `$ref` resolves (a dangling one makes an operation unusable to
//!   generated clients and fuzzers: schemathesis stops on it);
//! - the names the services parse as a `Name` carry its rule: the document
//!   refuses an empty, too long or badly formed name in the bodies of
//!   `POST`/`PUT /v1/admin/vregions`, `POST /v1/bindings` and
//!   `POST /v1/publishers`, and allows what the engine allows;
//! - a vregion as the admin face answers it matches the document.
//!
//! Validation is a real JSON Schema 2020-12 validator (`jsonschema`, the
//! engine schemathesis uses), over the document's own components.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use mercador_core::model::{Name, VRegionSpec, VRegionState};
use mercador_core::publisher::VRegionView;
use serde_json::{Value, json};

fn documents() -> [(&'static str, Value); 2] {
    let publisher = mercador_server::publisher::openapi().unwrap_or_else(|p| panic!("publisher document: {p:?}"));
    let subscriber = mercador_server::subscriber::openapi().unwrap_or_else(|p| panic!("subscriber document: {p:?}"));
    [("publisher", serde_json::to_value(publisher).unwrap()), ("subscriber", serde_json::to_value(subscriber).unwrap())]
}

fn document(service: &str) -> Value {
    documents().into_iter().find(|(name, _)| *name == service).unwrap().1
}

/// Every `$ref` under `value`, with where it is (a JSON pointer).
fn references(value: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let here = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => found.push((target.clone(), at.to_owned())),
                    _ => references(child, &here, found),
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                references(child, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn every_reference_resolves_in_both_documents() {
    for (service, doc) in documents() {
        let mut found = Vec::new();
        references(&doc, "", &mut found);
        assert!(found.len() > 20, "{service}: only {} references found; is the walk broken?", found.len());
        let dangling: Vec<String> = found
            .iter()
            .filter(|(target, _)| target.strip_prefix('#').is_none_or(|pointer| doc.pointer(pointer).is_none()))
            .map(|(target, at)| format!("{target} (at {at})"))
            .collect();
        assert!(dangling.is_empty(), "{service} document: dangling references:\n{}", dangling.join("\n"));
    }
}

#[test]
fn the_walk_finds_a_dangling_reference() {
    let mut doc = document("subscriber");
    doc["components"]["schemas"].as_object_mut().unwrap().remove("Name");
    let mut found = Vec::new();
    references(&doc, "", &mut found);
    let dangling: Vec<_> = found
        .iter()
        .filter(|(target, _)| target.strip_prefix('#').is_none_or(|p| doc.pointer(p).is_none()))
        .map(|(_, at)| at.as_str())
        .collect();
    assert!(dangling.contains(&"/paths/~1v1~1publishers~1{name}/get/parameters/0/schema"), "{dangling:?}");
}

/// A validator of `schema` (a fragment of `doc`) whose references resolve in `doc`.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("not a valid schema: {e}"))
}

fn request_body(doc: &Value, path: &str, method: &str) -> jsonschema::Validator {
    let schema = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} has no JSON request body");
    validator(doc, schema)
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

fn with(body: &Value, field: &str, value: &str) -> Value {
    let mut body = body.clone();
    body[field] = json!(value);
    body
}

/// Names the engine refuses everywhere.
const BAD_NAMES: &[&str] = &["", "Lisbon", "1abc", "-abc", "abc-", "a_b", "a b", "a/b", "lisboa-é"];

/// `field` of the bodies `v` validates: `good` with it set to every bad
/// name, or to a name one longer than `max_len`, is refused; with
/// `max_len` characters it is allowed. The engine agrees on every bad name.
fn assert_name_rule(operation: &str, v: &jsonschema::Validator, good: &Value, field: &str, max_len: usize) {
    assert_eq!(errors(v, good), Vec::<String>::new(), "{operation}: the example body is refused");
    let longest = "a".repeat(max_len);
    assert_eq!(errors(v, &with(good, field, &longest)), Vec::<String>::new(), "{operation}: {field} of {max_len}");
    let too_long = "a".repeat(max_len + 1);
    for bad in BAD_NAMES.iter().copied().chain([too_long.as_str(), &"a".repeat(Name::MAX_LEN + 1)]) {
        assert!(!v.is_valid(&with(good, field, bad)), "{operation}: the document allows {field} = {bad:?}");
    }
    for bad in BAD_NAMES {
        assert!(Name::parse(field, bad).is_err(), "the engine takes {bad:?}: fix BAD_NAMES");
    }
}

#[test]
fn the_documents_refuse_bad_names_in_the_four_bodies() {
    let publisher = document("publisher");
    let vregion = json!({
        "name": "lisbon", "region": "RegionOne", "service_types": ["compute"], "roles": ["member"],
        "max_subscriptions": 2, "partners": ["cloud-a"],
    });
    let longest_without_domain = 64 - "mercador-".len();
    for (path, method) in [("/v1/admin/vregions", "post"), ("/v1/admin/vregions/{name}", "put")] {
        let v = request_body(&publisher, path, method);
        let operation = format!("{method} {path}");
        // Without a domain the name makes the domain, `mercador-<name>` (at most 64).
        assert_name_rule(&operation, &v, &vregion, "name", longest_without_domain);
        let mut with_domain = vregion.clone();
        with_domain["domain"] = json!("vr");
        assert_name_rule(&operation, &v, &with_domain, "name", Name::MAX_LEN);
        let mut null_domain = vregion.clone();
        null_domain["domain"] = Value::Null;
        assert!(!v.is_valid(&with(&null_domain, "name", &"a".repeat(longest_without_domain + 1))));
        for bad in BAD_NAMES {
            let mut partners = vregion.clone();
            partners["partners"] = json!(["cloud-a", bad]);
            assert!(!v.is_valid(&partners), "{operation}: the document allows partner {bad:?}");
        }
        // The engine's own verdict on the limit the document states.
        for (len, ok) in [(longest_without_domain, true), (longest_without_domain + 1, false)] {
            let spec: VRegionSpec = serde_json::from_value(with(&vregion, "name", &"a".repeat(len))).unwrap();
            assert_eq!(spec.validate().is_ok(), ok, "{len}: {:?}", spec.validate());
        }
    }

    let subscriber = document("subscriber");
    let v = request_body(&subscriber, "/v1/bindings", "post");
    let binding = json!({"publisher": "cloud-b", "vregion": "lisbon", "alias": "lisbon-b"});
    assert_name_rule("post /v1/bindings", &v, &binding, "publisher", Name::MAX_LEN);
    assert_name_rule("post /v1/bindings", &v, &binding, "vregion", Name::MAX_LEN);
    assert_name_rule("post /v1/bindings", &v, &binding, "alias", mercador_core::subscriber::bind::MAX_ALIAS);

    let v = request_body(&subscriber, "/v1/publishers", "post");
    let registration = json!({
        "name": "cloud-b", "keystone_url": "https://keystone.b.example/v3",
        "application_credential_id": "0123abcd", "application_credential_secret": "s3cret",
    });
    assert_name_rule("post /v1/publishers", &v, &registration, "name", Name::MAX_LEN);
    // The credential's rules the engine enforces (register_publisher).
    let id64 = "a".repeat(64);
    for (field, value) in [("application_credential_id", id64.as_str()), ("keystone_url", "http://k.example/v3")] {
        assert!(v.is_valid(&with(&registration, field, value)), "post /v1/publishers: {field} = {value:?}");
    }
    let id65 = "a".repeat(65);
    for (field, value) in [
        ("application_credential_id", ""),
        ("application_credential_id", "   "),
        ("application_credential_id", id65.as_str()),
        ("application_credential_secret", ""),
        ("keystone_url", "ftp://keystone.b.example/v3"),
    ] {
        assert!(!v.is_valid(&with(&registration, field, value)), "post /v1/publishers allows {field} = {value:?}");
    }
}

#[test]
fn the_name_component_is_the_engines_rule() {
    let doc = document("subscriber");
    let v = validator(&doc, &json!({"$ref": "#/components/schemas/Name"}));
    let alphabet = ["a", "z", "0", "9", "-", "A", "_", " ", ".", "é"];
    let mut candidates: Vec<String> =
        vec![String::new(), "a".repeat(63), "a".repeat(64), format!("a{}9", "-".repeat(61))];
    for a in alphabet {
        candidates.push(a.to_owned());
        for b in alphabet {
            candidates.push(format!("{a}{b}"));
            for c in alphabet {
                candidates.push(format!("{a}{b}{c}"));
            }
        }
    }
    for candidate in &candidates {
        let engine = Name::parse("name", candidate).is_ok();
        assert_eq!(v.is_valid(&json!(candidate)), engine, "{candidate:?}: the engine says {engine}");
    }
}

#[test]
fn name_parameters_carry_the_rule() {
    for (service, doc) in documents() {
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    let is_name = parameter["name"] == "name" || parameter["name"] == "publisher";
                    if !is_name {
                        continue;
                    }
                    let v = validator(&doc, &parameter["schema"]);
                    for bad in BAD_NAMES {
                        assert!(!v.is_valid(&json!(bad)), "{service} {method} {path}: parameter allows {bad:?}");
                    }
                    assert!(v.is_valid(&json!("lisbon-1")), "{service} {method} {path}");
                }
            }
        }
    }
}

#[test]
fn a_vregion_view_matches_the_document() {
    let doc = document("publisher");
    let spec: VRegionSpec = serde_json::from_value(json!({
        "name": "lisbon", "region": "RegionOne", "service_types": ["compute"], "roles": ["member"],
        "max_subscriptions": 2, "partners": ["cloud-a"], "metadata": {"country": "pt"},
    }))
    .unwrap();
    let view = VRegionView {
        id: "0f3c".into(),
        state: VRegionState::Published,
        domain_id: Some("d1".into()),
        places_taken: 1,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        enforcement: spec.enforcement(),
        spec,
    };
    let instance = serde_json::to_value(&view).unwrap();
    for (path, method, status) in [
        ("/v1/admin/vregions/{name}", "get", "200"),
        ("/v1/admin/vregions", "post", "201"),
        ("/v1/admin/vregions/{name}", "put", "200"),
        ("/v1/admin/vregions/{name}/publish", "post", "200"),
    ] {
        let schema = &doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"];
        let v = validator(&doc, schema);
        assert_eq!(errors(&v, &instance), Vec::<String>::new(), "{method} {path} {status}");
    }
    let list = &doc["paths"]["/v1/admin/vregions"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(validator(&doc, list).is_valid(&json!([instance])));
}
