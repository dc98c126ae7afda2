//! `cargo xtask demo`: the whole product on this machine, against the sandbox.

use std::{net::SocketAddr, process::Command};

use crate::{
    process::{self, field, workspace_root, Children},
    tools,
};

/// The demo's shared secret between the sandbox's webhook and the proxy. Demo only.
const DEMO_WEBHOOK_SECRET: &str = "demo-webhook-secret";

pub fn run(listen: SocketAddr) -> anyhow::Result<()> {
    let dist = tools::build_widget()?;
    let root = workspace_root();
    println!("xtask: building the sandbox and the proxy");
    process::run(
        Command::new("cargo")
            .args([
                "build",
                "--quiet",
                "-p",
                "tray-sandbox",
                "-p",
                "marketplace-proxy",
            ])
            .current_dir(&root),
    )?;
    let bin = root.join("target/debug");
    let data = root.join("target/demo");
    std::fs::create_dir_all(&data)?;

    // The proxy's address is fixed before the sandbox starts, so the sandbox can post
    // Tray's auth-expiring webhook to it.
    let listen = if listen.port() == 0 {
        let free = std::net::TcpListener::bind(listen)?.local_addr()?;
        SocketAddr::new(listen.ip(), free.port())
    } else {
        listen
    };
    let webhook =
        format!("http://{listen}/webhooks/tray/auth-expiring?secret={DEMO_WEBHOOK_SECRET}");

    let children = Children::default();
    let stop = children.clone();
    ctrlc::set_handler(move || {
        stop.kill_all();
        std::process::exit(0);
    })?;

    let sandbox = children.spawn_announcing(
        {
            let mut command = Command::new(bin.join("tray-sandbox"));
            command
                .args([
                    "--listen",
                    "127.0.0.1:0",
                    "--dialog-listen",
                    "127.0.0.1:0",
                    "--auth-expiry-webhook",
                    &webhook,
                    "--db",
                ])
                .arg(data.join("sandbox.db"));
            command
        },
        "sandbox ",
    )?;
    let graphql_url = field(&sandbox, "graphql")?;
    let dialog_url = field(&sandbox, "dialog")?;

    let proxy = children.spawn_announcing(
        {
            let mut command = Command::new(bin.join("marketplace-proxy"));
            command
                .arg("--listen")
                .arg(listen.to_string())
                .args([
                    "--tray-graphql-url",
                    graphql_url,
                    "--tray-dialog-url",
                    dialog_url,
                ])
                .args(["--embedded-id", "sandbox-embedded", "--demo"])
                .arg("--widget-dir")
                .arg(&dist)
                .arg("--database-url")
                .arg(format!(
                    "sqlite://{}?mode=rwc",
                    data.join("proxy.db").display()
                ))
                .env("TRAY_MASTER_TOKEN", "sandbox-master-token")
                .env("TRAY_WEBHOOK_SECRET", DEMO_WEBHOOK_SECRET);
            command
        },
        "proxy ",
    )?;
    let url = field(&proxy, "url")?;
    println!();
    println!("  Demo host page:  {url}/");
    println!("  Tray sandbox:    {graphql_url} (auth dialog at {dialog_url})");
    println!("  Ctrl-C stops everything.");
    println!();
    children.wait_any();
    children.kill_all();
    Ok(())
}
