//! Embedding with one script tag, as a host app on its own origin does, under the strict
//! Content-Security-Policy docs/widget.md documents: embed.js from the proxy mounts the
//! marked container with its `data-*` options, leaves `data-manual` containers to the
//! host, starts the catalog request while the wasm loads, and the widget is styled
//! without `'unsafe-inline'` styles.

use e2e::{Browser, HostPage, Stack};
use serde_json::json;
use std::time::Duration;

type Result<T = ()> = std::result::Result<T, e2e::Error>;

/// A host user's token, as the host app's backend would sign it (the demo endpoint).
async fn host_token(browser: &Browser, proxy: &str) -> Result<String> {
    browser.client.goto(&format!("{proxy}/healthz")).await?;
    let token = browser
        .client
        .execute_async(
            "const done = arguments[0];
             fetch('/demo/token', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                   body: JSON.stringify({userId: 'script-tag-user', name: 'Script Tag'})})
               .then(r => r.json()).then(j => done(j.token), e => done(null));",
            vec![],
        )
        .await?;
    Ok(token.as_str().ok_or("no demo token")?.to_owned())
}

#[tokio::test]
async fn a_script_tag_on_another_origin_mounts_the_marked_container() -> Result {
    let page = HostPage::bind().await?;
    let host_origin = page.origin.clone();
    let stack = Stack::start_allowing(vec![host_origin.clone()]).await?;
    let browser = Browser::start().await?;
    let proxy = stack.proxy.url();
    let token = host_token(&browser, &proxy).await?;
    let html = format!(
        r#"<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src {proxy} 'wasm-unsafe-eval'; connect-src {proxy}; img-src {proxy}; style-src 'self'">
<script type="module" src="{proxy}/widget/embed.js"></script></head><body>
<div id="auto" data-tray-marketplace data-proxy-url="{proxy}" data-token="{token}" data-locale="de"></div>
<div id="manual" data-tray-marketplace data-manual></div>
</body></html>"#
    );
    let _host = page.serve(html);
    browser.client.goto(&host_origin).await?;

    let titles = browser
        .widget_texts(".tm-title", Duration::from_secs(20))
        .await?;
    assert_eq!(titles.len(), 9, "{titles:?}");
    // data-locale="de" reached the widget.
    let actions = browser
        .widget_texts(".tm-card-action", Duration::from_secs(5))
        .await?;
    assert!(actions.iter().all(|a| a == "Verbinden"), "{actions:?}");

    let page_state = browser
        .client
        .execute(
            "return {
               manualMounted: !!document.getElementById('manual').shadowRoot,
               catalogRequests: performance.getEntriesByType('resource')
                 .filter(e => e.name.endsWith('/api/v1/integrations')).length,
               cardRadius: getComputedStyle(document.getElementById('auto').shadowRoot
                 .querySelector('.tm-card')).borderTopLeftRadius,
             };",
            vec![],
        )
        .await?;
    assert_eq!(
        page_state,
        json!({"manualMounted": false, "catalogRequests": 1, "cardRadius": "8px"}),
        "the data-manual container is the host's; the early catalog request is the only \
         one; the widget's stylesheet applies under a CSP without 'unsafe-inline'"
    );
    browser.close().await?;
    Ok(())
}
