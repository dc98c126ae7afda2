//! The proxy between the integrations widget and Tray.io Embedded.
//!
//! It holds the master token, makes every Tray call, and gives the widget a small JSON
//! API (`marketplace_wire`). [`Proxy::start`] runs it in-process for tests; the
//! `marketplace-proxy` binary wraps the same call.

pub mod catalog;
pub mod config;
pub mod db;
pub mod error;
pub mod fairness;
pub mod identity;
pub mod lease;
pub mod routes;
pub mod service;
pub mod tray;

use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use config::{Args, Config, HostKey, Region, Secrets, DEMO_JWT_SECRET};
pub use error::ProxyError;
use identity::Verifier;
use service::Marketplace;
use tray::{limiter::RateLimiter, TrayClient};

/// How often auths kept while Tray failed are offered to it again.
const PENDING_AUTH_RETRY: Duration = Duration::from_secs(2);

/// How often idempotency keys past their time are forgotten.
const KEY_HOUSEKEEPING: Duration = Duration::from_secs(3600);

/// What every handler shares.
pub struct AppState {
    pub market: Marketplace,
    pub verifier: Verifier,
    /// Each host user's share of the proxy; `None`: unlimited.
    pub user_limiter: Option<fairness::UserLimiter>,
    /// How many of each user's requests are under way; `None`: unlimited.
    pub in_flight: Option<fairness::InFlight>,
    /// Changes running to their end apart from their requests (see `routes::to_the_end`):
    /// a shutdown waits for them.
    pub changes: tokio_util::task::TaskTracker,
}

/// A running proxy. Dropping it stops the server.
pub struct Proxy {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
    changes: tokio_util::task::TaskTracker,
    /// How long a stop waits for changes whose callers went.
    grace: Duration,
}

impl Proxy {
    pub async fn start(config: Config) -> Result<Proxy, ProxyError> {
        let verifier = Verifier::new(
            &config.host_key,
            config.host_jwt_audience.as_deref(),
            config.host_jwt_max_lifetime,
        )?;
        if !config.system_values.is_empty() {
            // A bare key names that setting in every solution that has it.
            let settings: Vec<&String> = config.system_values.keys().collect();
            tracing::info!(?settings, "SYSTEM_VALUES_FILE: the host supplies these settings; users neither see nor set them");
        }
        let db =
            db::Db::connect_with(&config.database_url, config.database_max_connections).await?;
        let listener = TcpListener::bind(config.listen).await.map_err(|err| {
            ProxyError::Config(format!("cannot listen on {}: {err}", config.listen))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|err| ProxyError::Config(err.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(config.tray_timeout)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|err| ProxyError::Config(err.to_string()))?;
        // Replicas share Postgres, so they share the bucket there; SQLite is one process.
        // A sixth of the request's time (5 s): a request makes a few calls one after the
        // other, and a standing queue under overload adds wait, not throughput.
        let max_wait = config.request_timeout / 6;
        let limiter = if db.is_postgres() {
            RateLimiter::shared(
                db.clone(),
                config.tray_rate_per_second,
                config.tray_rate_burst,
                max_wait,
            )
        } else {
            RateLimiter::new(
                config.tray_rate_per_second,
                config.tray_rate_burst,
                max_wait,
            )
        };
        let tray = TrayClient::new(
            http,
            config.graphql_url.clone(),
            config.master_token.clone(),
            limiter,
        );
        let user_limiter =
            fairness::UserLimiter::new(config.user_rate_per_second, config.user_rate_burst);
        let in_flight = fairness::InFlight::new(config.user_requests_in_flight);
        let changes = tokio_util::task::TaskTracker::new();
        let grace = config.request_timeout;
        let state = Arc::new(AppState {
            changes: changes.clone(),
            market: Marketplace::new(config, tray, db),
            verifier,
            user_limiter,
            in_flight,
        });
        let router = routes::router(state.clone());

        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(err) = serve.await {
                tracing::error!(%err, "proxy stopped");
            }
        });
        let housekeeper = tokio::spawn(forget_old_keys(state.clone()));
        let retrier = tokio::spawn(async move {
            loop {
                tokio::time::sleep(PENDING_AUTH_RETRY).await;
                match state.market.retry_pending_auths().await {
                    Ok(0) => {}
                    Ok(attached) => {
                        tracing::info!(attached, "attached auths kept while Tray was failing")
                    }
                    Err(err) => tracing::warn!(error = %err, "retrying pending auths failed"),
                }
            }
        });
        Ok(Proxy {
            addr,
            stop: Some(stop),
            tasks: vec![server, retrier, housekeeper],
            changes,
            grace,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting requests, finish the ones in flight and the changes whose callers
    /// went (within as long as a request may take, from now), and return.
    pub async fn stop(mut self) {
        let deadline = tokio::time::Instant::now() + self.grace;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let mut tasks = std::mem::take(&mut self.tasks).into_iter();
        let server = tasks.next();
        // The retrier and the housekeeper start nothing new meanwhile: a sign-in kept
        // through an outage stays kept, for the next proxy.
        for task in tasks {
            task.abort();
        }
        if let Some(server) = server {
            let _ = server.await;
        }
        self.changes.close();
        if tokio::time::timeout_at(deadline, self.changes.wait())
            .await
            .is_err()
        {
            tracing::warn!(left = self.changes.len(), "stopping with changes under way");
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Every `KEY_HOUSEKEEPING`, from start-up on: a proxy restarted often still cleans up.
async fn forget_old_keys(state: Arc<AppState>) {
    let mut every = tokio::time::interval(KEY_HOUSEKEEPING);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match state.market.forget_old_keys().await {
            Ok(0) => {}
            Ok(forgotten) => tracing::info!(forgotten, "forgot idempotency keys past their time"),
            Err(err) => tracing::warn!(error = %err, "forgetting old idempotency keys failed"),
        }
    }
}
