//! The proxy's figures: Tray requests per page load, the API-only connect flow, and the
//! warm catalog request under 64 connections beside the same load sent straight to the
//! sandbox's GraphQL endpoint, with the proxy's peak memory.
//!
//! The sandbox runs in this process; the proxy runs as its own process (the
//! native-profile binary). First the proxy as shipped against a sandbox enforcing Tray's
//! rate limit (page loads, connects, load); then, for the overhead comparison, a proxy
//! with its Tray limiter lifted against a sandbox with its limit lifted, so neither
//! limit is what the comparison measures.

use anyhow::{bail, Context};
use marketplace_proxy::tray::documents;
use serde::Serialize;
use serde_json::{json, Value};
use std::{path::Path, sync::Arc, time::Duration};
use tokio::task::JoinSet;
use tray_sandbox::{RateLimit, Sandbox, SandboxConfig, DEMO_EMBEDDED_ID, DEMO_MASTER_TOKEN};

use crate::{
    client::ApiClient,
    connect_flow::{self, ConnectTiming},
    load::{self, LoadPlan, LoadResult},
    proxy_process::{ProxyOptions, ProxyProcess},
};

/// Timed connects (the isolated one included), and how many run at once.
const CONNECT_RUNS: usize = 12;
const CONNECT_CONCURRENCY: usize = 4;
/// A limit nothing in this bench reaches: the sandbox and the lifted proxy limiter.
const UNLIMITED: u32 = 1_000_000;

/// The proxy as shipped under 64 connections.
pub const LOAD_PLAN: LoadPlan = LoadPlan {
    connections: 64,
    warm_up: Duration::from_secs(1),
    measure: Duration::from_secs(4),
};

/// The proxy beside the sandbox: this many rounds of each, alternating.
pub const COMPARISON_ROUNDS: usize = 3;
pub const COMPARISON_PLAN: LoadPlan = LoadPlan {
    connections: 64,
    warm_up: Duration::from_millis(500),
    measure: Duration::from_secs(2),
};

#[derive(Debug, Serialize)]
pub struct ProxyReport {
    /// Tray requests one `GET /api/v1/integrations` (the widget's only call on a page
    /// load) caused, from the sandbox's request counter.
    pub tray_requests_per_page_load: PageLoadCost,
    /// The warm catalog request, 64 connections, proxy limiter lifted.
    pub proxy_catalog: LoadResult,
    /// The same GraphQL query the proxy sends for it, straight to the sandbox.
    pub sandbox_direct: LoadResult,
    /// The proxy as shipped: its Tray limiter (25/s, burst 40) queues the requests.
    pub proxy_catalog_default_limit: LoadResult,
    /// Requests Tray (the sandbox, enforcing 30/s with bursts to 50) refused for the
    /// rate limit while the proxy as shipped served page loads, connects and its load.
    pub tray_rate_limited_default_limit: u64,
    /// Most Tray requests in any one-second window meanwhile (a bucket of 30/s holding
    /// 50 lets up to 80 through in one window).
    pub tray_peak_requests_per_second_default_limit: u64,
    /// Proxy requests/s over sandbox requests/s (limiter lifted).
    pub throughput_ratio: f64,
    /// Proxy p50 over sandbox p50 (limiter lifted).
    pub p50_latency_ratio: f64,
    /// `VmHWM` of the proxy process after the lifted-limiter load, in KiB.
    pub peak_rss_kib: u64,
    /// `VmHWM` of the proxy as shipped after the connects and its load, in KiB.
    pub peak_rss_kib_default_limit: u64,
}

#[derive(Debug, Serialize)]
pub struct PageLoadCost {
    /// A new user's first load on a freshly started proxy (catalog not cached).
    pub cold: u64,
    /// The same user's next load.
    pub warm: u64,
    /// Another new user's first load once the catalog is cached.
    pub new_user_catalog_cached: u64,
}

#[derive(Debug, Serialize)]
pub struct ConnectReport {
    pub integration: String,
    pub auth_slots: usize,
    pub config_slots: usize,
    pub runs: usize,
    pub concurrency: usize,
    /// Time through the API excluding the mandatory 2 s enable wait.
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// Wall time including the wait, for reference.
    pub p50_wall_ms: f64,
    /// Tray requests one isolated connect made (user and catalog already known).
    pub tray_requests: u64,
    /// Instances Tray saw enabled sooner than 2 s after creation (must be 0).
    pub early_enables: u64,
}

pub async fn run(proxy_binary: &Path) -> anyhow::Result<(ProxyReport, ConnectReport)> {
    let http = reqwest::Client::new();

    // The proxy as shipped against a sandbox enforcing Tray's limit: page loads,
    // connects, then 64 connections of warm catalog requests.
    let state = StateDir::new("sandboxes")?;
    let tray = Sandbox::start(SandboxConfig {
        db: Some(state.path.join("tray.db")),
        ..SandboxConfig::default()
    })
    .await?;
    let shipped = ProxyProcess::spawn(proxy_binary, &proxy_options(&tray, "shipped", None)).await?;
    let page_loads = page_load_cost(&tray, &http, &shipped.url).await?;
    let shipped_user = ApiClient::new(http.clone(), &shipped.url, LOAD_USER)?;
    let connect = connect_report(&tray, &http, &shipped.url, &shipped_user).await?;
    println!("bench: proxy as shipped, warm catalog, 64 connections");
    let proxy_catalog_default_limit = catalog_load(&shipped_user, &shipped.url, LOAD_PLAN).await?;
    let peak_rss_kib_default_limit = shipped.peak_rss_kib()?;
    let tray_stats = tray.stats();
    shipped.stop().await;
    tray.stop().await;

    // The overhead comparison: neither the sandbox's limit nor the proxy's limiter may
    // be the bottleneck, so both are lifted.
    let open = Sandbox::start(SandboxConfig {
        db: Some(state.path.join("open.db")),
        rate_limit: RateLimit {
            per_second: UNLIMITED,
            burst: UNLIMITED,
        },
        ..SandboxConfig::default()
    })
    .await?;
    let lifted = ProxyProcess::spawn(
        proxy_binary,
        &proxy_options(&open, "lifted", Some((UNLIMITED, UNLIMITED))),
    )
    .await?;
    let load_user = ApiClient::new(http.clone(), &lifted.url, LOAD_USER)?;
    // Its catalog shows one connected instance, like the shipped proxy's load user.
    let catalog = load_user.catalog().await?;
    let integration = connect_flow::two_slot_integration(&catalog)?.clone();
    connect_flow::connect(&load_user, &http, &integration, "bench-load-instance").await?;
    load_user.catalog().await?;
    println!(
        "bench: proxy (Tray limiter lifted) and the same query straight to the sandbox, \
         64 connections, {COMPARISON_ROUNDS} alternating rounds each"
    );
    // Alternating rounds, so drift on a shared machine affects both sides alike.
    let direct_token = user_token(&open, LOAD_USER).await?;
    let mut proxy_rounds = Vec::new();
    let mut direct_rounds = Vec::new();
    for _ in 0..COMPARISON_ROUNDS {
        proxy_rounds.push(catalog_load(&load_user, &lifted.url, COMPARISON_PLAN).await?);
        direct_rounds.push(sandbox_load(&open, &direct_token, COMPARISON_PLAN).await?);
    }
    let peak_rss_kib = lifted.peak_rss_kib()?;
    lifted.stop().await;
    open.stop().await;
    let proxy_catalog = LoadResult::combine(&proxy_rounds);
    let sandbox_direct = LoadResult::combine(&direct_rounds);

    let proxy = ProxyReport {
        tray_requests_per_page_load: page_loads,
        throughput_ratio: proxy_catalog.requests_per_second / sandbox_direct.requests_per_second,
        p50_latency_ratio: proxy_catalog.p50_ms / sandbox_direct.p50_ms,
        proxy_catalog,
        sandbox_direct,
        proxy_catalog_default_limit,
        tray_rate_limited_default_limit: tray_stats.rate_limited,
        tray_peak_requests_per_second_default_limit: tray_stats.peak_requests_per_second,
        peak_rss_kib,
        peak_rss_kib_default_limit,
    };
    Ok((proxy, connect))
}

/// A directory of its own for the sandboxes' databases, removed when dropped.
///
/// File databases, as the `tray-sandbox` binary uses by default: an in-memory sandbox
/// lives on one SQLite connection, which a request cancelled mid-query discards.
struct StateDir {
    path: std::path::PathBuf,
}

impl StateDir {
    fn new(label: &str) -> anyhow::Result<Self> {
        let path =
            std::env::temp_dir().join(format!("marketplace-bench-{}-{label}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(StateDir { path })
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The user whose warm catalog is loaded; it has one connected instance.
const LOAD_USER: &str = "bench-load-user";

fn proxy_options<'a>(
    sandbox: &'a Sandbox,
    label: &'a str,
    tray_rate: Option<(u32, u32)>,
) -> ProxyOptions<'a> {
    ProxyOptions {
        label,
        graphql_url: sandbox.graphql_url(),
        dialog_url: sandbox.dialog_url(),
        master_token: DEMO_MASTER_TOKEN,
        embedded_id: DEMO_EMBEDDED_ID,
        tray_rate,
    }
}

/// Sandbox request-counter deltas around single catalog requests on a fresh proxy.
async fn page_load_cost(
    sandbox: &Sandbox,
    http: &reqwest::Client,
    proxy_url: &str,
) -> anyhow::Result<PageLoadCost> {
    let first = ApiClient::new(http.clone(), proxy_url, "bench-page-user-1")?;
    let second = ApiClient::new(http.clone(), proxy_url, "bench-page-user-2")?;
    let cold = tray_requests_during(sandbox, first.catalog()).await?;
    let warm = tray_requests_during(sandbox, first.catalog()).await?;
    let new_user_catalog_cached = tray_requests_during(sandbox, second.catalog()).await?;
    Ok(PageLoadCost {
        cold,
        warm,
        new_user_catalog_cached,
    })
}

/// How many GraphQL requests the sandbox served while `work` ran (nothing else runs).
async fn tray_requests_during<T>(
    sandbox: &Sandbox,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<u64> {
    let before = sandbox.stats().requests_served;
    work.await?;
    Ok(sandbox.stats().requests_served - before)
}

/// One isolated connect (counted), then the rest of the runs a few at a time. Every
/// user has loaded the page first, as they would have before clicking Connect.
async fn connect_report(
    sandbox: &Sandbox,
    http: &reqwest::Client,
    proxy_url: &str,
    isolated_user: &ApiClient,
) -> anyhow::Result<ConnectReport> {
    let catalog = isolated_user.catalog().await?;
    let integration = connect_flow::two_slot_integration(&catalog)?.clone();
    println!(
        "bench: connect flow, {} ({} auth slots), {CONNECT_RUNS} runs",
        integration.title,
        integration.auth_slots.len()
    );
    let early_before = sandbox.stats().early_enables;
    let before = sandbox.stats().requests_served;
    let isolated = connect_flow::connect(isolated_user, http, &integration, "bench-isolated")
        .await
        .context("the isolated connect")?;
    let tray_requests = sandbox.stats().requests_served - before;

    let mut timings = vec![isolated];
    let mut runs = JoinSet::new();
    let integration = Arc::new(integration);
    for run in 1..CONNECT_RUNS {
        if runs.len() >= CONNECT_CONCURRENCY {
            timings.push(next_timing(&mut runs).await?);
        }
        let api = ApiClient::new(http.clone(), proxy_url, &format!("bench-connect-{run}"))?;
        let http = http.clone();
        let integration = integration.clone();
        runs.spawn(async move {
            api.catalog().await?;
            connect_flow::connect(&api, &http, &integration, &format!("bench-run-{run}")).await
        });
    }
    while !runs.is_empty() {
        timings.push(next_timing(&mut runs).await?);
    }
    let mut active: Vec<f64> = timings.iter().map(|t| millis(t.active)).collect();
    let mut wall: Vec<f64> = timings
        .iter()
        .map(|t| millis(t.active + t.waited))
        .collect();
    active.sort_by(|a, b| a.total_cmp(b));
    wall.sort_by(|a, b| a.total_cmp(b));
    Ok(ConnectReport {
        integration: integration.title.clone(),
        auth_slots: integration.auth_slots.len(),
        config_slots: integration.config_slots.len(),
        runs: timings.len(),
        concurrency: CONNECT_CONCURRENCY,
        p50_ms: load::quantile(&active, 0.50),
        p95_ms: load::quantile(&active, 0.95),
        p50_wall_ms: load::quantile(&wall, 0.50),
        tray_requests,
        early_enables: sandbox.stats().early_enables - early_before,
    })
}

async fn next_timing(
    runs: &mut JoinSet<anyhow::Result<ConnectTiming>>,
) -> anyhow::Result<ConnectTiming> {
    runs.join_next()
        .await
        .context("no connect left to wait for")?
        .context("a connect task panicked")?
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// `GET /api/v1/integrations` as the widget sends it, from 64 connections.
async fn catalog_load(
    user: &ApiClient,
    proxy_url: &str,
    plan: LoadPlan,
) -> anyhow::Result<LoadResult> {
    let url = format!("{}{}/integrations", proxy_url, marketplace_wire::API_PREFIX);
    let token = user.token().to_owned();
    let result = load::run(
        plan,
        Arc::new(move |http: &reqwest::Client| http.get(&url).bearer_auth(&token)),
    )
    .await?;
    check_load(&result, "the proxy")?;
    Ok(result)
}

/// The proxy's warm-catalog Tray query (`ListInstances` with the user's token, the same
/// variables), sent straight to the sandbox's GraphQL endpoint.
async fn sandbox_load(
    sandbox: &Sandbox,
    user_token: &str,
    plan: LoadPlan,
) -> anyhow::Result<LoadResult> {
    let token = user_token.to_owned();
    let url = sandbox.graphql_url().to_owned();
    let body = json!({
        "query": documents::LIST_INSTANCES,
        "variables": { "first": 100, "after": null },
    });
    let result = load::run(
        plan,
        Arc::new(move |http: &reqwest::Client| http.post(&url).bearer_auth(&token).json(&body)),
    )
    .await?;
    check_load(&result, "the sandbox")?;
    Ok(result)
}

/// A Tray user token for the user the proxy created, minted with the master token.
async fn user_token(sandbox: &Sandbox, external_user_id: &str) -> anyhow::Result<String> {
    let found = sandbox
        .execute(
            DEMO_MASTER_TOKEN,
            documents::FIND_USER,
            json!({ "externalUserId": external_user_id }),
        )
        .await;
    let user_id = found
        .pointer("/data/users/edges/0/node/id")
        .and_then(Value::as_str)
        .with_context(|| format!("the sandbox does not know {external_user_id}: {found}"))?;
    let authorized = sandbox
        .execute(
            DEMO_MASTER_TOKEN,
            documents::AUTHORIZE,
            json!({ "userId": user_id }),
        )
        .await;
    authorized
        .pointer("/data/authorize/accessToken")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("authorize failed: {authorized}"))
}

/// A load where most requests failed measures errors, not service.
fn check_load(result: &LoadResult, target: &str) -> anyhow::Result<()> {
    if result.requests == 0 || result.errors > result.requests / 100 {
        bail!(
            "{target}: {} errors beside {} answers under load",
            result.errors,
            result.requests
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy_process::HOST_JWT_SECRET;
    use marketplace_proxy::{Config, HostKey, Proxy};
    use marketplace_wire::Status;

    /// The sandbox (Tray's rate limit) and an in-process proxy that accepts the bench's
    /// host tokens.
    async fn stack() -> (Sandbox, Proxy) {
        stack_limited(RateLimit::default()).await
    }

    async fn stack_limited(rate_limit: RateLimit) -> (Sandbox, Proxy) {
        let sandbox = Sandbox::start(SandboxConfig {
            rate_limit,
            ..SandboxConfig::default()
        })
        .await
        .expect("sandbox starts");
        let config = Config {
            host_key: HostKey::Secret(HOST_JWT_SECRET.into()),
            ..Config::for_endpoint(
                sandbox.graphql_url(),
                sandbox.dialog_url(),
                DEMO_MASTER_TOKEN,
                DEMO_EMBEDDED_ID,
            )
        };
        let proxy = Proxy::start(config).await.expect("proxy starts");
        (sandbox, proxy)
    }

    #[tokio::test]
    async fn page_load_cost_counts_the_tray_requests_of_each_load() {
        let (sandbox, proxy) = stack().await;
        let cost = page_load_cost(&sandbox, &reqwest::Client::new(), &proxy.url())
            .await
            .expect("page loads");
        // The proxy's promise: a warm page load is one Tray request (the user's instances).
        assert_eq!(cost.warm, 1);
        assert!(cost.cold > cost.new_user_catalog_cached, "{cost:?}");
        assert!(cost.new_user_catalog_cached > cost.warm, "{cost:?}");
        proxy.stop().await;
        sandbox.stop().await;
    }

    #[tokio::test]
    async fn a_two_slot_connect_ends_connected_and_never_enables_early() {
        let (sandbox, proxy) = stack().await;
        let http = reqwest::Client::new();
        let api = ApiClient::new(http.clone(), &proxy.url(), "connect-test-user").expect("token");
        let catalog = api.catalog().await.expect("catalog");
        let integration = connect_flow::two_slot_integration(&catalog)
            .expect("a two-slot integration")
            .clone();
        let timing = connect_flow::connect(&api, &http, &integration, "key-1")
            .await
            .expect("connects");
        assert!(timing.active + timing.waited >= connect_flow::ENABLE_DELAY);
        assert_eq!(sandbox.stats().early_enables, 0);

        let catalog = api.catalog().await.expect("catalog");
        let listed = catalog
            .integrations
            .iter()
            .find(|i| i.solution_id == integration.solution_id)
            .expect("listed");
        assert_eq!(listed.instances.len(), 1);
        assert_eq!(listed.instances[0].status, Status::Connected);
        assert_eq!(listed.instances[0].auth_values.len(), 2);
        proxy.stop().await;
        sandbox.stop().await;
    }

    #[tokio::test]
    async fn load_counts_answers_and_refusals_apart() {
        let (sandbox, proxy) = stack_limited(RateLimit {
            per_second: UNLIMITED,
            burst: UNLIMITED,
        })
        .await;
        let api =
            ApiClient::new(reqwest::Client::new(), &proxy.url(), "load-test-user").expect("token");
        api.catalog().await.expect("the user exists in Tray");
        let plan = LoadPlan {
            connections: 4,
            warm_up: Duration::from_millis(100),
            measure: Duration::from_millis(400),
        };
        let token = user_token(&sandbox, "load-test-user")
            .await
            .expect("a user token");
        let direct = sandbox_load(&sandbox, &token, plan)
            .await
            .expect("sandbox load");
        assert!(direct.requests > 0 && direct.errors == 0, "{direct:?}");
        assert!(direct.p50_ms <= direct.p99_ms, "{direct:?}");

        // Without a host token every request is refused: all errors, no answers.
        let url = format!(
            "{}{}/integrations",
            proxy.url(),
            marketplace_wire::API_PREFIX
        );
        let refused = load::run(plan, Arc::new(move |http: &reqwest::Client| http.get(&url)))
            .await
            .expect("runs");
        assert_eq!(refused.requests, 0, "{refused:?}");
        assert!(refused.errors > 0, "{refused:?}");
        assert!(check_load(&refused, "the proxy").is_err());
        proxy.stop().await;
        sandbox.stop().await;
    }
}
