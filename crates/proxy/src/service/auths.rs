//! Sign-ins: the auth dialog's URL, and auths kept until Tray accepts them (attached
//! now, retried after an outage, or held for an upgrade).

use super::*;

/// The longest the retry loop waits before trying one owner's kept sign-ins again.
const RETRY_BACKOFF_MAX: Duration = Duration::from_secs(600);

impl Marketplace {
    /// Stores the user's sign-in for `slot` before anything else is asked of Tray, so no
    /// outage can lose it: a later attach, or the retry loop, takes it from here. Only the
    /// database is consulted (the caller's own instance, a usable slot and auth id).
    pub async fn keep_auth(
        &self,
        user: &HostUser,
        id: &str,
        slot: &str,
        auth_id: &str,
    ) -> Result<PendingAuth, ProxyError> {
        self.db
            .owned_instance(&user.id, id)
            .await?
            .ok_or_else(|| ProxyError::NotFound(format!("no instance {id}")))?;
        // Stored before the catalog is asked whether the slot exists: a slot no solution
        // could have goes no further.
        if check_token_text("slot", slot, MAX_ID_CHARS).is_err() {
            return Err(ProxyError::NotFound("no such auth slot".into()));
        }
        let auth_id = auth_id.trim();
        check_token_text("authId", auth_id, MAX_ID_CHARS)?;
        let pending = PendingAuth {
            instance_id: id.to_owned(),
            slot: slot.to_owned(),
            auth_id: auth_id.to_owned(),
            owner: user.id.clone(),
        };
        self.db.save_auth(AuthList::Pending, &pending).await?;
        Ok(pending)
    }

    /// Attaches a sign-in [`Self::keep_auth`] stored.
    pub async fn attach_auth(
        &self,
        session: &Session,
        pending: &PendingAuth,
    ) -> Result<Instance, ProxyError> {
        let id = &pending.instance_id;
        let stored = self.owned(session, id).await?;
        let solution = self.solution_of(session, &stored).await?;
        if !solution
            .auth_slots
            .iter()
            .any(|s| s.external_id == pending.slot)
        {
            self.db.clear_auth(AuthList::Pending, pending).await?;
            return Err(ProxyError::BadRequest(format!(
                "{} has no auth slot {}",
                solution.title, pending.slot
            )));
        }
        let _slot = self.lock_slot(pending).await;
        let instance = self.attach_or_keep(session, pending).await?;
        self.present(&instance, &stored).await
    }

    /// Attaches `pending` (its slot locked), or keeps it for the upgrade the instance
    /// awaits when the slot is one only the new version has, which updateSolutionInstance
    /// refuses. (Looked up only after a refusal: the usual attach costs one Tray request.)
    /// Any other refusal drops it; a failure keeps it for the retry loop.
    async fn attach_or_keep(
        &self,
        session: &Session,
        pending: &PendingAuth,
    ) -> Result<SolutionInstance, ProxyError> {
        // An instance known to await the user's upgrade: a slot it has no auth for is
        // most likely one only the new version has, whose values go through
        // upgradeSolutionInstance (Tray may refuse or ignore them in an update). Checked
        // here, so that the retry loop (which may take up a sign-in its request is still
        // on) decides alike.
        if self
            .awaiting_update
            .lock()
            .await
            .contains(&pending.instance_id)
        {
            let instance = self.tray_instance(session, &pending.instance_id).await?;
            if self.waits_for_upgrade(&instance, &pending.slot).await? {
                self.move_to_upgrade(session, pending).await?;
                return Ok(instance);
            }
        }
        let reason = match self.attach(session, pending).await {
            Ok(updated) => {
                // A system upgrade refused for want of this sign-in may pass now: the
                // next listing tries it, not the one after the back-off.
                self.system_upgrade_failed
                    .lock()
                    .await
                    .remove(&pending.instance_id);
                return Ok(updated);
            }
            Err(ProxyError::BadRequest(reason)) => reason,
            Err(err) => return Err(err),
        };
        let instance = match self.tray_instance(session, &pending.instance_id).await {
            Ok(instance) => instance,
            // Gone from Tray: nothing to attach it to, ever.
            Err(err @ ProxyError::NotFound(_)) => {
                self.db.clear_auth(AuthList::Pending, pending).await?;
                return Err(err);
            }
            Err(err) => return Err(err),
        };
        // Any other refusal (another service's auth, a slot no version has) is final.
        if !self.waits_for_upgrade(&instance, &pending.slot).await? {
            self.db.clear_auth(AuthList::Pending, pending).await?;
            return Err(ProxyError::BadRequest(reason));
        }
        self.move_to_upgrade(session, pending).await?;
        Ok(instance)
    }

    /// Whether a sign-in for `slot` waits for `instance`'s upgrade: the instance awaits
    /// the user on a new version, which has the slot, and the instance does not.
    async fn waits_for_upgrade(
        &self,
        instance: &SolutionInstance,
        slot: &str,
    ) -> Result<bool, ProxyError> {
        if !instance
            .solution_version_flags
            .requires_user_input_to_update_version
            || instance.auth_values.iter().any(|a| a.external_id == slot)
        {
            return Ok(false);
        }
        let has_slot =
            |solution: Solution| solution.auth_slots.iter().any(|s| s.external_id == slot);
        let id = &instance.solution.id;
        // A version published since the catalog was cached: asked again before a sign-in
        // is dropped for want of its slot.
        Ok(has_slot(self.solution(id).await?)
            || has_slot(self.solution_within(id, Duration::ZERO).await?))
    }

    /// Moves a stored sign-in from the pending list to the upgrade's.
    async fn move_to_upgrade(
        &self,
        session: &Session,
        pending: &PendingAuth,
    ) -> Result<(), ProxyError> {
        match self.keep_for_upgrade(session, pending).await {
            // Not the user's own auth: refused for good.
            Err(err @ ProxyError::BadRequest(_)) => {
                self.db.clear_auth(AuthList::Pending, pending).await?;
                Err(err)
            }
            Err(err) => Err(err),
            Ok(()) => self.db.clear_auth(AuthList::Pending, pending).await,
        }
    }

    /// Keeps `pending` for the user's upgrade. Tray sees it only then, so it is checked
    /// now to be the user's own: another user's auth id would otherwise sit in this
    /// instance, and that auth's expiry notices would show here.
    async fn keep_for_upgrade(
        &self,
        session: &Session,
        pending: &PendingAuth,
    ) -> Result<(), ProxyError> {
        if !self
            .tray
            .owns_authentication(&session.token, &pending.auth_id)
            .await?
        {
            return Err(ProxyError::BadRequest(format!(
                "authId {} is not one of your authorizations",
                pending.auth_id
            )));
        }
        self.db.save_auth(AuthList::Upgrade, pending).await
    }

    async fn lock_slot(&self, auth: &PendingAuth) -> tokio::sync::MutexGuard<'_, ()> {
        self.slot_lock(auth).lock().await
    }

    fn slot_lock(&self, auth: &PendingAuth) -> &Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (&auth.instance_id, &auth.slot).hash(&mut hasher);
        &self.slot_locks[hasher.finish() as usize % SLOT_LOCKS]
    }

    async fn attach(
        &self,
        session: &Session,
        pending: &PendingAuth,
    ) -> Result<SolutionInstance, ProxyError> {
        let input = json!({
            "solutionInstanceId": pending.instance_id,
            "authValues": [{ "externalId": pending.slot, "authId": pending.auth_id }],
        });
        let updated = match self.tray.update_instance(&session.token, input).await {
            Ok(updated) => updated,
            // Not the caller's auth, one of another service, or a slot only a new version
            // has: `attach_or_keep` tells which, and drops or moves it.
            Err(ProxyError::TrayRejected(reason)) => {
                return Err(ProxyError::BadRequest(format!(
                    "Tray refused this auth for slot {}: {reason}",
                    pending.slot
                )));
            }
            Err(err) => return Err(err),
        };
        self.db.clear_auth(AuthList::Pending, pending).await?;
        self.db.clear_expiring(&pending.auth_id).await?;
        Ok(updated)
    }

    /// Attach the caller's auths that arrived while Tray was failing. True when none is
    /// left waiting for want of Tray.
    pub(super) async fn attach_pending(&self, session: &Session, wait: Wait) -> bool {
        let Ok(pending) = self
            .db
            .auths(AuthList::Pending, Some(&session.external_user_id))
            .await
        else {
            return false;
        };
        let mut all_settled = true;
        for auth in pending {
            let _slot = match wait {
                Wait::Yes => self.lock_slot(&auth).await,
                Wait::No => match self.slot_lock(&auth).try_lock() {
                    Ok(slot) => slot,
                    // Being attached by another request: that one settles it.
                    Err(_) => {
                        all_settled = false;
                        continue;
                    }
                },
            };
            // Read again under the lock: the user may have attached a newer auth since.
            match self.db.kept_auth(AuthList::Pending, &auth).await {
                Ok(true) => match self.attach_or_keep(session, &auth).await {
                    // Refused for good: dropped (or kept for the upgrade) by now.
                    Ok(_) | Err(ProxyError::BadRequest(_) | ProxyError::NotFound(_)) => {}
                    Err(err) => {
                        all_settled = false;
                        tracing::warn!(instance = %auth.instance_id, slot = %auth.slot, error = %err, "pending auth still not attached");
                        // A revoked user token: the next try mints another; the user's
                        // other auths wait for it rather than fail the same way.
                        if matches!(err, ProxyError::TrayUnauthorized(_)) {
                            let _ = self.drop_user_token(&session.tray_user_id).await;
                            break;
                        }
                    }
                },
                Ok(false) => {}
                Err(err) => {
                    all_settled = false;
                    tracing::warn!(error = %err, "pending auths could not be read");
                }
            }
        }
        all_settled
    }

    /// A popup URL for filling `slot` or re-authorizing `auth_id`, with a fresh code.
    pub async fn auth_dialog(
        &self,
        session: &Session,
        id: &str,
        request: &wire::AuthDialogRequest,
        dialog_url: &str,
        embedded_id: &str,
    ) -> Result<wire::AuthDialog, ProxyError> {
        let stored = self.owned(session, id).await?;
        let path = match (&request.slot, &request.auth_id) {
            (Some(slot), None) => {
                let has_slot = |solution: &Solution| {
                    solution.auth_slots.iter().any(|s| &s.external_id == slot)
                };
                let mut solution = self.solution_of(session, &stored).await?;
                if !has_slot(&solution) {
                    // A version published since the catalog was cached may have added it.
                    match self
                        .solution_within(&stored.solution_id, Duration::ZERO)
                        .await
                    {
                        Ok(fresh) => solution = fresh,
                        Err(ProxyError::NotFound(_)) => {}
                        Err(err) => return Err(err),
                    }
                }
                if !has_slot(&solution) {
                    return Err(ProxyError::BadRequest(format!(
                        "{} has no auth slot {slot}",
                        solution.title
                    )));
                }
                format!(
                    "external/auth/create/{}/{}/{}",
                    enc(embedded_id),
                    enc(id),
                    enc(slot)
                )
            }
            (None, Some(auth_id)) => {
                let instance = self.instance(session, id).await?;
                if !instance.auth_values.iter().any(|a| &a.auth_id == auth_id) {
                    return Err(ProxyError::NotFound(format!(
                        "instance {id} has no auth {auth_id}"
                    )));
                }
                format!("external/auth/edit/{}/{}", enc(embedded_id), enc(auth_id))
            }
            _ => return Err(ProxyError::BadRequest("give either slot or authId".into())),
        };
        let code = self
            .tray
            .generate_authorization_code(&session.tray_user_id)
            .await?;
        Ok(wire::AuthDialog {
            url: format!("{dialog_url}/{path}?code={}", enc(&code)),
            origin: crate::config::origin_of(dialog_url),
        })
    }

    /// Tray's auth-expiring webhook: remember the auth until it is re-authorized.
    pub async fn note_expiring(&self, auth_id: &str) -> Result<(), ProxyError> {
        check_token_text("authId", auth_id, MAX_ID_CHARS)?;
        self.db.note_expiring(auth_id).await
    }

    /// Attach every pending auth whose Tray is back (run periodically). An owner whose
    /// attempt fails is tried again after a wait that doubles each time.
    pub async fn retry_pending_auths(&self) -> Result<usize, ProxyError> {
        let before = self.db.auths(AuthList::Pending, None).await?.len();
        let owners: HashSet<String> = self
            .db
            .auths(AuthList::Pending, None)
            .await?
            .into_iter()
            .map(|p| p.owner)
            .collect();
        let now = Instant::now();
        let due: Vec<String> = {
            let mut retry_after = self.retry_after.lock().await;
            retry_after.retain(|owner, _| owners.contains(owner));
            owners
                .into_iter()
                .filter(|owner| retry_after.get(owner).is_none_or(|(next, _)| *next <= now))
                .collect()
        };
        for owner in due {
            let Some(tray_user_id) = self.db.tray_user_id(&owner).await? else {
                continue;
            };
            // One user's token refused (removed on Tray, say) holds up no one else's; an
            // outage holds up everyone's, so the round ends.
            let settled = match self.user_token(&tray_user_id).await {
                Ok(token) => {
                    let session = Session {
                        external_user_id: owner.clone(),
                        tray_user_id,
                        token,
                    };
                    self.attach_pending(&session, Wait::Yes).await
                }
                // Backed off as a failed attach is: each round would mint again for
                // this user first (a restarted replica has no token cached).
                Err(err) if err.is_transient() => {
                    self.note_retry(owner, false).await;
                    return Err(err);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "no user token for attaching pending auths");
                    false
                }
            };
            self.note_retry(owner, settled).await;
        }
        Ok(before.saturating_sub(self.db.auths(AuthList::Pending, None).await?.len()))
    }

    /// Backs `owner` off after a failed retry (or clears the wait after a good one).
    async fn note_retry(&self, owner: String, settled: bool) {
        let mut retry_after = self.retry_after.lock().await;
        if settled {
            retry_after.remove(&owner);
            return;
        }
        let wait = retry_after
            .get(&owner)
            .map_or(Duration::from_secs(4), |(_, wait)| {
                (*wait * 2).min(RETRY_BACKOFF_MAX)
            });
        retry_after.insert(owner, (Instant::now() + wait, wait));
    }
}
