//! The end-to-end harness: a real sandbox and proxy on ephemeral loopback ports, the
//! release-built widget, and headless Chromium driven over WebDriver.
//!
//! Every process is owned by a handle and stopped through it (never by name).

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use marketplace_proxy::{Config, Proxy};
use serde_json::{json, Value};
use std::{
    net::{SocketAddr, TcpListener},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use tray_sandbox::{Sandbox, SandboxConfig};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Sandbox + proxy serving the built widget and the demo host page.
pub struct Stack {
    pub sandbox: Sandbox,
    pub proxy: Proxy,
}

impl Stack {
    pub async fn start() -> Result<Stack, Error> {
        let sandbox = Sandbox::start(SandboxConfig::default()).await?;
        let config = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            graphql_url: sandbox.graphql_url().to_owned(),
            dialog_url: sandbox.dialog_url().to_owned(),
            master_token: tray_sandbox::DEMO_MASTER_TOKEN.to_owned(),
            embedded_id: tray_sandbox::DEMO_EMBEDDED_ID.to_owned(),
            solution_tags: Vec::new(),
            allowed_origins: Vec::new(),
            widget_dir: Some(widget_dist()?),
            demo: true,
        };
        let proxy = Proxy::start(config).await?;
        Ok(Stack { sandbox, proxy })
    }
}

/// The trunk release build; `cargo xtask test` builds it and sets `WIDGET_DIST`.
pub fn widget_dist() -> Result<PathBuf, Error> {
    let dir = std::env::var_os("WIDGET_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../dist"));
    if dir.join("index.html").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "no built widget in {} (run `cargo xtask test`, which builds it first)",
            dir.display()
        )
        .into())
    }
}

/// A chromedriver child process and a WebDriver session on headless Chromium.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Browser {
    pub async fn start() -> Result<Browser, Error> {
        let chromedriver =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = free_port()?;
        let mut driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot start {chromedriver}: {err}"))?;
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--window-size=1280,900",
                ],
            }
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!("a JSON object literal"),
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(err) if Instant::now() > deadline => {
                    let _ = driver.kill();
                    return Err(format!("chromedriver did not accept a session: {err}").into());
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Ok(Browser { client, driver })
    }

    /// Texts of the elements matching `selector` inside the widget's shadow root,
    /// once at least one exists (or an error after `timeout`).
    pub async fn widget_texts(
        &self,
        selector: &str,
        timeout: Duration,
    ) -> Result<Vec<String>, Error> {
        let script = r#"
            const host = document.querySelector('[data-tray-marketplace]');
            const root = host && host.shadowRoot;
            if (!root) return [];
            return Array.from(root.querySelectorAll(arguments[0])).map(e => e.textContent.trim());
        "#;
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.client.execute(script, vec![json!(selector)]).await?;
            let texts: Vec<String> = serde_json::from_value(value)?;
            if !texts.is_empty() {
                return Ok(texts);
            }
            if Instant::now() > deadline {
                return Err(format!("no `{selector}` in the widget after {timeout:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// End the WebDriver session and stop chromedriver.
    pub async fn close(mut self) -> Result<(), Error> {
        let closed = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        closed.map_err(Into::into)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> Result<u16, Error> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
