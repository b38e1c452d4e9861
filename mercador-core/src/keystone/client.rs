//! [`KeystoneClient`]: [`IdentityApi`] over HTTP, on an authenticated [`Session`].

use std::sync::Arc;

use async_trait::async_trait;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

use super::api::IdentityApi;
use super::auth::join;
use super::error::{Error, Result, secrets_in};
use super::http::{Request, Response, sensitive};
use super::session::Session;
use super::token::TokenInfo;
use super::types::*;

/// Characters escaped in a path segment: everything but unreserved ones.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

/// Percent-encodes one path segment; refuses an empty id (which would hit the
/// collection instead of the object).
fn seg(id: &str) -> Result<String> {
    if id.is_empty() {
        return Err(Error::InvalidInput("an empty id was given where a Keystone object id is required".into()));
    }
    Ok(utf8_percent_encode(id, SEGMENT).to_string())
}

/// The Keystone v3 client: every [`IdentityApi`] operation, sent with the
/// session's token to the session's identity endpoint.
#[derive(Debug, Clone)]
pub struct KeystoneClient {
    session: Arc<Session>,
}

impl KeystoneClient {
    /// A client on this session.
    pub fn new(session: Arc<Session>) -> Self {
        Self { session }
    }

    /// The session.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<Response> {
        self.session.identity(method, path, query, body).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, key: &str) -> Result<T> {
        self.call(Method::GET, path, &[], None).await?.json_field(key)
    }

    async fn list<T: DeserializeOwned>(&self, path: &str, key: &str, query: &[(&str, String)]) -> Result<Vec<T>> {
        let response = self.call(Method::GET, path, query, None).await?;
        let value: Value = response.json()?;
        if value.get("truncated").and_then(Value::as_bool) == Some(true) {
            tracing::warn!(path, "Keystone truncated the list ([DEFAULT] list_limit); narrow the filter");
        }
        response.json_field(key)
    }

    async fn send<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: &B,
    ) -> Result<T> {
        let body = serde_json::to_value(body)
            .map_err(|e| Error::InvalidInput(format!("cannot encode the {key} request: {e}")))?;
        let body = json!({ key: body });
        match self.call(method, path, &[], Some(body.clone())).await {
            Ok(response) => response.json_field(key),
            Err(e) => Err(e.redact(&secrets_in(&body))),
        }
    }

    async fn delete(&self, path: &str) -> Result<()> {
        self.call(Method::DELETE, path, &[], None).await.map(drop)
    }

    async fn put_empty(&self, path: &str) -> Result<()> {
        self.call(Method::PUT, path, &[], None).await.map(drop)
    }

    /// `HEAD`: true on 2xx, false on 404.
    async fn exists(&self, path: &str) -> Result<bool> {
        match self.call(Method::HEAD, path, &[], None).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sends a request about another token (`X-Subject-Token`).
    async fn subject(&self, method: Method, subject: &SecretString) -> Result<Response> {
        let url = join(self.session.auth_url(), "auth/tokens")?;
        let header = sensitive(subject)?;
        self.session
            .send(|token| Request::new(method.clone(), url.clone()).token(token).subject_token(header.clone()))
            .await
            .map_err(|e| e.redact(&[subject.expose_secret()]))
    }
}

fn assignment_path(role_id: &str, actor: &Actor, target: &Target) -> Result<String> {
    let actor = match actor {
        Actor::User(id) => format!("users/{}", seg(id)?),
        Actor::Group(id) => format!("groups/{}", seg(id)?),
    };
    let target = match target {
        Target::Project(id) => format!("projects/{}", seg(id)?),
        Target::Domain(id) => format!("domains/{}", seg(id)?),
        Target::System => "system".to_owned(),
    };
    Ok(format!("{target}/{actor}/roles/{}", seg(role_id)?))
}

const IDP: &str = "OS-FEDERATION/identity_providers";
const MAPPINGS: &str = "OS-FEDERATION/mappings";
const SPS: &str = "OS-FEDERATION/service_providers";

#[async_trait]
impl IdentityApi for KeystoneClient {
    fn endpoint(&self) -> &Url {
        self.session.auth_url()
    }

    async fn validate_token(&self, subject: &SecretString) -> Result<TokenInfo> {
        self.subject(Method::GET, subject).await?.json_field("token")
    }

    async fn revoke_token(&self, subject: &SecretString) -> Result<()> {
        self.subject(Method::DELETE, subject).await.map(drop)
    }

    async fn list_auth_projects(&self) -> Result<Vec<Project>> {
        self.list("auth/projects", "projects", &[]).await
    }

    async fn list_auth_domains(&self) -> Result<Vec<Domain>> {
        self.list("auth/domains", "domains", &[]).await
    }

    // ---- regions
    async fn list_regions(&self, filter: &Filter) -> Result<Vec<Region>> {
        self.list("regions", "regions", filter.pairs()).await
    }
    async fn get_region(&self, id: &str) -> Result<Region> {
        self.get(&format!("regions/{}", seg(id)?), "region").await
    }
    async fn create_region(&self, region: &NewRegion) -> Result<Region> {
        match &region.id {
            // PUT on the id: POST would ignore a given id in some releases.
            Some(id) => self.send(Method::PUT, &format!("regions/{}", seg(id)?), "region", region).await,
            None => self.send(Method::POST, "regions", "region", region).await,
        }
    }
    async fn update_region(&self, id: &str, update: &RegionUpdate) -> Result<Region> {
        self.send(Method::PATCH, &format!("regions/{}", seg(id)?), "region", update).await
    }
    async fn delete_region(&self, id: &str) -> Result<()> {
        self.delete(&format!("regions/{}", seg(id)?)).await
    }

    // ---- services
    async fn list_services(&self, filter: &Filter) -> Result<Vec<Service>> {
        self.list("services", "services", filter.pairs()).await
    }
    async fn get_service(&self, id: &str) -> Result<Service> {
        self.get(&format!("services/{}", seg(id)?), "service").await
    }
    async fn create_service(&self, service: &NewService) -> Result<Service> {
        self.send(Method::POST, "services", "service", service).await
    }
    async fn update_service(&self, id: &str, update: &ServiceUpdate) -> Result<Service> {
        self.send(Method::PATCH, &format!("services/{}", seg(id)?), "service", update).await
    }
    async fn delete_service(&self, id: &str) -> Result<()> {
        self.delete(&format!("services/{}", seg(id)?)).await
    }

    // ---- endpoints
    async fn list_endpoints(&self, filter: &Filter) -> Result<Vec<Endpoint>> {
        self.list("endpoints", "endpoints", filter.pairs()).await
    }
    async fn get_endpoint(&self, id: &str) -> Result<Endpoint> {
        self.get(&format!("endpoints/{}", seg(id)?), "endpoint").await
    }
    async fn create_endpoint(&self, endpoint: &NewEndpoint) -> Result<Endpoint> {
        self.send(Method::POST, "endpoints", "endpoint", endpoint).await
    }
    async fn update_endpoint(&self, id: &str, update: &EndpointUpdate) -> Result<Endpoint> {
        self.send(Method::PATCH, &format!("endpoints/{}", seg(id)?), "endpoint", update).await
    }
    async fn delete_endpoint(&self, id: &str) -> Result<()> {
        self.delete(&format!("endpoints/{}", seg(id)?)).await
    }

    // ---- domains
    async fn list_domains(&self, filter: &Filter) -> Result<Vec<Domain>> {
        self.list("domains", "domains", filter.pairs()).await
    }
    async fn get_domain(&self, id: &str) -> Result<Domain> {
        self.get(&format!("domains/{}", seg(id)?), "domain").await
    }
    async fn create_domain(&self, domain: &NewDomain) -> Result<Domain> {
        self.send(Method::POST, "domains", "domain", domain).await
    }
    async fn update_domain(&self, id: &str, update: &DomainUpdate) -> Result<Domain> {
        self.send(Method::PATCH, &format!("domains/{}", seg(id)?), "domain", update).await
    }
    async fn delete_domain(&self, id: &str) -> Result<()> {
        let path = format!("domains/{}", seg(id)?);
        let domain: Domain = self.get(&path, "domain").await?;
        if domain.enabled {
            let disable = DomainUpdate { enabled: Some(false), ..Default::default() };
            let _: Domain = self.send(Method::PATCH, &path, "domain", &disable).await?;
        }
        self.delete(&path).await
    }

    // ---- projects
    async fn list_projects(&self, filter: &Filter) -> Result<Vec<Project>> {
        self.list("projects", "projects", filter.pairs()).await
    }
    async fn get_project(&self, id: &str) -> Result<Project> {
        self.get(&format!("projects/{}", seg(id)?), "project").await
    }
    async fn create_project(&self, project: &NewProject) -> Result<Project> {
        self.send(Method::POST, "projects", "project", project).await
    }
    async fn update_project(&self, id: &str, update: &ProjectUpdate) -> Result<Project> {
        self.send(Method::PATCH, &format!("projects/{}", seg(id)?), "project", update).await
    }
    async fn delete_project(&self, id: &str) -> Result<()> {
        self.delete(&format!("projects/{}", seg(id)?)).await
    }

    // ---- users
    async fn list_users(&self, filter: &Filter) -> Result<Vec<User>> {
        self.list("users", "users", filter.pairs()).await
    }
    async fn get_user(&self, id: &str) -> Result<User> {
        self.get(&format!("users/{}", seg(id)?), "user").await
    }
    async fn create_user(&self, user: &NewUser) -> Result<User> {
        self.send(Method::POST, "users", "user", user).await
    }
    async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<User> {
        self.send(Method::PATCH, &format!("users/{}", seg(id)?), "user", update).await
    }
    async fn delete_user(&self, id: &str) -> Result<()> {
        self.delete(&format!("users/{}", seg(id)?)).await
    }

    // ---- groups
    async fn list_groups(&self, filter: &Filter) -> Result<Vec<Group>> {
        self.list("groups", "groups", filter.pairs()).await
    }
    async fn get_group(&self, id: &str) -> Result<Group> {
        self.get(&format!("groups/{}", seg(id)?), "group").await
    }
    async fn create_group(&self, group: &NewGroup) -> Result<Group> {
        self.send(Method::POST, "groups", "group", group).await
    }
    async fn update_group(&self, id: &str, update: &GroupUpdate) -> Result<Group> {
        self.send(Method::PATCH, &format!("groups/{}", seg(id)?), "group", update).await
    }
    async fn delete_group(&self, id: &str) -> Result<()> {
        self.delete(&format!("groups/{}", seg(id)?)).await
    }
    async fn list_group_users(&self, group_id: &str) -> Result<Vec<User>> {
        self.list(&format!("groups/{}/users", seg(group_id)?), "users", &[]).await
    }
    async fn add_user_to_group(&self, group_id: &str, user_id: &str) -> Result<()> {
        self.put_empty(&format!("groups/{}/users/{}", seg(group_id)?, seg(user_id)?)).await
    }
    async fn is_user_in_group(&self, group_id: &str, user_id: &str) -> Result<bool> {
        self.exists(&format!("groups/{}/users/{}", seg(group_id)?, seg(user_id)?)).await
    }
    async fn remove_user_from_group(&self, group_id: &str, user_id: &str) -> Result<()> {
        self.delete(&format!("groups/{}/users/{}", seg(group_id)?, seg(user_id)?)).await
    }

    // ---- roles
    async fn list_roles(&self, filter: &Filter) -> Result<Vec<Role>> {
        self.list("roles", "roles", filter.pairs()).await
    }
    async fn get_role(&self, id: &str) -> Result<Role> {
        self.get(&format!("roles/{}", seg(id)?), "role").await
    }
    async fn create_role(&self, role: &NewRole) -> Result<Role> {
        self.send(Method::POST, "roles", "role", role).await
    }
    async fn update_role(&self, id: &str, update: &RoleUpdate) -> Result<Role> {
        self.send(Method::PATCH, &format!("roles/{}", seg(id)?), "role", update).await
    }
    async fn delete_role(&self, id: &str) -> Result<()> {
        self.delete(&format!("roles/{}", seg(id)?)).await
    }
    async fn grant_role(&self, role_id: &str, actor: &Actor, target: &Target) -> Result<()> {
        self.put_empty(&assignment_path(role_id, actor, target)?).await
    }
    async fn check_role(&self, role_id: &str, actor: &Actor, target: &Target) -> Result<bool> {
        self.exists(&assignment_path(role_id, actor, target)?).await
    }
    async fn revoke_role(&self, role_id: &str, actor: &Actor, target: &Target) -> Result<()> {
        self.delete(&assignment_path(role_id, actor, target)?).await
    }
    async fn list_role_inferences(&self) -> Result<Vec<RoleInference>> {
        self.list("role_inferences", "role_inferences", &[]).await
    }
    async fn create_implied_role(&self, prior_role_id: &str, implied_role_id: &str) -> Result<()> {
        self.put_empty(&format!("roles/{}/implies/{}", seg(prior_role_id)?, seg(implied_role_id)?)).await
    }
    async fn delete_implied_role(&self, prior_role_id: &str, implied_role_id: &str) -> Result<()> {
        self.delete(&format!("roles/{}/implies/{}", seg(prior_role_id)?, seg(implied_role_id)?)).await
    }
    async fn list_role_assignments(&self, filter: &RoleAssignmentFilter) -> Result<Vec<RoleAssignment>> {
        self.list("role_assignments", "role_assignments", &filter.pairs()).await
    }

    // ---- application credentials
    async fn list_application_credentials(&self, user_id: &str, filter: &Filter) -> Result<Vec<ApplicationCredential>> {
        self.list(
            &format!("users/{}/application_credentials", seg(user_id)?),
            "application_credentials",
            filter.pairs(),
        )
        .await
    }
    async fn get_application_credential(&self, user_id: &str, id: &str) -> Result<ApplicationCredential> {
        self.get(&format!("users/{}/application_credentials/{}", seg(user_id)?, seg(id)?), "application_credential")
            .await
    }
    async fn create_application_credential(
        &self,
        user_id: &str,
        credential: &NewApplicationCredential,
    ) -> Result<ApplicationCredential> {
        let path = format!("users/{}/application_credentials", seg(user_id)?);
        self.send(Method::POST, &path, "application_credential", credential).await
    }
    async fn delete_application_credential(&self, user_id: &str, id: &str) -> Result<()> {
        self.delete(&format!("users/{}/application_credentials/{}", seg(user_id)?, seg(id)?)).await
    }

    // ---- identity providers
    async fn list_identity_providers(&self) -> Result<Vec<IdentityProvider>> {
        self.list(IDP, "identity_providers", &[]).await
    }
    async fn get_identity_provider(&self, id: &str) -> Result<IdentityProvider> {
        self.get(&format!("{IDP}/{}", seg(id)?), "identity_provider").await
    }
    async fn create_identity_provider(&self, id: &str, idp: &NewIdentityProvider) -> Result<IdentityProvider> {
        self.send(Method::PUT, &format!("{IDP}/{}", seg(id)?), "identity_provider", idp).await
    }
    async fn update_identity_provider(&self, id: &str, update: &IdentityProviderUpdate) -> Result<IdentityProvider> {
        self.send(Method::PATCH, &format!("{IDP}/{}", seg(id)?), "identity_provider", update).await
    }
    async fn delete_identity_provider(&self, id: &str) -> Result<()> {
        self.delete(&format!("{IDP}/{}", seg(id)?)).await
    }

    // ---- mappings
    async fn list_mappings(&self) -> Result<Vec<Mapping>> {
        self.list(MAPPINGS, "mappings", &[]).await
    }
    async fn get_mapping(&self, id: &str) -> Result<Mapping> {
        self.get(&format!("{MAPPINGS}/{}", seg(id)?), "mapping").await
    }
    async fn create_mapping(&self, id: &str, mapping: &NewMapping) -> Result<Mapping> {
        self.send(Method::PUT, &format!("{MAPPINGS}/{}", seg(id)?), "mapping", mapping).await
    }
    async fn update_mapping(&self, id: &str, mapping: &NewMapping) -> Result<Mapping> {
        self.send(Method::PATCH, &format!("{MAPPINGS}/{}", seg(id)?), "mapping", mapping).await
    }
    async fn delete_mapping(&self, id: &str) -> Result<()> {
        self.delete(&format!("{MAPPINGS}/{}", seg(id)?)).await
    }

    // ---- protocols
    async fn list_protocols(&self, idp_id: &str) -> Result<Vec<Protocol>> {
        self.list(&format!("{IDP}/{}/protocols", seg(idp_id)?), "protocols", &[]).await
    }
    // Keystone 30 shows a protocol's remote_id_attribute only when listing
    // protocols, never in the answer about one protocol: read it from the list.
    async fn get_protocol(&self, idp_id: &str, id: &str) -> Result<Protocol> {
        let mut protocol: Protocol =
            self.get(&format!("{IDP}/{}/protocols/{}", seg(idp_id)?, seg(id)?), "protocol").await?;
        if protocol.remote_id_attribute.is_none() {
            let listed = self.list_protocols(idp_id).await?;
            protocol.remote_id_attribute = listed.into_iter().find(|p| p.id == id).and_then(|p| p.remote_id_attribute);
        }
        Ok(protocol)
    }
    async fn create_protocol(&self, idp_id: &str, id: &str, protocol: &NewProtocol) -> Result<Protocol> {
        let path = format!("{IDP}/{}/protocols/{}", seg(idp_id)?, seg(id)?);
        let mut created: Protocol = self.send(Method::PUT, &path, "protocol", protocol).await?;
        created.remote_id_attribute = created.remote_id_attribute.or_else(|| protocol.remote_id_attribute.clone());
        Ok(created)
    }
    async fn update_protocol(&self, idp_id: &str, id: &str, protocol: &NewProtocol) -> Result<Protocol> {
        let path = format!("{IDP}/{}/protocols/{}", seg(idp_id)?, seg(id)?);
        let _: Protocol = self.send(Method::PATCH, &path, "protocol", protocol).await?;
        self.get_protocol(idp_id, id).await
    }
    async fn delete_protocol(&self, idp_id: &str, id: &str) -> Result<()> {
        self.delete(&format!("{IDP}/{}/protocols/{}", seg(idp_id)?, seg(id)?)).await
    }

    // ---- service providers
    async fn list_service_providers(&self) -> Result<Vec<ServiceProvider>> {
        self.list(SPS, "service_providers", &[]).await
    }
    async fn get_service_provider(&self, id: &str) -> Result<ServiceProvider> {
        self.get(&format!("{SPS}/{}", seg(id)?), "service_provider").await
    }
    async fn create_service_provider(&self, id: &str, sp: &NewServiceProvider) -> Result<ServiceProvider> {
        self.send(Method::PUT, &format!("{SPS}/{}", seg(id)?), "service_provider", sp).await
    }
    async fn update_service_provider(&self, id: &str, update: &ServiceProviderUpdate) -> Result<ServiceProvider> {
        self.send(Method::PATCH, &format!("{SPS}/{}", seg(id)?), "service_provider", update).await
    }
    async fn delete_service_provider(&self, id: &str) -> Result<()> {
        self.delete(&format!("{SPS}/{}", seg(id)?)).await
    }

    // ---- unified limits
    async fn get_limit_model(&self) -> Result<LimitModel> {
        self.get("limits/model", "model").await
    }
    async fn list_registered_limits(&self, filter: &Filter) -> Result<Vec<RegisteredLimit>> {
        self.list("registered_limits", "registered_limits", filter.pairs()).await
    }
    async fn get_registered_limit(&self, id: &str) -> Result<RegisteredLimit> {
        self.get(&format!("registered_limits/{}", seg(id)?), "registered_limit").await
    }
    async fn create_registered_limits(&self, limits: &[NewRegisteredLimit]) -> Result<Vec<RegisteredLimit>> {
        self.send(Method::POST, "registered_limits", "registered_limits", limits).await
    }
    async fn update_registered_limit(&self, id: &str, update: &RegisteredLimitUpdate) -> Result<RegisteredLimit> {
        self.send(Method::PATCH, &format!("registered_limits/{}", seg(id)?), "registered_limit", update).await
    }
    async fn delete_registered_limit(&self, id: &str) -> Result<()> {
        self.delete(&format!("registered_limits/{}", seg(id)?)).await
    }
    async fn list_limits(&self, filter: &Filter) -> Result<Vec<Limit>> {
        self.list("limits", "limits", filter.pairs()).await
    }
    async fn get_limit(&self, id: &str) -> Result<Limit> {
        self.get(&format!("limits/{}", seg(id)?), "limit").await
    }
    async fn create_limits(&self, limits: &[NewLimit]) -> Result<Vec<Limit>> {
        self.send(Method::POST, "limits", "limits", limits).await
    }
    async fn update_limit(&self, id: &str, update: &LimitUpdate) -> Result<Limit> {
        self.send(Method::PATCH, &format!("limits/{}", seg(id)?), "limit", update).await
    }
    async fn delete_limit(&self, id: &str) -> Result<()> {
        self.delete(&format!("limits/{}", seg(id)?)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_escaped() {
        assert_eq!(seg("Region One/x?").unwrap(), "Region%20One%2Fx%3F");
        assert!(seg("").is_err());
        assert_eq!(
            assignment_path("r", &Actor::Group("g".into()), &Target::System).unwrap(),
            "system/groups/g/roles/r"
        );
        assert_eq!(
            assignment_path("r", &Actor::User("u".into()), &Target::Project("p".into())).unwrap(),
            "projects/p/users/u/roles/r"
        );
    }
}
