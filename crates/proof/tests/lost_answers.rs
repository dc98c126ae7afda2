//! Tray did the work but the proxy never learnt it (it died, or the answer was lost):
//! the user's retry must neither repeat the work nor fail on it.
//!
//! A proxy that died between Tray creating an instance and recording it leaves an
//! idempotency claim nobody finishes. The retry that takes the claim over must adopt
//! the instance Tray already made, not create a second one.
//!
//! (The end-to-end kill of the real binary halfway through a connect is
//! `crates/proxy/tests/crash.rs`; this test reproduces the one moment a SIGKILL cannot be
//! timed to hit: after Tray answered, before the database write.)

use marketplace_proxy::db::{Claim, Db};
use proof::{unique_user, Stack, TrayView, STRIPE};
use reqwest::StatusCode;
use serde_json::json;
use tray_sandbox::Faults;

#[tokio::test]
async fn a_create_abandoned_after_tray_made_the_instance_is_adopted_not_repeated() {
    let dir = std::env::temp_dir().join(format!("proof-abandoned-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let database_url = format!("sqlite://{}?mode=rwc", dir.join("proxy.db").display());
    let stack = Stack::start(&database_url).await;
    let user = stack.user(&unique_user("abandoned"));
    let (status, _) = user.catalog().await;
    assert_eq!(status, StatusCode::OK);

    // The dead proxy's footprint: its claim on the key (left unfinished long ago) ...
    let db = Db::connect(&database_url)
        .await
        .expect("opens the proxy's database");
    let Claim::Won(stamp) = db
        .claim_creation(&user.id, "the-click", 60_000)
        .await
        .expect("claims")
    else {
        panic!("the key was claimed already");
    };
    db.expire_claim(&user.id, "the-click", stamp)
        .await
        .expect("ages the claim");
    // ... and the instance Tray made for it, which the proxy never recorded.
    let tray = TrayView {
        sandbox: &stack.sandbox,
    };
    let user_token = &tray.user_token_for(&user.id).await;
    let made = stack
        .sandbox
        .execute(
            user_token,
            "mutation($s: ID!) { createSolutionInstance(input: { solutionId: $s, instanceName: \"Stripe payments\" }) { solutionInstance { id } } }",
            json!({ "s": STRIPE }),
        )
        .await;
    let made_id = made["data"]["createSolutionInstance"]["solutionInstance"]["id"]
        .as_str()
        .expect("made by the dead proxy")
        .to_owned();

    // The widget retries the click with its key.
    let (status, created) = user.create(STRIPE, "the-click").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["id"],
        made_id.as_str(),
        "a second instance was made"
    );
    let held = tray.instances_of(&user.id).await;
    assert_eq!(held.len(), 1, "{held:?}");
    // And the key now stands for that instance.
    let (status, again) = user.create(STRIPE, "the-click").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again["id"], made_id.as_str());
    assert_eq!(user.listed_instance_ids().await, vec![made_id]);

    stack.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Tray made the instance but its answer was lost, and so was the answer of the list
/// that looks for it: nobody can tell whether it exists. The user's retry must find
/// it, not create a second one, even after a catalog load recorded it.
#[tokio::test]
async fn a_create_whose_outcome_tray_lost_is_found_by_the_retry_not_repeated() {
    let stack = Stack::start("sqlite::memory:").await;
    let user = stack.user(&unique_user("lost-create"));
    let (status, _) = user.catalog().await;
    assert_eq!(status, StatusCode::OK);
    let tray = TrayView {
        sandbox: &stack.sandbox,
    };

    stack.sandbox.set_faults(Faults {
        lost_answer_rate: 1.0,
        ..Faults::default()
    });
    let click = json!({ "solutionId": STRIPE, "idempotencyKey": "the-click" });
    let (status, answer) = user
        .call(reqwest::Method::POST, "/instances", Some(click))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    stack.sandbox.set_faults(Faults::default());
    let made = tray.instances_of(&user.id).await;
    assert_eq!(made.len(), 1, "Tray carried out the create: {made:?}");
    // Another tab lists the user's instances meanwhile: the proxy records the one it
    // did not know, which must not hide it from the retry.
    assert_eq!(user.listed_instance_ids().await, vec![made[0].id.clone()]);

    let (status, created) = user.create(STRIPE, "the-click").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["id"],
        made[0].id.as_str(),
        "a second instance was made"
    );
    assert_eq!(tray.instances_of(&user.id).await.len(), 1);
    assert_eq!(user.listed_instance_ids().await, vec![made[0].id.clone()]);
    stack.stop().await;
}

/// A delete Tray carried out but whose answer never reached the proxy (a timeout, a
/// crash): the user's retry must succeed, not fail because Tray no longer knows the id.
#[tokio::test]
async fn a_delete_retried_after_its_answer_was_lost_succeeds() {
    let stack = Stack::start("sqlite::memory:").await;
    let user = stack.user(&unique_user("lost-delete"));
    let (status, created) = user.create(STRIPE, "click").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let tray = TrayView {
        sandbox: &stack.sandbox,
    };
    let user_token = &tray.user_token_for(&user.id).await;
    // The first try's effect at Tray; its answer is what got lost.
    let removed = stack
        .sandbox
        .execute(
            user_token,
            "mutation($i: ID!) { removeSolutionInstance(input: { solutionInstanceId: $i }) { clientMutationId } }",
            json!({ "i": id }),
        )
        .await;
    assert!(removed["errors"].is_null(), "{removed}");

    let (status, answer) = user
        .call_retrying(reqwest::Method::DELETE, &format!("/instances/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    assert!(user.listed_instance_ids().await.is_empty());
    // Now it is gone for the proxy too.
    let (status, _) = user
        .call(reqwest::Method::GET, &format!("/instances/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    stack.stop().await;
}
