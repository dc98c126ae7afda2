use clap::Parser;
use marketplace_proxy::{config::Secrets, Args, Config, Proxy};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // Display, not Debug: a readable sentence for the operator.
            eprintln!("marketplace-proxy: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower_http=info".into());
    if args.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let config = Config::from_args(args, Secrets::from_env())?;
    tracing::info!(?config, "starting");
    let proxy = Proxy::start(config).await?;
    // Parsed by `cargo xtask` to learn the port when it was chosen by the OS.
    println!("proxy url={}", proxy.url());
    shutdown_signal().await?;
    tracing::info!(
        "stopping: finishing the requests and changes under way (a second signal stops at once)"
    );
    // An operator who cannot wait (or a stalled Tray) gets the process back at once.
    tokio::select! {
        () = proxy.stop() => Ok(()),
        second = shutdown_signal() => {
            second?;
            // Exits here: returning would wait for the runtime's blocking work (a DNS
            // lookup that hangs).
            eprintln!("marketplace-proxy: stopped at once by a second signal: requests and changes under way were cut off");
            std::process::exit(1)
        }
    }
}

/// Ctrl-C, or SIGTERM from a container runtime: finish in-flight requests, then exit.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
