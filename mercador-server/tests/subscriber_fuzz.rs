//! Schemathesis against the subscriber's own OpenAPI document, as
//! `publisher_fuzz.rs` does for the publisher: generated requests (valid and
//! invalid) on every route must never get a server error, must get answers
//! that match the document (status codes, content types, bodies, headers),
//! invalid ones must be refused, and routes must enforce their
//! authentication.
//!
//! The run uses a fixed seed, so a failure replays the same way; the
//! schemathesis binary comes from the testbed's tools venv (`SCHEMATHESIS`
//! in its env file).
//!
//! The subscriber calls the publishers registered with it (discovery,
//! subscribe, refresh), and the fuzzer registers publishers at generated
//! URLs (`https://oc6bu.ikn.net/`...): a `before_call` hook ([`HOOKS`])
//! points every URL-like value of a registration at a closed port on
//! 127.0.0.1, so the run never sends anything off this machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mercador_tests::{Cloud, Testbed};
use secrecy::{ExposeSecret, SecretString};
use support::{ApiClient, SubscriberProcess};

/// The publisher's checks: every one but `positive_data_acceptance` (the
/// document cannot express every rule: a binding's publisher must be
/// registered, its vregion offered...).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance,negative_data_rejection,\
                      missing_required_header,unsupported_method,ignored_auth";

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

/// Where registered publishers point: port 9 (discard) on the loopback, closed.
const SINK: &str = "http://127.0.0.1:9/v3";

fn schemathesis(service: &SubscriberProcess, token: &SecretString) {
    let tb = Testbed::get();
    let report = service.dir().join("schemathesis.txt");
    let hooks = service.dir().join("fuzz_hooks.py");
    std::fs::write(&hooks, HOOKS).unwrap();
    let output = std::process::Command::new(tb.var("SCHEMATHESIS"))
        .env("SCHEMATHESIS_HOOKS", &hooks)
        .arg("run")
        .arg(service.url().join("openapi.json").unwrap().as_str())
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "25", "--seed", "20261122", "--no-color"])
        .args(["--header", &format!("X-Auth-Token: {}", token.expose_secret())])
        .current_dir(service.dir())
        .output()
        .expect("run schemathesis (testbed/testbed.sh start installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout).replace(token.expose_secret(), "[TOKEN]");
    std::fs::write(&report, stdout.as_bytes()).unwrap();
    assert!(
        output.status.success(),
        "schemathesis found failures (report {}):\n{}\n{}",
        report.display(),
        stdout.lines().rev().take(80).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"),
        String::from_utf8_lossy(&output.stderr).replace(token.expose_secret(), "[TOKEN]"),
    );
}

#[tokio::test]
async fn generated_requests_never_break_the_subscriber() {
    let service = SubscriberProcess::start(0).await;
    let tb = Testbed::get();
    let admin = tb.admin_session(Cloud::A).token().await.unwrap().secret().clone();

    // The document served is the one built in-process (`openapi_documents.rs` checks that one).
    let served = ApiClient::new(service.url()).get("/openapi.json").await.expect(200);
    let mut built = serde_json::to_value(mercador_server::subscriber::openapi().unwrap()).unwrap();
    built["servers"] = served["servers"].clone();
    assert_eq!(served, built);

    schemathesis(&service, &admin);

    // Every publisher the run registered points at the sink.
    let api = ApiClient::new(service.url()).with_token(admin);
    for publisher in api.get("/v1/publishers").await.expect(200).as_array().unwrap() {
        assert_eq!(publisher["keystone_url"], SINK, "{publisher}");
        assert!(publisher["exchange_url"].is_null() || publisher["exchange_url"] == SINK, "{publisher}");
    }
    assert!(HOOKS.contains(SINK));
}
