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

use secrecy::SecretString;
use serde_json::json;
use support::{ApiClient, FuzzRun, PublisherOptions, PublisherProcess, admin_token, partner_token};

/// Schemathesis on the routes matching `paths`.
fn schemathesis(service: &PublisherProcess, token: &SecretString, paths: &str) {
    let report = format!("schemathesis-{}.txt", paths.replace(['/', '^', '.', '*'], "_"));
    let how = FuzzRun { run: &["--include-path-regex", paths], ..FuzzRun::default() };
    support::schemathesis(&service.url(), service.dir(), &report, token, how);
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
