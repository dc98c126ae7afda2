//! Idempotency claims: a slow holder keeps its key however long Tray makes it wait, and
//! a holder whose key was taken over (after it stalled) cannot free it under the new
//! holder. Either mistake lets one click create two instances.

use marketplace_proxy::{
    db::{Claim, CreationRequest, Db},
    lease::Lease,
};
use std::time::Duration;

async fn database() -> Db {
    Db::connect("sqlite::memory:")
        .await
        .expect("opens a database")
}

async fn won(db: &Db, key: &str) -> i64 {
    match db.claim_creation("ana", key, 60_000).await.expect("claims") {
        Claim::Won(stamp) => stamp,
        _ => panic!("{key} was claimed already"),
    }
}

#[tokio::test]
async fn a_live_holder_keeps_its_key_past_the_stale_time() {
    let db = database().await;
    let stamp = won(&db, "click").await;
    let lease = Lease::hold(&db, "ana", "click", stamp, Duration::from_millis(50));

    // Well past the stale time the second request uses: only renewals keep the key.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(
        matches!(
            db.claim_creation("ana", "click", 1_000)
                .await
                .expect("claims"),
            Claim::InFlight
        ),
        "a live create was taken over"
    );

    lease.release().await.expect("releases");
    assert!(matches!(
        db.claim_creation("ana", "click", 1_000)
            .await
            .expect("claims"),
        Claim::Won(_)
    ));
}

#[tokio::test]
async fn a_holder_that_lost_its_key_cannot_free_it_under_the_next() {
    let db = database().await;
    let stamp = won(&db, "click").await;
    // Renewals stalled (a frozen process): the claim goes stale and is taken over.
    let stalled = Lease::hold(&db, "ana", "click", stamp, Duration::from_secs(3_600));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let Claim::TakenOver(_) = db.claim_creation("ana", "click", 10).await.expect("claims") else {
        panic!("the stale claim was not taken over");
    };

    // The stalled holder wakes up and fails: its release must not touch the new hold.
    stalled.release().await.expect("releases");
    assert!(
        matches!(
            db.claim_creation("ana", "click", 60_000)
                .await
                .expect("claims"),
            Claim::InFlight
        ),
        "the key was freed under its new holder"
    );
}

#[tokio::test]
async fn an_expired_claim_is_taken_over_at_once_and_only_once() {
    let db = database().await;
    let stamp = won(&db, "click").await;
    Lease::hold(&db, "ana", "click", stamp, Duration::from_secs(3_600))
        .expire()
        .await
        .expect("expires");

    let first = db
        .claim_creation("ana", "click", 60_000)
        .await
        .expect("claims");
    let second = db
        .claim_creation("ana", "click", 60_000)
        .await
        .expect("claims");
    assert!(
        matches!(first, Claim::TakenOver(_)),
        "not taken over at once"
    );
    assert!(matches!(second, Claim::InFlight), "taken over twice");
}

fn asking(name: &str) -> CreationRequest {
    CreationRequest {
        solution_id: "stripe".into(),
        name: Some(name.into()),
    }
}

/// What a key's create asked for: a taken-over claim an earlier version left unbound is
/// bound by its taker, never re-bound by it; a key freed by a create that made nothing
/// forgets its request, and its next holder notes its own; a late release by a holder
/// the key has moved on from leaves the next one's request alone.
#[tokio::test]
async fn a_keys_request_is_bound_once_and_freed_with_its_key() {
    let db = database().await;
    // An earlier version's claim: no request noted.
    let stamp = won(&db, "click").await;
    db.note_request("ana", "click", &asking("Payments"), false)
        .await
        .expect("notes");
    db.note_request("ana", "click", &asking("Refunds"), false)
        .await
        .expect("notes");
    let bound = db.creation_request("ana", "click").await.expect("reads");
    assert_eq!(bound, Some(asking("Payments")), "bound once");

    db.release_creation("ana", "click", stamp)
        .await
        .expect("releases");
    assert_eq!(
        db.creation_request("ana", "click").await.expect("reads"),
        None
    );

    let next = won(&db, "click").await;
    db.note_creation_start("ana", "click", next, &asking("Payouts"))
        .await
        .expect("notes");
    db.release_creation("ana", "click", stamp)
        .await
        .expect("a stale release is harmless");
    assert_eq!(
        db.creation_request("ana", "click").await.expect("reads"),
        Some(asking("Payouts"))
    );
}

/// Two creates looking for their lost answers may find one instance: it is made for one
/// key only, the one that bound it first, which may bind it again (its own retry). On
/// Postgres too (`PROXY_TEST_POSTGRES_URL`), where the two binds race for real.
#[tokio::test]
async fn an_instance_is_bound_to_one_key() {
    let mut urls = vec!["sqlite::memory:".to_owned()];
    urls.extend(std::env::var("PROXY_TEST_POSTGRES_URL").ok());
    for url in urls {
        let db = Db::connect(&url).await.expect("opens a database");
        let instance = format!("i-{}", uuid::Uuid::new_v4());
        let ana = format!("ana-{instance}");
        let (one, two) = tokio::join!(
            db.bind_instance_key(&ana, "tab-1", &instance),
            db.bind_instance_key(&ana, "tab-2", &instance)
        );
        let (one, two) = (one.expect("binds"), two.expect("binds"));
        assert!(one != two, "{url}: bound to both keys, or to neither");
        let holder = if one { "tab-1" } else { "tab-2" };
        assert!(db
            .bind_instance_key(&ana, holder, &instance)
            .await
            .expect("binds"));
        assert!(!db
            .bind_instance_key("bo", holder, &instance)
            .await
            .expect("binds"));
        assert_eq!(
            db.instance_bound_to(&ana, holder).await.expect("reads"),
            Some(instance.clone())
        );
        db.forget_instance(&instance).await.expect("forgets");
        assert_eq!(
            db.instance_bound_to(&ana, holder).await.expect("reads"),
            None
        );
    }
}

/// Keys no request has sent for a day are forgotten with what their creates noted, so
/// the tables stop growing with every create. A key sent again since, a claim held, and
/// a claim an earlier version left (no use noted: it counts as used when first seen)
/// stay. On Postgres too (`PROXY_TEST_POSTGRES_URL`).
#[tokio::test]
async fn keys_unused_for_a_day_are_forgotten_and_others_kept() {
    let mut urls = vec!["sqlite::memory:".to_owned()];
    urls.extend(std::env::var("PROXY_TEST_POSTGRES_URL").ok());
    for url in urls {
        let db = Db::connect(&url).await.expect("opens a database");
        let ana = format!("ana-{}", uuid::Uuid::new_v4());
        // A request sending `key`, as the proxy's create does.
        let send = |key: &'static str| {
            let (db, ana) = (db.clone(), ana.clone());
            async move {
                db.note_key_use(&ana, key).await.expect("notes");
                db.claim_creation(&ana, key, 60_000).await.expect("claims")
            }
        };
        let started = |key: &'static str, stamp: i64| {
            let (db, ana) = (db.clone(), ana.clone());
            async move {
                db.note_creation_start(&ana, key, stamp, &asking(key))
                    .await
                    .expect("notes");
            }
        };
        // Before the cutoff: a create that made its instance (its answer once lost),
        // two that went unanswered and were left to expire, and an earlier version's.
        let Claim::Won(done) = send("done").await else {
            panic!("claimed")
        };
        started("done", done).await;
        db.note_unanswered(&ana, "done").await.expect("notes");
        db.record_instance(&ana, "done", &stored("i-done"))
            .await
            .expect("records");
        for key in ["lost", "resent"] {
            let Claim::Won(stamp) = send(key).await else {
                panic!("claimed")
            };
            started(key, stamp).await;
            db.expire_claim(&ana, key, stamp).await.expect("expires");
        }
        for key in ["legacy", "legacy-untouched"] {
            let Claim::Won(stamp) = db.claim_creation(&ana, key, 60_000).await.expect("claims")
            else {
                panic!("claimed")
            };
            db.expire_claim(&ana, key, stamp).await.expect("expires");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let cutoff = marketplace_proxy::db::now_ms();
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Since: "resent" sent again (noted; it is taken over below), a claim held.
        db.note_key_use(&ana, "resent").await.expect("notes");
        let Claim::Won(_) = send("live").await else {
            panic!("claimed")
        };

        let forgotten = db.forget_keys_used_before(cutoff).await.expect("forgets");

        // Postgres is shared with other tests' keys.
        if !db.is_postgres() {
            assert_eq!(forgotten, 2, "{url}");
        }
        for key in ["done", "lost"] {
            assert_eq!(
                db.creation_start(&ana, key).await.expect("reads"),
                None,
                "{url}"
            );
            assert_eq!(
                db.creation_request(&ana, key).await.expect("reads"),
                None,
                "{url}"
            );
            assert!(
                matches!(send(key).await, Claim::Won(_)),
                "{url}: {key} kept"
            );
        }
        assert_eq!(
            db.unanswered_age_ms(&ana, "done").await.expect("reads"),
            None,
            "{url}"
        );
        assert!(
            matches!(send("live").await, Claim::InFlight),
            "{url}: a held claim forgotten"
        );
        for key in ["resent", "legacy"] {
            assert!(
                matches!(send(key).await, Claim::TakenOver(_)),
                "{url}: {key}'s unknown outcome forgotten"
            );
        }
        assert_eq!(
            db.creation_request(&ana, "resent").await.expect("reads"),
            Some(asking("resent")),
            "{url}"
        );
        // An earlier version's key goes a day after it was first seen, like any other.
        let later = marketplace_proxy::db::now_ms() + 1_000;
        db.forget_keys_used_before(later).await.expect("forgets");
        assert!(
            matches!(send("legacy-untouched").await, Claim::Won(_)),
            "{url}: an earlier version's key is never forgotten"
        );
    }
}

fn stored(id: &str) -> marketplace_proxy::db::StoredInstance {
    marketplace_proxy::db::StoredInstance {
        id: id.into(),
        owner: String::new(),
        solution_id: "stripe".into(),
        created_at: 0,
        ever_enabled: false,
        config_unconfirmed: false,
    }
}
