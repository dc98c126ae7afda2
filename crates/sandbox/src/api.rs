//! The API origin: `POST /graphql` behind the rate limiter and fault injector, the icons,
//! workflow trigger URLs and the `/_sandbox/` admin endpoints (master token).

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use rand::Rng;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::{
    control::{bump, Faults},
    graphql::{name_graphql_errors, Caller, TraySchema},
    store::now_ms,
    NewVersion, SandboxError, SandboxState,
};

type ApiState = (Arc<SandboxState>, TraySchema);

pub fn router(state: Arc<SandboxState>, schema: TraySchema) -> Router {
    Router::new()
        .route("/graphql", post(graphql_handler))
        .route("/icons/{file}", get(icon))
        .route("/triggers/{instance}/{index}", post(trigger))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/faults", post(set_faults).get(get_faults))
        .route("/_sandbox/solutions/{id}/versions", post(publish_version))
        .route(
            "/_sandbox/authentications/{auth_id}/expiring",
            post(auth_expiring),
        )
        .with_state((state, schema))
}

/// Tray's answer past the rate limit, verbatim.
pub fn rate_limit_body() -> Value {
    json!({
        "data": null,
        "errors": [{
            "message": "Rate limit exceeded",
            "extensions": {"name": "PreconditionError", "code": "access_not_allowed"}
        }]
    })
}

/// Tray's own failure as it reports one: a GraphQL error with an id to quote to support.
pub fn internal_error_body() -> Value {
    json!({
        "data": null,
        "errors": [{
            "message": "An internal error occurred (injected by the sandbox)",
            "extensions": {"name": "InternalError", "errorId": uuid::Uuid::new_v4().to_string()}
        }]
    })
}

fn graphql_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"data": null, "errors": [{"message": message}]})),
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Resolve a bearer token to its caller, or the message for an HTTP 401.
async fn caller_for(state: &SandboxState, token: Option<&str>) -> Result<Caller, String> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err("Missing access token: send `Authorization: Bearer <token>`".into());
    };
    if token == state.master_token {
        return Ok(Caller::Master);
    }
    match state.store.token(token).await {
        Ok(Some((user_id, expires_ms))) if expires_ms > now_ms() => Ok(Caller::User(user_id)),
        Ok(Some(_)) => Err("The user access token has expired; call authorize again".into()),
        Ok(None) => Err("Invalid access token".into()),
        Err(err) => Err(err.to_string()),
    }
}

/// Run a document as the holder of `token` would, without limits or faults.
pub async fn execute_as(
    state: &SandboxState,
    schema: &TraySchema,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Value {
    let caller = match caller_for(state, token).await {
        Ok(caller) => caller,
        Err(message) => return json!({"data": null, "errors": [{"message": message}]}),
    };
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables))
        .data(caller);
    let mut answer = schema.execute(request).await;
    name_graphql_errors(&mut answer);
    serde_json::to_value(answer)
        .unwrap_or_else(|err| json!({"data": null, "errors": [{"message": err.to_string()}]}))
}

/// Like Tray, the sandbox carries a request out even when its caller gave up waiting (a
/// client's timeout with `latency` set): the work runs on a task of its own, which the
/// caller's going away does not cancel (and that `stop` waits for).
async fn graphql_handler(
    State((state, schema)): State<ApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let work = state.work.clone();
    work.spawn(answer_graphql(state, schema, headers, body))
        .await
        .unwrap_or_else(|err| {
            graphql_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the sandbox failed: {err}"),
            )
        })
}

async fn answer_graphql(
    state: Arc<SandboxState>,
    schema: TraySchema,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    state.counters.arrival();
    let faults = state.faults();
    let targeted = faults.target(&body);
    if targeted && !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if faults.force_rate_limit || !state.bucket.try_take() {
        bump(&state.counters.rate_limited);
        return (StatusCode::TOO_MANY_REQUESTS, Json(rate_limit_body())).into_response();
    }
    if targeted
        && faults.failure_rate > 0.0
        && rand::thread_rng().gen::<f64>() < faults.failure_rate
    {
        bump(&state.counters.injected_failures);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "503 Service Temporarily Unavailable (injected by the sandbox)",
        )
            .into_response();
    }
    if targeted
        && faults.gateway_refusal_rate > 0.0
        && rand::thread_rng().gen::<f64>() < faults.gateway_refusal_rate
    {
        bump(&state.counters.injected_failures);
        let refusal = serde_json::json!({ "message": "Forbidden" });
        return (StatusCode::FORBIDDEN, Json(refusal)).into_response();
    }
    if targeted
        && faults.internal_error_rate > 0.0
        && rand::thread_rng().gen::<f64>() < faults.internal_error_rate
    {
        bump(&state.counters.injected_failures);
        return Json(internal_error_body()).into_response();
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return graphql_error(
                StatusCode::BAD_REQUEST,
                &format!("Body must be JSON {{query, variables}}: {err}"),
            )
        }
    };
    let caller = match caller_for(&state, bearer(&headers)).await {
        Ok(caller) => caller,
        Err(message) => return graphql_error(StatusCode::UNAUTHORIZED, &message),
    };
    bump(&state.counters.requests_served);
    let mut answer = schema.execute(request.data(caller)).await;
    name_graphql_errors(&mut answer);
    if targeted
        && faults.lost_answer_rate > 0.0
        && rand::thread_rng().gen::<f64>() < faults.lost_answer_rate
    {
        bump(&state.counters.lost_answers);
        return (
            StatusCode::GATEWAY_TIMEOUT,
            "504 Gateway Time-out (the request was carried out; its answer was dropped by the sandbox)",
        )
            .into_response();
    }
    Json(answer).into_response()
}

/// A workflow's trigger URL: records a run when the instance can run.
async fn trigger(
    State((state, _)): State<ApiState>,
    Path((instance_id, index)): Path<(String, i64)>,
    body: String,
) -> Response {
    let instance = match state.store.instance(&instance_id).await {
        Ok(Some(instance)) => instance,
        Ok(None) => return (StatusCode::NOT_FOUND, "No such trigger").into_response(),
        Err(err) => return (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    };
    let workflows = state
        .catalog
        .solution(&instance.solution_id)
        .map_or(0, |s| s.workflows.len() as i64);
    if instance.trigger_broken || index < 0 || index >= workflows {
        return (StatusCode::NOT_FOUND, "No such trigger").into_response();
    }
    if !instance.enabled {
        return (
            StatusCode::CONFLICT,
            "The solution instance is disabled; its workflows do not run",
        )
            .into_response();
    }
    match state.store.record_run(&instance_id, index, &body).await {
        Ok(run) => {
            bump(&state.counters.trigger_runs);
            Json(json!({"runId": run.to_string()})).into_response()
        }
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

fn is_master(state: &SandboxState, headers: &HeaderMap) -> bool {
    bearer(headers) == Some(state.master_token.as_str())
}

fn admin_denied() -> Response {
    graphql_error(
        StatusCode::UNAUTHORIZED,
        "Sandbox admin endpoints need `Authorization: Bearer <master token>`",
    )
}

fn error_response(err: SandboxError) -> Response {
    let status = match err {
        SandboxError::NotFound(_) => StatusCode::NOT_FOUND,
        SandboxError::Invalid(_) | SandboxError::Conflict(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(json!({"error": err.to_string()}))).into_response()
}

async fn stats(State((state, _)): State<ApiState>, headers: HeaderMap) -> Response {
    if !is_master(&state, &headers) {
        return admin_denied();
    }
    Json(state.counters.snapshot()).into_response()
}

async fn get_faults(State((state, _)): State<ApiState>, headers: HeaderMap) -> Response {
    if !is_master(&state, &headers) {
        return admin_denied();
    }
    Json(state.faults()).into_response()
}

async fn set_faults(
    State((state, _)): State<ApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !is_master(&state, &headers) {
        return admin_denied();
    }
    let faults: Faults = match serde_json::from_slice(&body) {
        Ok(faults) => faults,
        Err(err) => {
            return error_response(SandboxError::Invalid(format!(
                "faults must be JSON {{latency (ms), failureRate, lostAnswerRate, internalErrorRate, gatewayRefusalRate (each 0..1), forceRateLimit, only (a text)}}: {err}"
            )))
        }
    };
    for (name, rate) in [
        ("failureRate", faults.failure_rate),
        ("lostAnswerRate", faults.lost_answer_rate),
        ("internalErrorRate", faults.internal_error_rate),
        ("gatewayRefusalRate", faults.gateway_refusal_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            return error_response(SandboxError::Invalid(format!(
                "{name} must be between 0 and 1"
            )));
        }
    }
    *state
        .faults
        .lock()
        .unwrap_or_else(|poison| poison.into_inner()) = faults.clone();
    Json(faults).into_response()
}

async fn publish_version(
    State((state, _)): State<ApiState>,
    Path(solution_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !is_master(&state, &headers) {
        return admin_denied();
    }
    let new: NewVersion = match serde_json::from_slice(&body) {
        Ok(new) => new,
        Err(err) => {
            return error_response(SandboxError::Invalid(format!(
                "body must be JSON {{authSlots, configSlots, needs: none|user|system}}: {err}"
            )))
        }
    };
    match state.publish_version(&solution_id, new).await {
        Ok(version) => Json(json!({"version": version})).into_response(),
        Err(err) => error_response(err),
    }
}

/// Deliver Tray's auth-expiring webhook for one authentication.
async fn auth_expiring(
    State((state, _)): State<ApiState>,
    Path(auth_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !is_master(&state, &headers) {
        return admin_denied();
    }
    let Some(webhook) = state.auth_expiry_webhook.clone() else {
        return error_response(SandboxError::Invalid(
            "no auth expiry webhook configured (--auth-expiry-webhook)".into(),
        ));
    };
    let body = match expiring_body(&state, &auth_id).await {
        Ok(body) => body,
        Err(err) => return error_response(err),
    };
    match state.http.post(&webhook).json(&body).send().await {
        Ok(answer) => {
            bump(&state.counters.expiry_webhooks_sent);
            Json(json!({"delivered": true, "status": answer.status().as_u16(), "body": body}))
                .into_response()
        }
        Err(err) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({"error": format!("webhook {webhook} unreachable: {err}")})),
        )
            .into_response(),
    }
}

async fn expiring_body(state: &SandboxState, auth_id: &str) -> Result<Value, SandboxError> {
    let auth = state
        .store
        .auth(auth_id)
        .await?
        .ok_or_else(|| SandboxError::NotFound(format!("Authentication {auth_id} not found")))?;
    let user = state
        .store
        .user(&auth.user_id)
        .await?
        .ok_or_else(|| SandboxError::NotFound(format!("User {} not found", auth.user_id)))?;
    Ok(json!({
        "authentication_name": auth.name,
        "service_name": auth.service,
        "user_id": user.id,
        "authId": auth.id,
        "external_user_id": user.external_user_id,
    }))
}

/// Icons are shipped in the binary so the sandbox runs from anywhere.
pub async fn icon(Path(file): Path<String>) -> Response {
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
