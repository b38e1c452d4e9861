//! [`GlanceClient`]: [`ImageApi`] over HTTP, on an authenticated [`Session`].

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

use super::{Image, ImageApi, ImageMember};
use crate::keystone::auth::join;
use crate::keystone::catalog::{EndpointFilter, Interface};
use crate::keystone::error::{Error, Result};
use crate::keystone::http::{Request, Response};
use crate::keystone::session::Session;

/// Glance's image API v2, reached with one session's token; the endpoint
/// of each region comes from that token's catalog.
#[derive(Debug, Clone)]
pub struct GlanceClient {
    session: Arc<Session>,
}

impl GlanceClient {
    /// A client on this session (B's admin session, for the publisher).
    pub fn new(session: Arc<Session>) -> Self {
        Self { session }
    }

    /// The public `image` endpoint of `region` in the token's catalog,
    /// ending in `/v2`.
    pub async fn endpoint(&self, region: &str) -> Result<Url> {
        let token = self.session.token().await?;
        let filter = EndpointFilter::new("image").region(region).interfaces([Interface::Public]);
        let url = token.catalog().url(&filter)?.clone();
        let trimmed = url.as_str().trim_end_matches('/');
        if trimmed.ends_with("/v2") { Ok(Url::parse(trimmed).unwrap_or(url)) } else { join(&url, "v2") }
    }

    async fn call(&self, region: &str, method: Method, path: &str, body: Option<Value>) -> Result<Response> {
        let url = join(&self.endpoint(region).await?, path)?;
        self.session
            .send(|token| {
                let mut request = Request::new(method.clone(), url.clone()).token(token);
                if let Some(body) = &body {
                    request = request.json(body.clone());
                }
                request
            })
            .await
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        region: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T> {
        self.call(region, method, path, body).await?.json()
    }
}

/// An image or member id as one path segment: ids are UUIDs or Keystone
/// ids (hex); anything else is refused rather than escaped.
fn seg(id: &str) -> Result<&str> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(Error::InvalidInput(format!(
            "{id:?} is not a Glance image or project id (letters, digits, '-' and '_' only)"
        )));
    }
    Ok(id)
}

#[async_trait]
impl ImageApi for GlanceClient {
    async fn get_image(&self, region: &str, image_id: &str) -> Result<Image> {
        self.call_json(region, Method::GET, &format!("images/{}", seg(image_id)?), None).await
    }

    async fn list_shared_images(&self, region: &str) -> Result<Vec<Image>> {
        #[derive(serde::Deserialize)]
        struct Page {
            images: Vec<Image>,
            #[serde(default)]
            next: Option<String>,
        }
        let mut out = Vec::new();
        let mut path = "images?visibility=shared&member_status=all&limit=200".to_string();
        // Glance's `next` is a path from its root (`/v2/images?marker=...`).
        for _ in 0..1000 {
            let page: Page = self.call_json(region, Method::GET, &path, None).await?;
            out.extend(page.images);
            match page.next {
                Some(next) => path = next.trim_start_matches('/').trim_start_matches("v2/").to_string(),
                None => return Ok(out),
            }
        }
        Err(Error::InvalidInput("Glance's image listing did not end after 1000 pages".into()))
    }

    async fn list_members(&self, region: &str, image_id: &str) -> Result<Vec<ImageMember>> {
        #[derive(serde::Deserialize)]
        struct Members {
            members: Vec<ImageMember>,
        }
        let members: Members =
            self.call_json(region, Method::GET, &format!("images/{}/members", seg(image_id)?), None).await?;
        Ok(members.members)
    }

    async fn add_member(&self, region: &str, image_id: &str, project_id: &str) -> Result<ImageMember> {
        let body = json!({ "member": seg(project_id)? });
        self.call_json(region, Method::POST, &format!("images/{}/members", seg(image_id)?), Some(body)).await
    }

    async fn set_member_status(
        &self,
        region: &str,
        image_id: &str,
        project_id: &str,
        status: &str,
    ) -> Result<ImageMember> {
        let path = format!("images/{}/members/{}", seg(image_id)?, seg(project_id)?);
        self.call_json(region, Method::PUT, &path, Some(json!({ "status": status }))).await
    }

    async fn remove_member(&self, region: &str, image_id: &str, project_id: &str) -> Result<()> {
        let path = format!("images/{}/members/{}", seg(image_id)?, seg(project_id)?);
        self.call(region, Method::DELETE, &path, None).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_path_characters_are_refused() {
        assert!(seg("0b7c2f4e-1d2a-4c1b-9f0e-3a2b1c0d9e8f").is_ok());
        assert!(seg("a1b2c3").is_ok());
        for bad in ["", "../x", "a/b", "a?b", "a b"] {
            let e = seg(bad).unwrap_err();
            assert!(e.to_string().contains("not a Glance"), "{e}");
        }
    }
}
