//! The proxy between the integrations widget and Tray.io Embedded.
//!
//! It holds the master token, makes every Tray call, and gives the widget a small JSON
//! API (`marketplace_wire`). [`Proxy::start`] runs it in-process for tests; the
//! `marketplace-proxy` binary wraps the same call.

pub mod catalog;
pub mod config;
pub mod error;
pub mod routes;
pub mod tray;

use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use config::{Args, Config, Region};
pub use error::ProxyError;
use tray::TrayClient;

/// What every handler shares.
pub struct AppState {
    pub config: Config,
    pub tray: TrayClient,
}

/// A running proxy. Dropping it stops the server.
pub struct Proxy {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    pub async fn start(config: Config) -> Result<Proxy, ProxyError> {
        let listener = TcpListener::bind(config.listen).await.map_err(|err| {
            ProxyError::Config(format!("cannot listen on {}: {err}", config.listen))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|err| ProxyError::Config(err.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|err| ProxyError::Config(err.to_string()))?;
        let tray = TrayClient::new(
            http,
            config.graphql_url.clone(),
            config.master_token.clone(),
        );
        let state = Arc::new(AppState { config, tray });
        let router = routes::router(state);

        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(err) = serve.await {
                tracing::error!(%err, "proxy stopped");
            }
        });
        Ok(Proxy {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting requests, finish the ones in flight, and return.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
