//! The service catalog of a token, and endpoint lookup.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

use super::error::{Error, Result};

/// An endpoint interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    /// Reachable by end users.
    #[default]
    Public,
    /// Reachable inside the provider's network.
    Internal,
    /// Reserved for administrators.
    Admin,
}

impl Interface {
    /// The name Keystone uses: `public`, `internal`, `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Internal => "internal",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Interface {
    type Err = Error;

    /// Accepts `public`, `internal`, `admin` and the v2 spellings `publicURL`,
    /// `internalURL`, `adminURL` (as `clouds.yaml` and `OS_INTERFACE` allow).
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.to_ascii_lowercase();
        match lower.strip_suffix("url").unwrap_or(&lower) {
            "public" => Ok(Self::Public),
            "internal" => Ok(Self::Internal),
            "admin" => Ok(Self::Admin),
            _ => Err(Error::InvalidInput(format!("unknown endpoint interface {s:?}: use public, internal or admin"))),
        }
    }
}

/// One endpoint of a catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEndpoint {
    /// Endpoint id.
    pub id: String,
    /// Interface.
    pub interface: Interface,
    /// Region id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_id: Option<String>,
    /// The region again, under its legacy key `region` (Keystone sends both;
    /// some clouds only this one). Use [`CatalogEndpoint::region`].
    #[serde(default, rename = "region", skip_serializing_if = "Option::is_none")]
    pub legacy_region: Option<String>,
    /// URL.
    pub url: Url,
}

impl CatalogEndpoint {
    /// The region id, whichever key Keystone sent it under.
    pub fn region(&self) -> Option<&str> {
        self.region_id.as_deref().or(self.legacy_region.as_deref())
    }
}

/// One service of a catalog with its endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogService {
    /// Service id.
    pub id: String,
    /// Service type (`identity`, `compute`, ...).
    #[serde(rename = "type")]
    pub service_type: String,
    /// Service name, when it has one.
    #[serde(default)]
    pub name: Option<String>,
    /// Endpoints.
    #[serde(default)]
    pub endpoints: Vec<CatalogEndpoint>,
}

/// Which endpoint to pick from a catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointFilter {
    /// Service type to look for.
    pub service_type: String,
    /// Interfaces in order of preference.
    pub interfaces: Vec<Interface>,
    /// Region; `None` accepts any region (the first match wins).
    pub region: Option<String>,
}

impl EndpointFilter {
    /// A filter for the public endpoint of `service_type` in any region.
    pub fn new(service_type: impl Into<String>) -> Self {
        Self { service_type: service_type.into(), interfaces: vec![Interface::Public], region: None }
    }

    /// Restricts the filter to one region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Replaces the interface preference list.
    pub fn interfaces(mut self, interfaces: impl IntoIterator<Item = Interface>) -> Self {
        self.interfaces = interfaces.into_iter().collect();
        self
    }
}

/// A token's service catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Catalog {
    /// The services, in Keystone's order.
    pub services: Vec<CatalogService>,
}

impl Catalog {
    /// The services of a type.
    pub fn services_of_type<'a>(&'a self, service_type: &'a str) -> impl Iterator<Item = &'a CatalogService> {
        self.services.iter().filter(move |s| s.service_type == service_type)
    }

    /// The distinct regions of the catalog's endpoints, in first-seen order.
    pub fn regions(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in self.services.iter().flat_map(|s| &s.endpoints).filter_map(CatalogEndpoint::region) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    /// Finds the endpoint matching `filter`: the first interface of the
    /// preference list that has an endpoint wins. The error lists what the
    /// catalog does offer, so a user can fix the service type or region.
    pub fn endpoint(&self, filter: &EndpointFilter) -> Result<&CatalogEndpoint> {
        let candidates: Vec<&CatalogEndpoint> = self
            .services
            .iter()
            .filter(|s| s.service_type == filter.service_type)
            .flat_map(|s| &s.endpoints)
            .filter(|e| filter.region.as_deref().is_none_or(|r| e.region() == Some(r)))
            .collect();
        for interface in &filter.interfaces {
            if let Some(e) = candidates.iter().find(|e| e.interface == *interface) {
                return Ok(e);
            }
        }
        let offered: Vec<String> = self
            .services_of_type(&filter.service_type)
            .flat_map(|s| &s.endpoints)
            .map(|e| format!("{} in {}", e.interface, e.region().unwrap_or("no region")))
            .collect();
        let wanted = filter.interfaces.iter().map(|i| i.as_str()).collect::<Vec<_>>().join("/");
        let region = filter.region.as_deref().map(|r| format!(" in region {r}")).unwrap_or_default();
        Err(Error::NotFound(if offered.is_empty() {
            let types: Vec<&str> = self.services.iter().map(|s| s.service_type.as_str()).collect();
            format!(
                "the catalog has no service of type {:?} (it has: {}); check the service type or the token's scope",
                filter.service_type,
                if types.is_empty() { "nothing, the token is unscoped?".to_owned() } else { types.join(", ") }
            )
        } else {
            format!(
                "no {wanted} endpoint for service type {:?}{region}; the catalog offers: {}",
                filter.service_type,
                offered.join(", ")
            )
        }))
    }

    /// Shortcut for [`Catalog::endpoint`] returning the URL.
    pub fn url(&self, filter: &EndpointFilter) -> Result<&Url> {
        self.endpoint(filter).map(|e| &e.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        serde_json::from_value(serde_json::json!([
            {"id": "s1", "type": "identity", "name": "keystone", "endpoints": [
                {"id": "e1", "interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": "http://a/v3"},
                {"id": "e2", "interface": "internal", "region_id": "RegionOne", "url": "http://a-int/v3"},
                {"id": "e3", "interface": "public", "region": "RegionTwo", "url": "http://b/v3"}
            ]},
            {"id": "s2", "type": "compute", "endpoints": [
                {"id": "e4", "interface": "admin", "region_id": "RegionTwo", "url": "http://nova-admin/"}
            ]}
        ]))
        .unwrap()
    }

    #[test]
    fn lookup_by_type_interface_region() {
        let c = catalog();
        assert_eq!(c.url(&EndpointFilter::new("identity")).unwrap().as_str(), "http://a/v3");
        assert_eq!(c.url(&EndpointFilter::new("identity").region("RegionTwo")).unwrap().as_str(), "http://b/v3");
        let f = EndpointFilter::new("identity").interfaces([Interface::Internal, Interface::Public]);
        assert_eq!(c.url(&f).unwrap().as_str(), "http://a-int/v3");
        let f = f.region("RegionTwo");
        assert_eq!(c.url(&f).unwrap().as_str(), "http://b/v3");
        assert_eq!(c.regions(), vec!["RegionOne", "RegionTwo"]);
    }

    #[test]
    fn missing_endpoint_explains_what_exists() {
        let c = catalog();
        let e = c.endpoint(&EndpointFilter::new("compute")).unwrap_err();
        assert!(e.to_string().contains("the catalog offers: admin in RegionTwo"), "{e}");
        let e = c.endpoint(&EndpointFilter::new("volumev3")).unwrap_err();
        assert!(e.to_string().contains("it has: identity, compute"), "{e}");
        assert!(e.is_not_found());
    }

    #[test]
    fn interface_spellings() {
        assert_eq!("publicURL".parse::<Interface>().unwrap(), Interface::Public);
        assert_eq!("internal".parse::<Interface>().unwrap(), Interface::Internal);
        assert_eq!("AdminURL".parse::<Interface>().unwrap(), Interface::Admin);
        assert!("private".parse::<Interface>().is_err());
    }
}
