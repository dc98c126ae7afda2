//! Tray's semantics over HTTP: every operation, the token rules, pagination, limits,
//! faults, persistence and the early-enable hazard.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;
use tray_sandbox::{Faults, RateLimit, SandboxConfig};

const UPDATE: &str = "mutation($input: UpdateSolutionInstanceInput!) { updateSolutionInstance(input: $input) { solutionInstance { id name enabled authValues { externalId authId } configValues { externalId value } workflows { edges { node { triggerUrl } } } } } }";

#[tokio::test]
async fn missing_or_unknown_tokens_get_401_with_a_graphql_error() {
    let client = Client::default().await;
    let (status, body) = client
        .post(None, "{ viewer { details { name } } }", json!({}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["data"], Value::Null);
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("Missing access token"));

    let (status, body) = client
        .post(
            Some("made-up"),
            "{ viewer { details { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["message"], "Invalid access token");
}

#[tokio::test]
async fn a_body_that_is_not_a_graphql_request_gets_a_clear_400() {
    let client = Client::default().await;
    let response = client
        .http
        .post(client.sandbox.graphql_url())
        .bearer_auth(MASTER)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("JSON error");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Body must be JSON {query, variables}"),
        "{body}"
    );

    let (status, body) = client
        .post(Some(MASTER), "{ viewer { nope } }", json!({}))
        .await;
    assert_eq!(
        status, 200,
        "invalid documents are GraphQL errors, as on Tray"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nope"),
        "{body}"
    );
}

#[tokio::test]
async fn master_only_operations_refuse_user_tokens() {
    let client = Client::default().await;
    let user = client.create_user("alice").await;
    let token = client.user_token(&user).await;
    for (query, variables) in [
        ("{ viewer { solutions { edges { node { id } } } } }", json!({})),
        ("{ users { edges { node { id } } } }", json!({})),
        ("mutation($u: ID!) { authorize(input: {userId: $u}) { accessToken } }", json!({"u": user})),
        ("mutation($u: ID!) { generateAuthorizationCode(input: {userId: $u}) { authorizationCode } }", json!({"u": user})),
        ("mutation { createExternalUser(input: {externalUserId: \"x\", name: \"X\"}) { userId } }", json!({})),
        ("mutation($u: ID!) { removeExternalUser(input: {userId: $u}) { clientMutationId } }", json!({"u": user})),
    ] {
        let message = client.error(&token, query, variables).await;
        assert!(message.contains("requires the master token"), "{query}: {message}");
    }
}

#[tokio::test]
async fn user_only_operations_refuse_the_master_token() {
    let client = Client::default().await;
    for query in [
        format!("mutation {{ createSolutionInstance(input: {{solutionId: \"{SLACK_SOLUTION}\", instanceName: \"x\"}}) {{ solutionInstance {{ id }} }} }}"),
        "mutation { updateSolutionInstance(input: {solutionInstanceId: \"i\", enabled: true}) { solutionInstance { id } } }".into(),
        "mutation { upgradeSolutionInstance(input: {solutionInstanceId: \"i\"}) { solutionInstance { id } } }".into(),
        "mutation { removeSolutionInstance(input: {solutionInstanceId: \"i\"}) { clientMutationId } }".into(),
        "{ viewer { authentications { edges { node { id } } } } }".into(),
        "mutation { createUserAuthentication(input: {name: \"n\", serviceId: \"stripe\", serviceEnvironmentId: \"stripe-production\", data: \"{}\"}) { authenticationId } }".into(),
    ] {
        let message = client.error(MASTER, &query, json!({})).await;
        assert!(message.contains("requires a user token"), "{query}: {message}");
    }
}

#[tokio::test]
async fn user_tokens_expire_after_their_ttl() {
    let client = Client::start(SandboxConfig {
        user_token_ttl: Duration::ZERO,
        ..SandboxConfig::default()
    })
    .await;
    let user = client.create_user("bob").await;
    let token = client.user_token(&user).await;
    let (status, body) = client
        .post(Some(&token), "{ viewer { details { name } } }", json!({}))
        .await;
    assert_eq!(status, 401);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn users_are_unique_searchable_and_removable() {
    let client = Client::default().await;
    let alice = client.create_user("alice").await;
    client.create_user("bob").await;
    let message = client
        .error(MASTER, "mutation { createExternalUser(input: {externalUserId: \"alice\", name: \"A\"}) { userId } }", json!({}))
        .await;
    assert!(message.contains("already exists"), "{message}");

    let found = client
        .ok(MASTER, "query($e: String) { users(criteria: {externalUserId: $e}) { edges { node { id name externalUserId } } } }", json!({"e": "alice"}))
        .await;
    assert_eq!(found["users"]["edges"][0]["node"]["id"], alice.as_str());
    assert_eq!(found["users"]["edges"].as_array().map(Vec::len), Some(1));

    let token = client.user_token(&alice).await;
    client.create_instance(&token, SLACK_SOLUTION, "Mine").await;
    client
        .ok(
            MASTER,
            "mutation($u: ID!) { removeExternalUser(input: {userId: $u}) { clientMutationId } }",
            json!({"u": alice}),
        )
        .await;
    let all = client.ok(MASTER, "{ users { edges { node { externalUserId } } } viewer { solutionInstances { totalCount } } }", json!({})).await;
    assert_eq!(all["users"]["edges"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        all["viewer"]["solutionInstances"]["totalCount"], 0,
        "instances go with their user"
    );
    let (status, _) = client
        .post(Some(&token), "{ viewer { details { name } } }", json!({}))
        .await;
    assert_eq!(status, 401, "a removed user's token no longer works");
}

#[tokio::test]
async fn viewer_details_describe_the_caller() {
    let client = Client::default().await;
    let user = client.create_user("carol").await;
    let token = client.user_token(&user).await;
    let mine = client
        .ok(
            &token,
            "{ viewer { details { username email name } } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["viewer"]["details"]["username"], "carol");
    assert_eq!(mine["viewer"]["details"]["name"], "User carol");
    let org = client
        .ok(MASTER, "{ viewer { details { name } } }", json!({}))
        .await;
    assert_eq!(org["viewer"]["details"]["name"], "Sandbox organisation");
}

#[tokio::test]
async fn new_instances_are_disabled_with_default_config() {
    let client = Client::default().await;
    let user = client.create_user("alice").await;
    let token = client.user_token(&user).await;
    let instance = client
        .create_instance(&token, SLACK_SOLUTION, "Alerts")
        .await;
    assert_eq!(instance["enabled"], false);
    assert_eq!(instance["name"], "Alerts");
    assert_eq!(instance["owner"], user.as_str());
    assert!(instance["created"]
        .as_str()
        .unwrap_or_default()
        .ends_with('Z'));
    assert_eq!(
        instance["configValues"],
        json!([{"externalId": "external_channel", "value": "\"#general\""}, {"externalId": "external_mention_here", "value": "false"}])
    );
    assert_eq!(
        instance["workflows"]["edges"][0]["node"]["sourceWorkflowName"],
        "Send notification"
    );

    let message = client
        .error(&token, "mutation { createSolutionInstance(input: {solutionId: \"nope\", instanceName: \"x\"}) { solutionInstance { id } } }", json!({}))
        .await;
    assert_eq!(message, "Solution nope not found");
}

#[tokio::test]
async fn update_checks_values_and_enabling_needs_them_all() {
    let client = Client::default().await;
    let user = client.create_user("alice").await;
    let token = client.user_token(&user).await;
    let instance = client
        .create_instance(&token, SLACK_SOLUTION, "Alerts")
        .await;
    let id = instance["id"].as_str().expect("id").to_owned();

    let message = client
        .error(&token, UPDATE, json!({"input": {"solutionInstanceId": id, "enabled": true, "errorOnEnablingWithMissingValues": true}}))
        .await;
    assert!(
        message.contains("missing values for external_slack_auth"),
        "{message}"
    );

    let message = client
        .error(&token, UPDATE, json!({"input": {"solutionInstanceId": id, "configValues": [{"externalId": "external_channel", "value": "general"}]}}))
        .await;
    assert!(message.contains("not JSON text"), "{message}");
    let message = client
        .error(&token, UPDATE, json!({"input": {"solutionInstanceId": id, "authValues": [{"externalId": SLACK_SLOT, "authId": "made-up"}]}}))
        .await;
    assert!(message.contains("not found for this user"), "{message}");

    let auth = client
        .connect(&user, &id, SLACK_SLOT, &[("action", "allow")])
        .await;
    let updated = client
        .ok(
            &token,
            UPDATE,
            json!({"input": {
            "solutionInstanceId": id, "instanceName": "Deal alerts",
            "authValues": [{"externalId": SLACK_SLOT, "authId": auth}],
            "configValues": [{"externalId": "external_channel", "value": "\"#deals\""}]}}),
        )
        .await;
    let node = &updated["updateSolutionInstance"]["solutionInstance"];
    assert_eq!(node["name"], "Deal alerts");
    assert_eq!(
        node["authValues"],
        json!([{"externalId": SLACK_SLOT, "authId": auth}])
    );
    assert!(node["configValues"]
        .as_array()
        .expect("values")
        .contains(&json!({"externalId": "external_channel", "value": "\"#deals\""})));
    assert_eq!(node["enabled"], false, "changing values does not enable");
}

#[tokio::test]
async fn enabling_within_two_seconds_leaves_no_working_trigger() {
    let client = Client::default().await;
    let user = client.create_user("alice").await;
    let token = client.user_token(&user).await;
    let instance = client
        .create_instance(&token, SLACK_SOLUTION, "Hasty")
        .await;
    let id = instance["id"].as_str().expect("id");
    let trigger_before = instance["workflows"]["edges"][0]["node"]["triggerUrl"]
        .as_str()
        .expect("trigger URL")
        .to_owned();

    let enabled = client
        .ok(
            &token,
            UPDATE,
            json!({"input": {"solutionInstanceId": id, "enabled": true}}),
        )
        .await;
    let node = &enabled["updateSolutionInstance"]["solutionInstance"];
    assert_eq!(node["enabled"], true);
    assert_eq!(
        node["workflows"]["edges"][0]["node"]["triggerUrl"],
        Value::Null
    );
    assert_eq!(client.sandbox.stats().early_enables, 1);
    let run = client
        .http
        .post(&trigger_before)
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(
        run.status().as_u16(),
        404,
        "the early-enabled instance's trigger does not work"
    );
}

#[tokio::test]
async fn enabling_after_two_seconds_gives_a_trigger_that_records_runs() {
    let client = Client::default().await;
    let user = client.create_user("alice").await;
    let token = client.user_token(&user).await;
    let instance = client
        .create_instance(&token, SLACK_SOLUTION, "Patient")
        .await;
    let id = instance["id"].as_str().expect("id");
    let trigger = instance["workflows"]["edges"][0]["node"]["triggerUrl"]
        .as_str()
        .expect("trigger")
        .to_owned();
    let disabled = client
        .http
        .post(&trigger)
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(
        disabled.status().as_u16(),
        409,
        "a disabled instance does not run"
    );

    // Tray's documented rule: wait at least 2 s after creating before enabling.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let enabled = client
        .ok(
            &token,
            UPDATE,
            json!({"input": {"solutionInstanceId": id, "enabled": true}}),
        )
        .await;
    assert_eq!(
        enabled["updateSolutionInstance"]["solutionInstance"]["workflows"]["edges"][0]["node"]
            ["triggerUrl"],
        trigger.as_str()
    );
    let run = client
        .http
        .post(&trigger)
        .body("{\"deal\":1}")
        .send()
        .await
        .expect("answer");
    assert_eq!(run.status().as_u16(), 200);
    let stats = client.sandbox.stats();
    assert_eq!(stats.early_enables, 0);
    assert_eq!(stats.trigger_runs, 1);
}

#[tokio::test]
async fn users_see_and_touch_only_their_own_instances() {
    let client = Client::default().await;
    let alice = client.create_user("alice").await;
    let bob = client.create_user("bob").await;
    let alice_token = client.user_token(&alice).await;
    let bob_token = client.user_token(&bob).await;
    let alices = client
        .create_instance(&alice_token, SLACK_SOLUTION, "Alice's")
        .await;
    client
        .create_instance(&bob_token, SLACK_SOLUTION, "Bob's")
        .await;

    let seen = client
        .ok(
            &bob_token,
            "{ viewer { solutionInstances { totalCount edges { node { name owner } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(seen["viewer"]["solutionInstances"]["totalCount"], 1);
    assert_eq!(
        seen["viewer"]["solutionInstances"]["edges"][0]["node"]["name"],
        "Bob's"
    );

    let id = alices["id"].as_str().expect("id");
    let message = client
        .error(
            &bob_token,
            UPDATE,
            json!({"input": {"solutionInstanceId": id, "instanceName": "Mine now"}}),
        )
        .await;
    assert_eq!(message, format!("Solution instance {id} not found"));
    let message = client
        .error(&bob_token, "mutation($i: ID!) { removeSolutionInstance(input: {solutionInstanceId: $i}) { clientMutationId } }", json!({"i": id}))
        .await;
    assert_eq!(message, format!("Solution instance {id} not found"));

    let by_owner = client
        .ok(MASTER, "query($o: String) { viewer { solutionInstances(criteria: {owner: $o}) { totalCount edges { node { name } } } } }", json!({"o": alice}))
        .await;
    assert_eq!(
        by_owner["viewer"]["solutionInstances"]["edges"][0]["node"]["name"],
        "Alice's"
    );
    assert_eq!(by_owner["viewer"]["solutionInstances"]["totalCount"], 1);

    let removed = client
        .ok(&alice_token, "mutation($i: ID!) { removeSolutionInstance(input: {solutionInstanceId: $i, clientMutationId: \"m1\"}) { clientMutationId } }", json!({"i": id}))
        .await;
    assert_eq!(removed["removeSolutionInstance"]["clientMutationId"], "m1");
    let left = client
        .ok(
            MASTER,
            "{ viewer { solutionInstances { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(left["viewer"]["solutionInstances"]["totalCount"], 1);
}

#[tokio::test]
async fn instances_paginate_with_relay_cursors() {
    let client = Client::default().await;
    let user = client.create_user("alice").await;
    let token = client.user_token(&user).await;
    for n in 0..5 {
        client
            .create_instance(&token, SLACK_SOLUTION, &format!("n{n}"))
            .await;
    }
    let query = "query($after: String) { viewer { solutionInstances(first: 2, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { name } } } } }";
    let mut names = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let data = client.ok(&token, query, json!({"after": after})).await;
        let connection = &data["viewer"]["solutionInstances"];
        assert_eq!(connection["totalCount"], 5);
        assert_eq!(connection["pageInfo"]["hasPreviousPage"], pages > 0);
        for edge in connection["edges"].as_array().expect("edges") {
            names.push(edge["node"]["name"].as_str().expect("name").to_owned());
        }
        assert_eq!(
            connection["pageInfo"]["endCursor"],
            connection["edges"]
                .as_array()
                .and_then(|e| e.last())
                .map_or(Value::Null, |e| e["cursor"].clone())
        );
        pages += 1;
        if connection["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["n0", "n1", "n2", "n3", "n4"]);

    let message = client
        .error(&token, query, json!({"after": "garbage"}))
        .await;
    assert_eq!(message, "Invalid cursor: garbage");
}

#[tokio::test]
async fn solutions_paginate_and_filter_by_tag() {
    let client = Client::default().await;
    let all = client
        .ok(
            MASTER,
            "{ viewer { solutions { edges { node { title customFields { key value } } } } } }",
            json!({}),
        )
        .await;
    let edges = all["viewer"]["solutions"]["edges"]
        .as_array()
        .expect("edges")
        .clone();
    assert!(edges.len() >= 8);
    assert!(
        !edges
            .iter()
            .any(|e| e["node"]["title"] == "Legacy FTP import"),
        "unpublished stay hidden"
    );
    let icon = edges[0]["node"]["customFields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["key"] == "image")
        .expect("image")["value"]
        .as_str()
        .expect("url")
        .to_owned();
    let svg = client.http.get(&icon).send().await.expect("icon");
    assert_eq!(svg.status().as_u16(), 200);

    let first = client.ok(MASTER, "{ viewer { solutions(first: 3) { pageInfo { hasNextPage endCursor } edges { node { title } } } } }", json!({})).await;
    assert_eq!(
        first["viewer"]["solutions"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert_eq!(
        first["viewer"]["solutions"]["pageInfo"]["hasNextPage"],
        true
    );
    let after = first["viewer"]["solutions"]["pageInfo"]["endCursor"].clone();
    let rest = client.ok(MASTER, "query($a: String) { viewer { solutions(after: $a) { pageInfo { hasNextPage hasPreviousPage } edges { node { title } } } } }", json!({"a": after})).await;
    assert_eq!(
        rest["viewer"]["solutions"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(edges.len() - 3)
    );
    assert_eq!(
        rest["viewer"]["solutions"]["pageInfo"]["hasNextPage"],
        false
    );
    assert_eq!(
        rest["viewer"]["solutions"]["pageInfo"]["hasPreviousPage"],
        true
    );

    let crm = client
        .ok(
            MASTER,
            "{ viewer { solutions(criteria: {tags: [\"crm\"]}) { edges { node { tags } } } } }",
            json!({}),
        )
        .await;
    let crm = crm["viewer"]["solutions"]["edges"]
        .as_array()
        .expect("edges")
        .clone();
    assert!(!crm.is_empty() && crm.len() < edges.len());
    assert!(crm.iter().all(|e| e["node"]["tags"]
        .as_array()
        .is_some_and(|t| t.contains(&json!("crm")))));
}

#[tokio::test]
async fn the_organisation_is_rate_limited_with_trays_error() {
    let client = Client::start(SandboxConfig {
        rate_limit: RateLimit {
            per_second: 1,
            burst: 3,
        },
        ..SandboxConfig::default()
    })
    .await;
    let mut statuses = Vec::new();
    let mut limited_body = Value::Null;
    for _ in 0..6 {
        let (status, body) = client
            .post(Some(MASTER), "{ viewer { details { name } } }", json!({}))
            .await;
        if status == 429 {
            limited_body = body;
        }
        statuses.push(status);
    }
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert!(
        statuses[3..].iter().filter(|s| **s == 429).count() >= 2,
        "{statuses:?}"
    );
    assert_eq!(
        limited_body,
        json!({"data": null, "errors": [{"message": "Rate limit exceeded", "extensions": {"name": "PreconditionError", "code": "access_not_allowed"}}]})
    );
    let stats = client.sandbox.stats();
    assert_eq!(
        stats.rate_limited as usize,
        statuses.iter().filter(|s| **s == 429).count()
    );
    assert_eq!(stats.peak_requests_per_second, 6);
}

#[tokio::test]
async fn injected_faults_fail_or_rate_limit_until_cleared() {
    let client = Client::default().await;
    let admin = format!("{}/_sandbox/faults", client.sandbox.api_url());
    let refused = client
        .http
        .post(&admin)
        .json(&json!({"failureRate": 1.0}))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        refused.status().as_u16(),
        401,
        "admin endpoints need the master token"
    );
    let bad = client
        .http
        .post(&admin)
        .bearer_auth(MASTER)
        .json(&json!({"failureRate": 2}))
        .send()
        .await
        .expect("answer");
    assert_eq!(bad.status().as_u16(), 400);
    let set = client
        .http
        .post(&admin)
        .bearer_auth(MASTER)
        .json(&json!({"failureRate": 1.0}))
        .send()
        .await
        .expect("answer");
    assert_eq!(set.status().as_u16(), 200);

    let (status, _) = client
        .post(Some(MASTER), "{ viewer { details { name } } }", json!({}))
        .await;
    assert_eq!(status, 503);
    client.sandbox.set_faults(Faults {
        force_rate_limit: true,
        ..Faults::default()
    });
    let (status, body) = client
        .post(Some(MASTER), "{ viewer { details { name } } }", json!({}))
        .await;
    assert_eq!(status, 429);
    assert_eq!(body["errors"][0]["message"], "Rate limit exceeded");
    client.sandbox.set_faults(Faults::default());
    let (status, _) = client
        .post(Some(MASTER), "{ viewer { details { name } } }", json!({}))
        .await;
    assert_eq!(status, 200);

    let stats: Value = client
        .http
        .get(format!("{}/_sandbox/stats", client.sandbox.api_url()))
        .bearer_auth(MASTER)
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["injectedFailures"], 1);
    assert_eq!(stats["rateLimited"], 1);
    assert_eq!(stats["requestsServed"], 1);
}

/// Tray's `extensions`: `name` says whose failure it is, `code` why a precondition failed.
#[tokio::test]
async fn errors_say_their_kind_and_code_as_trays_do() {
    let client = Client::default().await;
    let user = client.create_user("dana").await;
    let token = client.user_token(&user).await;
    let id = client
        .create_instance(&token, SLACK_SOLUTION, "Alerts")
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let extensions = |body: Value| body["errors"][0]["extensions"].clone();
    let cases = [
        (Some(token.as_str()), "{ users { edges { node { id } } } }".to_owned(), json!({}), json!({"name": "PreconditionError", "code": "access_not_allowed"})),
        (Some(MASTER), "mutation { createExternalUser(input: {externalUserId: \"dana\", name: \"D\"}) { userId } }".into(), json!({}), json!({"name": "PreconditionError", "code": "user_already_exists"})),
        (Some(MASTER), "mutation { removeExternalUser(input: {userId: \"nobody\"}) { clientMutationId } }".into(), json!({}), json!({"name": "PreconditionError", "code": "user_does_not_exist"})),
        (Some(token.as_str()), UPDATE.into(), json!({"input": {"solutionInstanceId": "gone", "enabled": false}}), json!({"name": "PreconditionError", "code": "resource_does_not_exist"})),
        (Some(token.as_str()), UPDATE.into(), json!({"input": {"solutionInstanceId": id, "enabled": true, "errorOnEnablingWithMissingValues": true}}), json!({"name": "PreconditionError"})),
        (Some(MASTER), "{ viewer { nope } }".into(), json!({}), json!({"name": "GraphQLError"})),
    ];
    for (token, query, variables, expected) in cases {
        let (status, body) = client.post(token, &query, variables).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(extensions(body), expected, "{query}");
    }

    // Tray's own failure: an id to report, and nothing was done.
    client.sandbox.set_faults(Faults {
        internal_error_rate: 1.0,
        ..Faults::default()
    });
    let (status, body) = client
        .post(
            Some(MASTER),
            "mutation { createExternalUser(input: {externalUserId: \"erin\", name: \"E\"}) { userId } }",
            json!({}),
        )
        .await;
    client.sandbox.set_faults(Faults::default());
    assert_eq!(status, 200, "{body}");
    let extensions = extensions(body);
    assert_eq!(extensions["name"], "InternalError");
    assert!(extensions["errorId"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    assert_eq!(client.users_named("erin").await, json!([]));

    // A gateway before Tray refusing the call: its own JSON, no GraphQL, nothing done.
    client.sandbox.set_faults(Faults {
        gateway_refusal_rate: 1.0,
        ..Faults::default()
    });
    let create_frank = "mutation { createExternalUser(input: {externalUserId: \"frank\", name: \"F\"}) { userId } }";
    let (status, body) = client.post(Some(MASTER), create_frank, json!({})).await;
    client.sandbox.set_faults(Faults::default());
    assert_eq!((status, body), (403, json!({ "message": "Forbidden" })));
    assert_eq!(client.users_named("frank").await, json!([]));
}

/// A lost answer is the fault a retry must be careful with: the work was done.
#[tokio::test]
async fn a_lost_answer_still_carries_out_the_request() {
    let client = Client::default().await;
    client.sandbox.set_faults(Faults {
        lost_answer_rate: 1.0,
        ..Faults::default()
    });
    let (status, _) = client
        .post(
            Some(MASTER),
            "mutation { createExternalUser(input: {externalUserId: \"lost\", name: \"L\"}) { userId } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 504);
    client.sandbox.set_faults(Faults::default());
    let users = client
        .ok(
            MASTER,
            "query($e: String) { users(criteria: {externalUserId: $e}) { edges { node { id } } } }",
            json!({"e": "lost"}),
        )
        .await;
    assert_eq!(users["users"]["edges"].as_array().map(Vec::len), Some(1));
    assert_eq!(client.sandbox.stats().lost_answers, 1);
}

/// A caller that gives up waiting (its own timeout, under `latency`) does not call the
/// request back, as with Tray: it is carried out all the same.
#[tokio::test]
async fn a_request_whose_caller_gave_up_is_still_carried_out() {
    let client = Client::default().await;
    client.sandbox.set_faults(Faults {
        latency: Duration::from_millis(600),
        ..Faults::default()
    });
    let impatient = client
        .http
        .post(client.sandbox.graphql_url())
        .bearer_auth(MASTER)
        .timeout(Duration::from_millis(100))
        .json(&json!({
            "query": "mutation { createExternalUser(input: {externalUserId: \"gone\", name: \"G\"}) { userId } }"
        }))
        .send()
        .await;
    assert!(impatient.is_err_and(|err| err.is_timeout()));
    tokio::time::sleep(Duration::from_millis(900)).await;
    client.sandbox.set_faults(Faults::default());
    assert_eq!(
        client.users_named("gone").await.as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn data_survives_a_restart_with_the_same_database() {
    let db = std::env::temp_dir().join(format!("tray-sandbox-{}.db", uuid::Uuid::new_v4()));
    let config = SandboxConfig {
        db: Some(db.clone()),
        ..SandboxConfig::default()
    };
    let client = Client::start(config.clone()).await;
    let user = client.create_user("alice").await;
    let token = client.user_token(&user).await;
    let instance = client
        .create_instance(&token, SLACK_SOLUTION, "Durable")
        .await;
    client.sandbox.stop().await;

    let client = Client::start(config).await;
    let data = client
        .ok(
            &token,
            "{ viewer { solutionInstances { edges { node { id name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["viewer"]["solutionInstances"]["edges"][0]["node"]["id"],
        instance["id"]
    );
    let message = client.error(MASTER, "mutation { createExternalUser(input: {externalUserId: \"alice\", name: \"A\"}) { userId } }", json!({})).await;
    assert!(message.contains("already exists"));
    client.sandbox.stop().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

#[tokio::test]
async fn user_authentications_can_be_created_listed_used_and_removed() {
    let client = Client::default().await;
    let user = client.create_user("alice").await;
    let token = client.user_token(&user).await;
    let create = "mutation($input: CreateUserAuthenticationInput!) { createUserAuthentication(input: $input) { authenticationId } }";
    let message = client
        .error(&token, create, json!({"input": {"name": "S", "serviceId": "stripe", "serviceEnvironmentId": "prod", "data": "{}"}}))
        .await;
    assert!(message.contains("use stripe-production"), "{message}");
    let message = client
        .error(&token, create, json!({"input": {"name": "S", "serviceId": "stripe", "serviceEnvironmentId": "stripe-production", "data": "nope"}}))
        .await;
    assert!(message.contains("not valid JSON"), "{message}");
    let created = client
        .ok(&token, create, json!({"input": {"name": "Stripe live", "serviceId": "stripe", "serviceEnvironmentId": "stripe-production", "data": "{\"api_key\":\"sk\"}"}}))
        .await;
    let auth = created["createUserAuthentication"]["authenticationId"]
        .as_str()
        .expect("id")
        .to_owned();

    let listed = client.ok(&token, "{ viewer { authentications { edges { node { id name service { id title icon } serviceEnvironment { id title } } } } } }", json!({})).await;
    let node = &listed["viewer"]["authentications"]["edges"][0]["node"];
    assert_eq!(node["id"], auth.as_str());
    assert_eq!(node["service"]["title"], "Stripe");
    assert_eq!(node["serviceEnvironment"]["id"], "stripe-production");

    let called = client
        .ok(&token, "mutation($a: String) { callConnector(input: {connector: \"http-client\", version: \"1.0\", operation: \"get\", authId: $a, input: \"{\\\"url\\\":\\\"x\\\"}\"}) { output } }", json!({"a": auth}))
        .await;
    let output: Value =
        serde_json::from_str(called["callConnector"]["output"].as_str().expect("output"))
            .expect("JSON output");
    assert_eq!(output["echo"], json!({"url": "x"}));

    let other = client.create_user("bob").await;
    let other_token = client.user_token(&other).await;
    let message = client.error(&other_token, "mutation($a: ID!) { removeAuthentication(input: {authenticationId: $a}) { clientMutationId } }", json!({"a": auth})).await;
    assert_eq!(message, format!("Authentication {auth} not found"));
    client.ok(&token, "mutation($a: ID!) { removeAuthentication(input: {authenticationId: $a}) { clientMutationId } }", json!({"a": auth})).await;
    let listed = client
        .ok(
            &token,
            "{ viewer { authentications { edges { node { id } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["viewer"]["authentications"]["edges"], json!([]));
}

#[tokio::test]
async fn an_auth_of_the_wrong_service_cannot_fill_a_slot() {
    let client = Client::default().await;
    let user = client.create_user("alice").await;
    let token = client.user_token(&user).await;
    let created = client
        .ok(&token, "mutation { createUserAuthentication(input: {name: \"S\", serviceId: \"stripe\", serviceEnvironmentId: \"stripe-production\", data: \"{}\"}) { authenticationId } }", json!({}))
        .await;
    let auth = created["createUserAuthentication"]["authenticationId"]
        .as_str()
        .expect("id");
    let instance = client.create_instance(&token, SLACK_SOLUTION, "x").await;
    let message = client
        .error(&token, UPDATE, json!({"input": {"solutionInstanceId": instance["id"], "authValues": [{"externalId": SLACK_SLOT, "authId": auth}]}}))
        .await;
    assert!(message.contains("needs slack"), "{message}");
}

#[tokio::test]
async fn the_rate_limit_is_shared_by_every_token_of_the_organisation() {
    let client = Client::start(SandboxConfig {
        rate_limit: RateLimit {
            per_second: 0,
            burst: 2,
        },
        ..SandboxConfig::default()
    })
    .await;
    // Setup runs in-process, outside the limit.
    let created = client
        .sandbox
        .execute(MASTER, "mutation { createExternalUser(input: {externalUserId: \"a\", name: \"A\"}) { userId } }", json!({}))
        .await;
    let user = created["data"]["createExternalUser"]["userId"]
        .as_str()
        .expect("user")
        .to_owned();
    let authorized = client
        .sandbox
        .execute(
            MASTER,
            "mutation($u: ID!) { authorize(input: {userId: $u}) { accessToken } }",
            json!({"u": user}),
        )
        .await;
    let token = authorized["data"]["authorize"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();

    let query = "{ viewer { details { name } } }";
    assert_eq!(client.post(Some(MASTER), query, json!({})).await.0, 200);
    assert_eq!(client.post(Some(&token), query, json!({})).await.0, 200);
    assert_eq!(
        client.post(Some(&token), query, json!({})).await.0,
        429,
        "the user's token shares the master's budget"
    );
}
