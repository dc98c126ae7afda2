//! What tests and demos observe and steer: counters, fault injection, the rate limiter.

use serde::{Deserialize, Serialize};
use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};

/// Tray's per-organisation limit: a token bucket refilled at `per_second`, holding `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 30,
            burst: 50,
        }
    }
}

/// Injected misbehaviour, off by default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Added before every GraphQL answer, in milliseconds (JSON) / as a Duration (Rust).
    #[serde(with = "millis")]
    pub latency: Duration,
    /// Share of GraphQL requests answered with HTTP 503, from 0.0 to 1.0.
    pub failure_rate: f64,
    /// Share of GraphQL requests carried out and then answered with HTTP 504, as when a
    /// gateway times out after Tray did the work: the caller cannot tell it happened.
    pub lost_answer_rate: f64,
    /// Share of GraphQL requests answered, without being carried out, with Tray's
    /// `InternalError`: HTTP 200 and a GraphQL error, as Tray reports its own failures.
    pub internal_error_rate: f64,
    /// Share of GraphQL requests refused, without being carried out, by something in
    /// front of Tray: HTTP 403 with a gateway's own JSON (`{"message":"Forbidden"}`),
    /// no GraphQL in it.
    pub gateway_refusal_rate: f64,
    /// Answer every GraphQL request with Tray's rate-limit error.
    pub force_rate_limit: bool,
    /// Apply `latency` and the rates of failures only to requests whose body
    /// (document or variables) contains this text: a field name (`createSolutionInstance`)
    /// fails one step of a flow, an id slows one request. Empty: every request.
    pub only: Option<String>,
}

impl Faults {
    /// Whether the faults apply to a request with this body.
    pub fn target(&self, body: &[u8]) -> bool {
        match self.only.as_deref() {
            None | Some("") => true,
            Some(text) => body
                .windows(text.len())
                .any(|window| window == text.as_bytes()),
        }
    }
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

/// A snapshot of the counters (`Sandbox::stats`, `GET /_sandbox/stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// GraphQL requests that reached the schema (any token, any outcome).
    pub requests_served: u64,
    /// GraphQL requests refused with the rate-limit error (real or forced).
    pub rate_limited: u64,
    /// GraphQL requests failed on purpose by the fault injector.
    pub injected_failures: u64,
    /// GraphQL requests carried out whose answer the fault injector replaced with a 504.
    pub lost_answers: u64,
    /// Instances enabled less than 2 s after creation (their triggers never work).
    pub early_enables: u64,
    /// Most GraphQL requests that arrived within any one-second window.
    pub peak_requests_per_second: u64,
    /// Workflow trigger POSTs accepted and recorded.
    pub trigger_runs: u64,
    /// Authentications created (dialog or `createUserAuthentication`).
    pub authentications_created: u64,
    /// Auth-expiring webhooks delivered.
    pub expiry_webhooks_sent: u64,
}

#[derive(Default)]
pub struct Counters {
    pub requests_served: AtomicU64,
    pub rate_limited: AtomicU64,
    pub injected_failures: AtomicU64,
    pub lost_answers: AtomicU64,
    pub early_enables: AtomicU64,
    pub trigger_runs: AtomicU64,
    pub authentications_created: AtomicU64,
    pub expiry_webhooks_sent: AtomicU64,
    window: Mutex<RequestWindow>,
}

#[derive(Default)]
struct RequestWindow {
    arrivals: VecDeque<Instant>,
    peak: u64,
}

pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// Note an arriving request in the sliding one-second window.
    pub fn arrival(&self) {
        let now = Instant::now();
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        while window
            .arrivals
            .front()
            .is_some_and(|first| now.duration_since(*first) >= Duration::from_secs(1))
        {
            window.arrivals.pop_front();
        }
        window.arrivals.push_back(now);
        window.peak = window.peak.max(window.arrivals.len() as u64);
    }

    pub fn snapshot(&self) -> Stats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let peak = self
            .window
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .peak;
        Stats {
            requests_served: read(&self.requests_served),
            rate_limited: read(&self.rate_limited),
            injected_failures: read(&self.injected_failures),
            lost_answers: read(&self.lost_answers),
            early_enables: read(&self.early_enables),
            peak_requests_per_second: peak,
            trigger_runs: read(&self.trigger_runs),
            authentications_created: read(&self.authentications_created),
            expiry_webhooks_sent: read(&self.expiry_webhooks_sent),
        }
    }
}

/// One bucket for the whole organisation: the sandbox hosts exactly one.
pub struct TokenBucket {
    limit: RateLimit,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(limit: RateLimit) -> Self {
        TokenBucket {
            limit,
            state: Mutex::new((f64::from(limit.burst), Instant::now())),
        }
    }

    /// Take one token; false when the organisation is over its limit.
    pub fn try_take(&self) -> bool {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        let refill = now.duration_since(*last).as_secs_f64() * f64::from(self.limit.per_second);
        *tokens = (*tokens + refill).min(f64::from(self.limit.burst));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_the_burst_then_refuses() {
        let bucket = TokenBucket::new(RateLimit {
            per_second: 0,
            burst: 3,
        });
        let allowed = (0..5).filter(|_| bucket.try_take()).count();
        assert_eq!(allowed, 3);
    }

    #[test]
    fn faults_read_from_json_with_millisecond_latency() {
        let faults: Faults =
            serde_json::from_str(r#"{"latency":250,"failureRate":0.5}"#).expect("valid faults");
        assert_eq!(faults.latency, Duration::from_millis(250));
        assert!(!faults.force_rate_limit);
    }
}
