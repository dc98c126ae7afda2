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
    os::unix::process::CommandExt,
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
        Self::start_allowing(Vec::new()).await
    }

    /// With host pages on `origins` allowed to call the proxy's API (CORS).
    pub async fn start_allowing(origins: Vec<String>) -> Result<Stack, Error> {
        Self::start_with(|config| config.allowed_origins = origins).await
    }

    /// With the proxy's configuration adjusted by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Result<Stack, Error> {
        let sandbox = Sandbox::start(SandboxConfig::default()).await?;
        let mut config = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            widget_dir: Some(widget_dist()?),
            demo: true,
            ..Config::for_endpoint(
                sandbox.graphql_url(),
                sandbox.dialog_url(),
                tray_sandbox::DEMO_MASTER_TOKEN,
                tray_sandbox::DEMO_EMBEDDED_ID,
            )
        };
        adjust(&mut config);
        let proxy = Proxy::start(config).await?;
        Ok(Stack { sandbox, proxy })
    }
}

/// A host app's page on its own origin (an ephemeral loopback port): every request
/// gets `html`, but `GET /token`, which gets the host user's token as text when one is
/// given (the host backend's token URL). Bind first (the origin may be needed to write
/// the page), then serve.
pub struct HostPage {
    listener: tokio::net::TcpListener,
    pub origin: String,
}

impl HostPage {
    pub async fn bind() -> Result<HostPage, Error> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        Ok(HostPage { listener, origin })
    }

    /// Serves until the returned task is aborted (or the test ends).
    pub fn serve(self, html: String) -> tokio::task::JoinHandle<()> {
        self.serve_with_token(html, None)
    }

    /// `serve`, answering `GET /token` with `token`.
    pub fn serve_with_token(
        self,
        html: String,
        token: Option<String>,
    ) -> tokio::task::JoinHandle<()> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = self.listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let (kind, body) = match &token {
                    Some(token) if request.starts_with(b"GET /token ") => ("text/plain", token),
                    _ => ("text/html", &html),
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {kind}; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        })
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
    /// chromedriver's TMPDIR, so Chromium's own: its profile and singleton-socket
    /// directories, which a killed Chromium leaves behind, go with it.
    _scratch: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Result<Browser, Error> {
        let chromedriver =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = free_port()?;
        let scratch = tempfile::Builder::new().prefix("e2e-chromium-").tempdir()?;
        // Its own process group, which Chromium inherits: `Drop` can then stop both,
        // even when a test panics before `close()`.
        let mut driver = Command::new(&chromedriver)
            .process_group(0)
            .env("TMPDIR", scratch.path())
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
                    stop_process_group(&mut driver);
                    return Err(format!("chromedriver did not accept a session: {err}").into());
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Ok(Browser {
            client,
            driver,
            _scratch: scratch,
        })
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

    /// End the WebDriver session, then stop chromedriver and Chromium.
    pub async fn close(self) -> Result<(), Error> {
        // Dropping `self` afterwards stops the processes.
        self.client.clone().close().await.map_err(Into::into)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        stop_process_group(&mut self.driver);
    }
}

/// SIGKILL to the group led by `child` (chromedriver and the Chromium it started),
/// then reap the child. Only our own group, never processes found by name.
fn stop_process_group(child: &mut Child) {
    if let Ok(group) = libc::pid_t::try_from(child.id()) {
        // SAFETY: killpg only sends a signal; `group` is the id of a process group this
        // process created (`process_group(0)` at spawn) and has not yet reaped.
        unsafe {
            libc::killpg(group, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A Chrome DevTools command, through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct DevTools {
    method: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.method, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

impl Browser {
    /// Presses and releases `key` where the focus is (inside the shadow root too).
    pub async fn press(&self, key: fantoccini::key::Key) -> Result<(), Error> {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let value = char::from(key);
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
        self.client.perform_actions(actions).await?;
        Ok(())
    }

    /// Emulates CSS media features for the page, e.g. `("forced-colors", "active")`.
    pub async fn emulate_media(&self, features: &[(&str, &str)]) -> Result<(), Error> {
        let features: Vec<Value> = features
            .iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect();
        self.client
            .issue_cmd(DevTools {
                method: "Emulation.setEmulatedMedia",
                params: json!({ "features": features }),
            })
            .await?;
        Ok(())
    }
}

/// The widget's shadow root as `root` (null when not mounted) for scripts below.
const WIDGET_ROOT: &str = r#"
    const host = document.querySelector('[data-tray-marketplace]');
    const root = host && host.shadowRoot;
"#;

impl Browser {
    /// Runs `body` (which sees `root`, the widget's shadow root, and `args`) until it
    /// returns something other than null/false, or fails after `timeout`.
    pub async fn widget_wait(
        &self,
        body: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<Value, Error> {
        let script = format!("{WIDGET_ROOT}\nif (!root) return null;\n{body}");
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.client.execute(&script, args.clone()).await?;
            if !matches!(value, Value::Null | Value::Bool(false)) {
                return Ok(value);
            }
            if Instant::now() > deadline {
                return Err(
                    format!("widget never satisfied `{body}` {args:?} within {timeout:?}").into(),
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the first element matching `selector` in the widget once it exists and is
    /// enabled (`el.click()`; chromedriver does not block popups).
    pub async fn widget_click(&self, selector: &str) -> Result<(), Error> {
        self.widget_wait(
            "const el = root.querySelector(arguments[0]);
             if (!el || el.disabled || el.ariaDisabled === 'true') return null;
             el.click();
             return true;",
            vec![json!(selector)],
            Duration::from_secs(20),
        )
        .await
        .map(drop)
    }

    /// Sets an input's value the way typing does (an `input` event).
    pub async fn widget_type(&self, selector: &str, text: &str) -> Result<(), Error> {
        self.widget_wait(
            "const el = root.querySelector(arguments[0]);
             if (!el) return null;
             el.focus();
             el.value = arguments[1];
             el.dispatchEvent(new Event('input', { bubbles: true }));
             return true;",
            vec![json!(selector), json!(text)],
            Duration::from_secs(20),
        )
        .await
        .map(drop)
    }

    /// Waits until an element matching `selector` has text containing `text`.
    pub async fn widget_wait_text(&self, selector: &str, text: &str) -> Result<(), Error> {
        self.widget_wait(
            "return Array.from(root.querySelectorAll(arguments[0]))
                 .some(e => e.textContent.includes(arguments[1]));",
            vec![json!(selector), json!(text)],
            Duration::from_secs(20),
        )
        .await
        .map(drop)
    }

    /// The badge text of the catalog card whose title is `title`.
    pub async fn card_badge(&self, title: &str) -> Result<String, Error> {
        let value = self
            .widget_wait(
                "const card = Array.from(root.querySelectorAll('.tm-card'))
                     .find(c => c.querySelector('.tm-title')?.textContent.trim() === arguments[0]);
                 return card ? card.querySelector('.tm-badge').textContent.trim() : null;",
                vec![json!(title)],
                Duration::from_secs(20),
            )
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// Waits until the card titled `title` shows the badge `expected`.
    pub async fn wait_card_badge(&self, title: &str, expected: &str) -> Result<(), Error> {
        self.widget_wait(
            "const card = Array.from(root.querySelectorAll('.tm-card'))
                 .find(c => c.querySelector('.tm-title')?.textContent.trim() === arguments[0]);
             return !!card && card.querySelector('.tm-badge').textContent.trim() === arguments[1];",
            vec![json!(title), json!(expected)],
            Duration::from_secs(20),
        )
        .await
        .map(drop)
    }

    /// Whether an element matching `selector` exists in the widget right now.
    pub async fn widget_has(&self, selector: &str) -> Result<bool, Error> {
        let script = format!("{WIDGET_ROOT}\nreturn !!(root && root.querySelector(arguments[0]));");
        Ok(self.client.execute(&script, vec![json!(selector)]).await? == Value::Bool(true))
    }

    /// Clicks the main button of the card titled `title`.
    pub async fn click_card_action(&self, title: &str) -> Result<(), Error> {
        self.widget_wait(
            "const card = Array.from(root.querySelectorAll('.tm-card'))
                 .find(c => c.querySelector('.tm-title')?.textContent.trim() === arguments[0]);
             const button = card && card.querySelector('.tm-card-action');
             if (!button || button.disabled || button.ariaDisabled === 'true') return null;
             button.click();
             return true;",
            vec![json!(title)],
            Duration::from_secs(20),
        )
        .await
        .map(drop)
    }

    /// Waits for a second window (the auth popup) and switches to it; returns the main
    /// window's handle for [`Browser::switch_back`].
    pub async fn switch_to_popup(&self) -> Result<fantoccini::wd::WindowHandle, Error> {
        let main = self.client.window().await?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let windows = self.client.windows().await?;
            if let Some(popup) = windows.into_iter().find(|w| *w != main) {
                self.client.switch_to_window(popup).await?;
                return Ok(main);
            }
            if Instant::now() > deadline {
                return Err("no popup window opened".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// In the popup: waits for `selector` (a page of the sandbox's dialog) and clicks it.
    pub async fn popup_click(&self, selector: &str) -> Result<(), Error> {
        let element = self
            .client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(fantoccini::Locator::Css(selector))
            .await?;
        element.click().await?;
        Ok(())
    }

    /// Waits until only the main window is left, then switches back to it.
    pub async fn switch_back(&self, main: fantoccini::wd::WindowHandle) -> Result<(), Error> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.client.windows().await?.len() > 1 {
            if Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.client.switch_to_window(main).await?;
        Ok(())
    }

    /// Runs a whole auth dialog: click `trigger` in the widget, then in the popup fill
    /// the API key (when the dialog asks for one) and press Allow/Connect.
    pub async fn authorize_in_popup(&self, trigger: &str, api_key: &str) -> Result<(), Error> {
        let main = self.open_consent_popup(trigger).await?;
        self.consent_in_popup(main, api_key).await
    }

    /// Clicks `trigger` and waits in the popup for Tray's consent page; returns the
    /// main window, for `consent_in_popup`.
    pub async fn open_consent_popup(
        &self,
        trigger: &str,
    ) -> Result<fantoccini::wd::WindowHandle, Error> {
        self.widget_click(trigger).await?;
        let main = self.switch_to_popup().await?;
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(fantoccini::Locator::Css("#consent"))
            .await?;
        Ok(main)
    }

    /// Consents on the popup's page (with `api_key` where it asks for one) and goes
    /// back to `main` once the popup has closed.
    pub async fn consent_in_popup(
        &self,
        main: fantoccini::wd::WindowHandle,
        api_key: &str,
    ) -> Result<(), Error> {
        if let Ok(input) = self.client.find(fantoccini::Locator::Css("#api_key")).await {
            input.send_keys(api_key).await?;
            self.popup_click("#connect").await?;
        } else {
            self.popup_click("#allow").await?;
        }
        self.switch_back(main).await
    }
}

fn free_port() -> Result<u16, Error> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
