//! SAML metadata validation and the trust store of B's Shibboleth SP.
//!
//! A subscriber's SAML identity is its entity id and its metadata (inline, or
//! fetched from its Keystone's `/v3/OS-FEDERATION/saml2/metadata`). The
//! publisher checks the metadata describes that entity as a SAML 2.0 identity
//! provider with a signing certificate, then hands it to [`SamlTrust`]. The
//! implementation for Shibboleth, [`ShibbolethMetadataDir`], writes one file
//! per entity in the directory of a `LocalDynamic` metadata provider, which
//! shibd reads on demand: no restart, no session of anyone else dropped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use url::Url;

use super::{PublisherError, PublisherResult};
use crate::keystone::http::HttpClient;
use crate::outage::OutageKind;

/// Metadata larger than this is refused.
pub const MAX_METADATA_BYTES: usize = 256 * 1024;

const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const SAML2_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

/// Where B's SAML service provider learns which identity providers it trusts.
#[async_trait]
pub trait SamlTrust: Send + Sync {
    /// Trusts `entity_id` with this (validated) metadata; idempotent.
    async fn trust(&self, entity_id: &str, metadata: &str) -> PublisherResult<()>;
    /// Stops trusting it; idempotent.
    async fn distrust(&self, entity_id: &str) -> PublisherResult<()>;
    /// The metadata it is trusted with, if any.
    async fn trusted(&self, entity_id: &str) -> PublisherResult<Option<String>>;
    /// Checks that the SAML service provider reading this store is up: a
    /// trust written while it is down lets nobody sign in. Answers within
    /// the store's own bound; [`PublisherError::SamlSpUnavailable`] when it
    /// is down. The default checks nothing.
    async fn check_service_provider(&self) -> PublisherResult<()> {
        Ok(())
    }
}

/// Checks an entity id: an absolute URI (Keystone's `idp_entity_id` is a URL).
pub fn validate_entity_id(entity_id: &str) -> PublisherResult<()> {
    let refuse = |why: &str| {
        Err(PublisherError::Saml(format!(
            "entity_id {entity_id:?} {why}; give the subscriber Keystone's [saml] idp_entity_id"
        )))
    };
    if entity_id.is_empty() || entity_id.len() > 1024 {
        return refuse("must be 1 to 1024 characters");
    }
    if entity_id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("contains white space or control characters");
    }
    if Url::parse(entity_id).is_err() {
        return refuse("is not an absolute URI");
    }
    Ok(())
}

/// Checks that `xml` is the SAML 2.0 metadata of identity provider
/// `entity_id`: one `EntityDescriptor` with that `entityID`, an
/// `IDPSSODescriptor` supporting SAML 2.0, and at least one X.509
/// certificate to verify its signatures. DTDs are refused (no entity
/// expansion), as is anything over [`MAX_METADATA_BYTES`].
pub fn validate_metadata(entity_id: &str, xml: &str) -> PublisherResult<()> {
    let refuse = |why: String| Err(PublisherError::Saml(format!("metadata of {entity_id}: {why}")));
    if xml.len() > MAX_METADATA_BYTES {
        return refuse(format!("is {} bytes; at most {MAX_METADATA_BYTES} are accepted", xml.len()));
    }
    let doc = match roxmltree::Document::parse(xml) {
        Ok(doc) => doc,
        Err(e) => return refuse(format!("is not well-formed XML without a DTD ({e})")),
    };
    let root = doc.root_element();
    if root.tag_name().namespace() != Some(MD_NS) || root.tag_name().name() != "EntityDescriptor" {
        return refuse(format!(
            "the root element is {:?}, not a SAML 2.0 md:EntityDescriptor (an EntitiesDescriptor aggregate is \
             not accepted: send the subscriber's own metadata)",
            root.tag_name().name()
        ));
    }
    match root.attribute("entityID") {
        Some(id) if id == entity_id => {}
        Some(id) => return refuse(format!("describes entity {id:?}, not {entity_id:?}")),
        None => return refuse("the EntityDescriptor has no entityID".into()),
    }
    let idp = root.children().find(|n| n.has_tag_name((MD_NS, "IDPSSODescriptor")));
    let Some(idp) = idp else {
        return refuse("has no IDPSSODescriptor: it does not describe an identity provider".into());
    };
    let protocols = idp.attribute("protocolSupportEnumeration").unwrap_or_default();
    if !protocols.split_whitespace().any(|p| p == SAML2_PROTOCOL) {
        return refuse(format!("the IDPSSODescriptor does not support {SAML2_PROTOCOL}"));
    }
    let has_certificate = idp
        .children()
        .filter(|n| n.has_tag_name((MD_NS, "KeyDescriptor")))
        .filter(|k| k.attribute("use").is_none_or(|u| u == "signing"))
        .flat_map(|k| k.descendants())
        .filter(|n| n.has_tag_name((DS_NS, "X509Certificate")))
        .any(|n| n.text().is_some_and(|t| !t.trim().is_empty()));
    if !has_certificate {
        return refuse("the IDPSSODescriptor has no signing X509Certificate".into());
    }
    Ok(())
}

/// Fetches metadata from the subscriber Keystone (http or https only, 10 s,
/// at most [`MAX_METADATA_BYTES`]).
pub async fn fetch_metadata(http: &HttpClient, url: &Url) -> PublisherResult<String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(PublisherError::Saml(format!("metadata_url {url} is not an http(s) URL")));
    }
    let unreachable = |e: &dyn std::fmt::Display| {
        PublisherError::Saml(format!("metadata_url {url} could not be fetched: {e}; send the metadata inline instead"))
    };
    let mut response = http
        .reqwest()
        .get(url.clone())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| unreachable(&error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(unreachable(&format!("HTTP {}", response.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| unreachable(&e))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_METADATA_BYTES {
            return Err(PublisherError::Saml(format!(
                "metadata_url {url} answers more than {MAX_METADATA_BYTES} bytes"
            )));
        }
    }
    String::from_utf8(body).map_err(|_| PublisherError::Saml(format!("metadata_url {url} answers non-UTF-8 data")))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Shibboleth's `LocalDynamic` metadata provider: one file per entity,
/// `<sha1(entityID)>.xml`, in a directory shibd reads by itself (no restart,
/// no dropped sessions). Files are replaced atomically (write, fsync, rename).
///
/// shibd caches what it read for its `minCacheDuration` (30 s on the
/// testbed): removing a file stops new logins only after that, which is why
/// cancel and revoke also delete the identity provider in Keystone at once.
///
/// With [`Self::with_status_check`], [`SamlTrust::check_service_provider`]
/// asks the SP's `Status` handler (`.../Shibboleth.sso/Status`), which
/// Apache's mod_shib answers only with shibd's help: 200 when both run.
#[derive(Debug, Clone)]
pub struct ShibbolethMetadataDir {
    dir: PathBuf,
    status: Option<StatusCheck>,
}

/// How the SP's status is asked.
#[derive(Debug, Clone)]
struct StatusCheck {
    http: HttpClient,
    url: Url,
    timeout: Duration,
}

impl ShibbolethMetadataDir {
    /// The store over this directory (it must exist and be readable by
    /// shibd), checking no SP.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), status: None }
    }

    /// Checks the SP with a `GET` of its `Status` handler `url`, answered
    /// within `timeout` (connection included).
    pub fn with_status_check(mut self, http: HttpClient, url: Url, timeout: Duration) -> Self {
        self.status = Some(StatusCheck { http, url, timeout });
        self
    }

    /// The `Status` handler of the SP whose ECP endpoint is `sp_url`:
    /// `http://b/Shibboleth.sso/SAML2/ECP` -> `http://b/Shibboleth.sso/Status`
    /// (the handler's default location). `None` when `sp_url` has no
    /// `/Shibboleth.sso/` segment.
    pub fn status_url_of(sp_url: &Url) -> Option<Url> {
        let path = sp_url.path();
        let at = path.find("/Shibboleth.sso/")?;
        let mut url = sp_url.clone();
        url.set_path(&format!("{}/Shibboleth.sso/Status", &path[..at]));
        url.set_query(None);
        url.set_fragment(None);
        Some(url)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding `entity_id`'s metadata.
    pub fn file_of(&self, entity_id: &str) -> PathBuf {
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, entity_id.as_bytes());
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{hex}.xml"))
    }

    fn io_error(&self, what: &str, e: &std::io::Error) -> PublisherError {
        PublisherError::Trust(format!(
            "cannot {what} in {} ({e}); check that the directory exists and this service may write it",
            self.dir.display()
        ))
    }
}

#[async_trait]
impl SamlTrust for ShibbolethMetadataDir {
    async fn trust(&self, entity_id: &str, metadata: &str) -> PublisherResult<()> {
        let file = self.file_of(entity_id);
        if tokio::fs::read_to_string(&file).await.is_ok_and(|current| current == metadata) {
            return Ok(());
        }
        let tmp = self.dir.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
        let write = async {
            use tokio::io::AsyncWriteExt;
            let mut f = tokio::fs::File::create(&tmp).await?;
            f.write_all(metadata.as_bytes()).await?;
            f.sync_all().await?;
            tokio::fs::rename(&tmp, &file).await
        };
        if let Err(e) = write.await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(self.io_error("write the metadata file", &e));
        }
        Ok(())
    }

    async fn distrust(&self, entity_id: &str) -> PublisherResult<()> {
        match tokio::fs::remove_file(self.file_of(entity_id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io_error("remove the metadata file", &e)),
        }
    }

    async fn trusted(&self, entity_id: &str) -> PublisherResult<Option<String>> {
        match tokio::fs::read_to_string(self.file_of(entity_id)).await {
            Ok(xml) => Ok(Some(xml)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io_error("read the metadata file", &e)),
        }
    }

    async fn check_service_provider(&self) -> PublisherResult<()> {
        let Some(check) = &self.status else { return Ok(()) };
        check.ask().await
    }
}

impl StatusCheck {
    /// `GET` of the Status handler: 2xx is up; no answer, a timeout or a
    /// 5xx (Apache's mod_shib cannot reach shibd) is an outage; any other
    /// status (403: the handler's `acl` refuses this host; 404: no such
    /// handler) is a configuration to fix.
    async fn ask(&self) -> PublisherResult<()> {
        let url = &self.url;
        let down = |kind: OutageKind, what: String| PublisherError::SamlSpUnavailable {
            kind,
            message: format!(
                "GET {url} (its Status handler): {what}; the SAML SP (Apache with mod_shib, and shibd) must run \
                 for the subscriber's users to sign in"
            ),
        };
        let sent = self.http.reqwest().get(url.clone()).timeout(self.timeout).send();
        let answer = match tokio::time::timeout(self.timeout, sent).await {
            Err(_) => return Err(down(OutageKind::TooSlow, format!("no answer within {:?}", self.timeout))),
            Ok(Err(e)) if e.is_timeout() => {
                return Err(down(OutageKind::TooSlow, format!("no answer within {:?}", self.timeout)));
            }
            Ok(Err(e)) => return Err(down(OutageKind::Unreachable, error_chain(&e))),
            Ok(Ok(answer)) => answer,
        };
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let body = tokio::time::timeout(self.timeout, answer.text()).await.ok().and_then(Result::ok);
        let said = body.map(|b| crate::keystone::error::html_message(&b)).unwrap_or_default();
        if status.is_server_error() {
            let kind =
                if status == reqwest::StatusCode::GATEWAY_TIMEOUT { OutageKind::TooSlow } else { OutageKind::Refusing };
            return Err(down(kind, format!("HTTP {}: {said}", status.as_u16())));
        }
        Err(PublisherError::Trust(format!(
            "GET {url} (the SAML SP's Status handler) answered HTTP {}: {said}; allow this host in the handler's \
             acl (shibboleth2.xml <Handler type=\"Status\" acl=...>) or set [federation] sp_status_url",
            status.as_u16()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "http://127.0.0.1:5001/v3/OS-FEDERATION/saml2/idp";

    fn metadata(entity: &str, cert: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<ns0:EntityDescriptor xmlns:ns0="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ns1="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}">
  <ns0:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <ns0:KeyDescriptor use="signing"><ns1:KeyInfo><ns1:X509Data><ns1:X509Certificate>{cert}</ns1:X509Certificate></ns1:X509Data></ns1:KeyInfo></ns0:KeyDescriptor>
    <ns0:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="{entity}/sso"/>
  </ns0:IDPSSODescriptor>
</ns0:EntityDescriptor>"#
        )
    }

    #[test]
    fn keystone_metadata_passes() {
        validate_entity_id(ID).unwrap();
        validate_metadata(ID, &metadata(ID, "MIIC")).unwrap();
    }

    #[test]
    fn bad_metadata_is_refused_with_the_reason() {
        let cases = [
            (metadata("http://other/idp", "MIIC"), "describes entity \"http://other/idp\""),
            (metadata(ID, " "), "no signing X509Certificate"),
            ("<a>".to_string(), "not well-formed"),
            (
                format!("<!DOCTYPE x [<!ENTITY e \"boom\">]>{}", metadata(ID, "MIIC").split_once("?>").unwrap().1),
                "without a DTD",
            ),
            (metadata(ID, "MIIC").replace("IDPSSODescriptor", "SPSSODescriptor"), "has no IDPSSODescriptor"),
            (metadata(ID, "MIIC").replace("SAML:2.0:protocol", "SAML:1.1:protocol"), "does not support"),
            ("x".repeat(MAX_METADATA_BYTES + 1), "at most"),
        ];
        for (xml, want) in cases {
            let e = validate_metadata(ID, &xml).unwrap_err().to_string();
            assert!(e.contains(want), "{want:?} not in {e:?}");
        }
        for bad in ["", "not a uri", "http://a/ b"] {
            assert!(validate_entity_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn status_url_from_the_ecp_endpoint() {
        let of = |u: &str| ShibbolethMetadataDir::status_url_of(&Url::parse(u).unwrap()).map(String::from);
        assert_eq!(
            of("http://127.0.0.1:5002/Shibboleth.sso/SAML2/ECP").as_deref(),
            Some("http://127.0.0.1:5002/Shibboleth.sso/Status")
        );
        assert_eq!(
            of("https://b.example/keystone/Shibboleth.sso/SAML2/ECP?x=1").as_deref(),
            Some("https://b.example/keystone/Shibboleth.sso/Status")
        );
        assert_eq!(of("https://b.example/mellon/paosResponse"), None);
    }

    /// A store checking the SP at `status` with a 1 s bound.
    fn checked(status: &str) -> ShibbolethMetadataDir {
        let http = HttpClient::new(&crate::keystone::HttpConfig::default()).unwrap();
        ShibbolethMetadataDir::new(std::env::temp_dir()).with_status_check(
            http,
            Url::parse(status).unwrap(),
            Duration::from_secs(1),
        )
    }

    #[tokio::test]
    async fn the_sp_status_decides_its_outage() {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let sp = MockServer::start().await;
        let answer = |status: u16, body: &str| ResponseTemplate::new(status).set_body_string(body);
        let url = |p: &str| format!("{}{p}", sp.uri());
        Mock::given(method("GET")).and(path("/up")).respond_with(answer(200, "<StatusHandler/>")).mount(&sp).await;
        let listener = "<StatusHandler><Status><Exception type='shibsp::ListenerException'>Cannot connect to \
                        shibd process</Exception></Status></StatusHandler>";
        Mock::given(method("GET")).and(path("/down")).respond_with(answer(500, listener)).mount(&sp).await;
        Mock::given(method("GET")).and(path("/acl")).respond_with(answer(403, "forbidden")).mount(&sp).await;
        Mock::given(method("GET"))
            .and(path("/slow"))
            .respond_with(answer(200, "").set_delay(Duration::from_secs(10)))
            .mount(&sp)
            .await;

        checked(&url("/up")).check_service_provider().await.unwrap();
        let outage = |e: PublisherError| (e.code(), e.is_transient(), e.outage().map(|o| o.kind), e.to_string());
        let (code, transient, kind, text) = outage(checked(&url("/down")).check_service_provider().await.unwrap_err());
        assert_eq!((code, transient, kind), ("saml_sp_unavailable", true, Some(OutageKind::Refusing)));
        assert!(text.contains("Cannot connect to shibd") && text.contains("/down"), "{text}");
        let started = std::time::Instant::now();
        let (_, _, kind, _) = outage(checked(&url("/slow")).check_service_provider().await.unwrap_err());
        assert_eq!(kind, Some(OutageKind::TooSlow));
        assert!(started.elapsed() < Duration::from_secs(5), "bounded: {:?}", started.elapsed());
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (_, _, kind, _) = outage(
            checked(&format!("http://127.0.0.1:{closed}/Shibboleth.sso/Status"))
                .check_service_provider()
                .await
                .unwrap_err(),
        );
        assert_eq!(kind, Some(OutageKind::Unreachable));
        // A handler that refuses this host is a configuration to fix, not an outage.
        let e = checked(&url("/acl")).check_service_provider().await.unwrap_err();
        assert!(e.outage().is_none() && e.to_string().contains("acl"), "{e}");
        // Without a status check, nothing is asked.
        ShibbolethMetadataDir::new(std::env::temp_dir()).check_service_provider().await.unwrap();
    }

    #[tokio::test]
    async fn metadata_dir_round_trip() {
        let dir = std::env::temp_dir().join(format!("mercador-trust-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = ShibbolethMetadataDir::new(&dir);
        // sha1("http://127.0.0.1:5001/v3/OS-FEDERATION/saml2/idp"), as Shibboleth names it.
        let file = store.file_of(ID);
        assert_eq!(file.extension().unwrap(), "xml");
        assert_eq!(file.file_stem().unwrap().len(), 40);
        assert_eq!(store.trusted(ID).await.unwrap(), None);
        store.trust(ID, "one").await.unwrap();
        store.trust(ID, "two").await.unwrap();
        assert_eq!(store.trusted(ID).await.unwrap().as_deref(), Some("two"));
        store.distrust(ID).await.unwrap();
        store.distrust(ID).await.unwrap();
        assert_eq!(store.trusted(ID).await.unwrap(), None);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no temporary file left");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
