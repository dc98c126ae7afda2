use clap::Parser;
use std::{net::SocketAddr, path::PathBuf};
use tray_sandbox::{Sandbox, SandboxConfig, DEMO_EMBEDDED_ID, DEMO_MASTER_TOKEN};

/// A local, faithful stand-in for Tray.io Embedded: the GraphQL API and the auth dialog.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Environment:\n  TRAY_MASTER_TOKEN  the master token the API accepts (default: the demo's). \
                  Environment only, so it never shows in a process list."
)]
struct Args {
    /// Address of the GraphQL API (`POST /graphql`).
    #[arg(long, env = "SANDBOX_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Address of the auth dialog pages: a separate origin, as on Tray.
    #[arg(long, env = "SANDBOX_DIALOG_LISTEN", default_value = "127.0.0.1:8788")]
    dialog_listen: SocketAddr,
    /// Catalog of solutions (JSON); the one shipped in the repository by default.
    #[arg(long, env = "SANDBOX_CATALOG")]
    catalog: Option<PathBuf>,
    /// The organisation's Embedded ID, checked in dialog URLs.
    #[arg(long, env = "TRAY_EMBEDDED_ID", default_value = DEMO_EMBEDDED_ID)]
    embedded_id: String,
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
