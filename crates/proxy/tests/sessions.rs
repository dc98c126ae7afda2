//! Tray users and user tokens going wrong: a refused `authorize`, a user Tray holds under
//! another id, a user token that expired early; a rate limit said in plain text, a
//! gateway's refusal in HTML, an error answered with partial data. A small front between
//! the proxy and the sandbox counts and alters Tray's answers where the sandbox has no
//! switch for it.

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Router,
};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use marketplace_proxy::{Config, Proxy, DEMO_JWT_SECRET};
use serde_json::{json, Value};
use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};
use tray_sandbox::{Sandbox, SandboxConfig};

const STRIPE: &str = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e06";

/// What the front does to the traffic it forwards.
#[derive(Default)]
struct Front {
    graphql_url: String,
    /// Answer `authorize` with a GraphQL error instead of forwarding it.
    refuse_authorize: AtomicBool,
    /// Replace the body of Tray's 401 answers with plain text.
    plain_401: AtomicBool,
    /// Answer this many requests with a plain-text 429, as a gateway in front of Tray may.
    plain_429: AtomicUsize,
    /// Answer every request with an HTML 403, as a firewall in front of Tray may.
    html_403: AtomicBool,
    /// Give Tray's error answers partial data (`{}`) instead of `null`, as GraphQL may.
    partial_data: AtomicBool,
    create_user_calls: AtomicUsize,
    /// Requests that reached the front.
    requests: AtomicUsize,
}

async fn forward(State(front): State<Arc<Front>>, headers: HeaderMap, body: Bytes) -> Response {
    let query = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|request| request["query"].as_str().map(str::to_owned))
        .unwrap_or_default();
    front.requests.fetch_add(1, Ordering::SeqCst);
    if query.contains("createExternalUser(") {
        front.create_user_calls.fetch_add(1, Ordering::SeqCst);
    }
    if front.html_403.load(Ordering::SeqCst) {
        let page = [(header::CONTENT_TYPE, "text/html")];
        return (StatusCode::FORBIDDEN, page, "<html>Request blocked</html>").into_response();
    }
    let limited = front
        .plain_429
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        });
    if limited.is_ok() {
        return (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
    }
    if query.contains("authorize(") && front.refuse_authorize.load(Ordering::SeqCst) {
        let refusal =
            json!({ "data": null, "errors": [{ "message": "authorize refused for now" }] });
        return axum::Json(refusal).into_response();
    }
    let mut request = reqwest::Client::new()
        .post(&front.graphql_url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        request = request.header(header::AUTHORIZATION, auth.as_bytes());
    }
    let answer = request.send().await.expect("the sandbox answers");
    let status = StatusCode::from_u16(answer.status().as_u16()).expect("a status");
    if status == StatusCode::UNAUTHORIZED && front.plain_401.load(Ordering::SeqCst) {
        return (status, "Unauthorized").into_response();
    }
    let mut bytes = answer.bytes().await.expect("a body");
    if front.partial_data.load(Ordering::SeqCst) {
        if let Ok(mut body) = serde_json::from_slice::<Value>(&bytes) {
            if body["errors"].is_array() {
                body["data"] = json!({});
                bytes = Bytes::from(body.to_string());
            }
        }
    }
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// A front forwarding to `sandbox`, and its GraphQL URL.
async fn start_front(sandbox: &Sandbox, front: Front) -> (Arc<Front>, String) {
    let front = Arc::new(Front {
        graphql_url: sandbox.graphql_url().to_owned(),
        ..front
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("address");
    let app = Router::new().fallback(forward).with_state(front.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (front, format!("http://{addr}/graphql"))
}

async fn start_proxy(graphql_url: &str, sandbox: &Sandbox, database_url: &str) -> Proxy {
    let mut config = Config::for_endpoint(
        graphql_url,
        sandbox.dialog_url(),
        tray_sandbox::DEMO_MASTER_TOKEN,
        tray_sandbox::DEMO_EMBEDDED_ID,
    );
    config.database_url = database_url.to_owned();
    Proxy::start(config).await.expect("proxy starts")
}

/// A sandbox, a front before it and a proxy (on an in-memory database) behind that.
async fn start_behind_front() -> (Sandbox, Arc<Front>, Proxy) {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts");
    let (front, graphql_url) = start_front(&sandbox, Front::default()).await;
    let proxy = start_proxy(&graphql_url, &sandbox, "sqlite::memory:").await;
    (sandbox, front, proxy)
}

async fn call(
    proxy: &Proxy,
    method: reqwest::Method,
    path: &str,
    user: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let claims = json!({ "sub": user, "exp": now + 600 });
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(DEMO_JWT_SECRET.as_bytes()),
    )
    .expect("signs");
    let mut request = reqwest::Client::new()
        .request(method, format!("{}/api/v1{path}", proxy.url()))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the proxy answers");
    let status = StatusCode::from_u16(response.status().as_u16()).expect("a status");
    (status, response.json().await.unwrap_or(Value::Null))
}

fn temporary_database() -> (PathBuf, String) {
    let file = std::env::temp_dir().join(format!("proxy-{}.db", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}?mode=rwc", file.display());
    (file, url)
}

/// The Tray user id the sandbox holds for `external_user_id`.
async fn tray_user_id(sandbox: &Sandbox, external_user_id: &str) -> Option<String> {
    let answer = sandbox
        .execute(
            tray_sandbox::DEMO_MASTER_TOKEN,
            "query($e: String!) { users(criteria: { externalUserId: $e }) { edges { node { id } } } }",
            json!({ "e": external_user_id }),
        )
        .await;
    answer["data"]["users"]["edges"][0]["node"]["id"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test]
async fn a_refused_authorize_for_a_user_tray_still_holds_keeps_the_mapping() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts");
    let (front, graphql_url) = start_front(&sandbox, Front::default()).await;
    let (file, database_url) = temporary_database();
    let user = "kept";

    let proxy = start_proxy(&graphql_url, &sandbox, &database_url).await;
    let (status, _) = call(&proxy, reqwest::Method::GET, "/integrations", user, None).await;
    assert_eq!(status, StatusCode::OK);
    let tray_id = tray_user_id(&sandbox, user).await.expect("user created");
    proxy.stop().await;

    // A restarted proxy (no token in memory) whose authorize Tray refuses for a while.
    front.refuse_authorize.store(true, Ordering::SeqCst);
    let proxy = start_proxy(&graphql_url, &sandbox, &database_url).await;
    let (status, body) = call(&proxy, reqwest::Method::GET, "/integrations", user, None).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "tray_error");
    assert_eq!(
        front.create_user_calls.load(Ordering::SeqCst),
        1,
        "the user was created again although Tray still holds it"
    );

    front.refuse_authorize.store(false, Ordering::SeqCst);
    let (status, body) = call(&proxy, reqwest::Method::GET, "/integrations", user, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(tray_user_id(&sandbox, user).await, Some(tray_id));
    proxy.stop().await;
    sandbox.stop().await;
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn a_user_tray_holds_under_another_id_is_remapped_without_creating_it() {
    let (file, database_url) = temporary_database();
    let user = "moved";
    let first = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts");
    let proxy = start_proxy(first.graphql_url(), &first, &database_url).await;
    let (status, _) = call(&proxy, reqwest::Method::GET, "/integrations", user, None).await;
    assert_eq!(status, StatusCode::OK);
    proxy.stop().await;
    first.stop().await;

    // Another Tray that knows the same external user under its own id.
    let second = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts");
    let created = second
        .execute(
            tray_sandbox::DEMO_MASTER_TOKEN,
            "mutation { createExternalUser(input: { externalUserId: \"moved\", name: \"Moved\" }) { userId } }",
            json!({}),
        )
        .await;
    assert!(created["errors"].is_null(), "{created}");
    let (front, graphql_url) = start_front(&second, Front::default()).await;
    let proxy = start_proxy(&graphql_url, &second, &database_url).await;
    let (status, body) = call(&proxy, reqwest::Method::GET, "/integrations", user, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(front.create_user_calls.load(Ordering::SeqCst), 0);
    proxy.stop().await;
    second.stop().await;
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn an_expired_user_token_is_renewed_on_every_call_whatever_the_401_body() {
    let sandbox = Sandbox::start(SandboxConfig {
        user_token_ttl: Duration::from_secs(1),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts");
    let (_, graphql_url) = start_front(
        &sandbox,
        Front {
            plain_401: AtomicBool::new(true),
            ..Front::default()
        },
    )
    .await;
    let proxy = start_proxy(&graphql_url, &sandbox, "sqlite::memory:").await;
    let user = "expiring-token";
    let body = json!({ "solutionId": STRIPE, "idempotencyKey": "k" });
    let (status, instance) = call(
        &proxy,
        reqwest::Method::POST,
        "/instances",
        user,
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{instance}");
    let path = format!("/instances/{}", instance["id"].as_str().expect("id"));

    // Each call finds the token the proxy cached already expired at Tray.
    for (method, body) in [
        (reqwest::Method::GET, None),
        (reqwest::Method::PATCH, Some(json!({ "name": "Renamed" }))),
        (reqwest::Method::GET, None),
    ] {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let (status, answer) = call(&proxy, method.clone(), &path, user, body).await;
        assert_eq!(status, StatusCode::OK, "{method}: {answer}");
    }
    proxy.stop().await;
    sandbox.stop().await;
}

#[tokio::test]
async fn a_plain_text_429_is_tray_rate_limiting_and_is_waited_out() {
    let (sandbox, front, proxy) = start_behind_front().await;

    // A short burst of 429s is waited out: the user never sees it.
    front.plain_429.store(2, Ordering::SeqCst);
    let (status, body) = call(&proxy, reqwest::Method::GET, "/integrations", "paced", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A lasting one is said as what it is, not as Tray being down.
    front.plain_429.store(usize::MAX, Ordering::SeqCst);
    let (status, body) = call(
        &proxy,
        reqwest::Method::GET,
        "/integrations",
        "limited",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    proxy.stop().await;
    sandbox.stop().await;
}

/// Tray's refusal answered with partial data is still a refusal of what the user asked
/// (400, with Tray's reason), not an unreadable answer retried as an outage.
#[tokio::test]
async fn a_refusal_with_partial_data_is_a_refusal() {
    let (sandbox, front, proxy) = start_behind_front().await;
    let user = "partial";
    let body = json!({ "solutionId": STRIPE, "idempotencyKey": "k" });
    let post = reqwest::Method::POST;
    let (status, instance) = call(&proxy, post, "/instances", user, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{instance}");
    let path = format!("/instances/{}", instance["id"].as_str().expect("id"));

    front.partial_data.store(true, Ordering::SeqCst);
    let before = front.requests.load(Ordering::SeqCst);
    // Enabling without the Stripe sign-in: Tray refuses it.
    let enable = Some(json!({ "enabled": true }));
    let (status, body) = call(&proxy, reqwest::Method::PATCH, &path, user, enable).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(message.contains("external_stripe_auth"), "{message}");
    assert!(
        front.requests.load(Ordering::SeqCst) - before < 5,
        "sent again as if Tray were down"
    );
    proxy.stop().await;
    sandbox.stop().await;
}

/// A gateway in front of Tray refusing the proxy (an HTML 403) is said as a refusal at
/// once, not retried as an outage.
#[tokio::test]
async fn a_gateways_html_refusal_is_reported_without_retries() {
    let (sandbox, front, proxy) = start_behind_front().await;
    front.html_403.store(true, Ordering::SeqCst);
    let (status, body) = call(
        &proxy,
        reqwest::Method::GET,
        "/integrations",
        "blocked",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "tray_error");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(message.contains("403"), "{message}");
    let asked = front.requests.load(Ordering::SeqCst);
    assert!(asked <= 2, "retried as an outage: {asked} requests");
    proxy.stop().await;
    sandbox.stop().await;
}
