//! [`Name`]: the identifier of vregions, partners and subscription aliases.
//!
//! Names end up in Keystone object names and ids (domains, identity
//! providers, mappings, regions), in URLs and in Shibboleth file names, so
//! they are restricted to what is safe in all of them: 1 to 63 characters,
//! lowercase ASCII letters, digits and `-`, starting with a letter and not
//! ending with `-` (a DNS label).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use super::ValidationError;

/// A validated name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Name(String);

impl Name {
    /// Longest accepted name.
    pub const MAX_LEN: usize = 63;

    /// Validates `value` as the field `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self, ValidationError> {
        let bad = |why: &str| {
            ValidationError::new(
                field,
                format!(
                    "{value:?} {why}; use 1 to {} lowercase letters, digits and '-', starting with a letter \
                     (e.g. \"lisbon-1\")",
                    Self::MAX_LEN
                ),
            )
        };
        if value.is_empty() {
            return Err(bad("is empty"));
        }
        if value.len() > Self::MAX_LEN {
            return Err(bad("is too long"));
        }
        if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(bad("does not start with a lowercase letter"));
        }
        if value.ends_with('-') {
            return Err(bad("ends with '-'"));
        }
        if let Some(c) = value.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
            return Err(bad(&format!("contains {c:?}")));
        }
        Ok(Self(value.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl FromStr for Name {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse("name", s)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse("name", &s).map_err(serde::de::Error::custom)
    }
}

/// OpenAPI: a string with the DNS-label rule as its pattern.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Name {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(Self::MAX_LEN))
            .pattern(Some("^[a-z]([a-z0-9-]*[a-z0-9])?$"))
            .description(Some(
                "A name: 1 to 63 lowercase letters, digits and '-', starting with a letter and not ending with '-' \
                 (a DNS label)",
            ))
            .examples(["lisbon-1"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Name {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels() {
        for ok in ["a", "lisbon-1", "vr-2026-bdaas", &"a".repeat(63)] {
            assert_eq!(Name::parse("name", ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_with_the_reason() {
        for (bad, why) in [
            ("", "is empty"),
            ("1abc", "does not start with a lowercase letter"),
            ("Lisbon", "does not start with a lowercase letter"),
            ("abc-", "ends with '-'"),
            ("a_b", "contains '_'"),
            ("a/b", "contains '/'"),
            ("a b", "contains ' '"),
        ] {
            let e = Name::parse("vregion.name", bad).unwrap_err();
            assert_eq!(e.field, "vregion.name");
            assert!(e.message.contains(why), "{bad:?}: {e}");
            assert!(e.message.contains("lowercase letters, digits and '-'"), "{e}");
        }
        assert!(Name::parse("n", &"a".repeat(64)).unwrap_err().message.contains("too long"));
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<Name>("\"ok-name\"").is_ok());
        let e = serde_json::from_str::<Name>("\"Bad Name\"").unwrap_err();
        assert!(e.to_string().contains("does not start with a lowercase letter"), "{e}");
    }
}
