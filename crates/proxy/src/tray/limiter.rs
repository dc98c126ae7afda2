//! An organisation-wide token bucket, so the proxy stays under Tray's limit
//! (30 requests/s, bursts to 50) instead of hitting it and retrying.
//!
//! On SQLite (one process) the bucket lives in memory. On Postgres, where several
//! replicas serve one organisation, it is one row every replica reserves from with a
//! single statement on the row locked `FOR UPDATE` (see [`Db::reserve_tray_request`]),
//! so the limit holds across all of them rather than per process.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

use crate::{db::Db, error::ProxyError};

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    /// The longest a call queues for its turn (less when its request's time runs out
    /// sooner). Past it a call is refused at once (`rate_limited`) instead of queued:
    /// under a sustained overload a deeper queue only holds calls whose callers give up
    /// before their turn, and every later call then waits past its own caller's time too.
    max_wait: Duration,
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
    /// A bucket in this process's memory (single replica); a call waits at most
    /// `max_wait` for its turn.
    pub fn new(per_second: u32, burst: u32, max_wait: Duration) -> Self {
        Self::with_bucket(
            per_second,
            burst,
            max_wait,
            Bucket::Local(Mutex::new(LocalBucket {
                tokens: f64::from(burst.max(1)),
                refilled: Instant::now(),
            })),
        )
    }

    /// One bucket for every replica on `db` (Postgres).
    pub fn shared(db: Db, per_second: u32, burst: u32, max_wait: Duration) -> Self {
        Self::with_bucket(per_second, burst, max_wait, Bucket::Shared(db))
    }

    fn with_bucket(per_second: u32, burst: u32, max_wait: Duration, bucket: Bucket) -> Self {
        RateLimiter {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            max_wait,
            bucket,
        }
    }

    /// Wait until one request may be sent, or refuse at once when its turn is further
    /// away than the longest wait, or than half the time its request has left (the rest
    /// is for Tray's answer and the request's other calls).
    ///
    /// A reservation is a token taken now: a negative balance is the queue in front of
    /// this call (on Postgres, of every replica's calls), so calls go in arrival order,
    /// each sleeping until its own token is earned (a newcomer cannot take a token a
    /// waiter was owed). A call dropped while it waits forfeits its token: given back,
    /// it would be a turn at the queue's end, beside the last waiter's, and the calls
    /// would go out faster than the rate. The floor keeps what is forfeited small.
    pub async fn acquire(&self) -> Result<(), ProxyError> {
        let wait = match super::deadline() {
            Some(deadline) => {
                (deadline.saturating_duration_since(Instant::now()) / 2).min(self.max_wait)
            }
            None => self.max_wait,
        };
        let deepest = -wait.as_secs_f64() * self.per_second;
        let balance = match &self.bucket {
            Bucket::Local(bucket) => self.reserve_local(bucket, deepest),
            Bucket::Shared(db) => {
                db.reserve_tray_request(self.per_second, self.burst, deepest)
                    .await?
            }
        };
        let Some(balance) = balance else {
            return Err(ProxyError::TrayRateLimited);
        };
        if balance < 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(-balance / self.per_second)).await;
        }
        Ok(())
    }

    /// The balance after taking a token, or `None` (nothing taken) when it would fall
    /// below `deepest`.
    fn reserve_local(&self, bucket: &Mutex<LocalBucket>, deepest: f64) -> Option<f64> {
        let mut bucket = bucket.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let earned = now.duration_since(bucket.refilled).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + earned).min(self.burst);
        bucket.refilled = now;
        let balance = bucket.tokens - 1.0;
        (balance >= deepest).then(|| {
            bucket.tokens = balance;
            balance
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A_WHILE: Duration = Duration::from_secs(5);

    #[tokio::test(start_paused = true)]
    async fn never_lets_more_than_the_burst_plus_rate_through() {
        let limiter = RateLimiter::new(25, 40, A_WHILE);
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
        let limiter = std::sync::Arc::new(RateLimiter::new(10, 1, A_WHILE));
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

    #[tokio::test(start_paused = true)]
    async fn a_call_whose_turn_is_too_far_away_is_refused_at_once() {
        let limiter = std::sync::Arc::new(RateLimiter::new(10, 1, A_WHILE));
        // The burst, then A_WHILE's worth of queued calls: 1 + 50.
        let calls: Vec<_> = (0..60)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move { limiter.acquire().await.is_ok() })
            })
            .collect();
        let mut sent = 0;
        for call in calls {
            sent += usize::from(call.await.expect("a call"));
        }
        assert_eq!(sent, 51, "queued beyond {A_WHILE:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_past_half_the_requests_time_left_is_refused() {
        let limiter = RateLimiter::new(1, 1, A_WHILE);
        limiter.acquire().await.expect("the burst");
        let deadline = Instant::now() + Duration::from_secs(2);
        let (second, third) = crate::tray::with_deadline(deadline, async {
            // Its turn 1 s away, with 2 s left: queued.
            let second = limiter.acquire().await;
            // Its turn 1 s away again, with 1 s left: no time for Tray's answer after it.
            let third = limiter.acquire().await;
            (second, third)
        })
        .await;
        assert!(second.is_ok(), "{second:?}");
        assert!(
            matches!(third, Err(ProxyError::TrayRateLimited)),
            "{third:?}"
        );
    }
}
