//! Changes to an instance: rename, Enable and Disable, settings, upgrade, delete.

use super::*;

/// The caller's auth values plus the ones kept for the upgrade; a kept one wins per slot
/// (the caller sends what it last saw, which may predate the user's new auth).
fn upgrade_auth_values(requested: &[wire::AuthValue], kept: &[PendingAuth]) -> Vec<Value> {
    let requested = requested
        .iter()
        .filter(|auth| !kept.iter().any(|k| k.slot == auth.external_id))
        .map(|auth| (&auth.external_id, &auth.auth_id));
    let kept = kept.iter().map(|auth| (&auth.slot, &auth.auth_id));
    requested
        .chain(kept)
        .map(|(slot, auth_id)| json!({ "externalId": slot, "authId": auth_id }))
        .collect()
}

/// Tray refusing values the caller sent (an unknown slot, say) is the caller's error.
fn refused_values(err: ProxyError) -> ProxyError {
    match err {
        ProxyError::TrayRejected(reason) => {
            ProxyError::BadRequest(format!("Tray refused this change: {reason}"))
        }
        other => other,
    }
}

/// Config values are JSON text; reject anything that is not, instead of storing junk.
fn tray_config_values(values: &[wire::ConfigValue]) -> Result<Vec<Value>, ProxyError> {
    values
        .iter()
        .map(|value| {
            if let Some(text) = &value.value {
                serde_json::from_str::<Value>(text).map_err(|_| {
                    ProxyError::BadRequest(format!(
                        "the value of {} must be JSON text, e.g. \"\\\"text\\\"\" or \"7\"",
                        value.external_id
                    ))
                })?;
            }
            Ok(json!({ "externalId": value.external_id, "value": value.value }))
        })
        .collect()
}

impl Marketplace {
    pub async fn update(
        &self,
        session: &Session,
        id: &str,
        update: &wire::UpdateInstance,
    ) -> Result<Instance, ProxyError> {
        if update.name.is_none() && update.enabled.is_none() {
            // Probably a misspelt field: say so rather than spend a Tray call on nothing.
            return Err(ProxyError::BadRequest(
                "nothing to change: give `name` or `enabled`".into(),
            ));
        }
        let stored = self.owned(session, id).await?;
        let mut input = json!({ "solutionInstanceId": id });
        if let Some(name) = &update.name {
            let name = name.trim();
            if !wire::shows_something(name) {
                return Err(ProxyError::BadRequest(
                    "name must show something: it has only spaces or invisible characters".into(),
                ));
            }
            check_name(name)?;
            input["instanceName"] = json!(name);
        }
        if let Some(enabled) = update.enabled {
            if enabled {
                self.wait_until_enable_allowed(&stored).await;
            }
            input["enabled"] = json!(enabled);
            input["errorOnEnablingWithMissingValues"] = json!(true);
        }
        let updated = match self.tray.update_instance(&session.token, input).await {
            Ok(updated) => updated,
            Err(err) => return Err(self.refusal(session, id, err).await),
        };
        let mut stored = stored;
        if update.enabled == Some(true) {
            self.db.mark_enabled(id).await?;
            stored.ever_enabled = true;
            stored.config_unconfirmed = false;
        }
        self.present(&updated, &stored).await
    }

    /// Tray: enable at least 2 s after creation; wait out the remainder here.
    async fn wait_until_enable_allowed(&self, stored: &StoredInstance) {
        let allowed_at = stored.created_at + self.enable_delay.as_millis() as i64;
        // By the clock `created_at` was stamped with, whichever replica stamped it.
        let now = self.db.clock_ms().await.unwrap_or_else(|_| now_ms());
        let remaining = allowed_at - now;
        if remaining > 0 {
            tokio::time::sleep(Duration::from_millis(remaining as u64)).await;
        }
    }

    pub async fn set_config(
        &self,
        session: &Session,
        id: &str,
        values: &[wire::ConfigValue],
    ) -> Result<Instance, ProxyError> {
        let mut stored = self.owned(session, id).await?;
        self.refuse_host_settings(&stored.solution_id, values)?;
        let input =
            json!({ "solutionInstanceId": id, "configValues": tray_config_values(values)? });
        let updated = match self.tray.update_instance(&session.token, input).await {
            Ok(updated) => updated,
            Err(err) => return Err(self.refusal(session, id, err).await),
        };
        if stored.config_unconfirmed {
            self.db.confirm_config(id).await?;
            stored.config_unconfirmed = false;
        }
        self.present(&updated, &stored).await
    }

    pub async fn upgrade(
        &self,
        session: &Session,
        id: &str,
        upgrade: &wire::UpgradeInstance,
    ) -> Result<Instance, ProxyError> {
        let mut stored = self.owned(session, id).await?;
        let kept: Vec<PendingAuth> = self
            .db
            .auths(AuthList::Upgrade, Some(&session.external_user_id))
            .await?
            .into_iter()
            .filter(|auth| auth.instance_id == id)
            .collect();
        self.refuse_host_settings(&stored.solution_id, &upgrade.config_values)?;
        // The host's values for the new version's settings go with the user's.
        let mut config_values = tray_config_values(&upgrade.config_values)?;
        config_values.extend(self.host_values_for_upgrade(session, &stored).await?);
        let input = json!({
            "solutionInstanceId": id,
            "authValues": upgrade_auth_values(&upgrade.auth_values, &kept),
            "configValues": config_values,
        });
        let upgraded = match self.tray.upgrade_instance(&session.token, input).await {
            Ok(upgraded) => upgraded,
            Err(err) => return Err(self.refusal(session, id, err).await),
        };
        for auth in &kept {
            self.db.clear_auth(AuthList::Upgrade, auth).await?;
            self.db.clear_expiring(&auth.auth_id).await?;
        }
        // The user went through the new version's settings.
        if stored.config_unconfirmed {
            self.db.confirm_config(id).await?;
            stored.config_unconfirmed = false;
        }
        // Upgraded: no longer awaiting the user (the next catalog load would say so too).
        self.awaiting_update.lock().await.remove(id);
        self.present(&upgraded, &stored).await
    }

    /// Whether Tray still holds the user's instance `id`.
    async fn on_tray(&self, session: &Session, id: &str) -> Result<bool, ProxyError> {
        let instances = self
            .tray
            .list_instances(&session.token, Instances::Id(id))
            .await?;
        Ok(!instances.is_empty())
    }

    /// What to answer when Tray refused a change to `id`. Refused because the instance is
    /// gone (removed on Tray, or by a delete in another tab): 404, and it is forgotten.
    /// Otherwise a refusal is of what the user asked (enabling with a value still
    /// missing, a name or a value Tray will not take): a 400 with Tray's reason.
    async fn refusal(&self, session: &Session, id: &str, err: ProxyError) -> ProxyError {
        if !matches!(err, ProxyError::TrayRejected(_)) {
            return err;
        }
        match self.on_tray(session, id).await {
            Ok(false) => self.forget_gone(id).await,
            _ => refused_values(err),
        }
    }

    /// Forgets instance `id`, which Tray no longer holds: the answer is a 404.
    async fn forget_gone(&self, id: &str) -> ProxyError {
        match self.db.forget_instance(id).await {
            Ok(()) => ProxyError::NotFound(format!("connection {id} no longer exists")),
            Err(forgetting) => forgetting,
        }
    }

    pub async fn delete(&self, session: &Session, id: &str) -> Result<(), ProxyError> {
        self.owned(session, id).await?;
        match self.tray.remove_instance(&session.token, id).await {
            Ok(()) => {}
            // Refused because it is gone already: an earlier try whose answer was lost.
            Err(ProxyError::TrayRejected(reason)) => {
                if self.on_tray(session, id).await? {
                    return Err(ProxyError::TrayRejected(reason));
                }
            }
            Err(err) => return Err(err),
        }
        self.awaiting_update.lock().await.remove(id);
        self.db.forget_instance(id).await
    }
}
