use clap::Parser;
use std::{net::SocketAddr, path::PathBuf, time::Duration};
use tray_sandbox::{RateLimit, Sandbox, SandboxConfig, DEMO_EMBEDDED_ID, DEMO_MASTER_TOKEN};

const AFTER_HELP: &str = "\
Environment:
  TRAY_MASTER_TOKEN  the master token the API accepts (default: the demo's).
                     Environment only, so it never shows in a process list.

Admin endpoints (API origin, `Authorization: Bearer <master token>`):
  GET  /_sandbox/stats                      counters (requests, rate-limited, early enables, ...)
  GET  /_sandbox/faults                     the injected faults
  POST /_sandbox/faults                     {\"latency\":ms,\"failureRate\":0..1,\"lostAnswerRate\":0..1,\"forceRateLimit\":bool}
                                            (\"only\":\"<text>\": the faults hit only requests whose body contains it)
  POST /_sandbox/solutions/{id}/versions    publish a solution version:
       {\"authSlots\":[{\"externalId\",\"title\",\"service\"}],
        \"configSlots\":[{\"externalId\",\"title\",\"defaultValue\"}],
        \"needs\":\"none\"|\"user\"|\"system\"}   (none: applies itself after --lazy-update-secs)
  POST /_sandbox/authentications/{authId}/expiring
       POST Tray's auth-expiring webhook body to --auth-expiry-webhook
Workflow trigger URLs: POST /triggers/<instanceId>/<n> records a run.";

/// A local, faithful stand-in for Tray.io Embedded: the GraphQL API and the auth dialog.
#[derive(Debug, Parser)]
#[command(version, after_help = AFTER_HELP)]
struct Args {
    /// Address of the GraphQL API (`POST /graphql`).
    #[arg(long, env = "SANDBOX_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Address of the auth dialog pages: a separate origin, as on Tray.
    #[arg(long, env = "SANDBOX_DIALOG_LISTEN", default_value = "127.0.0.1:8788")]
    dialog_listen: SocketAddr,
    /// SQLite database file, created if missing; data survives restarts.
    #[arg(long, env = "SANDBOX_DB", default_value = "tray-sandbox.db")]
    db: PathBuf,
    /// Keep no data across runs (a temporary file, removed on exit); `--db` is then ignored.
    #[arg(long)]
    in_memory: bool,
    /// Catalog of solutions (JSON); the one shipped in the repository by default.
    #[arg(long, env = "SANDBOX_CATALOG")]
    catalog: Option<PathBuf>,
    /// The organisation's Embedded ID, checked in dialog URLs.
    #[arg(long, env = "TRAY_EMBEDDED_ID", default_value = DEMO_EMBEDDED_ID)]
    embedded_id: String,
    /// URL that receives Tray's auth-expiring webhook (see the admin endpoints).
    #[arg(long, env = "SANDBOX_AUTH_EXPIRY_WEBHOOK")]
    auth_expiry_webhook: Option<String>,
    /// Requests per second per organisation before Tray's rate-limit error.
    #[arg(long, default_value_t = 30)]
    rate_limit: u32,
    /// Burst allowance of the rate limit.
    #[arg(long, default_value_t = 50)]
    rate_burst: u32,
    /// Seconds before a solution version that needs no input applies itself.
    #[arg(long, default_value_t = 120)]
    lazy_update_secs: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let sandbox = Sandbox::start(SandboxConfig {
        listen: args.listen,
        dialog_listen: args.dialog_listen,
        catalog: args.catalog,
        master_token: std::env::var("TRAY_MASTER_TOKEN")
            .unwrap_or_else(|_| DEMO_MASTER_TOKEN.to_owned()),
        embedded_id: args.embedded_id,
        db: (!args.in_memory).then_some(args.db),
        rate_limit: RateLimit {
            per_second: args.rate_limit,
            burst: args.rate_burst,
        },
        lazy_update_delay: Duration::from_secs(args.lazy_update_secs),
        auth_expiry_webhook: args.auth_expiry_webhook,
        ..SandboxConfig::default()
    })
    .await?;
    // Parsed by `cargo xtask` to learn the ports when they were chosen by the OS.
    println!(
        "sandbox graphql={} dialog={}",
        sandbox.graphql_url(),
        sandbox.dialog_url()
    );
    tokio::signal::ctrl_c().await?;
    sandbox.stop().await;
    Ok(())
}
