//! The [`IdentityApi`] trait: the Keystone v3 admin operations the Mercador
//! engines use. [`super::KeystoneClient`] implements it over HTTP; engines take
//! `&dyn IdentityApi` so they can be tested with a fake.

use async_trait::async_trait;
use secrecy::SecretString;
use url::Url;

use super::error::Result;
use super::token::TokenInfo;
use super::types::*;

/// Keystone v3 operations. Every method maps to one documented request of the
/// Identity API v3 (and its OS-FEDERATION extension); errors carry Keystone's
/// message and a stable [`super::ErrorKind`].
#[async_trait]
pub trait IdentityApi: Send + Sync {
    /// The identity v3 endpoint operated on.
    fn endpoint(&self) -> &Url;

    // ---- tokens
    /// `GET /v3/auth/tokens`: validates another token and returns what it
    /// carries. Fails with [`super::ErrorKind::NotFound`] for an invalid,
    /// revoked or expired token.
    async fn validate_token(&self, subject: &SecretString) -> Result<TokenInfo>;
    /// `DELETE /v3/auth/tokens`: revokes a token.
    async fn revoke_token(&self, subject: &SecretString) -> Result<()>;

    /// `GET /v3/auth/projects`: the projects the session's user can scope to
    /// (works with an unscoped token, federated ones included).
    async fn list_auth_projects(&self) -> Result<Vec<Project>>;
    /// `GET /v3/auth/domains`: the domains the session's user can scope to.
    async fn list_auth_domains(&self) -> Result<Vec<Domain>>;

    // ---- regions
    /// `GET /v3/regions`.
    async fn list_regions(&self, filter: &Filter) -> Result<Vec<Region>>;
    /// `GET /v3/regions/{id}`.
    async fn get_region(&self, id: &str) -> Result<Region>;
    /// `POST /v3/regions` (or `PUT /v3/regions/{id}` when the id is given).
    async fn create_region(&self, region: &NewRegion) -> Result<Region>;
    /// `PATCH /v3/regions/{id}`.
    async fn update_region(&self, id: &str, update: &RegionUpdate) -> Result<Region>;
    /// `DELETE /v3/regions/{id}`.
    async fn delete_region(&self, id: &str) -> Result<()>;

    // ---- services
    /// `GET /v3/services`.
    async fn list_services(&self, filter: &Filter) -> Result<Vec<Service>>;
    /// `GET /v3/services/{id}`.
    async fn get_service(&self, id: &str) -> Result<Service>;
    /// `POST /v3/services`.
    async fn create_service(&self, service: &NewService) -> Result<Service>;
    /// `PATCH /v3/services/{id}`.
    async fn update_service(&self, id: &str, update: &ServiceUpdate) -> Result<Service>;
    /// `DELETE /v3/services/{id}` (removes its endpoints too).
    async fn delete_service(&self, id: &str) -> Result<()>;

    // ---- endpoints
    /// `GET /v3/endpoints`.
    async fn list_endpoints(&self, filter: &Filter) -> Result<Vec<Endpoint>>;
    /// `GET /v3/endpoints/{id}`.
    async fn get_endpoint(&self, id: &str) -> Result<Endpoint>;
    /// `POST /v3/endpoints`.
    async fn create_endpoint(&self, endpoint: &NewEndpoint) -> Result<Endpoint>;
    /// `PATCH /v3/endpoints/{id}`.
    async fn update_endpoint(&self, id: &str, update: &EndpointUpdate) -> Result<Endpoint>;
    /// `DELETE /v3/endpoints/{id}`.
    async fn delete_endpoint(&self, id: &str) -> Result<()>;

    // ---- domains
    /// `GET /v3/domains`.
    async fn list_domains(&self, filter: &Filter) -> Result<Vec<Domain>>;
    /// `GET /v3/domains/{id}`.
    async fn get_domain(&self, id: &str) -> Result<Domain>;
    /// `POST /v3/domains`.
    async fn create_domain(&self, domain: &NewDomain) -> Result<Domain>;
    /// `PATCH /v3/domains/{id}`.
    async fn update_domain(&self, id: &str, update: &DomainUpdate) -> Result<Domain>;
    /// Disables the domain if needed (Keystone refuses to delete an enabled
    /// domain), then `DELETE /v3/domains/{id}`, which deletes everything in it.
    async fn delete_domain(&self, id: &str) -> Result<()>;

    // ---- projects
    /// `GET /v3/projects`.
    async fn list_projects(&self, filter: &Filter) -> Result<Vec<Project>>;
    /// `GET /v3/projects/{id}`.
    async fn get_project(&self, id: &str) -> Result<Project>;
    /// `POST /v3/projects`.
    async fn create_project(&self, project: &NewProject) -> Result<Project>;
    /// `PATCH /v3/projects/{id}`.
    async fn update_project(&self, id: &str, update: &ProjectUpdate) -> Result<Project>;
    /// `DELETE /v3/projects/{id}`.
    async fn delete_project(&self, id: &str) -> Result<()>;

    // ---- users
    /// `GET /v3/users`.
    async fn list_users(&self, filter: &Filter) -> Result<Vec<User>>;
    /// `GET /v3/users/{id}`.
    async fn get_user(&self, id: &str) -> Result<User>;
    /// `POST /v3/users`.
    async fn create_user(&self, user: &NewUser) -> Result<User>;
    /// `PATCH /v3/users/{id}`.
    async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<User>;
    /// `DELETE /v3/users/{id}`.
    async fn delete_user(&self, id: &str) -> Result<()>;

    // ---- groups
    /// `GET /v3/groups`.
    async fn list_groups(&self, filter: &Filter) -> Result<Vec<Group>>;
    /// `GET /v3/groups/{id}`.
    async fn get_group(&self, id: &str) -> Result<Group>;
    /// `POST /v3/groups`.
    async fn create_group(&self, group: &NewGroup) -> Result<Group>;
    /// `PATCH /v3/groups/{id}`.
    async fn update_group(&self, id: &str, update: &GroupUpdate) -> Result<Group>;
    /// `DELETE /v3/groups/{id}`.
    async fn delete_group(&self, id: &str) -> Result<()>;
    /// `GET /v3/groups/{id}/users`.
    async fn list_group_users(&self, group_id: &str) -> Result<Vec<User>>;
    /// `PUT /v3/groups/{group_id}/users/{user_id}`.
    async fn add_user_to_group(&self, group_id: &str, user_id: &str) -> Result<()>;
    /// `HEAD /v3/groups/{group_id}/users/{user_id}`.
    async fn is_user_in_group(&self, group_id: &str, user_id: &str) -> Result<bool>;
    /// `DELETE /v3/groups/{group_id}/users/{user_id}`.
    async fn remove_user_from_group(&self, group_id: &str, user_id: &str) -> Result<()>;

    // ---- roles and assignments
    /// `GET /v3/roles`.
    async fn list_roles(&self, filter: &Filter) -> Result<Vec<Role>>;
    /// `GET /v3/roles/{id}`.
    async fn get_role(&self, id: &str) -> Result<Role>;
    /// `POST /v3/roles`.
    async fn create_role(&self, role: &NewRole) -> Result<Role>;
    /// `PATCH /v3/roles/{id}`.
    async fn update_role(&self, id: &str, update: &RoleUpdate) -> Result<Role>;
    /// `DELETE /v3/roles/{id}`.
    async fn delete_role(&self, id: &str) -> Result<()>;
    /// `GET /v3/role_inferences`: every implied-role rule.
    async fn list_role_inferences(&self) -> Result<Vec<RoleInference>>;
    /// `PUT /v3/roles/{prior_role_id}/implies/{implied_role_id}`.
    async fn create_implied_role(&self, prior_role_id: &str, implied_role_id: &str) -> Result<()>;
    /// `DELETE /v3/roles/{prior_role_id}/implies/{implied_role_id}`.
    async fn delete_implied_role(&self, prior_role_id: &str, implied_role_id: &str) -> Result<()>;
    /// `PUT /v3/{projects|domains|system}/.../{users|groups}/{actor}/roles/{role}`.
    async fn grant_role(&self, role_id: &str, actor: &Actor, target: &Target) -> Result<()>;
    /// `HEAD` of the same path: true when the assignment exists.
    async fn check_role(&self, role_id: &str, actor: &Actor, target: &Target) -> Result<bool>;
    /// `DELETE` of the same path.
    async fn revoke_role(&self, role_id: &str, actor: &Actor, target: &Target) -> Result<()>;
    /// `GET /v3/role_assignments`.
    async fn list_role_assignments(&self, filter: &RoleAssignmentFilter) -> Result<Vec<RoleAssignment>>;

    // ---- application credentials
    /// `GET /v3/users/{user_id}/application_credentials`.
    async fn list_application_credentials(&self, user_id: &str, filter: &Filter) -> Result<Vec<ApplicationCredential>>;
    /// `GET /v3/users/{user_id}/application_credentials/{id}`.
    async fn get_application_credential(&self, user_id: &str, id: &str) -> Result<ApplicationCredential>;
    /// `POST /v3/users/{user_id}/application_credentials`: the answer holds the
    /// secret, which Keystone never shows again. Only the user itself may do it,
    /// on the project its token is scoped to.
    async fn create_application_credential(
        &self,
        user_id: &str,
        credential: &NewApplicationCredential,
    ) -> Result<ApplicationCredential>;
    /// `DELETE /v3/users/{user_id}/application_credentials/{id}`.
    async fn delete_application_credential(&self, user_id: &str, id: &str) -> Result<()>;

    // ---- OS-FEDERATION identity providers
    /// `GET /v3/OS-FEDERATION/identity_providers`.
    async fn list_identity_providers(&self) -> Result<Vec<IdentityProvider>>;
    /// `GET /v3/OS-FEDERATION/identity_providers/{id}`.
    async fn get_identity_provider(&self, id: &str) -> Result<IdentityProvider>;
    /// `PUT /v3/OS-FEDERATION/identity_providers/{id}`.
    async fn create_identity_provider(&self, id: &str, idp: &NewIdentityProvider) -> Result<IdentityProvider>;
    /// `PATCH /v3/OS-FEDERATION/identity_providers/{id}`.
    async fn update_identity_provider(&self, id: &str, update: &IdentityProviderUpdate) -> Result<IdentityProvider>;
    /// `DELETE /v3/OS-FEDERATION/identity_providers/{id}` (removes its protocols).
    async fn delete_identity_provider(&self, id: &str) -> Result<()>;

    // ---- OS-FEDERATION mappings
    /// `GET /v3/OS-FEDERATION/mappings`.
    async fn list_mappings(&self) -> Result<Vec<Mapping>>;
    /// `GET /v3/OS-FEDERATION/mappings/{id}`.
    async fn get_mapping(&self, id: &str) -> Result<Mapping>;
    /// `PUT /v3/OS-FEDERATION/mappings/{id}`.
    async fn create_mapping(&self, id: &str, mapping: &NewMapping) -> Result<Mapping>;
    /// `PATCH /v3/OS-FEDERATION/mappings/{id}`.
    async fn update_mapping(&self, id: &str, mapping: &NewMapping) -> Result<Mapping>;
    /// `DELETE /v3/OS-FEDERATION/mappings/{id}`.
    async fn delete_mapping(&self, id: &str) -> Result<()>;

    // ---- OS-FEDERATION protocols
    /// `GET /v3/OS-FEDERATION/identity_providers/{idp_id}/protocols`.
    async fn list_protocols(&self, idp_id: &str) -> Result<Vec<Protocol>>;
    /// `GET .../protocols/{id}`, with its `remote_id_attribute` read from the
    /// list of protocols (the only answer of Keystone 30 that shows it).
    async fn get_protocol(&self, idp_id: &str, id: &str) -> Result<Protocol>;
    /// `PUT .../protocols/{id}`.
    async fn create_protocol(&self, idp_id: &str, id: &str, protocol: &NewProtocol) -> Result<Protocol>;
    /// `PATCH .../protocols/{id}`, then the protocol as Keystone holds it.
    async fn update_protocol(&self, idp_id: &str, id: &str, protocol: &NewProtocol) -> Result<Protocol>;
    /// `DELETE .../protocols/{id}`.
    async fn delete_protocol(&self, idp_id: &str, id: &str) -> Result<()>;

    // ---- OS-FEDERATION service providers
    /// `GET /v3/OS-FEDERATION/service_providers`.
    async fn list_service_providers(&self) -> Result<Vec<ServiceProvider>>;
    /// `GET /v3/OS-FEDERATION/service_providers/{id}`.
    async fn get_service_provider(&self, id: &str) -> Result<ServiceProvider>;
    /// `PUT /v3/OS-FEDERATION/service_providers/{id}`.
    async fn create_service_provider(&self, id: &str, sp: &NewServiceProvider) -> Result<ServiceProvider>;
    /// `PATCH /v3/OS-FEDERATION/service_providers/{id}`.
    async fn update_service_provider(&self, id: &str, update: &ServiceProviderUpdate) -> Result<ServiceProvider>;
    /// `DELETE /v3/OS-FEDERATION/service_providers/{id}`.
    async fn delete_service_provider(&self, id: &str) -> Result<()>;

    // ---- unified limits
    /// `GET /v3/limits/model`.
    async fn get_limit_model(&self) -> Result<LimitModel>;
    /// `GET /v3/registered_limits`.
    async fn list_registered_limits(&self, filter: &Filter) -> Result<Vec<RegisteredLimit>>;
    /// `GET /v3/registered_limits/{id}`.
    async fn get_registered_limit(&self, id: &str) -> Result<RegisteredLimit>;
    /// `POST /v3/registered_limits` (all or nothing).
    async fn create_registered_limits(&self, limits: &[NewRegisteredLimit]) -> Result<Vec<RegisteredLimit>>;
    /// `PATCH /v3/registered_limits/{id}`.
    async fn update_registered_limit(&self, id: &str, update: &RegisteredLimitUpdate) -> Result<RegisteredLimit>;
    /// `DELETE /v3/registered_limits/{id}`.
    async fn delete_registered_limit(&self, id: &str) -> Result<()>;
    /// `GET /v3/limits`.
    async fn list_limits(&self, filter: &Filter) -> Result<Vec<Limit>>;
    /// `GET /v3/limits/{id}`.
    async fn get_limit(&self, id: &str) -> Result<Limit>;
    /// `POST /v3/limits` (all or nothing).
    async fn create_limits(&self, limits: &[NewLimit]) -> Result<Vec<Limit>>;
    /// `PATCH /v3/limits/{id}`.
    async fn update_limit(&self, id: &str, update: &LimitUpdate) -> Result<Limit>;
    /// `DELETE /v3/limits/{id}`.
    async fn delete_limit(&self, id: &str) -> Result<()>;
}
