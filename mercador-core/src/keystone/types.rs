//! Keystone v3 resources, their creation requests and their updates.
//!
//! Read types carry what Keystone returns; `New*` types are creation bodies;
//! `*Update` types are `PATCH` bodies where every `None` field is left alone.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::catalog::Interface;
use super::token::NamedRef;

fn yes() -> bool {
    true
}

fn serialize_secret<S: Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(v) => s.serialize_str(v.expose_secret()),
        None => s.serialize_none(),
    }
}

fn deserialize_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(SecretString::from))
}

/// List filters, sent as query parameters (`?name=...&domain_id=...`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pairs: Vec<(&'static str, String)>,
}

impl Filter {
    /// No filter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds any `key=value` filter Keystone supports for the collection.
    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.pairs.push((key, value.into()));
        self
    }

    /// `name=`.
    pub fn name(self, v: impl Into<String>) -> Self {
        self.with("name", v)
    }

    /// `domain_id=`.
    pub fn domain_id(self, v: impl Into<String>) -> Self {
        self.with("domain_id", v)
    }

    /// `service_id=`.
    pub fn service_id(self, v: impl Into<String>) -> Self {
        self.with("service_id", v)
    }

    /// `region_id=`.
    pub fn region_id(self, v: impl Into<String>) -> Self {
        self.with("region_id", v)
    }

    /// `interface=`.
    pub fn interface(self, v: Interface) -> Self {
        self.with("interface", v.as_str())
    }

    /// `type=` (services).
    pub fn service_type(self, v: impl Into<String>) -> Self {
        self.with("type", v)
    }

    /// `resource_name=` (limits).
    pub fn resource_name(self, v: impl Into<String>) -> Self {
        self.with("resource_name", v)
    }

    /// `project_id=` (limits).
    pub fn project_id(self, v: impl Into<String>) -> Self {
        self.with("project_id", v)
    }

    /// `parent_id=` (projects).
    pub fn parent_id(self, v: impl Into<String>) -> Self {
        self.with("parent_id", v)
    }

    /// The pairs.
    pub fn pairs(&self) -> &[(&'static str, String)] {
        &self.pairs
    }
}

/// A region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// Id (regions have no separate name).
    pub id: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Parent region.
    #[serde(default)]
    pub parent_region_id: Option<String>,
}

/// Body of a region creation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NewRegion {
    /// Id; Keystone generates one when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Parent region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_region_id: Option<String>,
}

/// Region update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegionUpdate {
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Parent region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_region_id: Option<String>,
}

/// A catalog service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Id.
    pub id: String,
    /// Type (`identity`, `compute`...).
    #[serde(rename = "type")]
    pub service_type: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Enabled.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// Body of a service creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewService {
    /// Type.
    #[serde(rename = "type")]
    pub service_type: String,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Enabled.
    pub enabled: bool,
}

/// Service update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServiceUpdate {
    /// Type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A catalog endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Id.
    pub id: String,
    /// Service.
    pub service_id: String,
    /// Interface.
    pub interface: Interface,
    /// URL (kept as Keystone stores it: it may hold `$(project_id)s` templates).
    pub url: String,
    /// Region.
    #[serde(default)]
    pub region_id: Option<String>,
    /// Enabled.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// Body of an endpoint creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewEndpoint {
    /// Service.
    pub service_id: String,
    /// Interface.
    pub interface: Interface,
    /// URL.
    pub url: String,
    /// Region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_id: Option<String>,
    /// Enabled.
    pub enabled: bool,
}

/// Endpoint update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EndpointUpdate {
    /// URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<Interface>,
    /// Region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_id: Option<String>,
    /// Enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Enabled.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// Body of a domain creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewDomain {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Enabled.
    pub enabled: bool,
}

/// Domain update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DomainUpdate {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning domain.
    pub domain_id: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Enabled.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Parent project (the domain id for top-level projects).
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Body of a project creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewProject {
    /// Name.
    pub name: String,
    /// Owning domain.
    pub domain_id: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Enabled.
    pub enabled: bool,
    /// Parent project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// Project update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProjectUpdate {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Tags (replaces them all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning domain.
    pub domain_id: String,
    /// Enabled.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Default project.
    #[serde(default)]
    pub default_project_id: Option<String>,
    /// Password expiry.
    #[serde(default)]
    pub password_expires_at: Option<String>,
}

/// Body of a user creation. `Debug` redacts the password.
#[derive(Debug, Clone, Serialize)]
pub struct NewUser {
    /// Name.
    pub name: String,
    /// Owning domain.
    pub domain_id: String,
    /// Password.
    #[serde(serialize_with = "serialize_secret", skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretString>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_project_id: Option<String>,
    /// Enabled.
    pub enabled: bool,
}

/// User update. `Debug` redacts the password.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserUpdate {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New password.
    #[serde(serialize_with = "serialize_secret", skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretString>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_project_id: Option<String>,
    /// Enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning domain.
    pub domain_id: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// Body of a group creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewGroup {
    /// Name.
    pub name: String,
    /// Owning domain.
    pub domain_id: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Group update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GroupUpdate {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Domain of a domain-specific role (`None` for global roles).
    #[serde(default)]
    pub domain_id: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// One entry of `GET /v3/role_inferences`: a role and the roles it implies
/// directly (a token with the prior role also carries the implied ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleInference {
    /// The role that implies others.
    pub prior_role: NamedRef,
    /// The roles it implies.
    #[serde(default)]
    pub implies: Vec<NamedRef>,
}

/// Body of a role creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewRole {
    /// Name.
    pub name: String,
    /// Domain, for a domain-specific role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Role update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoleUpdate {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Who receives a role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A user id.
    User(String),
    /// A group id.
    Group(String),
}

/// Where a role applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A project id.
    Project(String),
    /// A domain id.
    Domain(String),
    /// The system.
    System,
}

/// The scope of a role assignment as listed by Keystone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentScope {
    /// Project.
    #[serde(default)]
    pub project: Option<NamedRef>,
    /// Domain.
    #[serde(default)]
    pub domain: Option<NamedRef>,
    /// System (`{"all": true}`).
    #[serde(default)]
    pub system: Option<serde_json::Value>,
}

/// One role assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleAssignment {
    /// The role.
    pub role: NamedRef,
    /// The user, for a user assignment.
    #[serde(default)]
    pub user: Option<NamedRef>,
    /// The group, for a group assignment.
    #[serde(default)]
    pub group: Option<NamedRef>,
    /// Where it applies.
    #[serde(default)]
    pub scope: AssignmentScope,
}

/// Filter of `GET /v3/role_assignments`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleAssignmentFilter {
    /// `user.id=`.
    pub user_id: Option<String>,
    /// `group.id=`.
    pub group_id: Option<String>,
    /// `scope.project.id=`.
    pub project_id: Option<String>,
    /// `scope.domain.id=`.
    pub domain_id: Option<String>,
    /// `role.id=`.
    pub role_id: Option<String>,
    /// `scope.system=all`.
    pub system: bool,
    /// Expand group memberships and inheritance (`effective`).
    pub effective: bool,
    /// Return names as well as ids (`include_names`).
    pub include_names: bool,
}

impl RoleAssignmentFilter {
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let opt = [
            ("user.id", &self.user_id),
            ("group.id", &self.group_id),
            ("scope.project.id", &self.project_id),
            ("scope.domain.id", &self.domain_id),
            ("role.id", &self.role_id),
        ];
        for (k, v) in opt {
            if let Some(v) = v {
                out.push((k, v.clone()));
            }
        }
        if self.system {
            out.push(("scope.system", "all".to_owned()));
        }
        if self.effective {
            out.push(("effective", "true".to_owned()));
        }
        if self.include_names {
            out.push(("include_names", "true".to_owned()));
        }
        out
    }
}

/// A role given by id or by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RoleRef {
    /// By id.
    Id {
        /// Id.
        id: String,
    },
    /// By name.
    Name {
        /// Name.
        name: String,
    },
}

/// An application credential. The secret is present only in the answer to
/// its creation; `Debug` redacts it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplicationCredential {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// The project it is bound to.
    pub project_id: String,
    /// Expiry.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// May it create other credentials and trusts.
    #[serde(default)]
    pub unrestricted: bool,
    /// Roles it carries.
    #[serde(default)]
    pub roles: Vec<NamedRef>,
    /// The secret (creation answer only).
    #[serde(default, deserialize_with = "deserialize_secret", serialize_with = "serialize_secret")]
    pub secret: Option<SecretString>,
}

/// Body of an application credential creation. `Debug` redacts the secret.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewApplicationCredential {
    /// Name (unique per user).
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Secret; Keystone generates one when absent.
    #[serde(serialize_with = "serialize_secret", skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretString>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Roles (a subset of the user's roles on the token's project); all when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleRef>,
    /// May it create other credentials and trusts.
    pub unrestricted: bool,
}

/// An OS-FEDERATION identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProvider {
    /// Id.
    pub id: String,
    /// Remote ids (for SAML: the IdP's entity id).
    #[serde(default)]
    pub remote_ids: Vec<String>,
    /// Enabled.
    #[serde(default)]
    pub enabled: bool,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Domain of the federated users (shadow users).
    #[serde(default)]
    pub domain_id: Option<String>,
}

/// Body of an identity provider creation (`PUT` on its id). `enabled`
/// defaults to false in Keystone; say it explicitly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewIdentityProvider {
    /// Remote ids.
    pub remote_ids: Vec<String>,
    /// Enabled.
    pub enabled: bool,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Domain of the federated users; Keystone creates one when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
}

/// Identity provider update (the domain cannot be changed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IdentityProviderUpdate {
    /// Remote ids (replaces them all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_ids: Option<Vec<String>>,
    /// Enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An OS-FEDERATION mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// Id.
    pub id: String,
    /// Rules (Keystone's mapping rules, as JSON).
    pub rules: Vec<serde_json::Value>,
    /// Schema version, when Keystone reports it.
    #[serde(default)]
    pub schema_version: Option<String>,
}

/// Body of a mapping creation or update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewMapping {
    /// Rules.
    pub rules: Vec<serde_json::Value>,
    /// Schema version (`"3.0"` makes Keystone remove, at each login, project
    /// role assignments the rules no longer grant); Keystone's default when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
}

/// An OS-FEDERATION protocol of an identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protocol {
    /// Id (`saml2`, `mapped`...).
    pub id: String,
    /// Mapping applied.
    pub mapping_id: String,
    /// WSGI environment variable holding the remote id, overriding the config.
    #[serde(default)]
    pub remote_id_attribute: Option<String>,
}

/// Body of a protocol creation or update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewProtocol {
    /// Mapping applied.
    pub mapping_id: String,
    /// WSGI environment variable holding the remote id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_id_attribute: Option<String>,
}

/// An OS-FEDERATION service provider (a K2K peer of this identity provider).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceProvider {
    /// Id.
    pub id: String,
    /// The peer's federated auth URL.
    pub auth_url: String,
    /// The peer's SAML ECP endpoint.
    pub sp_url: String,
    /// Enabled (only enabled ones appear in tokens).
    #[serde(default)]
    pub enabled: bool,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Relay state prefix.
    #[serde(default)]
    pub relay_state_prefix: Option<String>,
}

/// Body of a service provider creation (`PUT` on its id). `enabled` defaults
/// to false in Keystone; say it explicitly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewServiceProvider {
    /// The peer's federated auth URL.
    pub auth_url: String,
    /// The peer's SAML ECP endpoint.
    pub sp_url: String,
    /// Enabled.
    pub enabled: bool,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Relay state prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay_state_prefix: Option<String>,
}

/// Service provider update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServiceProviderUpdate {
    /// Auth URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_url: Option<String>,
    /// ECP URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp_url: Option<String>,
    /// Enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A registered limit (the default of a resource for every project).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredLimit {
    /// Id.
    pub id: String,
    /// Service.
    pub service_id: String,
    /// Region.
    #[serde(default)]
    pub region_id: Option<String>,
    /// Resource (`cores`, `ram_mb`, `image_count_total`...).
    pub resource_name: String,
    /// Default limit.
    pub default_limit: i64,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// Body of a registered limit creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewRegisteredLimit {
    /// Service.
    pub service_id: String,
    /// Region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_id: Option<String>,
    /// Resource.
    pub resource_name: String,
    /// Default limit.
    pub default_limit: i64,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Registered limit update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegisteredLimitUpdate {
    /// Default limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_limit: Option<i64>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A limit on a project or a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// Id.
    pub id: String,
    /// Service.
    pub service_id: String,
    /// Region.
    #[serde(default)]
    pub region_id: Option<String>,
    /// Resource.
    pub resource_name: String,
    /// Limit.
    pub resource_limit: i64,
    /// Project it applies to.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Domain it applies to.
    #[serde(default)]
    pub domain_id: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// Body of a limit creation (exactly one of `project_id` and `domain_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewLimit {
    /// Service.
    pub service_id: String,
    /// Region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_id: Option<String>,
    /// Resource.
    pub resource_name: String,
    /// Limit.
    pub resource_limit: i64,
    /// Project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Limit update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LimitUpdate {
    /// Limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_limit: Option<i64>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The enforcement model of unified limits (`flat`, `strict_two_level`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitModel {
    /// Model name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_serialize_for_keystone_but_never_debug() {
        let u = NewUser {
            name: "u".into(),
            domain_id: "default".into(),
            password: Some(SecretString::from("s3cr3t-pw")),
            description: None,
            default_project_id: None,
            enabled: true,
        };
        let json = serde_json::to_value(&u).unwrap();
        assert_eq!(json["password"], "s3cr3t-pw");
        assert!(!format!("{u:?}").contains("s3cr3t-pw"));
        let ac: ApplicationCredential = serde_json::from_value(serde_json::json!({
            "id": "a", "name": "n", "project_id": "p", "secret": "ac-secret-value", "roles": []
        }))
        .unwrap();
        assert!(!format!("{ac:?}").contains("ac-secret-value"));
        assert_eq!(ac.secret.as_ref().map(|s| s.expose_secret().to_owned()).as_deref(), Some("ac-secret-value"));
    }

    #[test]
    fn update_skips_unset_fields() {
        let u = ProjectUpdate { enabled: Some(false), ..Default::default() };
        assert_eq!(serde_json::to_value(&u).unwrap(), serde_json::json!({"enabled": false}));
    }

    #[test]
    fn assignment_filter_pairs() {
        let f = RoleAssignmentFilter {
            user_id: Some("u".into()),
            project_id: Some("p".into()),
            effective: true,
            ..Default::default()
        };
        assert_eq!(
            f.pairs(),
            vec![("user.id", "u".to_owned()), ("scope.project.id", "p".to_owned()), ("effective", "true".to_owned())]
        );
    }
}
