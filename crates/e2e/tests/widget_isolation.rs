//! The demo host page sets aggressive global CSS (fonts, margins, borders, uppercase,
//! !important button colours). The widget, in its shadow root, must look the same with
//! and without it.

use e2e::{Browser, Error, Stack};
use serde_json::Value;
use std::time::Duration;

const SAMPLE: &str = r#"
    const root = document.querySelector('[data-tray-marketplace]').shadowRoot;
    const props = ['font-family', 'font-size', 'color', 'background-color', 'margin-top',
        'padding-top', 'border-top-style', 'border-top-width', 'text-transform',
        'letter-spacing', 'line-height', 'box-sizing'];
    return ['.tm-root', '.tm-search', '.tm-card', '.tm-title', '.tm-description',
            '.tm-card-action', '.tm-badge'].map(sel => {
        const el = root.querySelector(sel);
        if (!el) return [sel, null];
        const style = getComputedStyle(el);
        return [sel, props.map(p => p + ': ' + style.getPropertyValue(p))];
    });
"#;

#[tokio::test]
async fn aggressive_host_css_does_not_change_the_widget() -> Result<(), Error> {
    let stack = Stack::start().await?;
    let browser = Browser::start().await?;
    browser.client.goto(&stack.proxy.url()).await?;
    browser
        .widget_texts(".tm-title", Duration::from_secs(20))
        .await?;

    // The host's CSS really is aggressive: it changes the page's own elements.
    let host_font: Value = browser
        .client
        .execute(
            "return getComputedStyle(document.querySelector('h1')).fontFamily;",
            vec![],
        )
        .await?;
    assert!(host_font.to_string().contains("Comic"), "{host_font}");

    let styled = browser.client.execute(SAMPLE, vec![]).await?;
    browser
        .client
        .execute(
            "document.querySelectorAll('style:not([data-keep])').forEach(s => s.remove());",
            vec![],
        )
        .await?;
    let plain = browser.client.execute(SAMPLE, vec![]).await?;

    assert!(
        styled
            .as_array()
            .is_some_and(|rows| rows.iter().all(|row| !row[1].is_null())),
        "every sampled element exists: {styled}"
    );
    assert_eq!(styled, plain, "host CSS leaked into the widget");
    browser.close().await
}
