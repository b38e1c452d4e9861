//! A small client of the testbed's real Glance (image API v2) over a
//! mercador-core session: the endpoint comes from the session token's
//! catalog (service type `image`), the token goes in a sensitive header, and
//! answers are kept whole (status and body) for the tests to judge. No
//! token ever reaches an assertion message.

use std::sync::Arc;

use mercador_core::keystone::Session;
use reqwest::header::HeaderValue;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use url::Url;

/// Glance as one session's holder sees it.
pub(crate) struct Glance {
    session: Arc<Session>,
    url: Url,
    http: reqwest::Client,
}

/// An answer of Glance.
#[derive(Debug)]
pub(crate) struct Reply {
    /// HTTP status.
    pub(crate) status: u16,
    /// Body (text; Glance's errors are HTML or JSON).
    pub(crate) body: String,
}

impl Reply {
    /// The body as JSON; panics naming the status and body when it is not.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("HTTP {} with a body that is not JSON ({e}): {}", self.status, self.body))
    }

    /// Asserts the status and returns self.
    #[track_caller]
    pub(crate) fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "expected HTTP {status}, got {}: {}", self.status, self.body);
        self
    }
}

impl Glance {
    /// Glance through `session`: its URL from the session token's catalog.
    pub(crate) async fn of(session: Arc<Session>) -> Self {
        let url = session.endpoint("image").await.expect("an image endpoint in the token's catalog");
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build().expect("HTTP client");
        Self { session, url, http }
    }

    /// The image endpoint from the catalog.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    fn path(&self, path: &str) -> String {
        format!("{}/{}", self.url.as_str().trim_end_matches('/'), path.trim_start_matches('/'))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        self.try_send(request).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Sends with the session's token; an error (no token, no answer)
    /// as text.
    async fn try_send(&self, request: reqwest::RequestBuilder) -> Result<Reply, String> {
        let token = self.session.token().await.map_err(|e| format!("no token: {e}"))?;
        let mut header = HeaderValue::from_str(token.secret().expose_secret()).map_err(|_| "token header")?;
        header.set_sensitive(true);
        let response =
            request.header("X-Auth-Token", header).send().await.map_err(|e| format!("no reply from Glance: {e}"))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| format!("Glance's reply body: {e}"))?;
        Ok(Reply { status, body })
    }

    /// `POST /v2/images` (raw, bare) with `visibility`.
    pub(crate) async fn create(&self, name: &str, visibility: &str) -> Reply {
        let body = json!({"name": name, "disk_format": "raw", "container_format": "bare", "visibility": visibility});
        self.send(self.http.post(self.path("v2/images")).json(&body)).await
    }

    /// `POST /v2/images`, expecting 201; returns the image's id.
    pub(crate) async fn create_ok(&self, name: &str, visibility: &str) -> String {
        let image = self.create(name, visibility).await.expect(201).json();
        image["id"].as_str().expect("image id").to_owned()
    }

    /// `PUT /v2/images/<id>/file` with `data` (its length as Content-Length).
    pub(crate) async fn upload(&self, id: &str, data: Vec<u8>) -> Reply {
        let request = self
            .http
            .put(self.path(&format!("v2/images/{id}/file")))
            .header("Content-Type", "application/octet-stream")
            .body(data);
        self.send(request).await
    }

    /// `GET /v2/images/<id>`.
    pub(crate) async fn get(&self, id: &str) -> Reply {
        self.send(self.http.get(self.path(&format!("v2/images/{id}")))).await
    }

    /// `GET /v2/images/<id>/file`: the image's data.
    pub(crate) async fn download(&self, id: &str) -> Vec<u8> {
        let token = self.session.token().await.expect("a token");
        let mut header = HeaderValue::from_str(token.secret().expose_secret()).expect("token header");
        header.set_sensitive(true);
        let response = self
            .http
            .get(self.path(&format!("v2/images/{id}/file")))
            .header("X-Auth-Token", header)
            .send()
            .await
            .expect("a reply from Glance");
        assert_eq!(response.status().as_u16(), 200, "download of image {id}");
        response.bytes().await.expect("image data").to_vec()
    }

    /// `GET /v2/images?<query>`: the images of the default listing.
    pub(crate) async fn list(&self, query: &[(&str, &str)]) -> Vec<Value> {
        let reply = self.send(self.http.get(self.path("v2/images")).query(query)).await.expect(200);
        reply.json()["images"].as_array().expect("images").clone()
    }

    /// `DELETE /v2/images/<id>`.
    pub(crate) async fn delete(&self, id: &str) -> Reply {
        self.send(self.http.delete(self.path(&format!("v2/images/{id}")))).await
    }

    /// `DELETE /v2/images/<id>` that never panics (for cleanups).
    pub(crate) async fn try_delete(&self, id: &str) -> Result<Reply, String> {
        self.try_send(self.http.delete(self.path(&format!("v2/images/{id}")))).await
    }

    /// `GET /v2/info/usage`: the token's project's usage and limits, as
    /// Glance reads them from Keystone (`resource -> (usage, limit)`).
    pub(crate) async fn usage(&self) -> std::collections::BTreeMap<String, (i64, i64)> {
        let reply = self.send(self.http.get(self.path("v2/info/usage"))).await.expect(200);
        let usage = reply.json()["usage"].as_object().expect("usage").clone();
        usage
            .into_iter()
            .map(|(k, v)| {
                let n = |f: &str| v[f].as_i64().unwrap_or_else(|| panic!("{k}.{f} in {v}"));
                (k.clone(), (n("usage"), n("limit")))
            })
            .collect()
    }
}

/// `len` bytes of a pattern that depends on `seed` (so a download is
/// compared with what was uploaded, not with zeros).
pub(crate) fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed).rotate_left((i % 7) as u32)).collect()
}
