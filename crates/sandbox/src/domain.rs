//! Tray's rules shared by the GraphQL API and the dialog: solution versions, value
//! validation, the early-enable hazard.

use std::time::Duration;

use crate::{
    catalog::{AuthKind, ConfigSlotDef, ServiceDef, SolutionDef},
    control::bump,
    error::SandboxError,
    store::{now_ms, InstanceRow, StoredAuthValue, StoredConfigValue, VersionNeeds, VersionRow},
    SandboxState,
};

/// Tray's documented minimum wait between creating an instance and enabling it.
pub const ENABLE_AFTER_CREATE: Duration = Duration::from_secs(2);

/// Version flags as `SolutionInstanceSolutionVersionFlags` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VersionFlags {
    pub has_newer_version: bool,
    pub requires_user_input: bool,
    pub requires_system_input: bool,
}

impl SandboxState {
    pub fn published_solution(&self, id: &str) -> Result<&SolutionDef, SandboxError> {
        self.catalog
            .solution(id)
            .filter(|solution| solution.published)
            .ok_or_else(|| SandboxError::NotFound(format!("Solution {id} not found")))
    }

    pub fn service(&self, key: &str) -> Result<&ServiceDef, SandboxError> {
        self.catalog
            .services
            .get(key)
            .ok_or_else(|| SandboxError::NotFound(format!("Service {key} not found")))
    }

    /// The solution as of `version` (1 is the catalog's; later ones add slots).
    pub fn solution_at(
        &self,
        base: &SolutionDef,
        versions: &[VersionRow],
        version: i64,
    ) -> SolutionDef {
        let mut solution = base.clone();
        for published in versions.iter().filter(|v| v.version <= version) {
            solution
                .auth_slots
                .extend(published.auth_slots.iter().cloned());
            solution
                .config_slots
                .extend(published.config_slots.iter().cloned());
        }
        solution
    }

    pub async fn latest_solution(
        &self,
        base: &SolutionDef,
    ) -> Result<(SolutionDef, i64), SandboxError> {
        let versions = self.store.versions(&base.id).await?;
        let latest = latest_version(&versions);
        Ok((self.solution_at(base, &versions, latest), latest))
    }

    /// Apply a pending lazy update if it is due, then report the instance's flags.
    pub async fn refresh_versions(
        &self,
        instance: &mut InstanceRow,
    ) -> Result<VersionFlags, SandboxError> {
        let versions = self.store.versions(&instance.solution_id).await?;
        let newer: Vec<&VersionRow> = versions
            .iter()
            .filter(|v| v.version > instance.version)
            .collect();
        let lazy_only = newer.iter().all(|v| v.needs == VersionNeeds::None);
        let due = newer
            .iter()
            .map(|v| v.published_ms)
            .max()
            .is_some_and(|at| at + self.lazy_update_delay.as_millis() as i64 <= now_ms());
        if !newer.is_empty() && lazy_only && due {
            // Nobody is asked: the new version's settings start from their defaults.
            let added = newer.iter().flat_map(|v| &v.config_slots);
            fill_defaults(&mut instance.config_values, added);
            instance.version = latest_version(&versions);
            self.store.save_instance(instance).await?;
            tracing::info!(instance = %instance.id, version = instance.version, "lazy update applied");
            return Ok(VersionFlags::default());
        }
        Ok(VersionFlags {
            has_newer_version: !newer.is_empty(),
            requires_user_input: newer.iter().any(|v| v.needs == VersionNeeds::User),
            requires_system_input: newer.iter().any(|v| v.needs == VersionNeeds::System),
        })
    }

    /// Check and merge auth values into `current`: each slot must exist, each auth must
    /// be the owner's and of the slot's service.
    pub async fn merge_auth_values(
        &self,
        solution: &SolutionDef,
        owner: &str,
        current: &mut Vec<StoredAuthValue>,
        incoming: Vec<StoredAuthValue>,
    ) -> Result<(), SandboxError> {
        for value in incoming {
            let slot = solution
                .auth_slots
                .iter()
                .find(|slot| slot.external_id == value.external_id)
                .ok_or_else(|| {
                    SandboxError::Invalid(format!(
                        "Solution \"{}\" has no auth slot \"{}\"",
                        solution.title, value.external_id
                    ))
                })?;
            let auth = self
                .store
                .auth(&value.auth_id)
                .await?
                .filter(|auth| auth.user_id == owner)
                .ok_or_else(|| {
                    SandboxError::Invalid(format!(
                        "Authentication {} not found for this user",
                        value.auth_id
                    ))
                })?;
            if auth.service != slot.service {
                return Err(SandboxError::Invalid(format!(
                    "Authentication {} is for {}, but auth slot \"{}\" needs {}",
                    auth.id, auth.service, slot.external_id, slot.service
                )));
            }
            current.retain(|existing| existing.external_id != value.external_id);
            current.push(value);
        }
        Ok(())
    }

    pub fn merge_config_values(
        &self,
        solution: &SolutionDef,
        current: &mut Vec<StoredConfigValue>,
        incoming: Vec<StoredConfigValue>,
    ) -> Result<(), SandboxError> {
        for value in incoming {
            if !solution
                .config_slots
                .iter()
                .any(|slot| slot.external_id == value.external_id)
            {
                return Err(SandboxError::Invalid(format!(
                    "Solution \"{}\" has no config slot \"{}\"",
                    solution.title, value.external_id
                )));
            }
            if let Some(text) = &value.value {
                if serde_json::from_str::<serde_json::Value>(text).is_err() {
                    return Err(SandboxError::Invalid(format!(
                        "Config value for \"{}\" is not JSON text: {text} (JSON-encode it, e.g. \"\\\"text\\\"\")",
                        value.external_id
                    )));
                }
            }
            current.retain(|existing| existing.external_id != value.external_id);
            current.push(value);
        }
        Ok(())
    }

    /// Slots of `solution` that have no value in `instance`.
    pub fn missing_values(&self, solution: &SolutionDef, instance: &InstanceRow) -> Vec<String> {
        let missing_auth = solution.auth_slots.iter().filter(|slot| {
            !instance
                .auth_values
                .iter()
                .any(|value| value.external_id == slot.external_id)
        });
        let missing_config = solution.config_slots.iter().filter(|slot| {
            !instance
                .config_values
                .iter()
                .any(|value| value.external_id == slot.external_id && value.value.is_some())
        });
        missing_auth
            .map(|slot| slot.external_id.clone())
            .chain(missing_config.map(|slot| slot.external_id.clone()))
            .collect()
    }

    /// Enabling within 2 s of creation is Tray's documented hazard: the instance ends up
    /// enabled but its triggers never get a working URL.
    pub fn note_enable(&self, instance: &mut InstanceRow) {
        let age_ms = now_ms() - instance.created_ms;
        if age_ms < ENABLE_AFTER_CREATE.as_millis() as i64 {
            instance.trigger_broken = true;
            bump(&self.counters.early_enables);
            tracing::warn!(
                instance = %instance.id,
                age_ms,
                "instance enabled less than 2 s after creation: its workflows have no working trigger URL"
            );
        }
    }

    pub fn auth_type(&self, service: &ServiceDef) -> &'static str {
        match service.kind {
            AuthKind::Oauth => "oauth",
            AuthKind::ApiKey => "api_key",
        }
    }
}

pub fn latest_version(versions: &[VersionRow]) -> i64 {
    versions.last().map_or(1, |v| v.version)
}

/// Every slot without a value gets its default (a new instance's, a lazy update's).
pub fn fill_defaults<'a>(
    values: &mut Vec<StoredConfigValue>,
    slots: impl IntoIterator<Item = &'a ConfigSlotDef>,
) {
    for slot in slots {
        if !values.iter().any(|v| v.external_id == slot.external_id) {
            values.push(StoredConfigValue {
                external_id: slot.external_id.clone(),
                value: Some(slot.default_value.clone()),
            });
        }
    }
}
