//! A local stand-in for Tray.io Embedded.
//!
//! Two HTTP servers on two origins, as with the real service: the GraphQL API
//! (`POST /graphql`, plus the solution icons) and the auth dialog pages. Tests start it
//! in-process with [`Sandbox::start`]; the `tray-sandbox` binary wraps the same call.

pub mod catalog;
pub mod error;
pub mod graphql;

use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use std::{net::SocketAddr, path::PathBuf, sync::Arc};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use catalog::Catalog;
pub use error::SandboxError;
use graphql::{build_schema, Caller, TraySchema};

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
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            dialog_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            catalog: None,
            master_token: DEMO_MASTER_TOKEN.into(),
            embedded_id: DEMO_EMBEDDED_ID.into(),
        }
    }
}

/// What every request handler shares.
pub struct SandboxState {
    pub catalog: Catalog,
    pub master_token: String,
    pub embedded_id: String,
    /// Absolute base of `/icons/...`, the API server's own origin.
    pub icon_base: String,
}

/// A started sandbox. Dropping it stops both servers.
pub struct Sandbox {
    graphql_url: String,
    dialog_url: String,
    shutdown: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sandbox {
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let catalog = Catalog::load(config.catalog.as_deref())?;
        let api_listener = bind(config.listen).await?;
        let dialog_listener = bind(config.dialog_listen).await?;
        let api_origin = origin_of(&api_listener)?;
        let dialog_origin = origin_of(&dialog_listener)?;

        let state = Arc::new(SandboxState {
            catalog,
            master_token: config.master_token,
            embedded_id: config.embedded_id,
            icon_base: api_origin.clone(),
        });

        let mut sandbox = Sandbox {
            graphql_url: format!("{api_origin}/graphql"),
            dialog_url: dialog_origin,
            shutdown: Vec::new(),
            tasks: Vec::new(),
        };
        sandbox.serve(api_listener, api_router(state.clone()));
        sandbox.serve(dialog_listener, dialog_router(state));
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

    /// Stop both servers and wait for them to finish.
    pub async fn stop(mut self) {
        for stop in self.shutdown.drain(..) {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
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

fn api_router(state: Arc<SandboxState>) -> Router {
    let schema = build_schema(state.clone());
    Router::new()
        .route("/graphql", post(graphql_handler))
        .route("/icons/{file}", get(icon))
        .with_state((state, schema))
}

fn dialog_router(_state: Arc<SandboxState>) -> Router {
    Router::new().route("/healthz", get(|| async { "ok" }))
}

type ApiState = (Arc<SandboxState>, TraySchema);

async fn graphql_handler(
    State((state, schema)): State<ApiState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    let caller = caller_from(&headers, &state);
    schema
        .execute(request.into_inner().data(caller))
        .await
        .into()
}

fn caller_from(headers: &HeaderMap, state: &SandboxState) -> Caller {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match token {
        Some(token) if token == state.master_token => Caller::Master,
        _ => Caller::Anonymous,
    }
}

/// Icons are shipped in the binary so the sandbox runs from anywhere.
async fn icon(Path(file): Path<String>) -> Response {
    match ICONS.iter().find(|(name, _)| *name == file) {
        Some((_, svg)) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "public, max-age=86400"),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            ],
            *svg,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

macro_rules! icons {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../icons/", $name)))),*]
    };
}

const ICONS: &[(&str, &str)] = icons!(
    "asana.svg",
    "github.svg",
    "google-sheets.svg",
    "hubspot.svg",
    "jira.svg",
    "mailchimp.svg",
    "salesforce.svg",
    "slack.svg",
    "stripe.svg",
    "zendesk.svg",
);
