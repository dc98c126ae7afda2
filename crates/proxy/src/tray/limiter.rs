//! An organisation-wide token bucket, so the proxy stays under Tray's limit
//! (30 requests/s, bursts to 50) instead of hitting it and retrying.

use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            bucket: Mutex::new(Bucket {
                tokens: f64::from(burst.max(1)),
                refilled: Instant::now(),
            }),
        }
    }

    /// Wait until one request may be sent.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut bucket = self.bucket.lock().await;
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
            limiter.acquire().await;
            sent += 1;
        }
        // A full bucket (40) plus one second of refill (25), never more.
        assert!(sent <= 40 + 25 + 1, "sent {sent}");
        assert!(sent >= 40, "sent {sent}");
    }
}
