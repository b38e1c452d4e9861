//! The roles the publisher hands out keep their holders inside the vregion.
//!
//! Keystone's default policy honours some roles in every scope: `admin`
//! satisfies `rule:admin_required` (`role:admin or is_admin:1`) whatever
//! the token is scoped to, so an `admin` grant on one domain is an admin of
//! the whole cloud; `service` satisfies `rule:service_role`, which Keystone
//! and the other services give powers beyond any project. An operator's own
//! policy file may make more roles behave that way: the publisher's
//! configuration lists them ([`super::PublisherConfig::cloud_wide_roles`]).
//! A role that implies one of them (Keystone's implied roles) is as wide.
//!
//! The publisher never hands out such a role: not to a vregion's admin user
//! (`manager` on the vregion domain by default: Keystone's domain-manager
//! persona), not to federated users (the vregion's roles, granted on
//! projects in the vregion domain), not to a partner's user (the partner
//! role on its project, which its application credential carries). It
//! refuses a vregion listing one when it is defined, changed or published,
//! checks before each subscription, and reports at start those a change of
//! Keystone's implied roles or of the configuration turned wide
//! ([`Publisher::check_confinement`]); the mapping it writes never grants
//! one ([`Publisher::confined_roles`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{Publisher, PublisherError, PublisherResult};
use crate::model::{Name, ValidationError};

/// Roles Keystone's default policy honours in every scope.
pub const KEYSTONE_CLOUD_WIDE_ROLES: [&str; 2] = ["admin", "service"];

/// What [`Publisher::check_confinement`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfinementReport {
    /// Problems of the configuration (the vregion admin's or the partner's
    /// role is cloud-wide): the service must not run with them.
    pub configuration: Vec<String>,
    /// Vregions listing a cloud-wide role, with why; their mappings leave
    /// those roles out and they take no new subscription until changed.
    pub vregions: Vec<String>,
}

impl ConfinementReport {
    /// Nothing found.
    pub fn is_clean(&self) -> bool {
        self.configuration.is_empty() && self.vregions.is_empty()
    }
}

/// Keystone B's implied roles, by lower-case name, and the cloud-wide ones.
#[derive(Debug, Clone)]
pub(crate) struct RoleGraph {
    implies: BTreeMap<String, BTreeSet<String>>,
    cloud_wide: BTreeSet<String>,
}

impl RoleGraph {
    pub(crate) fn new(edges: impl IntoIterator<Item = (String, String)>, cloud_wide: &[String]) -> Self {
        let mut implies: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (prior, implied) in edges {
            implies.entry(prior.to_lowercase()).or_default().insert(implied.to_lowercase());
        }
        let cloud_wide = KEYSTONE_CLOUD_WIDE_ROLES
            .iter()
            .map(|r| (*r).to_string())
            .chain(cloud_wide.iter().map(|r| r.to_lowercase()))
            .collect();
        Self { implies, cloud_wide }
    }

    /// Why `role` reaches beyond the vregion, or `None` when it does not:
    /// `"admin"` is cloud-wide itself; `"operator"` implies `"admin"`
    /// (through `"x"`). oslo.policy compares role names case-insensitively.
    pub(crate) fn why_cloud_wide(&self, role: &str) -> Option<String> {
        let start = role.to_lowercase();
        let mut came_from: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = VecDeque::from([start.clone()]);
        let mut seen = BTreeSet::from([start.clone()]);
        while let Some(current) = queue.pop_front() {
            if self.cloud_wide.contains(&current) {
                if current == start {
                    return Some(format!("{role:?} is honoured in every scope by Keystone's policy"));
                }
                let mut chain = vec![current.clone()];
                let mut at = current;
                while let Some(prev) = came_from.get(&at) {
                    if *prev == start {
                        break;
                    }
                    chain.push(prev.clone());
                    at = prev.clone();
                }
                chain.reverse();
                let target = chain.pop().unwrap_or_default();
                let through = if chain.is_empty() {
                    String::new()
                } else {
                    format!(" (through {})", chain.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(", "))
                };
                return Some(format!(
                    "{role:?} implies {target:?}{through}, which Keystone's policy honours in every scope"
                ));
            }
            for next in self.implies.get(&current).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    came_from.insert(next.clone(), current.clone());
                    queue.push_back(next.clone());
                }
            }
        }
        None
    }
}

/// The error message for a cloud-wide role handed to `holder`.
fn refusal(why: &str, holder: &str, cloud_wide: &BTreeSet<String>) -> String {
    format!(
        "{why}: {holder} could act outside the vregion; pick a role that is none of, and implies none of, {} \
         (see docs/publisher.md, \"What partners can do on B\")",
        cloud_wide.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
    )
}

impl Publisher {
    /// Keystone B's implied roles and the configured cloud-wide roles.
    pub(crate) async fn role_graph(&self) -> PublisherResult<RoleGraph> {
        let inferences = self.keystone().list_role_inferences().await?;
        let edges = inferences.into_iter().flat_map(|i| {
            let prior = i.prior_role.name.unwrap_or(i.prior_role.id);
            i.implies.into_iter().map(move |r| (prior.clone(), r.name.unwrap_or(r.id)))
        });
        Ok(RoleGraph::new(edges, &self.config().cloud_wide_roles))
    }

    /// Refuses roles for federated users of a vregion that reach beyond it,
    /// each error naming its field (`roles[i]`) and the role.
    pub(crate) fn vregion_role_errors(graph: &RoleGraph, roles: &[String]) -> Vec<ValidationError> {
        roles
            .iter()
            .enumerate()
            .filter_map(|(i, role)| {
                graph.why_cloud_wide(role).map(|why| {
                    ValidationError::new(
                        format!("roles[{i}]"),
                        refusal(&why, "a federated user holding it", &graph.cloud_wide),
                    )
                })
            })
            .collect()
    }

    /// The problems of the configured roles: the vregion admin's role on
    /// the vregion domain and the partner's role on its project.
    fn configuration_errors(&self, graph: &RoleGraph) -> Vec<String> {
        let config = self.config();
        let mut out = Vec::new();
        if let Some(why) = graph.why_cloud_wide(&config.admin_role) {
            out.push(format!(
                "[federation] vregion_admin_role: {}",
                refusal(&why, "the vregion admin handed to each subscriber", &graph.cloud_wide)
            ));
        }
        if let Some(why) = graph.why_cloud_wide(&config.partner_role) {
            out.push(format!(
                "[federation] partner_role: {}",
                refusal(&why, "a partner's application credential", &graph.cloud_wide)
            ));
        }
        out
    }

    /// Checks the configured roles and every stored vregion against Keystone
    /// B's implied roles. The service runs it at start: it refuses to start
    /// on a configuration problem and logs each vregion found.
    pub async fn check_confinement(&self) -> PublisherResult<ConfinementReport> {
        let graph = self.role_graph().await?;
        let mut report = ConfinementReport { configuration: self.configuration_errors(&graph), vregions: Vec::new() };
        for v in self.store().list_vregions().await? {
            for e in Self::vregion_role_errors(&graph, &v.spec.roles) {
                report.vregions.push(format!("vregion {}: {e}", v.spec.name));
            }
        }
        for problem in &report.vregions {
            tracing::error!(
                problem = %problem,
                "a vregion lists a cloud-wide role: its mapping leaves it out and it takes no new subscription; \
                 change the vregion (PUT /v1/admin/vregions/<name>) without it"
            );
        }
        Ok(report)
    }

    /// Refuses to go on when the configured roles reach beyond the vregion
    /// (Keystone's implied roles may have changed since the start).
    fn refuse_wide_configuration(&self, graph: &RoleGraph, what: &str) -> PublisherResult<()> {
        let problems = self.configuration_errors(graph);
        if problems.is_empty() {
            return Ok(());
        }
        Err(PublisherError::Conflict(format!(
            "the publisher's configuration hands out a cloud-wide role, so it {what}: {}",
            problems.join("; ")
        )))
    }

    /// Before onboarding a partner: its role may not reach beyond its project.
    pub(crate) async fn check_partner_role(&self) -> PublisherResult<()> {
        self.refuse_wide_configuration(&self.role_graph().await?, "onboards no partner")
    }

    /// Before a subscription: neither the configuration nor the vregion's
    /// roles may let anyone act outside the vregion.
    pub(crate) async fn check_subscription_roles(&self, vregion: &Name, roles: &[String]) -> PublisherResult<()> {
        let graph = self.role_graph().await?;
        self.refuse_wide_configuration(&graph, "takes no subscription")?;
        let errors = Self::vregion_role_errors(&graph, roles);
        if !errors.is_empty() {
            let listed = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            return Err(PublisherError::Conflict(format!(
                "vregion {vregion} takes no subscription until its publisher removes a role: {listed}"
            )));
        }
        Ok(())
    }

    /// `roles` without those that reach beyond the vregion (each left out
    /// is logged): what the mapping may grant.
    pub(crate) fn confined_roles(graph: &RoleGraph, vregion: &Name, roles: &[String]) -> Vec<String> {
        roles
            .iter()
            .filter(|role| match graph.why_cloud_wide(role) {
                None => true,
                Some(why) => {
                    tracing::error!(vregion = %vregion, role = %role, why = %why, "mapping leaves out a cloud-wide role");
                    false
                }
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)], extra: &[&str]) -> RoleGraph {
        RoleGraph::new(
            edges.iter().map(|(a, b)| ((*a).to_string(), (*b).to_string())),
            &extra.iter().map(|r| (*r).to_string()).collect::<Vec<_>>(),
        )
    }

    /// Keystone 30's bootstrap: admin → manager → member → reader.
    const BOOTSTRAP: [(&str, &str); 3] = [("admin", "manager"), ("manager", "member"), ("member", "reader")];

    #[test]
    fn keystone_bootstrap_roles_below_admin_are_confined() {
        let g = graph(&BOOTSTRAP, &[]);
        for role in ["manager", "member", "reader", "load-balancer_member"] {
            assert_eq!(g.why_cloud_wide(role), None, "{role}");
        }
        assert!(g.why_cloud_wide("admin").unwrap().contains("every scope"));
        assert!(g.why_cloud_wide("Admin").is_some(), "oslo.policy compares names case-insensitively");
        assert!(g.why_cloud_wide("service").is_some());
    }

    #[test]
    fn a_role_implying_admin_is_cloud_wide_and_the_chain_is_named() {
        let g = graph(&[("operator", "helper"), ("helper", "admin"), ("admin", "manager"), ("x", "x")], &[]);
        let why = g.why_cloud_wide("operator").unwrap();
        assert!(why.contains("\"operator\" implies \"admin\" (through \"helper\")"), "{why}");
        assert!(g.why_cloud_wide("x").is_none(), "a cycle ends");
    }

    #[test]
    fn configured_roles_are_cloud_wide_and_so_is_what_implies_them() {
        let g = graph(&[("ops", "auditor")], &["Auditor"]);
        assert!(g.why_cloud_wide("auditor").is_some());
        assert!(g.why_cloud_wide("ops").unwrap().contains("implies \"auditor\""));
    }

    #[test]
    fn errors_name_the_field_and_the_role() {
        let g = graph(&BOOTSTRAP, &["auditor"]);
        let errors = Publisher::vregion_role_errors(&g, &["reader".into(), "auditor".into()]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "roles[1]");
        assert!(errors[0].message.contains("\"auditor\""), "{}", errors[0].message);
        assert!(errors[0].message.contains("outside the vregion"));
    }
}
