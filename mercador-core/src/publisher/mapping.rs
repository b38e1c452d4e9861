//! The mapping rules the publisher writes (never the subscriber).
//!
//! Keystone A's SAML assertion carries `openstack_user`,
//! `openstack_user_domain`, `openstack_project`, `openstack_project_domain`
//! and `openstack_roles` (the roles of the project-scoped token it was made
//! from). The rules place a federated user in its partner's users' domain
//! (`mercador-k2k-<partner>`, the identity provider's domain: never a vregion
//! domain, so retiring one vregion leaves the users of the others alone), in
//! the project of the same name as its project at the subscriber in each
//! vregion domain, with the roles it holds there that the vregion allows
//! (`roles at A ∩ vregion roles`); no project outside the vregion domains,
//! never a role the vregion does not list.
//!
//! Keystone evaluates every rule and keeps the projects of the **last**
//! matching one (verified on Keystone 30), and a rule can only require roles,
//! not intersect them. So there is one rule per non-empty subset S of the
//! allowed roles, requiring every role of S, ordered by size: the last rule
//! that matches is the one for exactly `roles at A ∩ allowed roles`.
//!
//! Names stay unambiguous: users are `name@domain` of the subscriber (two
//! users of A with the same name in two domains stay two users at B), and a
//! project of A outside its `Default` domain becomes `project@domain`. When a
//! vregion is shared by several partners (`max_subscriptions > 1`), project
//! names are prefixed with the partner's name so partners never share a
//! project. Schema version 3.0 makes Keystone remove, at each login, role
//! assignments the mapping no longer grants.
//!
//! One mapping serves all of a partner's subscriptions at this publisher
//! (Keystone allows one identity provider per remote id), so a rule's
//! projects span every vregion of the partner.

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// The mapping's schema version.
pub const SCHEMA_VERSION: &str = "3.0";

/// At most this many distinct roles across one partner's vregions (the
/// mapping has two rules per subset of them).
pub const MAX_MAPPED_ROLES: usize = 8;

/// The subscriber's domain whose projects keep their bare name.
pub const SUBSCRIBER_DEFAULT_DOMAIN: &str = "Default";

/// One vregion the mapping places users in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedVRegion {
    /// Keystone B id of the vregion domain.
    pub domain_id: String,
    /// Roles federated users may receive.
    pub roles: Vec<String>,
    /// Prefix of project names (`<partner>-` for shared vregions).
    pub project_prefix: String,
}

/// The rules for a partner's vregions, its federated users living in
/// `user_domain_id` (its identity provider's domain), or an error message
/// when they allow more than [`MAX_MAPPED_ROLES`] distinct roles together.
pub fn rules(user_domain_id: &str, vregions: &[MappedVRegion]) -> Result<Vec<Value>, String> {
    let all: BTreeSet<&str> = vregions.iter().flat_map(|v| v.roles.iter().map(String::as_str)).collect();
    let all: Vec<&str> = all.into_iter().collect();
    if all.len() > MAX_MAPPED_ROLES {
        return Err(format!(
            "the partner's vregions at this publisher allow {} distinct roles together ({}); at most \
             {MAX_MAPPED_ROLES} are supported",
            all.len(),
            all.join(", ")
        ));
    }
    let mut subsets: Vec<Vec<&str>> = (1u32..(1 << all.len()))
        .map(|bits| all.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, r)| *r).collect())
        .collect();
    subsets.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));

    let mut rules = Vec::new();
    for subset in &subsets {
        for default_domain in [true, false] {
            let name = if default_domain { "{2}" } else { "{2}@{3}" };
            let projects: Vec<Value> = vregions
                .iter()
                .filter_map(|v| {
                    let roles: Vec<Value> = subset
                        .iter()
                        .filter(|r| v.roles.iter().any(|a| a == *r))
                        .map(|r| json!({ "name": r }))
                        .collect();
                    (!roles.is_empty()).then(|| {
                        json!({
                            "name": format!("{}{name}", v.project_prefix),
                            "domain": { "id": v.domain_id },
                            "roles": roles,
                        })
                    })
                })
                .collect();
            if projects.is_empty() {
                continue;
            }
            let domain_condition = if default_domain {
                json!({ "type": "openstack_project_domain", "any_one_of": [SUBSCRIBER_DEFAULT_DOMAIN] })
            } else {
                json!({ "type": "openstack_project_domain", "not_any_of": [SUBSCRIBER_DEFAULT_DOMAIN] })
            };
            let mut remote = vec![
                json!({ "type": "openstack_user" }),
                json!({ "type": "openstack_user_domain" }),
                json!({ "type": "openstack_project" }),
                json!({ "type": "openstack_project_domain" }),
                domain_condition,
            ];
            remote.extend(subset.iter().map(|r| json!({ "type": "openstack_roles", "any_one_of": [r] })));
            rules.push(json!({
                "local": [
                    // Schema 2.0 and later need the user's domain spelled out.
                    { "user": { "name": "{0}@{1}", "domain": { "id": user_domain_id } } },
                    { "projects": projects },
                ],
                "remote": remote,
            }));
        }
    }
    Ok(rules)
}

/// The project name a subscriber's project gets in a vregion.
pub fn project_name(prefix: &str, project: &str, project_domain: &str) -> String {
    if project_domain == SUBSCRIBER_DEFAULT_DOMAIN {
        format!("{prefix}{project}")
    } else {
        format!("{prefix}{project}@{project_domain}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vregion(domain: &str, roles: &[&str], prefix: &str) -> MappedVRegion {
        MappedVRegion {
            domain_id: domain.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            project_prefix: prefix.into(),
        }
    }

    /// Keystone's semantics, simplified: the projects of the last rule whose
    /// role conditions the user's roles satisfy.
    fn granted(rules: &[Value], user_roles: &[&str], default_domain: bool) -> Vec<(String, String, Vec<String>)> {
        let matches = |rule: &Value| {
            rule["remote"].as_array().unwrap().iter().all(|req| match req["type"].as_str().unwrap() {
                "openstack_roles" => user_roles.contains(&req["any_one_of"][0].as_str().unwrap()),
                "openstack_project_domain" if req.get("any_one_of").is_some() => default_domain,
                "openstack_project_domain" if req.get("not_any_of").is_some() => !default_domain,
                _ => true,
            })
        };
        let Some(rule) = rules.iter().rfind(|r| matches(r)) else { return vec![] };
        rule["local"][1]["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["domain"]["id"].as_str().unwrap().to_string(),
                    p["roles"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn the_last_matching_rule_grants_exactly_the_intersection() {
        let rules = rules("d1", &[vregion("d1", &["member", "reader"], "")]).unwrap();
        assert_eq!(rules.len(), 6, "3 subsets x 2 domain variants");
        assert_eq!(
            granted(&rules, &["member", "reader", "admin"], true),
            [("{2}".into(), "d1".into(), vec!["member".into(), "reader".into()])]
        );
        assert_eq!(granted(&rules, &["reader"], true)[0].2, ["reader"]);
        assert_eq!(granted(&rules, &["admin"], true), []);
        assert_eq!(granted(&rules, &["member"], false)[0].0, "{2}@{3}");
        // admin never appears in any rule.
        assert!(!serde_json::to_string(&rules).unwrap().contains("\"admin\""));
    }

    #[test]
    fn several_vregions_each_get_their_own_roles() {
        let rules = rules("d1", &[vregion("d1", &["member"], ""), vregion("d2", &["reader"], "acme-")]).unwrap();
        let got = granted(&rules, &["member", "reader"], true);
        assert_eq!(
            got,
            [
                ("{2}".into(), "d1".into(), vec!["member".into()]),
                ("acme-{2}".into(), "d2".into(), vec!["reader".into()])
            ]
        );
        let got = granted(&rules, &["reader"], true);
        assert_eq!(got, [("acme-{2}".into(), "d2".into(), vec!["reader".into()])]);
    }

    #[test]
    fn too_many_roles_are_refused() {
        let roles: Vec<String> = (0..9).map(|i| format!("r{i}")).collect();
        let refs: Vec<&str> = roles.iter().map(String::as_str).collect();
        assert!(rules("d", &[vregion("d", &refs, "")]).unwrap_err().contains("9 distinct roles"));
        assert_eq!(project_name("acme-", "demo", "Default"), "acme-demo");
        assert_eq!(project_name("", "demo", "corp"), "demo@corp");
    }
}
