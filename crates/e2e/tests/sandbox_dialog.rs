//! The sandbox's auth dialog in a real browser: a page on another origin opens it with
//! `window.open` and receives each of Tray's three messages, with their exact `type`.

use e2e::{Browser, HostPage};
use fantoccini::{wd::WindowHandle, Locator};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tray_sandbox::{Sandbox, SandboxConfig, DEMO_EMBEDDED_ID, DEMO_MASTER_TOKEN};

const SLACK_SOLUTION: &str = "3f1c9a52-6d0e-4d8b-9a51-0c1f6f2e7a01";
const SLACK_SLOT: &str = "external_slack_auth";

/// The host page: opens the dialog and records every message it receives.
const OPENER_PAGE: &str = r#"<!doctype html><html><body><h1>Host app</h1><script>
window.received = [];
window.addEventListener('message', function (event) {
  window.received.push({origin: event.origin, fromPopup: event.source === window.popup, data: event.data});
});
window.openDialog = function (url) { window.popup = window.open(url, 'tray-auth-' + Date.now(), 'width=480,height=640'); return !!window.popup; };
</script></body></html>"#;

async fn data(sandbox: &Sandbox, token: &str, query: &str, variables: Value) -> Value {
    let response = sandbox.execute(token, query, variables).await;
    assert!(response.get("errors").is_none(), "{response}");
    response["data"].clone()
}

/// A user with one Slack instance; returns (userId, instanceId).
async fn user_with_instance(sandbox: &Sandbox) -> (String, String) {
    let user = data(sandbox, DEMO_MASTER_TOKEN, "mutation { createExternalUser(input: {externalUserId: \"browser-user\", name: \"Browser User\"}) { userId } }", json!({})).await["createExternalUser"]["userId"]
        .as_str()
        .expect("userId")
        .to_owned();
    let token = data(
        sandbox,
        DEMO_MASTER_TOKEN,
        "mutation($u: ID!) { authorize(input: {userId: $u}) { accessToken } }",
        json!({"u": user}),
    )
    .await["authorize"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let instance = data(sandbox, &token, "mutation($s: ID!) { createSolutionInstance(input: {solutionId: $s, instanceName: \"Alerts\"}) { solutionInstance { id } } }", json!({"s": SLACK_SOLUTION})).await["createSolutionInstance"]["solutionInstance"]["id"]
        .as_str()
        .expect("instance")
        .to_owned();
    (user, instance)
}

async fn code(sandbox: &Sandbox, user: &str) -> String {
    data(sandbox, DEMO_MASTER_TOKEN, "mutation($u: ID!) { generateAuthorizationCode(input: {userId: $u}) { authorizationCode } }", json!({"u": user})).await["generateAuthorizationCode"]["authorizationCode"]
        .as_str()
        .expect("code")
        .to_owned()
}

/// Open `url` from the host page, click `button` in the popup (if any) and return the
/// first message the host received.
async fn run_dialog(
    browser: &Browser,
    host: &WindowHandle,
    url: &str,
    button: Option<&str>,
) -> Value {
    let client = &browser.client;
    client
        .switch_to_window(host.clone())
        .await
        .expect("host window");
    client
        .execute("window.received = [];", vec![])
        .await
        .expect("reset");
    let opened = client
        .execute("return window.openDialog(arguments[0]);", vec![json!(url)])
        .await
        .expect("open");
    assert_eq!(opened, json!(true), "the popup opened");
    if let Some(button) = button {
        let popup = wait_for_popup(browser, host).await;
        client.switch_to_window(popup).await.expect("popup window");
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(button))
            .await
            .expect("dialog button")
            .click()
            .await
            .expect("click");
        client
            .switch_to_window(host.clone())
            .await
            .expect("back to host");
    }
    first_message(browser, url).await
}

async fn first_message(browser: &Browser, url: &str) -> Value {
    let client = &browser.client;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let received = client
            .execute("return window.received;", vec![])
            .await
            .expect("read messages");
        if let Some(first) = received.as_array().and_then(|all| all.first()) {
            return first.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no message from the dialog at {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_popup(browser: &Browser, host: &WindowHandle) -> WindowHandle {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let windows = browser.client.windows().await.expect("windows");
        if let Some(popup) = windows.into_iter().find(|w| w != host) {
            return popup;
        }
        assert!(Instant::now() < deadline, "the popup never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn only_the_host_is_open(browser: &Browser, host: &WindowHandle) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while browser.client.windows().await.expect("windows") != [host.clone()] {
        assert!(Instant::now() < deadline, "a popup stayed open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_host_page_on_another_origin_receives_each_dialog_message() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts");
    let page = HostPage::bind().await.expect("bind opener");
    let opener_origin = page.origin.clone();
    let opener = page.serve(OPENER_PAGE.to_owned());
    assert_ne!(opener_origin, sandbox.dialog_url());
    let (user, instance) = user_with_instance(&sandbox).await;
    let create_url = |code: &str| {
        format!(
            "{}/external/auth/create/{DEMO_EMBEDDED_ID}/{instance}/{SLACK_SLOT}?code={code}",
            sandbox.dialog_url()
        )
    };

    let browser = Browser::start().await.expect("browser starts");
    browser
        .client
        .goto(&opener_origin)
        .await
        .expect("host page loads");
    let host = browser.client.window().await.expect("host window");

    let finish = run_dialog(
        &browser,
        &host,
        &create_url(&code(&sandbox, &user).await),
        Some("#allow"),
    )
    .await;
    assert_eq!(finish["data"]["type"], "tray.authpopup.finish", "{finish}");
    assert_eq!(finish["data"]["authType"], "oauth");
    assert!(
        finish["data"]["authId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{finish}"
    );
    assert_eq!(finish["origin"], sandbox.dialog_url());
    assert_eq!(finish["fromPopup"], true);

    let close = run_dialog(
        &browser,
        &host,
        &create_url(&code(&sandbox, &user).await),
        Some("#cancel"),
    )
    .await;
    assert_eq!(close["data"], json!({"type": "tray.authpopup.close"}));
    assert_eq!(close["origin"], sandbox.dialog_url());

    // Closing the popup without choosing also reports `close`. (The last popup closes
    // itself: gone first, or it would be taken for the new one.)
    only_the_host_is_open(&browser, &host).await;
    let url = create_url(&code(&sandbox, &user).await);
    let client = &browser.client;
    client
        .execute("window.received = [];", vec![])
        .await
        .expect("reset");
    client
        .execute("return window.openDialog(arguments[0]);", vec![json!(url)])
        .await
        .expect("open");
    let popup = wait_for_popup(&browser, &host).await;
    client.switch_to_window(popup).await.expect("popup window");
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#allow"))
        .await
        .expect("consent page");
    client.close_window().await.expect("close the popup");
    client
        .switch_to_window(host.clone())
        .await
        .expect("back to host");
    let closed = first_message(&browser, &url).await;
    assert_eq!(closed["data"], json!({"type": "tray.authpopup.close"}));

    // A code that was never issued: the dialog fails at once.
    let error = run_dialog(&browser, &host, &create_url("not-a-code"), None).await;
    assert_eq!(error["data"]["type"], "tray.authPopup.error", "{error}");
    assert_eq!(
        error["data"]["error"],
        "The authorization code is not valid"
    );
    assert_eq!(error["origin"], sandbox.dialog_url());

    browser.close().await.expect("browser closes");
    opener.abort();
    sandbox.stop().await;
}
