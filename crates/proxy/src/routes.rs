//! The HTTP surface: the widget API, health, the widget's assets and the demo page.

use axum::{extract::State, http::HeaderValue, routing::get, Json, Router};
use marketplace_wire::{Catalog, API_PREFIX};
use std::sync::Arc;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    services::ServeDir,
    trace::TraceLayer,
};

use crate::{catalog::to_integration, error::ProxyError, AppState};

pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new().route("/integrations", get(list_integrations));
    let mut router = Router::new()
        .nest(API_PREFIX, api)
        .route("/healthz", get(|| async { "ok" }));
    if let Some(dir) = &state.config.widget_dir {
        router = router.nest_service("/widget", ServeDir::new(dir));
        if state.config.demo {
            router = router.route_service(
                "/",
                tower_http::services::ServeFile::new(dir.join("index.html")),
            );
        }
    }
    router
        .layer(cors(&state.config.allowed_origins))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

fn cors(allowed: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = allowed
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods(tower_http::cors::Any)
        .allow_headers(tower_http::cors::Any)
}

async fn list_integrations(
    State(state): State<Arc<AppState>>,
) -> Result<Json<Catalog>, ProxyError> {
    let solutions = state
        .tray
        .list_solutions(&state.config.solution_tags)
        .await?;
    Ok(Json(Catalog {
        integrations: solutions.iter().map(to_integration).collect(),
        dialog_origin: state.config.dialog_url.clone(),
    }))
}
