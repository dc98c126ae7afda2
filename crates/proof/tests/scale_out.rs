//! Two proxy replicas on one Postgres database, serving the same users at once: one Tray
//! user per host user, one instance per idempotency key, and Tray's rate limit (30/s,
//! bursts to 50, per organisation) respected by both together.
//!
//! Needs `PROXY_TEST_POSTGRES_URL` (set by `cargo xtask test`); skips without it.

use marketplace_proxy::Proxy;
use proof::{postgres_url, proxy_config, unique_user, TrayView, User, STRIPE};
use reqwest::{Method, StatusCode};
use std::time::Instant;
use tray_sandbox::{Sandbox, SandboxConfig, Stats};

const USERS: usize = 40;
/// Page loads sent at both replicas together while measuring the rate.
const HAMMER_REQUESTS: usize = 400;
const HAMMER_CONCURRENCY: usize = 64;

/// Tray's limit, as the sandbox enforces it by default.
const TRAY_PER_SECOND: f64 = 30.0;
const TRAY_BURST: f64 = 50.0;

/// Requests that arrived at Tray, refused or not.
fn arrivals(stats: &Stats) -> u64 {
    stats.requests_served + stats.rate_limited + stats.injected_failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_users_idempotency_keys_and_the_tray_rate_limit() {
    let Some(database_url) = postgres_url() else {
        return;
    };
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts");
    // Started together: they migrate the same database at the same moment.
    let (a, b) = tokio::join!(
        Proxy::start(proxy_config(&sandbox, &database_url)),
        Proxy::start(proxy_config(&sandbox, &database_url))
    );
    let (a, b) = (a.expect("replica a starts"), b.expect("replica b starts"));
    let users: Vec<(User, User)> = (0..USERS)
        .map(|n| {
            let user = User::new(&a.url(), &unique_user(&format!("replicas{n}")));
            let twin = user.on(&b.url());
            (user, twin)
        })
        .collect();

    // Every user's first visit lands on both replicas at once.
    let visits: Vec<_> = users
        .iter()
        .cloned()
        .map(|(on_a, on_b)| {
            tokio::spawn(async move {
                let (first, second) = tokio::join!(on_a.catalog(), on_b.catalog());
                assert_eq!(first.0, StatusCode::OK, "{}: {}", on_a.id, first.1);
                assert_eq!(second.0, StatusCode::OK, "{}: {}", on_a.id, second.1);
            })
        })
        .collect();
    for visit in visits {
        visit.await.expect("a first visit failed");
    }
    let tray = TrayView { sandbox: &sandbox };
    for (user, _) in &users {
        let tray_users = tray.users_for(&user.id).await;
        assert_eq!(
            tray_users.len(),
            1,
            "{}: Tray users {tray_users:?}",
            user.id
        );
    }

    // The same click reaches both replicas (a retry through the load balancer).
    let creates: Vec<_> = users
        .iter()
        .cloned()
        .map(|(on_a, on_b)| {
            tokio::spawn(async move {
                let (first, second) = tokio::join!(
                    on_a.create(STRIPE, "one-click"),
                    on_b.create(STRIPE, "one-click")
                );
                assert_eq!(first.0, StatusCode::CREATED, "{}: {}", on_a.id, first.1);
                assert_eq!(second.0, StatusCode::CREATED, "{}: {}", on_a.id, second.1);
                assert_eq!(first.1["id"], second.1["id"], "{}: two instances", on_a.id);
                first.1["id"].as_str().expect("id").to_owned()
            })
        })
        .collect();
    let mut instance_ids = Vec::new();
    for create in creates {
        instance_ids.push(create.await.expect("a create failed"));
    }
    for ((user, _), id) in users.iter().zip(&instance_ids) {
        let held = tray.instances_of(&user.id).await;
        assert_eq!(held.len(), 1, "{}: Tray holds {held:?}", user.id);
        assert_eq!(&held[0].id, id);
    }

    // Both replicas hammered at once: together they must stay within Tray's bucket.
    let before = sandbox.stats();
    let started = Instant::now();
    let (sender, receiver) = tokio::sync::mpsc::channel::<usize>(HAMMER_REQUESTS);
    for n in 0..HAMMER_REQUESTS {
        sender.send(n).await.expect("queue");
    }
    drop(sender);
    let queue = std::sync::Arc::new(tokio::sync::Mutex::new(receiver));
    let workers: Vec<_> = (0..HAMMER_CONCURRENCY)
        .map(|_| {
            let queue = queue.clone();
            let users = users.clone();
            let ids = instance_ids.clone();
            tokio::spawn(async move {
                loop {
                    let Some(n) = queue.lock().await.recv().await else {
                        return;
                    };
                    let (on_a, on_b) = &users[n % USERS];
                    let user = if n % 2 == 0 { on_a } else { on_b };
                    let path = format!("/instances/{}", ids[n % USERS]);
                    let (status, body) = user.call_retrying(Method::GET, &path, None).await;
                    assert_eq!(status, StatusCode::OK, "{}: {body}", user.id);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a page load failed");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = sandbox.stats();
    let sent = arrivals(&after) - arrivals(&before);
    eprintln!("scale-out: {sent} Tray requests in {elapsed:.1} s from two replicas; {after:?}");
    assert!(
        sent >= HAMMER_REQUESTS as u64,
        "the page loads did not reach Tray"
    );
    assert_eq!(after.rate_limited, 0, "Tray refused requests: {after:?}");
    // Tray's bucket admits its burst plus 30/s: no more may have been sent.
    assert!(
        sent as f64 <= TRAY_BURST + TRAY_PER_SECOND * elapsed,
        "{sent} requests in {elapsed:.1} s is above Tray's limit"
    );
    // Within any one second, at most a full bucket plus a second's refill.
    assert!(
        after.peak_requests_per_second as f64 <= TRAY_BURST + TRAY_PER_SECOND,
        "{after:?}"
    );
    assert_eq!(after.early_enables, 0);

    a.stop().await;
    b.stop().await;
    sandbox.stop().await;
}
