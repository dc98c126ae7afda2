//! Helpers for the proof tests: a sandbox with one or more proxies in front of it,
//! simulated widget users that retry as the widget does, the sandbox dialog driven
//! without a browser, and Tray's view of the world read with the master token.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use marketplace_proxy::{Config, Proxy, DEMO_JWT_SECRET};
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use tray_sandbox::{Sandbox, SandboxConfig};

/// Stripe payments: one API-key auth slot, no config.
pub const STRIPE: &str = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e06";
pub const STRIPE_SLOT: &str = "external_stripe_auth";
/// GitHub to Asana: two OAuth auth slots, no config.
pub const GITHUB_ASANA: &str = "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c09";
pub const GITHUB_SLOT: &str = "external_github_auth";
pub const ASANA_SLOT: &str = "external_asana_auth";
/// Slack notifications: one OAuth slot and two config slots.
pub const SLACK: &str = "3f1c9a52-6d0e-4d8b-9a51-0c1f6f2e7a01";
pub const SLACK_SLOT: &str = "external_slack_auth";

/// The Postgres the tests may use (`cargo xtask test` starts one); `None` says why not.
pub fn postgres_url() -> Option<String> {
    match std::env::var("PROXY_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIPPED: PROXY_TEST_POSTGRES_URL is not set (cargo xtask test sets it to a \
                 throwaway PostgreSQL); this test needs Postgres"
            );
            None
        }
    }
}

/// Proxy settings for talking to `sandbox`, on `database_url`.
pub fn proxy_config(sandbox: &Sandbox, database_url: &str) -> Config {
    let mut config = Config::for_endpoint(
        sandbox.graphql_url(),
        sandbox.dialog_url(),
        tray_sandbox::DEMO_MASTER_TOKEN,
        tray_sandbox::DEMO_EMBEDDED_ID,
    );
    config.database_url = database_url.to_owned();
    config
}

/// A sandbox with Tray's real limits and one proxy in front of it.
/// The proxy's errors (never its warnings about Tray's injected failures) go to the
/// test's output, shown when a test fails: a 500 then says what went wrong.
fn show_proxy_errors() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("marketplace_proxy=error")
        .with_test_writer()
        .try_init();
}

pub struct Stack {
    pub sandbox: Sandbox,
    pub proxy: Proxy,
}

impl Stack {
    pub async fn start(database_url: &str) -> Stack {
        Self::start_with(database_url, |_| {}).await
    }

    pub async fn start_with(database_url: &str, adjust: impl FnOnce(&mut Config)) -> Stack {
        show_proxy_errors();
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .expect("sandbox starts");
        let mut config = proxy_config(&sandbox, database_url);
        adjust(&mut config);
        let proxy = Proxy::start(config).await.expect("proxy starts");
        Stack { sandbox, proxy }
    }

    pub fn user(&self, id: &str) -> User {
        User::new(&self.proxy.url(), id)
    }

    pub async fn stop(self) {
        self.proxy.stop().await;
        self.sandbox.stop().await;
    }
}

/// A host token for `user`, signed as the demo host backend signs them.
pub fn host_token(user: &str, valid_for_secs: i64) -> String {
    sign(
        Algorithm::HS256,
        DEMO_JWT_SECRET.as_bytes(),
        &json!({ "sub": user, "name": format!("User {user}"), "exp": unix_now() + valid_for_secs }),
    )
}

/// Any claims, any HMAC algorithm, any key: for forging tokens.
pub fn sign(algorithm: Algorithm, secret: &[u8], claims: &Value) -> String {
    encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HMAC signing cannot fail")
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A unique host user id, so tests sharing a database never meet.
pub fn unique_user(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4())
}

/// One simulated widget user of one proxy.
#[derive(Clone)]
pub struct User {
    pub id: String,
    base: String,
    token: String,
    http: reqwest::Client,
}

/// How many times a user presses "Try again" before the test gives up.
const MAX_TRIES: u32 = 60;

impl User {
    pub fn new(proxy_url: &str, id: &str) -> User {
        User {
            id: id.to_owned(),
            base: format!("{proxy_url}/api/v1"),
            token: host_token(id, 3600),
            http: reqwest::Client::new(),
        }
    }

    /// The same user talking to another replica.
    pub fn on(&self, proxy_url: &str) -> User {
        User {
            base: format!("{proxy_url}/api/v1"),
            ..self.clone()
        }
    }

    /// One request; the body is JSON when it parses, else the text.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                (
                    status,
                    serde_json::from_str(&text).unwrap_or(Value::String(text)),
                )
            }
            // A dropped connection is an unknown outcome, like a 503.
            Err(err) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Value::String(err.to_string()),
            ),
        }
    }

    /// As the widget's "Try again": repeat the identical request (same idempotency key)
    /// while the answer says Tray or the proxy was busy, with jittered backoff.
    pub async fn call_retrying(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut tries = 0;
        loop {
            tries += 1;
            let (status, answer) = self.call(method.clone(), path, body.clone()).await;
            // An outage, a rate limit, or Tray too slow for the proxy's time limit.
            let busy = status == StatusCode::SERVICE_UNAVAILABLE
                || status == StatusCode::GATEWAY_TIMEOUT
                || status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::CONFLICT && answer.to_string().contains("being created");
            if !busy || tries >= MAX_TRIES {
                return (status, answer);
            }
            let ceiling = 200u64 * u64::from(tries.min(10));
            let pause = rand::thread_rng().gen_range(ceiling / 2..=ceiling);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }

    pub async fn create(&self, solution_id: &str, key: &str) -> (StatusCode, Value) {
        self.call_retrying(
            Method::POST,
            "/instances",
            Some(json!({ "solutionId": solution_id, "idempotencyKey": key })),
        )
        .await
    }

    pub async fn catalog(&self) -> (StatusCode, Value) {
        self.call_retrying(Method::GET, "/integrations", None).await
    }

    /// Every instance id the user's catalog lists.
    pub async fn listed_instance_ids(&self) -> Vec<String> {
        let (status, catalog) = self.catalog().await;
        assert_eq!(status, StatusCode::OK, "{} catalog: {catalog}", self.id);
        catalog["integrations"]
            .as_array()
            .expect("integrations")
            .iter()
            .flat_map(|integration| {
                integration["instances"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|instance| instance["id"].as_str().expect("instance id").to_owned())
            .collect()
    }

    /// The dialog URL (with a fresh code) for `slot` of `instance_id`.
    pub async fn dialog_url(&self, instance_id: &str, slot: &str) -> String {
        let (status, dialog) = self
            .call_retrying(
                Method::POST,
                &format!("/instances/{instance_id}/auth-dialog"),
                Some(json!({ "slot": slot })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{} auth-dialog: {dialog}", self.id);
        dialog["url"].as_str().expect("url").to_owned()
    }

    /// Open the dialog for `slot`, complete it, and return the new authId.
    pub async fn authorize(&self, instance_id: &str, slot: &str) -> String {
        let url = self.dialog_url(instance_id, slot).await;
        let message = complete_dialog(&self.http, &url)
            .await
            .unwrap_or_else(|err| panic!("{} dialog: {err}", self.id));
        assert_eq!(message["type"], "tray.authpopup.finish", "{message}");
        message["authId"].as_str().expect("authId").to_owned()
    }

    pub async fn attach(
        &self,
        instance_id: &str,
        slot: &str,
        auth_id: &str,
    ) -> (StatusCode, Value) {
        self.call_retrying(
            Method::PUT,
            &format!("/instances/{instance_id}/auths/{slot}"),
            Some(json!({ "authId": auth_id })),
        )
        .await
    }
}

/// Post the dialog's consent form as a browser would (API-key services get a key,
/// OAuth ones "Allow"); returns the message the page posts to its opener.
pub async fn complete_dialog(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let form = if url.contains(STRIPE_SLOT) || url.contains("zendesk") || url.contains("mailchimp")
    {
        "action=connect&api_key=sk_test_1234"
    } else {
        "action=allow"
    };
    let response = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .map_err(|err| err.to_string())?;
    let status = response.status();
    let page = response.text().await.map_err(|err| err.to_string())?;
    dialog_message(&page).ok_or_else(|| format!("HTTP {status} without a message: {page}"))
}

/// The JSON the dialog page posts (`<script type="application/json" id="tray-message">`).
pub fn dialog_message(page: &str) -> Option<Value> {
    let marker = r#"id="tray-message">"#;
    let start = page.find(marker)? + marker.len();
    let end = start + page[start..].find("</script>")?;
    serde_json::from_str(&page[start..end]).ok()
}

/// What Tray holds, read with the master token (in-process: no rate limit, no faults).
pub struct TrayView<'a> {
    pub sandbox: &'a Sandbox,
}

/// One instance as Tray holds it.
#[derive(Debug, Clone)]
pub struct TrayInstance {
    pub id: String,
    pub owner: String,
    pub solution_id: String,
    pub name: String,
    pub enabled: bool,
    /// (slot, authId)
    pub auths: Vec<(String, String)>,
}

impl TrayView<'_> {
    async fn master(&self, query: &str, variables: Value) -> Value {
        let answer = self
            .sandbox
            .execute(tray_sandbox::DEMO_MASTER_TOKEN, query, variables)
            .await;
        assert!(answer["errors"].is_null(), "sandbox query failed: {answer}");
        answer["data"].clone()
    }

    /// Tray user ids whose externalUserId is `external_user_id`.
    pub async fn users_for(&self, external_user_id: &str) -> Vec<String> {
        let data = self
            .master(
                "query($e: String) { users(criteria: { externalUserId: $e }) { edges { node { id externalUserId } } } }",
                json!({ "e": external_user_id }),
            )
            .await;
        data["users"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .filter(|edge| edge["node"]["externalUserId"] == external_user_id)
            .map(|edge| edge["node"]["id"].as_str().expect("id").to_owned())
            .collect()
    }

    /// A user token for the Tray user of host user `external_user_id`, as the proxy
    /// would mint it: for acting at Tray behind the proxy's back.
    pub async fn user_token_for(&self, external_user_id: &str) -> String {
        let tray_user = self
            .users_for(external_user_id)
            .await
            .pop()
            .expect("the Tray user");
        let data = self
            .master(
                "mutation($u: ID!) { authorize(input: { userId: $u }) { accessToken } }",
                json!({ "u": tray_user }),
            )
            .await;
        data["authorize"]["accessToken"]
            .as_str()
            .expect("a user token")
            .to_owned()
    }

    /// Every instance in the organisation, page by page.
    pub async fn instances(&self) -> Vec<TrayInstance> {
        let mut all = Vec::new();
        let mut after = Value::Null;
        loop {
            let data = self
                .master(
                    "query($after: String) { viewer { solutionInstances(first: 100, after: $after) {
                        edges { node { id name enabled owner solution { id } authValues { externalId authId } } }
                        pageInfo { hasNextPage endCursor } } } }",
                    json!({ "after": after }),
                )
                .await;
            let page = &data["viewer"]["solutionInstances"];
            for edge in page["edges"].as_array().expect("edges") {
                all.push(tray_instance(&edge["node"]));
            }
            if page["pageInfo"]["hasNextPage"] != true {
                return all;
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
    }

    /// The instances owned by the Tray user of `external_user_id`.
    pub async fn instances_of(&self, external_user_id: &str) -> Vec<TrayInstance> {
        let owners = self.users_for(external_user_id).await;
        self.instances()
            .await
            .into_iter()
            .filter(|instance| owners.contains(&instance.owner))
            .collect()
    }
}

fn tray_instance(node: &Value) -> TrayInstance {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    TrayInstance {
        id: text(&node["id"]),
        owner: text(&node["owner"]),
        solution_id: text(&node["solution"]["id"]),
        name: text(&node["name"]),
        enabled: node["enabled"] == true,
        auths: node["authValues"]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .map(|v| (text(&v["externalId"]), text(&v["authId"])))
                    .collect()
            })
            .unwrap_or_default(),
    }
}
