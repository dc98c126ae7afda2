//! A closed-loop HTTP load generator: `connections` clients each send one request, read
//! the whole answer, and send the next, first for a warm-up, then for the measured window.

use serde::Serialize;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::task::JoinSet;

/// How hard and how long to push.
#[derive(Debug, Clone, Copy)]
pub struct LoadPlan {
    pub connections: usize,
    pub warm_up: Duration,
    pub measure: Duration,
}

/// What one measured window gave.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    pub connections: usize,
    pub seconds: f64,
    /// Successful answers completed inside the window.
    pub requests: usize,
    /// Answers other than 200, and transport errors, inside the window.
    pub errors: usize,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Sorted, for combining rounds.
    #[serde(skip)]
    latencies_ms: Vec<f64>,
}

impl LoadResult {
    fn from_samples(
        connections: usize,
        seconds: f64,
        mut latencies_ms: Vec<f64>,
        errors: usize,
    ) -> Self {
        latencies_ms.sort_by(|a, b| a.total_cmp(b));
        LoadResult {
            connections,
            seconds,
            requests: latencies_ms.len(),
            errors,
            requests_per_second: latencies_ms.len() as f64 / seconds,
            p50_ms: quantile(&latencies_ms, 0.50),
            p99_ms: quantile(&latencies_ms, 0.99),
            latencies_ms,
        }
    }

    /// Several measured windows as one: their requests over their summed time.
    pub fn combine(rounds: &[LoadResult]) -> LoadResult {
        LoadResult::from_samples(
            rounds.first().map_or(0, |round| round.connections),
            rounds.iter().map(|round| round.seconds).sum(),
            rounds
                .iter()
                .flat_map(|round| round.latencies_ms.iter().copied())
                .collect(),
            rounds.iter().map(|round| round.errors).sum(),
        )
    }
}

/// Builds the request each client sends (a fresh builder per request).
pub type MakeRequest = Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>;

/// How long requests still in flight when the window closes may take to finish.
/// They are not counted; letting them finish (rather than dropping them) keeps the
/// servers from seeing cancellations no real client would cause.
const DRAIN: Duration = Duration::from_secs(15);

/// One request completed inside the measured window.
enum Sample {
    Answered { ms: f64 },
    Failed,
}

/// Runs `plan` against whatever `make_request` builds.
pub async fn run(plan: LoadPlan, make_request: MakeRequest) -> anyhow::Result<LoadResult> {
    // One connection per client, kept alive, as browsers behind a load balancer would.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(plan.connections)
        .timeout(Duration::from_secs(30))
        .build()?;
    let start = Instant::now();
    let window = (start + plan.warm_up, start + plan.warm_up + plan.measure);
    let (samples, mut received) = tokio::sync::mpsc::unbounded_channel();
    let mut clients = JoinSet::new();
    for _ in 0..plan.connections {
        let http = http.clone();
        let make_request = make_request.clone();
        let samples = samples.clone();
        clients.spawn(async move { client_loop(&http, &*make_request, window, &samples).await });
    }
    drop(samples);
    let drained = tokio::time::Instant::from_std(window.1 + DRAIN);
    while let Ok(Some(finished)) = tokio::time::timeout_at(drained, clients.join_next()).await {
        finished?;
    }
    clients.abort_all();
    let mut latencies_ms = Vec::new();
    let mut errors = 0;
    while let Some(sample) = received.recv().await {
        match sample {
            Sample::Answered { ms } => latencies_ms.push(ms),
            Sample::Failed => errors += 1,
        }
    }
    Ok(LoadResult::from_samples(
        plan.connections,
        plan.measure.as_secs_f64(),
        latencies_ms,
        errors,
    ))
}

/// One client: sends until the window closes, reporting what completes inside it.
async fn client_loop(
    http: &reqwest::Client,
    make_request: &(dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync),
    (opens, closes): (Instant, Instant),
    samples: &tokio::sync::mpsc::UnboundedSender<Sample>,
) {
    loop {
        let sent = Instant::now();
        if sent >= closes {
            return;
        }
        let answered = exchange(make_request(http)).await;
        let done = Instant::now();
        if done < opens || done > closes {
            continue;
        }
        let sample = if answered {
            Sample::Answered {
                ms: done.duration_since(sent).as_secs_f64() * 1000.0,
            }
        } else {
            Sample::Failed
        };
        if samples.send(sample).is_err() {
            return;
        }
    }
}

/// Sends the request and reads the whole body; true for a 200.
async fn exchange(request: reqwest::RequestBuilder) -> bool {
    match request.send().await {
        Ok(response) => {
            let ok = response.status() == reqwest::StatusCode::OK;
            response.bytes().await.is_ok() && ok
        }
        Err(_) => false,
    }
}

/// The `q` quantile of sorted samples (nearest rank); NaN when there are none.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&samples, 0.50), 50.0);
        assert_eq!(quantile(&samples, 0.99), 99.0);
        assert_eq!(quantile(&samples, 0.95), 95.0);
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn combined_rounds_count_every_request_over_the_summed_time() {
        let first = LoadResult::from_samples(2, 1.0, vec![3.0, 1.0], 0);
        let second = LoadResult::from_samples(2, 2.0, vec![2.0, 4.0, 5.0, 6.0], 1);
        let both = LoadResult::combine(&[first, second]);
        assert_eq!(both.requests, 6);
        assert_eq!(both.errors, 1);
        assert_eq!(both.requests_per_second, 2.0);
        assert_eq!(both.p50_ms, 3.0);
        assert_eq!(both.p99_ms, 6.0);
    }
}
