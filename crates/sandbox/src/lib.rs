//! A local stand-in for Tray.io Embedded.
//!
//! Two HTTP servers on two origins, as with the real service: the GraphQL API
//! (`POST /graphql`, plus the solution icons) and the auth dialog pages. Tests start it
//! in-process with [`Sandbox::start`]; the `tray-sandbox` binary wraps the same call.

pub mod api;
pub mod catalog;
pub mod control;
pub mod dialog;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod store;

use axum::Router;
use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use catalog::Catalog;
pub use control::{Faults, RateLimit, Stats};
pub use error::SandboxError;
pub use store::VersionNeeds;

use catalog::{AuthSlotDef, ConfigSlotDef};
use control::{Counters, TokenBucket};
use graphql::{build_schema, TraySchema};
use store::{now_ms, Store, VersionRow};

/// The master token the demo and the tests use when none is configured.
pub const DEMO_MASTER_TOKEN: &str = "sandbox-master-token";
/// The Embedded ID the demo and the tests use when none is configured.
pub const DEMO_EMBEDDED_ID: &str = "sandbox-embedded";

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// GraphQL API address; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Auth dialog address: a different origin from the API and the widget.
    pub dialog_listen: SocketAddr,
    pub catalog: Option<PathBuf>,
    pub master_token: String,
    pub embedded_id: String,
    /// SQLite file (created if missing); `None`: a temporary file, removed on exit.
    pub db: Option<PathBuf>,
    /// Lifetime of user tokens from `authorize` (Tray: 2 days).
    pub user_token_ttl: Duration,
    /// Lifetime of authorization codes (Tray: 5 minutes).
    pub code_ttl: Duration,
    /// Per-organisation limit (Tray: 30/s, bursts to 50).
    pub rate_limit: RateLimit,
    /// Delay before a version that needs no input applies itself (Tray: about 2 minutes).
    pub lazy_update_delay: Duration,
    /// Where `POST /_sandbox/authentications/{authId}/expiring` delivers Tray's webhook.
    pub auth_expiry_webhook: Option<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            dialog_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            catalog: None,
            master_token: DEMO_MASTER_TOKEN.into(),
            embedded_id: DEMO_EMBEDDED_ID.into(),
            db: None,
            user_token_ttl: Duration::from_secs(2 * 24 * 3600),
            code_ttl: Duration::from_secs(5 * 60),
            rate_limit: RateLimit::default(),
            lazy_update_delay: Duration::from_secs(120),
            auth_expiry_webhook: None,
        }
    }
}

/// A new solution version: the slots it adds and what it asks of existing instances.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewVersion {
    #[serde(default)]
    pub auth_slots: Vec<AuthSlotDef>,
    #[serde(default)]
    pub config_slots: Vec<ConfigSlotDef>,
    pub needs: VersionNeeds,
}

/// What every request handler shares.
pub struct SandboxState {
    pub catalog: Catalog,
    pub store: Store,
    pub master_token: String,
    pub embedded_id: String,
    /// The API server's own origin: base of `/icons/...` and `/triggers/...`.
    pub icon_base: String,
    pub user_token_ttl: Duration,
    pub code_ttl: Duration,
    pub lazy_update_delay: Duration,
    pub auth_expiry_webhook: Option<String>,
    pub counters: Counters,
    pub faults: Mutex<Faults>,
    pub bucket: TokenBucket,
    pub dialog_sessions: Mutex<HashMap<String, dialog::DialogSession>>,
    pub http: reqwest::Client,
    /// GraphQL requests being carried out, whether or not their callers still wait:
    /// `stop` lets them finish before it closes the database.
    pub work: tokio_util::task::TaskTracker,
}

impl SandboxState {
    pub fn faults(&self) -> Faults {
        self.faults
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    pub async fn publish_version(
        &self,
        solution_id: &str,
        new: NewVersion,
    ) -> Result<i64, SandboxError> {
        let base = self.published_solution(solution_id)?;
        for slot in &new.auth_slots {
            self.service(&slot.service)?;
            if base
                .auth_slots
                .iter()
                .any(|s| s.external_id == slot.external_id)
            {
                return Err(SandboxError::Invalid(format!(
                    "auth slot {} already exists",
                    slot.external_id
                )));
            }
        }
        for slot in &new.config_slots {
            if serde_json::from_str::<serde_json::Value>(&slot.default_value).is_err() {
                return Err(SandboxError::Invalid(format!(
                    "config slot {} default is not JSON text",
                    slot.external_id
                )));
            }
        }
        let versions = self.store.versions(solution_id).await?;
        let version = domain::latest_version(&versions) + 1;
        let row = VersionRow {
            version,
            auth_slots: new.auth_slots,
            config_slots: new.config_slots,
            needs: new.needs,
            published_ms: now_ms(),
        };
        self.store.insert_version(solution_id, &row).await?;
        tracing::info!(solution = solution_id, version, needs = ?row.needs, "solution version published");
        Ok(version)
    }
}

/// A started sandbox. Dropping it stops both servers.
pub struct Sandbox {
    graphql_url: String,
    dialog_url: String,
    state: Arc<SandboxState>,
    schema: TraySchema,
    shutdown: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sandbox {
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let catalog = Catalog::load(config.catalog.as_deref())?;
        let store = Store::open(config.db.as_deref()).await?;
        let api_listener = bind(config.listen).await?;
        let dialog_listener = bind(config.dialog_listen).await?;
        let api_origin = origin_of(&api_listener)?;
        let dialog_origin = origin_of(&dialog_listener)?;

        let state = Arc::new(SandboxState {
            catalog,
            store,
            master_token: config.master_token,
            embedded_id: config.embedded_id,
            icon_base: api_origin.clone(),
            user_token_ttl: config.user_token_ttl,
            code_ttl: config.code_ttl,
            lazy_update_delay: config.lazy_update_delay,
            auth_expiry_webhook: config.auth_expiry_webhook,
            counters: Counters::default(),
            faults: Mutex::new(Faults::default()),
            bucket: TokenBucket::new(config.rate_limit),
            dialog_sessions: Mutex::new(HashMap::new()),
            http: reqwest::Client::new(),
            work: tokio_util::task::TaskTracker::new(),
        });
        let schema = build_schema(state.clone());

        let mut sandbox = Sandbox {
            graphql_url: format!("{api_origin}/graphql"),
            dialog_url: dialog_origin,
            state: state.clone(),
            schema: schema.clone(),
            shutdown: Vec::new(),
            tasks: Vec::new(),
        };
        sandbox.serve(api_listener, api::router(state.clone(), schema));
        sandbox.serve(dialog_listener, dialog::router(state));
        Ok(sandbox)
    }

    /// `http://127.0.0.1:PORT/graphql`
    pub fn graphql_url(&self) -> &str {
        &self.graphql_url
    }

    /// The dialog origin, `http://127.0.0.1:PORT`, to which `/external/auth/...` is appended.
    pub fn dialog_url(&self) -> &str {
        &self.dialog_url
    }

    /// The API origin, `http://127.0.0.1:PORT` (admin endpoints live under `/_sandbox/`).
    pub fn api_url(&self) -> &str {
        &self.state.icon_base
    }

    /// Counters since start.
    pub fn stats(&self) -> Stats {
        self.state.counters.snapshot()
    }

    /// Replace the injected faults (all off: `Faults::default()`).
    pub fn set_faults(&self, faults: Faults) {
        *self
            .state
            .faults
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = faults;
    }

    /// Publish a new version of a solution; returns its number (the catalog's is 1).
    pub async fn publish_version(
        &self,
        solution_id: &str,
        new: NewVersion,
    ) -> Result<i64, SandboxError> {
        self.state.publish_version(solution_id, new).await
    }

    /// Run a GraphQL document in-process with `token`, as `POST /graphql` would (without
    /// rate limiting or faults); returns the response JSON. For test setup.
    pub async fn execute(
        &self,
        token: &str,
        query: &str,
        variables: serde_json::Value,
    ) -> serde_json::Value {
        api::execute_as(&self.state, &self.schema, Some(token), query, variables).await
    }

    fn serve(&mut self, listener: TcpListener, router: Router) {
        let (stop, stopped) = oneshot::channel::<()>();
        self.shutdown.push(stop);
        self.tasks.push(tokio::spawn(async move {
            let graceful = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(err) = graceful.await {
                tracing::error!(%err, "sandbox server stopped");
            }
        }));
    }

    /// Stop both servers, wait for them to finish and close the database.
    pub async fn stop(mut self) {
        for stop in self.shutdown.drain(..) {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        self.state.work.close();
        self.state.work.wait().await;
        self.state.store.close().await;
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, SandboxError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| SandboxError::Listen {
            addr: addr.to_string(),
            source,
        })
}

fn origin_of(listener: &TcpListener) -> Result<String, SandboxError> {
    let addr = listener
        .local_addr()
        .map_err(|source| SandboxError::Listen {
            addr: "bound socket".into(),
            source,
        })?;
    Ok(format!("http://{addr}"))
}
