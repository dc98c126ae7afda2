//! The solutions the sandbox organisation publishes, read from a JSON file in the repo.

use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::Path};

use crate::error::SandboxError;

/// The catalog shipped with the repository, used when no `--catalog` is given.
pub const DEFAULT_CATALOG: &str = include_str!("../catalog/catalog.json");

#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    pub services: BTreeMap<String, ServiceDef>,
    pub solutions: Vec<SolutionDef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServiceDef {
    pub title: String,
    /// File name under the sandbox's `/icons/`.
    pub icon: String,
    pub kind: AuthKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// Consent screen with an Allow button.
    Oauth,
    /// A form asking for an API key.
    ApiKey,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SolutionDef {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Icon file name; published as the `image` custom field with an absolute URL.
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub force_unique: bool,
    #[serde(default)]
    pub disable_auto_enable: bool,
    #[serde(default = "published_by_default")]
    pub published: bool,
    #[serde(default)]
    pub auth_slots: Vec<AuthSlotDef>,
    #[serde(default)]
    pub config_slots: Vec<ConfigSlotDef>,
    #[serde(default)]
    pub workflows: Vec<String>,
}

fn published_by_default() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthSlotDef {
    pub external_id: String,
    pub title: String,
    pub service: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigSlotDef {
    pub external_id: String,
    pub title: String,
    /// JSON text, as Tray's `Json` scalar carries it.
    pub default_value: String,
}

impl Catalog {
    pub fn load(path: Option<&Path>) -> Result<Self, SandboxError> {
        let text = match path {
            Some(path) => {
                std::fs::read_to_string(path).map_err(|source| SandboxError::Catalog {
                    path: path.display().to_string(),
                    reason: source.to_string(),
                })?
            }
            None => DEFAULT_CATALOG.to_owned(),
        };
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, SandboxError> {
        let catalog: Catalog = serde_json::from_str(text).map_err(|err| SandboxError::Catalog {
            path: "catalog".into(),
            reason: err.to_string(),
        })?;
        catalog.validate()?;
        Ok(catalog)
    }

    /// Reject a catalog whose slots name unknown services or whose defaults are not JSON,
    /// so a typo shows up at start-up rather than in a dialog.
    fn validate(&self) -> Result<(), SandboxError> {
        for solution in &self.solutions {
            for slot in &solution.auth_slots {
                if !self.services.contains_key(&slot.service) {
                    return Err(SandboxError::Catalog {
                        path: solution.title.clone(),
                        reason: format!(
                            "auth slot {} names unknown service {}",
                            slot.external_id, slot.service
                        ),
                    });
                }
            }
            for slot in &solution.config_slots {
                if serde_json::from_str::<serde_json::Value>(&slot.default_value).is_err() {
                    return Err(SandboxError::Catalog {
                        path: solution.title.clone(),
                        reason: format!("config slot {} default is not JSON", slot.external_id),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn solution(&self, id: &str) -> Option<&SolutionDef> {
        self.solutions.iter().find(|solution| solution.id == id)
    }

    pub fn published(&self) -> impl Iterator<Item = &SolutionDef> {
        self.solutions.iter().filter(|solution| solution.published)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_catalog_is_valid_and_varied() {
        let catalog = Catalog::load(None).expect("shipped catalog parses");
        let published: Vec<_> = catalog.published().collect();
        assert!(published.len() >= 8);
        assert!(published.iter().any(|s| s.auth_slots.len() == 2));
        assert!(published.iter().any(|s| s.force_unique));
        assert!(published.iter().any(|s| s.disable_auto_enable));
        assert!(catalog.solutions.iter().any(|s| !s.published));
        assert!(published.iter().any(|s| s.auth_slots.len() == 1));
        assert!(published.iter().all(|s| !s.workflows.is_empty()));
        let defaults: Vec<serde_json::Value> = published
            .iter()
            .flat_map(|s| &s.config_slots)
            .map(|slot| serde_json::from_str(&slot.default_value).expect("JSON default"))
            .collect();
        assert!(defaults.iter().any(serde_json::Value::is_string));
        assert!(defaults.iter().any(serde_json::Value::is_number));
        assert!(defaults.iter().any(serde_json::Value::is_boolean));
        assert!(defaults.iter().any(serde_json::Value::is_object));
    }

    #[test]
    fn unknown_service_is_rejected() {
        let text = r#"{"services":{},"solutions":[{"id":"1","title":"T","authSlots":[{"externalId":"a","title":"A","service":"nope"}]}]}"#;
        let err = Catalog::parse(text).expect_err("unknown service");
        assert!(err.to_string().contains("unknown service nope"));
    }
}
