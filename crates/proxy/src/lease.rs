//! A claim on an idempotency key, held for as long as its request works on it.
//!
//! A claim is taken over once it looks abandoned. Age alone cannot tell a crashed
//! holder from a slow one (under load a create waits its turn in Tray's rate limit for
//! tens of seconds), and taking over a live claim creates the instance twice. So the
//! holder renews its stamp in the background, and every later write is conditional on
//! the stamp it holds: a holder that lost its claim cannot free it under the new one.

use std::{sync::Arc, time::Duration};
use tokio::{sync::Mutex, task::JoinHandle};

use crate::{db::Db, error::ProxyError};

pub struct Lease {
    db: Db,
    owner: String,
    key: String,
    /// The stamp the claim carries while it is ours, locked while it is being moved;
    /// `None` once settled, so a renewer that got the lock late leaves it alone.
    stamp: Arc<Mutex<Option<i64>>>,
    renewer: JoinHandle<()>,
}

impl Lease {
    /// Hold the claim `stamp` on `key`, renewing it every `every`.
    pub fn hold(db: &Db, owner: &str, key: &str, stamp: i64, every: Duration) -> Lease {
        let stamp = Arc::new(Mutex::new(Some(stamp)));
        let renewer = tokio::spawn(renew(
            db.clone(),
            owner.to_owned(),
            key.to_owned(),
            stamp.clone(),
            every,
        ));
        Lease {
            db: db.clone(),
            owner: owner.to_owned(),
            key: key.to_owned(),
            stamp,
            renewer,
        }
    }

    /// Free the key: nothing was created under it.
    pub async fn release(self) -> Result<(), ProxyError> {
        let stamp = self.stop_renewing().await;
        self.db
            .release_creation(&self.owner, &self.key, stamp)
            .await
    }

    /// Leave the key for the next request to take over at once: whether Tray created the
    /// instance is unknown, and the taker looks before it creates.
    pub async fn expire(self) -> Result<(), ProxyError> {
        let stamp = self.stop_renewing().await;
        self.db.expire_claim(&self.owner, &self.key, stamp).await
    }

    /// Stops renewing and leaves the claim held: it goes stale, and is taken over, a
    /// whole stale time from now.
    pub async fn abandon(self) {
        let stamp = self.stop_renewing().await;
        // Stamped now, so that it goes stale a whole stale time from here, not from
        // its last renewal.
        if let Err(err) = self.db.restamp_claim(&self.owner, &self.key, stamp).await {
            tracing::warn!(error = %err, "an abandoned claim was not stamped");
        }
    }

    /// The stamp held now. Taken under the lock, after any renewal under way, so the
    /// renewer is never cut off halfway through moving it, and never moves it again.
    async fn stop_renewing(&self) -> i64 {
        let settled = self.stamp.lock().await.take();
        self.renewer.abort();
        // Only `release` and `expire` take it, and each consumes the lease.
        settled.unwrap_or_default()
    }
}

impl Drop for Lease {
    /// Finished (the key records its instance) or dropped on an error path: either way
    /// nothing is left to renew.
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

async fn renew(
    db: Db,
    owner: String,
    key: String,
    stamp: Arc<Mutex<Option<i64>>>,
    every: Duration,
) {
    loop {
        tokio::time::sleep(every).await;
        let mut held = stamp.lock().await;
        let Some(current) = *held else { return };
        match db.restamp_claim(&owner, &key, current).await {
            Ok(Some(renewed)) => *held = Some(renewed),
            // Recorded, or lost to a takeover: nothing left to keep alive.
            Ok(None) => return,
            // A missed renewal is caught up by the next; the claim is stale only after
            // several.
            Err(err) => tracing::warn!(error = %err, "an idempotency claim was not renewed"),
        }
    }
}
