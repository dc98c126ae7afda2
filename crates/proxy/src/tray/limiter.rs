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

    async fn acquire_local(&self, bucket: &Mutex<LocalBucket>) {
        loop {
            let wait = {
                let mut bucket = bucket.lock().await;
                let now = Instant::now();
                let earned = now.duration_since(bucket.refilled).as_secs_f64() * self.per_second;
                bucket.tokens = (bucket.tokens + earned).min(self.burst);
                bucket.refilled = now;
                if bucket.tokens >= 1.0 {
                    bucket.tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - bucket.tokens) / self.per_second)
            };
            tokio::time::sleep(wait).await;
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
}
