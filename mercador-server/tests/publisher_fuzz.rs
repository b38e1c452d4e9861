//! Schemathesis against the publisher's own OpenAPI document: generated
//! requests (valid and invalid) on every route of both faces must never get
//! a server error, must get answers that match the document (status codes,
//! content types, bodies, headers), invalid ones must be refused, and routes
//! must enforce their authentication.
//!
//! The run uses a fixed seed, so a failure replays the same way; the
//! schemathesis binary comes from the testbed's tools venv (`SCHEMATHESIS`
//! in its env file).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use mercador_tests::Testbed;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use support::{ApiClient, PublisherOptions, PublisherProcess, admin_token, partner_token};

/// Every check but `positive_data_acceptance`: the document cannot express
/// every rule (a region must exist in Keystone, `admin` is never a vregion
/// role...), so some schema-valid requests are rightly refused with 400.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance,negative_data_rejection,\
                      missing_required_header,unsupported_method,ignored_auth";

fn schemathesis(service: &PublisherProcess, token: &SecretString, paths: &str) {
    let tb = Testbed::get();
    let report = service.dir().join(format!("schemathesis-{}.txt", paths.replace(['/', '^', '.', '*'], "_")));
    let output = std::process::Command::new(tb.var("SCHEMATHESIS"))
        .arg("run")
        .arg(service.url().join("openapi.json").unwrap().as_str())
        .args(["--checks", CHECKS])
        .args(["--include-path-regex", paths])
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
        "schemathesis found failures on {paths} (report {}):\n{}\n{}",
        report.display(),
        stdout.lines().rev().take(80).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"),
        String::from_utf8_lossy(&output.stderr).replace(token.expose_secret(), "[TOKEN]"),
    );
}

#[tokio::test]
async fn generated_requests_never_break_the_publisher() {
    let service = PublisherProcess::start(PublisherOptions::default()).await;
    let admin = admin_token().await;
    schemathesis(&service, &admin, "^/(v1/admin|v1$|$|healthz|openapi)");

    // The exchange face, as a partner.
    let client = ApiClient::new(service.url()).with_token(admin);
    let partner = mercador_tests::publisher::name("fuzz").to_string();
    let onboarded = client.post("/v1/admin/partners", &json!({"name": partner})).await.expect(201);
    schemathesis(&service, &partner_token(&onboarded).await, "^/v1/exchange");
    client.delete(&format!("/v1/admin/partners/{partner}")).await.expect(204);
}
