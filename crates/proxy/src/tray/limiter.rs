//! An organisation-wide token bucket, so the proxy stays under Tray's limit
//! (30 requests/s, bursts to 50) instead of hitting it and retrying.
//!
//! On SQLite (one process) the bucket lives in memory. On Postgres, where several
//! replicas serve one organisation, it is one row every replica reserves from with a
//! single `UPDATE ... RETURNING` (see [`Db::reserve_tray_request`]), so the limit holds
//! across all of them rather than per process.

use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::{db::Db, error::ProxyError};

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    bucket: Bucket,
}

enum Bucket {
    /// This process is the only one talking to Tray.
    Local(Mutex<LocalBucket>),
    /// Replicas share the bucket row in the database.
    Shared(Db),
}

struct LocalBucket {
    tokens: f64,
    refilled: Instant,
}

impl RateLimiter {
    /// A bucket in this process's memory (single replica).
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            bucket: Bucket::Local(Mutex::new(LocalBucket {
                tokens: f64::from(burst.max(1)),
                refilled: Instant::now(),
            })),
        }
    }

    /// One bucket for every replica on `db` (Postgres).
    pub fn shared(db: Db, per_second: u32, burst: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            bucket: Bucket::Shared(db),
        }
    }

    /// Wait until one request may be sent.
    pub async fn acquire(&self) -> Result<(), ProxyError> {
        match &self.bucket {
            Bucket::Local(bucket) => {
                self.acquire_local(bucket).await;
                Ok(())
            }
            Bucket::Shared(db) => {
                // The reservation is ours even while we wait: a negative balance is a
                // queue of replicas' requests, each sent when its token has been earned.
                let balance = db.reserve_tray_request(self.per_second, self.burst).await?;
                if balance < 0.0 {
                    tokio::time::sleep(Duration::from_secs_f64(-balance / self.per_second)).await;
                }
                Ok(())
            }
        }
    }

    /// Reserves the next token, as the shared bucket does: a negative balance is the
    /// queue in front of this request, so waiters go in arrival order, each sleeping
    /// until its own token is earned (a newcomer cannot take a token a waiter was owed).
    /// A request cancelled while it waits forfeits its token: the error is on the side
    /// of sending less.
    async fn acquire_local(&self, bucket: &Mutex<LocalBucket>) {
        let balance = {
            let mut bucket = bucket.lock().await;
            let now = Instant::now();
            let earned = now.duration_since(bucket.refilled).as_secs_f64() * self.per_second;
            bucket.tokens = (bucket.tokens + earned).min(self.burst) - 1.0;
            bucket.refilled = now;
            bucket.tokens
        };
        if balance < 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(-balance / self.per_second)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_lets_more_than_the_burst_plus_rate_through() {
        let limiter = RateLimiter::new(25, 40);
        let start = tokio::time::Instant::now();
        let mut sent = 0;
        while tokio::time::Instant::now().duration_since(start) < Duration::from_secs(1) {
            limiter.acquire().await.expect("local buckets cannot fail");
            sent += 1;
        }
        // A full bucket (40) plus one second of refill (25), never more.
        assert!(sent <= 40 + 25 + 1, "sent {sent}");
        assert!(sent >= 40, "sent {sent}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_request_is_not_overtaken_by_a_newcomer() {
        let limiter = std::sync::Arc::new(RateLimiter::new(10, 1));
        limiter.acquire().await.expect("the burst");
        let done = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let waiter = tokio::spawn({
            let (limiter, done) = (limiter.clone(), done.clone());
            async move {
                limiter.acquire().await.expect("local");
                done.lock().expect("lock").push("waiting since t=0");
            }
        });
        tokio::task::yield_now().await;
        // The waiter's token is due now; a newcomer arrives before the waiter runs again.
        tokio::time::advance(Duration::from_millis(100)).await;
        limiter.acquire().await.expect("local");
        done.lock().expect("lock").push("newcomer at t=0.1");
        waiter.await.expect("waiter");
        assert_eq!(
            *done.lock().expect("lock"),
            ["waiting since t=0", "newcomer at t=0.1"]
        );
    }
}
