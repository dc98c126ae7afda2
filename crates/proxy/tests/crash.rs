//! The real `marketplace-proxy` binary on a SQLite file, killed (SIGKILL) halfway through
//! a two-slot connect and started again on the same file: the connect finishes with
//! exactly one instance, both auths attached, enabled. And its stop: a second Ctrl-C
//! does not wait for what the first one lets finish.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use marketplace_proxy::DEMO_JWT_SECRET;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::{
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};
use tray_sandbox::{Sandbox, SandboxConfig};

mod support;

/// GitHub to Asana: two OAuth auth slots.
const GITHUB_ASANA: &str = "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c09";
const GITHUB_SLOT: &str = "external_github_auth";
const ASANA_SLOT: &str = "external_asana_auth";

/// A proxy process; killed when dropped, never looked up by name.
struct ProxyProcess {
    child: Child,
    url: String,
    /// What it wrote to stderr so far (also echoed, for a failing test's output).
    stderr: Arc<Mutex<String>>,
}

impl ProxyProcess {
    async fn spawn(sandbox: &Sandbox, database_url: &str) -> ProxyProcess {
        Self::spawn_against(sandbox.graphql_url(), sandbox.dialog_url(), database_url).await
    }

    async fn spawn_against(
        graphql_url: &str,
        dialog_url: &str,
        database_url: &str,
    ) -> ProxyProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_marketplace-proxy"))
            .args(["--listen", "127.0.0.1:0"])
            .args(["--tray-graphql-url", graphql_url])
            .args(["--tray-dialog-url", dialog_url])
            .args(["--embedded-id", tray_sandbox::DEMO_EMBEDDED_ID])
            .args(["--database-url", database_url])
            .env("TRAY_MASTER_TOKEN", tray_sandbox::DEMO_MASTER_TOKEN)
            .env("HOST_JWT_SECRET", DEMO_JWT_SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the proxy binary starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut stderr_lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let written = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr_lines.next_line().await {
                eprintln!("{line}");
                let mut written = written.lock().expect("not poisoned");
                written.push_str(&line);
                written.push('\n');
            }
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("reads stdout") {
                if let Some(url) = line.strip_prefix("proxy url=") {
                    return url.trim().to_owned();
                }
            }
            panic!("the proxy exited before printing its url");
        })
        .await
        .expect("the proxy prints its url");
        // Keep draining, so a full pipe never blocks the proxy.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ProxyProcess { child, url, stderr }
    }

    /// SIGKILL: no graceful shutdown, whatever was in flight is cut off.
    async fn kill(mut self) {
        self.child.kill().await.expect("kills the proxy");
    }
}

struct User {
    http: reqwest::Client,
    token: String,
}

impl User {
    fn new(id: &str) -> User {
        let claims = json!({ "sub": id, "exp": support::an_hour_from_now() });
        let token = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(DEMO_JWT_SECRET.as_bytes()),
        )
        .expect("signs");
        User {
            http: reqwest::Client::new(),
            token,
        }
    }

    async fn call(
        &self,
        proxy: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), reqwest::Error> {
        let mut request = self
            .http
            .request(method, format!("{proxy}/api/v1{path}"))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    async fn ok(&self, proxy: &str, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self
            .call(proxy, method.clone(), path, body)
            .await
            .expect("the proxy answers");
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    }

    /// Open the sandbox dialog for `slot` and press Allow; the new authId.
    async fn authorize(&self, proxy: &str, instance_id: &str, slot: &str) -> String {
        let dialog = self
            .ok(
                proxy,
                Method::POST,
                &format!("/instances/{instance_id}/auth-dialog"),
                Some(json!({ "slot": slot })),
            )
            .await;
        let page = self
            .http
            .post(dialog["url"].as_str().expect("url"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("action=allow")
            .send()
            .await
            .expect("dialog answers")
            .text()
            .await
            .expect("page");
        let marker = r#"id="tray-message">"#;
        let start = page.find(marker).expect("message") + marker.len();
        let end = start + page[start..].find("</script>").expect("end");
        let message: Value = serde_json::from_str(&page[start..end]).expect("json");
        assert_eq!(message["type"], "tray.authpopup.finish", "{message}");
        message["authId"].as_str().expect("authId").to_owned()
    }
}

fn create_body() -> Value {
    json!({ "solutionId": GITHUB_ASANA, "idempotencyKey": "connect-click-1" })
}

#[tokio::test]
async fn a_proxy_killed_halfway_through_a_two_slot_connect_finishes_it_after_restart() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts");
    let dir = std::env::temp_dir().join(format!("proxy-crash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let database_url = sqlite_url(&dir.join("proxy.db"));
    let external_id = format!("crash-{}", uuid::Uuid::new_v4());
    let user = User::new(&external_id);

    let first = ProxyProcess::spawn(&sandbox, &database_url).await;
    let created = user
        .ok(&first.url, Method::POST, "/instances", Some(create_body()))
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let github_auth = user.authorize(&first.url, &id, GITHUB_SLOT).await;
    user.ok(
        &first.url,
        Method::PUT,
        &format!("/instances/{id}/auths/{GITHUB_SLOT}"),
        Some(json!({ "authId": github_auth })),
    )
    .await;
    let asana_auth = user.authorize(&first.url, &id, ASANA_SLOT).await;
    // The second attach is on its way when the process dies: its outcome is unknown.
    let attach_path = format!("/instances/{id}/auths/{ASANA_SLOT}");
    let first_url = first.url.clone();
    let in_flight = user.call(
        &first_url,
        Method::PUT,
        &attach_path,
        Some(json!({ "authId": asana_auth })),
    );
    let (_, ()) = tokio::join!(in_flight, first.kill());

    let second = ProxyProcess::spawn(&sandbox, &database_url).await;
    // The widget retries its create with the same idempotency key: the same instance.
    let again = user
        .ok(&second.url, Method::POST, "/instances", Some(create_body()))
        .await;
    assert_eq!(
        again["id"],
        id.as_str(),
        "the retried create made another instance"
    );
    user.ok(
        &second.url,
        Method::PUT,
        &attach_path,
        Some(json!({ "authId": asana_auth })),
    )
    .await;
    let enabled = user
        .ok(
            &second.url,
            Method::PATCH,
            &format!("/instances/{id}"),
            Some(json!({ "enabled": true })),
        )
        .await;
    assert_eq!(enabled["status"], "connected", "{enabled}");

    // Tray's own records: one instance, both auths, enabled, enabled no sooner than allowed.
    let answer = sandbox
        .execute(
            tray_sandbox::DEMO_MASTER_TOKEN,
            "query { viewer { solutionInstances(first: 100) { edges { node {
                id enabled owner authValues { externalId authId } } } } } }",
            json!({}),
        )
        .await;
    let users = sandbox
        .execute(
            tray_sandbox::DEMO_MASTER_TOKEN,
            "query($e: String) { users(criteria: { externalUserId: $e }) { edges { node { id } } } }",
            json!({ "e": external_id }),
        )
        .await;
    let owner = users["data"]["users"]["edges"][0]["node"]["id"].clone();
    let held: Vec<&Value> = answer["data"]["viewer"]["solutionInstances"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| &edge["node"])
        .filter(|node| node["owner"] == owner)
        .collect();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["id"], id.as_str());
    assert_eq!(held[0]["enabled"], true);
    let mut auths: Vec<(String, String)> = held[0]["authValues"]
        .as_array()
        .expect("auth values")
        .iter()
        .map(|v| {
            (
                v["externalId"].as_str().unwrap_or_default().to_owned(),
                v["authId"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    auths.sort();
    assert_eq!(
        auths,
        vec![
            (ASANA_SLOT.to_owned(), asana_auth),
            (GITHUB_SLOT.to_owned(), github_auth)
        ]
    );
    assert_eq!(sandbox.stats().early_enables, 0);

    second.kill().await;
    sandbox.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// Send `signal` (a `kill` name: `INT`, `TERM`) to this process, by its PID.
fn signal(child: &Child, signal: &str) {
    let pid = child.id().expect("still running").to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}");
}

#[tokio::test]
async fn a_second_ctrl_c_stops_the_proxy_at_once() {
    // A Tray that accepts connections and never answers: a catalog load stalls in it,
    // and the first Ctrl-C's stop waits for that request (up to the request's time).
    let stalled = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let tray = format!("http://{}", stalled.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = stalled.accept().await {
            held.push(connection);
        }
    });
    let mut proxy =
        ProxyProcess::spawn_against(&format!("{tray}/graphql"), &tray, "sqlite::memory:").await;
    let user = User::new(&format!("stop-{}", uuid::Uuid::new_v4()));
    let url = proxy.url.clone();
    let _stalled_load = tokio::spawn(async move {
        let _ = user.call(&url, Method::GET, "/integrations", None).await;
    });
    // The load is in the proxy and waits on Tray.
    tokio::time::sleep(Duration::from_millis(500)).await;

    signal(&proxy.child, "INT");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        proxy.child.try_wait().expect("waits").is_none(),
        "the first Ctrl-C did not wait for the request under way"
    );

    signal(&proxy.child, "INT");
    // The request's time is 30 s: without the second signal it would still be waiting.
    let status = tokio::time::timeout(Duration::from_secs(10), proxy.child.wait())
        .await
        .expect("the second Ctrl-C stopped the proxy at once")
        .expect("exit status");
    assert!(
        !status.success(),
        "cut off work must not read as a clean stop"
    );
    let stderr = proxy.stderr.lock().expect("not poisoned").clone();
    assert!(stderr.contains("second signal"), "{stderr}");
}
