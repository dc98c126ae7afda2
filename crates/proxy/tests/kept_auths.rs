//! A sign-in kept for later (Tray failing, or a new version awaited) is never lost to
//! another one saved for its slot at the same moment. With `PROXY_TEST_POSTGRES_URL`
//! set, this also runs on that Postgres database.

use marketplace_proxy::db::{AuthList, Db, PendingAuth};

fn database_urls() -> Vec<String> {
    let mut urls = vec!["sqlite::memory:".to_owned()];
    urls.extend(std::env::var("PROXY_TEST_POSTGRES_URL").ok());
    urls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn saves_for_one_slot_at_once_all_succeed_and_one_is_kept() {
    // Unique per run: a Postgres database outlives it.
    let instance_id = format!("instance-{}", marketplace_proxy::db::now_ms());
    for url in database_urls() {
        let db = Db::connect(&url).await.expect("opens a database");
        for list in [AuthList::Pending, AuthList::Upgrade].repeat(20) {
            let saves: Vec<_> = (0..8)
                .map(|n| {
                    let db = db.clone();
                    let auth = PendingAuth {
                        instance_id: instance_id.clone(),
                        slot: "slack".into(),
                        auth_id: format!("auth-{n}"),
                        owner: instance_id.clone(),
                    };
                    tokio::spawn(async move { db.save_auth(list, &auth).await })
                })
                .collect();
            for save in saves {
                save.await.expect("runs").expect("saved, not refused");
            }
            let kept = db.auths(list, Some(&instance_id)).await.expect("reads");
            assert_eq!(kept.len(), 1, "one auth per slot on {url}: {kept:?}");
            assert!(db.kept_auth(list, &kept[0]).await.expect("reads"));
        }
    }
}
