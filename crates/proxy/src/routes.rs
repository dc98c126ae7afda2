//! The HTTP surface: the widget API, health, the webhook, the widget's assets and the demo.

use axum::{
    extract::{rejection::JsonRejection, DefaultBodyLimit, Path, Query, State},
    http::{header, HeaderValue, StatusCode},
    middleware,
    response::{IntoResponse, Response},
    routing::{get, post, put},
    Json, Router,
};
use marketplace_wire::{self as wire, Catalog, API_PREFIX};
use serde::Deserialize;
use std::{future::Future, sync::Arc, time::Duration};
use tokio_util::task::TaskTracker;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    services::{ServeDir, ServeFile},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use tracing::Instrument;

use crate::{
    error::ProxyError, identity::HostUser, service::Session, tray::with_deadline, AppState,
};

type Shared = State<Arc<AppState>>;
type Body<T> = Result<Json<T>, JsonRejection>;

pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/integrations", get(list_integrations))
        .route("/instances", post(create_instance))
        .route(
            "/instances/{id}",
            get(get_instance)
                .patch(update_instance)
                .delete(delete_instance),
        )
        .route("/instances/{id}/auth-dialog", post(auth_dialog))
        .route("/instances/{id}/auths/{slot}", put(attach_auth))
        .route("/instances/{id}/config", put(set_config))
        .route("/instances/{id}/upgrade", post(upgrade_instance))
        .fallback(|| async { ProxyError::NotFound("no such resource".into()) })
        .layer(middleware::from_fn(refuse_control_characters));
    // Inside the CORS layer, so that a host page on another origin can read these
    // answers too.
    let api = with_error_shape(api, &state).layer(cors(&state.market.config.allowed_origins));
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/webhooks/tray/auth-expiring", post(auth_expiring));
    if state.market.config.demo {
        router = router.route("/demo/token", post(demo_token));
    }
    if let Some(dir) = &state.market.config.widget_dir {
        let assets = Router::new()
            .fallback_service(ServeDir::new(dir).precompressed_br().precompressed_gzip())
            // One URL, three encodings: a shared cache must not hand brotli to a client
            // that asked for gzip.
            .layer(SetResponseHeaderLayer::appending(
                header::VARY,
                HeaderValue::from_static("accept-encoding"),
            ))
            // Files only: a 404 for an asset a deploy is about to add must not stick in
            // a CDN (errors get `no-store` below).
            .layer(SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                |response: &Response| {
                    let status = response.status();
                    (status.is_success() || status == StatusCode::NOT_MODIFIED)
                        .then(|| HeaderValue::from_static("public, max-age=300"))
                },
            ))
            // A host page on another origin loads the module from here.
            .layer(SetResponseHeaderLayer::overriding(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ));
        router = router.nest("/widget", assets);
        if state.market.config.demo {
            router = router.route_service("/", ServeFile::new(dir.join("index.html")));
        }
    }
    with_error_shape(router, &state)
        .nest(API_PREFIX, api)
        // Answers carry users' connections, dialog codes, demo tokens: no cache keeps
        // them (the widget's files set their own caching above).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(DefaultBodyLimit::max(state.market.config.body_limit))
        // The path only: a query may carry a secret (the webhook's `?secret=`).
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::extract::Request| {
                tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
            }),
        )
        .with_state(state)
}

/// A path decoding to a control character (C0 or C1) names no instance or slot of ours: not found,
/// before any handler (Postgres refuses a NUL outright, which would be a 500).
async fn refuse_control_characters(
    request: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    if has_encoded_control(request.uri().path()) {
        return ProxyError::NotFound("no such resource".into()).into_response();
    }
    next.run(request).await
}

fn has_encoded_control(path: &str) -> bool {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .chars()
        .any(char::is_control)
}

/// A time limit (past it, Tray, retried with backoff, has not answered in time), and
/// every error in the one JSON shape, the timeout's included.
fn with_error_shape(router: Router<Arc<AppState>>, state: &AppState) -> Router<Arc<AppState>> {
    let time = state.market.config.request_timeout;
    router
        // The request's Tray calls know its time: none is queued or retried past it.
        .layer(middleware::from_fn(
            move |request: axum::extract::Request, next: middleware::Next| async move {
                with_deadline(tokio::time::Instant::now() + time, next.run(request)).await
            },
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            state.market.config.request_timeout,
        ))
        .layer(middleware::map_response(json_errors))
}

/// Every error leaves in the one JSON shape, also those no handler wrote: an unknown
/// route, a method not allowed, a path or query that does not parse, a timeout. A 429
/// says when to come back.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    if status == StatusCode::TOO_MANY_REQUESTS {
        parts
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Response::from_parts(parts, body);
    }
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let (code, message) = match status {
        StatusCode::GATEWAY_TIMEOUT => (
            "tray_unavailable",
            "Tray did not answer in time; try again in a moment".to_owned(),
        ),
        StatusCode::NOT_FOUND => ("not_found", "no such resource".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this method is not allowed here".to_owned(),
        ),
        StatusCode::UNAUTHORIZED => ("unauthenticated", text),
        StatusCode::FORBIDDEN => ("forbidden", text),
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", text),
        status if status.is_server_error() => ("internal", "internal error".to_owned()),
        _ => ("bad_request", text),
    };
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        message
    };
    // The parts' headers are laid over the new body's: drop those of the old one (a
    // precompressed asset's 416 names its encoding and range).
    for name in [
        header::CONTENT_LENGTH,
        header::CONTENT_TYPE,
        header::CONTENT_ENCODING,
        header::CONTENT_RANGE,
        header::ACCEPT_RANGES,
        header::LAST_MODIFIED,
        header::ETAG,
    ] {
        parts.headers.remove(name);
    }
    let body = Json(wire::ErrorBody {
        error: wire::ErrorDetail {
            code: code.into(),
            message,
        },
    });
    (parts, body).into_response()
}

fn cors(allowed: &[String]) -> CorsLayer {
    let origins = if allowed.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            allowed
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods(tower_http::cors::Any)
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
}

/// Evaluate `$call` in the user's session. A user token Tray refused (revoked, or expired
/// sooner than we expected) is renewed once and the call sent again: a refused token
/// means Tray did nothing, so even a creation is safe to repeat. (A macro because an
/// async closure's future cannot be proven `Send`, which axum and spawn need.)
macro_rules! with_session {
    ($state:expr, $user:expr, |$session:ident| $call:expr) => {{
        let $session = $state.market.session($user).await?;
        match $call {
            Err(ProxyError::TrayUnauthorized(reason)) => {
                let $session = renewed($state, $user, &$session, &reason).await?;
                $call
            }
            other => other,
        }
    }};
}

/// A change in the user's session (as `with_session!`), run to its end even if the
/// caller goes away (see [`to_the_end`]). Takes `$state` and `$user` into the task.
macro_rules! change {
    ($state:ident, $user:ident, |$session:ident| $call:expr) => {{
        let (changes, limit) = ($state.changes.clone(), $state.market.config.request_timeout);
        to_the_end(&changes, Some(limit), async move {
            with_session!(&$state, &$user, |$session| $call)
        })
        .await
    }};
}

/// A new session after Tray refused `session`'s user token.
async fn renewed(
    state: &AppState,
    user: &HostUser,
    session: &Session,
    reason: &str,
) -> Result<Session, ProxyError> {
    tracing::info!(%reason, "user token refused; renewing it once");
    state.market.drop_user_token(&session.tray_user_id).await?;
    state.market.session(user).await
}

async fn list_integrations(
    State(state): Shared,
    user: HostUser,
) -> Result<Json<Catalog>, ProxyError> {
    let integrations = with_session!(&state, &user, |session| state
        .market
        .catalog(&session)
        .await)?;
    Ok(Json(Catalog {
        integrations,
        dialog_origin: state.market.config.dialog_origin(),
    }))
}

async fn create_instance(
    State(state): Shared,
    user: HostUser,
    body: Body<wire::CreateInstance>,
) -> Result<(StatusCode, Json<wire::Instance>), ProxyError> {
    let Json(request) = body?;
    // Run to its end, so the idempotency claim is always settled (a retry finds the
    // instance, not a claim nobody will finish); retried without a time limit, as its
    // claim on the key is renewed while it waits (see docs/proxy.md).
    let changes = state.changes.clone();
    let instance = to_the_end(&changes, None, async move {
        with_session!(&state, &user, |s| state.market.create(&s, &request).await)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(instance)))
}

/// Runs a change to its end even if the caller goes away (a closed tab, a client's
/// timeout): dropped between Tray's part and the proxy's own, it would leave the proxy's
/// records behind Tray (a deleted connection's rows kept, saved settings not noted as
/// saved). Past `retry_limit` (the request's own time) no Tray call of it is sent
/// again: a change its caller was told had failed must not land much later, after a
/// newer one. It is never cut off, which would be the cut above.
async fn to_the_end<T: Send + 'static>(
    changes: &TaskTracker,
    retry_limit: Option<Duration>,
    change: impl Future<Output = Result<T, ProxyError>> + Send + 'static,
) -> Result<T, ProxyError> {
    let task = async move {
        match retry_limit {
            Some(limit) => with_deadline(tokio::time::Instant::now() + limit, change).await,
            None => change.await,
        }
    };
    changes
        .spawn(task.in_current_span())
        .await
        .map_err(|err| ProxyError::Internal(format!("the change's task failed: {err}")))?
}

async fn get_instance(
    State(state): Shared,
    user: HostUser,
    Path(id): Path<String>,
) -> Result<Json<wire::Instance>, ProxyError> {
    let instance = with_session!(&state, &user, |s| state.market.instance(&s, &id).await)?;
    Ok(Json(instance))
}

async fn update_instance(
    State(state): Shared,
    user: HostUser,
    Path(id): Path<String>,
    body: Body<wire::UpdateInstance>,
) -> Result<Json<wire::Instance>, ProxyError> {
    let Json(update) = body?;
    let updated = change!(state, user, |s| state.market.update(&s, &id, &update).await)?;
    Ok(Json(updated))
}

async fn delete_instance(
    State(state): Shared,
    user: HostUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ProxyError> {
    change!(state, user, |s| state.market.delete(&s, &id).await)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn auth_dialog(
    State(state): Shared,
    user: HostUser,
    Path(id): Path<String>,
    body: Body<wire::AuthDialogRequest>,
) -> Result<Json<wire::AuthDialog>, ProxyError> {
    let Json(request) = body?;
    let config = &state.market.config;
    let dialog = with_session!(&state, &user, |s| state
        .market
        .auth_dialog(&s, &id, &request, &config.dialog_url, &config.embedded_id)
        .await)?;
    Ok(Json(dialog))
}

async fn attach_auth(
    State(state): Shared,
    user: HostUser,
    Path((id, slot)): Path<(String, String)>,
    body: Body<wire::AttachAuth>,
) -> Result<Json<wire::Instance>, ProxyError> {
    let Json(attach) = body?;
    let (changes, limit) = (state.changes.clone(), state.market.config.request_timeout);
    let attached = to_the_end(&changes, Some(limit), async move {
        // Stored before Tray is asked anything (a session may need Tray): an outage from
        // here on leaves it for the retry loop, not lost.
        let pending = state
            .market
            .keep_auth(&user, &id, &slot, &attach.auth_id)
            .await?;
        with_session!(&state, &user, |s| state
            .market
            .attach_auth(&s, &pending)
            .await)
    })
    .await?;
    Ok(Json(attached))
}

async fn set_config(
    State(state): Shared,
    user: HostUser,
    Path(id): Path<String>,
    body: Body<wire::SetConfig>,
) -> Result<Json<wire::Instance>, ProxyError> {
    let Json(config) = body?;
    let set = change!(state, user, |s| state
        .market
        .set_config(&s, &id, &config.values)
        .await)?;
    Ok(Json(set))
}

async fn upgrade_instance(
    State(state): Shared,
    user: HostUser,
    Path(id): Path<String>,
    body: Body<wire::UpgradeInstance>,
) -> Result<Json<wire::Instance>, ProxyError> {
    let Json(upgrade) = body?;
    let upgraded = change!(state, user, |s| state
        .market
        .upgrade(&s, &id, &upgrade)
        .await)?;
    Ok(Json(upgraded))
}

#[derive(Deserialize)]
struct WebhookQuery {
    secret: Option<String>,
}

/// Tray's notification, about a week before an auth expires.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthExpiring {
    auth_id: String,
}

/// The body is read as JSON whatever its `Content-Type` says: Tray's contract does not
/// name one, and a notice refused for its header would be lost.
async fn auth_expiring(
    State(state): Shared,
    Query(query): Query<WebhookQuery>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ProxyError> {
    let expected = state
        .market
        .config
        .webhook_secret
        .as_deref()
        .ok_or_else(|| {
            ProxyError::NotFound("the auth-expiring webhook is not configured".into())
        })?;
    let given = query.secret.unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(ProxyError::Forbidden("wrong webhook secret".into()));
    }
    let notice: AuthExpiring = serde_json::from_slice(&body)
        .map_err(|err| ProxyError::BadRequest(format!("invalid JSON body: {err}")))?;
    state.market.note_expiring(&notice.auth_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Demo only: stands in for the host backend that signs its users' tokens.
async fn demo_token(
    State(state): Shared,
    body: Body<wire::DemoTokenRequest>,
) -> Result<Json<wire::DemoToken>, ProxyError> {
    let Json(request) = body?;
    if request.user_id.trim().is_empty() {
        return Err(ProxyError::BadRequest("userId must not be empty".into()));
    }
    let expires_at = crate::db::now_ms() / 1000 + 3600;
    let token = state.verifier.sign_demo(&crate::identity::Claims {
        sub: request.user_id,
        name: Some(request.name),
        exp: expires_at,
        nbf: None,
        aud: state
            .market
            .config
            .host_jwt_audience
            .clone()
            .map(Into::into),
    })?;
    Ok(Json(wire::DemoToken { token, expires_at }))
}
