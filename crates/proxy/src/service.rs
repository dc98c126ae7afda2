//! What the widget API does, independent of HTTP: users, tokens, the cached catalog,
//! instances with their status, and the auths kept until Tray accepts them.

use marketplace_wire::{self as wire, Instance, Integration, Status};
use serde_json::{json, Value};
use std::{collections::HashMap, collections::HashSet, time::Duration};
use tokio::{sync::Mutex, time::Instant};

use crate::{
    catalog::to_integration,
    db::{now_ms, AuthList, Claim, CreationRequest, Db, PendingAuth, StoredInstance},
    error::ProxyError,
    identity::HostUser,
    lease::Lease,
    tray::{Instances, Solution, SolutionInstance, TrayClient},
};

/// Tray's user tokens live 2 days; renew well before.
const USER_TOKEN_REUSE: Duration = Duration::from_secs(24 * 60 * 60);
/// While one of the user's instances waits for them on a new version, the catalog they
/// see is at most this old (a further version may add more slots).
const CATALOG_TTL_AWAITING_UPDATE: Duration = Duration::from_secs(5);
/// A system upgrade Tray refused is tried again after this (a host may add the missing
/// value to SYSTEM_VALUES_FILE and restart, which clears it at once).
const SYSTEM_UPGRADE_RETRY: Duration = Duration::from_secs(10 * 60);
/// Keys the proxy claims for itself start with this; a client's key may not.
const RESERVED_KEY_PREFIX: &str = "proxy:";
/// How far Tray's clock may be ahead of or behind ours, when comparing its creation
/// times with the moments our creates began.
const CLOCK_SKEW_MS: i64 = 30_000;

pub struct Marketplace {
    pub config: crate::Config,
    pub tray: TrayClient,
    pub db: Db,
    catalog_ttl: Duration,
    enable_delay: Duration,
    tags: Vec<String>,
    catalog: Mutex<Option<(Instant, Vec<Solution>)>>,
    /// Instances known to wait for the user on a new version. One that newly does was
    /// most likely published after the cached catalog: it is fetched again at once, so
    /// the new version's slots show without waiting out the TTL.
    awaiting_update: Mutex<HashSet<String>>,
    /// Instances whose system upgrade Tray refused, and when.
    system_upgrade_failed: Mutex<HashMap<String, Instant>>,
    /// Instances for which Tray refused the host's settings, and when.
    host_values_failed: Mutex<HashMap<String, Instant>>,
    /// Owners whose kept sign-ins the retry loop failed to attach: when to try next, and
    /// the wait after that (doubling up to `RETRY_BACKOFF_MAX`). A user Tray keeps
    /// refusing costs the organisation's rate budget one attempt per ten minutes, not
    /// one every round.
    retry_after: Mutex<HashMap<String, (Instant, Duration)>>,
    /// Tray user id -> (user token, unix ms after which it is renewed).
    user_tokens: Mutex<HashMap<String, (String, i64)>>,
    /// Attaching to a slot is one at a time (striped by instance and slot): an auth kept
    /// through an outage, sent again, must not land after a newer one the user attached.
    /// A lock in the process, not a claim in the database: a request dropped by its
    /// timeout frees it at once, and a user's attach may wait as long as a retry takes
    /// in Tray's rate limit. (Across replicas the two may still cross; see docs.)
    slot_locks: [Mutex<()>; SLOT_LOCKS],
}

const SLOT_LOCKS: usize = 64;

/// The longest the retry loop waits before trying one owner's kept sign-ins again.
const RETRY_BACKOFF_MAX: Duration = Duration::from_secs(600);

/// Whether attaching kept auths waits for a slot another request is attaching.
#[derive(Clone, Copy)]
enum Wait {
    Yes,
    No,
}

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

/// The caller, resolved to their Tray user and a valid user token.
pub struct Session {
    pub external_user_id: String,
    pub tray_user_id: String,
    pub token: String,
}

impl Marketplace {
    pub fn new(config: crate::Config, tray: TrayClient, db: Db) -> Marketplace {
        Marketplace {
            tray,
            db,
            catalog_ttl: config.catalog_ttl,
            enable_delay: config.enable_delay,
            tags: config.solution_tags.clone(),
            config,
            catalog: Mutex::new(None),
            awaiting_update: Mutex::new(HashSet::new()),
            system_upgrade_failed: Mutex::new(HashMap::new()),
            host_values_failed: Mutex::new(HashMap::new()),
            slot_locks: std::array::from_fn(|_| Mutex::new(())),
            user_tokens: Mutex::new(HashMap::new()),
            retry_after: Mutex::new(HashMap::new()),
        }
    }

    /// An idempotency claim its holder has not renewed within this was abandoned.
    fn stale_claim_ms(&self) -> i64 {
        millis(self.config.claim_stale_after)
    }

    /// How often a live holder renews its claim: several renewals fit in the stale time.
    fn claim_renewal(&self) -> Duration {
        self.config.claim_stale_after / 4
    }

    /// The solutions on offer, from Tray at most once per TTL.
    pub async fn solutions(&self) -> Result<Vec<Solution>, ProxyError> {
        self.solutions_within(self.catalog_ttl).await
    }

    /// The solutions, from the cache if it is younger than `max_age`, or if it was
    /// fetched since this call began: requests waiting on one fetch all take its list,
    /// however many ask for a fresh one at once.
    async fn solutions_within(&self, max_age: Duration) -> Result<Vec<Solution>, ProxyError> {
        let asked = Instant::now();
        let mut cached = self.catalog.lock().await;
        if let Some((fetch_began, solutions)) = cached.as_ref() {
            if fetch_began.elapsed() < max_age || *fetch_began >= asked {
                return Ok(solutions.clone());
            }
        }
        let fetch_began = Instant::now();
        let solutions = self.tray.list_solutions(&self.tags).await?;
        *cached = Some((fetch_began, solutions.clone()));
        Ok(solutions)
    }

    async fn solution(&self, solution_id: &str) -> Result<Solution, ProxyError> {
        self.solution_within(solution_id, self.catalog_ttl).await
    }

    /// The solution of one of the user's instances: from the catalog, else as Tray lists
    /// it with the instance. A solution no longer offered (unpublished, or outside
    /// SOLUTION_TAGS) still has instances whose auths must be renewable.
    async fn solution_of(
        &self,
        session: &Session,
        stored: &StoredInstance,
    ) -> Result<Solution, ProxyError> {
        match self.solution(&stored.solution_id).await {
            Err(ProxyError::NotFound(_)) => {
                Ok(self.tray_instance(session, &stored.id).await?.solution)
            }
            other => other,
        }
    }

    async fn solution_within(
        &self,
        solution_id: &str,
        max_age: Duration,
    ) -> Result<Solution, ProxyError> {
        self.solutions_within(max_age)
            .await?
            .into_iter()
            .find(|solution| solution.id == solution_id)
            .ok_or_else(|| ProxyError::NotFound(format!("no integration {solution_id}")))
    }

    /// Tray user from our database (created on the first visit), plus a cached user token.
    pub async fn session(&self, user: &HostUser) -> Result<Session, ProxyError> {
        let stored = match self.db.tray_user_id(&user.id).await? {
            Some(id) => id,
            None => self.create_user(user).await?,
        };
        let (tray_user_id, token) = match self.user_token(&stored).await {
            Ok(token) => (stored, token),
            Err(ProxyError::TrayRejected(reason)) => {
                self.recover_user(user, &stored, reason).await?
            }
            Err(err) => return Err(err),
        };
        Ok(Session {
            external_user_id: user.id.clone(),
            tray_user_id,
            token,
        })
    }

    /// `authorize` refused the stored Tray user: ask Tray who the user is before touching
    /// the mapping (a refusal alone does not prove the user is gone).
    async fn recover_user(
        &self,
        user: &HostUser,
        stored: &str,
        reason: String,
    ) -> Result<(String, String), ProxyError> {
        let id = match self.tray.find_user(&user.id).await? {
            // Tray still knows the user as stored: the refusal was about something else.
            Some(found) if found == stored => return Err(ProxyError::TrayRejected(reason)),
            Some(found) => {
                tracing::warn!(%reason, "Tray holds another user for this external id; remapping");
                self.db.remap_user(&user.id, stored, &found).await?;
                // Another replica may have remapped first; the database decides.
                self.db
                    .tray_user_id(&user.id)
                    .await?
                    .ok_or_else(|| ProxyError::Database("the user mapping vanished".into()))?
            }
            None => {
                tracing::warn!(%reason, "Tray no longer knows the stored user; creating it again");
                self.db.forget_user(&user.id, stored).await?;
                self.create_user(user).await?
            }
        };
        let token = self.user_token(&id).await?;
        Ok((id, token))
    }

    async fn create_user(&self, user: &HostUser) -> Result<String, ProxyError> {
        let tray_user_id = match self.tray.create_external_user(&user.id, &user.name).await {
            Ok(id) => id,
            // Created before, but our database lost the mapping (or another replica won).
            Err(ProxyError::TrayRejected(_)) => {
                self.tray.find_user(&user.id).await?.ok_or_else(|| {
                    ProxyError::TrayRejected("Tray refused to create the user".into())
                })?
            }
            Err(err) => return Err(err),
        };
        self.db
            .insert_user(&user.id, &tray_user_id, &user.name)
            .await?;
        // Another replica may have stored its mapping first; the database decides.
        self.db
            .tray_user_id(&user.id)
            .await?
            .ok_or_else(|| ProxyError::Database("the user mapping vanished".into()))
    }

    /// Forget a user token Tray refused, so the next session mints a new one.
    pub async fn drop_user_token(&self, tray_user_id: &str) -> Result<(), ProxyError> {
        self.user_tokens.lock().await.remove(tray_user_id);
        Ok(())
    }

    /// A cached token inside its reuse window, else a fresh `authorize`.
    ///
    /// Tokens live in memory only (per replica): a database copy would be a secret at
    /// rest, and minting one again after a restart costs a single Tray request.
    async fn user_token(&self, tray_user_id: &str) -> Result<String, ProxyError> {
        if let Some((token, renew_after)) = self.user_tokens.lock().await.get(tray_user_id) {
            if now_ms() < *renew_after {
                return Ok(token.clone());
            }
        }
        // Minted without holding the lock, so users never wait for each other's
        // authorize; two concurrent first requests may mint two valid tokens.
        let token = self.tray.authorize(tray_user_id).await?;
        let now = now_ms();
        let renew_after = now + USER_TOKEN_REUSE.as_millis() as i64;
        let mut tokens = self.user_tokens.lock().await;
        // Tokens past their reuse are never handed out again: dropped here, so the map
        // holds the users of the last day, not of the process's lifetime.
        tokens.retain(|_, (_, renew)| *renew > now);
        tokens.insert(tray_user_id.to_owned(), (token.clone(), renew_after));
        Ok(token)
    }

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
                    created_at: adopted_created_at(created_ms(instance), now_ms()),
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
    async fn tray_instance(
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
    fn host_config_values(&self, solution: &Solution) -> Vec<Value> {
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
    async fn host_values_for_upgrade(
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
    fn has_user_settings(&self, solution: &Solution) -> bool {
        solution
            .config_slots
            .iter()
            .any(|slot| !self.config.host_supplies(&solution.id, &slot.external_id))
    }

    /// A setting the host supplies is not the user's to change.
    fn refuse_host_settings(
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

    async fn present(
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
    /// count too, so creates racing with different keys cannot all pass (at the limit,
    /// two that see each other are both refused; one sent again then passes).
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
            .other_creations_under_way(owner, key, self.stale_claim_ms())
            .await?;
        let recorded = self.db.instances_of(owner).await?.len();
        if recorded + under_way < limit {
            return Ok(());
        }
        let held = self.tray.count_instances(&session.token).await?;
        if held + under_way >= limit {
            return Err(ProxyError::LimitReached(format!(
                "you have {held} connections, the most this app allows; delete one to add another"
            )));
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
                created_at: now_ms(),
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
        let remaining = allowed_at - now_ms();
        if remaining > 0 {
            tokio::time::sleep(Duration::from_millis(remaining as u64)).await;
        }
    }

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
    async fn attach_pending(&self, session: &Session, wait: Wait) -> bool {
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

    /// Forget the idempotency keys no retry will send any more (run periodically).
    pub async fn forget_old_keys(&self) -> Result<u64, ProxyError> {
        self.db
            .forget_keys_older_than(millis(self.config.idempotency_key_ttl))
            .await
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
                Err(err) if err.is_transient() => return Err(err),
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

/// Whether any of a user's instances waits for them on a new version.
#[derive(Debug, PartialEq, Eq)]
enum Awaiting {
    No,
    /// Since before the last listing.
    Still,
    /// One started to since the last listing.
    Newly,
}

/// The longest id, slot or key the client sends (Tray's ids are UUIDs): room to spare,
/// not room for a megabyte.
const MAX_ID_CHARS: usize = 200;

/// An id or key the client makes up (or Tray's, relayed): stored and compared as text,
/// so 1 to `max` characters and no control character (Postgres refuses a NUL outright,
/// which would be a 500 instead of the caller's mistake).
fn check_token_text(field: &str, value: &str, max: usize) -> Result<(), ProxyError> {
    if value.is_empty() || value.chars().count() > max {
        return Err(ProxyError::BadRequest(format!(
            "{field} must be 1 to {max} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ProxyError::BadRequest(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

/// A name (trimmed, showing something) is shown as text, in a list: at most 200
/// characters, and a control character (a NUL, a line break) or a bidirectional override
/// (which makes "exe.txt" read as "txt.exe") has no place in it.
fn check_name(name: &str) -> Result<(), ProxyError> {
    if name.chars().count() > 200 {
        return Err(ProxyError::BadRequest(
            "name must be at most 200 characters".into(),
        ));
    }
    if name.chars().any(unfit_in_name) {
        return Err(ProxyError::BadRequest(
            "name must not contain control characters".into(),
        ));
    }
    Ok(())
}

pub(crate) fn unfit_in_name(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

fn enc(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
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

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// When Tray made `instance`, in ms since the epoch. Without a readable time it counts
/// as made now: waiting 2 s too many before enabling is harmless, enabling too early
/// leaves its triggers without a working URL.
fn created_ms(instance: &SolutionInstance) -> i64 {
    instance
        .created
        .as_deref()
        .and_then(|text| {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
        })
        .map_or_else(now_ms, |at| (at.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// When an instance the proxy did not see made counts as made, for the 2 s Tray wants
/// before enabling: Tray's time, unless that is so recent that Tray's clock, maybe
/// behind ours, could put it too early; then now, when it certainly was made.
fn adopted_created_at(tray_created_ms: i64, now_ms: i64) -> i64 {
    now_ms.min(tray_created_ms.saturating_add(CLOCK_SKEW_MS))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_tray_made_a_moment_ago_counts_as_made_now() {
        let now = 1_700_000_000_000;
        // Tray's clock may be behind: "a second ago" could be after our now.
        assert_eq!(adopted_created_at(now - 1_000, now), now);
    }

    #[test]
    fn an_instance_made_long_ago_may_be_enabled_at_once() {
        let now = 1_700_000_000_000;
        let made = adopted_created_at(now - 3_600_000, now);
        assert!(made + 2_000 < now, "no wait: {made}");
    }
}
