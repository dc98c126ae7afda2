//! 200 users connect, rename and delete at once through the proxy's HTTP API while the
//! sandbox fails a fifth of Tray requests, loses the answer of one in twenty it carried
//! out, and answers slowly. Afterwards Tray's own
//! records must match what every user was told, and Tray's rate limit must never have
//! been reached.

use proof::{unique_user, Stack, TrayView, User, GITHUB_ASANA, STRIPE, STRIPE_SLOT};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::{collections::HashSet, time::Duration};
use tray_sandbox::Faults;

const USERS: usize = 200;

/// What the API told one user, to compare with Tray afterwards.
struct Told {
    user: User,
    kept_id: String,
    kept_name: String,
    auth_id: String,
    deleted_id: String,
}

/// The widget's journey: connect Stripe (create, authorize, attach), rename it; create a
/// GitHub to Asana connection and delete it again. Every step retries as the widget's
/// "Try again" does, the create with the same idempotency key.
async fn journey(user: User) -> Told {
    // A double click: the same create twice at once, as a retry racing the original.
    let (first, second) = tokio::join!(
        user.create(STRIPE, "stripe-click"),
        user.create(STRIPE, "stripe-click")
    );
    for (status, kept) in [&first, &second] {
        assert_eq!(*status, StatusCode::CREATED, "{} create: {kept}", user.id);
    }
    assert_eq!(
        first.1["id"], second.1["id"],
        "{}: one click, two instances",
        user.id
    );
    let kept_id = first.1["id"].as_str().expect("id").to_owned();

    let auth_id = user.authorize(&kept_id, STRIPE_SLOT).await;
    let (status, attached) = user.attach(&kept_id, STRIPE_SLOT, &auth_id).await;
    assert_eq!(status, StatusCode::OK, "{} attach: {attached}", user.id);

    let kept_name = format!("Billing of {}", user.id);
    let (status, renamed) = user
        .call_retrying(
            Method::PATCH,
            &format!("/instances/{kept_id}"),
            Some(json!({ "name": kept_name })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{} rename: {renamed}", user.id);
    assert_eq!(renamed["name"], kept_name.as_str());

    let (status, other) = user.create(GITHUB_ASANA, "github-click").await;
    assert_eq!(status, StatusCode::CREATED, "{} create: {other}", user.id);
    let deleted_id = other["id"].as_str().expect("id").to_owned();
    let (status, answer) = user
        .call_retrying(Method::DELETE, &format!("/instances/{deleted_id}"), None)
        .await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "{} delete: {answer}",
        user.id
    );

    Told {
        user,
        kept_id,
        kept_name,
        auth_id,
        deleted_id,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_users_at_once_through_tray_failures_lose_and_duplicate_nothing() {
    let stack = Stack::start("sqlite::memory:").await;
    stack.sandbox.set_faults(Faults {
        failure_rate: 0.2,
        lost_answer_rate: 0.05,
        latency: Duration::from_millis(40),
        ..Faults::default()
    });

    let journeys: Vec<_> = (0..USERS)
        .map(|n| tokio::spawn(journey(stack.user(&unique_user(&format!("load{n}"))))))
        .collect();
    let mut told = Vec::with_capacity(USERS);
    for journey in journeys {
        told.push(journey.await.expect("a user's journey panicked"));
    }
    stack.sandbox.set_faults(Faults::default());
    let stats = stack.sandbox.stats();
    assert!(
        stats.injected_failures > 0 && stats.lost_answers > 0,
        "the faults were not injected: {stats:?}"
    );

    let tray = TrayView {
        sandbox: &stack.sandbox,
    };
    let everything = tray.instances().await;
    for told in &told {
        let owners = tray.users_for(&told.user.id).await;
        assert_eq!(owners.len(), 1, "{}: Tray users {owners:?}", told.user.id);
        let held: Vec<_> = everything
            .iter()
            .filter(|instance| instance.owner == owners[0])
            .collect();
        // Exactly the kept one: a duplicate create or an undone delete would show here.
        assert_eq!(held.len(), 1, "{}: Tray holds {held:?}", told.user.id);
        let instance = held[0];
        assert_eq!(instance.id, told.kept_id, "{}", told.user.id);
        assert_ne!(instance.id, told.deleted_id);
        assert_eq!(instance.name, told.kept_name);
        assert_eq!(
            instance.auths,
            vec![(STRIPE_SLOT.to_owned(), told.auth_id.clone())],
            "{}: the attached auth is missing",
            told.user.id
        );

        // The user's own view: their instance and nobody else's.
        let listed = told.user.listed_instance_ids().await;
        assert_eq!(listed, vec![told.kept_id.clone()], "{}", told.user.id);
    }
    let kept: HashSet<&str> = told.iter().map(|t| t.kept_id.as_str()).collect();
    assert_eq!(kept.len(), USERS, "two users were told the same instance");
    assert_eq!(everything.len(), USERS, "instances nobody was told about");

    let stats = stack.sandbox.stats();
    assert_eq!(stats.rate_limited, 0, "Tray refused requests: {stats:?}");
    // Tray's bucket (30/s, bursts to 50) admits at most 80 within any one second.
    assert!(
        stats.peak_requests_per_second <= 30 + 50,
        "above Tray's limit: {stats:?}"
    );
    eprintln!("load: {USERS} users, sandbox {stats:?}");
    stack.stop().await;
}
