//! The widget API against an in-process sandbox standing in for Tray.
//! With `PROXY_TEST_POSTGRES_URL` set, each test also runs on that Postgres database.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use marketplace_proxy::{Config, Proxy, DEMO_JWT_SECRET};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tray_sandbox::{Faults, Sandbox, SandboxConfig};

mod support;

const STRIPE: &str = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e06";
const STRIPE_SLOT: &str = "external_stripe_auth";
/// Zendesk sets `disableAutoEnable`: the user turns it on by hand.
const ZENDESK_MANUAL: &str = "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f07";
const SALESFORCE_UNIQUE: &str = "7a2e41c0-1b7f-4a35-8e0d-2b6c93d4e102";
const WEBHOOK_SECRET: &str = "webhook-shared-secret";

struct Harness {
    sandbox: Sandbox,
    proxy: Proxy,
    http: reqwest::Client,
}

fn database_urls() -> Vec<String> {
    let mut urls = vec!["sqlite::memory:".to_owned()];
    if let Ok(url) = std::env::var("PROXY_TEST_POSTGRES_URL") {
        urls.push(url);
    }
    urls
}

impl Harness {
    async fn start(database_url: &str) -> Harness {
        Self::start_with(database_url, |_| {}).await
    }

    async fn start_with(database_url: &str, adjust: impl FnOnce(&mut Config)) -> Harness {
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .expect("sandbox starts");
        let mut config = Config::for_endpoint(
            sandbox.graphql_url(),
            sandbox.dialog_url(),
            tray_sandbox::DEMO_MASTER_TOKEN,
            tray_sandbox::DEMO_EMBEDDED_ID,
        );
        config.database_url = database_url.to_owned();
        config.webhook_secret = Some(WEBHOOK_SECRET.to_owned());
        adjust(&mut config);
        let proxy = Proxy::start(config).await.expect("proxy starts");
        Harness {
            sandbox,
            proxy,
            http: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        user: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.proxy.url()))
            .bearer_auth(token(user, Algorithm::HS256, DEMO_JWT_SECRET, 600));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("proxy answers");
        let status = response.status();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn create(&self, user: &str, solution_id: &str, key: &str) -> (StatusCode, Value) {
        let body = json!({ "solutionId": solution_id, "idempotencyKey": key });
        self.call(reqwest::Method::POST, "/instances", user, Some(body))
            .await
    }

    /// Drive the sandbox dialog without a browser, as its README describes; returns the authId.
    async fn authorize_slot(&self, user: &str, instance_id: &str) -> String {
        self.authorize(
            user,
            instance_id,
            STRIPE_SLOT,
            "action=connect&api_key=sk_test_1234",
        )
        .await
    }

    /// The dialog for any slot, answered with `form` (`action=allow` for OAuth services).
    async fn authorize(&self, user: &str, instance_id: &str, slot: &str, form: &str) -> String {
        let (status, dialog) = self
            .call(
                reqwest::Method::POST,
                &format!("/instances/{instance_id}/auth-dialog"),
                user,
                Some(json!({ "slot": slot })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{dialog}");
        let url = dialog["url"].as_str().expect("url");
        let page = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
            .send()
            .await
            .expect("dialog answers")
            .text()
            .await
            .expect("page");
        let start =
            page.find(r#"id="tray-message">"#).expect("message") + r#"id="tray-message">"#.len();
        let end = start + page[start..].find("</script>").expect("end");
        let message: Value = serde_json::from_str(&page[start..end]).expect("message json");
        assert_eq!(message["type"], "tray.authpopup.finish", "{message}");
        message["authId"].as_str().expect("authId").to_owned()
    }

    /// `GET /instances/{id}`.
    async fn instance(&self, user: &str, id: &str) -> (StatusCode, Value) {
        self.call(
            reqwest::Method::GET,
            &format!("/instances/{id}"),
            user,
            None,
        )
        .await
    }

    /// Publishes a new version of `solution_id` (`tray_sandbox::NewVersion` as JSON).
    async fn publish(&self, solution_id: &str, version: Value) {
        let version: tray_sandbox::NewVersion = serde_json::from_value(version).expect("a version");
        self.sandbox
            .publish_version(solution_id, version)
            .await
            .expect("published");
    }

    /// `PATCH /instances/{id}`: rename, enable or disable.
    async fn patch(&self, user: &str, id: &str, change: Value) -> (StatusCode, Value) {
        self.call(
            reqwest::Method::PATCH,
            &format!("/instances/{id}"),
            user,
            Some(change),
        )
        .await
    }

    /// `PUT /instances/{id}/auths/{slot}`: attach an auth the dialog returned.
    async fn attach(&self, user: &str, id: &str, slot: &str, auth_id: &str) -> (StatusCode, Value) {
        let path = format!("/instances/{id}/auths/{slot}");
        let body = json!({ "authId": auth_id });
        self.call(reqwest::Method::PUT, &path, user, Some(body))
            .await
    }

    /// The Tray user id the sandbox holds for the host user `user`.
    async fn tray_user_id(&self, user: &str) -> String {
        let found = self
            .sandbox
            .execute(
                tray_sandbox::DEMO_MASTER_TOKEN,
                "query($e: String!) { users(criteria: { externalUserId: $e }) { edges { node { id } } } }",
                json!({ "e": user }),
            )
            .await;
        found["data"]["users"]["edges"][0]["node"]["id"]
            .as_str()
            .expect("the user is on Tray")
            .to_owned()
    }

    /// An instance made on Tray directly (by the host's backend, or before this proxy's
    /// database existed), not through the proxy; returns its id.
    /// A Tray user token for `user`, as the host's backend could mint one.
    async fn tray_user_token(&self, user: &str) -> String {
        let tray_user = self.tray_user_id(user).await;
        let token = self
            .sandbox
            .execute(
                tray_sandbox::DEMO_MASTER_TOKEN,
                "mutation($u: ID!) { authorize(input: { userId: $u }) { accessToken } }",
                json!({ "u": tray_user }),
            )
            .await;
        token["data"]["authorize"]["accessToken"]
            .as_str()
            .expect("a user token")
            .to_owned()
    }

    /// The value Tray holds for `slot` of instance `id` (JSON text).
    async fn value_on_tray(&self, user: &str, id: &str, slot: &str) -> Option<String> {
        let listed = self
            .sandbox
            .execute(
                &self.tray_user_token(user).await,
                "{ viewer { solutionInstances { edges { node { id configValues { externalId value } } } } } }",
                json!({}),
            )
            .await;
        listed["data"]["viewer"]["solutionInstances"]["edges"]
            .as_array()?
            .iter()
            .map(|edge| &edge["node"])
            .find(|node| node["id"] == id)?["configValues"]
            .as_array()?
            .iter()
            .find(|value| value["externalId"] == slot)?["value"]
            .as_str()
            .map(str::to_owned)
    }

    async fn remove_on_tray(&self, user: &str, id: &str) {
        let removed = self
            .sandbox
            .execute(
                &self.tray_user_token(user).await,
                "mutation($i: ID!) { removeSolutionInstance(input: { solutionInstanceId: $i }) { clientMutationId } }",
                json!({ "i": id }),
            )
            .await;
        assert!(removed["errors"].is_null(), "{removed}");
    }

    async fn create_on_tray(&self, user: &str, solution_id: &str) -> String {
        let created = self
            .sandbox
            .execute(
                &self.tray_user_token(user).await,
                "mutation($s: ID!) { createSolutionInstance(input: { solutionId: $s, instanceName: \"Old\" }) { solutionInstance { id } } }",
                json!({ "s": solution_id }),
            )
            .await;
        created["data"]["createSolutionInstance"]["solutionInstance"]["id"]
            .as_str()
            .expect("an instance")
            .to_owned()
    }

    async fn stop(self) {
        self.proxy.stop().await;
        self.sandbox.stop().await;
    }
}

fn token(user: &str, algorithm: Algorithm, secret: &str, valid_for: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let claims = json!({ "sub": user, "name": format!("User {user}"), "exp": now + valid_for });
    encode(
        &Header::new(algorithm),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signs")
}

fn unique_user(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4())
}

fn find_integration<'a>(catalog: &'a Value, solution_id: &str) -> &'a Value {
    catalog["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .find(|integration| integration["solutionId"] == solution_id)
        .expect("integration listed")
}

#[tokio::test]
async fn a_user_connects_enables_and_deletes_an_integration() {
    for url in database_urls() {
        let harness = Harness::start(&url).await;
        let user = unique_user("alice");

        let (status, catalog) = harness
            .call(reqwest::Method::GET, "/integrations", &user, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{catalog}");
        assert_eq!(catalog["dialogOrigin"], harness.sandbox.dialog_url());
        assert!(find_integration(&catalog, STRIPE)["instances"]
            .as_array()
            .expect("list")
            .is_empty());

        let (status, instance) = harness.create(&user, STRIPE, "click-1").await;
        assert_eq!(status, StatusCode::CREATED, "{instance}");
        assert_eq!(instance["status"], "setting_up");
        let id = instance["id"].as_str().expect("id").to_owned();

        let auth_id = harness.authorize_slot(&user, &id).await;
        let (status, attached) = harness.attach(&user, &id, STRIPE_SLOT, &auth_id).await;
        assert_eq!(status, StatusCode::OK, "{attached}");
        assert_eq!(attached["status"], "setting_up", "never enabled yet");

        let (status, enabled) = harness
            .patch(&user, &id, json!({ "enabled": true, "name": "Billing" }))
            .await;
        assert_eq!(status, StatusCode::OK, "{enabled}");
        assert_eq!(enabled["status"], "connected");
        assert_eq!(enabled["name"], "Billing");
        assert_eq!(
            harness.sandbox.stats().early_enables,
            0,
            "enabled sooner than 2 s after creation"
        );

        let (_, catalog) = harness
            .call(reqwest::Method::GET, "/integrations", &user, None)
            .await;
        assert_eq!(
            find_integration(&catalog, STRIPE)["instances"][0]["status"],
            "connected"
        );

        let (status, disabled) = harness.patch(&user, &id, json!({ "enabled": false })).await;
        assert_eq!(status, StatusCode::OK, "{disabled}");
        assert_eq!(disabled["status"], "disabled");

        let (status, _) = harness
            .call(
                reqwest::Method::DELETE,
                &format!("/instances/{id}"),
                &user,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, catalog) = harness
            .call(reqwest::Method::GET, "/integrations", &user, None)
            .await;
        assert!(find_integration(&catalog, STRIPE)["instances"]
            .as_array()
            .expect("list")
            .is_empty());
        harness.stop().await;
    }
}

#[tokio::test]
async fn the_same_idempotency_key_creates_one_instance_and_force_unique_is_honoured() {
    for url in database_urls() {
        let harness = Harness::start(&url).await;
        let user = unique_user("bob");
        let (first, second) = tokio::join!(
            harness.create(&user, STRIPE, "double-click"),
            harness.create(&user, STRIPE, "double-click")
        );
        let ids: Vec<&Value> = [&first, &second]
            .iter()
            .filter(|(status, _)| *status == StatusCode::CREATED)
            .map(|(_, body)| &body["id"])
            .collect();
        assert!(!ids.is_empty(), "{first:?} {second:?}");
        let (status, again) = harness.create(&user, STRIPE, "double-click").await;
        assert_eq!(status, StatusCode::CREATED, "{again}");
        assert!(ids.iter().all(|id| **id == again["id"]));
        let (_, catalog) = harness
            .call(reqwest::Method::GET, "/integrations", &user, None)
            .await;
        assert_eq!(
            find_integration(&catalog, STRIPE)["instances"]
                .as_array()
                .expect("list")
                .len(),
            1
        );

        // Three at once with different keys (two tabs, a script): one instance.
        let (a, b, c) = tokio::join!(
            harness.create(&user, SALESFORCE_UNIQUE, "sf-1"),
            harness.create(&user, SALESFORCE_UNIQUE, "sf-2"),
            harness.create(&user, SALESFORCE_UNIQUE, "sf-3"),
        );
        let statuses = [a.0, b.0, c.0];
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == StatusCode::CREATED)
                .count(),
            1,
            "{a:?} {b:?} {c:?}"
        );
        assert!(statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT));
        let (status, body) = harness.create(&user, SALESFORCE_UNIQUE, "sf-4").await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"]["code"], "conflict");
        let (_, catalog) = harness
            .call(reqwest::Method::GET, "/integrations", &user, None)
            .await;
        assert_eq!(
            find_integration(&catalog, SALESFORCE_UNIQUE)["instances"]
                .as_array()
                .expect("list")
                .len(),
            1
        );
        harness.stop().await;
    }
}

/// The names of the user's Stripe connections, as the catalog lists them, sorted.
async fn stripe_names(harness: &Harness, user: &str) -> Vec<String> {
    let (_, catalog) = harness
        .call(reqwest::Method::GET, "/integrations", user, None)
        .await;
    let mut names: Vec<String> = find_integration(&catalog, STRIPE)["instances"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|instance| instance["name"].as_str().map(str::to_owned))
        .collect();
    names.sort_unstable();
    names
}

/// `create_named` while Tray (the sandbox) misbehaves as `faults` say.
async fn create_named_under(
    harness: &Harness,
    faults: Faults,
    user: &str,
    key: &str,
    name: &str,
) -> (StatusCode, Value) {
    harness.sandbox.set_faults(faults);
    let answer = create_named(harness, user, key, name).await;
    harness.sandbox.set_faults(Faults::default());
    answer
}

/// A create with a name, as the widget's "Add another" sends.
async fn create_named(harness: &Harness, user: &str, key: &str, name: &str) -> (StatusCode, Value) {
    let body = json!({ "solutionId": STRIPE, "idempotencyKey": key, "name": name });
    harness
        .call(reqwest::Method::POST, "/instances", user, Some(body))
        .await
}

#[tokio::test]
async fn a_failed_create_is_never_answered_with_an_instance_another_create_made() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("lost");
    harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    // "First" is made, but neither its answer nor the list that looks for it arrives.
    let faults = Faults {
        lost_answer_rate: 1.0,
        ..Faults::default()
    };
    let (status, lost) = create_named_under(&harness, faults, &user, "click-1", "First").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{lost}");
    // A catalog load lists it (and records it).
    let (_, catalog) = harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    let first_id = find_integration(&catalog, STRIPE)["instances"][0]["id"].clone();
    assert!(first_id.is_string(), "{catalog}");

    // "Second" fails before Tray makes it: the user must hear so, not get "First".
    let faults = Faults {
        failure_rate: 1.0,
        only: Some("createSolutionInstance".into()),
        ..Faults::default()
    };
    let (status, failed) = create_named_under(&harness, faults, &user, "click-2", "Second").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{failed}");

    // Each retried click gets its own instance, and nothing is made twice.
    let (status, first) = create_named(&harness, &user, "click-1", "First").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["id"], first_id);
    let (status, second) = create_named(&harness, &user, "click-2", "Second").await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["name"], "Second");
    assert_eq!(stripe_names(&harness, &user).await, ["First", "Second"]);
    harness.stop().await;
}

/// Creates Tray carries out only after `ms` milliseconds.
fn slow_creates(ms: u64) -> Faults {
    Faults {
        latency: Duration::from_millis(ms),
        only: Some("createSolutionInstance".into()),
        ..Faults::default()
    }
}

/// A harness whose proxy gives each Tray call `timeout_ms`, and a user who has loaded the
/// catalog (so that the user's Tray user exists before any fault).
async fn tray_waited_on(
    timeout_ms: u64,
    user: &str,
    adjust: impl FnOnce(&mut Config),
) -> (Harness, String) {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.tray_timeout = Duration::from_millis(timeout_ms);
        adjust(config);
    })
    .await;
    let user = unique_user(user);
    harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    (harness, user)
}

/// Tray may carry out a create the proxy gave up waiting for, after the list that looks
/// for it: a retry meanwhile must not make a second, and a retry after it must take it.
#[tokio::test]
async fn a_create_tray_finishes_after_the_proxy_gave_up_is_found_by_its_retry() {
    let (harness, user) = tray_waited_on(1_000, "late-create", |config| {
        config.unanswered_grace = Duration::from_millis(4_000);
    })
    .await;
    let slow = slow_creates(2_500);
    let (status, unanswered) = create_named_under(&harness, slow, &user, "click", "Payouts").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{unanswered}");
    // Tray is still at it: its retry makes nothing in its place.
    let (status, early) = create_named(&harness, &user, "click", "Payouts").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{early}");

    // Tray has made it (within the grace time).
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let (status, retried) = create_named(&harness, &user, "click", "Payouts").await;
    assert_eq!(status, StatusCode::CREATED, "{retried}");
    assert_eq!(stripe_names(&harness, &user).await, ["Payouts"]);
    harness.stop().await;
}

/// A create Tray left unanswered counts against the user's limit while Tray may still
/// make it: a create with another key meanwhile is refused, or Tray would end up holding
/// one connection more than the limit.
#[tokio::test]
async fn a_create_left_unanswered_counts_against_the_users_limit() {
    let (harness, user) = tray_waited_on(1_000, "unanswered-limit", |config| {
        config.max_connections_per_user = 2;
    })
    .await;
    let (status, first) = create_named(&harness, &user, "first", "First").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, unanswered) =
        create_named_under(&harness, slow_creates(2_500), &user, "lost", "Lost").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{unanswered}");
    let (status, other) = create_named(&harness, &user, "other", "Other").await;
    assert_eq!(status, StatusCode::CONFLICT, "{other}");
    assert_eq!(other["error"]["code"], "limit_reached", "{other}");

    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(stripe_names(&harness, &user).await, ["First", "Lost"]);
    harness.stop().await;
}

/// A reload loses the widget's idempotency key: a connect started again meanwhile (a new
/// key, the same name) waits for the first create, answered or not, instead of making
/// the same connection twice.
#[tokio::test]
async fn a_create_of_a_name_being_created_waits_for_the_first() {
    let (harness, user) = tray_waited_on(3_000, "reloaded", |_| {}).await;
    harness.sandbox.set_faults(slow_creates(1_500));
    let (first, second) = tokio::join!(
        create_named(&harness, &user, "before-reload", "Payouts"),
        async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            create_named(&harness, &user, "after-reload", "Payouts").await
        }
    );
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    assert_eq!(second.0, StatusCode::CONFLICT, "{}", second.1);

    // Unanswered (slower than the proxy waits), the first holds the name a while longer.
    harness.sandbox.set_faults(slow_creates(4_000));
    let (status, unanswered) = create_named(&harness, &user, "slow", "Refunds").await;
    harness.sandbox.set_faults(Faults::default());
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{unanswered}");
    let (status, again) = create_named(&harness, &user, "reloaded", "Refunds").await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(stripe_names(&harness, &user).await, ["Payouts", "Refunds"]);
    harness.stop().await;
}

/// The same for a one-per-user integration: while Tray may still make the first
/// create's instance, another tab's create of it is refused instead of making a second.
#[tokio::test]
async fn a_one_per_user_create_left_unanswered_holds_off_other_tabs() {
    let (harness, user) = tray_waited_on(1_000, "late-unique", |_| {}).await;
    harness.sandbox.set_faults(slow_creates(2_500));
    let (status, unanswered) = harness.create(&user, SALESFORCE_UNIQUE, "tab-1").await;
    harness.sandbox.set_faults(Faults::default());
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{unanswered}");
    let (status, other) = harness.create(&user, SALESFORCE_UNIQUE, "tab-2").await;
    assert_eq!(status, StatusCode::CONFLICT, "{other}");

    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let (status, found) = harness.create(&user, SALESFORCE_UNIQUE, "tab-1").await;
    assert_eq!(status, StatusCode::CREATED, "{found}");
    let (_, catalog) = harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    let instances = &find_integration(&catalog, SALESFORCE_UNIQUE)["instances"];
    assert_eq!(instances.as_array().map(Vec::len), Some(1), "{instances}");
    harness.stop().await;
}

/// Two creates of one name whose answers were lost, each tried again at once: each
/// list finds both instances, and each retry must take its own, not both the older one
/// (which would leave the other connection with no key, to be made a third time).
#[tokio::test]
async fn lost_answers_retried_together_take_one_instance_each() {
    for url in database_urls() {
        let stale_after = Duration::from_millis(1_000);
        let harness =
            Harness::start_with(&url, |config| config.claim_stale_after = stale_after).await;
        let user = unique_user("lost-twice");
        harness
            .call(reqwest::Method::GET, "/integrations", &user, None)
            .await;
        let lost = Faults {
            lost_answer_rate: 1.0,
            ..Faults::default()
        };
        for key in ["tab-1", "tab-2"] {
            let (status, answer) =
                create_named_under(&harness, lost.clone(), &user, key, "Payouts").await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
            // Until its claim on the name goes stale, no other create of it starts.
            tokio::time::sleep(stale_after + Duration::from_millis(300)).await;
        }
        // Slow lists, so that both retries list before either records what it found.
        harness.sandbox.set_faults(Faults {
            latency: Duration::from_millis(300),
            only: Some("ListInstances".into()),
            ..Faults::default()
        });
        let (first, second) = tokio::join!(
            create_named(&harness, &user, "tab-1", "Payouts"),
            create_named(&harness, &user, "tab-2", "Payouts")
        );
        harness.sandbox.set_faults(Faults::default());
        assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
        assert_eq!(second.0, StatusCode::CREATED, "{}", second.1);
        assert_ne!(first.1["id"], second.1["id"], "one instance for two keys");
        assert_eq!(stripe_names(&harness, &user).await, ["Payouts", "Payouts"]);
        harness.stop().await;
    }
}

#[tokio::test]
async fn an_idempotency_key_sent_with_another_name_is_refused() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("renamed-key");
    let (status, made) = create_named(&harness, &user, "key-1", "Payments").await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (status, other) = create_named(&harness, &user, "key-1", "Refunds").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{other}");
    assert!(
        other["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("another name")),
        "{other}"
    );
    // Surrounding blanks are no other name: the create trims them.
    let (status, again) = create_named(&harness, &user, "key-1", " Payments ").await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["id"], made["id"]);

    // A create whose answer was lost: its key, sent again with another name, must not
    // go looking for that name (and, finding none, make a second connection). The
    // list that looks for it is lost too, so the outcome stays unknown.
    let faults = Faults {
        lost_answer_rate: 1.0,
        ..Faults::default()
    };
    let (status, lost) = create_named_under(&harness, faults, &user, "key-2", "Payouts").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{lost}");
    let (status, other) = create_named(&harness, &user, "key-2", "Invoices").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{other}");
    let (status, found) = create_named(&harness, &user, "key-2", "Payouts").await;
    assert_eq!(status, StatusCode::CREATED, "{found}");
    assert_eq!(stripe_names(&harness, &user).await, ["Payments", "Payouts"]);

    // A create that failed with nothing made frees its key, for any request.
    let faults = Faults {
        failure_rate: 1.0,
        only: Some("createSolutionInstance".into()),
        ..Faults::default()
    };
    let (status, failed) = create_named_under(&harness, faults, &user, "key-3", "Taxes").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{failed}");
    let (status, made) = create_named(&harness, &user, "key-3", "Fees").await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["name"], "Fees");
    harness.stop().await;
}

#[tokio::test]
async fn an_idempotency_key_stands_for_one_request() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("keys");
    let (status, made) = harness.create(&user, STRIPE, "key-1").await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    // The same key for another integration is a client's mistake, not a repeat.
    let (status, other) = harness.create(&user, ZENDESK_MANUAL, "key-1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{other}");
    assert!(
        other["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("another integration")),
        "{other}"
    );
    // Once its connection is deleted, the key answers so instead of "not found".
    let path = format!("/instances/{}", made["id"].as_str().expect("id"));
    let (status, _) = harness
        .call(reqwest::Method::DELETE, &path, &user, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, again) = harness.create(&user, STRIPE, "key-1").await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    // A code of its own: a client stops sending the key, which can never succeed again.
    assert_eq!(again["error"]["code"], "key_spent");
    assert!(
        again["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("deleted")),
        "{again}"
    );
    // A name is held to the same limit as a rename, in characters.
    let accented = "é".repeat(200);
    let body = json!({ "solutionId": STRIPE, "idempotencyKey": "key-3", "name": accented });
    let (status, made) = harness
        .call(reqwest::Method::POST, "/instances", &user, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let long = "n".repeat(201);
    let body = json!({ "solutionId": STRIPE, "idempotencyKey": "key-2", "name": long });
    let (status, refused) = harness
        .call(reqwest::Method::POST, "/instances", &user, Some(body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    harness.stop().await;
}

#[tokio::test]
async fn a_one_per_user_connection_tray_removed_does_not_block_a_new_one() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("removed");
    let (status, body) = harness.create(&user, SALESFORCE_UNIQUE, "sf-1").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Tray drops the user with their instances (removeExternalUser, by the host's
    // backend or Tray's support): the proxy's own record of the instance is stale.
    let master = tray_sandbox::DEMO_MASTER_TOKEN;
    let tray_user = harness.tray_user_id(&user).await;
    let removed = harness
        .sandbox
        .execute(
            master,
            "mutation($u: ID!) { removeExternalUser(input: { userId: $u }) { clientMutationId } }",
            json!({ "u": tray_user }),
        )
        .await;
    assert!(removed["errors"].is_null(), "{removed}");

    let (status, catalog) = harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{catalog}");
    assert_eq!(
        find_integration(&catalog, SALESFORCE_UNIQUE)["instances"],
        json!([]),
        "the widget offers Connect again"
    );
    let (status, body) = harness.create(&user, SALESFORCE_UNIQUE, "sf-2").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = harness.create(&user, SALESFORCE_UNIQUE, "sf-3").await;
    assert_eq!(status, StatusCode::CONFLICT, "still one per user: {body}");

    // One made on Tray, not through this proxy, counts as well.
    let other = unique_user("elsewhere");
    harness
        .call(reqwest::Method::GET, "/integrations", &other, None)
        .await;
    harness.create_on_tray(&other, SALESFORCE_UNIQUE).await;
    let (status, body) = harness.create(&other, SALESFORCE_UNIQUE, "sf-4").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    harness.stop().await;
}

#[tokio::test]
async fn changing_an_instance_removed_on_tray_is_not_found() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("gone");
    let changes = [
        (reqwest::Method::PATCH, "", json!({ "name": "Renamed" })),
        (reqwest::Method::PUT, "/config", json!({ "values": [] })),
        (
            reqwest::Method::POST,
            "/upgrade",
            json!({ "authValues": [], "configValues": [] }),
        ),
        (
            reqwest::Method::PUT,
            "/auths/external_stripe_auth",
            Value::Null,
        ),
    ];
    for (n, (method, rest, mut body)) in changes.into_iter().enumerate() {
        let (status, made) = harness.create(&user, STRIPE, &format!("gone-{n}")).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let id = made["id"].as_str().expect("id");
        if body.is_null() {
            body = json!({ "authId": harness.authorize_slot(&user, id).await });
        }
        // Removed on Tray (by another tab's delete, or the host's backend).
        harness.remove_on_tray(&user, id).await;
        let path = format!("/instances/{id}{rest}");
        let (status, answer) = harness.call(method, &path, &user, Some(body)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "not_found", "{path}: {answer}");
    }
    harness.stop().await;
}

#[tokio::test]
async fn another_users_instance_is_not_found() {
    for url in database_urls() {
        let harness = Harness::start(&url).await;
        let (alice, mallory) = (unique_user("alice"), unique_user("mallory"));
        let (_, instance) = harness.create(&alice, STRIPE, "k").await;
        let id = instance["id"].as_str().expect("id");
        use reqwest::Method;
        for (method, path, body) in [
            (Method::GET, format!("/instances/{id}"), None),
            (
                Method::PATCH,
                format!("/instances/{id}"),
                Some(json!({ "name": "x" })),
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
                Some(json!({ "authId": "a" })),
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
        ] {
            let (status, error) = harness.call(method.clone(), &path, &mallory, body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {error}");
            assert_eq!(error["error"]["code"], "not_found");
        }
        let (status, _) = harness
            .call(Method::GET, &format!("/instances/{id}"), &alice, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        harness.stop().await;
    }
}

#[tokio::test]
async fn host_tokens_are_rejected_unless_valid_signed_with_the_configured_algorithm_and_audience() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.host_jwt_audience = Some("marketplace".into());
    })
    .await;
    let url = format!("{}/api/v1/integrations", harness.proxy.url());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let sign = |algorithm: Algorithm, secret: &str, claims: Value| {
        encode(
            &Header::new(algorithm),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("signs")
    };
    let good = json!({ "sub": "u1", "exp": now + 600, "aud": "marketplace" });
    let unsigned = {
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        format!("{header}.{}.", URL_SAFE_NO_PAD.encode(good.to_string()))
    };
    let cases = [
        ("no token", None),
        ("alg none", Some(unsigned)),
        (
            "other algorithm",
            Some(sign(Algorithm::HS384, DEMO_JWT_SECRET, good.clone())),
        ),
        (
            "wrong secret",
            Some(sign(Algorithm::HS256, "not-the-secret", good.clone())),
        ),
        (
            "expired",
            Some(sign(
                Algorithm::HS256,
                DEMO_JWT_SECRET,
                json!({ "sub": "u1", "exp": now - 3600, "aud": "marketplace" }),
            )),
        ),
        (
            "no exp",
            Some(sign(
                Algorithm::HS256,
                DEMO_JWT_SECRET,
                json!({ "sub": "u1", "aud": "marketplace" }),
            )),
        ),
        (
            "wrong audience",
            Some(sign(
                Algorithm::HS256,
                DEMO_JWT_SECRET,
                json!({ "sub": "u1", "exp": now + 600, "aud": "other" }),
            )),
        ),
        (
            // Another token the host signs with the same key (a session's, say).
            "no audience",
            Some(sign(
                Algorithm::HS256,
                DEMO_JWT_SECRET,
                json!({ "sub": "u1", "exp": now + 600 }),
            )),
        ),
        (
            "not valid yet",
            Some(sign(
                Algorithm::HS256,
                DEMO_JWT_SECRET,
                json!({ "sub": "u1", "nbf": now + 3600, "exp": now + 7200, "aud": "marketplace" }),
            )),
        ),
        (
            // Longer than the proxy's maximum lifetime (a day): a leaked token would last.
            "valid for a year",
            Some(sign(
                Algorithm::HS256,
                DEMO_JWT_SECRET,
                json!({ "sub": "u1", "exp": now + 365 * 24 * 3600, "aud": "marketplace" }),
            )),
        ),
        ("garbage", Some("not.a.jwt".to_owned())),
    ];
    for (case, bearer) in cases {
        let mut request = harness.http.get(&url);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        let response = request.send().await.expect("answers");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        let body: Value = response.json().await.expect("json error");
        assert_eq!(body["error"]["code"], "unauthenticated", "{case}");
    }
    // One audience, or a list holding it (RFC 7519 allows both).
    let listed = json!({ "sub": "u1", "exp": now + 600, "aud": ["other", "marketplace"] });
    for claims in [good, listed] {
        let ok = harness
            .http
            .get(&url)
            .bearer_auth(sign(Algorithm::HS256, DEMO_JWT_SECRET, claims.clone()))
            .send()
            .await
            .expect("answers");
        assert_eq!(ok.status(), StatusCode::OK, "{claims}");
    }
    harness.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_400() {
    let harness = Harness::start("sqlite::memory:").await;
    let response = harness
        .http
        .post(format!("{}/api/v1/instances", harness.proxy.url()))
        .bearer_auth(token("u", Algorithm::HS256, DEMO_JWT_SECRET, 600))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "bad_request");

    let oversized = harness
        .http
        .post(format!("{}/api/v1/instances", harness.proxy.url()))
        .bearer_auth(token("u", Algorithm::HS256, DEMO_JWT_SECRET, 600))
        .json(&json!({ "solutionId": "x".repeat(200_000), "idempotencyKey": "k" }))
        .send()
        .await
        .expect("answers");
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = oversized.json().await.expect("json");
    assert_eq!(body["error"]["code"], "too_large");

    let (_, instance) = harness.create("u", STRIPE, "k").await;
    let id = instance["id"].as_str().expect("id");
    let (status, body) = harness
        .call(
            reqwest::Method::PUT,
            &format!("/instances/{id}/config"),
            "u",
            Some(json!({ "values": [{ "externalId": "x", "value": "not json text" }] })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = harness.create("u", "no-such-solution", "k2").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The proxy's own claims (one per user, adopted instances) are not the client's.
    let reserved = format!("proxy:one-per-user:{SALESFORCE_UNIQUE}");
    let (status, body) = harness.create("u", SALESFORCE_UNIQUE, &reserved).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = harness.create("u", SALESFORCE_UNIQUE, "k3").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    harness.stop().await;
}

const HOST_ORIGIN: &str = "https://app.example";

#[tokio::test]
async fn control_characters_in_ids_keys_and_names_are_the_callers_mistake_on_every_database() {
    for url in database_urls() {
        let harness = Harness::start(&url).await;
        let user = unique_user("nul");
        let (status, made) = harness.create(&user, STRIPE, &"ü".repeat(150)).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "150 characters, 300 bytes: {made}"
        );
        let id = made["id"].as_str().expect("id");
        let code = |body: &Value| body["error"]["code"].as_str().map(str::to_owned);
        for path in [
            "/instances/%00".to_owned(),
            format!("/instances/{id}%0A"),
            format!("/instances/{id}%C2%85"),
        ] {
            let (status, body) = harness.call(reqwest::Method::GET, &path, &user, None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
            assert_eq!(code(&body).as_deref(), Some("not_found"), "{path}");
        }
        let (status, body) = harness.attach(&user, id, "slot%00", "auth").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        // Stored before the catalog is asked: a slot no solution could have is refused.
        let (status, body) = harness.attach(&user, id, &"s".repeat(201), "auth").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, body) = harness.attach(&user, id, STRIPE_SLOT, "au\0th").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = harness.create(&user, STRIPE, "key\0").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            expiring_notice(&harness, &user, "au\0th", WEBHOOK_SECRET).await,
            StatusCode::BAD_REQUEST
        );

        // A name the host got wrong is a label cleaned up, not a user locked out.
        let named = unique_user("named");
        let claims = json!({
            "sub": named,
            "name": format!("Ana\0{}", "x".repeat(10_000)),
            "exp": support::an_hour_from_now(),
        });
        let jwt = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(DEMO_JWT_SECRET.as_bytes()),
        )
        .expect("signs");
        let response = harness
            .http
            .get(format!("{}/api/v1/integrations", harness.proxy.url()))
            .bearer_auth(jwt)
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        harness.stop().await;
    }
}

#[tokio::test]
async fn every_error_is_the_json_shape_even_where_no_handler_answers() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.request_timeout = Duration::from_millis(500);
        config.allowed_origins = vec![HOST_ORIGIN.into()];
    })
    .await;
    let base = harness.proxy.url().to_owned();
    let bearer = token("u", Algorithm::HS256, DEMO_JWT_SECRET, 600);
    let cases = [
        (
            reqwest::Method::GET,
            "/api/v1/instances",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/nope",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            reqwest::Method::GET,
            "/nope",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            reqwest::Method::DELETE,
            "/api/v1/instances/%ff",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            reqwest::Method::POST,
            "/webhooks/tray/auth-expiring?secret=a&secret=b",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ];
    for (method, path, status, code) in cases {
        let response = harness
            .http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&bearer)
            .header("origin", HOST_ORIGIN)
            .json(&json!({ "authId": "x" }))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), status, "{path}");
        if path.starts_with("/api/") {
            // The widget on the host's page can read it.
            assert_eq!(
                response
                    .headers()
                    .get("access-control-allow-origin")
                    .map(|v| v.as_bytes()),
                Some(HOST_ORIGIN.as_bytes()),
                "{path}"
            );
        }
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{path}: {body}"
        );
    }

    // Tray slower than the proxy waits: a 504 the widget reads as an outage.
    harness.sandbox.set_faults(Faults {
        latency: Duration::from_secs(2),
        ..Faults::default()
    });
    let response = harness
        .http
        .get(format!("{base}/api/v1/integrations"))
        .bearer_auth(&bearer)
        .header("origin", HOST_ORIGIN)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(response
        .headers()
        .contains_key("access-control-allow-origin"));
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "tray_unavailable", "{body}");
    harness.sandbox.set_faults(Faults::default());
    harness.stop().await;
}

#[tokio::test]
async fn an_auth_that_arrives_while_tray_fails_is_attached_when_it_recovers() {
    // Tray failing as an HTTP 503, and as Tray reports its own failures: an
    // `InternalError` in a 200 answer (it must not read as a refusal of the auth); and a
    // gateway before Tray refusing the call (not Tray refusing the auth either).
    let outages = [
        (
            Faults {
                failure_rate: 1.0,
                ..Faults::default()
            },
            (StatusCode::SERVICE_UNAVAILABLE, "tray_unavailable"),
        ),
        (
            Faults {
                internal_error_rate: 1.0,
                only: Some("updateSolutionInstance".into()),
                ..Faults::default()
            },
            (StatusCode::SERVICE_UNAVAILABLE, "tray_unavailable"),
        ),
        (
            Faults {
                gateway_refusal_rate: 1.0,
                only: Some("updateSolutionInstance".into()),
                ..Faults::default()
            },
            (StatusCode::BAD_GATEWAY, "tray_error"),
        ),
    ];
    for (url, (outage, answer)) in database_urls()
        .into_iter()
        .flat_map(|url| outages.clone().map(|outage| (url.clone(), outage)))
    {
        let harness = Harness::start(&url).await;
        let user = unique_user("carol");
        let (_, instance) = harness.create(&user, STRIPE, "k").await;
        let id = instance["id"].as_str().expect("id").to_owned();
        let auth_id = harness.authorize_slot(&user, &id).await;

        harness.sandbox.set_faults(outage.clone());
        let (status, body) = harness.attach(&user, &id, STRIPE_SLOT, &auth_id).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (answer.0, Some(answer.1)),
            "{outage:?}: {body}"
        );
        harness.sandbox.set_faults(Faults::default());

        // The proxy retries on its own; wait (bounded) until Tray holds the auth.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, instance) = harness.instance(&user, &id).await;
            if instance["authValues"][0]["authId"] == auth_id.as_str() {
                break;
            }
            assert!(Instant::now() < deadline, "auth never attached: {instance}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        harness.stop().await;
    }
}

/// Waits (bounded) until `user`'s instance `id`, as listed, holds an auth for `slot`.
async fn wait_until_listed_with(harness: &Harness, user: &str, id: &str, slot: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = listed(harness, user, id).await;
        if authorized_slots(&listed).contains(&slot) {
            return listed;
        }
        assert!(Instant::now() < deadline, "never attached: {listed}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_sign_in_is_stored_before_tray_is_asked_anything() {
    // The catalog is looked up again on each request (as once its cache expired), so
    // Tray fails before the attach itself is sent.
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.catalog_ttl = Duration::ZERO;
    })
    .await;
    let user = unique_user("early");
    let (_, instance) = harness.create(&user, STRIPE, "early-1").await;
    let id = instance["id"].as_str().expect("id").to_owned();
    let auth_id = harness.authorize_slot(&user, &id).await;
    harness.sandbox.set_faults(Faults {
        failure_rate: 1.0,
        ..Faults::default()
    });
    let (status, body) = harness.attach(&user, &id, STRIPE_SLOT, &auth_id).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    harness.sandbox.set_faults(Faults::default());
    let listed = wait_until_listed_with(&harness, &user, &id, STRIPE_SLOT).await;
    assert_eq!(
        listed["authValues"][0]["authId"],
        auth_id.as_str(),
        "{listed}"
    );
    harness.stop().await;
}

const JIRA_SLOT: &str = "external_jira_auth";

/// An enabled Stripe whose new version, awaiting the user, adds a Jira slot, and the
/// user's Jira sign-in for it (not attached yet): (user, instance id, auth id).
async fn stripe_awaiting_a_jira_sign_in(harness: &Harness, name: &str) -> (String, String, String) {
    let (user, id, _) = enabled_stripe(harness, name).await;
    let version: tray_sandbox::NewVersion = serde_json::from_value(json!({
        "authSlots": [{ "externalId": JIRA_SLOT, "title": "Jira", "service": "jira" }],
        "needs": "user",
    }))
    .expect("a version");
    harness
        .sandbox
        .publish_version(STRIPE, version)
        .await
        .expect("published");
    let jira_auth = harness
        .authorize(&user, &id, JIRA_SLOT, "action=allow")
        .await;
    (user, id, jira_auth)
}

#[tokio::test]
async fn a_sign_in_for_a_new_versions_slot_made_during_an_outage_is_kept_for_the_upgrade() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.enable_delay = Duration::ZERO;
    })
    .await;
    let (user, id, jira_auth) = stripe_awaiting_a_jira_sign_in(&harness, "outage-upgrader").await;
    harness.sandbox.set_faults(Faults {
        failure_rate: 1.0,
        ..Faults::default()
    });
    let (status, body) = harness.attach(&user, &id, JIRA_SLOT, &jira_auth).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    harness.sandbox.set_faults(Faults::default());
    // The retry loop finds Tray refusing the slot in the current version, and keeps the
    // sign-in for the upgrade instead of dropping it.
    let listed = wait_until_listed_with(&harness, &user, &id, JIRA_SLOT).await;
    assert_eq!(listed["status"], "needs_update", "{listed}");
    harness.stop().await;
}

#[tokio::test]
async fn a_sign_in_for_a_slot_no_version_has_is_dropped_not_kept_for_the_upgrade() {
    // The catalog is asked on every request, so the slot is not checked while Tray fails.
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.enable_delay = Duration::ZERO;
        config.catalog_ttl = Duration::ZERO;
    })
    .await;
    let (user, id, jira_auth) = stripe_awaiting_a_jira_sign_in(&harness, "bogus-slot").await;
    // The instance is seen awaiting the user, then a sign-in arrives for a slot that
    // neither version has, while Tray fails: stored, not yet checked.
    assert_eq!(listed_status(&harness, &user, &id).await, "needs_update");
    harness.sandbox.set_faults(Faults {
        failure_rate: 1.0,
        ..Faults::default()
    });
    let (status, body) = harness
        .attach(&user, &id, "external_nope_auth", &jira_auth)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    harness.sandbox.set_faults(Faults::default());
    // The retry loop (every 2 s) finds out: dropped, never shown, never sent with the
    // upgrade.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let listed = listed(&harness, &user, &id).await;
    assert!(
        !authorized_slots(&listed).contains(&"external_nope_auth"),
        "{listed}"
    );
    let (status, upgraded) = harness
        .call(
            reqwest::Method::POST,
            &format!("/instances/{id}/upgrade"),
            &user,
            Some(json!({ "authValues": [{ "externalId": JIRA_SLOT, "authId": jira_auth }], "configValues": [] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{upgraded}");
    harness.stop().await;
}

#[tokio::test]
async fn a_kept_sign_in_tray_keeps_failing_to_take_is_tried_less_and_less_often() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("backoff");
    let (_, instance) = harness.create(&user, STRIPE, "backoff-1").await;
    let id = instance["id"].as_str().expect("id").to_owned();
    let auth_id = harness.authorize_slot(&user, &id).await;
    // Refused before Tray (a gateway): not retried within a request, nor taken as Tray
    // refusing the auth, so it stays kept.
    harness.sandbox.set_faults(Faults {
        gateway_refusal_rate: 1.0,
        only: Some("updateSolutionInstance".into()),
        ..Faults::default()
    });
    let before = harness.sandbox.stats().injected_failures;
    let (status, body) = harness.attach(&user, &id, STRIPE_SLOT, &auth_id).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    // What one attempt costs (the Tray client's own retries included).
    let per_attempt = harness.sandbox.stats().injected_failures - before;
    assert!(per_attempt > 0);
    let after_the_users_try = harness.sandbox.stats().injected_failures;
    // The loop runs every 2 s: tried each round, that is 6 attempts in 13 s; waiting 4 s,
    // then 8 s, at most 3.
    tokio::time::sleep(Duration::from_secs(13)).await;
    let attempts = (harness.sandbox.stats().injected_failures - after_the_users_try) / per_attempt;
    assert!((1..=3).contains(&attempts), "{attempts} attempts in 13 s");
    harness.sandbox.set_faults(Faults::default());
    harness.stop().await;
}

/// A sign-in being attached by one request (Tray slow to take it) while a reload loads
/// the catalog: the catalog leaves that attach to its request instead of waiting for it,
/// and loads before the proxy's request timeout.
#[tokio::test]
async fn a_sign_in_being_attached_does_not_hold_the_catalog() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.request_timeout = Duration::from_millis(2_000);
    })
    .await;
    let user = unique_user("slow-sign-in");
    let (status, made) = harness.create(&user, STRIPE, "slow-1").await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_str().expect("id").to_owned();
    let signed_in = harness.authorize_slot(&user, &id).await;
    harness.sandbox.set_faults(Faults {
        latency: Duration::from_millis(3_000),
        only: Some(signed_in.clone()),
        ..Faults::default()
    });
    let attaching = harness.attach(&user, &id, STRIPE_SLOT, &signed_in);
    let listing = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        harness
            .call(reqwest::Method::GET, "/integrations", &user, None)
            .await
    };
    let (_, (status, catalog)) = tokio::join!(attaching, listing);
    assert_eq!(status, StatusCode::OK, "{catalog}");
    harness.sandbox.set_faults(Faults::default());
    harness.stop().await;
}

#[tokio::test]
async fn an_auth_kept_through_an_outage_never_replaces_one_the_user_attached_later() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("stale");
    let (status, made) = harness.create(&user, STRIPE, "stale-1").await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_str().expect("id").to_owned();
    let kept = harness.authorize_slot(&user, &id).await;
    harness.sandbox.set_faults(Faults {
        failure_rate: 1.0,
        ..Faults::default()
    });
    let (status, _) = harness.attach(&user, &id, STRIPE_SLOT, &kept).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    harness.sandbox.set_faults(Faults::default());
    let newer = harness.authorize_slot(&user, &id).await;

    // A catalog load sends the kept auth, which Tray is slow to take, while the user
    // attaches the newer one (which Tray would take at once).
    harness.sandbox.set_faults(Faults {
        latency: Duration::from_millis(1000),
        only: Some(kept.clone()),
        ..Faults::default()
    });
    let listing = harness.call(reqwest::Method::GET, "/integrations", &user, None);
    let attaching = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        harness.attach(&user, &id, STRIPE_SLOT, &newer).await
    };
    let ((status, _), (attached_status, attached)) = tokio::join!(listing, attaching);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(attached_status, StatusCode::OK, "{attached}");
    harness.sandbox.set_faults(Faults::default());
    // Another load attaches whatever is still kept.
    harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;

    let (_, instance) = harness.instance(&user, &id).await;
    let auth = instance["authValues"]
        .as_array()
        .expect("auths")
        .iter()
        .find(|auth| auth["externalId"] == STRIPE_SLOT)
        .map(|auth| auth["authId"].clone());
    assert_eq!(auth, Some(json!(newer)), "{instance}");
    harness.stop().await;
}

/// Tray's notice that `auth_id` of `user` expires soon, sent with `secret`.
async fn expiring_notice(harness: &Harness, user: &str, auth_id: &str, secret: &str) -> StatusCode {
    let notice = json!({ "authentication_name": "Stripe", "service_name": "stripe", "user_id": "x", "authId": auth_id, "external_user_id": user });
    harness
        .http
        .post(format!(
            "{}/webhooks/tray/auth-expiring?secret={secret}",
            harness.proxy.url()
        ))
        .json(&notice)
        .send()
        .await
        .expect("answers")
        .status()
}

/// Both at once: the status is the update (only it blocks anything; its row says what
/// to authorize), and the auth still says it expires (its Reconnect says so).
#[tokio::test]
async fn an_update_the_user_must_make_outranks_an_expiring_sign_in() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.enable_delay = Duration::ZERO;
    })
    .await;
    let (user, id, auth_id) = enabled_stripe(&harness, "both").await;
    assert_eq!(
        expiring_notice(&harness, &user, &auth_id, WEBHOOK_SECRET).await,
        StatusCode::NO_CONTENT
    );
    let jira = json!({
        "authSlots": [{ "externalId": "external_jira_auth", "title": "Jira", "service": "jira" }],
        "needs": "user",
    });
    harness.publish(STRIPE, jira).await;
    let (status, instance) = harness.instance(&user, &id).await;
    assert_eq!(status, StatusCode::OK, "{instance}");
    assert_eq!(instance["status"], "needs_update", "{instance}");
    assert_eq!(instance["authValues"][0]["expiring"], true, "{instance}");
    harness.stop().await;
}

/// A two-service connection with one sign-in done, and that one expiring: the user is
/// still setting it up (Finish setting up), not looking at a connection to reconnect
/// whose Enable Tray refuses.
#[tokio::test]
async fn a_half_set_up_connection_whose_sign_in_expires_is_still_being_set_up() {
    const JIRA_TO_SLACK: &str = "9b8a7c6d-5e4f-4a3b-9c2d-1e0f2a3b4c05";
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("half");
    let (status, instance) = harness.create(&user, JIRA_TO_SLACK, "k").await;
    assert_eq!(status, StatusCode::CREATED, "{instance}");
    let id = instance["id"].as_str().expect("id").to_owned();
    let jira = harness
        .authorize(&user, &id, "external_jira_auth", "action=allow")
        .await;
    harness
        .attach(&user, &id, "external_jira_auth", &jira)
        .await;
    assert_eq!(
        expiring_notice(&harness, &user, &jira, WEBHOOK_SECRET).await,
        StatusCode::NO_CONTENT
    );
    let (_, instance) = harness.instance(&user, &id).await;
    assert_eq!(instance["status"], "setting_up", "{instance}");
    assert_eq!(instance["authValues"][0]["expiring"], true, "{instance}");
    harness.stop().await;
}

#[tokio::test]
async fn the_auth_expiring_webhook_needs_the_secret_and_flags_the_instance() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("dave");
    let (_, instance) = harness.create(&user, STRIPE, "k").await;
    let id = instance["id"].as_str().expect("id").to_owned();
    let auth_id = harness.authorize_slot(&user, &id).await;
    harness.attach(&user, &id, STRIPE_SLOT, &auth_id).await;
    // Set up and working (a setup still under way would stay "setting up").
    let (status, enabled) = harness.patch(&user, &id, json!({ "enabled": true })).await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert_eq!(
        expiring_notice(&harness, &user, &auth_id, "guess").await,
        StatusCode::FORBIDDEN
    );
    // Read whatever its Content-Type says: the contract names none.
    let sent_as_text = harness
        .http
        .post(format!(
            "{}/webhooks/tray/auth-expiring?secret={WEBHOOK_SECRET}",
            harness.proxy.url()
        ))
        .header("content-type", "text/plain")
        .body(json!({ "authId": auth_id }).to_string())
        .send()
        .await
        .expect("answers");
    assert_eq!(sent_as_text.status(), StatusCode::NO_CONTENT);
    let (_, instance) = harness.instance(&user, &id).await;
    assert_eq!(instance["status"], "auth_expiring");
    assert_eq!(
        expiring_notice(&harness, &user, &auth_id, WEBHOOK_SECRET).await,
        StatusCode::NO_CONTENT,
        "a second notice of one auth"
    );

    // Re-authorizing: an edit dialog for that auth, then attaching it again clears the flag.
    let (status, dialog) = harness
        .call(
            reqwest::Method::POST,
            &format!("/instances/{id}/auth-dialog"),
            &user,
            Some(json!({ "authId": auth_id })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dialog}");
    assert!(dialog["url"].as_str().expect("url").contains(&format!(
        "/external/auth/edit/{}/{auth_id}?code=",
        tray_sandbox::DEMO_EMBEDDED_ID
    )));
    harness.attach(&user, &id, STRIPE_SLOT, &auth_id).await;
    let (_, instance) = harness.instance(&user, &id).await;
    assert_eq!(instance["status"], "connected");
    harness.stop().await;
}

#[tokio::test]
async fn a_warm_catalog_costs_one_tray_request() {
    let harness = Harness::start("sqlite::memory:").await;
    harness
        .call(reqwest::Method::GET, "/integrations", "warm", None)
        .await;
    let before = harness.sandbox.stats().requests_served;
    let (status, _) = harness
        .call(reqwest::Method::GET, "/integrations", "warm", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(harness.sandbox.stats().requests_served - before, 1);
    harness.stop().await;
}

#[tokio::test]
async fn idempotent_calls_are_retried_through_tray_failures() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("erin");
    let (_, instance) = harness.create(&user, STRIPE, "k").await;
    let id = instance["id"].as_str().expect("id").to_owned();
    harness.sandbox.set_faults(Faults {
        failure_rate: 0.2,
        ..Faults::default()
    });
    for _ in 0..10 {
        let (status, body) = harness.instance(&user, &id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    harness.sandbox.set_faults(Faults::default());
    harness.stop().await;
}

/// One user (or a stolen token) sending as fast as it can is slowed down alone, before
/// any Tray call: the organisation's Tray budget stays everyone's.
#[tokio::test]
async fn one_user_flooding_is_refused_before_tray_and_others_are_served() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.user_rate_per_second = 1;
        config.user_rate_burst = 5;
    })
    .await;
    let greedy = unique_user("greedy");
    harness
        .call(reqwest::Method::GET, "/integrations", &greedy, None)
        .await;
    let served_before = harness.sandbox.stats().requests_served;
    let loads = (0..20).map(|_| harness.call(reqwest::Method::GET, "/integrations", &greedy, None));
    let answers = futures_join_all(loads).await;
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::TOO_MANY_REQUESTS)
        .map(|(_, body)| body)
        .collect();
    assert!(refused.len() >= 14, "{} of 20 refused", refused.len());
    assert!(refused
        .iter()
        .all(|body| body["error"]["code"] == "rate_limited"));
    let tray_calls = harness.sandbox.stats().requests_served - served_before;
    assert!(
        tray_calls <= 6,
        "{tray_calls} Tray requests for the refused loads too"
    );
    let (status, body) = harness
        .call(
            reqwest::Method::GET,
            "/integrations",
            &unique_user("patient"),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another user is served at once: {body}"
    );
    harness.stop().await;
}

/// More loads than the organisation's Tray budget for a while: the excess is refused at
/// once (`rate_limited`) instead of queued past its callers' time, and the next load is
/// served once the flood ends. (A queue of calls whose callers had given up held every
/// later call past its own time: every load failed, and an idle user's then took 29 s.)
#[tokio::test]
async fn a_flood_past_trays_budget_is_refused_at_once_and_leaves_no_queue_behind() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.tray_rate_per_second = 4;
        config.tray_rate_burst = 4;
        config.user_rate_per_second = 0;
        config.request_timeout = Duration::from_secs(6);
    })
    .await;
    let users: Vec<String> = (0..60)
        .map(|n| unique_user(&format!("flood-{n}")))
        .collect();
    let loads = users
        .iter()
        .map(|user| harness.call(reqwest::Method::GET, "/integrations", user, None));
    let answers = futures_join_all(loads).await;
    let refused = answers
        .iter()
        .filter(|(status, body)| {
            *status == StatusCode::TOO_MANY_REQUESTS && body["error"]["code"] == "rate_limited"
        })
        .count();
    assert!(refused > 0, "none of 60 loads refused at once");
    let (status, body) = harness
        .call(
            reqwest::Method::GET,
            "/integrations",
            &unique_user("after"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the load after the flood: {body}");
}

#[tokio::test]
async fn a_user_with_many_requests_under_way_is_told_to_wait_and_others_are_not() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.user_rate_per_second = 0;
        config.user_requests_in_flight = 2;
    })
    .await;
    let greedy = unique_user("greedy");
    let patient = unique_user("patient");
    for user in [&greedy, &patient] {
        harness
            .call(reqwest::Method::GET, "/integrations", user, None)
            .await;
    }
    // Tray slow: the first two loads are still under way when the others arrive.
    harness.sandbox.set_faults(Faults {
        latency: Duration::from_millis(400),
        ..Faults::default()
    });
    let served_before = harness.sandbox.stats().requests_served;
    let loads = (0..6).map(|_| harness.call(reqwest::Method::GET, "/integrations", &greedy, None));
    let patients = harness.call(reqwest::Method::GET, "/integrations", &patient, None);
    let (answers, (patients_status, _)) = tokio::join!(futures_join_all(loads), patients);
    let statuses: Vec<StatusCode> = answers.iter().map(|(status, _)| *status).collect();
    let served = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(served, 2, "{statuses:?}");
    assert!(answers
        .iter()
        .filter(|(status, _)| *status != StatusCode::OK)
        .all(|(status, body)| *status == StatusCode::TOO_MANY_REQUESTS
            && body["error"]["code"] == "rate_limited"));
    assert_eq!(patients_status, StatusCode::OK, "another user's own share");
    assert!(
        harness.sandbox.stats().requests_served - served_before <= 3,
        "no Tray call for a refused request"
    );
    harness.sandbox.set_faults(Faults::default());
    let (status, body) = harness
        .call(reqwest::Method::GET, "/integrations", &greedy, None)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "served again once they ended: {body}"
    );
    harness.stop().await;
}

#[tokio::test]
async fn a_connection_past_the_users_limit_is_refused_until_one_is_deleted() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.max_connections_per_user = 2;
    })
    .await;
    let user = unique_user("collector");
    let (_, first) = harness.create(&user, STRIPE, "k1").await;
    harness.create(&user, STRIPE, "k2").await;
    let served_before = harness.sandbox.stats().requests_served;
    let (status, body) = harness.create(&user, STRIPE, "k3").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "limit_reached");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("delete one"));
    assert_eq!(
        harness.sandbox.stats().requests_served - served_before,
        1,
        "Tray's count only: nothing made"
    );
    let (status, _) = harness.create(&unique_user("other"), STRIPE, "k3").await;
    assert_eq!(status, StatusCode::CREATED, "another user's own limit");
    let path = format!("/instances/{}", first["id"].as_str().expect("id"));
    harness
        .call(reqwest::Method::DELETE, &path, &user, None)
        .await;
    let (status, body) = harness.create(&user, STRIPE, "k3").await;
    assert_eq!(status, StatusCode::CREATED, "one deleted: {body}");
    // One removed on Tray's side (the proxy still has its row) no longer counts.
    let (status, _) = harness.create(&user, STRIPE, "k4").await;
    assert_eq!(status, StatusCode::CONFLICT);
    harness
        .remove_on_tray(&user, body["id"].as_str().expect("id"))
        .await;
    let (status, body) = harness.create(&user, STRIPE, "k4").await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "counted as Tray holds them: {body}"
    );
    harness.stop().await;
}

#[tokio::test]
async fn creates_racing_at_the_users_limit_make_no_more_than_it() {
    for url in database_urls() {
        let harness = Harness::start_with(&url, |config| {
            config.max_connections_per_user = 2;
        })
        .await;
        let user = unique_user("racer");
        let (status, _) = harness.create(&user, STRIPE, "first").await;
        assert_eq!(status, StatusCode::CREATED);
        // Named apart, as "Add another" does: creates of one name take turns anyway.
        let keys: Vec<String> = (0..5).map(|n| format!("race-{n}")).collect();
        let answers = futures_join_all(
            keys.iter()
                .map(|key| create_named(&harness, &user, key, key)),
        )
        .await;
        let made = answers
            .iter()
            .filter(|(status, _)| *status == StatusCode::CREATED)
            .count();
        // Racing, two may see each other and both be refused: never more than the limit.
        assert!(made <= 1, "{url}: {answers:?}");
        for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
            assert_eq!(*status, StatusCode::CONFLICT, "{body}");
            assert_eq!(body["error"]["code"], "limit_reached", "{body}");
            // With room left, a refusal names the creates under way, not "delete one".
            if made == 0 {
                let message = body["error"]["message"].as_str().unwrap_or_default();
                assert!(message.contains("1 connections and"), "{url}: {message}");
                assert!(message.contains("being made"), "{url}: {message}");
            }
        }
        let (_, catalog) = harness
            .call(reqwest::Method::GET, "/integrations", &user, None)
            .await;
        let held = find_integration(&catalog, STRIPE)["instances"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(held, 1 + made, "{url}");
        // Once the race is over, the free place is taken by the next create.
        if made == 0 {
            let (status, body) = harness.create(&user, STRIPE, "after").await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        harness.stop().await;
    }
}

#[tokio::test]
async fn one_connection_is_looked_up_in_one_tray_call_however_many_the_user_has() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.max_connections_per_user = 0;
        config.user_rate_per_second = 0;
        config.tray_rate_per_second = 10_000;
        config.tray_rate_burst = 10_000;
    })
    .await;
    let user = unique_user("hoarder");
    let mut ids = Vec::new();
    // Past one page of Tray's list (100).
    for n in 0..101 {
        let (status, made) = harness.create(&user, STRIPE, &format!("k{n}")).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        ids.push(made["id"].as_str().expect("id").to_owned());
    }
    let (status, catalog) = harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed: usize = catalog["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .map(|i| i["instances"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(listed, 101, "the catalog still lists every page");
    let served_before = harness.sandbox.stats().requests_served;
    let (status, body) = harness
        .call(
            reqwest::Method::GET,
            &format!("/instances/{}", ids[0]),
            &user,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], ids[0].as_str());
    assert_eq!(harness.sandbox.stats().requests_served - served_before, 1);
    harness.stop().await;
}

#[tokio::test]
async fn asks_for_a_fresh_catalog_at_once_share_one_fetch() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.user_rate_per_second = 0;
        config.user_requests_in_flight = 0;
    })
    .await;
    let user = unique_user("prober");
    let (_, made) = harness.create(&user, STRIPE, "k").await;
    let path = format!(
        "/instances/{}/auth-dialog",
        made["id"].as_str().expect("id")
    );
    harness.sandbox.set_faults(Faults {
        latency: Duration::from_millis(300),
        only: Some("ListSolutions".into()),
        ..Faults::default()
    });
    let served_before = harness.sandbox.stats().requests_served;
    // A slot the cached version lacks sends the proxy to Tray for the latest one.
    let probes = (0..8).map(|n| {
        let body = json!({ "slot": format!("no-such-slot-{n}") });
        harness.call(reqwest::Method::POST, &path, &user, Some(body))
    });
    for (status, body) in futures_join_all(probes).await {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let fetches = harness.sandbox.stats().requests_served - served_before;
    assert!(
        fetches <= 2,
        "{fetches} catalog fetches for 8 requests at once"
    );
    harness.sandbox.set_faults(Faults::default());
    harness.stop().await;
}

#[tokio::test]
async fn a_change_of_nothing_or_a_name_with_control_characters_is_refused() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("typist");
    let (_, made) = harness.create(&user, STRIPE, "k").await;
    let path = format!("/instances/{}", made["id"].as_str().expect("id"));
    let served_before = harness.sandbox.stats().requests_served;
    for body in [
        json!({}),
        json!({ "nmae": "typo" }),
        json!({ "name": "bad\u{0}name" }),
        json!({ "name": "invoice\u{202e}fdp.exe" }),
        // Blank to the eye: zero-width characters, a Hangul filler.
        json!({ "name": "\u{200b}\u{2060}" }),
        json!({ "name": " \u{3164} " }),
        json!({ "name": "Sales\u{2028}team" }),
    ] {
        let (status, answer) = harness
            .call(reqwest::Method::PATCH, &path, &user, Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }
    let (status, answer) = harness
        .call(
            reqwest::Method::POST,
            "/instances",
            &user,
            Some(json!({ "solutionId": STRIPE, "idempotencyKey": "k2", "name": "a\nb" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(harness.sandbox.stats().requests_served, served_before);
    // A create asking for a blank name (invisible, however long; line breaks) asks for
    // none: it gets the title. Blanks around a name go, as in a rename.
    for (key, name, expected) in [
        ("k3", "\u{200b}".to_owned(), made["name"].clone()),
        ("k4", "\u{200b}".repeat(250), made["name"].clone()),
        ("k5", "\t\r\n".to_owned(), made["name"].clone()),
        ("k6", "\tSales\n".to_owned(), json!("Sales")),
    ] {
        let (status, named) = create_named(&harness, &user, key, &name).await;
        assert_eq!(status, StatusCode::CREATED, "{name:?}: {named}");
        assert_eq!(named["name"], expected, "{name:?}");
    }
    harness.stop().await;
}

#[tokio::test]
async fn tray_rate_limit_becomes_a_429_and_the_proxy_stays_under_it() {
    // One user's 80 loads: the Tray limit is measured here, not each user's share.
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.user_rate_per_second = 0;
        config.user_requests_in_flight = 0;
    })
    .await;
    let user = unique_user("frank");
    let (_, instance) = harness.create(&user, STRIPE, "k").await;
    let id = instance["id"].as_str().expect("id").to_owned();

    // 80 page loads at once: the proxy's own limiter spreads them out.
    let path = format!("/instances/{id}");
    let loads = (0..80).map(|_| harness.call(reqwest::Method::GET, &path, &user, None));
    for (status, body) in futures_join_all(loads).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let stats = harness.sandbox.stats();
    assert_eq!(stats.rate_limited, 0, "{stats:?}");

    harness.sandbox.set_faults(Faults {
        force_rate_limit: true,
        ..Faults::default()
    });
    let response = harness
        .http
        .get(format!("{}/api/v1{path}", harness.proxy.url()))
        .bearer_auth(token(&user, Algorithm::HS256, DEMO_JWT_SECRET, 600))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // It says when to come back.
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    harness.sandbox.set_faults(Faults::default());
    harness.stop().await;
}

async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for future in futures {
        set.push(future);
    }
    let mut outputs = Vec::with_capacity(set.len());
    // Poll all concurrently on this task.
    let mut pinned: Vec<_> = set.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (index, future) in pinned.iter_mut().enumerate() {
            if done[index].is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => done[index] = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.extend(done.into_iter().flatten());
    outputs
}

#[tokio::test]
async fn widget_assets_demo_page_demo_token_and_health() {
    let dir = std::env::temp_dir().join(format!("proxy-widget-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("index.html"), "<html>demo host</html>").expect("write");
    std::fs::write(dir.join("integrations-widget_bg.wasm"), b"\0asm\x01\0\0\0").expect("write");
    // The build's gzipped copy (written by `cargo xtask widget`); its bytes only need to differ.
    let gzipped = b"\x1f\x8b pretend gzip of the wasm";
    std::fs::write(dir.join("integrations-widget_bg.wasm.gz"), gzipped).expect("write");
    std::fs::write(dir.join("integrations-widget.js"), "export default 1;").expect("write");
    let widget_dir = dir.clone();
    let harness = Harness::start_with("sqlite::memory:", move |config| {
        config.widget_dir = Some(widget_dir);
        config.demo = true;
    })
    .await;
    let base = harness.proxy.url();

    let wasm = harness
        .http
        .get(format!("{base}/widget/integrations-widget_bg.wasm"))
        .send()
        .await
        .expect("answers");
    assert_eq!(wasm.status(), StatusCode::OK);
    let headers = wasm.headers();
    assert_eq!(headers["content-type"], "application/wasm");
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert_eq!(headers["vary"], "accept-encoding", "cached per encoding");
    assert!(headers.contains_key("last-modified"));
    assert!(
        !headers.contains_key("content-encoding"),
        "no gzip unless asked"
    );
    assert_eq!(&wasm.bytes().await.expect("body")[..], b"\0asm\x01\0\0\0");

    let compressed = harness
        .http
        .get(format!("{base}/widget/integrations-widget_bg.wasm"))
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .expect("answers");
    assert_eq!(compressed.headers()["content-encoding"], "gzip");
    assert_eq!(compressed.headers()["content-type"], "application/wasm");
    assert_eq!(&compressed.bytes().await.expect("body")[..], &gzipped[..]);

    // With a brotli copy too, a browser that accepts both gets the smaller brotli one.
    let brotlied = b"pretend brotli of the wasm";
    std::fs::write(dir.join("integrations-widget_bg.wasm.br"), brotlied).expect("write");
    let compressed_with = |accept: &'static str| {
        harness
            .http
            .get(format!("{base}/widget/integrations-widget_bg.wasm"))
            .header("accept-encoding", accept)
            .send()
    };
    let brotli = compressed_with("gzip, deflate, br").await.expect("answers");
    assert_eq!(brotli.headers()["content-encoding"], "br");
    assert_eq!(brotli.headers()["content-type"], "application/wasm");
    assert_eq!(&brotli.bytes().await.expect("body")[..], &brotlied[..]);
    let gzip_only = compressed_with("gzip, deflate").await.expect("answers");
    assert_eq!(gzip_only.headers()["content-encoding"], "gzip");
    assert_eq!(&gzip_only.bytes().await.expect("body")[..], &gzipped[..]);

    let js = harness
        .http
        .get(format!("{base}/widget/integrations-widget.js"))
        .send()
        .await
        .expect("answers");
    assert!(js.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .contains("javascript"));
    let missing = harness
        .http
        .get(format!("{base}/widget/nope.js"))
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // A file a deploy is about to add must not stay missing in a CDN.
    assert_eq!(
        missing.headers()[reqwest::header::CACHE_CONTROL],
        "no-store",
        "an error is not cached"
    );

    let page = harness
        .http
        .get(format!("{base}/"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    assert!(page.contains("demo host"));
    let health = harness
        .http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("answers");
    assert_eq!(health.status(), StatusCode::OK);

    let demo: Value = harness
        .http
        .post(format!("{base}/demo/token"))
        .json(&json!({ "userId": "demo-user", "name": "Demo" }))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    let catalog = harness
        .http
        .get(format!("{base}/api/v1/integrations"))
        .bearer_auth(demo["token"].as_str().expect("token"))
        .send()
        .await
        .expect("answers");
    assert_eq!(catalog.status(), StatusCode::OK);
    // A user's connections are kept by no cache; no answer is sniffed for another type.
    let headers = catalog.headers();
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(
        js.headers()["x-content-type-options"],
        "nosniff",
        "the widget's files too"
    );
    harness.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_demo_token_endpoint_is_off_without_the_flag() {
    let harness = Harness::start("sqlite::memory:").await;
    let response = harness
        .http
        .post(format!("{}/demo/token", harness.proxy.url()))
        .json(&json!({ "userId": "u", "name": "n" }))
        .send()
        .await
        .expect("answers");
    assert!(
        response.status() == StatusCode::NOT_FOUND
            || response.status() == StatusCode::METHOD_NOT_ALLOWED
    );
    harness.stop().await;
}

#[tokio::test]
async fn users_survive_a_restart_and_user_tokens_are_not_kept_at_rest() {
    let file = std::env::temp_dir().join(format!("proxy-{}.db", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let first = Harness::start(&url).await;
    let (status, _) = first
        .call(reqwest::Method::GET, "/integrations", "returning", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let sandbox_graphql = first.sandbox.graphql_url().to_owned();
    let sandbox_dialog = first.sandbox.dialog_url().to_owned();
    first.proxy.stop().await;

    // A new proxy process on the same database and the same Tray.
    let mut config = Config::for_endpoint(
        &sandbox_graphql,
        &sandbox_dialog,
        tray_sandbox::DEMO_MASTER_TOKEN,
        tray_sandbox::DEMO_EMBEDDED_ID,
    );
    config.database_url = url;
    let proxy = Proxy::start(config).await.expect("proxy restarts");
    let before = first.sandbox.stats().requests_served;
    let response = first
        .http
        .get(format!("{}/api/v1/integrations", proxy.url()))
        .bearer_auth(token("returning", Algorithm::HS256, DEMO_JWT_SECRET, 600))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::OK);
    // Catalog, a fresh user token and the user's instances: the user mapping survived
    // (no createExternalUser), the token did not (it was never written to the database).
    assert_eq!(first.sandbox.stats().requests_served - before, 3);
    proxy.stop().await;
    // The sandbox's user tokens read `sandbox-user-…`: none may be in the database's files.
    let name = file
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned();
    for entry in std::fs::read_dir(std::env::temp_dir()).expect("temp dir") {
        let path = entry.expect("entry").path();
        if path.to_string_lossy().contains(&name) {
            let bytes = std::fs::read(&path).expect("database file");
            assert!(
                !bytes.windows(13).any(|w| w == b"sandbox-user-"),
                "{} holds a Tray user token",
                path.display()
            );
        }
    }
    first.sandbox.stop().await;
    let _ = std::fs::remove_file(file);
}

/// A key pair made for this test only (openssl genpkey -algorithm ed25519).
const TEST_ED25519_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEILfestMlJrkPgB430Q8Vs7fzAf17CqDDxF1eowvCKoZY
-----END PRIVATE KEY-----
";
const TEST_ED25519_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA1AJEdMTMIL3hiVuPo1bLeTi7eXTGu5MyZOofccqtNvA=
-----END PUBLIC KEY-----
";

#[tokio::test]
async fn with_a_public_key_only_its_algorithm_is_accepted() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.host_key =
            marketplace_proxy::HostKey::PublicPem(TEST_ED25519_PUBLIC.as_bytes().to_vec());
    })
    .await;
    let url = format!("{}/api/v1/integrations", harness.proxy.url());
    let claims = json!({ "sub": "keyed", "exp": support::an_hour_from_now() });
    let signed = encode(
        &Header::new(Algorithm::EdDSA),
        &claims,
        &EncodingKey::from_ed_pem(TEST_ED25519_PRIVATE.as_bytes()).expect("private key"),
    )
    .expect("signs");
    // Algorithm confusion: HS256 keyed with the public key's text.
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(TEST_ED25519_PUBLIC.as_bytes()),
    )
    .expect("signs");
    let ok = harness
        .http
        .get(&url)
        .bearer_auth(signed)
        .send()
        .await
        .expect("answers");
    assert_eq!(ok.status(), StatusCode::OK);
    let refused = harness
        .http
        .get(&url)
        .bearer_auth(confused)
        .send()
        .await
        .expect("answers");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    harness.stop().await;
}

#[tokio::test]
async fn a_user_tray_no_longer_knows_is_created_again() {
    let file = std::env::temp_dir().join(format!("proxy-{}.db", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let first = Harness::start(&url).await;
    let (status, _) = first
        .call(reqwest::Method::GET, "/integrations", "forgotten", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    first.stop().await;

    // The same proxy database against a Tray that has never seen this user.
    let second = Harness::start(&url).await;
    let (status, body) = second
        .call(reqwest::Method::GET, "/integrations", "forgotten", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    second.stop().await;
    let _ = std::fs::remove_file(file);
}

/// The slots of `instance` that hold an auth, as the widget sees them.
fn authorized_slots(instance: &Value) -> Vec<&str> {
    instance["authValues"]
        .as_array()
        .expect("authValues")
        .iter()
        .filter_map(|auth| auth["externalId"].as_str())
        .collect()
}

fn config_value<'a>(instance: &'a Value, slot: &str) -> Option<&'a Value> {
    instance["configValues"]
        .as_array()
        .expect("configValues")
        .iter()
        .find(|value| value["externalId"] == slot)
        .map(|value| &value["value"])
}

/// A fresh user's Stripe instance with its auth attached: (user, instance id, auth id).
/// A Stripe connection set up and switched on, as the widget leaves it (the harness's
/// `enable_delay` set to zero saves the wait).
async fn enabled_stripe(harness: &Harness, name: &str) -> (String, String, String) {
    let (user, id, auth_id) = stripe_with_auth(harness, name).await;
    let (status, enabled) = harness
        .call(
            reqwest::Method::PATCH,
            &format!("/instances/{id}"),
            &user,
            Some(json!({ "enabled": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    (user, id, auth_id)
}

async fn stripe_with_auth(harness: &Harness, name: &str) -> (String, String, String) {
    let user = unique_user(name);
    let (status, instance) = harness.create(&user, STRIPE, "k").await;
    assert_eq!(status, StatusCode::CREATED, "{instance}");
    let id = instance["id"].as_str().expect("id").to_owned();
    let auth_id = harness.authorize_slot(&user, &id).await;
    let (status, attached) = harness.attach(&user, &id, STRIPE_SLOT, &auth_id).await;
    assert_eq!(status, StatusCode::OK, "{attached}");
    (user, id, auth_id)
}

#[tokio::test]
async fn an_auth_slot_added_by_a_new_version_is_kept_for_the_upgrade() {
    const JIRA_SLOT: &str = "external_jira_auth";
    for url in database_urls() {
        // A fresh catalog on every request: the new version's slot is known at once.
        let harness = Harness::start_with(&url, |config| {
            config.catalog_ttl = Duration::ZERO;
            config.enable_delay = Duration::ZERO;
        })
        .await;
        let (user, id, stripe_auth) = enabled_stripe(&harness, "upgrader").await;
        let version: tray_sandbox::NewVersion = serde_json::from_value(json!({
            "authSlots": [{ "externalId": JIRA_SLOT, "title": "Jira", "service": "jira" }],
            "configSlots": [{ "externalId": "external_project", "title": "Project", "defaultValue": "\"OPS\"" }],
            "needs": "user",
        }))
        .expect("a version");
        harness
            .sandbox
            .publish_version(STRIPE, version)
            .await
            .expect("published");
        let path = format!("/instances/{id}");
        let (_, instance) = harness.call(reqwest::Method::GET, &path, &user, None).await;
        assert_eq!(instance["status"], "needs_update", "{instance}");

        let jira_auth = harness
            .authorize(&user, &id, JIRA_SLOT, "action=allow")
            .await;
        // The widget's catalog, where the user saw the instance await them.
        harness
            .call(reqwest::Method::GET, "/integrations", &user, None)
            .await;
        // Tray sees a kept auth only at the upgrade: another user's is refused now.
        let (_, _, someone_elses) = stripe_with_auth(&harness, "someone-else").await;
        let (status, refused) = harness.attach(&user, &id, JIRA_SLOT, &someone_elses).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        let (_, instance) = harness.instance(&user, &id).await;
        assert!(
            !authorized_slots(&instance).contains(&JIRA_SLOT),
            "{instance}"
        );
        let before = harness.sandbox.stats().requests_served;
        let (status, attached) = harness.attach(&user, &id, JIRA_SLOT, &jira_auth).await;
        assert_eq!(status, StatusCode::OK, "{attached}");
        assert!(
            authorized_slots(&attached).contains(&JIRA_SLOT),
            "{attached}"
        );
        assert_eq!(attached["status"], "needs_update", "{attached}");
        // The solution (twice: this test caches no catalog), the instance and the user's
        // auths, read: no updateSolutionInstance with a slot the instance's version lacks
        // (the new version's values go through the upgrade).
        assert_eq!(harness.sandbox.stats().requests_served - before, 4);

        // Kept durably, not retried against updateSolutionInstance (which refuses it).
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (_, catalog) = harness
            .call(reqwest::Method::GET, "/integrations", &user, None)
            .await;
        let listed = &find_integration(&catalog, STRIPE)["instances"][0];
        assert!(authorized_slots(listed).contains(&JIRA_SLOT), "{listed}");
        assert_eq!(listed["status"], "needs_update", "{listed}");

        // The widget sends the auths it showed before the new one, and the new version's
        // settings (Tray fills no default for a version that needs the user's input).
        let new_settings = json!([{ "externalId": "external_project", "value": "\"OPS\"" }]);
        let (status, refused) = harness
            .call(
                reqwest::Method::POST,
                &format!("{path}/upgrade"),
                &user,
                Some(json!({
                    "authValues": [{ "externalId": STRIPE_SLOT, "authId": stripe_auth }],
                    "configValues": [],
                })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        // The kept auth joins them.
        let (status, upgraded) = harness
            .call(
                reqwest::Method::POST,
                &format!("{path}/upgrade"),
                &user,
                Some(json!({
                    "authValues": [{ "externalId": STRIPE_SLOT, "authId": stripe_auth }],
                    "configValues": new_settings,
                })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{upgraded}");
        assert_ne!(upgraded["status"], "needs_update", "{upgraded}");
        let (_, instance) = harness.call(reqwest::Method::GET, &path, &user, None).await;
        assert!(
            authorized_slots(&instance).contains(&JIRA_SLOT),
            "{instance}"
        );
        assert_eq!(
            config_value(&instance, "external_project"),
            Some(&json!("\"OPS\""))
        );
        harness.stop().await;
    }
}

#[tokio::test]
async fn a_new_version_needing_the_user_shows_its_slots_without_waiting_out_the_cache() {
    // The default TTL (a minute): the catalog cached while creating the instance would
    // otherwise hide a new version's slots for that long.
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.enable_delay = Duration::ZERO;
    })
    .await;
    let (user, id, _) = enabled_stripe(&harness, "cached").await;
    let publish_slot = |external_id: &'static str, title: &'static str| {
        let version: tray_sandbox::NewVersion = serde_json::from_value(json!({
            "authSlots": [{ "externalId": external_id, "title": title, "service": "jira" }],
            "needs": "user",
        }))
        .expect("a version");
        harness.sandbox.publish_version(STRIPE, version)
    };
    let offered_slots = |catalog: &Value| -> Vec<String> {
        find_integration(catalog, STRIPE)["authSlots"]
            .as_array()
            .expect("auth slots")
            .iter()
            .filter_map(|slot| slot["externalId"].as_str().map(str::to_owned))
            .collect()
    };

    publish_slot("external_jira_auth", "Jira")
        .await
        .expect("published");
    let (_, catalog) = harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    let stripe = find_integration(&catalog, STRIPE);
    assert_eq!(stripe["instances"][0]["status"], "needs_update", "{stripe}");
    assert!(
        offered_slots(&catalog).contains(&"external_jira_auth".to_owned()),
        "the new version's slot is offered at once: {stripe}"
    );

    // Yet another version, its slot asked for before any listing: the proxy looks again.
    publish_slot("external_github_auth", "GitHub")
        .await
        .expect("published");
    let (status, dialog) = harness
        .call(
            reqwest::Method::POST,
            &format!("/instances/{id}/auth-dialog"),
            &user,
            Some(json!({ "slot": "external_github_auth" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dialog}");
    harness.stop().await;
}

#[tokio::test]
async fn enabling_an_instance_with_missing_values_is_a_400_naming_them() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.enable_delay = Duration::ZERO;
    })
    .await;
    let user = unique_user("early");
    let (status, instance) = harness.create(&user, STRIPE, "early-1").await;
    assert_eq!(status, StatusCode::CREATED, "{instance}");
    let id = instance["id"].as_str().expect("id");
    let (status, body) = harness.patch(&user, id, json!({ "enabled": true })).await;
    // The user's own request is refused (no Stripe account yet), not a failing Tray.
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains(STRIPE_SLOT), "{message}");
    harness.stop().await;
}

#[tokio::test]
async fn a_version_needing_only_system_input_is_upgraded_by_the_proxy() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.catalog_ttl = Duration::ZERO;
        // The host's value for one new slot (SYSTEM_VALUES_FILE); the other has none.
        config
            .system_values
            .insert(format!("{STRIPE}/external_region"), json!("us-west"));
    })
    .await;
    let (user, id, _) = stripe_with_auth(&harness, "system").await;
    let version: tray_sandbox::NewVersion = serde_json::from_value(json!({
        "configSlots": [
            { "externalId": "external_region", "title": "Region", "defaultValue": "\"eu\"" },
            { "externalId": "external_batch", "title": "Batch size", "defaultValue": "50" },
        ],
        "needs": "system",
    }))
    .expect("a version");
    harness
        .sandbox
        .publish_version(STRIPE, version)
        .await
        .expect("published");
    let (status, instance) = harness.instance(&user, &id).await;
    assert_eq!(status, StatusCode::OK, "{instance}");
    // On the new version, its new slots filled by upgradeSolutionInstance (Tray fills
    // none itself for a version that needs input): the host's value where it gives one
    // (the host's, so not shown to the user), else the default.
    assert_eq!(
        harness
            .value_on_tray(&user, &id, "external_region")
            .await
            .as_deref(),
        Some("\"us-west\""),
    );
    assert_eq!(
        config_value(&instance, "external_region"),
        None,
        "{instance}"
    );
    assert_eq!(
        config_value(&instance, "external_batch"),
        Some(&json!("50")),
        "{instance}"
    );
    assert_eq!(instance["status"], "setting_up", "never enabled yet");
    harness.stop().await;
}

/// A system upgrade Tray refused because the user had not signed in yet is tried again
/// once they have, not only after the back-off.
#[tokio::test]
async fn a_system_upgrade_refused_for_a_missing_sign_in_is_tried_again_once_it_is_attached() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.catalog_ttl = Duration::ZERO;
    })
    .await;
    let user = unique_user("system-late");
    let (status, instance) = harness.create(&user, STRIPE, "k").await;
    assert_eq!(status, StatusCode::CREATED, "{instance}");
    let id = instance["id"].as_str().expect("id").to_owned();
    let batch = json!({ "externalId": "external_batch", "title": "Batch", "defaultValue": "50" });
    harness
        .publish(STRIPE, json!({ "configSlots": [batch], "needs": "system" }))
        .await;
    // Refused: the instance has no Stripe sign-in yet.
    let (status, listed) = harness.instance(&user, &id).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(config_value(&listed, "external_batch"), None, "{listed}");

    let auth_id = harness.authorize_slot(&user, &id).await;
    let (status, attached) = harness.attach(&user, &id, STRIPE_SLOT, &auth_id).await;
    assert_eq!(status, StatusCode::OK, "{attached}");
    let (status, listed) = harness.instance(&user, &id).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(
        config_value(&listed, "external_batch"),
        Some(&json!("50")),
        "upgraded with the sign-in there: {listed}"
    );
    harness.stop().await;
}

const SLACK: &str = "3f1c9a52-6d0e-4d8b-9a51-0c1f6f2e7a01";

#[tokio::test]
async fn settings_the_host_supplies_are_set_by_the_proxy_and_never_shown() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.catalog_ttl = Duration::ZERO;
        // The host picks the channel (a value the user must not see or change).
        config
            .system_values
            .insert(format!("{SLACK}/external_channel"), json!("#host-alerts"));
        config
            .system_values
            .insert("external_workspace".into(), json!("acme"));
    })
    .await;
    let user = unique_user("host-values");
    let (_, catalog) = harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    let slots: Vec<&str> = find_integration(&catalog, SLACK)["configSlots"]
        .as_array()
        .expect("slots")
        .iter()
        .filter_map(|slot| slot["externalId"].as_str())
        .collect();
    assert_eq!(
        slots,
        ["external_mention_here"],
        "only the user's: {catalog}"
    );

    // Made with the host's value; the user's view of it has none.
    let body = json!({ "solutionId": SLACK, "idempotencyKey": "host-1" });
    let (status, made) = harness
        .call(reqwest::Method::POST, "/instances", &user, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_str().expect("id").to_owned();
    assert_eq!(
        harness
            .value_on_tray(&user, &id, "external_channel")
            .await
            .as_deref(),
        Some("\"#host-alerts\"")
    );
    assert_eq!(config_value(&made, "external_channel"), None, "{made}");

    // One made elsewhere (or before the host named the setting) gets the host's value
    // when it is listed.
    let elsewhere = harness.create_on_tray(&user, SLACK).await;
    harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    assert_eq!(
        harness
            .value_on_tray(&user, &elsewhere, "external_channel")
            .await
            .as_deref(),
        Some("\"#host-alerts\"")
    );

    // The user cannot set it.
    let path = format!("/instances/{id}/config");
    let mine = json!({ "values": [{ "externalId": "external_channel", "value": "\"#mine\"" }] });
    let (status, refused) = harness
        .call(reqwest::Method::PUT, &path, &user, Some(mine))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let theirs = json!({ "values": [{ "externalId": "external_mention_here", "value": "true" }] });
    let (status, saved) = harness
        .call(reqwest::Method::PUT, &path, &user, Some(theirs))
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        harness
            .value_on_tray(&user, &id, "external_channel")
            .await
            .as_deref(),
        Some("\"#host-alerts\""),
        "the host's value stays"
    );

    // A version that needs the user's input and adds a host setting: the user's Update
    // sends theirs, the proxy adds the host's.
    let version: tray_sandbox::NewVersion = serde_json::from_value(json!({
        "configSlots": [
            { "externalId": "external_workspace", "title": "Workspace", "defaultValue": "\"\"" },
            { "externalId": "external_digest", "title": "Daily digest", "defaultValue": "false" },
        ],
        "needs": "user",
    }))
    .expect("a version");
    harness
        .sandbox
        .publish_version(SLACK, version)
        .await
        .expect("published");
    let auth_id = harness
        .authorize(&user, &id, "external_slack_auth", "action=allow")
        .await;
    let (status, attached) = harness
        .attach(&user, &id, "external_slack_auth", &auth_id)
        .await;
    assert_eq!(status, StatusCode::OK, "{attached}");
    let update = json!({
        "authValues": [{ "externalId": "external_slack_auth", "authId": auth_id }],
        "configValues": [
            { "externalId": "external_mention_here", "value": "true" },
            { "externalId": "external_digest", "value": "true" },
        ],
    });
    let (status, upgraded) = harness
        .call(
            reqwest::Method::POST,
            &format!("/instances/{id}/upgrade"),
            &user,
            Some(update),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{upgraded}");
    assert_eq!(
        harness
            .value_on_tray(&user, &id, "external_workspace")
            .await
            .as_deref(),
        Some("\"acme\"")
    );
    harness.stop().await;
}

#[tokio::test]
async fn the_dialog_origin_is_the_dialog_urls_serialized_origin() {
    // As an operator may write it: upper case, and (below) a path and the default port.
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.dialog_url = config
            .dialog_url
            .replace("http://127.0.0.1", "HTTP://LocalHost");
    })
    .await;
    let port = harness
        .sandbox
        .dialog_url()
        .rsplit(':')
        .next()
        .expect("port");
    let expected = format!("http://localhost:{port}");
    let user = unique_user("origin");
    let (_, catalog) = harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    assert_eq!(catalog["dialogOrigin"], expected.as_str());
    let (_, instance) = harness.create(&user, STRIPE, "k").await;
    let id = instance["id"].as_str().expect("id").to_owned();
    let (_, dialog) = harness
        .call(
            reqwest::Method::POST,
            &format!("/instances/{id}/auth-dialog"),
            &user,
            Some(json!({ "slot": STRIPE_SLOT })),
        )
        .await;
    assert_eq!(dialog["origin"], expected.as_str(), "{dialog}");
    // The dialog itself still opens under the URL as configured.
    harness.authorize_slot(&user, &id).await;
    harness.stop().await;

    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.dialog_url = "https://Embedded.Example.COM:443/tray".into();
    })
    .await;
    let (_, instance) = harness.create(&user, STRIPE, "k").await;
    let id = instance["id"].as_str().expect("id").to_owned();
    let (status, dialog) = harness
        .call(
            reqwest::Method::POST,
            &format!("/instances/{id}/auth-dialog"),
            &user,
            Some(json!({ "slot": STRIPE_SLOT })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dialog}");
    assert_eq!(dialog["origin"], "https://embedded.example.com");
    assert!(
        dialog["url"]
            .as_str()
            .expect("url")
            .starts_with("https://Embedded.Example.COM:443/tray/external/auth/create/"),
        "{dialog}"
    );
    harness.stop().await;
}

#[tokio::test]
async fn an_instance_of_a_solution_no_longer_offered_stays_visible_authorizable_and_removable() {
    // The proxy offers only CRM solutions; the user's Stripe instance predates that.
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.solution_tags = vec!["crm".into()];
    })
    .await;
    let user = unique_user("legacy");
    let (status, catalog) = harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{catalog}");
    assert!(catalog["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .all(|integration| integration["solutionId"] != STRIPE));
    let id = harness.create_on_tray(&user, STRIPE).await;

    let (_, catalog) = harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    let legacy = find_integration(&catalog, STRIPE);
    assert_eq!(legacy["instances"][0]["id"], id.as_str(), "{catalog}");
    assert_eq!(
        legacy["forceUnique"], true,
        "no new instance can be made of it: the widget offers no 'Add another'"
    );
    let path = format!("/instances/{id}");
    let (status, instance) = harness.call(reqwest::Method::GET, &path, &user, None).await;
    assert_eq!(status, StatusCode::OK, "{instance}");
    // Its service can still be (re)authorized: its slots come with Tray's instance.
    let auth_id = harness.authorize_slot(&user, &id).await;
    let (status, attached) = harness.attach(&user, &id, STRIPE_SLOT, &auth_id).await;
    assert_eq!(status, StatusCode::OK, "{attached}");
    assert!(
        authorized_slots(&attached).contains(&STRIPE_SLOT),
        "{attached}"
    );
    let (status, disabled) = harness
        .call(
            reqwest::Method::PATCH,
            &path,
            &user,
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    let (status, _) = harness
        .call(reqwest::Method::DELETE, &path, &user, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    harness.stop().await;
}

#[tokio::test]
async fn an_instance_made_elsewhere_a_moment_ago_waits_out_the_enable_delay() {
    // Made on Tray behind the proxy's back (another tab's create whose answer was lost,
    // say), then found by a catalog load: its age is Tray's, not "long ago".
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("adopted");
    // The first visit makes the user's Tray user.
    harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    let id = harness.create_on_tray(&user, STRIPE).await;
    let (status, catalog) = harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{catalog}");
    assert_eq!(
        find_integration(&catalog, STRIPE)["instances"][0]["id"],
        id.as_str()
    );
    let auth_id = harness.authorize_slot(&user, &id).await;
    let (status, attached) = harness.attach(&user, &id, STRIPE_SLOT, &auth_id).await;
    assert_eq!(status, StatusCode::OK, "{attached}");

    let (status, enabled) = harness.patch(&user, &id, json!({ "enabled": true })).await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert_eq!(enabled["status"], "connected", "{enabled}");
    assert_eq!(
        harness.sandbox.stats().early_enables,
        0,
        "enabled sooner than 2 s after Tray created it"
    );
    harness.stop().await;
}

#[tokio::test]
async fn more_instances_than_one_page_of_tray_are_all_listed() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("many");
    harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    // The proxy asks Tray for 100 at a time.
    for _ in 0..101 {
        harness.create_on_tray(&user, STRIPE).await;
    }
    let (status, catalog) = harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed = find_integration(&catalog, STRIPE)["instances"]
        .as_array()
        .expect("instances")
        .len();
    assert_eq!(listed, 101);
    harness.stop().await;
}

#[tokio::test]
async fn a_complete_instance_the_user_enables_by_hand_waits_as_disabled() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("manual");
    let (status, instance) = harness.create(&user, ZENDESK_MANUAL, "click-z").await;
    assert_eq!(status, StatusCode::CREATED, "{instance}");
    assert_eq!(instance["status"], "setting_up");
    let id = instance["id"].as_str().expect("id").to_owned();
    let (status, attached) = authorize_zendesk(&harness, &user, &id).await;
    assert_eq!(status, StatusCode::OK, "{attached}");
    // Tray filled the settings with their defaults, but the user has not seen them: a
    // reload here must resume the setup, not show a finished connection.
    assert_eq!(attached["status"], "setting_up", "{attached}");
    assert_eq!(attached["settingsConfirmed"], false, "{attached}");
    assert_eq!(listed_status(&harness, &user, &id).await, "setting_up");
    let (status, configured) = save_zendesk_settings(&harness, &user, &id).await;
    assert_eq!(status, StatusCode::OK, "{configured}");
    // A setup resumed after a reload goes on past the settings the user saved.
    assert_eq!(configured["settingsConfirmed"], true, "{configured}");
    assert_eq!(
        listed(&harness, &user, &id).await["settingsConfirmed"],
        true
    );
    assert_eq!(configured["enabled"], false, "the proxy does not enable it");
    assert_eq!(
        configured["status"], "disabled",
        "set up and waiting for the user's switch, not 'setting up' forever"
    );
    assert_eq!(listed_status(&harness, &user, &id).await, "disabled");
    harness.stop().await;
}

/// A change runs to its end when its caller goes away (a closed tab, a client's timeout):
/// settings Tray saved are noted as saved, so a setup resumed later does not ask for them
/// again. Cut off after Tray's part, the proxy's own was never done.
#[tokio::test]
async fn settings_saved_for_a_caller_that_gave_up_are_noted_as_saved() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("gave-up");
    let id = settings_saved_for_a_caller_that_gives_up(&harness, &user).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    harness.sandbox.set_faults(Faults::default());
    let listed = listed(&harness, &user, &id).await;
    assert_eq!(listed["settingsConfirmed"], true, "{listed}");
    harness.stop().await;
}

/// A proxy stopped (a deploy) while a change whose caller went is still at Tray waits for
/// it: the next proxy on the same database finds the settings noted as saved.
#[tokio::test]
async fn a_stop_waits_for_a_change_whose_caller_went() {
    let file = std::env::temp_dir().join(format!("proxy-{}.db", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let harness = Harness::start(&url).await;
    let user = unique_user("deploy");
    let id = settings_saved_for_a_caller_that_gives_up(&harness, &user).await;
    let Harness {
        sandbox,
        proxy,
        http,
    } = harness;
    proxy.stop().await;
    sandbox.set_faults(Faults::default());
    let mut config = Config::for_endpoint(
        sandbox.graphql_url(),
        sandbox.dialog_url(),
        tray_sandbox::DEMO_MASTER_TOKEN,
        tray_sandbox::DEMO_EMBEDDED_ID,
    );
    config.database_url = url;
    let harness = Harness {
        proxy: Proxy::start(config).await.expect("the next proxy starts"),
        sandbox,
        http,
    };
    let listed = listed(&harness, &user, &id).await;
    assert_eq!(listed["settingsConfirmed"], true, "{listed}");
    harness.stop().await;
    let _ = std::fs::remove_file(file);
}

/// A Zendesk connection of `user`, authorized, whose settings are sent by a caller that
/// gives up after 300 ms while Tray takes 1.5 s to save them (the fault is left set):
/// its id.
async fn settings_saved_for_a_caller_that_gives_up(harness: &Harness, user: &str) -> String {
    let (status, instance) = harness.create(user, ZENDESK_MANUAL, "k").await;
    assert_eq!(status, StatusCode::CREATED, "{instance}");
    let id = instance["id"].as_str().expect("id").to_owned();
    authorize_zendesk(harness, user, &id).await;
    harness.sandbox.set_faults(Faults {
        latency: Duration::from_millis(1_500),
        only: Some("external_max_per_hour".into()),
        ..Faults::default()
    });
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let gave_up = impatient
        .put(format!(
            "{}/api/v1/instances/{id}/config",
            harness.proxy.url()
        ))
        .bearer_auth(token(user, Algorithm::HS256, DEMO_JWT_SECRET, 600))
        .json(&json!({ "values": [
            { "externalId": "external_default_priority", "value": "\"high\"" },
            { "externalId": "external_max_per_hour", "value": "20" },
        ]}))
        .send()
        .await;
    assert!(
        gave_up.is_err(),
        "the caller went before the answer: {gave_up:?}"
    );
    id
}

/// A change its caller was told had failed (the request's time ran out while Tray kept
/// failing) is not sent to Tray again afterwards, where it would land late, maybe after a
/// newer change of the user's. Each try takes Tray 600 ms: the second ends past the
/// request's second, and a third would find Tray well again.
#[tokio::test]
async fn a_change_is_not_sent_to_tray_again_after_its_callers_time() {
    let harness = Harness::start_with("sqlite::memory:", |config| {
        config.request_timeout = Duration::from_secs(1);
    })
    .await;
    let (user, id, _) = stripe_with_auth(&harness, "late").await;
    harness.sandbox.set_faults(Faults {
        latency: Duration::from_millis(600),
        failure_rate: 1.0,
        only: Some("Too late".into()),
        ..Faults::default()
    });
    let (status, body) = harness
        .patch(&user, &id, json!({ "name": "Too late" }))
        .await;
    assert!(status.is_server_error(), "{status} {body}");
    harness.sandbox.set_faults(Faults::default());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let listed = listed(&harness, &user, &id).await;
    assert_ne!(listed["name"], "Too late", "{listed}");
    harness.stop().await;
}

/// Enabling ends the setup: the answer already says its settings need no other look.
#[tokio::test]
async fn the_answer_to_an_enable_says_the_settings_are_confirmed() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("enabler");
    let (status, instance) = harness.create(&user, ZENDESK_MANUAL, "k").await;
    assert_eq!(status, StatusCode::CREATED, "{instance}");
    assert_eq!(instance["settingsConfirmed"], false, "{instance}");
    let id = instance["id"].as_str().expect("id").to_owned();
    authorize_zendesk(&harness, &user, &id).await;
    let (status, enabled) = harness.patch(&user, &id, json!({ "enabled": true })).await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert_eq!(enabled["settingsConfirmed"], true, "{enabled}");
    harness.stop().await;
}

/// A create whose answer Tray lost left an instance; a catalog load listed it, and the
/// user set it up from there. The create's retry finds that instance and must not undo
/// what the user did: it stays set up, not "setting up" again.
#[tokio::test]
async fn a_retried_create_keeps_the_setup_the_user_finished_meanwhile() {
    let harness = Harness::start("sqlite::memory:").await;
    let user = unique_user("lost-manual");
    let (status, _) = harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    harness.sandbox.set_faults(Faults {
        lost_answer_rate: 1.0,
        ..Faults::default()
    });
    let (status, lost) = harness.create(&user, ZENDESK_MANUAL, "click-lost").await;
    harness.sandbox.set_faults(Faults::default());
    assert!(status.is_server_error(), "{status} {lost}");

    let (_, catalog) = harness
        .call(reqwest::Method::GET, "/integrations", &user, None)
        .await;
    let id = catalog["integrations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|integration| integration["solutionId"] == ZENDESK_MANUAL)
        .flat_map(|integration| integration["instances"].as_array().into_iter().flatten())
        .find_map(|instance| instance["id"].as_str())
        .expect("the catalog lists what Tray made")
        .to_owned();
    // Adopted from the listing: nobody showed the user its settings yet, whatever the
    // listing.
    authorize_zendesk(&harness, &user, &id).await;
    assert_eq!(
        listed(&harness, &user, &id).await["settingsConfirmed"],
        false
    );
    assert_eq!(
        listed(&harness, &user, &id).await["settingsConfirmed"],
        false
    );
    let (status, configured) = save_zendesk_settings(&harness, &user, &id).await;
    assert_eq!(status, StatusCode::OK, "{configured}");
    assert_eq!(configured["status"], "disabled", "{configured}");
    assert_eq!(configured["settingsConfirmed"], true, "{configured}");

    let (status, retried) = harness.create(&user, ZENDESK_MANUAL, "click-lost").await;
    assert!(status.is_success(), "{status} {retried}");
    assert_eq!(
        retried["id"],
        id.as_str(),
        "the instance Tray made, not a second"
    );
    assert_eq!(retried["status"], "disabled", "{retried}");
    assert_eq!(listed_status(&harness, &user, &id).await, "disabled");
    harness.stop().await;
}

/// The user signs in to Zendesk for instance `id`, and the auth is attached.
async fn authorize_zendesk(harness: &Harness, user: &str, id: &str) -> (StatusCode, Value) {
    let auth_id = harness
        .authorize(
            user,
            id,
            "external_zendesk_auth",
            "action=connect&api_key=zd_1",
        )
        .await;
    harness
        .attach(user, id, "external_zendesk_auth", &auth_id)
        .await
}

/// The user saves Zendesk's settings of instance `id`.
async fn save_zendesk_settings(harness: &Harness, user: &str, id: &str) -> (StatusCode, Value) {
    let values = json!({ "values": [
        { "externalId": "external_default_priority", "value": "\"high\"" },
        { "externalId": "external_max_per_hour", "value": "20" },
    ]});
    harness
        .call(
            reqwest::Method::PUT,
            &format!("/instances/{id}/config"),
            user,
            Some(values),
        )
        .await
}

/// The status the catalog lists for instance `id`.
async fn listed_status(harness: &Harness, user: &str, id: &str) -> Value {
    listed(harness, user, id).await["status"].clone()
}

/// Instance `id` as the catalog lists it.
async fn listed(harness: &Harness, user: &str, id: &str) -> Value {
    let (status, catalog) = harness
        .call(reqwest::Method::GET, "/integrations", user, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{catalog}");
    catalog["integrations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|integration| integration["instances"].as_array().into_iter().flatten())
        .find(|instance| instance["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}
