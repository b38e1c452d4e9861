//! Request and response shapes of the Glance client against a mock HTTP
//! server (wiremock on 127.0.0.1): Glance found in the token's catalog (the
//! region asked for), the token in `X-Auth-Token`, errors mapped to kinds
//! without the token. The real Glance is exercised by `tests/glance` and
//! `tests/publisher/enforcement.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use mercador_core::glance::{GlanceClient, ImageApi};
use mercador_core::keystone::{Credentials, DirectAuth, ErrorKind, Scope, Session};
use secrecy::SecretString;
use serde_json::json;
use url::Url;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Keystone and Glance on one mock server: the catalog has an `image`
/// endpoint in RegionTwo (`<server>/image`) and another in RegionOne.
async fn glance() -> (MockServer, GlanceClient) {
    let server = MockServer::start().await;
    let uri = server.uri();
    let token = json!({"token": {
        "methods": ["password"],
        "user": {"id": "u1", "name": "admin", "domain": {"id": "default", "name": "Default"}},
        "expires_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
        "project": {"id": "p1", "name": "admin", "domain": {"id": "default", "name": "Default"}},
        "roles": [{"id": "r1", "name": "admin"}],
        "catalog": [{"id": "s1", "type": "image", "endpoints": [
            {"id": "e1", "interface": "public", "region_id": "RegionOne", "url": "http://127.0.0.1:1/elsewhere"},
            {"id": "e2", "interface": "public", "region_id": "RegionTwo", "url": format!("{uri}/image")}
        ]}]
    }});
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .respond_with(ResponseTemplate::new(201).insert_header("X-Subject-Token", "tok-secret").set_body_json(token))
        .mount(&server)
        .await;
    let url = Url::parse(&uri).unwrap();
    let auth = DirectAuth::new(&url, Credentials::password("admin", "Default", SecretString::from("pw"))).unwrap();
    let session = Arc::new(Session::new(Arc::new(auth), Scope::project("admin", "Default")).unwrap());
    (server, GlanceClient::new(session))
}

#[tokio::test]
async fn members_are_added_accepted_listed_and_removed_on_the_regions_glance() {
    let (server, glance) = glance().await;
    let base = "/image/v2/images/img-1";
    Mock::given(method("GET"))
        .and(path(base))
        .and(header("X-Auth-Token", "tok-secret"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "img-1", "name": "cirros", "visibility": "shared", "owner": "p1", "status": "active"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{base}/members")))
        .and(body_json(json!({"member": "proj-2"})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"image_id": "img-1", "member_id": "proj-2", "status": "pending"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{base}/members/proj-2")))
        .and(body_json(json!({"status": "accepted"})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"image_id": "img-1", "member_id": "proj-2", "status": "accepted"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{base}/members")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"members": [
            {"image_id": "img-1", "member_id": "proj-2", "status": "accepted", "schema": "/v2/schemas/member"}
        ], "schema": "/v2/schemas/members"})))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{base}/members/proj-2")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;

    assert_eq!(glance.endpoint("RegionTwo").await.unwrap().as_str(), format!("{}/image/v2", server.uri()));
    let image = glance.get_image("RegionTwo", "img-1").await.unwrap();
    assert_eq!((image.visibility.as_str(), image.owner.as_deref()), ("shared", Some("p1")));
    assert_eq!(glance.add_member("RegionTwo", "img-1", "proj-2").await.unwrap().status, "pending");
    assert_eq!(glance.set_member_status("RegionTwo", "img-1", "proj-2", "accepted").await.unwrap().status, "accepted");
    let members = glance.list_members("RegionTwo", "img-1").await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].member_id, "proj-2");
    glance.remove_member("RegionTwo", "img-1", "proj-2").await.unwrap();
}

#[tokio::test]
async fn errors_keep_their_kind_and_never_show_the_token() {
    let (server, glance) = glance().await;
    Mock::given(method("GET"))
        .and(path("/image/v2/images/gone"))
        .respond_with(
            ResponseTemplate::new(404).set_body_string(
                "<html><body><h1>404 Not Found</h1>No image found with ID gone tok-secret</body></html>",
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/image/v2/images/img-1/members"))
        .respond_with(ResponseTemplate::new(409).set_body_string("Member already exists"))
        .mount(&server)
        .await;
    let e = glance.get_image("RegionTwo", "gone").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(!e.to_string().contains("tok-secret") && !format!("{e:?}").contains("tok-secret"), "{e}");
    let e = glance.add_member("RegionTwo", "img-1", "proj-2").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    // No Glance in a region: a clear not-found naming what the catalog has.
    let e = glance.get_image("RegionThree", "img-1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("RegionThree"), "{e}");
    // An id that would change the path is refused before any request.
    let e = glance.remove_member("RegionTwo", "img-1", "../../x").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[tokio::test]
async fn shared_images_are_listed_page_by_page() {
    let (server, glance) = glance().await;
    Mock::given(method("GET"))
        .and(path("/image/v2/images"))
        .and(wiremock::matchers::query_param("marker", "img-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "images": [{"id": "img-2", "visibility": "shared", "owner": "p1"}]
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/image/v2/images"))
        .and(wiremock::matchers::query_param("visibility", "shared"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "images": [{"id": "img-1", "visibility": "shared", "owner": "p1"}],
            "next": "/v2/images?visibility=shared&member_status=all&limit=200&marker=img-1"
        })))
        .with_priority(2)
        .mount(&server)
        .await;
    let ids: Vec<String> = glance.list_shared_images("RegionTwo").await.unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(ids, ["img-1", "img-2"]);
}
