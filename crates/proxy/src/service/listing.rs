//! The catalog: the solutions on offer merged with the caller's instances and their
//! status, with host values and system upgrades applied on the way.

use super::*;

/// A system upgrade Tray refused is tried again after this (a host may add the missing
/// value to SYSTEM_VALUES_FILE and restart, which clears it at once).
const SYSTEM_UPGRADE_RETRY: Duration = Duration::from_secs(10 * 60);

/// Whether any of a user's instances waits for them on a new version.
#[derive(Debug, PartialEq, Eq)]
enum Awaiting {
    No,
    /// Since before the last listing.
    Still,
    /// One started to since the last listing.
    Newly,
}

/// The widget's view of `instance`, with the auths kept for its upgrade shown as attached
/// (the user has authorized those slots; Tray receives them with the upgrade).
fn to_instance(
    instance: &SolutionInstance,
    expiring: &HashSet<String>,
    stored: Option<&StoredInstance>,
    upgrade_auths: &[PendingAuth],
    config: &crate::Config,
) -> Instance {
    // The host's settings are not the user's to see, nor to be missing.
    let users = |slot: &str| !config.host_supplies(&instance.solution.id, slot);
    let kept: Vec<&PendingAuth> = upgrade_auths
        .iter()
        .filter(|auth| auth.instance_id == instance.id)
        .collect();
    let auth_values: Vec<wire::AuthValue> = instance
        .auth_values
        .iter()
        .filter(|auth| !kept.iter().any(|k| k.slot == auth.external_id))
        .map(|auth| (&auth.external_id, &auth.auth_id))
        .chain(kept.iter().map(|auth| (&auth.slot, &auth.auth_id)))
        .map(|(slot, auth_id)| wire::AuthValue {
            external_id: slot.clone(),
            auth_id: auth_id.clone(),
            expiring: expiring.contains(auth_id),
        })
        .collect();
    let config_values: Vec<wire::ConfigValue> = instance
        .config_values
        .iter()
        .filter(|config| users(&config.external_id))
        .map(|config| wire::ConfigValue {
            external_id: config.external_id.clone(),
            value: config.value.clone(),
        })
        .collect();
    // Slots of the instance's own version: a newer version's slots are the upgrade's
    // business (NeedsUpdate), not a sign the instance is still being set up.
    let solution = &instance.solution;
    let missing_auth = solution.auth_slots.iter().any(|slot| {
        !auth_values
            .iter()
            .any(|a| a.external_id == slot.external_id)
    });
    let missing_config = solution.config_slots.iter().any(|slot| {
        users(&slot.external_id)
            && !config_values
                .iter()
                .any(|c| c.external_id == slot.external_id && c.value.is_some())
    });
    // Never enabled yet: the user is still setting it up (Disabled means turned off).
    // A solution the user enables by hand is set up once its values are in and the user
    // saw its settings: it then waits as Disabled, not as "setting up" forever.
    let setting_up = missing_auth
        || missing_config
        || (!instance.enabled
            && !stored.is_some_and(|s| s.ever_enabled)
            && (!solution.flag("disableAutoEnable")
                || stored.is_some_and(|s| s.config_unconfirmed)));
    // What blocks the user comes first: an update they must make (Settings of the new
    // version), then a setup to finish (its row offers Finish setting up, not an Enable
    // Tray refuses); an expiring sign-in shows on its own Reconnect button meanwhile. (A
    // setup never finished that a new version awaits is both: its row offers Finish
    // setting up, as `settingsConfirmed` is false.)
    let status = if instance
        .solution_version_flags
        .requires_user_input_to_update_version
    {
        Status::NeedsUpdate
    } else if setting_up && !instance.enabled {
        Status::SettingUp
    } else if auth_values.iter().any(|a| a.expiring) {
        Status::AuthExpiring
    } else if setting_up {
        Status::SettingUp
    } else if instance.enabled {
        Status::Connected
    } else {
        Status::Disabled
    };
    Instance {
        id: instance.id.clone(),
        solution_id: instance.solution.id.clone(),
        name: instance.name.clone(),
        enabled: instance.enabled,
        status,
        auth_values,
        config_values,
        created_at: stored.map_or(0, |s| s.created_at),
        settings_confirmed: stored.is_some_and(|s| !s.config_unconfirmed),
    }
}

impl Marketplace {
    /// The catalog merged with the caller's instances: one Tray request when warm.
    pub async fn catalog(&self, session: &Session) -> Result<Vec<Integration>, ProxyError> {
        // Shown attached once Tray takes them; but one that another request is attaching
        // (a reload while its sign-in was being saved to a slow Tray) is that request's
        // to settle, and waiting for it would hold the whole catalog. (Not cut short
        // otherwise: an attach dropped mid-call could land after a newer one.)
        self.attach_pending(session, Wait::No).await;
        let mut instances = self
            .tray
            .list_instances(&session.token, Instances::All)
            .await?;
        self.upgrade_for_system(session, &mut instances).await;
        self.sync_host_values(session, &mut instances).await;
        let max_age = match self.awaiting_update(&instances).await {
            Awaiting::Newly => Duration::ZERO,
            Awaiting::Still => self.catalog_ttl.min(CATALOG_TTL_AWAITING_UPDATE),
            Awaiting::No => self.catalog_ttl,
        };
        let solutions = self.solutions_within(max_age).await?;
        let stored = self.stored_by_id(&session.external_user_id).await?;
        let upgrade_auths = self
            .db
            .auths(AuthList::Upgrade, Some(&session.external_user_id))
            .await?;
        let expiring = self.expiring_of(&instances, &upgrade_auths).await?;
        let mut integrations: Vec<Integration> = solutions
            .iter()
            .map(|solution| to_integration(solution, &self.config))
            .collect();
        for instance in &instances {
            self.adopt(session, instance, &stored).await?;
            let shown = to_instance(
                instance,
                &expiring,
                stored.get(&instance.id),
                &upgrade_auths,
                &self.config,
            );
            match integrations
                .iter_mut()
                .find(|integration| integration.solution_id == instance.solution.id)
            {
                Some(integration) => integration.instances.push(shown),
                // No longer published (or filtered out by tags) but still running: listed
                // from Tray's own view of it, so the user can still see, disable or delete it.
                None => {
                    let mut integration = to_integration(&instance.solution, &self.config);
                    // Not offered any more: no new instance can be made from it, so the
                    // widget must not offer "Add another".
                    integration.force_unique = true;
                    integration.instances.push(shown);
                    integrations.push(integration);
                }
            }
        }
        Ok(integrations)
    }

    /// Notes which of the user's instances wait for their input on a new version.
    async fn awaiting_update(&self, instances: &[SolutionInstance]) -> Awaiting {
        let mut known = self.awaiting_update.lock().await;
        let mut result = Awaiting::No;
        for instance in instances {
            if instance
                .solution_version_flags
                .requires_user_input_to_update_version
            {
                let newly = known.insert(instance.id.clone());
                if newly {
                    result = Awaiting::Newly;
                } else if result == Awaiting::No {
                    result = Awaiting::Still;
                }
            } else {
                known.remove(&instance.id);
            }
        }
        result
    }

    /// New versions that need only the host's input: each such instance is upgraded with
    /// every slot of that version filled explicitly (Tray is not relied on to fill new
    /// slots): config from the instance's own value, else the host's system value, else
    /// the slot's default; the instance's auths for the slots the version still has.
    /// The latest solutions are fetched once for the whole listing. Best effort: on
    /// failure an instance is shown as it is, and a refusal is tried again only after
    /// `SYSTEM_UPGRADE_RETRY` (each try costs Tray requests).
    async fn upgrade_for_system(&self, session: &Session, instances: &mut [SolutionInstance]) {
        let mut due = Vec::new();
        {
            let failed = self.system_upgrade_failed.lock().await;
            for (at, instance) in instances.iter().enumerate() {
                let flags = &instance.solution_version_flags;
                let backed_off = failed
                    .get(&instance.id)
                    .is_some_and(|when| when.elapsed() < SYSTEM_UPGRADE_RETRY);
                if flags.requires_system_input_to_update_version
                    && !flags.requires_user_input_to_update_version
                    && !backed_off
                {
                    due.push(at);
                }
            }
        }
        if due.is_empty() {
            return;
        }
        let latest = match self.solutions_within(Duration::ZERO).await {
            Ok(latest) => latest,
            Err(err) => {
                tracing::warn!(error = %err, "no system upgrades: the catalog could not be read");
                return;
            }
        };
        for at in due {
            let instance = &mut instances[at];
            // A solution no longer offered is upgraded by what Tray says of it.
            let solution = latest
                .iter()
                .find(|solution| solution.id == instance.solution.id)
                .unwrap_or(&instance.solution);
            let input = self.system_upgrade_input(instance, solution);
            match self.tray.upgrade_instance(&session.token, input).await {
                Ok(upgraded) => {
                    self.system_upgrade_failed.lock().await.remove(&instance.id);
                    *instance = upgraded;
                }
                Err(err) => {
                    tracing::warn!(instance = %instance.id, error = %err, "system upgrade failed (a setting SYSTEM_VALUES_FILE lacks, or a service the user has not authorized yet); tried again later");
                    // A failing Tray is asked again on the next listing; a refusal waits.
                    if !err.is_transient() {
                        self.system_upgrade_failed
                            .lock()
                            .await
                            .insert(instance.id.clone(), Instant::now());
                    }
                }
            }
        }
    }

    fn system_upgrade_input(&self, instance: &SolutionInstance, latest: &Solution) -> Value {
        let config_values: Vec<Value> = latest
            .config_slots
            .iter()
            .map(|slot| {
                let own = instance
                    .config_values
                    .iter()
                    .find(|value| value.external_id == slot.external_id)
                    .and_then(|value| value.value.clone());
                // Config values travel as JSON text. The host's value, where it gives
                // one, is its current one (it may have changed since the last version).
                let value = self
                    .config
                    .system_value(&latest.id, &slot.external_id)
                    .map(Value::to_string)
                    .or(own)
                    .unwrap_or_else(|| slot.default_value.clone());
                json!({ "externalId": slot.external_id, "value": value })
            })
            .collect();
        let auth_values: Vec<Value> = instance
            .auth_values
            .iter()
            .filter(|auth| {
                latest
                    .auth_slots
                    .iter()
                    .any(|slot| slot.external_id == auth.external_id)
            })
            .map(|auth| json!({ "externalId": auth.external_id, "authId": auth.auth_id }))
            .collect();
        json!({
            "solutionInstanceId": instance.id,
            "authValues": auth_values,
            "configValues": config_values,
        })
    }

    /// Instances made elsewhere (before this database existed, or by a create whose answer
    /// was lost) become known as the user's, with Tray's creation time: one made a moment
    /// ago must still wait out the 2 s before it is enabled.
    async fn adopt(
        &self,
        session: &Session,
        instance: &SolutionInstance,
        stored: &HashMap<String, StoredInstance>,
    ) -> Result<(), ProxyError> {
        if stored.contains_key(&instance.id) {
            return Ok(());
        }
        self.db
            .record_instance(
                &session.external_user_id,
                &format!("{RESERVED_KEY_PREFIX}adopted:{}", instance.id),
                &StoredInstance {
                    id: instance.id.clone(),
                    owner: session.external_user_id.clone(),
                    solution_id: instance.solution.id.clone(),
                    created_at: adopted_created_at(created_ms(instance), self.db.clock_ms().await?),
                    ever_enabled: instance.enabled,
                    // Nobody has shown these settings to the user: a setup resumed from
                    // here shows them first.
                    config_unconfirmed: !instance.enabled
                        && self.has_user_settings(&instance.solution),
                },
            )
            .await
    }

    async fn stored_by_id(
        &self,
        owner: &str,
    ) -> Result<HashMap<String, StoredInstance>, ProxyError> {
        Ok(self
            .db
            .instances_of(owner)
            .await?
            .into_iter()
            .map(|stored| (stored.id.clone(), stored))
            .collect())
    }

    /// The instance if the caller owns it; 404 otherwise, whoever owns it.
    pub async fn owned(&self, session: &Session, id: &str) -> Result<StoredInstance, ProxyError> {
        self.db
            .owned_instance(&session.external_user_id, id)
            .await?
            .ok_or_else(|| ProxyError::NotFound(format!("no instance {id}")))
    }

    pub async fn instance(&self, session: &Session, id: &str) -> Result<Instance, ProxyError> {
        let stored = self.owned(session, id).await?;
        let mut tray_instance = self.tray_instance(session, id).await?;
        self.upgrade_for_system(session, std::slice::from_mut(&mut tray_instance))
            .await;
        self.sync_host_values(session, std::slice::from_mut(&mut tray_instance))
            .await;
        self.present(&tray_instance, &stored).await
    }

    /// The instance as Tray holds it now.
    pub(super) async fn tray_instance(
        &self,
        session: &Session,
        id: &str,
    ) -> Result<SolutionInstance, ProxyError> {
        self.tray
            .list_instances(&session.token, Instances::Id(id))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ProxyError::NotFound(format!("no instance {id}")))
    }

    /// The host's values (`SYSTEM_VALUES_FILE`) for the settings of `solution` it
    /// supplies, as Tray's `configValues` (JSON text).
    pub(super) fn host_config_values(&self, solution: &Solution) -> Vec<Value> {
        solution
            .config_slots
            .iter()
            .filter_map(|slot| {
                let value = self.config.system_value(&solution.id, &slot.external_id)?;
                Some(json!({ "externalId": slot.external_id, "value": value.to_string() }))
            })
            .collect()
    }

    /// The host's values for the version an upgrade of `id` moves to: the catalog read
    /// afresh (a cached one may predate the version), else Tray's view of the instance.
    pub(super) async fn host_values_for_upgrade(
        &self,
        session: &Session,
        stored: &StoredInstance,
    ) -> Result<Vec<Value>, ProxyError> {
        if self.config.system_values.is_empty() {
            return Ok(Vec::new());
        }
        let latest = match self
            .solution_within(&stored.solution_id, Duration::ZERO)
            .await
        {
            Err(ProxyError::NotFound(_)) => self.tray_instance(session, &stored.id).await?.solution,
            other => other?,
        };
        Ok(self.host_config_values(&latest))
    }

    /// Instances whose settings the host supplies but which hold another value (made
    /// before the host named the setting, made elsewhere, or the host's value changed)
    /// get the host's, for the settings of their own version. Best effort: a failure
    /// leaves an instance as it is, and a refusal is tried again only after
    /// `SYSTEM_UPGRADE_RETRY`.
    async fn sync_host_values(&self, session: &Session, instances: &mut [SolutionInstance]) {
        if self.config.system_values.is_empty() {
            return;
        }
        for instance in instances.iter_mut() {
            // Compared as JSON, not as text: `"a"` and `"a" ` are the same value.
            let held = |slot: &str| {
                instance
                    .config_values
                    .iter()
                    .find(|value| value.external_id == slot)
                    .and_then(|value| value.value.as_deref())
                    .and_then(|text| serde_json::from_str::<Value>(text).ok())
            };
            let differing: Vec<Value> = instance
                .solution
                .config_slots
                .iter()
                .filter_map(|slot| {
                    let host = self
                        .config
                        .system_value(&instance.solution.id, &slot.external_id)?;
                    (held(&slot.external_id).as_ref() != Some(host)).then(
                        || json!({ "externalId": slot.external_id, "value": host.to_string() }),
                    )
                })
                .collect();
            if differing.is_empty() {
                continue;
            }
            let backed_off = self
                .host_values_failed
                .lock()
                .await
                .get(&instance.id)
                .is_some_and(|when| when.elapsed() < SYSTEM_UPGRADE_RETRY);
            if backed_off {
                continue;
            }
            let input = json!({ "solutionInstanceId": instance.id, "configValues": differing });
            match self.tray.update_instance(&session.token, input).await {
                Ok(updated) => *instance = updated,
                Err(err) => {
                    tracing::warn!(instance = %instance.id, error = %err, "the host's settings could not be set");
                    if !err.is_transient() {
                        self.host_values_failed
                            .lock()
                            .await
                            .insert(instance.id.clone(), Instant::now());
                    }
                }
            }
        }
    }

    /// Whether `solution` has settings the user fills (not all the host's).
    pub(super) fn has_user_settings(&self, solution: &Solution) -> bool {
        solution
            .config_slots
            .iter()
            .any(|slot| !self.config.host_supplies(&solution.id, &slot.external_id))
    }

    /// A setting the host supplies is not the user's to change.
    pub(super) fn refuse_host_settings(
        &self,
        solution_id: &str,
        values: &[wire::ConfigValue],
    ) -> Result<(), ProxyError> {
        match values
            .iter()
            .find(|value| self.config.host_supplies(solution_id, &value.external_id))
        {
            Some(value) => Err(ProxyError::BadRequest(format!(
                "{} is set by the host app, not by its users",
                value.external_id
            ))),
            None => Ok(()),
        }
    }

    /// Which auths of `instances`, and of those kept for their upgrades, expire soon.
    async fn expiring_of(
        &self,
        instances: &[SolutionInstance],
        kept: &[PendingAuth],
    ) -> Result<HashSet<String>, ProxyError> {
        let auth_ids: Vec<&str> = instances
            .iter()
            .flat_map(|instance| instance.auth_values.iter().map(|a| a.auth_id.as_str()))
            .chain(kept.iter().map(|auth| auth.auth_id.as_str()))
            .collect();
        self.db.expiring_among(&auth_ids).await
    }

    pub(super) async fn present(
        &self,
        instance: &SolutionInstance,
        stored: &StoredInstance,
    ) -> Result<Instance, ProxyError> {
        let upgrade_auths = self
            .db
            .auths(AuthList::Upgrade, Some(&stored.owner))
            .await?;
        let expiring = self
            .expiring_of(std::slice::from_ref(instance), &upgrade_auths)
            .await?;
        Ok(to_instance(
            instance,
            &expiring,
            Some(stored),
            &upgrade_auths,
            &self.config,
        ))
    }
}
