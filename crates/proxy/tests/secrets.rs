//! Secrets (master token, user tokens, authorization codes, the JWT secret and the host
//! JWT itself) never reach a log line or a response, even when requests fail.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use marketplace_proxy::{Config, HostKey, Proxy};
use serde_json::json;
use std::{
    io::Write,
    sync::{Arc, Mutex},
};
use tray_sandbox::{Faults, Sandbox, SandboxConfig};

mod support;

const JWT_SECRET: &str = "host-jwt-secret-value-42";
const WEBHOOK_SECRET: &str = "webhook-secret-value-43";
const STRIPE: &str = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e06";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_appear_in_logs_or_responses() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(move || writer.clone())
        .init();

    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let mut config = Config::for_endpoint(
        sandbox.graphql_url(),
        sandbox.dialog_url(),
        tray_sandbox::DEMO_MASTER_TOKEN,
        tray_sandbox::DEMO_EMBEDDED_ID,
    );
    config.host_key = HostKey::Secret(JWT_SECRET.into());
    config.webhook_secret = Some(WEBHOOK_SECRET.into());
    tracing::info!(?config, "starting");
    let proxy = Proxy::start(config).await.expect("proxy");
    let http = reqwest::Client::new();
    let jwt = encode(
        &Header::new(Algorithm::HS256),
        &json!({ "sub": "secret-user", "name": "S", "exp": support::an_hour_from_now() }),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("signs");
    let api = format!("{}/api/v1", proxy.url());
    let mut responses = String::new();

    let created: serde_json::Value = http
        .post(format!("{api}/instances"))
        .bearer_auth(&jwt)
        .json(&json!({ "solutionId": STRIPE, "idempotencyKey": "k" }))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    responses.push_str(&created.to_string());
    let id = created["id"].as_str().expect("id");
    let dialog: serde_json::Value = http
        .post(format!("{api}/instances/{id}/auth-dialog"))
        .bearer_auth(&jwt)
        .json(&json!({ "slot": "external_stripe_auth" }))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    let url = dialog["url"].as_str().expect("url");
    let code = url.split("code=").nth(1).expect("code").to_owned();

    // Failures are where secrets usually leak: Tray down, bad tokens, bad bodies.
    sandbox.set_faults(Faults {
        failure_rate: 1.0,
        ..Faults::default()
    });
    for request in [
        http.get(format!("{api}/integrations")).bearer_auth(&jwt),
        http.get(format!("{api}/integrations"))
            .bearer_auth(format!("{jwt}x")),
        http.post(format!("{api}/instances"))
            .bearer_auth(&jwt)
            .body("{bad"),
        http.put(format!("{api}/instances/{id}/auths/external_stripe_auth"))
            .bearer_auth(&jwt)
            .json(&json!({ "authId": "a-1" })),
        // Tray's webhook carries its secret in the query: the request trace must not.
        http.post(format!(
            "{}/webhooks/tray/auth-expiring?secret={WEBHOOK_SECRET}",
            proxy.url()
        ))
        .json(&json!({ "authId": "a-1" })),
    ] {
        responses.push_str(
            &request
                .send()
                .await
                .expect("answers")
                .text()
                .await
                .expect("text"),
        );
    }
    sandbox.set_faults(Faults::default());
    proxy.stop().await;
    sandbox.stop().await;

    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf8");
    assert!(
        logs.contains("request failed") || logs.contains("Tray"),
        "the capture works: {logs}"
    );
    for (what, secret) in [
        ("master token", tray_sandbox::DEMO_MASTER_TOKEN),
        ("JWT secret", JWT_SECRET),
        ("host JWT", jwt.as_str()),
        ("authorization code", code.as_str()),
        ("webhook secret", WEBHOOK_SECRET),
    ] {
        assert!(!logs.contains(secret), "{what} in the logs");
        assert!(!responses.contains(secret), "{what} in a response");
    }
    assert!(
        !logs.to_lowercase().contains("bearer "),
        "an Authorization header was logged"
    );
}
