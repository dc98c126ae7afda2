//! Persistence in SQLite: users, tokens, codes, instances, authentications, versions.
//!
//! Queries are plain `sqlx::query` with bound parameters, so the crate builds without a
//! database at compile time.

use serde::{Deserialize, Serialize};
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow},
    Row, SqlitePool,
};
use std::path::Path;

use crate::{
    catalog::{AuthSlotDef, ConfigSlotDef},
    error::SandboxError,
};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS users (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    external_user_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS codes (
    code TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS instances (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    solution_id TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    auth_values TEXT NOT NULL,
    config_values TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    version INTEGER NOT NULL,
    trigger_broken INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS authentications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    service TEXT NOT NULL,
    data TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS workflow_runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    workflow_index INTEGER NOT NULL,
    body TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS solution_versions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    solution_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    auth_slots TEXT NOT NULL,
    config_slots TEXT NOT NULL,
    needs TEXT NOT NULL,
    published_ms INTEGER NOT NULL,
    UNIQUE (solution_id, version)
);
"#;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// ISO-8601 UTC with milliseconds, as Tray's `DateTime`.
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredAuthValue {
    pub external_id: String,
    pub auth_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredConfigValue {
    pub external_id: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone)]
pub struct UserRow {
    pub seq: i64,
    pub id: String,
    pub external_user_id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct InstanceRow {
    pub seq: i64,
    pub id: String,
    pub owner: String,
    pub solution_id: String,
    pub name: String,
    pub enabled: bool,
    pub auth_values: Vec<StoredAuthValue>,
    pub config_values: Vec<StoredConfigValue>,
    pub created_ms: i64,
    pub version: i64,
    pub trigger_broken: bool,
}

#[derive(Debug, Clone)]
pub struct AuthRow {
    pub seq: i64,
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub service: String,
    pub data: String,
    pub created_ms: i64,
}

/// What a new solution version asks of existing instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionNeeds {
    /// Applies itself (a lazy update) after the configured delay.
    None,
    /// The end user must provide new auth/config values.
    User,
    /// The host supplies values through `upgradeSolutionInstance`.
    System,
}

impl VersionNeeds {
    fn as_str(self) -> &'static str {
        match self {
            VersionNeeds::None => "none",
            VersionNeeds::User => "user",
            VersionNeeds::System => "system",
        }
    }

    fn parse(text: &str) -> VersionNeeds {
        match text {
            "user" => VersionNeeds::User,
            "system" => VersionNeeds::System,
            _ => VersionNeeds::None,
        }
    }
}

/// A published solution version beyond the catalog's (version 1).
#[derive(Debug, Clone)]
pub struct VersionRow {
    pub version: i64,
    pub auth_slots: Vec<AuthSlotDef>,
    pub config_slots: Vec<ConfigSlotDef>,
    pub needs: VersionNeeds,
    pub published_ms: i64,
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Holds the database file when none was given (see `open`); the directory goes
    /// with the last handle.
    _temporary: Option<std::sync::Arc<tempfile::TempDir>>,
}

fn db_error(err: impl std::fmt::Display) -> SandboxError {
    SandboxError::Database(err.to_string())
}

fn json_column<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, SandboxError> {
    serde_json::from_str(text).map_err(db_error)
}

fn to_json<T: Serialize>(value: &T) -> Result<String, SandboxError> {
    serde_json::to_string(value).map_err(db_error)
}

const USER_COLUMNS: &str = "SELECT seq, id, external_user_id, name FROM users";
const INSTANCE_COLUMNS: &str = "SELECT seq, id, owner, solution_id, name, enabled, auth_values, \
     config_values, created_ms, version, trigger_broken FROM instances";
const AUTH_COLUMNS: &str =
    "SELECT seq, id, user_id, name, service, data, created_ms FROM authentications";

fn user_row(row: &SqliteRow) -> Result<UserRow, SandboxError> {
    Ok(UserRow {
        seq: row.try_get("seq").map_err(db_error)?,
        id: row.try_get("id").map_err(db_error)?,
        external_user_id: row.try_get("external_user_id").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
    })
}

fn instance_row(row: &SqliteRow) -> Result<InstanceRow, SandboxError> {
    let auth_values: String = row.try_get("auth_values").map_err(db_error)?;
    let config_values: String = row.try_get("config_values").map_err(db_error)?;
    Ok(InstanceRow {
        seq: row.try_get("seq").map_err(db_error)?,
        id: row.try_get("id").map_err(db_error)?,
        owner: row.try_get("owner").map_err(db_error)?,
        solution_id: row.try_get("solution_id").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        enabled: row.try_get("enabled").map_err(db_error)?,
        auth_values: json_column(&auth_values)?,
        config_values: json_column(&config_values)?,
        created_ms: row.try_get("created_ms").map_err(db_error)?,
        version: row.try_get("version").map_err(db_error)?,
        trigger_broken: row.try_get("trigger_broken").map_err(db_error)?,
    })
}

fn auth_row(row: &SqliteRow) -> Result<AuthRow, SandboxError> {
    Ok(AuthRow {
        seq: row.try_get("seq").map_err(db_error)?,
        id: row.try_get("id").map_err(db_error)?,
        user_id: row.try_get("user_id").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        service: row.try_get("service").map_err(db_error)?,
        data: row.try_get("data").map_err(db_error)?,
        created_ms: row.try_get("created_ms").map_err(db_error)?,
    })
}

impl Store {
    /// Open (creating if missing) the database file, or a temporary one.
    pub async fn open(path: Option<&Path>) -> Result<Store, SandboxError> {
        // Without a file the data lives in a temporary directory rather than in memory: a
        // private in-memory SQLite database dies with its connection, and sqlx closes a
        // connection whose query was cancelled by a client that went away.
        let temporary = match path {
            Some(_) => None,
            None => Some(std::sync::Arc::new(
                tempfile::TempDir::with_prefix("tray-sandbox-").map_err(db_error)?,
            )),
        };
        let temporary_file = temporary.as_ref().map(|dir| dir.path().join("sandbox.db"));
        let path = path
            .or(temporary_file.as_deref())
            .ok_or_else(|| db_error("no database path"))?;
        // WAL lets readers proceed during a write; the busy timeout makes concurrent
        // writers wait instead of failing.
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool_options = SqlitePoolOptions::new().max_connections(4);
        let pool = pool_options.connect_with(options).await.map_err(db_error)?;
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(db_error)?;
        Ok(Store {
            pool,
            _temporary: temporary,
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    // --- users -------------------------------------------------------------------------

    pub async fn create_user(
        &self,
        external_user_id: &str,
        name: &str,
    ) -> Result<UserRow, SandboxError> {
        let id = new_id();
        let result = sqlx::query("INSERT INTO users (id, external_user_id, name) VALUES (?, ?, ?)")
            .bind(&id)
            .bind(external_user_id)
            .bind(name)
            .execute(&self.pool)
            .await;
        match result {
            Ok(done) => Ok(UserRow {
                seq: done.last_insert_rowid(),
                id,
                external_user_id: external_user_id.into(),
                name: name.into(),
            }),
            Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                Err(SandboxError::Conflict(format!(
                    "A user with externalUserId \"{external_user_id}\" already exists"
                )))
            }
            Err(err) => Err(db_error(err)),
        }
    }

    pub async fn users(&self) -> Result<Vec<UserRow>, SandboxError> {
        let rows = sqlx::query(&format!("{USER_COLUMNS} ORDER BY seq"))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(user_row).collect()
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserRow>, SandboxError> {
        let row = sqlx::query(&format!("{USER_COLUMNS} WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(user_row).transpose()
    }

    /// Remove a user and everything they own.
    pub async fn remove_user(&self, id: &str) -> Result<bool, SandboxError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let removed = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        for table in [
            "DELETE FROM tokens WHERE user_id = ?",
            "DELETE FROM codes WHERE user_id = ?",
            "DELETE FROM instances WHERE owner = ?",
            "DELETE FROM authentications WHERE user_id = ?",
        ] {
            sqlx::query(table)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(removed > 0)
    }

    // --- tokens and codes ---------------------------------------------------------------

    pub async fn issue_token(&self, user_id: &str, ttl_ms: i64) -> Result<String, SandboxError> {
        let token = format!("sandbox-user-{}", new_id());
        sqlx::query("INSERT INTO tokens (token, user_id, expires_ms) VALUES (?, ?, ?)")
            .bind(&token)
            .bind(user_id)
            .bind(now_ms() + ttl_ms)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(token)
    }

    /// The token's user and expiry, if the token was ever issued.
    pub async fn token(&self, token: &str) -> Result<Option<(String, i64)>, SandboxError> {
        let row = sqlx::query("SELECT user_id, expires_ms FROM tokens WHERE token = ?")
            .bind(token)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(|row| {
            Ok((
                row.try_get("user_id").map_err(db_error)?,
                row.try_get("expires_ms").map_err(db_error)?,
            ))
        })
        .transpose()
    }

    pub async fn issue_code(&self, user_id: &str, ttl_ms: i64) -> Result<String, SandboxError> {
        let code = new_id().replace('-', "");
        sqlx::query("INSERT INTO codes (code, user_id, expires_ms) VALUES (?, ?, ?)")
            .bind(&code)
            .bind(user_id)
            .bind(now_ms() + ttl_ms)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(code)
    }

    /// Use a code once: its user, or why it cannot be used.
    pub async fn redeem_code(&self, code: &str) -> Result<Result<String, String>, SandboxError> {
        let row = sqlx::query("SELECT user_id, expires_ms, used FROM codes WHERE code = ?")
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(Err("The authorization code is not valid".into()));
        };
        let user_id: String = row.try_get("user_id").map_err(db_error)?;
        let expires_ms: i64 = row.try_get("expires_ms").map_err(db_error)?;
        let used: i64 = row.try_get("used").map_err(db_error)?;
        if used != 0 {
            return Ok(Err(
                "The authorization code has already been used; generate a new one".into(),
            ));
        }
        if expires_ms <= now_ms() {
            return Ok(Err("The authorization code has expired".into()));
        }
        // Conditional update so two concurrent redemptions cannot both succeed.
        let claimed = sqlx::query("UPDATE codes SET used = 1 WHERE code = ? AND used = 0")
            .bind(code)
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected();
        if claimed == 0 {
            return Ok(Err(
                "The authorization code has already been used; generate a new one".into(),
            ));
        }
        Ok(Ok(user_id))
    }

    // --- instances -----------------------------------------------------------------------

    pub async fn insert_instance(&self, row: &InstanceRow) -> Result<i64, SandboxError> {
        let done = sqlx::query(
            "INSERT INTO instances (id, owner, solution_id, name, enabled, auth_values, \
             config_values, created_ms, version, trigger_broken) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&row.id)
        .bind(&row.owner)
        .bind(&row.solution_id)
        .bind(&row.name)
        .bind(row.enabled)
        .bind(to_json(&row.auth_values)?)
        .bind(to_json(&row.config_values)?)
        .bind(row.created_ms)
        .bind(row.version)
        .bind(row.trigger_broken)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.last_insert_rowid())
    }

    pub async fn save_instance(&self, row: &InstanceRow) -> Result<(), SandboxError> {
        sqlx::query(
            "UPDATE instances SET name = ?, enabled = ?, auth_values = ?, config_values = ?, \
             version = ?, trigger_broken = ? WHERE id = ?",
        )
        .bind(&row.name)
        .bind(row.enabled)
        .bind(to_json(&row.auth_values)?)
        .bind(to_json(&row.config_values)?)
        .bind(row.version)
        .bind(row.trigger_broken)
        .bind(&row.id)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    pub async fn instances(&self) -> Result<Vec<InstanceRow>, SandboxError> {
        let rows = sqlx::query(&format!("{INSTANCE_COLUMNS} ORDER BY seq"))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(instance_row).collect()
    }

    pub async fn instance(&self, id: &str) -> Result<Option<InstanceRow>, SandboxError> {
        let row = sqlx::query(&format!("{INSTANCE_COLUMNS} WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(instance_row).transpose()
    }

    pub async fn remove_instance(&self, id: &str) -> Result<(), SandboxError> {
        sqlx::query("DELETE FROM instances WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    pub async fn record_run(
        &self,
        instance_id: &str,
        workflow_index: i64,
        body: &str,
    ) -> Result<i64, SandboxError> {
        let done = sqlx::query(
            "INSERT INTO workflow_runs (instance_id, workflow_index, body, at_ms) VALUES (?, ?, ?, ?)",
        )
        .bind(instance_id)
        .bind(workflow_index)
        .bind(body)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.last_insert_rowid())
    }

    pub async fn run_count(&self, instance_id: &str) -> Result<i64, SandboxError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM workflow_runs WHERE instance_id = ?")
            .bind(instance_id)
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        row.try_get("n").map_err(db_error)
    }

    // --- authentications ---------------------------------------------------------------------

    pub async fn create_auth(
        &self,
        user_id: &str,
        name: &str,
        service: &str,
        data: &str,
    ) -> Result<String, SandboxError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO authentications (id, user_id, name, service, data, created_ms) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(name)
        .bind(service)
        .bind(data)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(id)
    }

    pub async fn auths(&self) -> Result<Vec<AuthRow>, SandboxError> {
        let rows = sqlx::query(&format!("{AUTH_COLUMNS} ORDER BY seq"))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(auth_row).collect()
    }

    pub async fn auth(&self, id: &str) -> Result<Option<AuthRow>, SandboxError> {
        let row = sqlx::query(&format!("{AUTH_COLUMNS} WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(auth_row).transpose()
    }

    pub async fn touch_auth(&self, id: &str, data: &str) -> Result<(), SandboxError> {
        sqlx::query("UPDATE authentications SET data = ?, created_ms = ? WHERE id = ?")
            .bind(data)
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    pub async fn remove_auth(&self, id: &str) -> Result<(), SandboxError> {
        sqlx::query("DELETE FROM authentications WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    // --- solution versions ---------------------------------------------------------------

    pub async fn versions(&self, solution_id: &str) -> Result<Vec<VersionRow>, SandboxError> {
        let rows = sqlx::query(
            "SELECT version, auth_slots, config_slots, needs, published_ms FROM solution_versions \
             WHERE solution_id = ? ORDER BY version",
        )
        .bind(solution_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let auth_slots: String = row.try_get("auth_slots").map_err(db_error)?;
                let config_slots: String = row.try_get("config_slots").map_err(db_error)?;
                let needs: String = row.try_get("needs").map_err(db_error)?;
                Ok(VersionRow {
                    version: row.try_get("version").map_err(db_error)?,
                    auth_slots: json_column(&auth_slots)?,
                    config_slots: json_column(&config_slots)?,
                    needs: VersionNeeds::parse(&needs),
                    published_ms: row.try_get("published_ms").map_err(db_error)?,
                })
            })
            .collect()
    }

    pub async fn insert_version(
        &self,
        solution_id: &str,
        version: &VersionRow,
    ) -> Result<(), SandboxError> {
        sqlx::query(
            "INSERT INTO solution_versions (solution_id, version, auth_slots, config_slots, needs, \
             published_ms) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(solution_id)
        .bind(version.version)
        .bind(to_json(&version.auth_slots)?)
        .bind(to_json(&version.config_slots)?)
        .bind(version.needs.as_str())
        .bind(version.published_ms)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::iso8601;

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_709_210_096_789), "2024-02-29T12:34:56.789Z");
    }
}
