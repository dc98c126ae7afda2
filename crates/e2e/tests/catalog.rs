//! The walking skeleton: widget (wasm in Chromium) → proxy → sandbox and back.

use e2e::{Browser, Stack};
use std::time::Duration;

#[tokio::test]
async fn demo_page_shows_the_published_integration_titles() {
    let stack = Stack::start().await.expect("stack starts");
    let browser = Browser::start().await.expect("browser starts");
    browser
        .client
        .goto(&stack.proxy.url())
        .await
        .expect("page loads");

    let titles = browser
        .widget_texts(".tm-title", Duration::from_secs(20))
        .await
        .expect("titles render");

    assert!(
        titles.contains(&"Slack notifications".to_owned()),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"Jira issues to Slack".to_owned()),
        "{titles:?}"
    );
    // Unpublished solutions never reach the user.
    assert!(
        !titles.contains(&"Legacy FTP import".to_owned()),
        "{titles:?}"
    );
    assert_eq!(titles.len(), 9, "{titles:?}");
    browser.close().await.expect("browser closes");
}
