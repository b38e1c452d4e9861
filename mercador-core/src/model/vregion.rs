//! [`VRegionSpec`]: what a publisher offers, and its validation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Name, ValidationError};

/// Lifecycle of a vregion.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VRegionState {
    /// Being defined; invisible to partners.
    #[default]
    Draft,
    /// Offered to its partners; they may subscribe.
    Published,
    /// No longer offered: no new subscriptions; existing ones keep running
    /// until cancelled or revoked.
    Withdrawn,
}

impl VRegionState {
    /// `draft`, `published`, `withdrawn`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// The state named `s` (as [`Self::as_str`] spells it).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::Published, Self::Withdrawn].into_iter().find(|state| state.as_str() == s)
    }

    /// Whether the lifecycle allows going from `self` to `to` (publish from
    /// draft or withdrawn, withdraw when published; staying put is allowed).
    pub fn can_become(self, to: Self) -> bool {
        matches!(
            (self, to),
            (Self::Draft, Self::Published) | (Self::Withdrawn, Self::Published) | (Self::Published, Self::Withdrawn)
        ) || self == to
    }
}

impl fmt::Display for VRegionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One quota of a vregion, **per project**: each enabled project of the
/// vregion's domain (those its partners' federated users land in, created
/// at their first login, and those its admin creates) gets it as a
/// Keystone unified limit of its own (service: the one the vregion exposes
/// for the resource's type; region: the vregion's), within the publisher's
/// enforcement interval (`[server] enforce_interval_secs`, 5 s by default).
/// Services read it through oslo.limit, whose model is flat: it reads one
/// project's limit, never a domain's, so a total across the domain cannot
/// be enforced. A vregion whose users bring N projects may hold N times
/// the quota. The domain also gets the quota as a limit, as the record of
/// the vregion's quota in Keystone (no service reads it).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Resource name as the service enforces it (e.g. `class:VCPU`).
    pub resource: String,
    /// Limit; `-1` means unlimited.
    #[cfg_attr(feature = "openapi", schema(minimum = -1))]
    pub limit: i64,
}

/// Which resources of a kind federated users see.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "mode", deny_unknown_fields)]
pub enum VisibilityRule {
    /// Only what is created inside the vregion.
    #[default]
    Own,
    /// The vregion's own plus what the publisher made public.
    Public,
    /// The vregion's own plus the listed resources (ids).
    Listed {
        /// Resource ids.
        ids: Vec<String>,
    },
}

/// Visibility of images, networks and volumes. Only `images` is applied,
/// on B's Glance; `networks` and `volumes` are stored and validated, not
/// enforced (no Neutron or Cinder reconciler). What holds is in
/// [`Enforcement`] ([`VRegionSpec::enforcement`]) and docs/enforcement.md.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Visibility {
    /// Glance images (needs service type `image`). Applied on Glance:
    /// `listed` shares each listed image (it must be `shared` or `public`
    /// on B) with every project of the vregion, accepted for it; `public`
    /// is Glance's default; `own` cannot hide B's `public` images from a
    /// listing (see [`Enforcement::images`]).
    pub images: VisibilityRule,
    /// Neutron networks (needs service type `network`). Stored and
    /// validated, **not enforced**.
    pub networks: VisibilityRule,
    /// Cinder volumes and snapshots (needs `block-storage`, `volumev3` or
    /// `volume`). Stored and validated, **not enforced**.
    pub volumes: VisibilityRule,
}

/// How far a rule holds on B.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementLevel {
    /// A service on B enforces it.
    Enforced,
    /// Part of it holds on B; `detail` says which part does not.
    Partial,
    /// Stored and validated only: nothing on B applies it.
    NotEnforced,
}

/// What holds of one rule, and how.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnforcementStatus {
    /// How far it holds.
    pub level: EnforcementLevel,
    /// What is and is not enforced, and by what.
    pub detail: String,
}

impl EnforcementStatus {
    fn new(level: EnforcementLevel, detail: impl Into<String>) -> Self {
        Self { level, detail: detail.into() }
    }
}

/// What of a vregion's quotas and visibility rules holds on B (derived from
/// the spec; see docs/enforcement.md).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enforcement {
    /// The quotas.
    pub quotas: EnforcementStatus,
    /// `visibility.images`.
    pub images: EnforcementStatus,
    /// `visibility.networks`.
    pub networks: EnforcementStatus,
    /// `visibility.volumes`.
    pub volumes: EnforcementStatus,
}

/// A virtual region as its publisher defines it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VRegionSpec {
    /// Unique name at the publisher.
    pub name: Name,
    /// Free description shown to partners.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub description: String,
    /// The publisher's region (Keystone region id) the vregion lives in.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub region: String,
    /// The Keystone domain of the vregion; `mercador-<name>` when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub domain: Option<String>,
    /// Service types exposed (`compute`, `image`, `network`, ...).
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub service_types: Vec<String>,
    /// Roles federated users may receive (never `admin`).
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 6))]
    pub roles: Vec<String>,
    /// Quotas, per project: each project of the vregion's domain gets each
    /// one as its own Keystone unified limit (see [`Quota`]).
    #[serde(default)]
    pub quotas: Vec<Quota>,
    /// Visibility of images, networks and volumes.
    #[serde(default)]
    pub visibility: Visibility,
    /// Free metadata (location, country, SLA, ...).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// At most this many subscriptions at a time.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub max_subscriptions: u32,
    /// The partners it is offered to.
    #[serde(default)]
    pub partners: Vec<Name>,
}

/// Unified-limit resource names Mercador knows, with the service type that
/// enforces each (Nova and Glance; `class:<RESOURCE_CLASS>` for any Placement
/// resource class).
pub const KNOWN_RESOURCES: &[(&str, &str)] = &[
    ("servers", "compute"),
    ("class:VCPU", "compute"),
    ("class:MEMORY_MB", "compute"),
    ("class:DISK_GB", "compute"),
    ("server_metadata_items", "compute"),
    ("server_injected_files", "compute"),
    ("server_injected_file_content_bytes", "compute"),
    ("server_injected_file_path_bytes", "compute"),
    ("server_key_pairs", "compute"),
    ("server_groups", "compute"),
    ("server_group_members", "compute"),
    ("image_size_total", "image"),
    ("image_stage_total", "image"),
    ("image_count_total", "image"),
    ("image_count_uploading", "image"),
];

/// The service type enforcing a quota resource, or `None` for an unknown one.
pub fn resource_service_type(resource: &str) -> Option<&'static str> {
    if let Some(class) = resource.strip_prefix("class:") {
        let valid =
            !class.is_empty() && class.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        return valid.then_some("compute");
    }
    KNOWN_RESOURCES.iter().find(|(name, _)| *name == resource).map(|(_, service)| *service)
}

/// At most this many roles per vregion: the publisher's mapping grants "the
/// user's roles at the subscriber ∩ the vregion's roles" with one rule per
/// subset of them (Keystone applies the projects of the last matching rule).
pub const MAX_ROLES: usize = 6;

const VOLUME_TYPES: &[&str] = &["block-storage", "volumev3", "volume"];

impl VRegionSpec {
    /// What of the spec's quotas and visibility rules holds on B.
    pub fn enforcement(&self) -> Enforcement {
        use EnforcementLevel::*;
        let (image_quotas, other_quotas): (Vec<&Quota>, Vec<&Quota>) =
            self.quotas.iter().partition(|q| resource_service_type(&q.resource) == Some("image"));
        let quotas = if self.quotas.is_empty() {
            EnforcementStatus::new(Enforced, "no quotas: each project gets the registered defaults of B's services")
        } else {
            let mut detail = "per project: each project of the vregion's domain gets each quota as its own \
                              Keystone limit within the publisher's enforcement interval; a total across the \
                              vregion's projects is not enforced (oslo.limit reads one project's limit)"
                .to_string();
            if !image_quotas.is_empty() {
                detail.push_str("; Glance enforces the image quotas");
            }
            if other_quotas.is_empty() {
                EnforcementStatus::new(Enforced, detail)
            } else {
                let names: Vec<&str> = other_quotas.iter().map(|q| q.resource.as_str()).collect();
                detail.push_str(&format!(
                    "; {} are set as limits, enforced only if the service reading them (Nova) uses unified limits",
                    names.join(", ")
                ));
                EnforcementStatus::new(Partial, detail)
            }
        };
        let images = match &self.visibility.images {
            VisibilityRule::Own => EnforcementStatus::new(
                Partial,
                "Glance lists B's public images to every project: they stay visible; other projects' private \
                 and shared images are not",
            ),
            VisibilityRule::Public => {
                EnforcementStatus::new(Enforced, "Glance's default: the vregion's own images and B's public images")
            }
            VisibilityRule::Listed { .. } => EnforcementStatus::new(
                Partial,
                "each listed image (shared on B) gets every project of the vregion as an accepted member; B's \
                 public images stay visible too (Glance lists them to every project)",
            ),
        };
        let not_enforced = |what: &str, rule: &VisibilityRule| {
            let detail = match rule {
                VisibilityRule::Own => format!("stored and validated, not enforced: no {what} reconciler"),
                _ => format!("stored and validated, not enforced: no {what} reconciler applies this rule"),
            };
            EnforcementStatus::new(NotEnforced, detail)
        };
        Enforcement {
            quotas,
            images,
            networks: not_enforced("Neutron", &self.visibility.networks),
            volumes: not_enforced("Cinder", &self.visibility.volumes),
        }
    }

    /// The Keystone domain name of the vregion.
    pub fn domain_name(&self) -> String {
        self.domain.clone().unwrap_or_else(|| format!("mercador-{}", self.name))
    }

    /// Checks every rule; returns all violations, each naming its field.
    pub fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut errors = Vec::new();
        let mut err = |field: &str, message: String| errors.push(ValidationError::new(field, message));

        if self.description.len() > 1024 {
            err("description", "is longer than 1024 characters".into());
        }
        if self.region.trim().is_empty() || self.region.len() > 255 {
            err("region", "must be the id of one of the publisher's Keystone regions (1 to 255 characters)".into());
        }
        let domain = self.domain_name();
        if domain.is_empty() || domain.len() > 64 {
            err("domain", format!("{domain:?} is not a valid Keystone domain name (1 to 64 characters)"));
        }

        if self.service_types.is_empty() {
            err("service_types", "is empty; list the service types the vregion exposes (e.g. compute, image)".into());
        }
        let mut seen = BTreeSet::new();
        for (i, t) in self.service_types.iter().enumerate() {
            let valid = t.len() <= 64
                && t.starts_with(|c: char| c.is_ascii_lowercase())
                && t.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid {
                err(&format!("service_types[{i}]"), format!("{t:?} is not a service type (e.g. compute, volumev3)"));
            } else if !seen.insert(t.as_str()) {
                err(&format!("service_types[{i}]"), format!("{t:?} is listed twice"));
            }
        }
        let exposes = |t: &str| self.service_types.iter().any(|s| s == t);

        if self.roles.is_empty() {
            err("roles", "is empty; list the roles federated users may receive (e.g. member)".into());
        }
        if self.roles.len() > MAX_ROLES {
            err(
                "roles",
                format!("lists {} roles; at most {MAX_ROLES} (the mapping has one rule per subset)", self.roles.len()),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, r) in self.roles.iter().enumerate() {
            if r.trim().is_empty() || r.len() > 255 {
                err(&format!("roles[{i}]"), format!("{r:?} is not a Keystone role name"));
            } else if r.eq_ignore_ascii_case("admin") {
                err(
                    &format!("roles[{i}]"),
                    "federated users may not receive admin; the subscriber manages the vregion through its \
                     own admin user"
                        .into(),
                );
            } else if !seen.insert(r.as_str()) {
                err(&format!("roles[{i}]"), format!("{r:?} is listed twice"));
            }
        }

        let mut seen = BTreeSet::new();
        for (i, q) in self.quotas.iter().enumerate() {
            let field = format!("quotas[{i}]");
            match resource_service_type(&q.resource) {
                None => {
                    let known: Vec<&str> = KNOWN_RESOURCES.iter().map(|(n, _)| *n).collect();
                    err(
                        &field,
                        format!(
                            "unknown resource {:?}; known: {}, or class:<RESOURCE_CLASS>",
                            q.resource,
                            known.join(", ")
                        ),
                    );
                }
                Some(service) if !exposes(service) => err(
                    &field,
                    format!("{} is enforced by the {service} service, which the vregion does not expose", q.resource),
                ),
                Some(_) => {}
            }
            if q.limit < -1 {
                err(&field, format!("limit {} is negative; use -1 for unlimited", q.limit));
            }
            if !seen.insert(q.resource.as_str()) {
                err(&field, format!("{} is given twice", q.resource));
            }
        }

        let rules = [
            ("visibility.images", &self.visibility.images, exposes("image"), "image"),
            ("visibility.networks", &self.visibility.networks, exposes("network"), "network"),
            (
                "visibility.volumes",
                &self.visibility.volumes,
                VOLUME_TYPES.iter().any(|t| exposes(t)),
                "block-storage (or volumev3)",
            ),
        ];
        for (field, rule, exposed, service) in rules {
            if *rule != VisibilityRule::Own && !exposed {
                err(field, format!("is set, but the vregion does not expose the {service} service"));
            }
            if let VisibilityRule::Listed { ids } = rule {
                if ids.is_empty() {
                    err(field, "mode listed needs at least one id".into());
                }
                let mut seen = BTreeSet::new();
                for id in ids {
                    if id.trim().is_empty() || id.len() > 64 {
                        err(field, format!("{id:?} is not a resource id"));
                    } else if !seen.insert(id) {
                        err(field, format!("{id} is listed twice"));
                    }
                }
            }
        }

        if self.metadata.len() > 64 {
            err("metadata", "has more than 64 entries".into());
        }
        for (k, v) in &self.metadata {
            let key_ok = !k.is_empty()
                && k.len() <= 64
                && k.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
            if !key_ok {
                err("metadata", format!("key {k:?} must be 1 to 64 lowercase letters, digits, '_', '.' or '-'"));
            }
            if v.len() > 1024 {
                err(&format!("metadata.{k}"), "is longer than 1024 characters".into());
            }
        }

        if self.max_subscriptions == 0 {
            err("max_subscriptions", "must be at least 1".into());
        }
        let mut seen = BTreeSet::new();
        for p in &self.partners {
            if !seen.insert(p) {
                err("partners", format!("{p} is listed twice"));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforcement_says_what_holds_and_nothing_more() {
        let mut s: VRegionSpec = serde_json::from_value(serde_json::json!({
            "name": "lisbon", "region": "RegionTwo", "service_types": ["image", "network", "volumev3"],
            "roles": ["member"], "max_subscriptions": 1,
            "quotas": [{"resource": "image_count_total", "limit": 3}],
            "visibility": {"images": {"mode": "listed", "ids": ["img-1"]}, "networks": {"mode": "public"}}
        }))
        .unwrap();
        let e = s.enforcement();
        assert_eq!(e.quotas.level, EnforcementLevel::Enforced);
        assert!(e.quotas.detail.starts_with("per project"), "{}", e.quotas.detail);
        assert_eq!(e.images.level, EnforcementLevel::Partial, "B's public images stay listed");
        assert!(e.images.detail.contains("public images stay visible"), "{}", e.images.detail);
        assert_eq!(e.networks.level, EnforcementLevel::NotEnforced);
        assert_eq!(e.volumes.level, EnforcementLevel::NotEnforced);
        assert!(e.volumes.detail.contains("not enforced"));

        s.visibility.images = VisibilityRule::Public;
        assert_eq!(s.enforcement().images.level, EnforcementLevel::Enforced);
        s.visibility.images = VisibilityRule::Own;
        assert_eq!(s.enforcement().images.level, EnforcementLevel::Partial);
        s.service_types.push("compute".into());
        s.quotas.push(Quota { resource: "class:VCPU".into(), limit: 8 });
        let quotas = s.enforcement().quotas;
        assert_eq!(quotas.level, EnforcementLevel::Partial, "Nova's limits hold only where Nova reads them");
        assert!(quotas.detail.contains("class:VCPU"), "{}", quotas.detail);
        let json = serde_json::to_value(s.enforcement()).unwrap();
        assert_eq!(json["networks"]["level"], "not_enforced");
    }

    fn spec() -> VRegionSpec {
        serde_json::from_value(serde_json::json!({
            "name": "lisbon-1",
            "description": "Lisbon, Tier III",
            "region": "RegionTwo",
            "service_types": ["compute", "image", "volumev3"],
            "roles": ["member", "reader"],
            "quotas": [{"resource": "class:VCPU", "limit": 64}, {"resource": "image_count_total", "limit": -1}],
            "visibility": {"images": {"mode": "listed", "ids": ["img-1"]}, "volumes": {"mode": "public"}},
            "metadata": {"country": "PT", "sla": "99.9"},
            "max_subscriptions": 2,
            "partners": ["acme"]
        }))
        .unwrap()
    }

    #[test]
    fn a_good_spec_passes() {
        let s = spec();
        s.validate().unwrap();
        assert_eq!(s.domain_name(), "mercador-lisbon-1");
        assert_eq!(s.visibility.networks, VisibilityRule::Own);
    }

    #[test]
    fn every_violation_is_reported_with_its_field() {
        let mut s = spec();
        s.service_types = vec!["compute".into(), "compute".into()];
        s.roles = vec!["Admin".into()];
        s.quotas.push(Quota { resource: "cores".into(), limit: 1 });
        s.quotas.push(Quota { resource: "class:VCPU".into(), limit: -5 });
        s.metadata.insert("Bad Key".into(), "x".into());
        s.max_subscriptions = 0;
        let errors = s.validate().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for want in [
            "service_types[1]",
            "roles[0]",
            "quotas[1]", // image_count_total: image no longer exposed
            "quotas[2]", // unknown resource
            "quotas[3]", // negative, and duplicate
            "visibility.images",
            "visibility.volumes",
            "metadata",
            "max_subscriptions",
        ] {
            assert!(fields.contains(&want), "{want} missing in {errors:?}");
        }
        let unknown = errors.iter().find(|e| e.field == "quotas[2]").unwrap();
        assert!(unknown.message.contains("unknown resource \"cores\"") && unknown.message.contains("class:VCPU"));
        let admin = errors.iter().find(|e| e.field == "roles[0]").unwrap();
        assert!(admin.message.contains("may not receive admin"));
    }

    #[test]
    fn unknown_fields_and_bad_names_are_refused() {
        let mut v = serde_json::to_value(spec()).unwrap();
        v["colour"] = "blue".into();
        let e = serde_json::from_value::<VRegionSpec>(v).unwrap_err();
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
        let mut v = serde_json::to_value(spec()).unwrap();
        v["name"] = "Lisbon 1".into();
        assert!(serde_json::from_value::<VRegionSpec>(v).is_err());
    }

    #[test]
    fn resource_classes_and_lifecycle() {
        assert_eq!(resource_service_type("class:CUSTOM_GPU_A100"), Some("compute"));
        assert_eq!(resource_service_type("class:vcpu"), None);
        assert_eq!(resource_service_type("image_size_total"), Some("image"));
        assert!(VRegionState::Draft.can_become(VRegionState::Published));
        assert!(VRegionState::Published.can_become(VRegionState::Withdrawn));
        assert!(VRegionState::Withdrawn.can_become(VRegionState::Published));
        assert!(!VRegionState::Published.can_become(VRegionState::Draft));
        assert!(!VRegionState::Draft.can_become(VRegionState::Withdrawn));
    }
}
