//! Creating an instance once per idempotency key: claims, turns per name, and finding
//! what a create whose answer was lost made.

use super::*;

/// A failure before Tray was asked anything: for a create whose key was taken over
/// (its earlier create may have made an instance), the outcome stays unknown.
fn failure(looking: bool, err: ProxyError) -> CreateFailure {
    if looking {
        CreateFailure::MaybeMade(err)
    } else {
        CreateFailure::NothingMade(err)
    }
}

/// Why a create failed, and so what becomes of its idempotency key.
enum CreateFailure {
    /// Tray holds no instance from it: the key is freed for the retry.
    NothingMade(ProxyError),
    /// Tray may hold one (its answer was lost, or it was not recorded): the key is left
    /// for the retry to take over, which looks for that instance before creating.
    MaybeMade(ProxyError),
}

impl From<ProxyError> for CreateFailure {
    fn from(err: ProxyError) -> Self {
        CreateFailure::NothingMade(err)
    }
}

/// The name a create gives its instance: the one asked for, else the solution's title.
fn instance_name<'a>(request: &'a wire::CreateInstance, solution: &'a Solution) -> &'a str {
    requested_name(request).unwrap_or(&solution.title)
}

/// The name a create asks for, if any (blank, or invisible, asks for none).
fn requested_name(request: &wire::CreateInstance) -> Option<&str> {
    request
        .name
        .as_deref()
        .map(str::trim)
        .filter(|name| wire::shows_something(name))
}

impl Marketplace {
    pub async fn create(
        &self,
        session: &Session,
        request: &wire::CreateInstance,
    ) -> Result<Instance, ProxyError> {
        let key = request.idempotency_key.trim();
        check_token_text("idempotencyKey", key, MAX_ID_CHARS)?;
        if key.starts_with(RESERVED_KEY_PREFIX) {
            return Err(ProxyError::BadRequest(format!(
                "idempotencyKey must not start with {RESERVED_KEY_PREFIX}"
            )));
        }
        // A blank name (spaces, line breaks, invisible characters alone) asks for none.
        if let Some(name) = requested_name(request) {
            check_name(name)?;
        }
        let solution = self.solution(&request.solution_id).await?;
        let owner = &session.external_user_id;
        let asked = CreationRequest {
            solution_id: solution.id.clone(),
            name: requested_name(request).map(str::to_owned),
        };
        self.db.note_key_use(owner, key).await?;
        let (lease, looking) = match self
            .db
            .claim_creation(owner, key, self.stale_claim_ms())
            .await?
        {
            Claim::Done(id) => {
                self.same_request(owner, key, &asked).await?;
                return self.made_before(session, &solution, key, &id).await;
            }
            Claim::InFlight => {
                self.same_request(owner, key, &asked).await?;
                return Err(ProxyError::Conflict(
                    "this instance is being created; try again in a moment".into(),
                ));
            }
            Claim::Won(stamp) => {
                let lease = Lease::hold(&self.db, owner, key, stamp, self.claim_renewal());
                if let Err(err) = self.db.note_creation_start(owner, key, stamp, &asked).await {
                    // Nothing was asked of Tray yet: the key is free for the retry.
                    if let Err(releasing) = lease.release().await {
                        tracing::warn!(error = %releasing, "an idempotency claim was left to go stale");
                    }
                    return Err(err);
                }
                (lease, false)
            }
            Claim::TakenOver(stamp) => {
                let lease = Lease::hold(&self.db, owner, key, stamp, self.claim_renewal());
                let adopted = async {
                    self.same_request(owner, key, &asked).await?;
                    // A claim an earlier version's replica left is bound from now on.
                    self.db.note_request(owner, key, &asked, false).await?;
                    self.adopt_lost_creation(session, &solution, request, key)
                        .await
                }
                .await;
                // Not found, and the key's last call to Tray went unanswered a moment
                // ago: Tray may still make it, so nothing is made in its place yet.
                let adopted = match adopted {
                    Ok(None) => self.unless_maybe_under_way(owner, key).await.map(|()| None),
                    other => other,
                };
                match adopted {
                    Ok(Some(found)) => return Ok(found),
                    Ok(None) => (lease, true),
                    Err(err) => {
                        // Still unknown whether Tray made it (or this was another request):
                        // the next try must look again.
                        if let Err(expiring) = lease.expire().await {
                            tracing::warn!(error = %expiring, "an idempotency claim was left to go stale");
                        }
                        return Err(err);
                    }
                }
            }
        };
        let created = self
            .create_claimed(session, &solution, request, key, looking)
            .await;
        let (settled, err) = match created {
            Ok(instance) => return Ok(instance),
            Err(CreateFailure::NothingMade(err)) => (lease.release().await, err),
            Err(CreateFailure::MaybeMade(err)) => {
                if matches!(err, ProxyError::TrayUnanswered(_)) {
                    if let Err(noting) = self.db.note_unanswered(owner, key).await {
                        tracing::warn!(error = %noting, "an unanswered create was not noted");
                    }
                }
                (lease.expire().await, err)
            }
        };
        // Unsettled, the claim goes stale once its renewals stop, and is then taken over:
        // the user hears of the create's failure, not of this one.
        if let Err(settling) = settled {
            tracing::warn!(error = %settling, "an idempotency claim was left to go stale");
        }
        Err(err)
    }

    /// A 503 while the key's last call to Tray went unanswered within the grace time (a
    /// minute): Tray may make the instance after the list that looked for it.
    async fn unless_maybe_under_way(&self, owner: &str, key: &str) -> Result<(), ProxyError> {
        let grace = millis(self.config.unanswered_grace);
        match self.db.unanswered_age_ms(owner, key).await? {
            Some(age) if age < grace => Err(ProxyError::TrayUnanswered(
                "Tray has not yet made what the last try asked for; try again in a moment".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Refuses a request whose idempotency key a different create claimed: answering it
    /// with that create's instance would say a connection was made as asked when it was
    /// not, and a lost answer's retry would look for the wrong name and make a second.
    async fn same_request(
        &self,
        owner: &str,
        key: &str,
        asked: &CreationRequest,
    ) -> Result<(), ProxyError> {
        match self.db.creation_request(owner, key).await? {
            Some(claimed) if claimed.solution_id != asked.solution_id => {
                Err(ProxyError::BadRequest(format!(
                    "idempotencyKey {key} was used to connect another integration; send a new key"
                )))
            }
            Some(claimed) if claimed.name != asked.name => Err(ProxyError::BadRequest(format!(
                "idempotencyKey {key} was sent with another name; send a new key"
            ))),
            _ => Ok(()),
        }
    }

    /// A repeated create: the instance its key made, if the request is the same one.
    async fn made_before(
        &self,
        session: &Session,
        solution: &Solution,
        key: &str,
        id: &str,
    ) -> Result<Instance, ProxyError> {
        match self
            .db
            .owned_instance(&session.external_user_id, id)
            .await?
        {
            Some(made) if made.solution_id != solution.id => Err(ProxyError::BadRequest(format!(
                "idempotencyKey {key} was used to connect another integration; send a new key"
            ))),
            Some(_) => self.instance(session, id).await,
            None => Err(ProxyError::KeySpent(format!(
                "the connection made with idempotencyKey {key} was deleted; send a new key"
            ))),
        }
    }

    /// Creates under a second claim, shared by every replica, on what tells the new
    /// instance apart: a one-per-user solution's id (so that concurrent creates with
    /// different idempotency keys, from two tabs or a script, cannot both pass the check
    /// that the user has none), else the solution and the name (so that a create
    /// started again after a reload, its key lost with the page, waits for the first
    /// instead of making the same connection twice).
    async fn create_claimed(
        &self,
        session: &Session,
        solution: &Solution,
        request: &wire::CreateInstance,
        key: &str,
        looking: bool,
    ) -> Result<Instance, CreateFailure> {
        let owner = &session.external_user_id;
        let unique = solution.flag("forceUnique");
        let (guard, busy) = if unique {
            (
                format!("{RESERVED_KEY_PREFIX}one-per-user:{}", solution.id),
                format!("{} is being connected already", solution.title),
            )
        } else {
            let name = instance_name(request, solution);
            (
                format!("{RESERVED_KEY_PREFIX}name:{}:{name}", solution.id),
                format!("a connection named {name} is being created; try again in a moment"),
            )
        };
        // Never recorded as done: released below, or taken over once its renewals stop.
        let guard_lease = match self
            .db
            .claim_creation(owner, &guard, self.stale_claim_ms())
            .await?
        {
            Claim::Won(stamp) | Claim::TakenOver(stamp) => {
                Lease::hold(&self.db, owner, &guard, stamp, self.claim_renewal())
            }
            // A key taken over may still have made its instance: the next try looks again.
            Claim::InFlight | Claim::Done(_) => {
                return Err(failure(looking, ProxyError::Conflict(busy)))
            }
        };
        let result = if unique {
            match self.holds_instance_of(session, &solution.id).await {
                Ok(true) => Err(CreateFailure::NothingMade(ProxyError::Conflict(format!(
                    "{} allows one connection per user, and you have one",
                    solution.title
                )))),
                Ok(false) => self.create_instance(session, solution, request, key).await,
                Err(err) => Err(err.into()),
            }
        } else {
            self.create_instance(session, solution, request, key).await
        };
        // Unanswered, Tray may still make it: the claim is left to go stale, so that for
        // a minute no other such create starts (the key's own retry looks for it first,
        // outside this claim). The outcome stands even if the release fails: the claim
        // then goes stale.
        if let Err(CreateFailure::MaybeMade(ProxyError::TrayUnanswered(_))) = result {
            guard_lease.abandon().await;
        } else if let Err(err) = guard_lease.release().await {
            tracing::warn!(error = %err, "a create's guard claim was not released");
        }
        result
    }

    async fn create_instance(
        &self,
        session: &Session,
        solution: &Solution,
        request: &wire::CreateInstance,
        key: &str,
    ) -> Result<Instance, CreateFailure> {
        self.within_connection_limit(session, key).await?;
        let name = instance_name(request, solution);
        let created = match self
            .tray
            .create_instance(
                &session.token,
                &solution.id,
                name,
                &self.host_config_values(solution),
            )
            .await
        {
            Ok(created) => {
                self.bind_made(session, key, &created)
                    .await
                    .map_err(CreateFailure::MaybeMade)?;
                created
            }
            // The outcome is unknown (Tray may have created it and the answer was lost).
            Err(err @ (ProxyError::TrayUnavailable(_) | ProxyError::TrayUnanswered(_))) => {
                match self
                    .reconcile_lost_creation(session, solution, request, key)
                    .await
                {
                    Ok(Some(found)) => found,
                    // Tray answered that it failed: nothing was made.
                    Ok(None) if matches!(err, ProxyError::TrayUnavailable(_)) => {
                        return Err(CreateFailure::NothingMade(err))
                    }
                    // Unanswered, Tray may still make it after the list: the next try
                    // looks again before it makes one.
                    Ok(None) | Err(_) => return Err(CreateFailure::MaybeMade(err)),
                }
            }
            Err(err) => return Err(err.into()),
        };
        // Tray holds it now: if it is not recorded, the next try must find and adopt it.
        let stored = self
            .record_made(session, solution, &created, key)
            .await
            .map_err(CreateFailure::MaybeMade)?;
        Ok(self.present(&created, &stored).await?)
    }

    /// Ties a new instance to its key at once, so that no create looking for a lost
    /// answer takes it. One may have listed it before Tray answered here; it is this
    /// create's all the same, as Tray said so.
    async fn bind_made(
        &self,
        session: &Session,
        key: &str,
        made: &SolutionInstance,
    ) -> Result<(), ProxyError> {
        let owner = &session.external_user_id;
        if !self.db.bind_instance_key(owner, key, &made.id).await? {
            tracing::warn!(instance = %made.id, "a create looking for a lost answer took this new instance first");
        }
        Ok(())
    }

    /// Refuses a connection past the user's limit (`--max-connections-per-user`): every
    /// catalog load lists them all, one Tray call per 100. Our rows say when the limit may
    /// be near; Tray's count decides then, as our rows may include connections removed on
    /// Tray's side, which the user could never delete. The user's other creates under way
    /// count too (one Tray left unanswered as well, while Tray may still make it), so
    /// creates racing with different keys cannot all pass: creates that see
    /// each other under way may all be refused, even with room for some of them (no
    /// order among them is known), and are told so; sent again, they pass.
    async fn within_connection_limit(
        &self,
        session: &Session,
        key: &str,
    ) -> Result<(), ProxyError> {
        let limit = self.config.max_connections_per_user as usize;
        if limit == 0 {
            return Ok(());
        }
        let owner = &session.external_user_id;
        let under_way = self
            .db
            .other_creations_under_way(
                owner,
                key,
                self.stale_claim_ms(),
                millis(self.config.unanswered_grace),
            )
            .await?;
        let recorded = self.db.instances_of(owner).await?.len();
        if recorded + under_way < limit {
            return Ok(());
        }
        let held = self.tray.count_instances(&session.token).await?;
        if held + under_way >= limit {
            return Err(ProxyError::LimitReached(if under_way == 0 {
                format!("you have {held} connections, the most this app allows; delete one to add another")
            } else {
                format!(
                    "you have {held} connections and {under_way} more being made, the most this \
                     app allows; try again once they are made, or delete one"
                )
            }));
        }
        Ok(())
    }

    /// Records `made`, the instance created for `key`, and ties the key to it. The
    /// instance may be recorded already, when it is one a lost answer left and a catalog
    /// load adopted meanwhile: that record (its creation time, whether the user saw its
    /// settings) stands.
    async fn record_made(
        &self,
        session: &Session,
        solution: &Solution,
        made: &SolutionInstance,
        key: &str,
    ) -> Result<StoredInstance, ProxyError> {
        let owner = &session.external_user_id;
        let stored = match self.db.owned_instance(owner, &made.id).await? {
            Some(known) => known,
            None => StoredInstance {
                id: made.id.clone(),
                owner: owner.clone(),
                solution_id: solution.id.clone(),
                // The database's clock: another replica may enable it.
                created_at: self.db.clock_ms().await?,
                ever_enabled: made.enabled,
                config_unconfirmed: !made.enabled && self.has_user_settings(solution),
            },
        };
        self.db.record_instance(owner, key, &stored).await?;
        Ok(stored)
    }

    /// Whether the user has an instance of `solution_id`, by Tray's own list (an instance
    /// made elsewhere, or whose answer a crash lost, counts too). Our rows of it that
    /// Tray no longer holds (removed there, or with its user) are forgotten.
    async fn holds_instance_of(
        &self,
        session: &Session,
        solution_id: &str,
    ) -> Result<bool, ProxyError> {
        let live = self
            .tray
            .list_instances(&session.token, Instances::OfSolution(solution_id))
            .await?;
        for row in self.db.instances_of(&session.external_user_id).await? {
            if row.solution_id == solution_id && !live.iter().any(|i| i.id == row.id) {
                tracing::info!(instance = %row.id, "Tray no longer holds this instance; forgetting it");
                self.db.forget_instance(&row.id).await?;
            }
        }
        Ok(live
            .iter()
            .any(|instance| instance.solution.id == solution_id))
    }

    /// After a crash mid-create, or a create whose outcome was unknown: the instance
    /// Tray made for the claim, recorded under its key, instead of a second one.
    async fn adopt_lost_creation(
        &self,
        session: &Session,
        solution: &Solution,
        request: &wire::CreateInstance,
        key: &str,
    ) -> Result<Option<Instance>, ProxyError> {
        let Some(found) = self
            .reconcile_lost_creation(session, solution, request, key)
            .await?
        else {
            return Ok(None);
        };
        let stored = self.record_made(session, solution, &found, key).await?;
        Ok(Some(self.present(&found, &stored).await?))
    }

    /// The instance the create under `key` made, when its answer was lost: one Tray holds
    /// for the user, of this solution, under the name the create sent, made since the
    /// create began, and that no other idempotency key stands for. (The catalog may have
    /// listed it, and so recorded it, meanwhile; a half-done record counts as none.) Any
    /// other instance is not this create's: taking it would answer this request with
    /// something the user made before, and leave its own create to be made twice. An
    /// error means the list itself failed, so the creation's outcome stays unknown.
    async fn reconcile_lost_creation(
        &self,
        session: &Session,
        solution: &Solution,
        request: &wire::CreateInstance,
        key: &str,
    ) -> Result<Option<SolutionInstance>, ProxyError> {
        let owner = &session.external_user_id;
        // Tray's clock and ours may disagree a little.
        let since = self.db.creation_start(owner, key).await?.unwrap_or(0) - CLOCK_SKEW_MS;
        let name = instance_name(request, solution);
        let listed = self
            .tray
            .list_instances(&session.token, Instances::OfSolution(&solution.id))
            .await?;
        // Read after the list: a create that recorded its instance meanwhile counts.
        let keyed = self.db.keyed_instance_ids(owner).await?;
        let mut candidates: Vec<SolutionInstance> = listed
            .into_iter()
            .filter(|instance| {
                instance.solution.id == solution.id
                    && instance.name == name
                    && !keyed.contains(&instance.id)
                    && created_ms(instance) >= since
            })
            .collect();
        // One bound to this key before its record failed is its own; of two others, the
        // earlier is the older request's.
        let bound = self.db.instance_bound_to(owner, key).await?;
        candidates
            .sort_by_key(|instance| (Some(&instance.id) != bound.as_ref(), created_ms(instance)));
        for instance in candidates {
            // Another create looking for its own lost answer may have listed it too.
            if self.db.bind_instance_key(owner, key, &instance.id).await? {
                return Ok(Some(instance));
            }
        }
        Ok(None)
    }

    /// Forget the idempotency keys no retry will send any more (run periodically).
    pub async fn forget_old_keys(&self) -> Result<u64, ProxyError> {
        self.db
            .forget_keys_older_than(millis(self.config.idempotency_key_ttl))
            .await
    }
}
