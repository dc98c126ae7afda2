//! Each host user's share of the proxy. Every Tray call draws from one budget for the
//! whole organisation (`--tray-rate-per-second`): one user, or one stolen token, sending
//! as fast as it can would use it up, and every other user would wait or time out. A
//! user past their own share is told to slow down (429) before any Tray call is made.
//!
//! A rate alone does not bound a user's share of Tray: requests that wait on Tray pile up
//! while new ones keep arriving. [`InFlight`] also bounds how many of one user's requests
//! are worked on at once; Tray calls queue in arrival order, so another user's call waits
//! behind at most that many of their requests (each a few calls at most).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
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
        let mut buckets = lock(&self.buckets);
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

/// How many requests each user has under way.
pub struct InFlight {
    limit: u32,
    counts: Arc<Mutex<HashMap<String, u32>>>,
}

/// One request under way; the user's count goes down when it is dropped (the request
/// answered, failed or timed out; a change once it ended, even after its caller went).
#[derive(Debug)]
pub struct InFlightGuard {
    user: String,
    counts: Arc<Mutex<HashMap<String, u32>>>,
}

impl InFlight {
    /// At most `limit` requests per user at once; `None` (no limit) when it is 0.
    pub fn new(limit: u32) -> Option<InFlight> {
        (limit > 0).then(|| InFlight {
            limit,
            counts: Arc::default(),
        })
    }

    /// Counts a request of `user` in; `None` when they have `limit` under way already.
    pub fn enter(&self, user: &str) -> Option<InFlightGuard> {
        let mut counts = lock(&self.counts);
        let count = counts.entry(user.to_owned()).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(InFlightGuard {
            user: user.to_owned(),
            counts: self.counts.clone(),
        })
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(count) = counts.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

/// A panic elsewhere leaves the counts as they were: still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_with_requests_under_way_waits_for_one_to_end() {
        let in_flight = InFlight::new(2).expect("a limit");
        let first = in_flight.enter("busy").expect("1 of 2");
        let _second = in_flight.enter("busy").expect("2 of 2");
        assert!(in_flight.enter("busy").is_none(), "a third at once");
        assert!(
            in_flight.enter("other").is_some(),
            "another user's are their own"
        );
        drop(first);
        assert!(in_flight.enter("busy").is_some(), "one ended");
        assert!(InFlight::new(0).is_none(), "0 means no limit");
    }

    #[test]
    fn nothing_is_kept_for_a_user_with_nothing_under_way() {
        let in_flight = InFlight::new(3).expect("a limit");
        drop(in_flight.enter("gone"));
        assert!(lock(&in_flight.counts).is_empty());
    }

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
