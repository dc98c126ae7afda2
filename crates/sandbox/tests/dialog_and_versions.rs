//! The auth dialog's checks and outcomes (over plain HTTP), solution versions, and the
//! auth-expiring webhook.

mod common;

use axum::{routing::post, Json, Router};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::mpsc;
use tray_sandbox::{
    catalog::{AuthSlotDef, ConfigSlotDef},
    NewVersion, SandboxConfig, VersionNeeds, DEMO_EMBEDDED_ID,
};

const STRIPE_SOLUTION_SLOT: &str = "external_stripe_auth";

async fn user_with_instance(client: &Client) -> (String, String, String) {
    let user = client.create_user("alice").await;
    let token = client.user_token(&user).await;
    let instance = client
        .create_instance(&token, SLACK_SOLUTION, "Alerts")
        .await;
    let id = instance["id"].as_str().expect("id").to_owned();
    (user, token, id)
}

#[tokio::test]
async fn the_consent_page_shows_the_service_and_its_choices() {
    let client = Client::default().await;
    let (user, _, instance) = user_with_instance(&client).await;
    let code = client.code(&user).await;
    let page = client
        .http
        .get(format!(
            "{}{}",
            client.sandbox.dialog_url(),
            client.create_path(&instance, SLACK_SLOT, &code)
        ))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("Connect Slack"));
    assert!(html.contains(r#"<img src="/icons/slack.svg""#));
    assert!(html.contains(r#"value="allow""#) && html.contains(r#"value="cancel""#));
    // Enter in the form submits its first submit button: that must be the consent.
    let first_choice = html
        .split(r#"type="submit" name="action" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next());
    assert_eq!(
        first_choice,
        Some("allow"),
        "Enter allows, it does not cancel"
    );
    assert!(!html.contains("api_key"), "OAuth services show no key form");
    let icon = client
        .http
        .get(format!("{}/icons/slack.svg", client.sandbox.dialog_url()))
        .send()
        .await
        .expect("icon");
    assert_eq!(icon.status().as_u16(), 200);
}

#[tokio::test]
async fn allowing_posts_finish_and_does_not_attach_the_auth() {
    let client = Client::default().await;
    let (user, token, instance) = user_with_instance(&client).await;
    let code = client.code(&user).await;
    let path = client.create_path(&instance, SLACK_SLOT, &code);
    // Open the page (redeeming the code), then submit its form with the session it carries.
    let html = client
        .http
        .get(format!("{}{path}", client.sandbox.dialog_url()))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let session = html
        .split(r#"name="session" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("session field")
        .to_owned();
    let (status, message) = client
        .dialog_post(&path, &[("session", &session), ("action", "allow")])
        .await;
    assert_eq!(status, 200);
    assert_eq!(message["type"], "tray.authpopup.finish");
    assert_eq!(message["authType"], "oauth");
    let auth = message["authId"].as_str().expect("authId");

    let instances = client.ok(&token, "{ viewer { solutionInstances { edges { node { authValues { authId } } } } authentications { edges { node { id service { id } } } } } }", json!({})).await;
    assert_eq!(
        instances["viewer"]["solutionInstances"]["edges"][0]["node"]["authValues"],
        json!([])
    );
    assert_eq!(
        instances["viewer"]["authentications"]["edges"][0]["node"]["id"],
        auth
    );
    assert_eq!(
        instances["viewer"]["authentications"]["edges"][0]["node"]["service"]["id"],
        "slack"
    );

    let (_, replay) = client
        .dialog_post(&path, &[("session", &session), ("action", "allow")])
        .await;
    assert_eq!(
        replay["type"], "tray.authPopup.error",
        "a session is single use: {replay}"
    );
    assert_eq!(client.sandbox.stats().authentications_created, 1);
}

#[tokio::test]
async fn cancel_and_deny_post_close_and_error() {
    let client = Client::default().await;
    let (user, _, instance) = user_with_instance(&client).await;
    let code = client.code(&user).await;
    let (_, closed) = client
        .dialog_post(
            &client.create_path(&instance, SLACK_SLOT, &code),
            &[("action", "cancel")],
        )
        .await;
    assert_eq!(closed, json!({"type": "tray.authpopup.close"}));
    let code = client.code(&user).await;
    let (_, denied) = client
        .dialog_post(
            &client.create_path(&instance, SLACK_SLOT, &code),
            &[("action", "deny")],
        )
        .await;
    assert_eq!(
        denied,
        json!({"type": "tray.authPopup.error", "error": "Access to Slack was denied"})
    );
}

#[tokio::test]
async fn codes_are_single_use() {
    let client = Client::default().await;
    let (user, _, instance) = user_with_instance(&client).await;
    let code = client.code(&user).await;
    let path = client.create_path(&instance, SLACK_SLOT, &code);
    let (_, first) = client.dialog_post(&path, &[("action", "allow")]).await;
    assert_eq!(first["type"], "tray.authpopup.finish");
    let (status, second) = client.dialog_post(&path, &[("action", "allow")]).await;
    assert_eq!(status, 403);
    assert_eq!(second["type"], "tray.authPopup.error");
    assert!(
        second["error"]
            .as_str()
            .unwrap_or_default()
            .contains("already been used"),
        "{second}"
    );
}

#[tokio::test]
async fn expired_codes_are_refused() {
    let client = Client::start(SandboxConfig {
        code_ttl: Duration::ZERO,
        ..SandboxConfig::default()
    })
    .await;
    let (user, _, instance) = user_with_instance(&client).await;
    let code = client.code(&user).await;
    let (status, message) = client
        .dialog_post(
            &client.create_path(&instance, SLACK_SLOT, &code),
            &[("action", "allow")],
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        message,
        json!({"type": "tray.authPopup.error", "error": "The authorization code has expired"})
    );
}

#[tokio::test]
async fn codes_are_bound_to_their_user_and_paths_are_checked() {
    let client = Client::default().await;
    let (_, _, alices_instance) = user_with_instance(&client).await;
    let bob = client.create_user("bob").await;

    let code = client.code(&bob).await;
    let (status, message) = client
        .dialog_post(
            &client.create_path(&alices_instance, SLACK_SLOT, &code),
            &[("action", "allow")],
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        message["error"],
        format!("Solution instance {alices_instance} not found for this user")
    );

    let alice_code_user = client.create_user("carol").await;
    let carol_token = client.user_token(&alice_code_user).await;
    let carols = client
        .create_instance(&carol_token, SLACK_SOLUTION, "c")
        .await;
    let carols = carols["id"].as_str().expect("id");
    let code = client.code(&alice_code_user).await;
    let (_, message) = client
        .dialog_post(
            &client.create_path(carols, "no_such_slot", &code),
            &[("action", "allow")],
        )
        .await;
    assert_eq!(
        message["error"],
        "Solution \"Slack notifications\" has no auth slot \"no_such_slot\""
    );

    let code = client.code(&alice_code_user).await;
    let (status, message) = client
        .dialog_post(
            &format!("/external/auth/create/wrong-org/{carols}/{SLACK_SLOT}?code={code}"),
            &[("action", "allow")],
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(message["error"], "Unknown embedded id \"wrong-org\"");

    let (_, message) = client
        .dialog_post(
            &format!("/external/auth/create/{DEMO_EMBEDDED_ID}/{carols}/{SLACK_SLOT}"),
            &[("action", "allow")],
        )
        .await;
    assert_eq!(message["error"], "Missing authorization code (?code=)");
}

#[tokio::test]
async fn api_key_services_ask_for_a_key_and_fail_on_the_reserved_one() {
    let client = Client::default().await;
    let user = client.create_user("alice").await;
    let token = client.user_token(&user).await;
    let solution = client
        .ok(
            MASTER,
            "{ viewer { solutions { edges { node { id authSlots { externalId } } } } } }",
            json!({}),
        )
        .await["viewer"]["solutions"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|edge| {
            edge["node"]["authSlots"].as_array().is_some_and(|slots| {
                slots
                    .iter()
                    .any(|s| s["externalId"] == STRIPE_SOLUTION_SLOT)
            })
        })
        .map(|edge| edge["node"]["id"].as_str().expect("id").to_owned())
        .expect("a Stripe solution in the catalog");
    let instance = client.create_instance(&token, &solution, "Billing").await;
    let instance = instance["id"].as_str().expect("id");

    let code = client.code(&user).await;
    let path = client.create_path(instance, STRIPE_SOLUTION_SLOT, &code);
    let response = client
        .http
        .post(format!("{}{path}", client.sandbox.dialog_url()))
        .form(&[("action", "connect"), ("api_key", "  ")])
        .send()
        .await
        .expect("page");
    let html = response.text().await.expect("html");
    assert!(
        html.contains("Enter your Stripe API key"),
        "an empty key is sent back for correction"
    );
    assert_eq!(posted_message(&html), Value::Null, "nothing is posted yet");

    let code = client.code(&user).await;
    let (_, failed) = client
        .dialog_post(
            &client.create_path(instance, STRIPE_SOLUTION_SLOT, &code),
            &[("action", "connect"), ("api_key", "fail")],
        )
        .await;
    assert_eq!(
        failed,
        json!({"type": "tray.authPopup.error", "error": "Stripe rejected the API key"})
    );

    let code = client.code(&user).await;
    let (_, finished) = client
        .dialog_post(
            &client.create_path(instance, STRIPE_SOLUTION_SLOT, &code),
            &[("action", "connect"), ("api_key", "sk_test_123")],
        )
        .await;
    assert_eq!(finished["type"], "tray.authpopup.finish");
    assert_eq!(finished["authType"], "api_key");
}

#[tokio::test]
async fn the_edit_dialog_reauthorises_an_existing_auth() {
    let client = Client::default().await;
    let (user, _, instance) = user_with_instance(&client).await;
    let auth = client
        .connect(&user, &instance, SLACK_SLOT, &[("action", "allow")])
        .await;
    let code = client.code(&user).await;
    let (_, message) = client
        .dialog_post(
            &format!("/external/auth/edit/{DEMO_EMBEDDED_ID}/{auth}?code={code}"),
            &[("action", "allow")],
        )
        .await;
    assert_eq!(message["type"], "tray.authpopup.finish");
    assert_eq!(message["authId"], auth.as_str());

    let bob = client.create_user("bob").await;
    let code = client.code(&bob).await;
    let (_, message) = client
        .dialog_post(
            &format!("/external/auth/edit/{DEMO_EMBEDDED_ID}/{auth}?code={code}"),
            &[("action", "allow")],
        )
        .await;
    assert_eq!(
        message["error"],
        format!("Authentication {auth} not found for this user")
    );
}

const FLAGS: &str = "{ viewer { solutionInstances { edges { node { id solution { authSlots { externalId } } solutionVersionFlags { hasNewerVersion requiresUserInputToUpdateVersion requiresSystemInputToUpdateVersion } } } } } }";

fn flags(data: &Value) -> Value {
    data["viewer"]["solutionInstances"]["edges"][0]["node"]["solutionVersionFlags"].clone()
}

fn new_slot(needs: VersionNeeds) -> NewVersion {
    NewVersion {
        auth_slots: vec![AuthSlotDef {
            external_id: "external_jira_auth".into(),
            title: "Jira site".into(),
            service: "jira".into(),
        }],
        config_slots: Vec::new(),
        needs,
    }
}

#[tokio::test]
async fn a_version_needing_user_input_is_flagged_until_upgraded() {
    let client = Client::default().await;
    let (user, token, instance) = user_with_instance(&client).await;
    assert_eq!(
        flags(&client.ok(&token, FLAGS, json!({})).await),
        json!({"hasNewerVersion": false, "requiresUserInputToUpdateVersion": false, "requiresSystemInputToUpdateVersion": false})
    );

    let version = client
        .sandbox
        .publish_version(SLACK_SOLUTION, new_slot(VersionNeeds::User))
        .await
        .expect("published");
    assert_eq!(version, 2);
    let data = client.ok(&token, FLAGS, json!({})).await;
    assert_eq!(
        flags(&data),
        json!({"hasNewerVersion": true, "requiresUserInputToUpdateVersion": true, "requiresSystemInputToUpdateVersion": false})
    );
    assert_eq!(
        data["viewer"]["solutionInstances"]["edges"][0]["node"]["solution"]["authSlots"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "still on version 1"
    );

    let upgrade = "mutation($input: UpgradeSolutionInstanceInput!) { upgradeSolutionInstance(input: $input) { solutionInstance { solution { authSlots { externalId } } solutionVersionFlags { hasNewerVersion } } } }";
    let message = client
        .error(
            &token,
            upgrade,
            json!({"input": {"solutionInstanceId": instance}}),
        )
        .await;
    assert!(
        message.contains("needs auth values for external_slack_auth, external_jira_auth"),
        "{message}"
    );

    let slack = client
        .connect(&user, &instance, SLACK_SLOT, &[("action", "allow")])
        .await;
    let jira = client
        .connect(
            &user,
            &instance,
            "external_jira_auth",
            &[("action", "allow")],
        )
        .await;
    let upgraded = client
        .ok(&token, upgrade, json!({"input": {"solutionInstanceId": instance, "authValues": [{"externalId": SLACK_SLOT, "authId": slack}, {"externalId": "external_jira_auth", "authId": jira}]}}))
        .await;
    let node = &upgraded["upgradeSolutionInstance"]["solutionInstance"];
    assert_eq!(node["solutionVersionFlags"]["hasNewerVersion"], false);
    assert_eq!(
        node["solution"]["authSlots"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn a_version_needing_system_input_is_flagged_for_the_host() {
    let client = Client::default().await;
    let (_, token, _) = user_with_instance(&client).await;
    let published = client
        .http
        .post(format!("{}/_sandbox/solutions/{SLACK_SOLUTION}/versions", client.sandbox.api_url()))
        .bearer_auth(MASTER)
        .json(&json!({"configSlots": [{"externalId": "external_digest", "title": "Daily digest", "defaultValue": "true"}], "needs": "system"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(published.status().as_u16(), 200);
    assert_eq!(
        published.json::<Value>().await.expect("json"),
        json!({"version": 2})
    );
    assert_eq!(
        flags(&client.ok(&token, FLAGS, json!({})).await),
        json!({"hasNewerVersion": true, "requiresUserInputToUpdateVersion": false, "requiresSystemInputToUpdateVersion": true})
    );

    let bad = client
        .http
        .post(format!(
            "{}/_sandbox/solutions/{SLACK_SOLUTION}/versions",
            client.sandbox.api_url()
        ))
        .bearer_auth(MASTER)
        .json(&json!({"needs": "sometimes"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(bad.status().as_u16(), 400);
}

#[tokio::test]
async fn a_version_needing_no_input_applies_itself_after_the_delay() {
    let client = Client::start(SandboxConfig {
        lazy_update_delay: Duration::ZERO,
        ..SandboxConfig::default()
    })
    .await;
    let (_, token, _) = user_with_instance(&client).await;
    let mut version = new_slot(VersionNeeds::None);
    version.config_slots.push(ConfigSlotDef {
        external_id: "external_digest".into(),
        title: "Daily digest".into(),
        default_value: "true".into(),
    });
    client
        .sandbox
        .publish_version(SLACK_SOLUTION, version)
        .await
        .expect("published");
    let data = client.ok(&token, FLAGS, json!({})).await;
    assert_eq!(flags(&data)["hasNewerVersion"], false);
    // Nobody was asked: the new setting starts from its default.
    let values = client
        .ok(&token, "{ viewer { solutionInstances { edges { node { configValues { externalId value } } } } } }", json!({}))
        .await;
    let digest = values["viewer"]["solutionInstances"]["edges"][0]["node"]["configValues"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["externalId"] == "external_digest")
        .map(|v| v["value"].clone());
    assert_eq!(digest, Some(json!("true")));
    assert_eq!(
        data["viewer"]["solutionInstances"]["edges"][0]["node"]["solution"]["authSlots"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let waiting = Client::default().await; // Tray's ~2 minute delay: not applied yet.
    let (_, token, _) = user_with_instance(&waiting).await;
    waiting
        .sandbox
        .publish_version(SLACK_SOLUTION, new_slot(VersionNeeds::None))
        .await
        .expect("published");
    assert_eq!(
        flags(&waiting.ok(&token, FLAGS, json!({})).await),
        json!({"hasNewerVersion": true, "requiresUserInputToUpdateVersion": false, "requiresSystemInputToUpdateVersion": false})
    );
}

#[tokio::test]
async fn the_auth_expiring_webhook_reaches_the_host() {
    let (sent, mut received) = mpsc::unbounded_channel::<Value>();
    let host = Router::new().route(
        "/webhooks/tray",
        post(move |Json(body): Json<Value>| {
            let sent = sent.clone();
            async move {
                let _ = sent.send(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let webhook = format!(
        "http://{}/webhooks/tray",
        listener.local_addr().expect("addr")
    );
    let server = tokio::spawn(async move { axum::serve(listener, host).await });

    let client = Client::start(SandboxConfig {
        auth_expiry_webhook: Some(webhook),
        ..SandboxConfig::default()
    })
    .await;
    let (user, _, instance) = user_with_instance(&client).await;
    let auth = client
        .connect(&user, &instance, SLACK_SLOT, &[("action", "allow")])
        .await;
    let answer = client
        .http
        .post(format!(
            "{}/_sandbox/authentications/{auth}/expiring",
            client.sandbox.api_url()
        ))
        .bearer_auth(MASTER)
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status().as_u16(), 200);
    let body = received.recv().await.expect("webhook delivered");
    assert_eq!(
        body,
        json!({"authentication_name": "Slack (User alice)", "service_name": "slack", "user_id": user, "authId": auth, "external_user_id": "alice"})
    );
    let unknown = client
        .http
        .post(format!(
            "{}/_sandbox/authentications/nope/expiring",
            client.sandbox.api_url()
        ))
        .bearer_auth(MASTER)
        .send()
        .await
        .expect("answer");
    assert_eq!(unknown.status().as_u16(), 404);
    server.abort();
}
