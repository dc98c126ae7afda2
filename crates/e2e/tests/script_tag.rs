//! Embedding with one script tag, as a host app on its own origin does, under the strict
//! Content-Security-Policy docs/widget.md documents: embed.js from the proxy mounts the
//! marked container with its `data-*` options, leaves `data-manual` containers to the
//! host, starts the catalog request while the wasm loads, and the widget is styled
//! without `'unsafe-inline'` styles.

use e2e::{Browser, HostPage, Stack};
use serde_json::json;
use std::time::Duration;
use tray_sandbox::Faults;

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

/// A host page on an origin of its own, which a fresh stack's proxy allows, open in a
/// browser; `html` is given the proxy's URL and a host user's token.
async fn open_host_page(
    html: impl FnOnce(&str, &str) -> String,
) -> Result<(Stack, Browser, tokio::task::JoinHandle<()>)> {
    open_host_page_with(Faults::default(), html).await
}

/// `open_host_page`, with Tray (the sandbox) misbehaving as `faults` say.
async fn open_host_page_with(
    faults: Faults,
    html: impl FnOnce(&str, &str) -> String,
) -> Result<(Stack, Browser, tokio::task::JoinHandle<()>)> {
    open_host_page_serving(faults, false, html).await
}

/// `open_host_page_with`; the host page's origin also hands out the user's token at
/// `/token` when `token_url` is set.
async fn open_host_page_serving(
    faults: Faults,
    token_url: bool,
    html: impl FnOnce(&str, &str) -> String,
) -> Result<(Stack, Browser, tokio::task::JoinHandle<()>)> {
    let page = HostPage::bind().await?;
    let host_origin = page.origin.clone();
    let stack = Stack::start_allowing(vec![host_origin.clone()]).await?;
    let browser = Browser::start().await?;
    let proxy = stack.proxy.url();
    let token = host_token(&browser, &proxy).await?;
    stack.sandbox.set_faults(faults);
    let page_html = html(&proxy, &token);
    let server = page.serve_with_token(page_html, token_url.then_some(token));
    browser.client.goto(&host_origin).await?;
    Ok((stack, browser, server))
}

/// Waits until the widget shows every integration the sandbox offers.
async fn the_whole_catalog_shows(browser: &Browser) -> Result {
    let titles = browser
        .widget_texts(".tm-title", Duration::from_secs(20))
        .await?;
    assert_eq!(titles.len(), 9, "{titles:?}");
    Ok(())
}

#[tokio::test]
async fn a_script_tag_on_another_origin_mounts_the_marked_container() -> Result {
    let (_stack, browser, _host) = open_host_page(|proxy, token| format!(
        r#"<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src {proxy} 'wasm-unsafe-eval'; connect-src {proxy}; img-src {proxy}; style-src 'self'; require-trusted-types-for 'script'">
<script type="module" src="{proxy}/widget/embed.js"></script></head><body>
<div id="auto" data-tray-marketplace data-proxy-url="{proxy}" data-token="{token}" data-locale="de"></div>
<div id="manual" data-tray-marketplace data-manual></div>
</body></html>"#
    ))
    .await?;

    the_whole_catalog_shows(&browser).await?;
    let enforced = browser
        .client
        .execute(
            "try { document.createElement('div').innerHTML = '<b>x</b>'; return false; }
             catch (e) { return e instanceof TypeError; }",
            vec![],
        )
        .await?;
    assert_eq!(enforced, json!(true), "the page enforces Trusted Types");
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

/// No token in the page: the container names the host backend's token URL, and the
/// widget asks it for one (and again whenever its token expires).
#[tokio::test]
async fn a_script_tag_gets_its_token_from_the_hosts_token_url() -> Result {
    let (_stack, browser, _host) = open_host_page_serving(Faults::default(), true, |proxy, _| {
        format!(
            r#"<!doctype html><html><head><meta charset="utf-8">
<script type="module" src="{proxy}/widget/embed.js"></script></head><body>
<div data-tray-marketplace data-proxy-url="{proxy}" data-token-url="/token"></div>
</body></html>"#
        )
    })
    .await?;
    the_whole_catalog_shows(&browser).await?;
    let token_requests = browser
        .client
        .execute(
            "return performance.getEntriesByType('resource')
               .filter(e => new URL(e.name).pathname === '/token').length;",
            vec![],
        )
        .await?;
    assert_eq!(token_requests, json!(1));
    browser.close().await?;
    Ok(())
}

/// A widget whose files a CSP blocks says so on its container, where the host listens
/// for its errors, instead of leaving an empty box; and it leaves no unhandled rejection
/// behind, which a host's error monitoring would take for its own page crashing.
#[tokio::test]
async fn a_widget_that_cannot_load_tells_the_host() -> Result {
    // WebAssembly compilation blocked; the `.wasm` fetch itself blocked; that again on
    // a page (a single-page app, say) that mounts only a second after the failure.
    for (blocked, says, later) in [
        (
            "script-src {proxy} 'unsafe-inline'; connect-src {proxy}",
            "",
            false,
        ),
        (
            "script-src {proxy} 'unsafe-inline' 'wasm-unsafe-eval'; connect-src 'none'",
            "integrations-widget_bg.wasm",
            false,
        ),
        (
            "script-src {proxy} 'unsafe-inline' 'wasm-unsafe-eval'; connect-src 'none'",
            "integrations-widget_bg.wasm",
            true,
        ),
    ] {
        let (_stack, browser, _host) = open_host_page(|proxy, token| {
            let policy = blocked.replace("{proxy}", proxy);
            let (manual, mount_later) = if later {
                (
                    " data-manual",
                    r#"addEventListener("tray-marketplace:loaded", () => setTimeout(() => {
    const element = document.querySelector("[data-tray-marketplace]");
    TrayMarketplace.mount(element, { ...element.dataset });
  }, 1000));"#,
                )
            } else {
                ("", "")
            };
            format!(
                r#"<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; {policy}">
<script>
  window.loadErrors = [];
  window.unhandled = [];
  document.addEventListener("tray-marketplace:error", (e) => loadErrors.push(e.detail.message));
  window.addEventListener("unhandledrejection", (e) => unhandled.push(String(e.reason)));
  {mount_later}
</script>
<script type="module" src="{proxy}/widget/embed.js"></script></head><body>
<div data-tray-marketplace{manual} data-proxy-url="{proxy}" data-token="{token}"></div>
</body></html>"#
            )
        })
        .await?;
        let mut errors = json!([]);
        for _ in 0..100 {
            errors = browser
                .client
                .execute("return window.loadErrors;", vec![])
                .await?;
            if errors.as_array().is_some_and(|e| !e.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let first = errors[0].as_str().unwrap_or_default();
        assert!(first.starts_with("the widget failed to load"), "{errors}");
        assert!(first.contains(says), "{errors}");
        // Rejections are reported a task after they happen.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let unhandled = browser
            .client
            .execute("return window.unhandled;", vec![])
            .await?;
        assert_eq!(unhandled, json!([]), "{blocked}");
        browser.close().await?;
    }
    Ok(())
}

/// A theme the widget does not know (a typo) falls back to following the system, and
/// the developer is told so in the console instead of left guessing.
#[tokio::test]
async fn an_unknown_theme_is_named_in_the_console() -> Result {
    let (_stack, browser, _host) = open_host_page(|proxy, token| {
        format!(
            r#"<!doctype html><html><head><meta charset="utf-8">
<script>
  window.warnings = [];
  const warn = console.warn;
  console.warn = (...args) => {{ warnings.push(args.join(" ")); warn(...args); }};
</script>
<script type="module" src="{proxy}/widget/embed.js"></script></head><body>
<div data-tray-marketplace data-proxy-url="{proxy}" data-token="{token}" data-theme="Dark"></div>
</body></html>"#
        )
    })
    .await?;
    the_whole_catalog_shows(&browser).await?;
    let warnings = browser
        .client
        .execute("return window.warnings;", vec![])
        .await?;
    assert!(
        warnings.to_string().contains(r#"theme \"Dark\""#),
        "{warnings}"
    );
    let theme = browser
        .client
        .execute(
            "return document.querySelector('[data-tray-marketplace]').dataset.tmTheme;",
            vec![],
        )
        .await?;
    assert_eq!(theme, json!("system"));
    browser.close().await?;
    Ok(())
}

/// Mistakes of the host's are refused or reported, never silent: `mount` without an
/// element, or into a container with a shadow root of the host's own (which the widget
/// would empty; open or closed) or that cannot have one, throws and leaves it as it was; an `onEvent` that throws is reported as
/// the page's uncaught error (the console, `onerror`) while the widget goes on.
#[tokio::test]
async fn a_hosts_mistakes_are_refused_or_reported() -> Result {
    let (_stack, browser, _host) = open_host_page(|proxy, token| {
        format!(
            r#"<!doctype html><html><head><meta charset="utf-8">
<script type="module" src="{proxy}/widget/embed.js"></script>
<script>
  window.reported = [];
  window.addEventListener("error", (e) => reported.push(e.message));
  window.addEventListener("tray-marketplace:loaded", () => {{
    const refusal = (element) => {{
      try {{ TrayMarketplace.mount(element, {{ proxyUrl: "{proxy}", token: "{token}" }}); }}
      catch (error) {{ return error.name + ": " + error.message; }}
    }};
    const theirs = document.getElementById("theirs");
    theirs.attachShadow({{ mode: "open" }}).innerHTML = "<p>mine</p>";
    // A closed shadow root does not show in `shadowRoot`; an <li> cannot have one.
    const closed = document.getElementById("closed");
    window.closedRoot = closed.attachShadow({{ mode: "closed" }});
    closedRoot.innerHTML = "<p>closed</p>";
    window.refused = {{
      noElement: refusal(null), theirs: refusal(theirs),
      closed: refusal(closed), item: refusal(document.getElementById("item")),
    }};
    TrayMarketplace.mount(document.getElementById("ours"), {{
      proxyUrl: "{proxy}", token: "{token}",
      onEvent: (event) => {{ throw new Error("host bug in " + event.type); }},
    }});
  }});
</script></head><body>
<div id="ours" data-tray-marketplace data-manual></div>
<div id="theirs"></div>
<div id="closed"></div>
<ul><li id="item">the host's own</li></ul>
<div id="tagged" data-tray-marketplace data-proxy-url="{proxy}" data-token="{token}"></div>
<script>
  document.getElementById("tagged").attachShadow({{ mode: "open" }}).innerHTML = "<p>tagged</p>";
</script>
</body></html>"#
        )
    })
    .await?;
    the_whole_catalog_shows(&browser).await?;
    let seen = browser
        .client
        .execute(
            "return { refused, reported,
               theirs: document.getElementById('theirs').shadowRoot.innerHTML,
               closed: closedRoot.innerHTML,
               item: document.getElementById('item').innerHTML,
               tagged: document.getElementById('tagged').shadowRoot.innerHTML };",
            vec![],
        )
        .await?;
    let refused = &seen["refused"];
    assert!(
        refused["noElement"]
            .as_str()
            .is_some_and(|m| m.starts_with("TypeError") && m.contains("container element")),
        "{seen}"
    );
    assert!(
        refused["theirs"]
            .as_str()
            .is_some_and(|m| m.contains("shadow root of its own")),
        "{seen}"
    );
    assert_eq!(seen["theirs"], json!("<p>mine</p>"), "left as it was");
    assert!(
        refused["closed"]
            .as_str()
            .is_some_and(|m| m.contains("cannot hold the widget's shadow root")),
        "{seen}"
    );
    assert_eq!(seen["closed"], json!("<p>closed</p>"), "left as it was");
    assert!(
        refused["item"]
            .as_str()
            .is_some_and(|m| m.contains("<li> cannot hold the widget's shadow root")),
        "{seen}"
    );
    assert_eq!(seen["item"], json!("the host's own"), "left as it was");
    // A script-tag container with a shadow root of the host's: reported, left alone,
    // and the page's other widget mounted all the same.
    assert_eq!(seen["tagged"], json!("<p>tagged</p>"), "left as it was");
    assert!(
        seen["reported"].as_array().is_some_and(|r| r
            .iter()
            .any(|m| m.to_string().contains("shadow root of its own"))),
        "{seen}"
    );
    assert!(
        seen["reported"].as_array().is_some_and(|r| r
            .iter()
            .any(|m| m.to_string().contains("host bug in ready"))),
        "{seen}"
    );
    browser.close().await?;
    Ok(())
}

/// Mounting a container again replaces its widget at once: a new handle unmounted
/// straight away (before its wasm work began) leaves the container empty, not the old
/// widget running; the old handle's `unmount()` then touches nothing. Until a widget
/// renders, the container's own children show.
#[tokio::test]
async fn mounting_again_replaces_the_widget_at_once() -> Result {
    let (_stack, browser, _host) = open_host_page(|proxy, token| {
        format!(
            r#"<!doctype html><html><head><meta charset="utf-8">
<script type="module">
  import {{ mount }} from "{proxy}/widget/embed.js";
  const options = {{ proxyUrl: "{proxy}", token: "{token}" }};
  const container = document.getElementById("box");
  const first = mount(container, options);
  // The loading text is the container's own child: it shows through the widget's slot.
  window.loadingShown = container.shadowRoot?.querySelector("slot") != null;
  await first.ready;
  window.firstCards = container.shadowRoot.querySelectorAll(".tm-card").length;
  mount(container, options).unmount();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const state = () => ({{
    widget: container.shadowRoot.querySelector(".tm-root") !== null,
    theme: container.dataset.tmTheme ?? null,
    shadow: container.shadowRoot.innerHTML,
  }});
  const replaced = state();
  first.unmount();
  window.after = {{ replaced, firstUnmounted: state() }};
</script></head><body>
<div id="box" data-tray-marketplace data-manual>Loading integrations…</div>
</body></html>"#
        )
    })
    .await?;
    let seen = browser
        .client
        .execute_async(
            "const done = arguments[0];
             const poll = () => window.after
               ? done({ after, loadingShown, firstCards }) : setTimeout(poll, 50);
             poll();",
            vec![],
        )
        .await?;
    assert!(seen["firstCards"].as_u64().is_some_and(|n| n > 0), "{seen}");
    let empty = json!({ "widget": false, "theme": null, "shadow": "<slot></slot>" });
    assert_eq!(
        seen["after"]["replaced"], empty,
        "the first widget outlived its replacement"
    );
    assert_eq!(seen["after"]["firstUnmounted"], empty, "{seen}");
    assert_eq!(seen["loadingShown"], json!(true), "{seen}");
    browser.close().await?;
    Ok(())
}

/// A module script runs after the page's classic scripts: a classic script mounts as
/// docs/widget.md says, when `tray-marketplace:loaded` fires (or at once if it did).
#[tokio::test]
async fn a_classic_script_mounts_once_the_loader_says_it_is_there() -> Result {
    let (_stack, browser, _host) = open_host_page(|proxy, token| format!(
        r#"<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src {proxy} 'nonce-e2e' 'wasm-unsafe-eval'; connect-src {proxy}; img-src {proxy}; style-src 'self'">
<script type="module" src="{proxy}/widget/embed.js"></script>
<script nonce="e2e">
  window.sawGlobalAtOnce = !!window.TrayMarketplace;
  function startMarketplace() {{
    window.TrayMarketplace.mount(document.getElementById("classic"), {{ proxyUrl: "{proxy}", token: "{token}" }});
  }}
  if (window.TrayMarketplace) startMarketplace();
  else window.addEventListener("tray-marketplace:loaded", startMarketplace, {{ once: true }});
</script></head><body>
<div id="classic" data-tray-marketplace data-manual></div>
</body></html>"#
    ))
    .await?;
    the_whole_catalog_shows(&browser).await?;
    let saw = browser
        .client
        .execute("return window.sawGlobalAtOnce;", vec![])
        .await?;
    assert_eq!(
        saw,
        json!(false),
        "the classic script ran before the module"
    );
    browser.close().await?;
    Ok(())
}

/// A catalog slower than the wasm (Tray answering slowly): the widget shows its loading
/// state meanwhile, then the catalog embed.js asked for, without asking again.
#[tokio::test]
async fn a_slow_catalog_shows_the_loading_state_and_is_asked_for_once() -> Result {
    let slow_tray = Faults {
        // Several Tray requests make a first catalog: seconds, while the wasm takes less.
        latency: Duration::from_millis(800),
        ..Faults::default()
    };
    let (_stack, browser, _host) = open_host_page_with(slow_tray, |proxy, token| {
        format!(
            r#"<!doctype html><html><head><meta charset="utf-8">
<script type="module" src="{proxy}/widget/embed.js"></script></head><body>
<div data-tray-marketplace data-proxy-url="{proxy}" data-token="{token}"></div>
</body></html>"#
        )
    })
    .await?;
    browser
        .widget_wait(
            "return !!root.querySelector('.tm-skeleton');",
            vec![],
            Duration::from_secs(10),
        )
        .await?;
    the_whole_catalog_shows(&browser).await?;
    let requests = browser
        .client
        .execute(
            "return performance.getEntriesByType('resource')
               .filter(e => e.name.endsWith('/api/v1/integrations')).length;",
            vec![],
        )
        .await?;
    assert_eq!(
        requests,
        json!(1),
        "the early request was awaited, not repeated"
    );
    browser.close().await?;
    Ok(())
}
