//! The proxy's own records, in SQLite by default or Postgres for several replicas: the
//! same SQL through sqlx's `Any` driver (`$n` placeholders work on both).

use sqlx::{any::AnyPoolOptions, AnyPool, Row};
use std::{sync::Arc, time::Duration};

use crate::error::ProxyError;

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS users (
        external_user_id TEXT PRIMARY KEY,
        tray_user_id TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS instances (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        solution_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        ever_enabled BIGINT NOT NULL DEFAULT 0
    )",
    "CREATE INDEX IF NOT EXISTS instances_owner ON instances (owner)",
    // One row per idempotency key, written BEFORE Tray is called: a double click or a
    // retried request finds it and gets the same instance.
    "CREATE TABLE IF NOT EXISTS creations (
        owner TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        instance_id TEXT,
        claimed_at BIGINT NOT NULL,
        PRIMARY KEY (owner, idempotency_key)
    )",
    // Auths the dialog produced but Tray has not yet accepted: attached when it recovers.
    "CREATE TABLE IF NOT EXISTS pending_auths (
        instance_id TEXT NOT NULL,
        slot TEXT NOT NULL,
        auth_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        PRIMARY KEY (instance_id, slot)
    )",
    // Tray user tokens are no longer kept at rest (each replica mints and caches its own
    // in memory): remove the plaintext copies earlier versions stored.
    "DROP TABLE IF EXISTS user_tokens",
    // The Tray rate limit bucket replicas share on Postgres (tray::limiter): `tokens`
    // may go negative, a queue of reservations each waiting for its token.
    "CREATE TABLE IF NOT EXISTS tray_rate_limit (
        name TEXT PRIMARY KEY,
        tokens DOUBLE PRECISION NOT NULL,
        refilled_at DOUBLE PRECISION NOT NULL
    )",
    "INSERT INTO tray_rate_limit (name, tokens, refilled_at) VALUES ('tray', 0, 0)
     ON CONFLICT (name) DO NOTHING",
    "CREATE TABLE IF NOT EXISTS expiring_auths (
        auth_id TEXT PRIMARY KEY,
        noted_at BIGINT NOT NULL
    )",
    // Auths for slots a new solution version adds: Tray accepts them only through
    // upgradeSolutionInstance, so they wait here for the user's upgrade.
    "CREATE TABLE IF NOT EXISTS upgrade_auths (
        instance_id TEXT NOT NULL,
        slot TEXT NOT NULL,
        auth_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        PRIMARY KEY (instance_id, slot)
    )",
    // Instances whose setup has not yet shown the user their settings: Tray fills config
    // slots with their defaults, so a filled slot does not mean the user saw it. For a
    // solution the user enables by hand, this is what tells "still setting up" from
    // "set up, waiting to be enabled" after a reload.
    "CREATE TABLE IF NOT EXISTS unconfirmed_configs (
        instance_id TEXT PRIMARY KEY
    )",
    // When each idempotency key's first create began (its claim is restamped while held
    // and taken over after a crash): a create whose answer was lost made an instance no
    // older than this.
    "CREATE TABLE IF NOT EXISTS creation_starts (
        owner TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        PRIMARY KEY (owner, idempotency_key)
    )",
    // What each idempotency key's create asked for (`name` NULL: the solution's title), so
    // that a key sent again with another request is refused instead of answered with the
    // first one's instance. A table of its own: replicas of an earlier version, still
    // running during a rolling deploy, write `creation_starts` alone.
    "CREATE TABLE IF NOT EXISTS creation_requests (
        owner TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        solution_id TEXT NOT NULL,
        name TEXT,
        PRIMARY KEY (owner, idempotency_key)
    )",
    // When a key's create last went unanswered by Tray (timed out, a gateway's 504):
    // Tray may still make the instance, so for a while its retry makes none in its place.
    "CREATE TABLE IF NOT EXISTS creation_unanswered (
        owner TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (owner, idempotency_key)
    )",
    // Which idempotency key each instance was made for, one key per instance: retries of
    // two creates whose answers were lost may both find one instance Tray made, and the
    // primary key gives it to one of them (the other looks for its own). A table of its
    // own: `creations` may hold one instance under two keys from before it.
    "CREATE TABLE IF NOT EXISTS instance_keys (
        instance_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        idempotency_key TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS instance_keys_key ON instance_keys (owner, idempotency_key)",
    // When a request last sent each idempotency key: keys are forgotten a day after it.
    "CREATE TABLE IF NOT EXISTS key_uses (
        owner TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        used_at BIGINT NOT NULL,
        PRIMARY KEY (owner, idempotency_key)
    )",
    "CREATE INDEX IF NOT EXISTS key_uses_used_at ON key_uses (used_at)",
];

/// Replicas starting together on one Postgres would race on `CREATE TABLE IF NOT
/// EXISTS`; an advisory lock on one connection lets one migrate at a time.
async fn migrate(pool: &AnyPool, postgres: bool) -> Result<(), ProxyError> {
    const MIGRATION_LOCK: i64 = 0x7472_6179;
    let mut connection = pool.acquire().await?;
    if postgres {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *connection)
            .await?;
    }
    let mut result = Ok(());
    for statement in MIGRATIONS {
        if let Err(err) = sqlx::query(statement).execute(&mut *connection).await {
            result = Err(err.into());
            break;
        }
    }
    if postgres {
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *connection)
            .await?;
    }
    result
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    postgres: bool,
    /// Holds the database file when `sqlite::memory:` was asked for (see `connect`);
    /// the directory goes with the last handle.
    _temporary: Option<Arc<tempfile::TempDir>>,
}

#[derive(Debug, Clone)]
pub struct StoredInstance {
    pub id: String,
    pub owner: String,
    pub solution_id: String,
    pub created_at: i64,
    pub ever_enabled: bool,
    /// The user has not saved its settings yet (see `unconfirmed_configs`).
    pub config_unconfirmed: bool,
}

/// Where an auth the user authorized waits for Tray.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthList {
    /// Received while Tray was failing: attached when it recovers.
    Pending,
    /// For a slot a new solution version adds: Tray accepts it only through
    /// upgradeSolutionInstance, so it waits for the user's upgrade.
    Upgrade,
}

impl AuthList {
    fn table(self) -> &'static str {
        match self {
            AuthList::Pending => "pending_auths",
            AuthList::Upgrade => "upgrade_auths",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PendingAuth {
    pub instance_id: String,
    pub slot: String,
    pub auth_id: String,
    pub owner: String,
}

/// What a create asked for, which its idempotency key stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationRequest {
    pub solution_id: String,
    /// The name asked for, trimmed; `None` for the solution's title.
    pub name: Option<String>,
}

/// What an idempotency key currently stands for.
pub enum Claim {
    /// We hold the key: create the instance now. The stamp identifies our hold (see
    /// [`crate::lease::Lease`]).
    Won(i64),
    /// We took over a key whose holder stopped renewing it (it crashed, or its answer
    /// from Tray was lost): its instance may exist at Tray already.
    TakenOver(i64),
    /// Another request holds it and has finished.
    Done(String),
    /// Another request holds it and is still talking to Tray.
    InFlight,
}

fn is_in_memory(url: &str) -> bool {
    url.starts_with("sqlite") && (url.contains(":memory:") || url.contains("mode=memory"))
}

/// SQLite is one file: a few connections serve it (one writer at a time anyway).
fn pool_size(url: &str, postgres_connections: u32) -> u32 {
    if url.starts_with("sqlite") {
        4
    } else {
        postgres_connections.max(1)
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Db {
    pub async fn connect(url: &str) -> Result<Db, ProxyError> {
        Self::connect_with(url, 16).await
    }

    /// `connect`, with a Postgres pool of at most `postgres_connections`.
    pub async fn connect_with(url: &str, postgres_connections: u32) -> Result<Db, ProxyError> {
        sqlx::any::install_default_drivers();
        // `sqlite::memory:` is served from a file in a temporary directory: an in-memory
        // SQLite database lives only as long as its connection, and sqlx closes a
        // connection whose query was cancelled (a request timeout, a client gone), so the
        // data would silently vanish mid-run.
        let temporary = if is_in_memory(url) {
            let dir = tempfile::TempDir::with_prefix("marketplace-proxy-").map_err(|err| {
                ProxyError::Config(format!("cannot create a temporary database: {err}"))
            })?;
            Some(Arc::new(dir))
        } else {
            None
        };
        let url = match &temporary {
            Some(dir) => format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("proxy.db").display()
            ),
            None => url.to_owned(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(pool_size(&url, postgres_connections))
            .acquire_timeout(Duration::from_secs(10))
            .connect(&url)
            .await
            .map_err(|err| ProxyError::Config(format!("cannot open the database: {err}")))?;
        let postgres = url.starts_with("postgres");
        migrate(&pool, postgres).await?;
        Ok(Db {
            pool,
            postgres,
            _temporary: temporary,
        })
    }

    /// Several replicas may share this database.
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// Take one token from the shared Tray bucket (Postgres only), unless the balance
    /// left would fall below `deepest`: then `None`, and nothing is taken. A negative
    /// balance: the caller is queued and may send after `-balance / per_second` seconds.
    /// The row lock serialises replicas; the database's clock is the only clock.
    pub async fn reserve_tray_request(
        &self,
        per_second: f64,
        burst: f64,
        deepest: f64,
    ) -> Result<Option<f64>, ProxyError> {
        // FOR UPDATE: the row as the last replica left it, locked until the update.
        let row = sqlx::query(
            "WITH bucket AS (
                 SELECT LEAST($1::float8, tokens + GREATEST(0::float8,
                            EXTRACT(EPOCH FROM clock_timestamp())::float8 - refilled_at) * $2::float8)
                        AS refilled
                 FROM tray_rate_limit WHERE name = 'tray' FOR UPDATE
             )
             UPDATE tray_rate_limit
             SET tokens = CASE WHEN bucket.refilled - 1 >= $3::float8
                               THEN bucket.refilled - 1 ELSE bucket.refilled END,
                 refilled_at = GREATEST(refilled_at, EXTRACT(EPOCH FROM clock_timestamp())::float8)
             FROM bucket
             WHERE name = 'tray'
             RETURNING bucket.refilled - 1",
        )
        .bind(burst)
        .bind(per_second)
        .bind(deepest)
        .fetch_one(&self.pool)
        .await?;
        let balance = row.get::<f64, _>(0);
        Ok((balance >= deepest).then_some(balance))
    }

    pub async fn tray_user_id(&self, external_user_id: &str) -> Result<Option<String>, ProxyError> {
        let row = sqlx::query("SELECT tray_user_id FROM users WHERE external_user_id = $1")
            .bind(external_user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.get::<String, _>(0)))
    }

    /// Record the mapping; if another replica won the race, its mapping stands.
    pub async fn insert_user(
        &self,
        external_user_id: &str,
        tray_user_id: &str,
        name: &str,
    ) -> Result<(), ProxyError> {
        sqlx::query(
            "INSERT INTO users (external_user_id, tray_user_id, name, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (external_user_id) DO NOTHING",
        )
        .bind(external_user_id)
        .bind(tray_user_id)
        .bind(name)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Claim `key` for a create. A claim whose stamp is older than `stale_after_ms` was
    /// abandoned (its holder renews it while alive) and is taken over.
    /// Now, in unix ms, by the clock claims are stamped with: the database's on Postgres,
    /// so that replicas whose clocks differ judge a claim's age alike (one running ahead
    /// would take a live claim over, and the instance would be created twice), and an
    /// instance's age (one running behind would enable it too early on another).
    pub async fn clock_ms(&self) -> Result<i64, ProxyError> {
        if !self.postgres {
            return Ok(now_ms());
        }
        let row =
            sqlx::query("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)")
                .fetch_one(&self.pool)
                .await?;
        Ok(row.get::<i64, _>(0))
    }

    pub async fn claim_creation(
        &self,
        owner: &str,
        key: &str,
        stale_after_ms: i64,
    ) -> Result<Claim, ProxyError> {
        // The row can vanish between the insert and the read (its holder released it):
        // then the insert is simply tried again.
        for _ in 0..3 {
            let stamp = self.clock_ms().await?;
            let inserted = sqlx::query(
                "INSERT INTO creations (owner, idempotency_key, instance_id, claimed_at) VALUES ($1, $2, NULL, $3)
                 ON CONFLICT (owner, idempotency_key) DO NOTHING",
            )
            .bind(owner)
            .bind(key)
            .bind(stamp)
            .execute(&self.pool)
            .await?;
            if inserted.rows_affected() == 1 {
                return Ok(Claim::Won(stamp));
            }
            let Some(row) = sqlx::query(
                "SELECT instance_id, claimed_at FROM creations WHERE owner = $1 AND idempotency_key = $2",
            )
            .bind(owner)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            else {
                continue;
            };
            if let Some(id) = row.get::<Option<String>, _>(0) {
                return Ok(Claim::Done(id));
            }
            let claimed_at: i64 = row.get(1);
            if stamp - claimed_at <= stale_after_ms {
                return Ok(Claim::InFlight);
            }
            return Ok(match self.restamp_claim(owner, key, claimed_at).await? {
                Some(stamp) => Claim::TakenOver(stamp),
                // Another request took it over first.
                None => Claim::InFlight,
            });
        }
        Ok(Claim::InFlight)
    }

    /// Notes that a create under `key` began at `at`, asking for `request` (a key is
    /// claimed afresh only when no create holds it: an earlier start is of a create that
    /// made nothing).
    pub async fn note_creation_start(
        &self,
        owner: &str,
        key: &str,
        at: i64,
        request: &CreationRequest,
    ) -> Result<(), ProxyError> {
        self.note_request(owner, key, request, true).await?;
        sqlx::query(
            "INSERT INTO creation_starts (owner, idempotency_key, started_at) VALUES ($1, $2, $3)
             ON CONFLICT (owner, idempotency_key) DO UPDATE SET started_at = excluded.started_at",
        )
        .bind(owner)
        .bind(key)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ties `key` to `request`: in its place (`replace`), or only if no request stands
    /// for it yet (a claim an earlier version's replica left, taken over).
    pub async fn note_request(
        &self,
        owner: &str,
        key: &str,
        request: &CreationRequest,
        replace: bool,
    ) -> Result<(), ProxyError> {
        let on_conflict = if replace {
            "DO UPDATE SET solution_id = excluded.solution_id, name = excluded.name"
        } else {
            "DO NOTHING"
        };
        sqlx::query(&format!(
            "INSERT INTO creation_requests (owner, idempotency_key, solution_id, name) VALUES ($1, $2, $3, $4)
             ON CONFLICT (owner, idempotency_key) {on_conflict}"
        ))
        .bind(owner)
        .bind(key)
        .bind(&request.solution_id)
        .bind(request.name.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// What the create that claimed `key` asked for, if it was noted (a claim of an
    /// earlier version's replica was not).
    pub async fn creation_request(
        &self,
        owner: &str,
        key: &str,
    ) -> Result<Option<CreationRequest>, ProxyError> {
        let row = sqlx::query(
            "SELECT solution_id, name FROM creation_requests WHERE owner = $1 AND idempotency_key = $2",
        )
        .bind(owner)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| CreationRequest {
            solution_id: row.get(0),
            name: row.get(1),
        }))
    }

    /// The owner's other creates under way (started, nothing recorded yet, and either
    /// claimed with a claim renewed within `stale_after_ms`, or left when Tray did not
    /// answer within `unanswered_grace_ms`, as Tray may still make their instance):
    /// what the user may hold once they are done, beyond their recorded instances. (The
    /// proxy's own guard claims have no start, and are not creates.)
    pub async fn other_creations_under_way(
        &self,
        owner: &str,
        key: &str,
        stale_after_ms: i64,
        unanswered_grace_ms: i64,
    ) -> Result<usize, ProxyError> {
        let now = self.clock_ms().await?;
        let row = sqlx::query(
            "SELECT COUNT(*) FROM creations c
             JOIN creation_starts s ON s.owner = c.owner AND s.idempotency_key = c.idempotency_key
             WHERE c.owner = $1 AND c.idempotency_key <> $2 AND c.instance_id IS NULL
               AND (c.claimed_at > $3 OR EXISTS (
                   SELECT 1 FROM creation_unanswered u
                   WHERE u.owner = c.owner AND u.idempotency_key = c.idempotency_key
                     AND u.at > $4))",
        )
        .bind(owner)
        .bind(key)
        .bind(now - stale_after_ms)
        .bind(now - unanswered_grace_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(usize::try_from(row.get::<i64, _>(0)).unwrap_or_default())
    }

    /// When `key`'s first create began, if noted.
    pub async fn creation_start(&self, owner: &str, key: &str) -> Result<Option<i64>, ProxyError> {
        let row = sqlx::query(
            "SELECT started_at FROM creation_starts WHERE owner = $1 AND idempotency_key = $2",
        )
        .bind(owner)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| row.get(0)))
    }

    /// Move an unfinished claim from stamp `held` to a new one; `None` if `held` no
    /// longer holds it (taken over, released or finished meanwhile).
    pub async fn restamp_claim(
        &self,
        owner: &str,
        key: &str,
        held: i64,
    ) -> Result<Option<i64>, ProxyError> {
        // Strictly later, so that a stamp never names two holds.
        let stamp = self.clock_ms().await?.max(held + 1);
        let moved = sqlx::query(
            "UPDATE creations SET claimed_at = $1
             WHERE owner = $2 AND idempotency_key = $3 AND instance_id IS NULL AND claimed_at = $4",
        )
        .bind(stamp)
        .bind(owner)
        .bind(key)
        .bind(held)
        .execute(&self.pool)
        .await?;
        Ok((moved.rows_affected() == 1).then_some(stamp))
    }

    /// Leave an unfinished claim for the next request to take over (and reconcile), if
    /// the hold `held` still has it.
    pub async fn expire_claim(&self, owner: &str, key: &str, held: i64) -> Result<(), ProxyError> {
        self.on_held_claim("UPDATE creations SET claimed_at = 0", owner, key, held)
            .await
    }

    /// Give up an unfinished claim, if the hold `held` still has it (a hold taken over
    /// since must not free the key under its new holder). The key is then free for any
    /// request, so what this one asked for goes first, while the claim still holds it
    /// (afterwards, the next holder's request may already stand there): a replica of an
    /// earlier version claiming it next would not note its own.
    pub async fn release_creation(
        &self,
        owner: &str,
        key: &str,
        held: i64,
    ) -> Result<(), ProxyError> {
        sqlx::query(
            "DELETE FROM creation_requests WHERE owner = $1 AND idempotency_key = $2
               AND EXISTS (SELECT 1 FROM creations WHERE owner = $1 AND idempotency_key = $2
                           AND instance_id IS NULL AND claimed_at = $3)",
        )
        .bind(owner)
        .bind(key)
        .bind(held)
        .execute(&self.pool)
        .await?;
        self.on_held_claim("DELETE FROM creations", owner, key, held)
            .await
    }

    /// `statement`, limited to the claim on `key` while `held` holds it unfinished.
    async fn on_held_claim(
        &self,
        statement: &str,
        owner: &str,
        key: &str,
        held: i64,
    ) -> Result<(), ProxyError> {
        sqlx::query(&format!(
            "{statement} WHERE owner = $1 AND idempotency_key = $2 AND instance_id IS NULL AND claimed_at = $3"
        ))
        .bind(owner)
        .bind(key)
        .bind(held)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn record_instance(
        &self,
        owner: &str,
        key: &str,
        instance: &StoredInstance,
    ) -> Result<(), ProxyError> {
        // First, so that no read of the new row finds it without this mark.
        if instance.config_unconfirmed {
            sqlx::query(
                "INSERT INTO unconfirmed_configs (instance_id) VALUES ($1) ON CONFLICT (instance_id) DO NOTHING",
            )
            .bind(&instance.id)
            .execute(&self.pool)
            .await?;
        }
        sqlx::query(
            "INSERT INTO instances (id, owner, solution_id, created_at, ever_enabled) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&instance.id)
        .bind(owner)
        .bind(&instance.solution_id)
        .bind(instance.created_at)
        .bind(i64::from(instance.ever_enabled))
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "UPDATE creations SET instance_id = $1 WHERE owner = $2 AND idempotency_key = $3",
        )
        .bind(&instance.id)
        .bind(owner)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ties `instance_id` to the create under `key`, unless another key has it: whether
    /// it is this key's now. Atomic on both databases (the table's primary key), so two
    /// creates looking for their lost answers at once cannot both take one instance.
    pub async fn bind_instance_key(
        &self,
        owner: &str,
        key: &str,
        instance_id: &str,
    ) -> Result<bool, ProxyError> {
        sqlx::query(
            "INSERT INTO instance_keys (instance_id, owner, idempotency_key) VALUES ($1, $2, $3)
             ON CONFLICT (instance_id) DO NOTHING",
        )
        .bind(instance_id)
        .bind(owner)
        .bind(key)
        .execute(&self.pool)
        .await?;
        let holder =
            sqlx::query("SELECT owner, idempotency_key FROM instance_keys WHERE instance_id = $1")
                .bind(instance_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(holder
            .is_some_and(|row| row.get::<String, _>(0) == owner && row.get::<String, _>(1) == key))
    }

    /// Notes, by the database's clock (replicas' clocks may differ), that the create
    /// under `key` just went unanswered.
    pub async fn note_unanswered(&self, owner: &str, key: &str) -> Result<(), ProxyError> {
        self.stamp_key_now("creation_unanswered", "at", owner, key)
            .await
    }

    /// How long ago the create under `key` last went unanswered, if it ever did.
    pub async fn unanswered_age_ms(
        &self,
        owner: &str,
        key: &str,
    ) -> Result<Option<i64>, ProxyError> {
        let row = sqlx::query(
            "SELECT at FROM creation_unanswered WHERE owner = $1 AND idempotency_key = $2",
        )
        .bind(owner)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let at: i64 = row.get(0);
        Ok(Some(self.clock_ms().await? - at))
    }

    /// The instance bound to `key`, if any (its create may have failed to record it).
    pub async fn instance_bound_to(
        &self,
        owner: &str,
        key: &str,
    ) -> Result<Option<String>, ProxyError> {
        let row = sqlx::query(
            "SELECT instance_id FROM instance_keys WHERE owner = $1 AND idempotency_key = $2",
        )
        .bind(owner)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| row.get(0)))
    }

    /// The instances the owner's idempotency keys stand for.
    pub async fn keyed_instance_ids(
        &self,
        owner: &str,
    ) -> Result<std::collections::HashSet<String>, ProxyError> {
        let rows = sqlx::query(
            "SELECT instance_id FROM creations WHERE owner = $1 AND instance_id IS NOT NULL",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    pub async fn instances_of(&self, owner: &str) -> Result<Vec<StoredInstance>, ProxyError> {
        let rows = sqlx::query(&format!("{SELECT_INSTANCES} WHERE owner = $1"))
            .bind(owner)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(stored_instance).collect())
    }

    /// The instance, only if `owner` owns it.
    pub async fn owned_instance(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<Option<StoredInstance>, ProxyError> {
        let row = sqlx::query(&format!("{SELECT_INSTANCES} WHERE id = $1 AND owner = $2"))
            .bind(id)
            .bind(owner)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(stored_instance))
    }

    pub async fn mark_enabled(&self, id: &str) -> Result<(), ProxyError> {
        sqlx::query("UPDATE instances SET ever_enabled = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        // Enabled means set up, settings seen or not.
        self.confirm_config(id).await
    }

    /// The user saved the instance's settings.
    pub async fn confirm_config(&self, id: &str) -> Result<(), ProxyError> {
        sqlx::query("DELETE FROM unconfirmed_configs WHERE instance_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn forget_instance(&self, id: &str) -> Result<(), ProxyError> {
        for statement in [
            "DELETE FROM instances WHERE id = $1",
            "DELETE FROM pending_auths WHERE instance_id = $1",
            "DELETE FROM upgrade_auths WHERE instance_id = $1",
            "DELETE FROM unconfirmed_configs WHERE instance_id = $1",
            "DELETE FROM instance_keys WHERE instance_id = $1",
        ] {
            sqlx::query(statement).bind(id).execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Keep `auth` in `list` (replacing an earlier one for its slot).
    pub async fn save_auth(&self, list: AuthList, auth: &PendingAuth) -> Result<(), ProxyError> {
        let table = list.table();
        // One statement: two saves for one slot at once (two replicas, or an attach and
        // an upgrade's keep) both succeed, the later one kept.
        sqlx::query(&format!(
            "INSERT INTO {table} (instance_id, slot, auth_id, owner, received_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (instance_id, slot) DO UPDATE SET auth_id = excluded.auth_id, \
             owner = excluded.owner, received_at = excluded.received_at"
        ))
        .bind(&auth.instance_id)
        .bind(&auth.slot)
        .bind(&auth.auth_id)
        .bind(&auth.owner)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether `auth` is still the one kept in `list` for its slot.
    pub async fn kept_auth(&self, list: AuthList, auth: &PendingAuth) -> Result<bool, ProxyError> {
        let table = list.table();
        let row = sqlx::query(&format!(
            "SELECT 1 FROM {table} WHERE instance_id = $1 AND slot = $2 AND auth_id = $3"
        ))
        .bind(&auth.instance_id)
        .bind(&auth.slot)
        .bind(&auth.auth_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Every auth in `list`, or only `owner`'s.
    pub async fn auths(
        &self,
        list: AuthList,
        owner: Option<&str>,
    ) -> Result<Vec<PendingAuth>, ProxyError> {
        let select = format!(
            "SELECT instance_id, slot, auth_id, owner FROM {}",
            list.table()
        );
        let rows = match owner {
            Some(owner) => {
                sqlx::query(&format!("{select} WHERE owner = $1"))
                    .bind(owner)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => sqlx::query(&select).fetch_all(&self.pool).await?,
        };
        Ok(rows
            .iter()
            .map(|row| PendingAuth {
                instance_id: row.get(0),
                slot: row.get(1),
                auth_id: row.get(2),
                owner: row.get(3),
            })
            .collect())
    }

    /// Remove `auth` from `list` once Tray holds it (unless a newer one replaced it).
    pub async fn clear_auth(&self, list: AuthList, auth: &PendingAuth) -> Result<(), ProxyError> {
        let table = list.table();
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE instance_id = $1 AND slot = $2 AND auth_id = $3"
        ))
        .bind(&auth.instance_id)
        .bind(&auth.slot)
        .bind(&auth.auth_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Point the mapping at the Tray user Tray now holds for `external_user_id`.
    pub async fn remap_user(
        &self,
        external_user_id: &str,
        old_tray_user_id: &str,
        new_tray_user_id: &str,
    ) -> Result<(), ProxyError> {
        sqlx::query(
            "UPDATE users SET tray_user_id = $1 WHERE external_user_id = $2 AND tray_user_id = $3",
        )
        .bind(new_tray_user_id)
        .bind(external_user_id)
        .bind(old_tray_user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Drop a mapping Tray no longer honours.
    pub async fn forget_user(
        &self,
        external_user_id: &str,
        tray_user_id: &str,
    ) -> Result<(), ProxyError> {
        sqlx::query("DELETE FROM users WHERE external_user_id = $1 AND tray_user_id = $2")
            .bind(external_user_id)
            .bind(tray_user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Notes that a request sent `key` just now (by the claims' clock): a key is
    /// forgotten a day after its last use.
    pub async fn note_key_use(&self, owner: &str, key: &str) -> Result<(), ProxyError> {
        self.stamp_key_now("key_uses", "used_at", owner, key).await
    }

    /// Sets `table`'s `column` for `key` to now, by the claims' clock.
    async fn stamp_key_now(
        &self,
        table: &str,
        column: &str,
        owner: &str,
        key: &str,
    ) -> Result<(), ProxyError> {
        let now = self.clock_ms().await?;
        sqlx::query(&format!(
            "INSERT INTO {table} (owner, idempotency_key, {column}) VALUES ($1, $2, $3)
             ON CONFLICT (owner, idempotency_key) DO UPDATE SET {column} = excluded.{column}"
        ))
        .bind(owner)
        .bind(key)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// [`Self::forget_keys_used_before`] `age_ms` ago.
    pub async fn forget_keys_older_than(&self, age_ms: i64) -> Result<u64, ProxyError> {
        let cutoff_ms = self.clock_ms().await? - age_ms;
        self.forget_keys_used_before(cutoff_ms).await
    }

    /// Forgets the idempotency keys no request has sent since `cutoff_ms` (unix ms, the
    /// claims' clock), with what their creates noted: every create leaves rows behind,
    /// and a key is only ever sent again by a retry. A key whose claim was stamped since
    /// (held, or taken over) stays. Keys no use was noted for (claimed by a proxy of an
    /// earlier version) count as used now. Returns how many keys went.
    ///
    /// Each statement checks the key's last use itself, so a key sent again meanwhile
    /// (by another replica) keeps everything its request wrote.
    pub async fn forget_keys_used_before(&self, cutoff_ms: i64) -> Result<u64, ProxyError> {
        let now = self.clock_ms().await?;
        sqlx::query(
            "INSERT INTO key_uses (owner, idempotency_key, used_at)
             SELECT owner, idempotency_key, $1 FROM creations c
             WHERE NOT EXISTS (SELECT 1 FROM key_uses u
                               WHERE u.owner = c.owner AND u.idempotency_key = c.idempotency_key)
             ON CONFLICT (owner, idempotency_key) DO NOTHING",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        // What the creates noted first, their claims next, the uses last: a run cut
        // short leaves keys to the next one, never notes without their key's claim.
        for table in [
            "creation_requests",
            "creation_starts",
            "creation_unanswered",
        ] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE {unused} AND NOT EXISTS (
                   SELECT 1 FROM creations c WHERE c.owner = {table}.owner
                     AND c.idempotency_key = {table}.idempotency_key AND c.claimed_at >= $1)",
                unused = unused_since(table)
            ))
            .bind(cutoff_ms)
            .execute(&self.pool)
            .await?;
        }
        // The stamp is checked on the row itself: a takeover restamping it meanwhile
        // keeps it (on Postgres, the delete re-reads a row updated under it).
        let forgotten = sqlx::query(&format!(
            "DELETE FROM creations WHERE claimed_at < $1 AND {}",
            unused_since("creations")
        ))
        .bind(cutoff_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        sqlx::query(
            "DELETE FROM key_uses WHERE used_at < $1 AND NOT EXISTS (
               SELECT 1 FROM creations c
               WHERE c.owner = key_uses.owner AND c.idempotency_key = key_uses.idempotency_key)",
        )
        .bind(cutoff_ms)
        .execute(&self.pool)
        .await?;
        Ok(forgotten)
    }

    pub async fn note_expiring(&self, auth_id: &str) -> Result<(), ProxyError> {
        sqlx::query("INSERT INTO expiring_auths (auth_id, noted_at) VALUES ($1, $2) ON CONFLICT (auth_id) DO NOTHING")
            .bind(auth_id)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn clear_expiring(&self, auth_id: &str) -> Result<(), ProxyError> {
        sqlx::query("DELETE FROM expiring_auths WHERE auth_id = $1")
            .bind(auth_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Which of `auth_ids` Tray said expire soon: read for these only, since the table
    /// holds every user's notices.
    pub async fn expiring_among(
        &self,
        auth_ids: &[&str],
    ) -> Result<std::collections::HashSet<String>, ProxyError> {
        let mut found = std::collections::HashSet::new();
        // Within any database's limit on bound parameters.
        for chunk in auth_ids.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT auth_id FROM expiring_auths WHERE auth_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for auth_id in chunk {
                query = query.bind(*auth_id);
            }
            let rows = query.fetch_all(&self.pool).await?;
            found.extend(rows.iter().map(|row| row.get::<String, _>(0)));
        }
        Ok(found)
    }
}

/// `table`'s rows whose key no request has sent since `$1`.
fn unused_since(table: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM key_uses u WHERE u.owner = {table}.owner
           AND u.idempotency_key = {table}.idempotency_key AND u.used_at < $1)"
    )
}

/// The columns `stored_instance` reads.
/// (A BIGINT, not a boolean: SQLite has none, and sqlx's `Any` decodes one type per column.)
const SELECT_INSTANCES: &str = "SELECT id, owner, solution_id, created_at, ever_enabled, \
     CAST(CASE WHEN EXISTS (SELECT 1 FROM unconfirmed_configs \
       WHERE unconfirmed_configs.instance_id = instances.id) THEN 1 ELSE 0 END AS BIGINT) \
     FROM instances";

fn stored_instance(row: &sqlx::any::AnyRow) -> StoredInstance {
    StoredInstance {
        id: row.get(0),
        owner: row.get(1),
        solution_id: row.get(2),
        created_at: row.get(3),
        ever_enabled: row.get::<i64, _>(4) != 0,
        config_unconfirmed: row.get::<i64, _>(5) != 0,
    }
}
