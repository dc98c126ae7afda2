//! Abuse: forged, expired and wrong-algorithm tokens; other users' instance ids;
//! malformed and oversize bodies; unknown slots; replayed authorization codes and
//! borrowed auths. Each gets its refusal (status and error code) and Tray's state is
//! the same afterwards.
//!
//! A forged `tray.authpopup.finish` posted from another origin in the browser is covered
//! by `crates/e2e/tests/widget_connect.rs` (`a_forged_finish_message_from_another_origin_is_ignored`).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use marketplace_proxy::{HostKey, DEMO_JWT_SECRET};
use proof::{
    complete_dialog, dialog_message, sign, unique_user, unix_now, Stack, TrayInstance, TrayView,
    User, GITHUB_ASANA, GITHUB_SLOT, SLACK, STRIPE, STRIPE_SLOT,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A key pair made for these tests only (openssl genpkey -algorithm RSA).
const TEST_RSA_PRIVATE: &str = include_str!("keys/test-rsa-private.pem");
const TEST_RSA_PUBLIC: &str = include_str!("keys/test-rsa-public.pem");

/// Every instance route with a plausible body, for `id`.
fn instance_routes(id: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, format!("/instances/{id}"), None),
        (
            Method::PATCH,
            format!("/instances/{id}"),
            Some(json!({ "name": "taken", "enabled": false })),
        ),
        (Method::DELETE, format!("/instances/{id}"), None),
        (
            Method::POST,
            format!("/instances/{id}/auth-dialog"),
            Some(json!({ "slot": STRIPE_SLOT })),
        ),
        (
            Method::PUT,
            format!("/instances/{id}/auths/{STRIPE_SLOT}"),
            Some(json!({ "authId": "borrowed" })),
        ),
        (
            Method::PUT,
            format!("/instances/{id}/config"),
            Some(json!({ "values": [] })),
        ),
        (
            Method::POST,
            format!("/instances/{id}/upgrade"),
            Some(json!({})),
        ),
    ]
}

/// Every API route, for tokens that must not get anywhere.
fn all_routes(id: &str) -> Vec<(Method, String, Option<Value>)> {
    let mut routes = vec![
        (Method::GET, "/integrations".to_owned(), None),
        (
            Method::POST,
            "/instances".to_owned(),
            Some(json!({ "solutionId": STRIPE, "idempotencyKey": "forged" })),
        ),
    ];
    routes.extend(instance_routes(id));
    routes
}

/// Send with a raw Authorization header (or none).
async fn send_as(
    http: &reqwest::Client,
    base: &str,
    authorization: Option<&str>,
    (method, path, body): &(Method, String, Option<Value>),
) -> (StatusCode, Value) {
    let mut request = http.request(method.clone(), format!("{base}/api/v1{path}"));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("proxy answers");
    let status = response.status();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Alice with one connected Stripe instance; returns it as Tray holds it.
async fn connected_alice(stack: &Stack) -> (User, TrayInstance) {
    let alice = stack.user(&unique_user("alice"));
    let (status, created) = alice.create(STRIPE, "alice-click").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let auth_id = alice.authorize(&id, STRIPE_SLOT).await;
    let (status, attached) = alice.attach(&id, STRIPE_SLOT, &auth_id).await;
    assert_eq!(status, StatusCode::OK, "{attached}");
    let (status, renamed) = alice
        .call(
            Method::PATCH,
            &format!("/instances/{id}"),
            Some(json!({ "name": "Alice's billing" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    let held = tray(stack).instances_of(&alice.id).await;
    assert_eq!(held.len(), 1);
    (alice, held[0].clone())
}

fn tray(stack: &Stack) -> TrayView<'_> {
    TrayView {
        sandbox: &stack.sandbox,
    }
}

/// Tray's whole state, comparable before and after an attack.
async fn tray_state(stack: &Stack) -> Vec<String> {
    let mut state: Vec<String> = tray(stack)
        .instances()
        .await
        .iter()
        .map(|i| format!("{i:?}"))
        .collect();
    state.sort();
    state
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

#[tokio::test]
async fn forged_expired_and_wrong_algorithm_tokens_are_refused_everywhere_and_change_nothing() {
    let stack = Stack::start("sqlite::memory:").await;
    let (_alice, instance) = connected_alice(&stack).await;
    let intruder = unique_user("intruder");
    let now = unix_now();
    let claims = json!({ "sub": intruder, "exp": now + 600 });
    let genuine = sign(Algorithm::HS256, DEMO_JWT_SECRET.as_bytes(), &claims);
    let tampered = {
        // A genuine token with another user's claims swapped in: the signature no longer fits.
        let parts: Vec<&str> = genuine.split('.').collect();
        let other =
            URL_SAFE_NO_PAD.encode(json!({ "sub": instance.owner, "exp": now + 600 }).to_string());
        format!("{}.{other}.{}", parts[0], parts[2])
    };
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let forged: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("not bearer", Some(format!("Basic {genuine}"))),
        ("garbage", Some("Bearer not.a.jwt".into())),
        (
            "bad signature",
            Some(format!(
                "Bearer {}",
                sign(Algorithm::HS256, b"guessed-secret", &claims)
            )),
        ),
        ("tampered claims", Some(format!("Bearer {tampered}"))),
        ("alg none", Some(format!("Bearer {unsigned}"))),
        (
            "HS384 with the right secret",
            Some(format!(
                "Bearer {}",
                sign(Algorithm::HS384, DEMO_JWT_SECRET.as_bytes(), &claims)
            )),
        ),
        (
            "HS512 with the right secret",
            Some(format!(
                "Bearer {}",
                sign(Algorithm::HS512, DEMO_JWT_SECRET.as_bytes(), &claims)
            )),
        ),
        (
            "expired an hour ago",
            Some(format!(
                "Bearer {}",
                sign(
                    Algorithm::HS256,
                    DEMO_JWT_SECRET.as_bytes(),
                    &json!({ "sub": intruder, "exp": now - 3600 })
                )
            )),
        ),
        (
            "no expiry",
            Some(format!(
                "Bearer {}",
                sign(
                    Algorithm::HS256,
                    DEMO_JWT_SECRET.as_bytes(),
                    &json!({ "sub": intruder })
                )
            )),
        ),
        (
            "empty subject",
            Some(format!(
                "Bearer {}",
                sign(
                    Algorithm::HS256,
                    DEMO_JWT_SECRET.as_bytes(),
                    &json!({ "sub": " ", "exp": now + 600 })
                )
            )),
        ),
    ];
    let before = tray_state(&stack).await;
    let requests_before = stack.sandbox.stats().requests_served;
    let http = reqwest::Client::new();
    for (case, authorization) in &forged {
        for route in all_routes(&instance.id) {
            let (status, body) =
                send_as(&http, &stack.proxy.url(), authorization.as_deref(), &route).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{case}: {} {}: {body}",
                route.0,
                route.1
            );
            assert_eq!(error_code(&body), "unauthenticated", "{case}: {body}");
        }
    }
    assert_eq!(
        stack.sandbox.stats().requests_served,
        requests_before,
        "a refused token reached Tray"
    );
    assert_eq!(tray_state(&stack).await, before);
    assert!(tray(&stack).users_for(&intruder).await.is_empty());
    // The genuine token still works: the refusals were about the tokens.
    let (status, _) = send_as(
        &http,
        &stack.proxy.url(),
        Some(&format!("Bearer {genuine}")),
        &all_routes("x")[0],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    stack.stop().await;
}

#[tokio::test]
async fn an_hmac_token_keyed_with_the_rsa_public_key_is_refused() {
    let stack = Stack::start_with("sqlite::memory:", |config| {
        config.host_key = HostKey::PublicPem(TEST_RSA_PUBLIC.as_bytes().to_vec());
    })
    .await;
    let user = unique_user("rsa");
    let claims = json!({ "sub": user, "exp": unix_now() + 600 });
    let genuine = encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(TEST_RSA_PRIVATE.as_bytes()).expect("private key"),
    )
    .expect("signs");
    let http = reqwest::Client::new();
    let catalog = (Method::GET, "/integrations".to_owned(), None);
    for (case, confused) in [
        (
            "HS256",
            sign(Algorithm::HS256, TEST_RSA_PUBLIC.as_bytes(), &claims),
        ),
        (
            "HS512",
            sign(Algorithm::HS512, TEST_RSA_PUBLIC.as_bytes(), &claims),
        ),
    ] {
        let (status, body) = send_as(
            &http,
            &stack.proxy.url(),
            Some(&format!("Bearer {confused}")),
            &catalog,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        assert_eq!(error_code(&body), "unauthenticated");
    }
    assert!(
        tray(&stack).users_for(&user).await.is_empty(),
        "a confused token made a Tray user"
    );
    let (status, body) = send_as(
        &http,
        &stack.proxy.url(),
        Some(&format!("Bearer {genuine}")),
        &catalog,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the real RS256 token: {body}");
    stack.stop().await;
}

#[tokio::test]
async fn another_users_instance_ids_are_not_found_on_every_route_and_change_nothing() {
    let stack = Stack::start("sqlite::memory:").await;
    let (alice, instance) = connected_alice(&stack).await;
    let mallory = stack.user(&unique_user("mallory"));
    let (status, own) = mallory.create(STRIPE, "mallory-click").await;
    assert_eq!(status, StatusCode::CREATED, "{own}");
    let before = tray_state(&stack).await;
    let codes_before = stack.sandbox.stats().authentications_created;
    for (method, path, body) in instance_routes(&instance.id) {
        let (status, answer) = mallory.call(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
        assert_eq!(error_code(&answer), "not_found", "{method} {path}");
        assert!(!answer.to_string().contains("Alice"), "leaked: {answer}");
    }
    // Ids that exist nowhere answer the same: nothing tells mallory which ids are real.
    for (method, path, body) in instance_routes("no-such-instance") {
        let (status, _) = mallory.call(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    assert_eq!(tray_state(&stack).await, before, "Tray changed");
    assert_eq!(stack.sandbox.stats().authentications_created, codes_before);
    assert_eq!(
        mallory.listed_instance_ids().await,
        vec![own["id"].as_str().expect("id").to_owned()]
    );
    assert_eq!(alice.listed_instance_ids().await, vec![instance.id.clone()]);
    let (status, still) = alice
        .call(Method::GET, &format!("/instances/{}", instance.id), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(still["name"], "Alice's billing");
    stack.stop().await;
}

/// (case, method, path, content type, body, expected status, expected error code)
type BodyCase<'a> = (
    &'a str,
    Method,
    &'a str,
    Option<&'a str>,
    Vec<u8>,
    StatusCode,
    &'a str,
);

#[tokio::test]
async fn malformed_and_oversize_bodies_are_refused_and_change_nothing() {
    let stack = Stack::start("sqlite::memory:").await;
    let (alice, instance) = connected_alice(&stack).await;
    let http = reqwest::Client::new();
    let base = format!("{}/api/v1", stack.proxy.url());
    let token = proof::host_token(&alice.id, 600);
    let raw = |method: Method, path: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut request = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&token)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    let json_type = Some("application/json");
    let patch = format!("/instances/{}", instance.id);
    let config = format!("/instances/{}/config", instance.id);
    let attach = format!("/instances/{}/auths/{STRIPE_SLOT}", instance.id);
    let huge_name = "x".repeat(100 * 1024);
    let cases: Vec<BodyCase> = vec![
        (
            "not JSON",
            Method::POST,
            "/instances",
            json_type,
            b"{not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "wrong type",
            Method::POST,
            "/instances",
            json_type,
            br#"{"solutionId":5,"idempotencyKey":"k"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "missing key",
            Method::POST,
            "/instances",
            json_type,
            format!(r#"{{"solutionId":"{STRIPE}"}}"#).into_bytes(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "empty key",
            Method::POST,
            "/instances",
            json_type,
            format!(r#"{{"solutionId":"{STRIPE}","idempotencyKey":" "}}"#).into_bytes(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "no content type",
            Method::POST,
            "/instances",
            None,
            format!(r#"{{"solutionId":"{STRIPE}","idempotencyKey":"k2"}}"#).into_bytes(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "unknown solution",
            Method::POST,
            "/instances",
            json_type,
            br#"{"solutionId":"nope","idempotencyKey":"k3"}"#.to_vec(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "oversize create",
            Method::POST,
            "/instances",
            json_type,
            json!({ "solutionId": STRIPE, "idempotencyKey": "k4", "name": huge_name })
                .to_string()
                .into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "oversize rename",
            Method::PATCH,
            &patch,
            json_type,
            json!({ "name": huge_name }).to_string().into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "truncated rename",
            Method::PATCH,
            &patch,
            json_type,
            br#"{"name":"half"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "blank name",
            Method::PATCH,
            &patch,
            json_type,
            br#"{"name":"   "}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "enabled as text",
            Method::PATCH,
            &patch,
            json_type,
            br#"{"enabled":"yes"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "config not JSON text",
            Method::PUT,
            &config,
            json_type,
            br#"{"values":[{"externalId":"x","value":"not json"}]}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "attach without authId",
            Method::PUT,
            &attach,
            json_type,
            b"{}".to_vec(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "attach empty authId",
            Method::PUT,
            &attach,
            json_type,
            br#"{"authId":""}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ];
    let before = tray_state(&stack).await;
    for (case, method, path, content_type, body, status, code) in cases {
        let response = raw(method, path, content_type, body)
            .await
            .expect("proxy answers");
        assert_eq!(response.status(), status, "{case}");
        let answer: Value = response
            .json()
            .await
            .unwrap_or_else(|_| panic!("{case}: the error is not JSON"));
        assert_eq!(error_code(&answer), code, "{case}: {answer}");
    }
    assert_eq!(tray_state(&stack).await, before, "Tray changed");
    let (status, still) = alice.call(Method::GET, &patch, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(still["name"], "Alice's billing");
    assert_eq!(still["authValues"].as_array().map(Vec::len), Some(1));
    stack.stop().await;
}

#[tokio::test]
async fn unknown_auth_and_config_slots_are_refused_and_change_nothing() {
    let stack = Stack::start("sqlite::memory:").await;
    let (alice, instance) = connected_alice(&stack).await;
    let (status, slack) = alice.create(SLACK, "slack-click").await;
    assert_eq!(status, StatusCode::CREATED, "{slack}");
    let slack_id = slack["id"].as_str().expect("id").to_owned();
    let stripe_auth = instance.auths[0].1.clone();
    let before = tray_state(&stack).await;
    let cases = [
        (
            Method::POST,
            format!("/instances/{}/auth-dialog", instance.id),
            json!({ "slot": "external_nope" }),
        ),
        (
            Method::POST,
            format!("/instances/{}/auth-dialog", instance.id),
            json!({}),
        ),
        (
            Method::PUT,
            format!("/instances/{}/auths/external_nope", instance.id),
            json!({ "authId": stripe_auth }),
        ),
        (
            Method::PUT,
            format!("/instances/{slack_id}/config"),
            json!({ "values": [{ "externalId": "external_nope", "value": "\"x\"" }] }),
        ),
    ];
    for (method, path, body) in cases {
        let (status, answer) = alice.call(method.clone(), &path, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {answer}");
        assert_eq!(error_code(&answer), "bad_request", "{method} {path}");
    }
    assert_eq!(tray_state(&stack).await, before, "Tray changed");
    stack.stop().await;
}

#[tokio::test]
async fn authorization_codes_are_single_use_and_auths_cannot_be_borrowed() {
    let stack = Stack::start("sqlite::memory:").await;
    let (alice, instance) = connected_alice(&stack).await;
    let alice_auth = instance.auths[0].1.clone();
    let http = reqwest::Client::new();

    // Replaying a dialog URL: the code was redeemed by the first use.
    let url = alice.dialog_url(&instance.id, STRIPE_SLOT).await;
    let created_before = stack.sandbox.stats().authentications_created;
    let first = complete_dialog(&http, &url).await.expect("first use");
    assert_eq!(first["type"], "tray.authpopup.finish", "{first}");
    for replay in ["open", "submit"] {
        let response = match replay {
            "open" => http.get(&url).send().await,
            _ => {
                http.post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("action=connect&api_key=sk_test_1234")
                    .send()
                    .await
            }
        }
        .expect("dialog answers");
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "replayed code, {replay}"
        );
        let page = response.text().await.expect("page");
        let message = dialog_message(&page).expect("the refusal is posted to the opener");
        assert_eq!(
            message["type"], "tray.authPopup.error",
            "{replay}: {message}"
        );
    }
    assert_eq!(
        stack.sandbox.stats().authentications_created,
        created_before + 1,
        "a replayed code made an auth"
    );

    // Mallory borrows alice's auth id (it passed through alice's browser).
    let mallory = stack.user(&unique_user("mallory"));
    let (status, own) = mallory.create(STRIPE, "mallory-click").await;
    assert_eq!(status, StatusCode::CREATED, "{own}");
    let mallory_instance = own["id"].as_str().expect("id").to_owned();
    let before = tray_state(&stack).await;
    let (status, answer) = mallory
        .call(
            Method::PUT,
            &format!("/instances/{mallory_instance}/auths/{STRIPE_SLOT}"),
            Some(json!({ "authId": alice_auth })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "borrowed auth: {answer}");
    assert_eq!(error_code(&answer), "bad_request");
    assert_eq!(tray_state(&stack).await, before, "Tray changed");
    // Nothing was kept to try again later: a warm page load costs one Tray request.
    mallory.catalog().await;
    let requests = stack.sandbox.stats().requests_served;
    let (status, _) = mallory.catalog().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stack.sandbox.stats().requests_served - requests,
        1,
        "a refused auth is retried"
    );

    // Alice's own auth on a slot of another service is refused too.
    let (status, github) = alice.create(GITHUB_ASANA, "github-click").await;
    assert_eq!(status, StatusCode::CREATED, "{github}");
    let github_id = github["id"].as_str().expect("id").to_owned();
    let before = tray_state(&stack).await;
    let (status, answer) = alice
        .call(
            Method::PUT,
            &format!("/instances/{github_id}/auths/{GITHUB_SLOT}"),
            Some(json!({ "authId": alice_auth })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "wrong service: {answer}");
    assert_eq!(tray_state(&stack).await, before, "Tray changed");

    // The same auth attached again to its own slot is a harmless repeat (Tray's update is
    // idempotent; re-authorizing relies on it): still exactly one auth value.
    let (status, again) = alice.attach(&instance.id, STRIPE_SLOT, &alice_auth).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let held = tray(&stack).instances_of(&alice.id).await;
    let stripe = held
        .iter()
        .find(|i| i.id == instance.id)
        .expect("still there");
    assert_eq!(
        stripe.auths,
        vec![(STRIPE_SLOT.to_owned(), alice_auth.clone())]
    );
    stack.stop().await;
}
