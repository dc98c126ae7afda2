//! Each host user's share of the proxy. Every Tray call draws from one budget for the
//! whole organisation (`--tray-rate-per-second`): one user, or one stolen token, sending
//! as fast as it can would use it up, and every other user would wait or time out. A
//! user past their own share is told to slow down (429) before any Tray call is made.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Buckets kept before idle ones are dropped (an idle bucket is full again: the same as
/// none).
const PRUNE_ABOVE: usize = 4096;

pub struct UserLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl UserLimiter {
    /// `per_second` requests per user, bursts to `burst`; `None` (no limit) when
    /// `per_second` is 0.
    pub fn new(per_second: u32, burst: u32) -> Option<UserLimiter> {
        (per_second > 0).then(|| UserLimiter {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Takes one request of `user`'s share; false when it is used up for now.
    pub fn take(&self, user: &str) -> bool {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            let refill = Duration::from_secs_f64(self.burst / self.per_second);
            buckets.retain(|_, bucket| now.duration_since(bucket.at) < refill);
        }
        let bucket = buckets.entry(user.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refilled = now.duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refilled).min(self.burst);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_past_their_burst_waits_and_others_do_not() {
        let limiter = UserLimiter::new(1, 3).expect("a limit");
        assert!((0..3).all(|_| limiter.take("greedy")));
        assert!(!limiter.take("greedy"), "past the burst");
        assert!(limiter.take("patient"), "another user's share is their own");
        std::thread::sleep(Duration::from_millis(1100));
        assert!(limiter.take("greedy"), "refilled");
    }

    #[test]
    fn zero_means_no_limit() {
        assert!(UserLimiter::new(0, 10).is_none());
    }
}
